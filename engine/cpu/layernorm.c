/* layernorm.c (CPU) — y = (x - mean) * rstd * w + b per row of length d.
 * Backward (per row, xhat = (x - mean) rstd, g = dy * w):
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)); dw += dy xhat; db += dy. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"

void sp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x,
                              const float *weight, const float *bias, int rows, int d, float eps) {
  SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
    const float *xr = x + (int64_t)r * d;
    double m = 0.0, v = 0.0;
    for (int j = 0; j < d; j++) m += xr[j];
    m /= d;
    for (int j = 0; j < d; j++) v += (xr[j] - m) * (xr[j] - m);
    v /= d;
    float s = (float)(1.0 / sqrt(v + eps));
    float *o = out + (int64_t)r * d;
    for (int j = 0; j < d; j++) o[j] = ((float)(xr[j] - m) * s) * weight[j] + bias[j];
    mean[r] = (float)m;
    rstd[r] = s;
  });
}

void sp_cpu_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout,
                               const float *x, const float *weight, const float *mean,
                               const float *rstd, int rows, int d) {
  if (dx) {
    SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
      const float *xr = x + (int64_t)r * d, *dy = dout + (int64_t)r * d;
      float m = mean[r], s = rstd[r];
      double g_mean = 0.0, gx_mean = 0.0;
      for (int j = 0; j < d; j++) {
        float g = dy[j] * weight[j];
        g_mean += g;
        gx_mean += g * (xr[j] - m) * s;
      }
      g_mean /= d;
      gx_mean /= d;
      float *dxr = dx + (int64_t)r * d;
      for (int j = 0; j < d; j++) {
        float xhat = (xr[j] - m) * s;
        dxr[j] += s * (dy[j] * weight[j] - (float)g_mean - xhat * (float)gx_mean);
      }
    });
  }
  /* Parameter gradients sum over rows: serial, fixed order. */
  if (dweight || dbias) {
    for (int r = 0; r < rows; r++) {
      const float *xr = x + (int64_t)r * d, *dy = dout + (int64_t)r * d;
      float m = mean[r], s = rstd[r];
      for (int j = 0; j < d; j++) {
        if (dweight) dweight[j] += dy[j] * (xr[j] - m) * s;
        if (dbias) dbias[j] += dy[j];
      }
    }
  }
}
