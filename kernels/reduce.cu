/* reduce.cu — sums and means over the middle axis of (outer, n, inner), the twin of
 * engine/cpu/reduce.c: accumulated in double, one thread per output when there are many
 * outputs, one block per output (a fixed-shape tree) when there are few. */
#include "common.cuh"

__global__ void reduce_thread_kernel(float *out, const float *x, int64_t outer, int64_t n,
                                     int64_t inner, int mean) {
  SP_GRID_STRIDE(oi, outer * inner) {
    int64_t o = oi / inner, i = oi % inner;
    const float *p = x + o * n * inner + i;
    double acc = 0.0;
    for (int64_t j = 0; j < n; j++) acc += p[j * inner];
    out[oi] = (float)(mean && n ? acc / (double)n : acc);
  }
}

__global__ void reduce_block_kernel(float *out, const float *x, int64_t n, int64_t inner, int mean) {
  const int64_t oi = blockIdx.x, o = oi / inner, i = oi % inner;
  const float *p = x + o * n * inner + i;
  double acc = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += p[j * inner];
  acc = sp_block_sum(acc);
  if (threadIdx.x == 0) out[oi] = (float)(mean && n ? acc / (double)n : acc);
}

__global__ void reduce_backward_kernel(float *dx, const float *dout, int64_t n, int64_t inner,
                                       int64_t total, float scale) {
  SP_GRID_STRIDE(e, total) {
    int64_t i = e % inner, o = e / (n * inner);
    dx[e] += dout[o * inner + i] * scale;
  }
}

extern "C" void sp_cuda_reduce_forward(float *out, const float *x, int64_t outer, int64_t n,
                                       int64_t inner, int mean) {
  int64_t outs = outer * inner;
  if (outs <= 0) return;
  if (outs >= 1024 || n < 64) {
    reduce_thread_kernel<<<sp_grid(outs), SP_THREADS, 0, sp_cuda_stream()>>>(out, x, outer, n,
                                                                            inner, mean);
    SP_CUDA_LAUNCHED("reduce_thread_kernel");
  } else {
    reduce_block_kernel<<<(unsigned)outs, 512, 0, sp_cuda_stream()>>>(out, x, n, inner, mean);
    SP_CUDA_LAUNCHED("reduce_block_kernel");
  }
}

extern "C" void sp_cuda_reduce_backward(float *dx, const float *dout, int64_t outer, int64_t n,
                                        int64_t inner, int mean) {
  int64_t total = outer * n * inner;
  if (total <= 0) return;
  float scale = mean && n ? 1.0f / (float)n : 1.0f;
  reduce_backward_kernel<<<sp_grid(total), SP_THREADS, 0, sp_cuda_stream()>>>(dx, dout, n, inner,
                                                                             total, scale);
  SP_CUDA_LAUNCHED("reduce_backward_kernel");
}
