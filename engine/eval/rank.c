/* rank.c — the rank of each session's target item: over all items (scores h E^T from one GEMM
 * into arena scratch) or over a given candidate set, under a stated tie rule, with the
 * session's own items optionally left out. Each row is counted on its own in integers, so
 * ranks depend neither on the batch size nor on the thread count. */
#include <string.h>

#include "device.h"
#include "eval.h"

void sp_rank_config_default(sp_rank_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->ties = SP_TIES_PESSIMISTIC;
}

/* ---- argument checks shared by engine/eval ---- */

/* A GPU tensor's host copy in the context's host arena (waits for the GPU). Ranking runs on
 * the CPU: a GPU model's h and item table are copied down once per call. */
static int to_host(sp_ctx *ctx, const char *op, sp_tensor **t) {
  if (!*t || (*t)->device == SP_CPU) return SP_OK;
  SP_TRY(sp_check_alive(ctx, op, *t, __FILE__, __LINE__));
  sp_tensor *h;
  SP_TRY(sp_arena_tensor_host(ctx, &h, (*t)->dtype, (*t)->ndim, (*t)->shape));
  SP_TRY(sp_tensor_copy(h, *t));
  *t = h;
  return SP_OK;
}

int sp_eval_check_model(sp_ctx *ctx, const char *op, sp_eval_args *a, sp_tensor *h,
                        sp_tensor *items, sp_tensor *seq, int n_items, int required_seq) {
  char s1[64], s2[64];
  SP_TRY(to_host(ctx, op, &h));
  SP_TRY(to_host(ctx, op, &items));
  SP_CHECK_F32(ctx, op, h);
  SP_CHECK_F32(ctx, op, items);
  if (h->ndim != 2 || h->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: h %s must be (B, d) with d >= 1", op, sp_shape_str(h, s1));
  if (items->ndim != 2 || items->shape[1] != h->shape[1] || items->shape[0] < 2)
    return SP_FAIL(SP_ESHAPE,
                   "%s: items %s must be (n_items + 1, d) with n_items >= 1 and d = %d as in h %s",
                   op, sp_shape_str(items, s1), h->shape[1], sp_shape_str(h, s2));
  if (n_items < 0 || n_items > items->shape[0] - 1)
    return SP_FAIL(SP_EINVAL, "%s: n_items %d must be in 1..%d (the item table %s), or 0 for all",
                   op, n_items, items->shape[0] - 1, sp_shape_str(items, s1));
  memset(a, 0, sizeof *a);
  a->B = h->shape[0];
  a->d = h->shape[1];
  a->n = n_items ? n_items : items->shape[0] - 1;
  a->h = h->data;
  a->items = items->data;
  if (!seq) {
    if (required_seq)
      return SP_FAIL(SP_EINVAL, "%s: masking the session's items needs seq, got NULL", op);
    return SP_OK;
  }
  SP_CHECK_I32(ctx, op, seq);
  if (seq->ndim != 2 || seq->shape[0] != a->B)
    return SP_FAIL(SP_ESHAPE, "%s: seq %s must be (B, L) with B = %d rows of h", op,
                   sp_shape_str(seq, s1), a->B);
  a->L = seq->shape[1];
  a->seq = seq->data;
  for (int64_t i = 0; i < seq->numel; i++)
    if (a->seq[i] < 0 || a->seq[i] > a->n)
      return SP_FAIL(SP_EINVAL, "%s: seq[%lld][%lld] = %d is outside 0..%d (0 = padding)", op,
                     (long long)(i / (a->L ? a->L : 1)), (long long)(i % (a->L ? a->L : 1)),
                     a->seq[i], a->n);
  return SP_OK;
}

int sp_eval_check_out(sp_ctx *ctx, const char *op, const char *arg, sp_tensor *t, sp_dtype dtype,
                      int ndim, int d0, int d1) {
  char s[64];
  SP_TRY(sp_check_tensor(op, arg, t, dtype, __FILE__, __LINE__));
  SP_TRY(sp_check_alive(ctx, op, t, __FILE__, __LINE__));
  if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
    if (ndim == 1)
      return SP_FAIL(SP_ESHAPE, "%s: %s %s must be (%d)", op, arg, sp_shape_str(t, s), d0);
    return SP_FAIL(SP_ESHAPE, "%s: %s %s must be (%d, %d)", op, arg, sp_shape_str(t, s), d0, d1);
  }
  return SP_OK;
}

