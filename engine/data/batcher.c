/* batcher.c — training and evaluation batches from a prepared dataset, without allocating per
 * batch: the example list and the hard-negative lists are made once, batches are written into
 * the caller's tensors. Order and negatives come from Philox streams keyed by (seed, epoch)
 * and the example's index, so they do not depend on the batch size or the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "internal.h"

struct sp_batcher {
  const sp_dataset *d;
  sp_batch_config cfg;
  int64_t n_examples;
  int32_t *ex_session; /* (n_examples) */
  int32_t *ex_target;  /* (n_examples) position of the target in its session */
  int64_t *order;      /* (n_examples) this epoch's permutation */
  int64_t *spare;      /* (n_examples) scratch for bucketing */
  int64_t *batch_perm; /* (n_batches) */
  int64_t *count;      /* (hist_len + 2) length histogram */
  int32_t hist_len;    /* the longest input: min(max_len, longest session - 1) */
  int64_t cursor, epoch;
  int64_t batch_start; /* order index of the last batch's first row (sp_batcher_positions) */
  int last_rows;       /* its real rows */
  int32_t **hard;      /* (n_sessions) lists [n, i1, ...] or NULL */
  int64_t n_sessions;  /* kept here: the dataset may be freed before the batcher */
};

void sp_batch_config_default(sp_batch_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->split = SP_SPLIT_TRAIN;
  c->batch_size = 256;
  c->max_len = 50;
  c->prefix_augment = 1;
  c->shuffle = 1;
  c->pad_left = 1;
  c->n_uniform_neg = 1;
  c->n_hard_neg = 1;
  c->bucket = 1;
  c->seed = 1;
}

void sp_batcher_free(sp_batcher *b) {
  if (!b) return;
  for (int64_t i = 0; b->hard && i < b->n_sessions; i++) free(b->hard[i]);
  free(b->hard), free(b->ex_session), free(b->ex_target), free(b->order), free(b->spare), free(b->batch_perm), free(b->count);
  free(b);
}

int sp_batcher_new(sp_batcher **out, const sp_dataset *d, const sp_batch_config *cfg_in) {
  if (!out || !d) return SP_FAIL(SP_EINVAL, "sp_batcher_new: NULL argument");
  *out = NULL;
  sp_batch_config cfg;
  if (cfg_in)
    cfg = *cfg_in;
  else
    sp_batch_config_default(&cfg);
  if (cfg.split < 0 || cfg.split > 2 || cfg.batch_size < 1 || cfg.max_len < 1 ||
      cfg.n_uniform_neg < 0 || cfg.n_hard_neg < 0)
    return SP_FAIL(
        SP_EINVAL,
        "sp_batcher_new: need split 0..2, batch_size >= 1, max_len >= 1, negatives >= 0");
  if (d->n_items < 2 && cfg.n_uniform_neg + cfg.n_hard_neg > 0)
    return SP_FAIL(SP_EINVAL, "sp_batcher_new: negatives need at least 2 items");
  /* the caller's batch tensors are (batch_size, max_len) and (batch_size, negatives): refuse
   * sizes no tensor can have before anyone allocates them (64-bit products, no overflow) */
  char desc[96];
  snprintf(desc, sizeof desc, "batch_size %d x max_len %d", cfg.batch_size, cfg.max_len);
  SP_TRY(sp_check_numel("sp_batcher_new", desc, (int64_t)cfg.batch_size * cfg.max_len, 4));
  snprintf(desc, sizeof desc, "batch_size %d x negatives %lld", cfg.batch_size,
           (long long)cfg.n_uniform_neg + cfg.n_hard_neg);
  SP_TRY(sp_check_numel("sp_batcher_new", desc,
                        (int64_t)cfg.batch_size * ((int64_t)cfg.n_uniform_neg + cfg.n_hard_neg),
                        4));
  sp_batcher *b = calloc(1, sizeof *b);
  if (!b) return SP_FAIL(SP_ENOMEM, "sp_batcher_new: out of memory");
  b->d = d;
  b->n_sessions = d->n_sessions;
  b->cfg = cfg;
  int64_t n = 0, longest = 0;
  for (int64_t s = 0; s < d->n_sessions; s++) {
    if (d->split[s] != cfg.split) continue;
    int64_t len = d->offset[s + 1] - d->offset[s];
    if (len >= 2) n += cfg.prefix_augment ? len - 1 : 1;
    if (len - 1 > longest) longest = len - 1;
  }
  b->n_examples = n;
  /* inputs are never longer than the longest session's: the length histogram needs no more */
  b->hist_len = (int32_t)(longest < cfg.max_len ? longest : cfg.max_len);
  b->ex_session = malloc((size_t)(n ? n : 1) * sizeof *b->ex_session);
  b->ex_target = malloc((size_t)(n ? n : 1) * sizeof *b->ex_target);
  b->order = malloc((size_t)(n ? n : 1) * sizeof *b->order);
  b->spare = malloc((size_t)(n ? n : 1) * sizeof *b->spare);
  b->count = malloc((size_t)(b->hist_len + 2) * sizeof *b->count);
  b->batch_perm = malloc((size_t)((n + cfg.batch_size - 1) / cfg.batch_size + 1) * sizeof *b->batch_perm);
  b->hard = calloc((size_t)d->n_sessions + 1, sizeof *b->hard);
  if (!b->ex_session || !b->ex_target || !b->order || !b->spare || !b->batch_perm || !b->count || !b->hard) {
    sp_batcher_free(b);
    return SP_FAIL(SP_ENOMEM, "sp_batcher_new: out of memory for %lld examples", (long long)n);
  }
  int64_t k = 0;
  for (int64_t s = 0; s < d->n_sessions; s++) {
    if (d->split[s] != cfg.split) continue;
    int32_t len = (int32_t)(d->offset[s + 1] - d->offset[s]);
    if (len < 2) continue;
    for (int32_t t = cfg.prefix_augment ? 1 : len - 1; t < len; t++) {
      b->ex_session[k] = (int32_t)s;
      b->ex_target[k] = t;
      k++;
    }
  }
  *out = b;
  return sp_batcher_start_epoch(b, 0);
}

