/* gru.cu — PyTorch's GRU (gates r, z, n) and its backward through time, the twin of
 * engine/cpu/gru.c: the input projections are one GEMM, each step one GEMM against w_hh plus
 * a gate kernel over (b, h). A masked step carries the state over. */
#include "common.cuh"

/* rows of dst with leading dimension ld start as v (n) */
__global__ void fill_rows_kernel(float *dst, const float *v, int64_t rows, int n, int ld) {
  SP_GRID_STRIDE(e, rows * n) dst[(e / n) * ld + e % n] = v[e % n];
}

__device__ inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

__global__ void gru_step_kernel(float *out, float *gates, const float *hh, const int32_t *mask,
                                int b, int l, int h, int t) {
  SP_GRID_STRIDE(e, (int64_t)b * h) {
    const int bi = (int)(e / h), j = (int)(e % h);
    const int64_t row = (int64_t)bi * l + t;
    float *g = gates + row * 4 * h;
    float *ht = out + row * h;
    const float hp = t > 0 ? ht[j - h] : 0.0f;
    if (mask && !mask[row]) {
      g[j] = g[h + j] = g[2 * h + j] = g[3 * h + j] = 0.0f;
      ht[j] = hp;
      continue;
    }
    const float *hr = hh + (int64_t)bi * 3 * h;
    const float r = sigmoidf_(g[j] + hr[j]);
    const float z = sigmoidf_(g[h + j] + hr[h + j]);
    const float hn = hr[2 * h + j];
    const float n = tanhf(g[2 * h + j] + r * hn);
    g[j] = r, g[h + j] = z, g[2 * h + j] = n, g[3 * h + j] = hn;
    ht[j] = (1.0f - z) * n + z * hp;
  }
}

extern "C" int64_t sp_cuda_gru_forward_work_floats(int b, int h) { return (int64_t)b * 3 * h + 1; }

extern "C" int64_t sp_cuda_gru_backward_work_floats(int b, int l, int h) {
  int64_t rows = (int64_t)b * l;
  return 2 * rows * 3 * h + (int64_t)b * h + rows * h + 1;
}

extern "C" int sp_cuda_gru_forward(float *out, float *gates, float *work, const float *x,
                                   const float *w_ih, const float *w_hh, const float *b_ih,
                                   const float *b_hh, const int32_t *mask, int b, int l, int din,
                                   int h) {
  const int g3 = 3 * h, g4 = 4 * h;
  const int64_t rows = (int64_t)b * l;
  if (rows <= 0 || h <= 0) return SP_OK;
  cudaStream_t st = sp_cuda_stream();
  fill_rows_kernel<<<sp_grid(rows * g3), SP_THREADS, 0, st>>>(gates, b_ih, rows, g3, g4);
  CUDA_CHECK_LAUNCH("fill_rows_kernel");
  SP_TRY(sp_cuda_sgemm(0, 1, (int)rows, g3, din, 1.0f, x, din, w_ih, din, 1.0f, gates, g4));
  float *hh = work; /* (b, 3h) */
  for (int t = 0; t < l; t++) {
    fill_rows_kernel<<<sp_grid((int64_t)b * g3), SP_THREADS, 0, st>>>(hh, b_hh, b, g3, g3);
    CUDA_CHECK_LAUNCH("fill_rows_kernel");
    if (t > 0)
      SP_TRY(sp_cuda_sgemm(0, 1, b, g3, h, 1.0f, out + (int64_t)(t - 1) * h, l * h, w_hh, h, 1.0f,
                           hh, g3));
    gru_step_kernel<<<sp_grid((int64_t)b * h), SP_THREADS, 0, st>>>(out, gates, hh, mask, b, l, h, t);
    CUDA_CHECK_LAUNCH("gru_step_kernel");
  }
  return SP_OK;
}

