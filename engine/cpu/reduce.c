/* reduce.c (CPU) — sums over the middle axis of (outer, n, inner), accumulated in double in a
 * fixed order so the result does not depend on the thread count. */
#include "cpu.h"
#include "internal.h"

void sp_cpu_reduce_forward(float *out, const float *x, int64_t outer, int64_t n, int64_t inner,
                           int mean) {
  SP_PARALLEL_FOR(
      outer * inner > 64 && outer * n * inner > SP_PAR_MIN,
      for (int64_t oi = 0; oi < outer * inner; oi++) {
        int64_t o = oi / inner, i = oi % inner;
        const float *p = x + o * n * inner + i;
        double acc = 0.0;
        for (int64_t j = 0; j < n; j++) acc += p[j * inner];
        out[oi] = (float)(mean && n ? acc / (double)n : acc);
      });
}

void sp_cpu_reduce_backward(float *dx, const float *dout, int64_t outer, int64_t n, int64_t inner,
                            int mean) {
  float scale = mean && n ? 1.0f / (float)n : 1.0f;
  SP_PARALLEL_FOR(outer * n * inner > SP_PAR_MIN,
                  for (int64_t o = 0; o < outer; o++) for (int64_t j = 0; j < n;
                                                           j++) for (int64_t i = 0; i < inner; i++)
                      dx[(o * n + j) * inner + i] += dout[o * inner + i] * scale;);
}