int64_t sp_batcher_n_examples(const sp_batcher *b) {
  return b ? b->n_examples : 0;
}
int64_t sp_batcher_n_batches(const sp_batcher *b) {
  return b ? (b->n_examples + b->cfg.batch_size - 1) / b->cfg.batch_size : 0;
}

/* Stream keys: the epoch's order and each example's negatives use distinct counters. */
static uint64_t order_counter(int64_t epoch) {
  return ((uint64_t)epoch << 1) | 0;
}
static uint64_t neg_counter(int64_t epoch) {
  return ((uint64_t)epoch << 1) | 1;
}

static uint32_t draw_below(uint64_t seed, uint64_t counter, uint64_t index, uint32_t n) {
  uint32_t r[4];
  sp_philox_u32x4(seed, counter, index, r);
  return (uint32_t)(((uint64_t)r[0] * n) >> 32); /* bias < n / 2^32: negligible here */
}

/* The input length of example e: what its row holds before padding. */
static int32_t example_len(const sp_batcher *b, int64_t e) {
  int32_t t = b->ex_target[e];
  return t < b->cfg.max_len ? t : b->cfg.max_len;
}

/* Sorts the (shuffled) order by length within windows of 64 batches (a stable counting sort,
 * so equal lengths keep their shuffled order), then shuffles whole batches, so a batch holds
 * sessions of similar length and the model's trimming drops nearly all padding. */
static void bucket(sp_batcher *b, int64_t epoch) {
  const int64_t B = b->cfg.batch_size, window = B * 64, n = b->n_examples;
  int64_t *count = b->count;          /* (hist_len + 2) */
  const int32_t maxlen = b->hist_len; /* no example is longer */
  for (int64_t w0 = 0; w0 < n; w0 += window) {
    int64_t w1 = w0 + window < n ? w0 + window : n;
    memset(count, 0, sizeof count[0] * (size_t)(maxlen + 2));
    for (int64_t i = w0; i < w1; i++) count[example_len(b, b->order[i]) + 1]++;
    for (int32_t l = 1; l <= maxlen + 1; l++) count[l] += count[l - 1];
    for (int64_t i = w0; i < w1; i++) b->spare[w0 + count[example_len(b, b->order[i])]++] = b->order[i];
  }
  /* shuffle whole batches (the last, possibly short, one takes part too) */
  const int64_t n_batches = (n + B - 1) / B;
  for (int64_t k = 0; k < n_batches; k++) b->batch_perm[k] = k;
  if (b->cfg.shuffle)
    for (int64_t k = n_batches - 1; k > 0; k--) {
      int64_t j = draw_below(b->cfg.seed ^ 0x5bd1e995ull, order_counter(epoch), (uint64_t)k, (uint32_t)(k + 1));
      int64_t t = b->batch_perm[k];
      b->batch_perm[k] = b->batch_perm[j];
      b->batch_perm[j] = t;
    }
  int64_t at = 0;
  for (int64_t k = 0; k < n_batches; k++) {
    int64_t from = b->batch_perm[k] * B, len = from + B < n ? B : n - from;
    memcpy(b->order + at, b->spare + from, sizeof *b->order * (size_t)len);
    at += len;
  }
}

