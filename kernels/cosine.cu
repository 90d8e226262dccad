/* cosine.cu — the cosine-similarity matrix (one GEMM, then the norms), the twin of
 * engine/cpu/cosine.c; norms are saved unclamped so backward knows which were clamped. */
#include "common.cuh"

__global__ void row_norms_kernel(float *norm, const float *x, int rows, int d) {
  SP_GRID_STRIDE(r, rows) {
    const float *p = x + r * d;
    double s = 0.0;
    for (int i = 0; i < d; i++) s += (double)p[i] * p[i];
    norm[r] = (float)sqrt(s);
  }
}

__global__ void cosine_scale_kernel(float *out, const float *na, const float *nb, int n, int m,
                                    float eps) {
  SP_GRID_STRIDE(e, (int64_t)n * m) {
    int64_t i = e / m, j = e % m;
    out[e] = out[e] * (1.0f / fmaxf(na[i], eps)) / fmaxf(nb[j], eps);
  }
}

extern "C" int sp_cuda_cosine_forward(float *out, float *norm_a, float *norm_b, const float *a,
                                      const float *b, int n, int m, int d, float eps) {
  if (n > 0) row_norms_kernel<<<sp_grid(n), SP_THREADS, 0, sp_cuda_stream()>>>(norm_a, a, n, d);
  if (m > 0) row_norms_kernel<<<sp_grid(m), SP_THREADS, 0, sp_cuda_stream()>>>(norm_b, b, m, d);
  CUDA_CHECK_LAUNCH("row_norms_kernel");
  SP_TRY(sp_cuda_sgemm(0, 1, n, m, d, 1.0f, a, d, b, d, 0.0f, out, m));
  if ((int64_t)n * m > 0) {
    cosine_scale_kernel<<<sp_grid((int64_t)n * m), SP_THREADS, 0, sp_cuda_stream()>>>(
        out, norm_a, norm_b, n, m, eps);
    CUDA_CHECK_LAUNCH("cosine_scale_kernel");
  }
  return SP_OK;
}

/* g (n, m) = dout / (Na Nb); ra (n) = sum_j dout out per row (one block per row) */
__global__ void cosine_g_kernel(float *g, double *ra, const float *dout, const float *out,
                                const float *na, const float *nb, int m, float eps) {
  const int64_t i = blockIdx.x;
  const float ia = 1.0f / fmaxf(na[i], eps);
  double s = 0.0;
  for (int j = threadIdx.x; j < m; j += blockDim.x) {
    g[i * m + j] = dout[i * m + j] * ia / fmaxf(nb[j], eps);
    s += (double)dout[i * m + j] * out[i * m + j];
  }
  s = sp_block_sum(s);
  if (threadIdx.x == 0) ra[i] = s;
}

/* rb (m) = sum_i dout out per column, rows in order */
__global__ void cosine_rb_kernel(double *rb, const float *dout, const float *out, int n, int m) {
  SP_GRID_STRIDE(j, m) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)dout[i * m + j] * out[i * m + j];
    rb[j] = s;
  }
}

/* dx (rows, d) -= r / |x|^2 * x where the norm was not clamped */
__global__ void cosine_correct_kernel(float *dx, const float *x, const double *r, const float *norm,
                                      int rows, int d, float eps) {
  SP_GRID_STRIDE(e, (int64_t)rows * d) {
    int64_t i = e / d;
    if (!(norm[i] >= eps) || norm[i] == 0.0f) continue;
    float c = (float)(r[i] / ((double)norm[i] * norm[i]));
    dx[e] -= c * x[e];
  }
}

extern "C" int64_t sp_cuda_cosine_backward_work_floats(int n, int m) {
  int64_t nm = (int64_t)n * m;
  return (nm + 1) / 2 * 2 + 2 * ((int64_t)n + m) + 2;
}

extern "C" int sp_cuda_cosine_backward(float *da, float *db, float *work, const float *dout,
                                       const float *out, const float *norm_a, const float *norm_b,
                                       const float *a, const float *b, int n, int m, int d,
                                       float eps) {
  if ((!da && !db) || n <= 0 || m <= 0) return SP_OK;
  int64_t nm = (int64_t)n * m;
  float *g = work;
  double *ra = (double *)(work + (nm + 1) / 2 * 2);
  double *rb = ra + n;
  cosine_g_kernel<<<n, sp_row_threads(m), 0, sp_cuda_stream()>>>(g, ra, dout, out, norm_a, norm_b,
                                                                 m, eps);
  if (db) cosine_rb_kernel<<<sp_grid(m), SP_THREADS, 0, sp_cuda_stream()>>>(rb, dout, out, n, m);
  CUDA_CHECK_LAUNCH("cosine_g_kernel");
  if (da) SP_TRY(sp_cuda_sgemm(0, 0, n, d, m, 1.0f, g, m, b, d, 1.0f, da, d));
  if (db) SP_TRY(sp_cuda_sgemm(1, 0, m, d, n, 1.0f, g, m, a, d, 1.0f, db, d));
  if (da)
    cosine_correct_kernel<<<sp_grid((int64_t)n * d), SP_THREADS, 0, sp_cuda_stream()>>>(
        da, a, ra, norm_a, n, d, eps);
  if (db)
    cosine_correct_kernel<<<sp_grid((int64_t)m * d), SP_THREADS, 0, sp_cuda_stream()>>>(
        db, b, rb, norm_b, m, d, eps);
  CUDA_CHECK_LAUNCH("cosine_correct_kernel");
  return SP_OK;
}
