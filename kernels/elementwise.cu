/* elementwise.cu — binary ops with a repeated b, the pointwise activations, copy and
 * accumulate: the twins of engine/cpu/binary.c and unary.c. A repeated b's gradient is a
 * column sum over the rows (fixed order per launch shape). */
#include "common.cuh"

__global__ void binary_forward_kernel(float *out, const float *a, const float *b, int64_t n,
                                      int64_t nb, int kind) {
  SP_GRID_STRIDE(i, n) {
    float x = a[i], y = b[i % nb];
    out[i] = kind == SP_BIN_ADD ? x + y : kind == SP_BIN_SUB ? x - y : x * y;
  }
}

__global__ void binary_da_kernel(float *da, const float *dout, const float *b, int64_t n,
                                 int64_t nb, int kind) {
  SP_GRID_STRIDE(i, n) da[i] += kind == SP_BIN_MUL ? dout[i] * b[i % nb] : dout[i];
}

/* db (nb) += sign * sum over rows of dout (* a for mul): 32 columns x 8 row lanes per block */
__global__ void binary_db_kernel(float *db, const float *dout, const float *a, int64_t rows,
                                 int64_t nb, int kind, float sign) {
  __shared__ float part[8][33];
  int64_t j = (int64_t)blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (j < nb)
    for (int64_t r = threadIdx.y; r < rows; r += 8)
      s += kind == SP_BIN_MUL ? dout[r * nb + j] * a[r * nb + j] : dout[r * nb + j];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < nb) {
    float t = 0.0f;
    for (int y = 0; y < 8; y++) t += part[y][threadIdx.x];
    db[j] += sign * t;
  }
}

extern "C" void sp_cuda_binary_forward(float *out, const float *a, const float *b, int64_t n,
                                       int64_t nb, sp_binary_kind kind) {
  if (n <= 0 || nb <= 0) return;
  binary_forward_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(out, a, b, n, nb, kind);
  SP_CUDA_LAUNCHED("binary_forward_kernel");
}

extern "C" void sp_cuda_binary_backward(float *da, float *db, const float *dout, const float *a,
                                        const float *b, int64_t n, int64_t nb, sp_binary_kind kind) {
  if (n <= 0 || nb <= 0) return;
  if (da) {
    binary_da_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(da, dout, b, n, nb, kind);
    SP_CUDA_LAUNCHED("binary_da_kernel");
  }
  if (db) {
    binary_db_kernel<<<(unsigned)((nb + 31) / 32), dim3(32, 8), 0, sp_cuda_stream()>>>(
        db, dout, a, n / nb, nb, kind, kind == SP_BIN_SUB ? -1.0f : 1.0f);
    SP_CUDA_LAUNCHED("binary_db_kernel");
  }
}

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

__device__ inline float gelu_tanh(float u) { /* as the CPU: one expf */
  if (u > 9.0f) return 1.0f;
  if (u < -9.0f) return -1.0f;
  float e = expf(2.0f * u);
  return (e - 1.0f) / (e + 1.0f);
}

__global__ void unary_forward_kernel(float *out, const float *x, int64_t n, int kind, float param) {
  SP_GRID_STRIDE(i, n) {
    float v = x[i], y = 0.0f;
    switch (kind) {
      case SP_UN_RELU: y = v > 0.0f ? v : 0.0f; break;
      case SP_UN_GELU: y = 0.5f * v * (1.0f + gelu_tanh(GELU_C * (v + 0.044715f * v * v * v))); break;
      case SP_UN_SIGMOID: y = 1.0f / (1.0f + expf(-v)); break;
      case SP_UN_TANH: y = tanhf(v); break;
      case SP_UN_SCALE: y = v * param; break;
      case SP_UN_THRESHOLD: y = v > param ? v : 0.0f; break;
    }
    out[i] = y;
  }
}

__global__ void unary_backward_kernel(float *dx, const float *dout, const float *x, const float *out,
                                      int64_t n, int kind, float param) {
  SP_GRID_STRIDE(i, n) {
    float g = dout[i], d = 0.0f;
    switch (kind) {
      case SP_UN_RELU: d = x[i] > 0.0f ? g : 0.0f; break;
      case SP_UN_GELU: {
        float v = x[i];
        float t = gelu_tanh(GELU_C * (v + 0.044715f * v * v * v));
        float du = GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
        d = g * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
        break;
      }
      case SP_UN_SIGMOID: d = g * out[i] * (1.0f - out[i]); break;
      case SP_UN_TANH: d = g * (1.0f - out[i] * out[i]); break;
      case SP_UN_SCALE: d = g * param; break;
      case SP_UN_THRESHOLD: d = x[i] > param ? g : 0.0f; break;
    }
    dx[i] += d;
  }
}

extern "C" void sp_cuda_unary_forward(float *out, const float *x, int64_t n, sp_unary_kind kind,
                                      float param) {
  if (n <= 0) return;
  unary_forward_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(out, x, n, kind, param);
  SP_CUDA_LAUNCHED("unary_forward_kernel");
}

extern "C" void sp_cuda_unary_backward(float *dx, const float *dout, const float *x,
                                       const float *out, int64_t n, sp_unary_kind kind, float param) {
  if (n <= 0) return;
  unary_backward_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(dx, dout, x, out, n, kind,
                                                                        param);
  SP_CUDA_LAUNCHED("unary_backward_kernel");
}

__global__ void accumulate_kernel(float *dst, const float *src, int64_t n) {
  SP_GRID_STRIDE(i, n) dst[i] += src[i];
}

extern "C" void sp_cuda_copy(float *dst, const float *src, int64_t n) {
  if (n <= 0) return;
  cudaError_t e = cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice,
                                  sp_cuda_stream());
  (void)e; /* a failure stays as the last error: noted below */
  SP_CUDA_LAUNCHED("copy");
}

extern "C" void sp_cuda_accumulate(float *dst, const float *src, int64_t n) {
  if (n <= 0) return;
  accumulate_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(dst, src, n);
  SP_CUDA_LAUNCHED("accumulate_kernel");
}
