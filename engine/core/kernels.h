/* kernels.h — the backend table: one entry per kernel of engine/cpu/cpu.h, filled with the
 * sp_cpu_ functions (engine/cpu/table.c) or their sp_cuda_ twins (kernels/table.c). An op
 * checks its tensors against the context's device and calls SP_K(ctx)->name(...), so a new
 * kernel is one function per device plus one line in each table; a NULL entry means that
 * device has no such kernel (sp_kernels_supports says so before anything runs).
 *
 * Pointers are in the device's memory. Where a CPU kernel returns a scalar (the losses), the
 * table's form writes it through a pointer instead and backward reads dloss through one, so a
 * GPU step never waits for the host. */
#ifndef SPRINT_KERNELS_H
#define SPRINT_KERNELS_H

#include "cpu.h"
#include "internal.h"

struct sp_kernels {
  const char *name; /* "cpu", "cuda" */
  sp_device device;

  int (*matmul_forward)(float *out, const float *a, const float *b, int batch, int m, int n, int k,
                        int ta, int tb, int b_batched);
  int (*matmul_backward)(float *da, float *db, const float *dout, const float *a, const float *b,
                         int batch, int m, int n, int k, int ta, int tb, int b_batched);
  int (*linear_forward)(float *out, const float *x, const float *w, const float *bias, int rows,
                        int d_in, int d_out);
  int (*linear_backward)(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                         const float *w, int rows, int d_in, int d_out);

  void (*binary_forward)(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                         sp_binary_kind kind);
  void (*binary_backward)(float *da, float *db, const float *dout, const float *a, const float *b,
                          int64_t n, int64_t nb, sp_binary_kind kind);
  void (*unary_forward)(float *out, const float *x, int64_t n, sp_unary_kind kind, float param);
  void (*unary_backward)(float *dx, const float *dout, const float *x, const float *out, int64_t n,
                         sp_unary_kind kind, float param);
  /* dst (n) = src; dst (n) += src (identity ops, reshape's backward) */
  void (*copy)(float *dst, const float *src, int64_t n);
  void (*accumulate)(float *dst, const float *src, int64_t n);

  void (*softmax_forward)(float *out, const float *x, const int32_t *key_mask, int batch, int rows,
                          int n, int causal_q, int log_space);
  void (*softmax_backward)(float *dx, const float *dout, const float *out,
                           const int32_t *key_mask, int batch, int rows, int n, int causal_q,
                           int log_space);
  void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *x,
                            const float *weight, const float *bias, int rows, int d, float eps);
  void (*layernorm_backward)(float *dx, float *dweight, float *dbias, const float *dout,
                             const float *x, const float *weight, const float *mean,
                             const float *rstd, int rows, int d);
  /* v: weight's row count (the GPU kernel checks idx against it; the CPU op did already) */
  void (*embedding_forward)(float *out, const float *weight, const int32_t *idx, int64_t n, int d,
                            int padding_idx, int v);
  int64_t (*embedding_backward_work_floats)(int64_t n, int v);
  void (*embedding_backward)(float *dweight, float *work, const float *dout, const int32_t *idx,
                             int64_t n, int d, int padding_idx, int v);
  void (*dropout_forward)(float *out, const float *x, int64_t n, float p, uint64_t seed,
                          uint64_t counter);
  void (*dropout_backward)(float *dx, const float *dout, int64_t n, float p, uint64_t seed,
                           uint64_t counter);

  int (*attention_forward)(float *out, float *probs, const float *q, const float *k,
                           const float *v, const int32_t *key_mask, int b, int l, int d,
                           int heads, int causal);
  int64_t (*attention_backward_work_floats)(int b, int l, int heads);
  int (*attention_backward)(float *dq, float *dk, float *dv, float *work, const float *dout,
                            const float *probs, const float *q, const float *k, const float *v,
                            int b, int l, int d, int heads);
  int64_t (*gru_forward_work_floats)(int b, int h);
  int64_t (*gru_backward_work_floats)(int b, int l, int h);
  int (*gru_forward)(float *out, float *gates, float *work, const float *x, const float *w_ih,
                     const float *w_hh, const float *b_ih, const float *b_hh,
                     const int32_t *mask, int b, int l, int din, int h);
  int (*gru_backward)(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                      float *work, const float *dout, const float *out, const float *gates,
                      const float *x, const float *w_ih, const float *w_hh, const int32_t *mask,
                      int b, int l, int din, int h);

  void (*reduce_forward)(float *out, const float *x, int64_t outer, int64_t n, int64_t inner,
                         int mean);
  void (*reduce_backward)(float *dx, const float *dout, int64_t outer, int64_t n, int64_t inner,
                          int mean);
  void (*axis_copy)(float *dst, const float *src, int64_t outer, int64_t inner, int src_n,
                    int src_off, int dst_n, int dst_off, int len, int accumulate);
  void (*take_positions_forward)(float *out, const float *x, const int32_t *pos, int b, int l,
                                 int d);
  void (*take_positions_backward)(float *dx, const float *dout, const int32_t *pos, int b, int l,
                                  int d);

  /* losses: loss (1), counted (1, int32) and weight_sum (1, double) live in device memory */
  int64_t (*cross_entropy_forward_work_floats)(int n);
  void (*cross_entropy_forward)(float *loss, int32_t *counted, float *probs, float *work,
                                const float *logits, const int32_t *targets, int n, int c,
                                int ignore_index);
  void (*cross_entropy_backward)(float *dlogits, const float *dloss, const int32_t *counted,
                                 const float *probs, const int32_t *targets, int n, int c,
                                 int ignore_index);
  int64_t (*bce_logits_forward_work_floats)(int64_t n);
  void (*bce_logits_forward)(float *loss, double *weight_sum, float *work, const float *logits,
                             const float *targets, const float *weight, int64_t n);
  void (*bce_logits_backward)(float *dlogits, float *dtargets, const float *dloss,
                              const double *weight_sum, const float *logits,
                              const float *targets, const float *weight, int64_t n);
  int (*cosine_forward)(float *out, float *norm_a, float *norm_b, const float *a, const float *b,
                        int n, int m, int d, float eps);
  int64_t (*cosine_backward_work_floats)(int n, int m);
  int (*cosine_backward)(float *da, float *db, float *work, const float *dout, const float *out,
                         const float *norm_a, const float *norm_b, const float *a, const float *b,
                         int n, int m, int d, float eps);
  void (*ortho_forward)(float *loss, float *norm, float *s, const float *e, int c, int d,
                        float eps);
  void (*ortho_backward)(float *de, const float *dloss, const float *norm, const float *s,
                         const float *e, int c, int d, float eps);
  int64_t (*enrich_work_floats)(int rows, int k);
  int (*enrich)(float *labels, float *work, const float *yhat, const float *h, int b, int rows,
                int c, int d, int k, int mode);
  void (*topk)(float *values, int32_t *indices, const float *x, int n, int c, int k);
};

extern const sp_kernels sp_kernels_cpu;
/* The table for a device: NULL when this build has no backend for it. */
const sp_kernels *sp_kernels_for(sp_device device);
/* How many entries of a device's table are filled, and the name of the first missing one
 * (NULL when complete): the op tests use it to say what they skip. */
int sp_kernels_count(const sp_kernels *k, int *total, const char **first_missing);

#endif
