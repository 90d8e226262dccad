/* cuda.h — the CUDA twins of engine/cpu/cpu.h (sp_cuda_ in place of sp_cpu_), in the form of
 * the backend table (engine/core/kernels.h). They live in the plugin libsprint_cuda.so, whose
 * only exported symbol is sp_cuda_plugin_v1 (runtime.cu); everything else is hidden, so these
 * names never meet libsprint's. Conventions: pointers are device memory, every kernel is
 * queued on the runtime's one stream and returns without waiting. Where a CPU kernel returns
 * a scalar (the losses) the twin writes it to device memory instead, and backward reads dloss
 * from there, so a training step never waits for the host. Kernels that return void record a
 * failed launch; it is reported by the next sp_dev_pending / sp_dev_sync (engine/core/device.h).
 * Index checks the CPU ops do on the host (embedding, take_positions, cross-entropy targets)
 * happen inside the kernels, which raise the runtime's error flag (reported at the next sync). */
#ifndef SPRINT_CUDA_H
#define SPRINT_CUDA_H

#include <stdint.h>

#include "cpu.h" /* sp_binary_kind, sp_unary_kind */

#ifdef __cplusplus
extern "C" {
#endif

/* matmul.cu: row-major SGEMM through cuBLAS, C = alpha op(A) op(B) + beta C */
int sp_cuda_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* the same over `batch` matrices at fixed strides (in floats); stride 0 shares a matrix */
int sp_cuda_sgemm_strided(int trans_a, int trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, int64_t stride_a, const float *b, int ldb,
                          int64_t stride_b, float beta, float *c, int ldc, int64_t stride_c,
                          int batch);
int sp_cuda_matmul_forward(float *out, const float *a, const float *b, int batch, int m, int n,
                           int k, int ta, int tb, int b_batched);
int sp_cuda_matmul_backward(float *da, float *db, const float *dout, const float *a,
                            const float *b, int batch, int m, int n, int k, int ta, int tb,
                            int b_batched);
int sp_cuda_linear_forward(float *out, const float *x, const float *w, const float *bias, int rows,
                           int d_in, int d_out);
int sp_cuda_linear_backward(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                            const float *w, int rows, int d_in, int d_out);
/* out (rows, n) (+)= column sums helper: dbias (n) += sum over rows of g (rows, n) */
void sp_cuda_column_sums(float *out, const float *g, int64_t rows, int64_t n, float sign);

/* elementwise.cu */
void sp_cuda_binary_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                            sp_binary_kind kind);
void sp_cuda_binary_backward(float *da, float *db, const float *dout, const float *a,
                             const float *b, int64_t n, int64_t nb, sp_binary_kind kind);
void sp_cuda_unary_forward(float *out, const float *x, int64_t n, sp_unary_kind kind, float param);
void sp_cuda_unary_backward(float *dx, const float *dout, const float *x, const float *out,
                            int64_t n, sp_unary_kind kind, float param);
void sp_cuda_copy(float *dst, const float *src, int64_t n);
void sp_cuda_accumulate(float *dst, const float *src, int64_t n);

/* softmax.cu: one block per row; masked entries 0 */
void sp_cuda_softmax_forward(float *out, const float *x, const int32_t *key_mask, int batch,
                             int rows, int n, int causal_q, int log_space);
void sp_cuda_softmax_backward(float *dx, const float *dout, const float *out,
                              const int32_t *key_mask, int batch, int rows, int n, int causal_q,
                              int log_space);

/* layernorm.cu */
void sp_cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                               const float *weight, const float *bias, int rows, int d, float eps);
void sp_cuda_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout,
                                const float *x, const float *weight, const float *mean,
                                const float *rstd, int rows, int d);

/* embedding.cu: gather; a deterministic scatter-add (each row's repeats summed in index order) */
/* idx checked against [0, v) in the kernel (the CPU op checks on the host) */
void sp_cuda_embedding_forward(float *out, const float *weight, const int32_t *idx, int64_t n,
                               int d, int padding_idx, int v);
/* bad indices (flagged by the forward) are skipped, never written; work: counts, offsets and
 * the index lists per row (zeroed, as the arena gives it) */
int64_t sp_cuda_embedding_backward_work_floats(int64_t n, int v);
void sp_cuda_embedding_backward(float *dweight, float *work, const float *dout,
                                const int32_t *idx, int64_t n, int d, int padding_idx, int v);

/* dropout.cu: the CPU's hash, bit for bit */
void sp_cuda_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed,
                             uint64_t counter);
void sp_cuda_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed,
                              uint64_t counter);

/* attention.cu: strided-batched GEMMs per head + a fused masked softmax */
int sp_cuda_attention_forward(float *out, float *probs, const float *q, const float *k,
                              const float *v, const int32_t *key_mask, int b, int l, int d,
                              int heads, int causal);
int64_t sp_cuda_attention_backward_work_floats(int b, int l, int heads);
int sp_cuda_attention_backward(float *dq, float *dk, float *dv, float *work, const float *dout,
                               const float *probs, const float *q, const float *k, const float *v,
                               int b, int l, int d, int heads);

