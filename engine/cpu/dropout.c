/* dropout.c (CPU) — element i is kept iff its 16-bit uniform u16(seed, counter, i) is at least
 * round(p * 65536), then scaled by 1 / (1 - p). One Philox block gives eight elements' bits
 * (half the cost of a float per element); p is thereby rounded to a multiple of 1/65536. */
#include <math.h>

#include "cpu.h"
#include "internal.h"

static void apply_mask(float *dst, const float *src, int64_t n, float p, uint64_t seed,
                       uint64_t counter, int accumulate) {
  float scale = 1.0f / (1.0f - p);
  uint32_t threshold = (uint32_t)lrintf(p * 65536.0f);
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t b = 0; b < (n + 7) / 8; b++) {
        uint32_t r[4];
        sp_philox_u32x4(seed, counter, (uint64_t)b, r);
        int64_t base = b * 8, len = n - base < 8 ? n - base : 8;
        for (int j = 0; j < len; j++) {
          uint32_t u16 = (r[j >> 1] >> ((j & 1) * 16)) & 0xffffu;
          float v = u16 >= threshold ? src[base + j] * scale : 0.0f;
          if (accumulate)
            dst[base + j] += v;
          else
            dst[base + j] = v;
        }
      });
}

void sp_cpu_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed,
                            uint64_t counter) {
  apply_mask(out, x, n, p, seed, counter, 0);
}

void sp_cpu_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed,
                             uint64_t counter) {
  apply_mask(dx, dout, n, p, seed, counter, 1);
}
