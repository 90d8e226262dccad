/* enrich.c (CPU) — SPRINT's collaborative intent enrichment (Eq. 12-14) over one mini-batch:
 * the sessions' cosine similarities (one GEMM), each row's top-k other rows (the topk kernel,
 * with the row itself at -inf), softmax weights over those k similarities, and the mix of the
 * neighbours' predictions with the row's own. No gradient. Every output row is computed on
 * its own in a fixed order, so the labels do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"

/* The neighbours a row can have: k, at most every other real row. */
static int neighbours(int rows, int k) {
  int kk = k < rows - 1 ? k : rows - 1;
  return kk > 0 ? kk : 0;
}

/* sim (rows, rows), norms (2 rows), values (rows, kk), indices (rows, kk) as int32. */
int64_t sp_cpu_enrich_work_floats(int rows, int k) {
  int kk = neighbours(rows, k);
  if (kk == 0) return 0;
  return (int64_t)rows * rows + 2 * (int64_t)rows + 2 * (int64_t)rows * kk;
}

/* labels (b, c) from yhat (b, c) and h (b, d); rows <= b real rows, the rest padding (0);
 * mode: sp_enrich_mode. The caller checked the arguments (labels does not overlap yhat). */
int sp_cpu_enrich(float *labels, float *work, const float *yhat, const float *h, int b, int rows,
                  int c, int d, int k, int mode) {
  int kk = neighbours(rows, k);
  if (b > rows) memset(labels + (int64_t)rows * c, 0, sizeof(float) * (size_t)(b - rows) * c);
  if (mode == SP_ENRICH_SELF || kk == 0) { /* no neighbours: every row keeps its own yhat */
    memcpy(labels, yhat, sizeof(float) * (size_t)rows * c);
    return SP_OK;
  }
  float *sim = work;                          /* (rows, rows) */
  float *norm_a = sim + (int64_t)rows * rows; /* (rows) */
  float *norm_b = norm_a + rows;              /* (rows) */
  float *vals = norm_b + rows;                /* (rows, kk): similarities, then weights */
  int32_t *idx = (int32_t *)(vals + (int64_t)rows * kk); /* (rows, kk) */
  SP_TRY(sp_cpu_cosine_forward(sim, norm_a, norm_b, h, h, rows, rows, d, 1e-8f));
  for (int r = 0; r < rows; r++) sim[(int64_t)r * rows + r] = -INFINITY; /* S' != S */
  sp_cpu_topk(vals, idx, sim, rows, rows, kk); /* descending, ties to the lower row */
  SP_PARALLEL_FOR((int64_t)rows * kk * c > SP_PAR_MIN, for (int r = 0; r < rows; r++) {
    float *w = vals + (int64_t)r * kk;
    const int32_t *nb = idx + (int64_t)r * kk;
    /* w = softmax over the k similarities (the first is the largest) */
    double z = 0.0;
    for (int j = 0; j < kk; j++) z += exp((double)w[j] - (double)w[0]);
    for (int j = kk - 1; j >= 0; j--) w[j] = (float)(exp((double)w[j] - (double)w[0]) / z);
    const float *self = yhat + (int64_t)r * c;
    float *out = labels + (int64_t)r * c;
    for (int col = 0; col < c; col++) {
      double nbr = 0.0;
      for (int j = 0; j < kk; j++) nbr += (double)w[j] * yhat[(int64_t)nb[j] * c + col];
      out[col] = (float)(mode == SP_ENRICH_BOTH ? 0.5 * ((double)self[col] + nbr) : nbr);
    }
  });
  return SP_OK;
}