/* gru.cu: one GEMM per step against w_hh plus a gate kernel */
int64_t sp_cuda_gru_forward_work_floats(int b, int h);
int64_t sp_cuda_gru_backward_work_floats(int b, int l, int h);
int sp_cuda_gru_forward(float *out, float *gates, float *work, const float *x, const float *w_ih,
                        const float *w_hh, const float *b_ih, const float *b_hh,
                        const int32_t *mask, int b, int l, int din, int h);
int sp_cuda_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                         float *work, const float *dout, const float *out, const float *gates,
                         const float *x, const float *w_ih, const float *w_hh,
                         const int32_t *mask, int b, int l, int din, int h);

/* reduce.cu, shape.cu */
void sp_cuda_reduce_forward(float *out, const float *x, int64_t outer, int64_t n, int64_t inner,
                            int mean);
void sp_cuda_reduce_backward(float *dx, const float *dout, int64_t outer, int64_t n,
                             int64_t inner, int mean);
void sp_cuda_axis_copy(float *dst, const float *src, int64_t outer, int64_t inner, int src_n,
                       int src_off, int dst_n, int dst_off, int len, int accumulate);
void sp_cuda_take_positions_forward(float *out, const float *x, const int32_t *pos, int b, int l,
                                    int d);
void sp_cuda_take_positions_backward(float *dx, const float *dout, const int32_t *pos, int b,
                                     int l, int d);

/* loss.cu */
int64_t sp_cuda_cross_entropy_forward_work_floats(int n);
void sp_cuda_cross_entropy_forward(float *loss, int32_t *counted, float *probs, float *work,
                                   const float *logits, const int32_t *targets, int n, int c,
                                   int ignore_index);
void sp_cuda_cross_entropy_backward(float *dlogits, const float *dloss, const int32_t *counted,
                                    const float *probs, const int32_t *targets, int n, int c,
                                    int ignore_index);
int64_t sp_cuda_bce_logits_forward_work_floats(int64_t n);
void sp_cuda_bce_logits_forward(float *loss, double *weight_sum, float *work, const float *logits,
                                const float *targets, const float *weight, int64_t n);
void sp_cuda_bce_logits_backward(float *dlogits, float *dtargets, const float *dloss,
                                 const double *weight_sum, const float *logits,
                                 const float *targets, const float *weight, int64_t n);

/* adam.cu: the optimiser's side and small helpers (engine/core/device.h's sp_dev_ forms) */
int64_t sp_cuda_clip_grad_norm_work_floats(int64_t n);
int sp_cuda_clip_grad_norm(float *g, int64_t n, float max_norm, float *norm_dev, float *work);
int sp_cuda_adam_update(float *w, const float *g, float *m, float *v, int64_t n, float lr,
                        float beta1, float beta2, float eps, float weight_decay, int decoupled,
                        float step_size, float bc2_sqrt);
int sp_cuda_nonzero_mask(int32_t *mask, const int32_t *seq, int64_t n);

/* dist.cu: NCCL (loaded on first use), one communicator per process */
int sp_cuda_dist_unique_id(char *hex, int n);
int sp_cuda_dist_init(int rank, int world, const char *hex);
int sp_cuda_dist_allreduce_mean(float *buf, int64_t n);
void sp_cuda_dist_free(void);

/* cosine.cu, ortho.cu, enrich.cu, topk.cu */
int sp_cuda_cosine_forward(float *out, float *norm_a, float *norm_b, const float *a,
                           const float *b, int n, int m, int d, float eps);
int64_t sp_cuda_cosine_backward_work_floats(int n, int m);
int sp_cuda_cosine_backward(float *da, float *db, float *work, const float *dout,
                            const float *out, const float *norm_a, const float *norm_b,
                            const float *a, const float *b, int n, int m, int d, float eps);
void sp_cuda_ortho_forward(float *loss, float *norm, float *s, const float *e, int c, int d,
                           float eps);
void sp_cuda_ortho_backward(float *de, const float *dloss, const float *norm, const float *s,
                            const float *e, int c, int d, float eps);
int64_t sp_cuda_enrich_work_floats(int rows, int k);
int sp_cuda_enrich(float *labels, float *work, const float *yhat, const float *h, int b, int rows,
                   int c, int d, int k, int mode);
/* rank (B) of each row's target (B, 1..n; 0 = padding row -> 0) among items 1..n scored by
 * h (B, d) items^T (items (n + 1, d), row 0 padding), the session's items seq (B, L) left out
 * when seq is not NULL; ties 0 pessimistic, 1 optimistic, 2 average (engine/eval/rank.c).
 * scores: (B, n) device scratch. */
int sp_cuda_rank_full(float *rank, float *scores, const float *h, const float *items,
                      const int32_t *target, const int32_t *seq, int B, int n, int d, int L,
                      int ties);
/* values, indices (n, k): one block per row, k rounds of a block arg-max */
void sp_cuda_topk(float *values, int32_t *indices, const float *x, int n, int c, int k);

#ifdef __cplusplus
}
#endif
#endif
