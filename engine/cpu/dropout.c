/* dropout.c (CPU) — element i is kept iff its 16-bit uniform u16(seed, counter, i) is at least
 * round(p * 65536), then scaled by 1 / (1 - p). The bits come from a counter-based hash
 * (SplitMix64's finaliser over (seed, counter, i / 4)): four decisions per 64-bit hash, a
 * pure function of the index, so thread count and device do not matter, and far cheaper than
 * Philox (which made dropout a third of a SASRec step). p is rounded to a multiple of 1/65536. */
#include <math.h>

#include "cpu.h"
#include "internal.h"

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The four factors (0 or 1 / (1 - p)) of block b: branch-free, so the loops stay tight. */
static inline void factors(float f[4], uint64_t key, int64_t b, uint32_t threshold, float scale) {
  uint64_t bits = mix64(key + (uint64_t)b * 0x9e3779b97f4a7c15ull);
  for (int j = 0; j < 4; j++) f[j] = (((uint32_t)(bits >> (16 * j)) & 0xffffu) >= threshold) * scale;
}

static void apply_mask(float *dst, const float *src, int64_t n, float p, uint64_t seed, uint64_t counter,
                       int accumulate) {
  const float scale = 1.0f / (1.0f - p);
  const uint32_t threshold = (uint32_t)lrintf(p * 65536.0f);
  const uint64_t key = mix64(seed ^ mix64(counter + 0x9e3779b97f4a7c15ull));
  const int64_t full = n / 4;
  if (accumulate) {
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN, for (int64_t b = 0; b < full; b++) {
          float f[4];
          factors(f, key, b, threshold, scale);
          for (int j = 0; j < 4; j++) dst[b * 4 + j] += src[b * 4 + j] * f[j];
        });
  } else {
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN, for (int64_t b = 0; b < full; b++) {
          float f[4];
          factors(f, key, b, threshold, scale);
          for (int j = 0; j < 4; j++) dst[b * 4 + j] = src[b * 4 + j] * f[j];
        });
  }
  if (full * 4 < n) { /* the last, partial block */
    float f[4];
    factors(f, key, full, threshold, scale);
    for (int64_t i = full * 4; i < n; i++) {
      float v = src[i] * f[i - full * 4];
      dst[i] = accumulate ? dst[i] + v : v;
    }
  }
}

void sp_cpu_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed, uint64_t counter) {
  apply_mask(out, x, n, p, seed, counter, 0);
}

void sp_cpu_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed, uint64_t counter) {
  apply_mask(dx, dout, n, p, seed, counter, 1);
}
