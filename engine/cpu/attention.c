/* attention.c (CPU) — multi-head scaled dot-product attention on (b, l, d) tensors, head h in
 * columns h*dh..(h+1)*dh-1. One OpenMP task per (batch, head) slice, plain loops inside: each
 * thread owns whole output slices, so results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu.h"
#include "internal.h"

/* Keys query i sees: [0, i] when causal, else [0, l); a masked key (key_mask[j] == 0) never. */
static inline int key_limit(int i, int l, int causal) {
  return causal ? i + 1 : l;
}

static inline float dot(const float *a, const float *b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s) /* vector partial sums: fixed order, any thread count */
  for (int c = 0; c < n; c++) s += a[c] * b[c];
  return s;
}

/* One query qi (dh) against keys 0..jmax-1 of a head (rows base + j d of k and v): p (jmax)
 * its softmax over the visible keys (0 where masked), o (dh) the weighted values. Returns 0
 * when no key is visible (o zero, p unset): zeros, not 0/0. */
static inline int attend(float *p, float *o, const float *qi, const float *k, const float *v,
                         int64_t base, int d, int dh, int jmax, const int32_t *mrow, float scale) {
  float mx = -INFINITY;
  int any = 0;
  memset(o, 0, (size_t)dh * sizeof(float));
  for (int j = 0; j < jmax; j++) {
    if (mrow && !mrow[j]) continue;
    p[j] = dot(qi, k + base + (int64_t)j * d, dh) * scale;
    if (p[j] > mx) mx = p[j];
    any = 1;
  }
  if (!any) return 0;
  float sum = 0.0f;
  for (int j = 0; j < jmax; j++) {
    if (mrow && !mrow[j]) {
      p[j] = 0.0f;
      continue;
    }
    p[j] = expf(p[j] - mx);
    sum += p[j];
  }
  const float inv = 1.0f / sum; /* sum >= 1: the max term is exp(0) */
  for (int j = 0; j < jmax; j++) {
    if (p[j] == 0.0f) continue; /* masked (or underflowed): adds nothing */
    p[j] *= inv;
    const float pj = p[j], *vj = v + base + (int64_t)j * d;
    for (int c = 0; c < dh; c++) o[c] += pj * vj[c];
  }
  return 1;
}

/* out (b, l, d), probs (b, heads, l, l) = softmax(q_h k_h^T / sqrt(dh)) over visible keys;
 * a query with no visible key gets an all-zero probs row and a zero output row. */
int sp_cpu_attention_forward(float *out, float *probs, const float *q, const float *k,
                             const float *v, const int32_t *key_mask, int b, int l, int d,
                             int heads, int causal) {
  const int dh = d / heads;
  const float scale = 1.0f / sqrtf((float)dh);
  const int64_t slices = (int64_t)b * heads;
  SP_PARALLEL_FOR(
      slices > 1 && slices * l * l * dh > SP_PAR_MIN, for (int64_t s = 0; s < slices; s++) {
        const int bi = (int)(s / heads), hi = (int)(s % heads);
        const int64_t base = (int64_t)bi * l * d + (int64_t)hi * dh; /* row 0 of this head */
        const int32_t *mrow = key_mask ? key_mask + (int64_t)bi * l : NULL;
        for (int i = 0; i < l; i++) {
          float *p = probs + (s * l + i) * l;          /* (l) */
          float *o = out + base + (int64_t)i * d;      /* (dh) */
          const float *qi = q + base + (int64_t)i * d; /* (dh) */
          const int jmax = key_limit(i, l, causal);
          if (!attend(p, o, qi, k, v, base, d, dh, jmax, mrow, scale)) {
            memset(p, 0, (size_t)l * sizeof(float));
            continue;
          }
          for (int j = jmax; j < l; j++) p[j] = 0.0f;
        }
      });
  return SP_OK;
}

