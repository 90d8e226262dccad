/* softmax.c (CPU) — numerically stable (max-subtracted) softmax per row, masked entries 0.
 * Backward: softmax dx = y (dy - sum(dy y)); log-softmax dx = dy - exp(y) sum(dy), both over
 * the visible entries only. */
#include <math.h>

#include "cpu.h"
#include "internal.h"

static inline int visible(const int32_t *mask, int limit, int j) {
  return j < limit && (!mask || mask[j] != 0);
}

int sp_cpu_softmax_row(float *out, const float *x, const int32_t *mask, int limit, int n,
                       int log_space) {
  float mx = -INFINITY;
  int count = 0;
  for (int j = 0; j < n; j++)
    if (visible(mask, limit, j)) {
      count++;
      if (x[j] > mx) mx = x[j];
    }
  if (count == 0) {
    for (int j = 0; j < n; j++) out[j] = 0.0f;
    return 0;
  }
  double sum = 0.0;
  for (int j = 0; j < n; j++) sum += visible(mask, limit, j) ? exp((double)(x[j] - mx)) : 0.0;
  if (log_space) {
    float lse = mx + (float)log(sum);
    for (int j = 0; j < n; j++) out[j] = visible(mask, limit, j) ? x[j] - lse : 0.0f;
  } else {
    double inv = 1.0 / sum;
    for (int j = 0; j < n; j++)
      out[j] = visible(mask, limit, j) ? (float)(exp((double)(x[j] - mx)) * inv) : 0.0f;
  }
  return count;
}

static inline int row_limit(int64_t g, int n, int causal_q) {
  return causal_q > 0 ? (int)(g % causal_q) + (n - causal_q) + 1 : n;
}

void sp_cpu_softmax_forward(float *out, const float *x, const int32_t *key_mask, int batch,
                            int rows, int n, int causal_q, int log_space) {
  int64_t total = (int64_t)batch * rows;
  SP_PARALLEL_FOR(
      total * n > SP_PAR_MIN, for (int64_t g = 0; g < total; g++) {
        const int32_t *mask = key_mask ? key_mask + (g / rows) * n : NULL;
        sp_cpu_softmax_row(out + g * n, x + g * n, mask, row_limit(g, n, causal_q), n, log_space);
      });
}

void sp_cpu_softmax_backward(float *dx, const float *dout, const float *out,
                             const int32_t *key_mask, int batch, int rows, int n, int causal_q,
                             int log_space) {
  int64_t total = (int64_t)batch * rows;
  SP_PARALLEL_FOR(
      total * n > SP_PAR_MIN, for (int64_t g = 0; g < total; g++) {
        const int32_t *mask = key_mask ? key_mask + (g / rows) * n : NULL;
        int limit = row_limit(g, n, causal_q);
        const float *y = out + g * n, *dy = dout + g * n;
        float *d = dx + g * n;
        double acc = 0.0;
        for (int j = 0; j < n; j++)
          if (visible(mask, limit, j)) acc += log_space ? dy[j] : (double)dy[j] * y[j];
        for (int j = 0; j < n; j++) {
          if (!visible(mask, limit, j)) continue;
          d[j] += log_space ? dy[j] - expf(y[j]) * (float)acc : y[j] * (dy[j] - (float)acc);
        }
      });
}