int sp_eval_check_targets(sp_ctx *ctx, const char *op, sp_tensor *target, int B, int n) {
  char s[64];
  SP_TRY(sp_check_tensor(op, "target", target, SP_I32, __FILE__, __LINE__));
  SP_TRY(sp_check_alive(ctx, op, target, __FILE__, __LINE__));
  if (target->ndim != 1 || target->shape[0] != B)
    return SP_FAIL(SP_ESHAPE, "%s: target %s must be (%d), one per row of h", op,
                   sp_shape_str(target, s), B);
  const int32_t *t = target->data;
  for (int b = 0; b < B; b++)
    if (t[b] < 0 || t[b] > n)
      return SP_FAIL(SP_EINVAL, "%s: target[%d] = %d is outside 1..%d (0 = a padding row)", op, b,
                     t[b], n);
  return SP_OK;
}

static int check_config(const char *op, const sp_rank_config *cfg) {
  if (cfg->ties < SP_TIES_PESSIMISTIC || cfg->ties > SP_TIES_AVERAGE)
    return SP_FAIL(SP_EINVAL, "%s: ties %d must be 0 (pessimistic), 1 (optimistic) or 2 (average)",
                   op, cfg->ties);
  if (cfg->mask_session_items != 0 && cfg->mask_session_items != 1)
    return SP_FAIL(SP_EINVAL, "%s: mask_session_items must be 0 or 1, got %d", op,
                   cfg->mask_session_items);
  return SP_OK;
}

/* The rank from the counts of one row: ge = ranked items (the target included) scoring >= the
 * target, gt = those scoring >, ranked = how many items were ranked, bad = a NaN was seen. */
static float rank_of(int64_t ge, int64_t gt, int64_t ranked, int bad, int ties) {
  if (bad) return (float)ranked;
  switch (ties) {
    case SP_TIES_OPTIMISTIC:
      return (float)(gt + 1);
    case SP_TIES_AVERAGE:
      return (float)(0.5 * (double)(ge + gt + 1));
    default:
      return (float)ge;
  }
}

/* ---- full ranking ---- */

/* GCC/Clang vector extensions: the counts run 4 scores at a time on any target without
 * intrinsics (16 bytes: one SSE2/NEON register; wider types get split into slow pieces at the
 * baseline ISA); a comparison gives -1 per true lane. 7x faster than the scalar loop. */
typedef float sp_v4f __attribute__((vector_size(16)));
typedef int32_t sp_v4i __attribute__((vector_size(16)));

/* Over s (n): how many are >= st, > st and < st (a NaN is none of them). */
static void count_row(const float *s, int n, float st, int32_t *ge, int32_t *gt, int32_t *lt) {
  sp_v4i vge = {0}, vgt = {0}, vlt = {0};
  const sp_v4f vst = (sp_v4f){0} + st;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    sp_v4f v;
    memcpy(&v, s + j, sizeof v);
    vge -= v >= vst;
    vgt -= v > vst;
    vlt -= v < vst;
  }
  int32_t a = 0, b = 0, c = 0;
  for (int k = 0; k < 4; k++) a += vge[k], b += vgt[k], c += vlt[k];
  for (; j < n; j++) a += s[j] >= st, b += s[j] > st, c += s[j] < st;
  *ge = a, *gt = b, *lt = c;
}

/* One row: s (n) the scores of items 1..n, t the target in 1..n, seq (L) or NULL. */
static float full_row(const float *s, int n, int32_t t, const int32_t *seq, int L, int ties) {
  const float st = s[t - 1];
  int32_t ge, gt, lt;
  count_row(s, n, st, &ge, &gt, &lt);
  int64_t ranked = n, nan = (int64_t)n - ge - lt; /* a NaN compares false both ways */
  for (int p = 0; seq && p < L; p++) {
    if (!sp_eval_first_item(seq, p, t)) continue;
    float v = s[seq[p] - 1];
    ranked--;
    ge -= v >= st;
    gt -= v > st;
    nan -= !(v >= st) && !(v < st);
  }
  return rank_of(ge, gt, ranked, st != st || nan > 0, ties);
}

