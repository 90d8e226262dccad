/* embedding.cu — row gather and its scatter-add (the twin of engine/cpu/embedding.c). The
 * gather checks each index against [0, v) and raises the runtime's flag for a bad one (the
 * CPU op checks on the host; reading indices back here would stall the step). The scatter-add
 * uses atomics: repeated indices sum in an unspecified order (the CPU sums in index order),
 * so GPU gradients of shared rows may differ from the CPU's in the last bits. */
#include "common.cuh"

__global__ void embedding_forward_kernel(float *out, const float *w, const int32_t *idx, int64_t n,
                                         int d, int padding_idx, int v, int *flag) {
  SP_GRID_STRIDE(e, n * d) {
    int64_t i = e / d;
    int j = (int)(e % d);
    int ix = idx[i];
    if (ix == padding_idx) {
      out[e] = 0.0f;
    } else if (ix < 0 || ix >= v) {
      out[e] = 0.0f;
      if (j == 0) sp_raise(flag, SP_FLAG_EMBEDDING_INDEX, (int)i, ix, v);
    } else {
      out[e] = w[(int64_t)ix * d + j];
    }
  }
}

__global__ void embedding_backward_kernel(float *dw, const float *dout, const int32_t *idx,
                                          int64_t n, int d, int padding_idx, int v) {
  SP_GRID_STRIDE(e, n * d) {
    int ix = idx[e / d];
    if (ix != padding_idx && ix >= 0 && ix < v) atomicAdd(dw + (int64_t)ix * d + e % d, dout[e]);
  }
}

extern "C" void sp_cuda_embedding_forward(float *out, const float *weight, const int32_t *idx,
                                          int64_t n, int d, int padding_idx, int v) {
  if (n <= 0 || d <= 0) return;
  embedding_forward_kernel<<<sp_grid(n * d), SP_THREADS, 0, sp_cuda_stream()>>>(
      out, weight, idx, n, d, padding_idx, v, sp_cuda_flag());
  SP_CUDA_LAUNCHED("embedding_forward_kernel");
}

extern "C" void sp_cuda_embedding_backward(float *dweight, const float *dout, const int32_t *idx,
                                           int64_t n, int d, int padding_idx, int v) {
  if (n <= 0 || d <= 0) return;
  embedding_backward_kernel<<<sp_grid(n * d), SP_THREADS, 0, sp_cuda_stream()>>>(dweight, dout, idx,
                                                                                n, d, padding_idx, v);
  SP_CUDA_LAUNCHED("embedding_backward_kernel");
}
