/* table.c (CPU) — the CPU backend table (engine/core/kernels.h): the sp_cpu_ kernels, plus
 * thin adapters where the table's form differs (the losses write their scalars through
 * pointers; attention's work size takes the whole shape). */
#include <string.h>

#include "kernels.h"

static void cpu_copy(float *dst, const float *src, int64_t n) {
  if (n > 0) memcpy(dst, src, (size_t)n * sizeof(float));
}

static void cpu_accumulate(float *dst, const float *src, int64_t n) {
  SP_PARALLEL_FOR(n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) dst[i] += src[i];);
}

static void cpu_embedding_forward(float *out, const float *weight, const int32_t *idx, int64_t n,
                                  int d, int padding_idx, int v) {
  sp_cpu_embedding_forward(out, weight, idx, n, d, padding_idx);
}

static int64_t cpu_embedding_backward_work_floats(int64_t n, int v) { return 0; }

static void cpu_embedding_backward(float *dweight, float *work, const float *dout,
                                   const int32_t *idx, int64_t n, int d, int padding_idx, int v) {
  sp_cpu_embedding_backward(dweight, dout, idx, n, d, padding_idx);
}

static int64_t cpu_attention_backward_work_floats(int b, int l, int heads) {
  return sp_cpu_attention_backward_work_floats(l);
}

static void cpu_cross_entropy_forward(float *loss, int32_t *counted, float *probs, float *work,
                                      const float *logits, const int32_t *targets, int n, int c,
                                      int ignore_index) {
  int cnt;
  *loss = sp_cpu_cross_entropy_forward(probs, work, logits, targets, n, c, ignore_index, &cnt);
  *counted = cnt;
}

static void cpu_cross_entropy_backward(float *dlogits, const float *dloss, const int32_t *counted,
                                       const float *probs, const int32_t *targets, int n, int c,
                                       int ignore_index) {
  sp_cpu_cross_entropy_backward(dlogits, *dloss, probs, targets, n, c, ignore_index, *counted);
}

static void cpu_bce_logits_forward(float *loss, double *weight_sum, float *work,
                                   const float *logits, const float *targets, const float *weight,
                                   int64_t n) {
  *loss = sp_cpu_bce_logits_forward(work, logits, targets, weight, n, weight_sum);
}

static void cpu_bce_logits_backward(float *dlogits, float *dtargets, const float *dloss,
                                    const double *weight_sum, const float *logits,
                                    const float *targets, const float *weight, int64_t n) {
  sp_cpu_bce_logits_backward(dlogits, dtargets, *dloss, logits, targets, weight, n, *weight_sum);
}

static void cpu_ortho_forward(float *loss, float *norm, float *s, const float *e, int c, int d,
                              float eps) {
  *loss = sp_cpu_ortho_forward(norm, s, e, c, d, eps);
}

static void cpu_ortho_backward(float *de, const float *dloss, const float *norm, const float *s,
                               const float *e, int c, int d, float eps) {
  sp_cpu_ortho_backward(de, *dloss, norm, s, e, c, d, eps);
}

const sp_kernels sp_kernels_cpu = {
    .name = "cpu",
    .device = SP_CPU,
    .matmul_forward = sp_cpu_matmul_forward,
    .matmul_backward = sp_cpu_matmul_backward,
    .linear_forward = sp_cpu_linear_forward,
    .linear_backward = sp_cpu_linear_backward,
    .binary_forward = sp_cpu_binary_forward,
    .binary_backward = sp_cpu_binary_backward,
    .unary_forward = sp_cpu_unary_forward,
    .unary_backward = sp_cpu_unary_backward,
    .copy = cpu_copy,
    .accumulate = cpu_accumulate,
    .softmax_forward = sp_cpu_softmax_forward,
    .softmax_backward = sp_cpu_softmax_backward,
    .layernorm_forward = sp_cpu_layernorm_forward,
    .layernorm_backward = sp_cpu_layernorm_backward,
    .embedding_forward = cpu_embedding_forward,
    .embedding_backward_work_floats = cpu_embedding_backward_work_floats,
    .embedding_backward = cpu_embedding_backward,
    .dropout_forward = sp_cpu_dropout_forward,
    .dropout_backward = sp_cpu_dropout_backward,
    .attention_forward = sp_cpu_attention_forward,
    .attention_backward_work_floats = cpu_attention_backward_work_floats,
    .attention_backward = sp_cpu_attention_backward,
    .gru_forward_work_floats = sp_cpu_gru_forward_work_floats,
    .gru_backward_work_floats = sp_cpu_gru_backward_work_floats,
    .gru_forward = sp_cpu_gru_forward,
    .gru_backward = sp_cpu_gru_backward,
    .reduce_forward = sp_cpu_reduce_forward,
    .reduce_backward = sp_cpu_reduce_backward,
    .axis_copy = sp_cpu_axis_copy,
    .take_positions_forward = sp_cpu_take_positions_forward,
    .take_positions_backward = sp_cpu_take_positions_backward,
    .cross_entropy_forward_work_floats = sp_cpu_cross_entropy_forward_work_floats,
    .cross_entropy_forward = cpu_cross_entropy_forward,
    .cross_entropy_backward = cpu_cross_entropy_backward,
    .bce_logits_forward_work_floats = sp_cpu_bce_logits_forward_work_floats,
    .bce_logits_forward = cpu_bce_logits_forward,
    .bce_logits_backward = cpu_bce_logits_backward,
    .cosine_forward = sp_cpu_cosine_forward,
    .cosine_backward_work_floats = sp_cpu_cosine_backward_work_floats,
    .cosine_backward = sp_cpu_cosine_backward,
    .ortho_forward = cpu_ortho_forward,
    .ortho_backward = cpu_ortho_backward,
    .enrich_work_floats = sp_cpu_enrich_work_floats,
    .enrich = sp_cpu_enrich,
    .topk = sp_cpu_topk,
};