/* What both rankings check first: the context, the settings (defaults when NULL), the model's
 * outputs and the rank output (B). */
static int rank_begin(sp_ctx *ctx, const char *op, const sp_rank_config *cfg_in,
                      sp_rank_config *cfg, sp_eval_args *a, sp_tensor *rank, sp_tensor *h,
                      sp_tensor *items, sp_tensor *seq) {
  if (!ctx) return SP_FAIL(SP_EINVAL, "%s: NULL context", op);
  if (cfg_in)
    *cfg = *cfg_in;
  else
    sp_rank_config_default(cfg);
  SP_TRY(check_config(op, cfg));
  SP_TRY(sp_eval_check_model(ctx, op, a, h, items, seq, cfg->n_items, cfg->mask_session_items));
  return sp_eval_check_out(ctx, op, "rank", rank, SP_F32, 1, a->B, 0);
}

/* A GPU model on its GPU context: one GEMM and a rank kernel on the device (kernels/topk.cu),
 * only the ranks (B floats) copied back. Targets and session items (host batches) go up. */
static int rank_full_device(sp_ctx *ctx, const char *op, sp_tensor *rank, sp_tensor *h,
                            sp_tensor *items, sp_tensor *target, sp_tensor *seq,
                            const sp_rank_config *cfg_in) {
  sp_rank_config cfg;
  sp_eval_args a;
  /* the shared checks read shapes (and the host batch), never h's or items' data: they run on
   * headers that say "host" so that nothing is copied down; a gets the device pointers */
  sp_tensor hv = *h, iv = *items;
  hv.device = iv.device = SP_CPU;
  SP_TRY(rank_begin(ctx, op, cfg_in, &cfg, &a, rank, &hv, &iv, seq));
  SP_TRY(sp_eval_check_targets(ctx, op, target, a.B, a.n));
  if (a.B == 0) return SP_OK;
  float *scores = sp_work(ctx, (int64_t)a.B * a.n, op), *r = sp_work(ctx, a.B, op);
  if (!scores || !r) return SP_ENOMEM;
  sp_tensor *t, *sq = NULL;
  SP_TRY(sp_ctx_upload(ctx, &t, target));
  if (cfg.mask_session_items) SP_TRY(sp_ctx_upload(ctx, &sq, seq));
  SP_TRY(sp_dev_rank_full(r, scores, a.h, a.items, t->data, sq ? sq->data : NULL, a.B, a.n, a.d,
                          a.L, cfg.ties));
  return sp_dev_copy(rank->data, r, (int64_t)a.B * 4, SP_COPY_D2H); /* waits */
}

int sp_rank_full(sp_ctx *ctx, sp_tensor *rank, sp_tensor *h, sp_tensor *items, sp_tensor *target,
                 sp_tensor *seq, const sp_rank_config *cfg_in) {
  const char *op = "sp_rank_full";
  if (ctx && h && items && ctx->device != SP_CPU && h->device == ctx->device &&
      items->device == ctx->device)
    return rank_full_device(ctx, op, rank, h, items, target, seq, cfg_in);
  sp_rank_config cfg;
  sp_eval_args a;
  SP_TRY(rank_begin(ctx, op, cfg_in, &cfg, &a, rank, h, items, seq));
  SP_TRY(sp_eval_check_targets(ctx, op, target, a.B, a.n));
  if (a.B == 0) return SP_OK;
  /* (B, n): items 1..n; not zeroed (the GEMM writes every score with beta = 0): zeroing cost
   * Yelp's test split 150 MB of memset. (Smaller row groups, to keep the scores in cache,
   * were slower: the GEMM loses more than the counts gain.) */
  float *scores = sp_arena_alloc_uninit(&ctx->arena, (int64_t)a.B * a.n * (int64_t)sizeof(float));
  if (!scores) return SP_FAIL(SP_ENOMEM, "%s: out of memory for %lld scores", op, (long long)a.B * a.n);
  SP_TRY(sp_sgemm(0, 1, a.B, a.n, a.d, 1.0f, a.h, a.d, a.items + a.d, a.d, 0.0f, scores, a.n));
  const int32_t *t = target->data, *sq = cfg.mask_session_items ? a.seq : NULL;
  float *r = rank->data;
  const int B = a.B, n = a.n, L = a.L, ties = cfg.ties;
  SP_PARALLEL_FOR((int64_t)B * n >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    r[b] = t[b] == 0 ? 0.0f
                     : full_row(scores + (int64_t)b * n, n, t[b], sq ? sq + (int64_t)b * L : NULL,
                                L, ties);
  });
  return SP_OK;
}

