/* enrich.cu — SPRINT's collaborative enrichment over one mini-batch, the twin of
 * engine/cpu/enrich.c: cosine similarities (cosine.cu), the row itself at -inf, each row's
 * top-k others (topk.cu), softmax weights over them, and the mix with the row's own yhat (one
 * block per row, one thread per intent column). No gradient. */
#include "common.cuh"

static int neighbours(int rows, int k) {
  int kk = k < rows - 1 ? k : rows - 1;
  return kk > 0 ? kk : 0;
}

__global__ void diagonal_kernel(float *sim, int rows, float v) {
  SP_GRID_STRIDE(r, rows) sim[r * rows + r] = v;
}

__global__ void enrich_mix_kernel(float *labels, const float *vals, const int32_t *idx,
                                  const float *yhat, int c, int kk, int mode) {
  extern __shared__ float w[]; /* (kk) */
  const int64_t r = blockIdx.x;
  const float *v = vals + r * kk;
  if (threadIdx.x == 0) {
    double z = 0.0;
    for (int j = 0; j < kk; j++) z += exp((double)v[j] - (double)v[0]);
    for (int j = 0; j < kk; j++) w[j] = (float)(exp((double)v[j] - (double)v[0]) / z);
  }
  __syncthreads();
  const int32_t *nb = idx + r * kk;
  for (int col = threadIdx.x; col < c; col += blockDim.x) {
    double nbr = 0.0;
    for (int j = 0; j < kk; j++) nbr += (double)w[j] * yhat[(int64_t)nb[j] * c + col];
    labels[r * c + col] =
        (float)(mode == SP_ENRICH_BOTH ? 0.5 * ((double)yhat[r * c + col] + nbr) : nbr);
  }
}

extern "C" int64_t sp_cuda_enrich_work_floats(int rows, int k) {
  int kk = neighbours(rows, k);
  if (kk == 0) return 0;
  return (int64_t)rows * rows + 2 * (int64_t)rows + 2 * (int64_t)rows * kk;
}

extern "C" int sp_cuda_enrich(float *labels, float *work, const float *yhat, const float *h, int b,
                              int rows, int c, int d, int k, int mode) {
  cudaStream_t st = sp_cuda_stream();
  int kk = neighbours(rows, k);
  if (b > rows)
    CUDA_CHECK(cudaMemsetAsync(labels + (int64_t)rows * c, 0, sizeof(float) * (size_t)(b - rows) * c, st));
  if (mode == SP_ENRICH_SELF || kk == 0) {
    if (rows > 0)
      CUDA_CHECK(cudaMemcpyAsync(labels, yhat, sizeof(float) * (size_t)rows * c,
                                 cudaMemcpyDeviceToDevice, st));
    return SP_OK;
  }
  float *sim = work;
  float *norm_a = sim + (int64_t)rows * rows, *norm_b = norm_a + rows;
  float *vals = norm_b + rows;
  int32_t *idx = (int32_t *)(vals + (int64_t)rows * kk);
  SP_TRY(sp_cuda_cosine_forward(sim, norm_a, norm_b, h, h, rows, rows, d, 1e-8f));
  diagonal_kernel<<<sp_grid(rows), SP_THREADS, 0, st>>>(sim, rows, -INFINITY);
  CUDA_CHECK_LAUNCH("diagonal_kernel");
  sp_cuda_topk(vals, idx, sim, rows, rows, kk);
  enrich_mix_kernel<<<rows, sp_row_threads(c), (size_t)kk * sizeof(float), st>>>(labels, vals, idx,
                                                                                 yhat, c, kk, mode);
  CUDA_CHECK_LAUNCH("enrich_mix_kernel");
  return SP_OK;
}
