/* loss.cu — softmax cross-entropy over rows and BCE on logits, the twins of engine/cpu/loss.c.
 * The loss, the count of rows that are not ignored and the weight sum stay in device memory
 * (no host wait); backward reads dloss from there. Per-row (per-block) partials in double are
 * summed by one block in a fixed order, so the loss repeats run to run. Targets are checked
 * against [0, c) in the kernel (the runtime's flag reports a bad one). */
#include "common.cuh"

#define BCE_BLOCK 4096

__global__ void ce_rows_kernel(float *probs, double *row_loss, const float *logits,
                               const int32_t *targets, int c, int ignore_index, int *flag) {
  const int64_t r = blockIdx.x;
  const int t = targets[r];
  if (t == ignore_index || t < 0 || t >= c) {
    if (t != ignore_index && threadIdx.x == 0) sp_raise(flag, SP_FLAG_TARGET, (int)r, t, c);
    if (threadIdx.x == 0) row_loss[r] = 0.0;
    return;
  }
  const float *x = logits + r * c;
  float *p = probs + r * c;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < c; j += blockDim.x) m = fmaxf(m, x[j]);
  m = sp_block_max(m, -INFINITY);
  double s = 0.0;
  for (int j = threadIdx.x; j < c; j += blockDim.x) {
    float e = expf(x[j] - m);
    p[j] = e;
    s += e;
  }
  s = sp_block_sum(s);
  const float inv = (float)(1.0 / s);
  for (int j = threadIdx.x; j < c; j += blockDim.x) p[j] *= inv;
  if (threadIdx.x == 0) row_loss[r] = (double)m + log(s) - (double)x[t];
}

__global__ void ce_total_kernel(float *loss, int32_t *counted, const double *row_loss,
                                const int32_t *targets, int n, int ignore_index) {
  double s = 0.0;
  int cnt = 0;
  for (int r = threadIdx.x; r < n; r += blockDim.x) {
    s += row_loss[r];
    cnt += targets[r] != ignore_index;
  }
  s = sp_block_sum(s);
  cnt = sp_block_sum(cnt);
  if (threadIdx.x == 0) {
    *counted = cnt;
    *loss = cnt ? (float)(s / cnt) : 0.0f;
  }
}

extern "C" int64_t sp_cuda_cross_entropy_forward_work_floats(int n) { return 2 * (int64_t)n + 2; }

extern "C" void sp_cuda_cross_entropy_forward(float *loss, int32_t *counted, float *probs,
                                              float *work, const float *logits,
                                              const int32_t *targets, int n, int c,
                                              int ignore_index) {
  double *row_loss = (double *)work; /* (n); arena memory is 64-byte aligned */
  if (n > 0)
    ce_rows_kernel<<<n, sp_row_threads(c), 0, sp_cuda_stream()>>>(probs, row_loss, logits, targets,
                                                                  c, ignore_index, sp_cuda_flag());
  ce_total_kernel<<<1, 1024, 0, sp_cuda_stream()>>>(loss, counted, row_loss, targets, n,
                                                    ignore_index);
  SP_CUDA_LAUNCHED("cross_entropy kernels");
}

__global__ void ce_backward_kernel(float *dlogits, const float *dloss, const int32_t *counted,
                                   const float *probs, const int32_t *targets, int64_t n, int c,
                                   int ignore_index) {
  if (*counted == 0) return;
  const float g = *dloss / (float)*counted;
  SP_GRID_STRIDE(e, n * c) {
    int64_t r = e / c;
    int j = (int)(e % c), t = targets[r];
    if (t == ignore_index) continue;
    dlogits[e] += g * probs[e] - (j == t ? g : 0.0f);
  }
}

extern "C" void sp_cuda_cross_entropy_backward(float *dlogits, const float *dloss,
                                               const int32_t *counted, const float *probs,
                                               const int32_t *targets, int n, int c,
                                               int ignore_index) {
  if (n <= 0 || c <= 0) return;
  ce_backward_kernel<<<sp_grid((int64_t)n * c), SP_THREADS, 0, sp_cuda_stream()>>>(
      dlogits, dloss, counted, probs, targets, n, c, ignore_index);
  SP_CUDA_LAUNCHED("ce_backward_kernel");
}

/* max(x, 0) - x t + log(1 + exp(-|x|)) */
__device__ inline float bce_elem(float x, float t) {
  return fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
}

__global__ void bce_blocks_kernel(double *part, const float *x, const float *t, const float *w,
                                  int64_t n) {
  const int64_t lo = (int64_t)blockIdx.x * BCE_BLOCK;
  const int64_t hi = lo + BCE_BLOCK < n ? lo + BCE_BLOCK : n;
  double l = 0.0, s = 0.0;
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    double wi = w ? (double)w[i] : 1.0;
    l += wi * (double)bce_elem(x[i], t[i]);
    s += wi;
  }
  l = sp_block_sum(l);
  s = sp_block_sum(s);
  if (threadIdx.x == 0) part[2 * blockIdx.x] = l, part[2 * blockIdx.x + 1] = s;
}

__global__ void bce_total_kernel(float *loss, double *weight_sum, const double *part, int64_t nb) {
  double l = 0.0, s = 0.0;
  for (int64_t b = threadIdx.x; b < nb; b += blockDim.x) l += part[2 * b], s += part[2 * b + 1];
  l = sp_block_sum(l);
  s = sp_block_sum(s);
  if (threadIdx.x == 0) {
    *weight_sum = s;
    *loss = s == 0.0 ? 0.0f : (float)(l / s);
  }
}

extern "C" int64_t sp_cuda_bce_logits_forward_work_floats(int64_t n) {
  return 4 * ((n + BCE_BLOCK - 1) / BCE_BLOCK) + 2;
}

extern "C" void sp_cuda_bce_logits_forward(float *loss, double *weight_sum, float *work,
                                           const float *logits, const float *targets,
                                           const float *weight, int64_t n) {
  int64_t nb = (n + BCE_BLOCK - 1) / BCE_BLOCK;
  double *part = (double *)work; /* (nb, 2) */
  if (nb > 0)
    bce_blocks_kernel<<<(unsigned)nb, 256, 0, sp_cuda_stream()>>>(part, logits, targets, weight, n);
  bce_total_kernel<<<1, 256, 0, sp_cuda_stream()>>>(loss, weight_sum, part, nb);
  SP_CUDA_LAUNCHED("bce kernels");
}

__device__ inline float sigmoid_stable(float x) {
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

__global__ void bce_backward_kernel(float *dlogits, float *dtargets, const float *dloss,
                                    const double *weight_sum, const float *x, const float *t,
                                    const float *w, int64_t n) {
  if (*weight_sum == 0.0) return;
  const float g = (float)((double)*dloss / *weight_sum);
  SP_GRID_STRIDE(i, n) {
    float gi = w ? g * w[i] : g;
    if (dlogits) dlogits[i] += gi * (sigmoid_stable(x[i]) - t[i]);
    if (dtargets) dtargets[i] -= gi * x[i];
  }
}

extern "C" void sp_cuda_bce_logits_backward(float *dlogits, float *dtargets, const float *dloss,
                                            const double *weight_sum, const float *logits,
                                            const float *targets, const float *weight, int64_t n) {
  if (n <= 0) return;
  bce_backward_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(
      dlogits, dtargets, dloss, weight_sum, logits, targets, weight, n);
  SP_CUDA_LAUNCHED("bce_backward_kernel");
}