/* ---- sampled ranking ---- */

static float dot(const float *x, const float *y, int d) {
  float acc = 0.0f; /* k-ordered: the same sum whatever the batch */
  for (int k = 0; k < d; k++) acc += x[k] * y[k];
  return acc;
}

/* One row: c (C) the candidates, c[0] the target. */
static float sampled_row(const float *h, const float *items, int d, const int32_t *c, int C,
                         const int32_t *seq, int L, int ties) {
  const int32_t t = c[0];
  const float st = dot(h, items + (int64_t)t * d, d);
  int64_t ge = 1, gt = 0, ranked = 1; /* the target itself */
  int bad = st != st;
  for (int k = 1; k < C; k++) {
    if (seq && sp_eval_contains(seq, L, c[k])) continue; /* a session item: not ranked */
    float v = dot(h, items + (int64_t)c[k] * d, d);
    ranked++;
    ge += v >= st;
    gt += v > st;
    bad |= v != v;
  }
  return rank_of(ge, gt, ranked, bad, ties);
}

int sp_rank_sampled(sp_ctx *ctx, sp_tensor *rank, sp_tensor *h, sp_tensor *items,
                    sp_tensor *candidates, sp_tensor *seq, const sp_rank_config *cfg_in) {
  const char *op = "sp_rank_sampled";
  sp_rank_config cfg;
  sp_eval_args a;
  SP_TRY(rank_begin(ctx, op, cfg_in, &cfg, &a, rank, h, items, seq));
  char s1[64];
  SP_CHECK_I32(ctx, op, candidates);
  if (candidates->ndim != 2 || candidates->shape[0] != a.B || candidates->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: candidates %s must be (B, C) with B = %d and C >= 1", op,
                   sp_shape_str(candidates, s1), a.B);
  const int C = candidates->shape[1];
  const int32_t *c = candidates->data;
  for (int b = 0; b < a.B; b++) {
    const int32_t *row = c + (int64_t)b * C;
    if (row[0] == 0) continue; /* padding */
    for (int k = 0; k < C; k++) {
      if (row[k] < 1 || row[k] > a.n)
        return SP_FAIL(SP_EINVAL, "%s: candidates[%d][%d] = %d is outside 1..%d", op, b, k, row[k],
                       a.n);
      if (k > 0 && row[k] == row[0])
        return SP_FAIL(SP_EINVAL,
                       "%s: candidates[%d][%d] = %d repeats the target (column 0); negatives "
                       "must differ from it",
                       op, b, k, row[k]);
    }
  }
  const int32_t *sq = cfg.mask_session_items ? a.seq : NULL;
  float *r = rank->data;
  const int B = a.B, d = a.d, L = a.L, ties = cfg.ties;
  const float *hp = a.h, *ip = a.items;
  SP_PARALLEL_FOR((int64_t)B * C * d >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    const int32_t *row = c + (int64_t)b * C;
    r[b] = row[0] == 0 ? 0.0f
                       : sampled_row(hp + (int64_t)b * d, ip, d, row, C,
                                     sq ? sq + (int64_t)b * L : NULL, L, ties);
  });
  return SP_OK;
}
