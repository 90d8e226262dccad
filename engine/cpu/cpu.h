/* cpu.h — the CPU kernels: raw float pointers, shapes in comments, outputs before inputs,
 * forward beside backward. kernels/<op>.cu gives the CUDA twins the same signatures with
 * sp_cuda_ in place of sp_cpu_. Backward kernels accumulate (+=) into their d-outputs; a NULL
 * d-output is skipped. */
#ifndef SPRINT_CPU_H
#define SPRINT_CPU_H

#include <stdint.h>

/* Kernels that need scratch memory take it as `work` from the caller, sized by their
 * *_work_floats function; the op layer takes it from the context's arena, so a training step
 * never calls malloc. */

/* matmul.c: out (batch, m, n) = op(a) op(b); a (batch, m, k) or (batch, k, m) if ta;
 * b (k, n) / (n, k) if tb, shared when !b_batched, else per batch. */
int sp_cpu_matmul_forward(float *out, const float *a, const float *b, int batch, int m, int n, int k,
                          int ta, int tb, int b_batched);
int sp_cpu_matmul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                           int batch, int m, int n, int k, int ta, int tb, int b_batched);

/* linear.c: out (rows, d_out) = x (rows, d_in) w^T (w: (d_out, d_in)) + bias (d_out) or none */
int sp_cpu_linear_forward(float *out, const float *x, const float *w, const float *bias, int rows,
                          int d_in, int d_out);
int sp_cpu_linear_backward(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                           const float *w, int rows, int d_in, int d_out);

/* binary.c: out (n) = a (n) op b (nb), b repeated over n / nb (nb divides n). */
typedef enum { SP_BIN_ADD = 0, SP_BIN_SUB = 1, SP_BIN_MUL = 2 } sp_binary_kind;
void sp_cpu_binary_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                           sp_binary_kind kind);
void sp_cpu_binary_backward(float *da, float *db, const float *dout, const float *a,
                            const float *b, int64_t n, int64_t nb, sp_binary_kind kind);

/* unary.c: out (n) = f(x); scale and threshold use param (the factor, tau). Backward from x
 * (relu, gelu, threshold) or out (sigmoid, tanh). */
typedef enum {
  SP_UN_RELU = 0,
  SP_UN_GELU,
  SP_UN_SIGMOID,
  SP_UN_TANH,
  SP_UN_SCALE,
  SP_UN_THRESHOLD
} sp_unary_kind;
void sp_cpu_unary_forward(float *out, const float *x, int64_t n, sp_unary_kind kind, float param);
void sp_cpu_unary_backward(float *dx, const float *dout, const float *x, const float *out, int64_t n,
                           sp_unary_kind kind, float param);

/* softmax.c: x (batch, rows, n); key_mask (batch, n) or NULL (0 = hidden); causal_q > 0 hides
 * key j of flat row g when j > g % causal_q + (n - causal_q). Masked entries are 0 in out. */
void sp_cpu_softmax_forward(float *out, const float *x, const int32_t *key_mask, int batch, int rows,
                            int n, int causal_q, int log_space);
void sp_cpu_softmax_backward(float *dx, const float *dout, const float *out,
                             const int32_t *key_mask, int batch, int rows, int n, int causal_q,
                             int log_space);
/* One row: keys j < limit with mask[j] != 0 (mask may be NULL) are visible. Returns the
 * number of visible keys; a row with none is all zero. */
int sp_cpu_softmax_row(float *out, const float *x, const int32_t *mask, int limit, int n,
                       int log_space);

/* layernorm.c: x (rows, d) -> out; mean, rstd (rows) saved for backward. */
void sp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias, int rows, int d, float eps);
void sp_cpu_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout,
                               const float *x, const float *weight, const float *mean,
                               const float *rstd, int rows, int d);

/* embedding.c: out (n, d) = weight[idx]; idx checked by the caller. */
void sp_cpu_embedding_forward(float *out, const float *weight, const int32_t *idx, int64_t n, int d,
                              int padding_idx);
void sp_cpu_embedding_backward(float *dweight, const float *dout, const int32_t *idx, int64_t n,
                               int d, int padding_idx);

/* dropout.c: keep iff the 16-bit hash uniform of (seed, counter, i) >= round(p 2^16);
 * out = x * keep / (1 - p). */
void sp_cpu_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed,
                            uint64_t counter);
void sp_cpu_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed,
                             uint64_t counter);

/* attention.c: q, k, v, out (b, l, d), d = heads * dh; probs (b, heads, l, l) saved. */
int sp_cpu_attention_forward(float *out, float *probs, const float *q, const float *k,
                             const float *v, const int32_t *key_mask, int b, int l, int d,
                             int heads, int causal);
int64_t sp_cpu_attention_backward_work_floats(int l);
int sp_cpu_attention_backward(float *dq, float *dk, float *dv, float *work, const float *dout,
                              const float *probs,
                              const float *q, const float *k, const float *v, int b, int l, int d,
                              int heads);
