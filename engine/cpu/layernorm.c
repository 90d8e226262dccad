/* layernorm.c (CPU) — y = (x - mean) * rstd * w + b per row of length d.
 * Backward (per row, xhat = (x - mean) rstd, g = dy * w):
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)); dw += dy xhat; db += dy.
 * Row sums use 8 float partial sums in a fixed order, so they vectorise and do not depend on
 * the thread count. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"

/* Sum of a row in float with 8 independent partial sums: vectorises, and for the row lengths
 * of these models (d <= a few hundred) is as accurate as the layer norm needs. */
static inline float row_sum(const float *x, int d) {
  float p[8] = {0};
  int j = 0;
  for (; j + 8 <= d; j += 8)
    for (int k = 0; k < 8; k++) p[k] += x[j + k];
  float s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  for (; j < d; j++) s += x[j];
  return s;
}

static inline float row_sq_dev(const float *x, int d, float m) {
  float p[8] = {0};
  int j = 0;
  for (; j + 8 <= d; j += 8)
    for (int k = 0; k < 8; k++) p[k] += (x[j + k] - m) * (x[j + k] - m);
  float s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  for (; j < d; j++) s += (x[j] - m) * (x[j] - m);
  return s;
}

void sp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias, int rows, int d, float eps) {
  SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
    const float *xr = x + (int64_t)r * d;
    const float m = row_sum(xr, d) / (float)d; /* two passes: no cancellation in the variance */
    const float s = 1.0f / sqrtf(row_sq_dev(xr, d, m) / (float)d + eps);
    float *o = out + (int64_t)r * d;
    for (int j = 0; j < d; j++) o[j] = (xr[j] - m) * s * weight[j] + bias[j];
    mean[r] = m;
    rstd[r] = s;
  });
}

void sp_cpu_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout,
                               const float *x, const float *weight, const float *mean,
                               const float *rstd, int rows, int d) {
  if (dx) {
    SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
      const float *xr = x + (int64_t)r * d, *dy = dout + (int64_t)r * d;
      const float m = mean[r], s = rstd[r];
      /* mean(g) and mean(g xhat) in float with 8 partial sums (as row_sum): vectorises */
      float pg[8] = {0}, pgx[8] = {0};
      int j = 0;
      for (; j + 8 <= d; j += 8)
        for (int k = 0; k < 8; k++) {
          const float g = dy[j + k] * weight[j + k];
          pg[k] += g;
          pgx[k] += g * ((xr[j + k] - m) * s);
        }
      float g_sum = ((pg[0] + pg[1]) + (pg[2] + pg[3])) + ((pg[4] + pg[5]) + (pg[6] + pg[7]));
      float gx_sum = ((pgx[0] + pgx[1]) + (pgx[2] + pgx[3])) + ((pgx[4] + pgx[5]) + (pgx[6] + pgx[7]));
      for (; j < d; j++) {
        const float g = dy[j] * weight[j];
        g_sum += g;
        gx_sum += g * ((xr[j] - m) * s);
      }
      const float g_mean = g_sum / (float)d, gx_mean = gx_sum / (float)d;
      float *dxr = dx + (int64_t)r * d;
      for (j = 0; j < d; j++) {
        const float xhat = (xr[j] - m) * s;
        dxr[j] += s * (dy[j] * weight[j] - g_mean - xhat * gx_mean);
      }
    });
  }
  /* Parameter gradients sum over rows: serial, fixed order (each column on its own, so the
   * loop over columns vectorises). */
  if (dweight)
    for (int r = 0; r < rows; r++) {
      const float *xr = x + (int64_t)r * d, *dy = dout + (int64_t)r * d;
      const float m = mean[r], s = rstd[r];
      for (int j = 0; j < d; j++) dweight[j] += dy[j] * ((xr[j] - m) * s);
    }
  if (dbias)
    for (int r = 0; r < rows; r++) {
      const float *dy = dout + (int64_t)r * d;
      for (int j = 0; j < d; j++) dbias[j] += dy[j];
    }
}
