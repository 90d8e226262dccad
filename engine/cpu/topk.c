/* topk.c (CPU) — row-wise top-k for ranking over the item catalogue (C ~ 50k, k <= 100): each
 * row keeps a descending buffer of k candidates, written straight into its output row, and a
 * new element enters only if it beats the current k-th. Ties go to the lower index; NaN ranks
 * below every number (it ties with -inf, broken by index). */
#include <math.h>

#include "cpu.h"
#include "internal.h"

/* values, indices (n, k) = the k largest of each row of x (n, c), descending; 1 <= k <= c. */
void sp_cpu_topk(float *values, int32_t *indices, const float *x, int n, int c, int k) {
  SP_PARALLEL_FOR_DYNAMIC((int64_t)n * c > SP_PAR_MIN && n > 1, for (int r = 0; r < n; r++) {
    const float *row = x + (int64_t)r * c;
    float *key = values + (int64_t)r * k; /* the buffer: keys (NaN as -inf) until the end */
    int32_t *idx = indices + (int64_t)r * k;
    int filled = 0;
    for (int j = 0; j < c; j++) {
      float v = row[j];
      if (isnan(v)) v = -INFINITY;
      /* Scanning j upwards, an equal key already held has the lower index and stays ahead. */
      if (filled == k && !(v > key[k - 1])) continue;
      int p = filled < k ? filled : k - 1; /* first slot whose key is < v */
      while (p > 0 && key[p - 1] < v) {
        key[p] = key[p - 1];
        idx[p] = idx[p - 1];
        p--;
      }
      key[p] = v;
      idx[p] = j;
      if (filled < k) filled++;
    }
    for (int i = 0; i < k; i++) key[i] = row[idx[i]]; /* restore NaNs */
  });
}
