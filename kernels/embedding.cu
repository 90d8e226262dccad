/* embedding.cu — row gather and its scatter-add (the twin of engine/cpu/embedding.c). The
 * gather checks each index against [0, v) and raises the runtime's flag for a bad one (the
 * CPU op checks on the host; reading indices back here would stall the step). The scatter-add
 * is deterministic, as the CPU's: every weight row's positions are listed in index order
 * (counts, offsets, then one warp per row gathering its positions with ballots), and each
 * (row, column) sums its list in that order, so a run repeats bit for bit (no atomics on
 * floats). */
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

extern "C" void sp_cuda_embedding_forward(float *out, const float *weight, const int32_t *idx,
                                          int64_t n, int d, int padding_idx, int v) {
  if (n <= 0 || d <= 0) return;
  embedding_forward_kernel<<<sp_grid(n * d), SP_THREADS, 0, sp_cuda_stream()>>>(
      out, weight, idx, n, d, padding_idx, v, sp_cuda_flag());
  SP_CUDA_LAUNCHED("embedding_forward_kernel");
}

/* counts (v) of each valid index */
__global__ void embedding_count_kernel(int32_t *counts, const int32_t *idx, int64_t n, int padding_idx,
                                       int v) {
  SP_GRID_STRIDE(i, n) {
    int ix = idx[i];
    if (ix != padding_idx && ix >= 0 && ix < v) atomicAdd(counts + ix, 1); /* integers: exact */
  }
}

/* start (v + 1) = exclusive prefix sums of counts (v): one block, a chunk per thread */
__global__ void embedding_offsets_kernel(int32_t *start, const int32_t *counts, int v) {
  __shared__ int32_t part[1024];
  const int chunk = (v + blockDim.x - 1) / blockDim.x;
  const int lo = threadIdx.x * chunk, hi = lo + chunk < v ? lo + chunk : v;
  int32_t s = 0;
  for (int k = lo; k < hi; k++) s += counts[k];
  part[threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.x == 0) { /* 1024 partials, serially */
    int32_t acc = 0;
    for (int t = 0; t < (int)blockDim.x; t++) {
      int32_t c = part[t];
      part[t] = acc;
      acc += c;
    }
    start[v] = acc;
  }
  __syncthreads();
  int32_t acc = part[threadIdx.x];
  for (int k = lo; k < hi; k++) {
    start[k] = acc;
    acc += counts[k];
  }
}

/* list[start[r] ..) = the positions i with idx[i] == r, ascending: one warp per row r */
__global__ void embedding_lists_kernel(int32_t *list, const int32_t *start, const int32_t *counts,
                                       const int32_t *idx, int64_t n, int v) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * blockDim.x / 32;
  for (int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; w < v; w += warps) {
    if (counts[w] == 0) continue; /* the whole warp moves on together */
    const int r = (int)w;
    int32_t pos = start[r];
    for (int64_t base = 0; base < n; base += 32) {
      const int64_t i = base + lane;
      const int hit = i < n && idx[i] == r;
      const unsigned mask = __ballot_sync(0xffffffffu, hit);
      if (hit) list[pos + __popc(mask & ((1u << lane) - 1u))] = (int32_t)i;
      pos += __popc(mask);
    }
  }
}

/* dw[r, j] += sum over r's list, in order, of dout[i, j] */
__global__ void embedding_sum_kernel(float *dw, const float *dout, const int32_t *list,
                                     const int32_t *start, int d, int v) {
  SP_GRID_STRIDE(e, (int64_t)v * d) {
    const int64_t r = e / d;
    const int j = (int)(e % d);
    const int32_t lo = start[r], hi = start[r + 1];
    if (lo == hi) continue;
    float s = 0.0f;
    for (int32_t k = lo; k < hi; k++) s += dout[(int64_t)list[k] * d + j];
    dw[e] += s;
  }
}

extern "C" int64_t sp_cuda_embedding_backward_work_floats(int64_t n, int v) {
  return 2 * ((int64_t)v + 1) + n + 1; /* counts, start, list: int32 each */
}

extern "C" void sp_cuda_embedding_backward(float *dweight, float *work, const float *dout,
                                           const int32_t *idx, int64_t n, int d, int padding_idx,
                                           int v) {
  if (n <= 0 || d <= 0 || v <= 0) return;
  int32_t *counts = (int32_t *)work, *start = counts + v + 1, *list = start + v + 1;
  cudaStream_t st = sp_cuda_stream();
  embedding_count_kernel<<<sp_grid(n), SP_THREADS, 0, st>>>(counts, idx, n, padding_idx, v);
  embedding_offsets_kernel<<<1, 1024, 0, st>>>(start, counts, v);
  embedding_lists_kernel<<<sp_grid((int64_t)v * 32), SP_THREADS, 0, st>>>(list, start, counts, idx,
                                                                         n, v);
  embedding_sum_kernel<<<sp_grid((int64_t)v * d), SP_THREADS, 0, st>>>(dweight, dout, list, start,
                                                                      d, v);
  SP_CUDA_LAUNCHED("embedding backward kernels");
}