/* One query per batch row (evaluation's last positions): out (b, d), q (b, d), k, v (b, l, d),
 * last (b) the query's position; work: b * heads * l floats. */
int sp_cpu_attention_last_forward(float *out, float *work, const float *q, const float *k,
                                  const float *v, const int32_t *key_mask, const int32_t *last,
                                  int b, int l, int d, int heads, int causal);

/* gru.c: x (b, l, din); out (b, l, h); gates (b, l, 4h) saved: r, z, n and hn = w_hn h + b_hn. */
int64_t sp_cpu_gru_forward_work_floats(int b, int h);
int64_t sp_cpu_gru_backward_work_floats(int b, int l, int h);
int sp_cpu_gru_forward(float *out, float *gates, float *work, const float *x, const float *w_ih,
                       const float *w_hh, const float *b_ih, const float *b_hh,
                       const int32_t *mask, int b, int l, int din, int h);
int sp_cpu_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                        float *work, const float *dout, const float *out, const float *gates, const float *x,
                        const float *w_ih, const float *w_hh, const int32_t *mask, int b, int l,
                        int din, int h);

/* reduce.c: x viewed as (outer, n, inner); out (outer, inner) = sum (or mean) over n. */
void sp_cpu_reduce_forward(float *out, const float *x, int64_t outer, int64_t n, int64_t inner,
                           int mean);
void sp_cpu_reduce_backward(float *dx, const float *dout, int64_t outer, int64_t n, int64_t inner,
                            int mean);

/* shape.c: copy a block (outer, len, inner) between tensors with axis sizes src_n, dst_n at
 * offsets src_off, dst_off along the axis; accumulate adds instead of copying. */
void sp_cpu_axis_copy(float *dst, const float *src, int64_t outer, int64_t inner, int src_n,
                      int src_off, int dst_n, int dst_off, int len, int accumulate);
/* x (b, l, d) -> out (b, d) at pos (b) */
void sp_cpu_take_positions_forward(float *out, const float *x, const int32_t *pos, int b, int l, int d);
void sp_cpu_take_positions_backward(float *dx, const float *dout, const int32_t *pos, int b, int l,
                                    int d);

/* loss.c */
/* logits (n, c), targets (n); probs (n, c) saved; returns the mean over counted rows. */
int64_t sp_cpu_cross_entropy_forward_work_floats(int n);
float sp_cpu_cross_entropy_forward(float *probs, float *work, const float *logits, const int32_t *targets, int n,
                                   int c, int ignore_index, int *counted);
void sp_cpu_cross_entropy_backward(float *dlogits, float dloss, const float *probs,
                                   const int32_t *targets, int n, int c, int ignore_index,
                                   int counted);
/* Returns sum(w * l) / sum(w) (w = 1 when weight is NULL). */
int64_t sp_cpu_bce_logits_forward_work_floats(int64_t n);
float sp_cpu_bce_logits_forward(float *work, const float *logits, const float *targets, const float *weight,
                                int64_t n, double *weight_sum);
void sp_cpu_bce_logits_backward(float *dlogits, float *dtargets, float dloss, const float *logits,
                                const float *targets, const float *weight, int64_t n,
                                double weight_sum);

/* cosine.c: out (n, m); norms of a (n) and b (m) saved. */
int sp_cpu_cosine_forward(float *out, float *norm_a, float *norm_b, const float *a, const float *b,
                          int n, int m, int d, float eps);
int64_t sp_cpu_cosine_backward_work_floats(int n, int m);
int sp_cpu_cosine_backward(float *da, float *db, float *work, const float *dout, const float *out,
                           const float *norm_a, const float *norm_b, const float *a, const float *b,
                           int n, int m, int d, float eps);

/* ortho.c: SPRINT's L_ortho over the rows of e (c, d); norm (c) and s (d) = sum of the
 * normalised rows saved for backward. Returns the loss (0 when c < 2). */
float sp_cpu_ortho_forward(float *norm, float *s, const float *e, int c, int d, float eps);
void sp_cpu_ortho_backward(float *de, float dloss, const float *norm, const float *s,
                           const float *e, int c, int d, float eps);

/* enrich.c: SPRINT's enriched labels (b, c) from yhat (b, c) and h (b, d) over the first
 * `rows` rows (the rest padding: 0); mode: sp_enrich_mode; see sp_intent_enrich. */
int64_t sp_cpu_enrich_work_floats(int rows, int k);
int sp_cpu_enrich(float *labels, float *work, const float *yhat, const float *h, int b, int rows,
                  int c, int d, int k, int mode);

/* topk.c: rows of x (n, c) -> values, indices (n, k). */
void sp_cpu_topk(float *values, int32_t *indices, const float *x, int n, int c, int k);

#endif
