/* cosine.c (CPU) — the cosine-similarity matrix between two sets of rows: one GEMM for the
 * dot products, divided by the row norms clamped below by eps. Norms are saved unclamped, so
 * backward knows which ones were clamped (a clamped norm is a constant: no gradient through it). */
#include <math.h>
#include <stdlib.h>

#include "cpu.h"
#include "internal.h"

/* norm (rows) = |x_r| for x (rows, d), accumulated in double per row. */
static void row_norms(float *norm, const float *x, int rows, int d) {
  SP_PARALLEL_FOR((int64_t)rows * d > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
    const float *p = x + (int64_t)r * d;
    double s = 0.0;
    for (int i = 0; i < d; i++) s += (double)p[i] * p[i];
    norm[r] = (float)sqrt(s);
  });
}

/* out (n, m) = a b^T / (max(|a_i|, eps) max(|b_j|, eps)); a (n, d), b (m, d);
 * norm_a (n), norm_b (m) = the unclamped norms. */
int sp_cpu_cosine_forward(float *out, float *norm_a, float *norm_b, const float *a, const float *b,
                          int n, int m, int d, float eps) {
  row_norms(norm_a, a, n, d);
  row_norms(norm_b, b, m, d);
  SP_TRY(sp_sgemm(0, 1, n, m, d, 1.0f, a, d, b, d, 0.0f, out, m));
  SP_PARALLEL_FOR((int64_t)n * m > SP_PAR_MIN, for (int i = 0; i < n; i++) {
    float ia = 1.0f / fmaxf(norm_a[i], eps);
    float *o = out + (int64_t)i * m;
    for (int j = 0; j < m; j++) o[j] = o[j] * ia / fmaxf(norm_b[j], eps);
  });
  return SP_OK;
}

/* With Na = max(|a_i|, eps), Nb likewise and G_ij = dout_ij / (Na_i Nb_j):
 *   da_i += sum_j G_ij b_j  - a_i / |a_i|^2 * sum_j dout_ij out_ij   (second term only if |a_i| >=
 * eps) db_j += sum_i G_ij a_i  - b_j / |b_j|^2 * sum_i dout_ij out_ij   (likewise) da and db may be
 * the same buffer (a == b): every term is computed from a, b, dout, out only, and all updates are
 * +=. Sums run in a fixed order (rows of G for a, columns for b). */
/* g (n, m) floats, then ra (n) and rb (m) doubles at an even float offset. */
int64_t sp_cpu_cosine_backward_work_floats(int n, int m) {
  int64_t nm = (int64_t)n * m;
  return (nm + 1) / 2 * 2 + 2 * ((int64_t)n + m) + 2;
}

int sp_cpu_cosine_backward(float *da, float *db, float *work, const float *dout, const float *out,
                           const float *norm_a, const float *norm_b, const float *a, const float *b,
                           int n, int m, int d, float eps) {
  if (!da && !db) return SP_OK;
  int64_t nm = (int64_t)n * m;
  float *g = work;                                  /* (n, m) */
  double *ra = (double *)(work + (nm + 1) / 2 * 2); /* (n) sum_j dout_ij out_ij */
  double *rb = ra + n;                              /* (m) sum_i dout_ij out_ij */
  SP_PARALLEL_FOR(
      nm > SP_PAR_MIN, for (int i = 0; i < n; i++) {
        float ia = 1.0f / fmaxf(norm_a[i], eps);
        const float *go = dout + (int64_t)i * m, *o = out + (int64_t)i * m;
        float *gi = g + (int64_t)i * m;
        double s = 0.0;
        for (int j = 0; j < m; j++) {
          gi[j] = go[j] * ia / fmaxf(norm_b[j], eps);
          s += (double)go[j] * o[j];
        }
        ra[i] = s;
      });
  if (db) { /* column sums: each block of columns walks the rows in order */
    enum { COLS = 256 };
    int nblk = (m + COLS - 1) / COLS;
    SP_PARALLEL_FOR(
        nm > SP_PAR_MIN && nblk > 1, for (int blk = 0; blk < nblk; blk++) {
          int j0 = blk * COLS, j1 = j0 + COLS < m ? j0 + COLS : m;
          for (int j = j0; j < j1; j++) rb[j] = 0.0;
          for (int i = 0; i < n; i++) {
            const float *go = dout + (int64_t)i * m, *o = out + (int64_t)i * m;
            for (int j = j0; j < j1; j++) rb[j] += (double)go[j] * o[j];
          }
        });
  }
  int rc = SP_OK;
  if (da) rc = sp_sgemm(0, 0, n, d, m, 1.0f, g, m, b, d, 1.0f, da, d); /* (n, d) += G b */
  if (db && rc == SP_OK) rc = sp_sgemm(1, 0, m, d, n, 1.0f, g, m, a, d, 1.0f, db, d); /* G^T a */
  if (rc == SP_OK && da) {
    SP_PARALLEL_FOR((int64_t)n * d > SP_PAR_MIN, for (int i = 0; i < n; i++) {
      if (!(norm_a[i] >= eps) || norm_a[i] == 0.0f) continue; /* clamped: the norm is a constant */
      float c = (float)(ra[i] / ((double)norm_a[i] * norm_a[i]));
      const float *ai = a + (int64_t)i * d;
      float *di = da + (int64_t)i * d;
      for (int k = 0; k < d; k++) di[k] -= c * ai[k];
    });
  }
  if (rc == SP_OK && db) {
    SP_PARALLEL_FOR((int64_t)m * d > SP_PAR_MIN, for (int j = 0; j < m; j++) {
      if (!(norm_b[j] >= eps) || norm_b[j] == 0.0f) continue;
      float c = (float)(rb[j] / ((double)norm_b[j] * norm_b[j]));
      const float *bj = b + (int64_t)j * d;
      float *dj = db + (int64_t)j * d;
      for (int k = 0; k < d; k++) dj[k] -= c * bj[k];
    });
  }

  return rc;
}