int sp_batcher_start_epoch(sp_batcher *b, int64_t epoch) {
  if (!b) return SP_FAIL(SP_EINVAL, "sp_batcher_start_epoch: NULL batcher");
  if (epoch < 0) return SP_FAIL(SP_EINVAL, "sp_batcher_start_epoch: epoch must be >= 0");
  b->epoch = epoch;
  b->cursor = 0;
  for (int64_t i = 0; i < b->n_examples; i++) b->order[i] = i;
  if (b->cfg.shuffle) /* Fisher-Yates from a counter-based stream */
    for (int64_t i = b->n_examples - 1; i > 0; i--) {
      int64_t j = draw_below(b->cfg.seed, order_counter(epoch), (uint64_t)i, (uint32_t)(i + 1));
      int64_t t = b->order[i];
      b->order[i] = b->order[j];
      b->order[j] = t;
    }
  if (b->cfg.bucket) bucket(b, epoch);
  return SP_OK;
}

static int in_session(const int32_t *items, int32_t len, int32_t item) {
  for (int32_t k = 0; k < len; k++)
    if (items[k] == item) return 1;
  return 0;
}

/* A uniform negative outside the session (the whole session, target included). */
static int32_t uniform_negative(const sp_batcher *b, const int32_t *items, int32_t len,
                                uint64_t key) {
  const int32_t n = b->d->n_items;
  for (uint64_t attempt = 0; attempt < 64; attempt++) {
    int32_t cand = 1 + (int32_t)draw_below(b->cfg.seed ^ 0x9e3779b97f4a7c15ull,
                                           neg_counter(b->epoch), key * 64 + attempt, (uint32_t)n);
    if (!in_session(items, len, cand)) return cand;
  }
  for (int32_t cand = 1; cand <= n; cand++) /* a session holding nearly every item */
    if (!in_session(items, len, cand)) return cand;
  return 1 + (int32_t)(key % (uint64_t)n);
}

/* The K = n_hard_neg + n_uniform_neg negatives of one example or position of session s into
 * nr (K), keyed from key: hard ones from the session's list (a uniform one keyed key + 64 + k
 * when it has none), then uniform ones keyed key + k. */
static void draw_negatives(const sp_batcher *b, int32_t *nr, int32_t s, const int32_t *items, int32_t len,
                           uint64_t key) {
  const int32_t *hard = b->hard[s];
  for (int k = 0; k < b->cfg.n_hard_neg; k++)
    nr[k] = hard ? hard[1 + draw_below(b->cfg.seed, neg_counter(b->epoch), key + (uint64_t)k, (uint32_t)hard[0])]
                 : uniform_negative(b, items, len, key + 64 + (uint64_t)k);
  for (int k = 0; k < b->cfg.n_uniform_neg; k++)
    nr[b->cfg.n_hard_neg + k] = uniform_negative(b, items, len, key + (uint64_t)k);
}

static int check_out(const char *what, sp_tensor *t, int ndim, int d0, int d1) {
  if (!t) return SP_OK;
  if (t->dtype == SP_I32 && t->ndim == ndim && t->shape[0] == d0 &&
      (ndim == 1 || t->shape[1] == d1))
    return SP_OK;
  if (ndim == 1)
    return SP_FAIL(SP_ESHAPE, "sp_batcher_next: %s must be int32 of shape (%d)", what, d0);
  return SP_FAIL(SP_ESHAPE, "sp_batcher_next: %s must be int32 of shape (%d, %d)", what, d0, d1);
}

