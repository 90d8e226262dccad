/* candidates.c — candidate sets for sampled ranking: the target plus negatives drawn uniformly
 * outside the session (Philox keyed by the session, so a session's set is fixed whatever the
 * batch), or a model's highest-scoring non-session items (a pretrained model's hard negatives). */
#include <string.h>

#include "eval.h"

/* Keeps these draws apart from other streams that use the same seed (the batcher's). */
#define UNIFORM_CANDIDATES_STREAM 0x5ca1ab1e0ddba11ull

/* How many distinct items row seq (L) excludes besides the target t. */
static int session_items(const int32_t *seq, int L, int32_t t) {
  int m = 0;
  for (int p = 0; seq && p < L; p++) m += sp_eval_first_item(seq, p, t);
  return m;
}

/* Row out (C): t, then C - 1 distinct items of 1..n outside seq and other than t; the caller
 * checked that there are enough. Rejection sampling, then (for sessions that hold nearly every
 * item) a scan from a drawn start, so it always ends. */
static void uniform_row(int32_t *out, int C, int32_t t, const int32_t *seq, int L, int n,
                        uint64_t seed, uint64_t key) {
  out[0] = t;
  int got = 1;
  uint32_t w[4] = {0, 0, 0, 0};
  const uint64_t attempts = 64 * (uint64_t)C;
  for (uint64_t a = 0; got < C && a < attempts; a++) {
    if (a % 4 == 0) sp_philox_u32x4(seed ^ UNIFORM_CANDIDATES_STREAM, key, a / 4, w);
    int32_t cand = 1 + (int32_t)(((uint64_t)w[a % 4] * (uint64_t)n) >> 32);
    if (cand == t || (seq && sp_eval_contains(seq, L, cand)) ||
        sp_eval_contains(out + 1, got - 1, cand))
      continue;
    out[got++] = cand;
  }
  int32_t start = (int32_t)(w[0] % (uint32_t)n);
  for (int32_t j = 0; got < C && j < n; j++) {
    int32_t cand = 1 + (start + j) % n;
    if (cand == t || (seq && sp_eval_contains(seq, L, cand)) ||
        sp_eval_contains(out + 1, got - 1, cand))
      continue;
    out[got++] = cand;
  }
}

int sp_rank_uniform_candidates(sp_tensor *candidates, sp_tensor *target, sp_tensor *seq,
                               sp_tensor *key, int n_items, uint64_t seed) {
  const char *op = "sp_rank_uniform_candidates";
  char s1[64];
  SP_TRY(sp_check_tensor(op, "candidates", candidates, SP_I32, __FILE__, __LINE__));
  SP_TRY(sp_check_tensor(op, "target", target, SP_I32, __FILE__, __LINE__));
  SP_TRY(sp_check_tensor(op, "key", key, SP_I32, __FILE__, __LINE__));
  if (candidates->ndim != 2 || candidates->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: candidates %s must be (B, C) with C >= 1", op,
                   sp_shape_str(candidates, s1));
  const int B = candidates->shape[0], C = candidates->shape[1];
  if (n_items < 1) return SP_FAIL(SP_EINVAL, "%s: n_items must be >= 1, got %d", op, n_items);
  if (target->ndim != 1 || target->shape[0] != B)
    return SP_FAIL(SP_ESHAPE, "%s: target %s must be (%d), one per row of candidates", op,
                   sp_shape_str(target, s1), B);
  if (key->ndim != 1 || key->shape[0] != B)
    return SP_FAIL(SP_ESHAPE, "%s: key %s must be (%d), one per row of candidates", op,
                   sp_shape_str(key, s1), B);
  int L = 0;
  const int32_t *sq = NULL, *t = target->data, *k = key->data;
  if (seq) {
    SP_TRY(sp_check_tensor(op, "seq", seq, SP_I32, __FILE__, __LINE__));
    if (seq->ndim != 2 || seq->shape[0] != B)
      return SP_FAIL(SP_ESHAPE, "%s: seq %s must be (%d, L)", op, sp_shape_str(seq, s1), B);
    L = seq->shape[1];
    sq = seq->data;
  }
  for (int b = 0; b < B; b++) {
    if (t[b] < 0 || t[b] > n_items)
      return SP_FAIL(SP_EINVAL, "%s: target[%d] = %d is outside 1..%d (0 = a padding row)", op, b,
                     t[b], n_items);
    for (int p = 0; p < L; p++)
      if (sq[(int64_t)b * L + p] < 0 || sq[(int64_t)b * L + p] > n_items)
        return SP_FAIL(SP_EINVAL, "%s: seq[%d][%d] = %d is outside 0..%d", op, b, p,
                       sq[(int64_t)b * L + p], n_items);
    if (t[b] == 0) continue;
    int free_items = n_items - 1 - session_items(sq ? sq + (int64_t)b * L : NULL, L, t[b]);
    if (free_items < C - 1)
      return SP_FAIL(SP_EINVAL,
                     "%s: row %d has %d items outside its session to draw %d negatives from", op, b,
                     free_items, C - 1);
  }
  int32_t *out = candidates->data;
  for (int b = 0; b < B; b++) {
    int32_t *row = out + (int64_t)b * C;
    if (t[b] == 0) {
      memset(row, 0, sizeof *row * (size_t)C);
      continue;
    }
    uniform_row(row, C, t[b], sq ? sq + (int64_t)b * L : NULL, L, n_items, seed,
                (uint64_t)(uint32_t)k[b]);
  }
  return SP_OK;
}

