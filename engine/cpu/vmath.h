/* vmath.h — float exp written so that loops calling it vectorise (glibc's expf is a call,
 * which keeps a loop scalar without -ffast-math). Cody-Waite reduction by ln 2 and Cephes'
 * degree-6 polynomial: relative error below 2e-7 (tests/c/test_kernels_fast.c checks it against
 * exp over [-87, 88]). No branches: the argument is clamped to [-87.3, 88.3], so results below
 * ~1e-38 come out as ~1e-38, never subnormal, and nothing overflows. */
#ifndef SPRINT_VMATH_H
#define SPRINT_VMATH_H

#include <stdint.h>
#include <string.h>

/* Hot elementwise loops are compiled three times, for AVX-512, AVX2 and the baseline, and the
 * loader picks one per CPU (GCC's target_clones, an ifunc). engine/cpu builds with
 * -ffp-contract=off, so no clone fuses a multiply-add: every clone computes the same bits
 * (elementwise IEEE operations only; no reductions in these loops). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SP_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SP_VECTOR_CLONES
#endif

static inline float sp_vexpf(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  /* k = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |k| < 2^22, round-to-nearest) */
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - k * 0.693359375f; /* ln 2 in two parts: the first is exact in float */
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const uint32_t bits = (uint32_t)((int32_t)k + 127) << 23; /* 2^k */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/* tanh as (e^2x - 1) / (e^2x + 1) through sp_vexpf, with x clamped to [-9, 9] (where tanh is
 * +-1 in float already): absolute error ~2e-7, branch-free, vectorises. */
static inline float sp_vtanhf(float x) {
  x = x > 9.0f ? 9.0f : x;
  x = x < -9.0f ? -9.0f : x;
  const float e = sp_vexpf(2.0f * x);
  return (e - 1.0f) / (e + 1.0f);
}

#endif
