/* dropout.c (CPU) — element i is kept iff uniform(seed, counter, i) >= p, then scaled by
 * 1 / (1 - p). The uniforms come in blocks of four from one Philox call. */
#include "cpu.h"
#include "internal.h"

static void apply_mask(float *dst, const float *src, int64_t n, float p, uint64_t seed,
                       uint64_t counter, int accumulate) {
  float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n > SP_PAR_MIN)
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    float u[4];
    int64_t base = b * 4, len = n - base < 4 ? n - base : 4;
    sp_philox_uniform4(seed, counter, (uint64_t)b, u);
    for (int j = 0; j < len; j++) {
      float v = u[j] >= p ? src[base + j] * scale : 0.0f;
      if (accumulate) dst[base + j] += v;
      else dst[base + j] = v;
    }
  }
}

void sp_cpu_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed,
                            uint64_t counter) {
  apply_mask(out, x, n, p, seed, counter, 0);
}

void sp_cpu_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed,
                             uint64_t counter) {
  apply_mask(dx, dout, n, p, seed, counter, 1);
}
