/* metrics.c — HR@k, NDCG@k and MRR@k for a list of cut-offs, and the MRR, from 1-based ranks.
 * Sums are doubles taken in index order, so the same ranks always give the same bits. */
#include <math.h>
#include <string.h>

#include "eval.h"

int sp_rank_metrics(double *out, const float *rank, int64_t n, const int *ks, int n_ks) {
  const char *op = "sp_rank_metrics";
  if (!out || !rank || (n_ks > 0 && !ks)) return SP_FAIL(SP_EINVAL, "%s: NULL out, rank or ks", op);
  if (n < 1) return SP_FAIL(SP_EINVAL, "%s: no ranks to average (n = %lld)", op, (long long)n);
  if (n_ks < 0) return SP_FAIL(SP_EINVAL, "%s: n_ks must be >= 0, got %d", op, n_ks);
  for (int i = 0; i < n_ks; i++)
    if (ks[i] < 1) return SP_FAIL(SP_EINVAL, "%s: ks[%d] = %d must be >= 1", op, i, ks[i]);
  for (int64_t i = 0; i < n; i++)
    if (!(rank[i] >= 1.0f) || isinf(rank[i]))
      return SP_FAIL(SP_EINVAL, "%s: rank[%lld] = %g must be a finite rank >= 1", op, (long long)i,
                     (double)rank[i]);
  memset(out, 0, sizeof *out * (size_t)(3 * n_ks + 1));
  for (int64_t i = 0; i < n; i++) {
    const double r = rank[i], rr = 1.0 / r, gain = 1.0 / log2(r + 1.0);
    for (int j = 0; j < n_ks; j++)
      if (r <= ks[j]) {
        out[3 * j] += 1.0;
        out[3 * j + 1] += gain;
        out[3 * j + 2] += rr;
      }
    out[3 * n_ks] += rr;
  }
  for (int j = 0; j < 3 * n_ks + 1; j++) out[j] /= (double)n;
  return SP_OK;
}
