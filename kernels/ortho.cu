/* ortho.cu — SPRINT's L_ortho over the rows of e (c, d), the twin of engine/cpu/ortho.c:
 * L = -(2 c sum_i |n_i|^2 - 2 |s|^2) / (c (c - 1)), s = sum_i n_i. The pool is small: forward
 * is one block (norms per thread, s per column, double sums), backward one thread per element. */
#include "common.cuh"

__global__ void ortho_forward_kernel(float *loss, float *norm, float *s, const float *e, int c,
                                     int d, float eps) {
  double sq = 0.0;
  for (int i = threadIdx.x; i < c; i += blockDim.x) {
    double acc = 0.0;
    for (int k = 0; k < d; k++) acc += (double)e[(int64_t)i * d + k] * e[(int64_t)i * d + k];
    norm[i] = (float)sqrt(acc);
    double den = fmax(sqrt(acc), (double)eps);
    sq += acc / (den * den);
  }
  sq = sp_block_sum(sq);
  __syncthreads(); /* norm complete */
  double ss = 0.0;
  for (int k = threadIdx.x; k < d; k += blockDim.x) {
    double acc = 0.0;
    for (int i = 0; i < c; i++) acc += (double)e[(int64_t)i * d + k] / (double)fmaxf(norm[i], eps);
    s[k] = (float)acc;
    ss += acc * acc;
  }
  ss = sp_block_sum(ss);
  if (threadIdx.x == 0) *loss = c < 2 ? 0.0f : (float)(-(2.0 * c * sq - 2.0 * ss) / ((double)c * (c - 1)));
}

/* one block per row i */
__global__ void ortho_backward_kernel(float *de, const float *dloss, const float *norm,
                                      const float *s, const float *e, int c, int d, float eps) {
  const int64_t i = blockIdx.x;
  const double f = -4.0 * (double)*dloss / ((double)c * (c - 1));
  const int clamped = !(norm[i] >= eps) || norm[i] == 0.0f;
  const double inv = 1.0 / (double)fmaxf(norm[i], eps);
  double ng = 0.0;
  for (int k = threadIdx.x; k < d; k += blockDim.x) {
    double n = (double)e[i * d + k] * inv;
    ng += n * f * (c * n - s[k]);
  }
  ng = sp_block_sum(ng);
  for (int k = threadIdx.x; k < d; k += blockDim.x) {
    double n = (double)e[i * d + k] * inv;
    double g = f * (c * n - s[k]);
    de[i * d + k] += (float)((clamped ? g : g - n * ng) * inv);
  }
}

extern "C" void sp_cuda_ortho_forward(float *loss, float *norm, float *s, const float *e, int c,
                                      int d, float eps) {
  ortho_forward_kernel<<<1, 256, 0, sp_cuda_stream()>>>(loss, norm, s, e, c, d, eps);
  SP_CUDA_LAUNCHED("ortho_forward_kernel");
}

extern "C" void sp_cuda_ortho_backward(float *de, const float *dloss, const float *norm,
                                       const float *s, const float *e, int c, int d, float eps) {
  if (c < 2) return;
  ortho_backward_kernel<<<c, sp_row_threads(d), 0, sp_cuda_stream()>>>(de, dloss, norm, s, e, c, d,
                                                                       eps);
  SP_CUDA_LAUNCHED("ortho_backward_kernel");
}
