/* dropout.c (CPU) — element i is kept iff its 16-bit uniform u16(seed, counter, i) is at least
 * round(p * 65536), then scaled by 1 / (1 - p). The bits come from a counter-based hash
 * (SplitMix64's finaliser over (seed, counter, i / 4)): four decisions per 64-bit hash, a
 * pure function of the index, so thread count and device do not matter, and far cheaper than
 * Philox (which made dropout a third of a SASRec step). p is rounded to a multiple of 1/65536. */
#include <math.h>

#include "cpu.h"
#include "internal.h"
#include "vmath.h"

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Elements are handled in chunks of CHUNK: first the chunk's 16-bit uniforms, four per hash,
 * stored so that uniform j of block b is u[4 b + j] = bits(b) >> 16 j (little-endian order of
 * the 64-bit hash, written explicitly); then one branch-free loop over the elements, which
 * vectorises. The chunk's uniforms live on the stack: nothing is allocated. */
enum { CHUNK = 1024 };

static inline void uniforms(uint16_t *u, uint64_t key, int64_t b0, int64_t blocks) {
  for (int64_t b = 0; b < blocks; b++) {
    const uint64_t bits = mix64(key + (uint64_t)(b0 + b) * 0x9e3779b97f4a7c15ull);
    for (int j = 0; j < 4; j++) u[4 * b + j] = (uint16_t)(bits >> (16 * j));
  }
}

SP_VECTOR_CLONES static void chunk(float *restrict dst, const float *restrict src, int64_t i0, int64_t len, uint32_t threshold,
                  float scale, uint64_t key, int accumulate) {
  uint16_t u[CHUNK];
  uniforms(u, key, i0 / 4, (len + 3) / 4); /* i0 is a multiple of 4: chunks start on blocks */
  const float *s = src + i0;
  float *d = dst + i0;
  if (accumulate)
    for (int64_t i = 0; i < len; i++) d[i] += s[i] * ((uint32_t)u[i] >= threshold ? scale : 0.0f);
  else
    for (int64_t i = 0; i < len; i++) d[i] = s[i] * ((uint32_t)u[i] >= threshold ? scale : 0.0f);
}

static void apply_mask(float *dst, const float *src, int64_t n, float p, uint64_t seed, uint64_t counter,
                       int accumulate) {
  const float scale = 1.0f / (1.0f - p);
  const uint32_t threshold = (uint32_t)lrintf(p * 65536.0f);
  const uint64_t key = mix64(seed ^ mix64(counter + 0x9e3779b97f4a7c15ull));
  const int64_t chunks = (n + CHUNK - 1) / CHUNK;
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN && chunks > 1, for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        chunk(dst, src, i0, len, threshold, scale, key, accumulate);
      });
}

void sp_cpu_dropout_forward(float *out, const float *x, int64_t n, float p, uint64_t seed, uint64_t counter) {
  apply_mask(out, x, n, p, seed, counter, 0);
}

void sp_cpu_dropout_backward(float *dx, const float *dout, int64_t n, float p, uint64_t seed, uint64_t counter) {
  apply_mask(dx, dout, n, p, seed, counter, 1);
}
