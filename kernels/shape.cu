/* shape.cu — block copies along an axis (concat, slice and their backwards) and the per-row
 * position gather (take_positions), the twins of engine/cpu/shape.c. Every output element has
 * one source, so nothing depends on the launch shape. take_positions checks pos against
 * [0, l) in the kernel and raises the runtime's flag for a bad one. */
#include "common.cuh"

__global__ void axis_copy_kernel(float *dst, const float *src, int64_t inner, int src_n,
                                 int src_off, int dst_n, int dst_off, int len, int64_t total,
                                 int accumulate) {
  SP_GRID_STRIDE(e, total) {
    int64_t r = e / inner, i = e % inner, o = r / len, j = r % len;
    float v = src[(o * src_n + src_off + j) * inner + i];
    float *d = dst + (o * dst_n + dst_off + j) * inner + i;
    *d = accumulate ? *d + v : v;
  }
}

extern "C" void sp_cuda_axis_copy(float *dst, const float *src, int64_t outer, int64_t inner,
                                  int src_n, int src_off, int dst_n, int dst_off, int len,
                                  int accumulate) {
  int64_t total = outer * len * inner;
  if (total <= 0) return;
  axis_copy_kernel<<<sp_grid(total), SP_THREADS, 0, sp_cuda_stream()>>>(
      dst, src, inner, src_n, src_off, dst_n, dst_off, len, total, accumulate);
  SP_CUDA_LAUNCHED("axis_copy_kernel");
}

__global__ void take_positions_kernel(float *out, float *dx, const float *x, const float *dout,
                                      const int32_t *pos, int b, int l, int d, int *flag) {
  SP_GRID_STRIDE(e, (int64_t)b * d) {
    int r = (int)(e / d), j = (int)(e % d), p = pos[r];
    if (p < 0 || p >= l) {
      if (j == 0) sp_raise(flag, SP_FLAG_POSITION, r, p, l);
      if (out) out[e] = 0.0f;
      continue;
    }
    if (out)
      out[e] = x[((int64_t)r * l + p) * d + j];
    else
      dx[((int64_t)r * l + p) * d + j] += dout[e];
  }
}

extern "C" void sp_cuda_take_positions_forward(float *out, const float *x, const int32_t *pos, int b,
                                               int l, int d) {
  if (b <= 0 || d <= 0) return;
  take_positions_kernel<<<sp_grid((int64_t)b * d), SP_THREADS, 0, sp_cuda_stream()>>>(
      out, NULL, x, NULL, pos, b, l, d, sp_cuda_flag());
  SP_CUDA_LAUNCHED("take_positions_kernel");
}

extern "C" void sp_cuda_take_positions_backward(float *dx, const float *dout, const int32_t *pos,
                                                int b, int l, int d) {
  if (b <= 0 || d <= 0) return;
  take_positions_kernel<<<sp_grid((int64_t)b * d), SP_THREADS, 0, sp_cuda_stream()>>>(
      NULL, dx, NULL, dout, pos, b, l, d, sp_cuda_flag());
  SP_CUDA_LAUNCHED("take_positions_kernel");
}
