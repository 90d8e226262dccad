/* attention.cu — multi-head scaled dot-product attention, the twin of engine/cpu/attention.c:
 * per head, scores = Q K^T / sqrt(dh) as one strided-batched GEMM over the batch, a fused
 * masked softmax (key mask + causal) in place, then P V as another. Backward: dV += P^T dO,
 * dP = dO V^T, dS = P (dP - rowsum(dP P)) / sqrt(dh), dQ += dS K, dK += dS^T Q. */
#include "common.cuh"

/* probs rows (b, heads, l) of length l: softmax over visible keys j (j <= i when causal,
 * key_mask[bi, j] != 0); a row with none stays all zero. */
__global__ void attention_softmax_kernel(float *probs, const int32_t *key_mask, int heads, int l,
                                         int causal) {
  const int64_t g = blockIdx.x;
  const int i = (int)(g % l);
  const int64_t bi = g / ((int64_t)heads * l);
  const int32_t *mrow = key_mask ? key_mask + bi * l : NULL;
  const int jmax = causal ? i + 1 : l;
  float *p = probs + g * l;
  float mx = -INFINITY;
  int any = 0;
  for (int j = threadIdx.x; j < l; j += blockDim.x)
    if (j < jmax && (!mrow || mrow[j])) any = 1, mx = fmaxf(mx, p[j]);
  mx = sp_block_max(mx, -INFINITY);
  any = sp_block_sum(any);
  float sum = 0.0f;
  for (int j = threadIdx.x; j < l; j += blockDim.x) {
    float e = 0.0f;
    if (any && j < jmax && (!mrow || mrow[j])) e = expf(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  sum = sp_block_sum(sum);
  if (!any) return;
  const float inv = 1.0f / sum;
  for (int j = threadIdx.x; j < l; j += blockDim.x) p[j] *= inv;
}

/* ds (rows of l) = p (dp - sum_j dp p) * scale, in place over dp */
__global__ void attention_dscores_kernel(float *dp, const float *probs, int l, float scale) {
  const int64_t g = blockIdx.x;
  const float *p = probs + g * l;
  float *d = dp + g * l;
  float acc = 0.0f;
  for (int j = threadIdx.x; j < l; j += blockDim.x) acc += p[j] * d[j];
  acc = sp_block_sum(acc);
  for (int j = threadIdx.x; j < l; j += blockDim.x) d[j] = p[j] == 0.0f ? 0.0f : p[j] * (d[j] - acc) * scale;
}

extern "C" int sp_cuda_attention_forward(float *out, float *probs, const float *q, const float *k,
                                         const float *v, const int32_t *key_mask, int b, int l,
                                         int d, int heads, int causal) {
  if (b <= 0 || l <= 0) return SP_OK;
  const int dh = d / heads;
  const float scale = 1.0f / sqrtf((float)dh);
  const int64_t ld = (int64_t)l * d, hll = (int64_t)heads * l * l, ll = (int64_t)l * l;
  for (int h = 0; h < heads; h++)
    SP_TRY(sp_cuda_sgemm_strided(0, 1, l, l, dh, scale, q + h * dh, d, ld, k + h * dh, d, ld, 0.0f,
                                 probs + h * ll, l, hll, b));
  attention_softmax_kernel<<<(unsigned)((int64_t)b * heads * l), sp_row_threads(l), 0,
                             sp_cuda_stream()>>>(probs, key_mask, heads, l, causal);
  CUDA_CHECK_LAUNCH("attention_softmax_kernel");
  for (int h = 0; h < heads; h++)
    SP_TRY(sp_cuda_sgemm_strided(0, 0, l, dh, l, 1.0f, probs + h * ll, l, hll, v + h * dh, d, ld,
                                 0.0f, out + h * dh, d, ld, b));
  return SP_OK;
}

extern "C" int64_t sp_cuda_attention_backward_work_floats(int b, int l, int heads) {
  return (int64_t)b * heads * l * l + 1;
}

extern "C" int sp_cuda_attention_backward(float *dq, float *dk, float *dv, float *work,
                                          const float *dout, const float *probs, const float *q,
                                          const float *k, const float *v, int b, int l, int d,
                                          int heads) {
  if ((!dq && !dk && !dv) || b <= 0 || l <= 0) return SP_OK;
  const int dh = d / heads;
  const float scale = 1.0f / sqrtf((float)dh);
  const int64_t ld = (int64_t)l * d, hll = (int64_t)heads * l * l, ll = (int64_t)l * l;
  for (int h = 0; h < heads; h++) {
    if (dv) /* dV (l, dh) += P^T (l, l) dO (l, dh) */
      SP_TRY(sp_cuda_sgemm_strided(1, 0, l, dh, l, 1.0f, probs + h * ll, l, hll, dout + h * dh, d,
                                   ld, 1.0f, dv + h * dh, d, ld, b));
    if (dq || dk) /* dP (l, l) = dO V^T */
      SP_TRY(sp_cuda_sgemm_strided(0, 1, l, l, dh, 1.0f, dout + h * dh, d, ld, v + h * dh, d, ld,
                                   0.0f, work + h * ll, l, hll, b));
  }
  if (!dq && !dk) return SP_OK;
  attention_dscores_kernel<<<(unsigned)((int64_t)b * heads * l), sp_row_threads(l), 0,
                             sp_cuda_stream()>>>(work, probs, l, scale);
  CUDA_CHECK_LAUNCH("attention_dscores_kernel");
  for (int h = 0; h < heads; h++) {
    if (dq) /* dQ (l, dh) += dS (l, l) K (l, dh) */
      SP_TRY(sp_cuda_sgemm_strided(0, 0, l, dh, l, 1.0f, work + h * ll, l, hll, k + h * dh, d, ld,
                                   1.0f, dq + h * dh, d, ld, b));
    if (dk) /* dK (l, dh) += dS^T Q */
      SP_TRY(sp_cuda_sgemm_strided(1, 0, l, dh, l, 1.0f, work + h * ll, l, hll, q + h * dh, d, ld,
                                   1.0f, dk + h * dh, d, ld, b));
  }
  return SP_OK;
}
