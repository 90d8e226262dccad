/* matmul.c (CPU) — GEMMs through the BLAS (engine/core/blas.c). Row-major throughout. */
#include "cpu.h"
#include "internal.h"

int sp_cpu_matmul_forward(float *out, const float *a, const float *b, int batch, int m, int n, int k,
                          int ta, int tb, int b_batched) {
  int lda = ta ? m : k, ldb = tb ? k : n;
  if (!b_batched && !ta) /* all rows of the batch against one b: a single GEMM */
    return sp_sgemm(0, tb, batch * m, n, k, 1.0f, a, lda, b, ldb, 0.0f, out, n);
  for (int i = 0; i < batch; i++)
    SP_TRY(sp_sgemm(ta, tb, m, n, k, 1.0f, a + (int64_t)i * m * k, lda,
                    b + (b_batched ? (int64_t)i * k * n : 0), ldb, 0.0f, out + (int64_t)i * m * n, n));
  return SP_OK;
}

/* out = A B with A = op(a), B = op(b): dA = dout B^T, dB = A^T dout, then map back through
 * the transposes: da = dA (or dA^T when ta), db likewise. */
int sp_cpu_matmul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                           int batch, int m, int n, int k, int ta, int tb, int b_batched) {
  int lda = ta ? m : k, ldb = tb ? k : n;
  if (da) {
    if (!ta && !b_batched) {
      SP_TRY(sp_sgemm(0, !tb, batch * m, k, n, 1.0f, dout, n, b, ldb, 1.0f, da, k));
    } else {
      for (int i = 0; i < batch; i++) {
        const float *bi = b + (b_batched ? (int64_t)i * k * n : 0);
        const float *gi = dout + (int64_t)i * m * n;
        float *dai = da + (int64_t)i * m * k;
        if (!ta) /* da (m, k) = dout (m, n) B^T */
          SP_TRY(sp_sgemm(0, !tb, m, k, n, 1.0f, gi, n, bi, ldb, 1.0f, dai, k));
        else /* da (k, m) = B dout^T */
          SP_TRY(sp_sgemm(tb, 1, k, m, n, 1.0f, bi, ldb, gi, n, 1.0f, dai, m));
      }
    }
  }
  if (db) {
    if (!b_batched && !ta) { /* shared b: sum over the whole batch in one GEMM */
      if (!tb) /* db (k, n) = A^T dout */
        SP_TRY(sp_sgemm(1, 0, k, n, batch * m, 1.0f, a, lda, dout, n, 1.0f, db, n));
      else /* db (n, k) = dout^T A */
        SP_TRY(sp_sgemm(1, 0, n, k, batch * m, 1.0f, dout, n, a, lda, 1.0f, db, k));
    } else {
      for (int i = 0; i < batch; i++) {
        const float *ai = a + (int64_t)i * m * k;
        const float *gi = dout + (int64_t)i * m * n;
        float *dbi = db + (b_batched ? (int64_t)i * k * n : 0);
        if (!tb) /* db (k, n) = A^T dout */
          SP_TRY(sp_sgemm(!ta, 0, k, n, m, 1.0f, ai, lda, gi, n, 1.0f, dbi, n));
        else /* db (n, k) = dout^T A */
          SP_TRY(sp_sgemm(1, ta, n, k, m, 1.0f, gi, n, ai, lda, 1.0f, dbi, k));
      }
    }
  }
  return SP_OK;
}
