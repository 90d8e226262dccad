/* softmax.cu — masked (log-)softmax over rows, one block per row: the twin of
 * engine/cpu/softmax.c. Visible keys: j < limit (causal) and mask[j] != 0; the rest are 0 and
 * get no gradient; a row with no visible key is all zero. */
#include "common.cuh"

__device__ inline int row_limit(int64_t g, int n, int causal_q) {
  return causal_q > 0 ? (int)(g % causal_q) + (n - causal_q) + 1 : n;
}

__global__ void softmax_forward_kernel(float *out, const float *x, const int32_t *key_mask,
                                       int rows, int n, int causal_q, int log_space) {
  const int64_t g = blockIdx.x;
  const int32_t *mask = key_mask ? key_mask + (g / rows) * n : NULL;
  const int limit = row_limit(g, n, causal_q);
  const float *xr = x + g * n;
  float *o = out + g * n;
  float mx = -INFINITY;
  int count = 0;
  for (int j = threadIdx.x; j < n; j += blockDim.x)
    if (j < limit && (!mask || mask[j])) count++, mx = fmaxf(mx, xr[j]);
  mx = sp_block_max(mx, -INFINITY);
  count = sp_block_sum(count);
  if (count == 0) {
    for (int j = threadIdx.x; j < n; j += blockDim.x) o[j] = 0.0f;
    return;
  }
  float sum = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x)
    if (j < limit && (!mask || mask[j])) sum += expf(xr[j] - mx);
  sum = sp_block_sum(sum);
  const float lse = mx + logf(sum), inv = 1.0f / sum;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    int vis = j < limit && (!mask || mask[j]);
    o[j] = !vis ? 0.0f : log_space ? xr[j] - lse : expf(xr[j] - mx) * inv;
  }
}

__global__ void softmax_backward_kernel(float *dx, const float *dout, const float *out,
                                        const int32_t *key_mask, int rows, int n, int causal_q,
                                        int log_space) {
  const int64_t g = blockIdx.x;
  const int32_t *mask = key_mask ? key_mask + (g / rows) * n : NULL;
  const int limit = row_limit(g, n, causal_q);
  const float *y = out + g * n, *dy = dout + g * n;
  float *d = dx + g * n;
  float acc = 0.0f;
  for (int j = threadIdx.x; j < n; j += blockDim.x)
    if (j < limit && (!mask || mask[j])) acc += log_space ? dy[j] : dy[j] * y[j];
  acc = sp_block_sum(acc);
  for (int j = threadIdx.x; j < n; j += blockDim.x)
    if (j < limit && (!mask || mask[j]))
      d[j] += log_space ? dy[j] - expf(y[j]) * acc : y[j] * (dy[j] - acc);
}

extern "C" void sp_cuda_softmax_forward(float *out, const float *x, const int32_t *key_mask,
                                        int batch, int rows, int n, int causal_q, int log_space) {
  int64_t total = (int64_t)batch * rows;
  if (total <= 0 || n <= 0) return;
  softmax_forward_kernel<<<(unsigned)total, sp_row_threads(n), 0, sp_cuda_stream()>>>(
      out, x, key_mask, rows, n, causal_q, log_space);
  SP_CUDA_LAUNCHED("softmax_forward_kernel");
}

extern "C" void sp_cuda_softmax_backward(float *dx, const float *dout, const float *out,
                                         const int32_t *key_mask, int batch, int rows, int n,
                                         int causal_q, int log_space) {
  int64_t total = (int64_t)batch * rows;
  if (total <= 0 || n <= 0) return;
  softmax_backward_kernel<<<(unsigned)total, sp_row_threads(n), 0, sp_cuda_stream()>>>(
      dx, dout, out, key_mask, rows, n, causal_q, log_space);
  SP_CUDA_LAUNCHED("softmax_backward_kernel");
}