__global__ void gru_step_backward_kernel(float *dgi, float *dgh, float *dh, const float *dout,
                                         const float *out, const float *gates, const int32_t *mask,
                                         int b, int l, int h, int t) {
  SP_GRID_STRIDE(e, (int64_t)b * h) {
    const int bi = (int)(e / h), j = (int)(e % h);
    const int64_t row = (int64_t)bi * l + t;
    float *d = dh + (int64_t)bi * h;
    const float go = dout[row * h + j];
    if (mask && !mask[row]) {
      d[j] += go;
      continue;
    }
    const float *g = gates + row * 4 * h;
    const float hp = t > 0 ? out[(row - 1) * h + j] : 0.0f;
    float *gi = dgi + row * 3 * h, *gh = dgh + row * 3 * h;
    const float dht = d[j] + go;
    const float r = g[j], z = g[h + j], n = g[2 * h + j], hn = g[3 * h + j];
    const float dn = dht * (1.0f - z) * (1.0f - n * n);
    const float dz = dht * (hp - n) * z * (1.0f - z);
    const float dr = dn * hn * r * (1.0f - r);
    gi[j] = dr, gi[h + j] = dz, gi[2 * h + j] = dn;
    gh[j] = dr, gh[h + j] = dz, gh[2 * h + j] = dn * r;
    d[j] = dht * z;
  }
}

/* hprev (b, l, h): row (bi, t) = out (bi, t - 1), zero at t = 0 */
__global__ void shift_kernel(float *hprev, const float *out, int b, int l, int h) {
  SP_GRID_STRIDE(e, (int64_t)b * l * h) {
    int64_t row = e / h;
    int t = (int)(row % l);
    hprev[e] = t > 0 ? out[e - h] : 0.0f;
  }
}

extern "C" int sp_cuda_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                                    float *db_hh, float *work, const float *dout, const float *out,
                                    const float *gates, const float *x, const float *w_ih,
                                    const float *w_hh, const int32_t *mask, int b, int l, int din,
                                    int h) {
  const int g3 = 3 * h;
  const int64_t rows = (int64_t)b * l;
  if (rows <= 0 || h <= 0) return SP_OK;
  cudaStream_t st = sp_cuda_stream();
  float *dgi = work, *dgh = dgi + rows * g3, *dh = dgh + rows * g3, *hprev = dh + (int64_t)b * h;
  for (int t = l - 1; t >= 0; t--) {
    gru_step_backward_kernel<<<sp_grid((int64_t)b * h), SP_THREADS, 0, st>>>(
        dgi, dgh, dh, dout, out, gates, mask, b, l, h, t);
    CUDA_CHECK_LAUNCH("gru_step_backward_kernel");
    if (t > 0)
      SP_TRY(sp_cuda_sgemm(0, 0, b, h, g3, 1.0f, dgh + (int64_t)t * g3, l * g3, w_hh, h, 1.0f, dh, h));
  }
  if (dw_hh) {
    shift_kernel<<<sp_grid(rows * h), SP_THREADS, 0, st>>>(hprev, out, b, l, h);
    CUDA_CHECK_LAUNCH("shift_kernel");
    SP_TRY(sp_cuda_sgemm(1, 0, g3, h, (int)rows, 1.0f, dgh, g3, hprev, h, 1.0f, dw_hh, h));
  }
  if (dx) SP_TRY(sp_cuda_sgemm(0, 0, (int)rows, din, g3, 1.0f, dgi, g3, w_ih, din, 1.0f, dx, din));
  if (dw_ih) SP_TRY(sp_cuda_sgemm(1, 0, g3, din, (int)rows, 1.0f, dgi, g3, x, din, 1.0f, dw_ih, din));
  if (db_ih) sp_cuda_column_sums(db_ih, dgi, rows, g3, 1.0f);
  if (db_hh) sp_cuda_column_sums(db_hh, dgh, rows, g3, 1.0f);
  CUDA_CHECK_LAUNCH("column_sums_kernel");
  return SP_OK;
}