/* ---- a model's hard negatives ---- */

/* Row out (C): t, then the C - 1 best-scored items of s (n) that are neither t nor in seq.
 * vals/ids (cap) hold the running top `cap` = C - 1 + the row's session items, best first,
 * equal scores in id order. NaN scores are skipped, so a row may come out short (0s at the end). */
static void topk_row(int32_t *out, float *vals, int32_t *ids, int cap, const float *s, int n, int C,
                     int32_t t, const int32_t *seq, int L) {
  int cnt = 0;
  for (int j = 0; j < n; j++) {
    float v = s[j];
    if (v != v) continue;
    if (cnt == cap && !(v > vals[cap - 1])) continue; /* an equal score keeps the lower id */
    int p = cnt < cap ? cnt++ : cap - 1;
    while (p > 0 && vals[p - 1] < v) {
      vals[p] = vals[p - 1];
      ids[p] = ids[p - 1];
      p--;
    }
    vals[p] = v;
    ids[p] = j + 1;
  }
  out[0] = t;
  int got = 1;
  for (int p = 0; p < cnt && got < C; p++)
    if (ids[p] != t && !(seq && sp_eval_contains(seq, L, ids[p]))) out[got++] = ids[p];
}

int sp_rank_topk_candidates(sp_ctx *ctx, sp_tensor *candidates, sp_tensor *h, sp_tensor *items,
                            sp_tensor *target, sp_tensor *seq, int n_items) {
  const char *op = "sp_rank_topk_candidates";
  if (!ctx) return SP_FAIL(SP_EINVAL, "%s: NULL context", op);
  sp_eval_args a;
  SP_TRY(sp_eval_check_model(ctx, op, &a, h, items, seq, n_items, 0));
  char s1[64];
  SP_TRY(sp_check_tensor(op, "candidates", candidates, SP_I32, __FILE__, __LINE__));
  SP_TRY(sp_check_alive(ctx, op, candidates, __FILE__, __LINE__));
  if (candidates->ndim != 2 || candidates->shape[0] != a.B || candidates->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: candidates %s must be (B, C) with B = %d and C >= 1", op,
                   sp_shape_str(candidates, s1), a.B);
  SP_TRY(sp_eval_check_targets(ctx, op, target, a.B, a.n));
  const int B = a.B, n = a.n, L = a.L, C = candidates->shape[1];
  const int32_t *t = target->data;
  for (int b = 0; b < B; b++) {
    if (t[b] == 0) continue;
    int free_items = n - 1 - session_items(a.seq ? a.seq + (int64_t)b * L : NULL, L, t[b]);
    if (free_items < C - 1)
      return SP_FAIL(SP_EINVAL, "%s: row %d has %d items outside its session for %d negatives", op,
                     b, free_items, C - 1);
  }
  if (B == 0) return SP_OK;
  const int cap = C - 1 + L + 1 < n ? C - 1 + L + 1 : n; /* enough to survive the exclusions */
  float *scores = sp_work_host(ctx, (int64_t)B * n + 2 * (int64_t)B * cap, op);
  if (!scores) return SP_ENOMEM;
  float *vals = scores + (int64_t)B * n;
  int32_t *ids = (int32_t *)(vals + (int64_t)B * cap);
  SP_TRY(sp_sgemm(0, 1, B, n, a.d, 1.0f, a.h, a.d, a.items + a.d, a.d, 0.0f, scores, n));
  int32_t *out = candidates->data;
  const int32_t *sq = a.seq;
  SP_PARALLEL_FOR((int64_t)B * n >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    int32_t *row = out + (int64_t)b * C;
    memset(row, 0, sizeof *row * (size_t)C); /* a short row keeps a 0 in its last column */
    if (t[b] != 0)
      topk_row(row, vals + (int64_t)b * cap, ids + (int64_t)b * cap, cap, scores + (int64_t)b * n,
               n, C, t[b], sq ? sq + (int64_t)b * L : NULL, L);
  });
  for (int b = 0; b < B; b++)
    if (t[b] != 0 && out[(int64_t)b * C + C - 1] == 0)
      return SP_FAIL(SP_EINVAL, "%s: row %d has too few items with a finite score (NaN in h?)", op,
                     b);
  return SP_OK;
}
