/* layernorm.cu — fused layer norm over rows of d, one block per row; forward saves mean and
 * rstd (the twin of engine/cpu/layernorm.c). The weight and bias gradients are column sums
 * over the rows, 32 columns x 8 row lanes per block, in a fixed order. */
#include "common.cuh"

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *x,
                                         const float *w, const float *b, int d, float eps) {
  const int64_t r = blockIdx.x;
  const float *xr = x + r * d;
  float s = 0.0f;
  for (int j = threadIdx.x; j < d; j += blockDim.x) s += xr[j];
  const float m = sp_block_sum(s) / (float)d;
  float v = 0.0f; /* two passes: no cancellation in the variance */
  for (int j = threadIdx.x; j < d; j += blockDim.x) v += (xr[j] - m) * (xr[j] - m);
  const float rs = 1.0f / sqrtf(sp_block_sum(v) / (float)d + eps);
  float *o = out + r * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x) o[j] = (xr[j] - m) * rs * w[j] + b[j];
  if (threadIdx.x == 0) mean[r] = m, rstd[r] = rs;
}

__global__ void layernorm_dx_kernel(float *dx, const float *dout, const float *x, const float *w,
                                    const float *mean, const float *rstd, int d) {
  const int64_t r = blockIdx.x;
  const float *xr = x + r * d, *dy = dout + r * d;
  const float m = mean[r], s = rstd[r];
  float gs = 0.0f, gxs = 0.0f;
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float g = dy[j] * w[j];
    gs += g;
    gxs += g * (xr[j] - m) * s;
  }
  const float g_mean = sp_block_sum(gs) / (float)d;
  const float gx_mean = sp_block_sum(gxs) / (float)d;
  float *dxr = dx + r * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float xhat = (xr[j] - m) * s;
    dxr[j] += s * (dy[j] * w[j] - g_mean - xhat * gx_mean);
  }
}

__global__ void layernorm_params_kernel(float *dw, float *db, const float *dout, const float *x,
                                        const float *mean, const float *rstd, int rows, int d) {
  __shared__ float pw[8][33], pb[8][33];
  const int j = blockIdx.x * 32 + threadIdx.x;
  float sw = 0.0f, sb = 0.0f;
  if (j < d)
    for (int r = threadIdx.y; r < rows; r += 8) {
      float g = dout[(int64_t)r * d + j];
      sw += g * (x[(int64_t)r * d + j] - mean[r]) * rstd[r];
      sb += g;
    }
  pw[threadIdx.y][threadIdx.x] = sw;
  pb[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && j < d) {
    float tw = 0.0f, tb = 0.0f;
    for (int y = 0; y < 8; y++) tw += pw[y][threadIdx.x], tb += pb[y][threadIdx.x];
    if (dw) dw[j] += tw;
    if (db) db[j] += tb;
  }
}

extern "C" void sp_cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                                          const float *weight, const float *bias, int rows, int d,
                                          float eps) {
  if (rows <= 0 || d <= 0) return;
  layernorm_forward_kernel<<<rows, sp_row_threads(d), 0, sp_cuda_stream()>>>(out, mean, rstd, x,
                                                                            weight, bias, d, eps);
  SP_CUDA_LAUNCHED("layernorm_forward_kernel");
}

extern "C" void sp_cuda_layernorm_backward(float *dx, float *dweight, float *dbias,
                                           const float *dout, const float *x, const float *weight,
                                           const float *mean, const float *rstd, int rows, int d) {
  if (rows <= 0 || d <= 0) return;
  if (dx) {
    layernorm_dx_kernel<<<rows, sp_row_threads(d), 0, sp_cuda_stream()>>>(dx, dout, x, weight, mean,
                                                                         rstd, d);
    SP_CUDA_LAUNCHED("layernorm_dx_kernel");
  }
  if (dweight || dbias) {
    layernorm_params_kernel<<<(d + 31) / 32, dim3(32, 8), 0, sp_cuda_stream()>>>(
        dweight, dbias, dout, x, mean, rstd, rows, d);
    SP_CUDA_LAUNCHED("layernorm_params_kernel");
  }
}