int sp_batcher_next(sp_batcher *b, sp_tensor *seq, sp_tensor *last, sp_tensor *target,
                    sp_tensor *neg, sp_tensor *session, int *rows) {
  if (!b || !seq || !rows) return SP_FAIL(SP_EINVAL, "sp_batcher_next: NULL batcher, seq or rows");
  const int B = b->cfg.batch_size, L = b->cfg.max_len, K = b->cfg.n_uniform_neg + b->cfg.n_hard_neg;
  SP_TRY(check_out("seq", seq, 2, B, L));
  SP_TRY(check_out("last", last, 1, B, 0));
  SP_TRY(check_out("target", target, 1, B, 0));
  if (neg && K == 0)
    return SP_FAIL(SP_EINVAL, "sp_batcher_next: neg given but the config draws no negatives");
  SP_TRY(check_out("neg", neg, 2, B, K));
  SP_TRY(check_out("session", session, 1, B, 0));
  int32_t *sq = seq->data, *ls = last ? last->data : NULL, *tg = target ? target->data : NULL;
  int32_t *ng = neg ? neg->data : NULL, *ss = session ? session->data : NULL;
  memset(sq, 0, sizeof *sq * (size_t)B * (size_t)L);
  if (ls) memset(ls, 0, sizeof *ls * (size_t)B);
  if (tg) memset(tg, 0, sizeof *tg * (size_t)B);
  if (ng) memset(ng, 0, sizeof *ng * (size_t)B * (size_t)K);
  if (ss) memset(ss, 0, sizeof *ss * (size_t)B);
  int r = 0;
  b->batch_start = b->cursor;
  for (; r < B && b->cursor < b->n_examples; r++, b->cursor++) {
    int64_t e = b->order[b->cursor];
    int32_t s = b->ex_session[e], t = b->ex_target[e];
    const int32_t *items = b->d->items + b->d->offset[s];
    int32_t len = (int32_t)(b->d->offset[s + 1] - b->d->offset[s]);
    int32_t n_in = t < L ? t : L, from = t - n_in; /* the last n_in items before the target */
    int32_t *row = sq + (int64_t)r * L;
    int32_t at = b->cfg.pad_left ? L - n_in : 0;
    memcpy(row + at, items + from, sizeof *row * (size_t)n_in);
    if (ls) ls[r] = at + n_in - 1;
    if (tg) tg[r] = items[t];
    if (ss) ss[r] = s;
    if (ng) draw_negatives(b, ng + (int64_t)r * K, s, items, len, (uint64_t)e * 131);
  }
  *rows = r;
  b->last_rows = r;
  return SP_OK;
}

int sp_batcher_positions(sp_batcher *b, sp_tensor *next, sp_tensor *neg) {
  if (!b || !next) return SP_FAIL(SP_EINVAL, "sp_batcher_positions: NULL batcher or next");
  const int B = b->cfg.batch_size, L = b->cfg.max_len, K = b->cfg.n_uniform_neg + b->cfg.n_hard_neg;
  SP_TRY(check_out("next", next, 2, B, L));
  if (neg && K == 0)
    return SP_FAIL(SP_EINVAL, "sp_batcher_positions: neg given but the config draws no negatives");
  SP_TRY(check_out("neg", neg, 2, B, L * K));
  int32_t *nx = next->data, *ng = neg ? neg->data : NULL;
  memset(nx, 0, sizeof *nx * (size_t)B * (size_t)L);
  if (ng) memset(ng, 0, sizeof *ng * (size_t)B * (size_t)L * (size_t)K);
  for (int r = 0; r < b->last_rows; r++) {
    const int64_t e = b->order[b->batch_start + r];
    const int32_t s = b->ex_session[e], t = b->ex_target[e];
    const int32_t *items = b->d->items + b->d->offset[s];
    const int32_t len = (int32_t)(b->d->offset[s + 1] - b->d->offset[s]);
    const int32_t n_in = t < L ? t : L, from = t - n_in, at = b->cfg.pad_left ? L - n_in : 0;
    for (int32_t j = 0; j < n_in; j++) { /* column at + j holds items[from + j]; next is the one after */
      const int64_t cell = (int64_t)r * L + at + j;
      nx[cell] = items[from + j + 1];
      if (!ng) continue;
      /* keys apart from sp_batcher_next's (e * 131 + k < 2^40 there): bit 40 set, then
       * (example, position, k) */
      const uint64_t key = (1ull << 40) + ((uint64_t)e * (uint64_t)L + (uint64_t)(from + j)) * 131;
      draw_negatives(b, ng + cell * K, s, items, len, key);
    }
  }
  return SP_OK;
}

int sp_batcher_set_hard_negatives(sp_batcher *b, int64_t session, const int32_t *items, int n) {
  if (!b || (n > 0 && !items))
    return SP_FAIL(SP_EINVAL, "sp_batcher_set_hard_negatives: NULL argument");
  if (session < 0 || session >= b->d->n_sessions)
    return SP_FAIL(SP_EINVAL, "sp_batcher_set_hard_negatives: session %lld outside [0, %lld)",
                   (long long)session, (long long)b->d->n_sessions);
  for (int k = 0; k < n; k++)
    if (items[k] < 1 || items[k] > b->d->n_items)
      return SP_FAIL(SP_EINVAL, "sp_batcher_set_hard_negatives: item %d outside [1, %d]", items[k],
                     b->d->n_items);
  int32_t *list = NULL;
  if (n > 0) {
    list = malloc((size_t)(n + 1) * sizeof *list);
    if (!list) return SP_FAIL(SP_ENOMEM, "sp_batcher_set_hard_negatives: out of memory");
    list[0] = n;
    memcpy(list + 1, items, sizeof *list * (size_t)n);
  }
  free(b->hard[session]);
  b->hard[session] = list;
  return SP_OK;
}