/* Per slice, row by row: dV += P^T dO; dP = dO V^T; dS = P * (dP - rowsum(dP * P));
 * dQ += dS K / sqrt(dh); dK += dS^T Q / sqrt(dh). Entries with P == 0 (masked, future, or
 * underflowed) contribute exactly nothing, so they are skipped. */
int64_t sp_cpu_attention_backward_work_floats(int l) {
  int nthreads = 1;
#ifdef _OPENMP
  nthreads = omp_get_max_threads();
#endif
  return (int64_t)nthreads * (l > 0 ? l : 1);
}

int sp_cpu_attention_backward(float *dq, float *dk, float *dv, float *work, const float *dout,
                              const float *probs, const float *q, const float *k, const float *v,
                              int b, int l, int d, int heads) {
  if (!dq && !dk && !dv) return SP_OK;
  const int dh = d / heads;
  const float scale = 1.0f / sqrtf((float)dh);
  const int64_t slices = (int64_t)b * heads;
  float *scratch = work; /* one dP row (l) per thread, see sp_cpu_attention_backward_work_floats */
  SP_PARALLEL_FOR(
      slices > 1 && slices * l * l * dh > SP_PAR_MIN, for (int64_t s = 0; s < slices; s++) {
        int tid = sp_thread_num();
        float *dp = scratch + (int64_t)tid * l; /* (l) */
        const int bi = (int)(s / heads), hi = (int)(s % heads);
        const int64_t base = (int64_t)bi * l * d + (int64_t)hi * dh;
        for (int i = 0; i < l; i++) {
          const float *p = probs + (s * l + i) * l;
          const float *go = dout + base + (int64_t)i * d; /* dO row (dh) */
          float rowsum = 0.0f;
          for (int j = 0; j < l; j++) {
            if (p[j] == 0.0f) continue;
            const int64_t rj = base + (int64_t)j * d;
            if (dv)
              for (int c = 0; c < dh; c++) dv[rj + c] += p[j] * go[c];
            dp[j] = dot(go, v + rj, dh);
            rowsum += p[j] * dp[j];
          }
          if (!dq && !dk) continue;
          const int64_t ri = base + (int64_t)i * d;
          for (int j = 0; j < l; j++) {
            if (p[j] == 0.0f) continue;
            const int64_t rj = base + (int64_t)j * d;
            const float ds = p[j] * (dp[j] - rowsum) * scale;
            if (dq)
              for (int c = 0; c < dh; c++) dq[ri + c] += ds * k[rj + c];
            if (dk)
              for (int c = 0; c < dh; c++) dk[rj + c] += ds * q[ri + c];
          }
        }
      });
  return SP_OK;
}

/* One query per batch row: out (b, d) from q (b, d) against k, v (b, l, d); the query sits at
 * position last[bi] and, when causal, sees keys 0..last[bi]. The arithmetic is
 * sp_cpu_attention_forward's for that row (same sums in the same order); no probabilities are
 * kept (inference only). work: b * heads * l floats. */
int sp_cpu_attention_last_forward(float *out, float *work, const float *q, const float *k,
                                  const float *v, const int32_t *key_mask, const int32_t *last,
                                  int b, int l, int d, int heads, int causal) {
  const int dh = d / heads;
  const float scale = 1.0f / sqrtf((float)dh);
  const int64_t slices = (int64_t)b * heads;
  SP_PARALLEL_FOR(
      slices > 1 && slices * l * dh > SP_PAR_MIN, for (int64_t s = 0; s < slices; s++) {
        const int bi = (int)(s / heads), hi = (int)(s % heads);
        const int64_t base = (int64_t)bi * l * d + (int64_t)hi * dh;
        const int32_t *mrow = key_mask ? key_mask + (int64_t)bi * l : NULL;
        const float *qi = q + (int64_t)bi * d + (int64_t)hi * dh;
        float *o = out + (int64_t)bi * d + (int64_t)hi * dh;
        float *p = work + s * l;
        const int jmax = causal ? last[bi] + 1 : l;
        attend(p, o, qi, k, v, base, d, dh, jmax, mrow, scale);
      });
  return SP_OK;
}
