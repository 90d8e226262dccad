/* ortho.c (CPU) — SPRINT's intent-orthogonality loss (section 4.3) over the rows of e (c, d):
 *   L = -1 / (c (c - 1)) * sum_{i != j} |n_i - n_j|^2,   n_i = e_i / max(|e_i|, eps).
 * With s = sum_i n_i, sum_{i, j} |n_i - n_j|^2 = 2 c sum_i |n_i|^2 - 2 |s|^2 (the i = j terms
 * are 0), so forward and backward cost O(c d), not O(c^2 d):
 *   dL/dn_i = -4 (c n_i - s) / (c (c - 1)),
 *   dL/de_i = (g - n_i (n_i . g)) / |e_i| with g = dL/dn_i, or g / eps where the norm is clamped
 * (a clamped norm is a constant). The intent pool is small (tens to hundreds of rows): s and
 * the sums run serially in double, in row order; backward is split over rows only. */
#include <math.h>

#include "cpu.h"
#include "internal.h"

/* n_i = e_i / max(norm_i, eps) as a double, component k. */
static inline double unit(const float *e, const float *norm, int d, float eps, int i, int k) {
  return (double)e[(int64_t)i * d + k] / (double)fmaxf(norm[i], eps);
}

/* norm (c) = |e_i| (unclamped, for backward); s (d) = sum_i n_i; returns L. */
float sp_cpu_ortho_forward(float *norm, float *s, const float *e, int c, int d, float eps) {
  double sq = 0.0; /* sum_i |n_i|^2 */
  for (int i = 0; i < c; i++) {
    const float *row = e + (int64_t)i * d;
    double acc = 0.0;
    for (int k = 0; k < d; k++) acc += (double)row[k] * row[k];
    norm[i] = (float)sqrt(acc);
    double den = fmax(sqrt(acc), (double)eps);
    sq += acc / (den * den);
  }
  double ss = 0.0; /* |s|^2 */
  for (int k = 0; k < d; k++) {
    double acc = 0.0;
    for (int i = 0; i < c; i++) acc += unit(e, norm, d, eps, i, k);
    s[k] = (float)acc;
    ss += acc * acc;
  }
  if (c < 2) return 0.0f;
  double pairs = 2.0 * c * sq - 2.0 * ss; /* sum_{i != j} |n_i - n_j|^2 >= 0 */
  return (float)(-pairs / ((double)c * (c - 1)));
}

/* de (c, d) += dloss * dL/de. */
void sp_cpu_ortho_backward(float *de, float dloss, const float *norm, const float *s,
                           const float *e, int c, int d, float eps) {
  if (c < 2) return;
  double f = -4.0 * (double)dloss / ((double)c * (c - 1));
  SP_PARALLEL_FOR((int64_t)c * d > SP_PAR_MIN, for (int i = 0; i < c; i++) {
    float *di = de + (int64_t)i * d;
    int clamped = !(norm[i] >= eps) || norm[i] == 0.0f;
    double inv = 1.0 / (double)fmaxf(norm[i], eps);
    double ng = 0.0; /* n_i . g */
    if (!clamped)
      for (int k = 0; k < d; k++) {
        double n = unit(e, norm, d, eps, i, k);
        ng += n * f * (c * n - s[k]);
      }
    for (int k = 0; k < d; k++) {
      double n = unit(e, norm, d, eps, i, k);
      double g = f * (c * n - s[k]);
      di[k] += (float)((clamped ? g : g - n * ng) * inv);
    }
  });
}
