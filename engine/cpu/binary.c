/* binary.c (CPU) — elementwise a op b with b repeated every nb elements: a is walked as
 * (n / nb, nb) rows so the inner loops are plain and vectorise (no modulo per element). The
 * gradient of a broadcast b sums over the repeats in a fixed order, so it is the same for any
 * thread count. */
#include "cpu.h"
#include "internal.h"

/* One row of nb elements; the kind is hoisted out of the loop. */
static inline void row_forward(float *o, const float *a, const float *b, int64_t nb, sp_binary_kind kind) {
  if (kind == SP_BIN_ADD)
    for (int64_t j = 0; j < nb; j++) o[j] = a[j] + b[j];
  else if (kind == SP_BIN_SUB)
    for (int64_t j = 0; j < nb; j++) o[j] = a[j] - b[j];
  else
    for (int64_t j = 0; j < nb; j++) o[j] = a[j] * b[j];
}

void sp_cpu_binary_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                           sp_binary_kind kind) {
  const int64_t rows = nb ? n / nb : 0;
  SP_PARALLEL_FOR(n > SP_PAR_MIN && rows > 1,
                  for (int64_t r = 0; r < rows; r++) row_forward(out + r * nb, a + r * nb, b, nb, kind););
}

void sp_cpu_binary_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                            int64_t n, int64_t nb, sp_binary_kind kind) {
  const int64_t rows = nb ? n / nb : 0;
  if (da) {
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN && rows > 1, for (int64_t r = 0; r < rows; r++) {
          float *d = da + r * nb;
          const float *g = dout + r * nb;
          if (kind == SP_BIN_MUL)
            for (int64_t j = 0; j < nb; j++) d[j] += g[j] * b[j];
          else
            for (int64_t j = 0; j < nb; j++) d[j] += g[j];
        });
  }
  if (db) {
    const float sign = kind == SP_BIN_SUB ? -1.0f : 1.0f;
    /* Column sums over the rows, in row order; parallel over column blocks when b is wide. */
    enum { COLS = 64 };
    const int64_t blocks = (nb + COLS - 1) / COLS;
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN && blocks > 1, for (int64_t blk = 0; blk < blocks; blk++) {
          const int64_t j0 = blk * COLS, j1 = j0 + COLS < nb ? j0 + COLS : nb;
          float acc[COLS] = {0};
          for (int64_t r = 0; r < rows; r++) {
            const float *g = dout + r * nb, *x = a + r * nb;
            if (kind == SP_BIN_MUL)
              for (int64_t j = j0; j < j1; j++) acc[j - j0] += g[j] * x[j];
            else
              for (int64_t j = j0; j < j1; j++) acc[j - j0] += g[j];
          }
          for (int64_t j = j0; j < j1; j++) db[j] += sign * acc[j - j0];
        });
  }
}
