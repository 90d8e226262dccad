/* loss.c (CPU) — softmax cross-entropy over rows (C up to the item count, ~50k) and binary
 * cross-entropy on logits. Rows / blocks are computed in parallel into per-row (per-block)
 * partial results that are then summed serially in a fixed order, so the loss is the same
 * whatever the thread count. */
#include <math.h>
#include <stdlib.h>

#include "cpu.h"
#include "internal.h"
#include "vmath.h"

/* One row: probs (c) = softmax(x (c)); returns -log softmax(x)[t] = logsumexp(x) - x[t]. */
SP_VECTOR_CLONES static double ce_row(float *probs, const float *x, int c, int t) {
  float m = x[0];
  for (int j = 1; j < c; j++) m = x[j] > m ? x[j] : m;
  for (int j = 0; j < c; j++) probs[j] = sp_vexpf(x[j] - m); /* vectorises */
  double s = 0.0;
  for (int j = 0; j < c; j++) s += probs[j]; /* in order, in double */
  float inv = (float)(1.0 / s);
  for (int j = 0; j < c; j++) probs[j] *= inv;
  return (double)m + log(s) - (double)x[t];
}

/* probs (n, c) = softmax(logits) on counted rows (ignored rows stay as they are: zero);
 * targets (n) already checked to lie in [0, c) or equal ignore_index. */
int64_t sp_cpu_cross_entropy_forward_work_floats(int n) {
  return 2 * (int64_t)n + 2;
}

float sp_cpu_cross_entropy_forward(float *probs, float *work, const float *logits,
                                   const int32_t *targets, int n, int c, int ignore_index,
                                   int *counted) {
  int cnt = 0;
  for (int r = 0; r < n; r++) cnt += targets[r] != ignore_index;
  *counted = cnt;
  if (cnt == 0) return 0.0f;
  double *row_loss = (double *)work; /* (n), 8-byte aligned arena memory */
  double sum = 0.0;
  SP_PARALLEL_FOR_DYNAMIC(
      (int64_t)n * c > SP_PAR_MIN && n > 1,
      for (int r = 0; r < n; r++) row_loss[r] =
          targets[r] == ignore_index
              ? 0.0
              : ce_row(probs + (int64_t)r * c, logits + (int64_t)r * c, c, targets[r]););
  for (int r = 0; r < n; r++) sum += row_loss[r];
  return (float)(sum / cnt);
}

/* dlogits (n, c) += dloss / counted * (probs - onehot(target)) on counted rows. */
void sp_cpu_cross_entropy_backward(float *dlogits, float dloss, const float *probs,
                                   const int32_t *targets, int n, int c, int ignore_index,
                                   int counted) {
  if (counted == 0) return;
  float g = dloss / (float)counted;
  SP_PARALLEL_FOR((int64_t)n * c > SP_PAR_MIN && n > 1, for (int r = 0; r < n; r++) {
    if (targets[r] == ignore_index) continue;
    float *d = dlogits + (int64_t)r * c;
    const float *p = probs + (int64_t)r * c;
    for (int j = 0; j < c; j++) d[j] += g * p[j];
    d[targets[r]] -= g;
  });
}

/* Elements are summed in fixed blocks, each in double, then the blocks in order. */
#define BCE_BLOCK 4096

/* max(x, 0) - x t + log(1 + exp(-|x|)): exact for large |x|, never overflows. */
static inline float bce_elem(float x, float t) {
  return fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
}

static inline float sigmoidf_stable(float x) {
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

static void bce_block(const float *x, const float *t, const float *w, int64_t lo, int64_t hi,
                      double *lsum, double *wsum) {
  double l = 0.0, s = 0.0;
  for (int64_t i = lo; i < hi; i++) {
    double wi = w ? (double)w[i] : 1.0;
    l += wi * (double)bce_elem(x[i], t[i]);
    s += wi;
  }
  *lsum = l, *wsum = s;
}

/* logits, targets, weight (n) (weight may be NULL: all ones). */
int64_t sp_cpu_bce_logits_forward_work_floats(int64_t n) {
  return 4 * ((n + BCE_BLOCK - 1) / BCE_BLOCK) + 2;
}

float sp_cpu_bce_logits_forward(float *work, const float *logits, const float *targets,
                                const float *weight, int64_t n, double *weight_sum) {
  int64_t nb = (n + BCE_BLOCK - 1) / BCE_BLOCK;
  double *part = nb > 1 ? (double *)work : NULL; /* (nb, 2) */
  double lsum = 0.0, wsum = 0.0;
  if (part) {
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN, for (int64_t b = 0; b < nb; b++) {
          int64_t hi = (b + 1) * BCE_BLOCK < n ? (b + 1) * BCE_BLOCK : n;
          bce_block(logits, targets, weight, b * BCE_BLOCK, hi, &part[2 * b], &part[2 * b + 1]);
        });
    for (int64_t b = 0; b < nb; b++) lsum += part[2 * b], wsum += part[2 * b + 1];
  } else { /* one block, or no scratch: the same blocks, serially */
    for (int64_t b = 0; b < nb; b++) {
      int64_t hi = (b + 1) * BCE_BLOCK < n ? (b + 1) * BCE_BLOCK : n;
      double l, s;
      bce_block(logits, targets, weight, b * BCE_BLOCK, hi, &l, &s);
      lsum += l, wsum += s;
    }
  }
  *weight_sum = wsum;
  return wsum == 0.0 ? 0.0f : (float)(lsum / wsum);
}

/* dlogits += dloss (sigmoid(x) - t) w / W, dtargets += -dloss x w / W, W = weight_sum. */
void sp_cpu_bce_logits_backward(float *dlogits, float *dtargets, float dloss, const float *logits,
                                const float *targets, const float *weight, int64_t n,
                                double weight_sum) {
  if (weight_sum == 0.0) return;
  float g = (float)((double)dloss / weight_sum);
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) {
        float gi = weight ? g * weight[i] : g;
        if (dlogits) dlogits[i] += gi * (sigmoidf_stable(logits[i]) - targets[i]);
        if (dtargets) dtargets[i] -= gi * logits[i];
      });
}
