/* binary.c (CPU) — elementwise a op b with b repeated every nb elements. The gradient of a
 * broadcast b sums over the repeats in a fixed order, so it is the same for any thread count. */
#include "cpu.h"
#include "internal.h"

void sp_cpu_binary_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                           sp_binary_kind kind) {
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) {
        float bv = b[i % nb];
        out[i] = kind == SP_BIN_ADD ? a[i] + bv : kind == SP_BIN_SUB ? a[i] - bv : a[i] * bv;
      });
}

void sp_cpu_binary_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                            int64_t n, int64_t nb, sp_binary_kind kind) {
  if (da) {
    SP_PARALLEL_FOR(n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) da[i] +=
                                    kind == SP_BIN_MUL ? dout[i] * b[i % nb] : dout[i];);
  }
  if (db) {
    float sign = kind == SP_BIN_SUB ? -1.0f : 1.0f;
    /* Parallel over b's elements; each sums its repeats in order. */
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN && nb > 1, for (int64_t j = 0; j < nb; j++) {
          float acc = 0.0f;
          for (int64_t i = j; i < n; i += nb) acc += kind == SP_BIN_MUL ? dout[i] * a[i] : dout[i];
          db[j] += sign * acc;
        });
  }
}
