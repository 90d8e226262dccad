/* linear.c (CPU) — out = x w^T + bias as one GEMM with the bias pre-broadcast into out
 * (beta = 1), and its backward: dx = dout w, dw += dout^T x, dbias += column sums. */
#include <string.h>

#include "cpu.h"
#include "internal.h"

int sp_cpu_linear_forward(float *out, const float *x, const float *w, const float *bias, int rows,
                          int d_in, int d_out) {
  if (bias) {
    for (int r = 0; r < rows; r++) memcpy(out + (int64_t)r * d_out, bias, (size_t)d_out * sizeof(float));
  }
  return sp_sgemm(0, 1, rows, d_out, d_in, 1.0f, x, d_in, w, d_in, bias ? 1.0f : 0.0f, out, d_out);
}

int sp_cpu_linear_backward(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                           const float *w, int rows, int d_in, int d_out) {
  if (dx) SP_TRY(sp_sgemm(0, 0, rows, d_in, d_out, 1.0f, dout, d_out, w, d_in, 1.0f, dx, d_in));
  if (dw) SP_TRY(sp_sgemm(1, 0, d_out, d_in, rows, 1.0f, dout, d_out, x, d_in, 1.0f, dw, d_in));
  if (dbias) {
    for (int r = 0; r < rows; r++) {
      const float *g = dout + (int64_t)r * d_out;
      for (int j = 0; j < d_out; j++) dbias[j] += g[j];
    }
  }
  return SP_OK;
}
