/* layernorm.c (CPU) — y = (x - mean) * rstd * w + b per row of length d.
 * Backward (per row, xhat = (x - mean) rstd, g = dy * w):
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)); dw += dy xhat; db += dy.
 * Row sums use 8 float partial sums in a fixed order, so they vectorise and do not depend on
 * the thread count. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"
#include "vmath.h"

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

/* Rows [r0, r1) forward; in clones per instruction set (vmath.h): the partial sums are
 * written out lane by lane, so every clone sums in the same order and gives the same bits. */
SP_VECTOR_CLONES static void forward_rows(float *out, float *mean, float *rstd, const float *x,
                                          const float *weight, const float *bias, int r0, int r1, int d,
                                          float eps) {
  for (int r = r0; r < r1; r++) {
    const float *xr = x + (int64_t)r * d;
    const float m = row_sum(xr, d) / (float)d; /* two passes: no cancellation in the variance */
    const float s = 1.0f / sqrtf(row_sq_dev(xr, d, m) / (float)d + eps);
    float *o = out + (int64_t)r * d;
    for (int j = 0; j < d; j++) o[j] = (xr[j] - m) * s * weight[j] + bias[j];
    mean[r] = m;
    rstd[r] = s;
  }
}

enum { ROWS = 64 }; /* rows per parallel task */

void sp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias, int rows, int d, float eps) {
  const int tasks = (rows + ROWS - 1) / ROWS;
  SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN && tasks > 1, for (int t = 0; t < tasks; t++) {
    forward_rows(out, mean, rstd, x, weight, bias, t * ROWS, (t + 1) * ROWS < rows ? (t + 1) * ROWS : rows, d, eps);
  });
}

/* Rows [r0, r1) of dx: mean(g) and mean(g xhat) in float with 8 partial sums (as row_sum). */
SP_VECTOR_CLONES static void backward_rows(float *dx, const float *dout, const float *x, const float *weight,
                                           const float *mean, const float *rstd, int r0, int r1, int d) {
  for (int r = r0; r < r1; r++) {
    const float *xr = x + (int64_t)r * d, *dy = dout + (int64_t)r * d;
    const float m = mean[r], s = rstd[r];
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
  }
}

/* dweight and dbias over all rows, serial in row order (each column on its own). */
SP_VECTOR_CLONES static void param_grads(float *dweight, float *dbias, const float *dout, const float *x,
                                         const float *mean, const float *rstd, int rows, int d) {
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

void sp_cpu_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout,
                               const float *x, const float *weight, const float *mean,
                               const float *rstd, int rows, int d) {
  if (dx) {
    const int tasks = (rows + ROWS - 1) / ROWS;
    SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN && tasks > 1, for (int t = 0; t < tasks; t++) {
      backward_rows(dx, dout, x, weight, mean, rstd, t * ROWS, (t + 1) * ROWS < rows ? (t + 1) * ROWS : rows, d);
    });
  }
  if (dweight || dbias) param_grads(dweight, dbias, dout, x, mean, rstd, rows, d);
}
