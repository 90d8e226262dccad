/* topk.cu — row-wise top-k, one block per row: k rounds of a block-wide arg-max over the
 * elements that rank after the previous pick in the order (value descending, index
 * ascending), so ties go to the lower index as on the CPU (engine/cpu/topk.c) and nothing is
 * stored per row but the output. NaN ranks as -inf; the values written are the row's own. */
#include "common.cuh"

/* a ranks before b: larger value, or the same value and a lower index */
__device__ inline bool before(float va, int ia, float vb, int ib) {
  return va > vb || (va == vb && ia < ib);
}

__global__ void topk_kernel(float *values, int32_t *indices, const float *x, int c, int k) {
  __shared__ float sv[32];
  __shared__ int si[32];
  const int64_t r = blockIdx.x;
  const float *row = x + r * c;
  float last_v = INFINITY;
  int last_i = -1;
  for (int round = 0; round < k; round++) {
    float bv = -INFINITY;
    int bi = INT_MAX;
    for (int j = threadIdx.x; j < c; j += blockDim.x) {
      float v = row[j];
      if (isnan(v)) v = -INFINITY;
      if (before(last_v, last_i, v, j) && before(v, j, bv, bi)) bv = v, bi = j;
    }
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (before(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) sv[warp] = bv, si[warp] = bi;
    __syncthreads();
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : INT_MAX;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (before(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    if (threadIdx.x == 0) {
      values[r * k + round] = row[bi];
      indices[r * k + round] = bi;
    }
    last_v = bv, last_i = bi;
  }
}

extern "C" void sp_cuda_topk(float *values, int32_t *indices, const float *x, int n, int c, int k) {
  if (n <= 0 || k <= 0) return;
  topk_kernel<<<n, 256, 0, sp_cuda_stream()>>>(values, indices, x, c, k);
  SP_CUDA_LAUNCHED("topk_kernel");
}
