/* rng.c — Philox4x32-10 (Salmon et al., SC'11), the counter-based generator cuRAND also
 * offers. Number i of a draw depends only on (seed, counter, i), so results never depend
 * on the thread count, and a CUDA kernel can reproduce the CPU's numbers. */
#include "internal.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

/* One Philox4x32-10 block: counter (c0..c3) under key (k0, k1). */
static void philox_block(uint32_t ctr[4], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(PHILOX_M0, ctr[0], &hi0);
    uint32_t lo1 = mulhilo(PHILOX_M1, ctr[2], &hi1);
    uint32_t n0 = hi1 ^ ctr[1] ^ k0, n2 = hi0 ^ ctr[3] ^ k1;
    ctr[0] = n0;
    ctr[1] = lo1;
    ctr[2] = n2;
    ctr[3] = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
}

/* Block number `block` of stream (seed, counter): counter occupies the high 64 bits. */
static void philox_at(uint64_t seed, uint64_t counter, uint64_t block, uint32_t out[4]) {
  out[0] = (uint32_t)block;
  out[1] = (uint32_t)(block >> 32);
  out[2] = (uint32_t)counter;
  out[3] = (uint32_t)(counter >> 32);
  philox_block(out, (uint32_t)seed, (uint32_t)(seed >> 32));
}

static inline float u32_to_unit(uint32_t x) {
  return (float)(x >> 8) * (1.0f / 16777216.0f);
}

float sp_philox_uniform_at(uint64_t seed, uint64_t counter, uint64_t index) {
  uint32_t r[4];
  philox_at(seed, counter, index / 4, r);
  return u32_to_unit(r[index % 4]);
}

void sp_philox_u32x4(uint64_t seed, uint64_t counter, uint64_t block, uint32_t out[4]) {
  philox_at(seed, counter, block, out);
}

void sp_philox_uniform_fill(uint64_t seed, uint64_t counter, float *out, int64_t n) {
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t b = 0; b < (n + 3) / 4; b++) {
        uint32_t r[4];
        philox_at(seed, counter, (uint64_t)b, r);
        for (int j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = u32_to_unit(r[j]);
      });
}

void sp_rng_init(sp_rng *rng, uint64_t seed) {
  rng->seed = seed;
  rng->counter = 0;
}

/* Each draw takes a fresh counter value: a stream of up to 2^66 numbers per draw. */
void sp_rng_uniform(sp_rng *rng, float *out, int64_t n) {
  sp_philox_uniform_fill(rng->seed, rng->counter++, out, n);
}

void sp_rng_normal(sp_rng *rng, float *out, int64_t n, float mean, float std) {
  uint64_t seed = rng->seed, counter = rng->counter++;
  /* Box-Muller on the pair (2j, 2j+1) of the stream: both outputs of a pair are used. */
  for (int64_t j = 0; j < (n + 1) / 2; j++) {
    uint32_t r[4];
    philox_at(seed, counter, (uint64_t)j, r);
    double u1 = ((double)r[0] + 1.0) / 4294967296.0; /* (0, 1] keeps log finite */
    double u2 = (double)r[1] / 4294967296.0;
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    out[2 * j] = mean + std * (float)(rad * cos(th));
    if (2 * j + 1 < n) out[2 * j + 1] = mean + std * (float)(rad * sin(th));
  }
}

uint32_t sp_rng_u32(sp_rng *rng) {
  uint32_t r[4];
  philox_at(rng->seed, rng->counter++, 0, r);
  return r[0];
}

uint32_t sp_rng_below(sp_rng *rng, uint32_t n) {
  if (n <= 1) return 0;
  /* Lemire's rejection keeps the result unbiased. */
  uint32_t threshold = (uint32_t)(-n) % n;
  for (;;) {
    uint64_t m = (uint64_t)sp_rng_u32(rng) * n;
    if ((uint32_t)m >= threshold) return (uint32_t)(m >> 32);
  }
}
