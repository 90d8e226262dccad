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

/* ---- full ranking on the GPU: the rank of each row's target among items 1..n ----
 * scores (B, n) from one GEMM; one block per row counts the items scoring >= / > / < the
 * target (a NaN is none of them), then thread 0 takes out the session's own items when asked,
 * as engine/eval/rank.c does; only the ranks (B floats) go back to the host. */
__device__ inline int first_item(const int32_t *seq, int p, int32_t skip) {
  int32_t v = seq[p];
  if (v == 0 || v == skip) return 0;
  for (int k = 0; k < p; k++)
    if (seq[k] == v) return 0;
  return 1;
}

__global__ void rank_full_kernel(float *rank, const float *scores, const int32_t *target,
                                 const int32_t *seq, int n, int L, int ties) {
  const int64_t b = blockIdx.x;
  const int32_t t = target[b];
  if (t == 0) { /* a padding row */
    if (threadIdx.x == 0) rank[b] = 0.0f;
    return;
  }
  const float *s = scores + b * n;
  const float st = s[t - 1];
  long long ge = 0, gt = 0, lt = 0;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float v = s[j];
    ge += v >= st, gt += v > st, lt += v < st;
  }
  ge = sp_block_sum(ge);
  gt = sp_block_sum(gt);
  lt = sp_block_sum(lt);
  if (threadIdx.x != 0) return;
  long long ranked = n, nan = (long long)n - ge - lt;
  const int32_t *row = seq ? seq + b * L : NULL;
  for (int p = 0; row && p < L; p++) {
    if (!first_item(row, p, t)) continue;
    float v = s[row[p] - 1];
    ranked--;
    ge -= v >= st;
    gt -= v > st;
    nan -= !(v >= st) && !(v < st);
  }
  float r;
  if (st != st || nan > 0)
    r = (float)ranked;
  else if (ties == 1) /* SP_TIES_OPTIMISTIC */
    r = (float)(gt + 1);
  else if (ties == 2) /* SP_TIES_AVERAGE */
    r = (float)(0.5 * (double)(ge + gt + 1));
  else
    r = (float)ge;
  rank[b] = r;
}

extern "C" int sp_cuda_rank_full(float *rank, float *scores, const float *h, const float *items,
                                 const int32_t *target, const int32_t *seq, int B, int n, int d,
                                 int L, int ties) {
  if (B <= 0) return SP_OK;
  /* scores (B, n) = h (B, d) items[1..n]^T */
  SP_TRY(sp_cuda_sgemm(0, 1, B, n, d, 1.0f, h, d, items + d, d, 0.0f, scores, n));
  rank_full_kernel<<<B, 256, 0, sp_cuda_stream()>>>(rank, scores, target, seq, n, L, ties);
  CUDA_CHECK_LAUNCH("rank_full_kernel");
  return SP_OK;
}
