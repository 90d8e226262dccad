/* adam.cu — the optimiser's GPU side (engine/nn/adam.c, params.c): a fused Adam update per
 * parameter, and the global gradient-norm clip over a store's one contiguous gradient buffer
 * with the norm kept on the device (no host wait). Plus the small helpers models need. */
#include "common.cuh"

__global__ void adam_kernel(float *w, const float *g, float *m, float *v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float weight_decay, int decoupled,
                            float step_size, float bc2_sqrt) {
  SP_GRID_STRIDE(j, n) {
    float gj = g[j];
    if (!decoupled) gj += weight_decay * w[j];
    m[j] = beta1 * m[j] + (1.0f - beta1) * gj;
    v[j] = beta2 * v[j] + (1.0f - beta2) * gj * gj;
    if (decoupled) w[j] -= lr * weight_decay * w[j];
    w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
  }
}

extern "C" int sp_cuda_adam_update(float *w, const float *g, float *m, float *v, int64_t n,
                                   float lr, float beta1, float beta2, float eps,
                                   float weight_decay, int decoupled, float step_size,
                                   float bc2_sqrt) {
  if (n <= 0) return SP_OK;
  adam_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(
      w, g, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled, step_size, bc2_sqrt);
  CUDA_CHECK_LAUNCH("adam_kernel");
  return SP_OK;
}

#define CLIP_BLOCKS 256

__global__ void sumsq_kernel(double *part, const float *g, int64_t n) {
  double s = 0.0;
  SP_GRID_STRIDE(i, n) s += (double)g[i] * g[i];
  s = sp_block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void norm_kernel(float *norm, const double *part, int nparts) {
  double s = 0.0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
  s = sp_block_sum(s);
  if (threadIdx.x == 0) *norm = (float)sqrt(s);
}

__global__ void clip_kernel(float *g, int64_t n, const float *norm, float max_norm) {
  const float nrm = *norm;
  if (!(nrm > max_norm)) return;
  const float s = max_norm / (nrm + 1e-6f);
  SP_GRID_STRIDE(i, n) g[i] *= s;
}

extern "C" int64_t sp_cuda_clip_grad_norm_work_floats(int64_t n) { return 2 * CLIP_BLOCKS + 2; }

extern "C" int sp_cuda_clip_grad_norm(float *g, int64_t n, float max_norm, float *norm_dev,
                                      float *work) {
  cudaStream_t st = sp_cuda_stream();
  double *part = (double *)work;
  sumsq_kernel<<<CLIP_BLOCKS, 256, 0, st>>>(part, g, n);
  norm_kernel<<<1, 256, 0, st>>>(norm_dev, part, CLIP_BLOCKS);
  if (max_norm > 0.0f && n > 0) clip_kernel<<<sp_grid(n), SP_THREADS, 0, st>>>(g, n, norm_dev, max_norm);
  CUDA_CHECK_LAUNCH("clip kernels");
  return SP_OK;
}

__global__ void nonzero_kernel(int32_t *mask, const int32_t *seq, int64_t n) {
  SP_GRID_STRIDE(i, n) mask[i] = seq[i] != 0;
}

extern "C" int sp_cuda_nonzero_mask(int32_t *mask, const int32_t *seq, int64_t n) {
  if (n <= 0) return SP_OK;
  nonzero_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(mask, seq, n);
  CUDA_CHECK_LAUNCH("nonzero_kernel");
  return SP_OK;
}
