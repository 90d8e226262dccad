/* prepare.c — raw events to a prepared dataset, the paper's way (§5.1.1): optional k-core,
 * sessions (one user's events on one calendar day, or split at a gap, or given), a length and
 * an item-support filter repeated until nothing changes, a split by the time of each session's
 * last event, and the usual removal of items unseen in training from valid/test sessions.
 * Every step writes what it removed to the dataset's report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "internal.h"

void sp_prep_config_default(sp_prep_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->session_rule = SP_SESSION_DAY;
  c->gap_seconds = 24 * 3600;
  c->min_session_len = 3;
  c->min_item_support = 6;
  c->valid_quantile = 0.8;
  c->test_quantile = 0.9;
  c->filter_unseen_eval = 1;
  c->min_eval_len = 2;
}

/* ---- a growable string pool with an append-printf ---- */
typedef struct {
  char *buf;
  int64_t len, cap;
} pool;

static int pool_add(pool *p, const char *s, int64_t *off) {
  int64_t n = (int64_t)strlen(s) + 1;
  if (p->len + n > p->cap) {
    int64_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n) cap *= 2;
    char *b = realloc(p->buf, (size_t)cap);
    if (!b) return SP_FAIL(SP_ENOMEM, "out of memory for dataset text");
    p->buf = b, p->cap = cap;
  }
  memcpy(p->buf + p->len, s, (size_t)n);
  *off = p->len;
  p->len += n;
  return SP_OK;
}

typedef struct {
  pool *pool;
  int64_t *lines;
  int n, cap;
} report;

static int report_add(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int report_add(report *r, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 16;
    int64_t *l = realloc(r->lines, (size_t)cap * sizeof *l);
    if (!l) return SP_FAIL(SP_ENOMEM, "out of memory for the preparation report");
    r->lines = l, r->cap = cap;
  }
  return pool_add(r->pool, line, &r->lines[r->n++]);
}

/* ---- steps ---- */

/* Iterated k-core on the raw events: drop users with < user_core and items with < item_core
 * events until every remaining one has enough. */
static int64_t kcore(const sp_raw *raw, uint8_t *alive, int user_core, int item_core) {
  int64_t removed = 0;
  int32_t *uc = calloc((size_t)raw->users.count + 1, sizeof *uc);
  int32_t *ic = calloc((size_t)raw->items.count + 1, sizeof *ic);
  if (!uc || !ic) {
    free(uc), free(ic);
    return -1;
  }
  for (int changed = 1; changed;) {
    changed = 0;
    memset(uc, 0, sizeof *uc * (size_t)raw->users.count);
    memset(ic, 0, sizeof *ic * (size_t)raw->items.count);
    for (int64_t e = 0; e < raw->n_events; e++)
      if (alive[e]) uc[raw->ev_user[e]]++, ic[raw->ev_item[e]]++;
    for (int64_t e = 0; e < raw->n_events; e++)
      if (alive[e] && (uc[raw->ev_user[e]] < user_core || ic[raw->ev_item[e]] < item_core)) {
        alive[e] = 0;
        removed++;
        changed = 1;
      }
  }
  free(uc), free(ic);
  return removed;
}

typedef struct {
  int32_t user;
  int64_t time;
  int64_t tie; /* order among equal times: the input index, a hash of it, or its negation */
  int64_t index;
} ev_order;

static int cmp_event(const void *a, const void *b) {
  const ev_order *x = a, *y = b;
  if (x->user != y->user) return x->user < y->user ? -1 : 1;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return (x->tie > y->tie) - (x->tie < y->tie);
}

static int64_t tie_key(int tie_order, int64_t index) {
  if (tie_order == 2) return -index;
  if (tie_order == 1) { /* SplitMix64 of the index: a fixed, seedless shuffle */
    uint64_t z = (uint64_t)index + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (int64_t)((z ^ (z >> 31)) >> 1);
  }
  return index;
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Working sessions: [start, end) ranges of `ev` (event indices in session order), with a
 * per-event alive flag shared by the filters. */
typedef struct {
  int64_t n;
  int64_t *start, *end;
  int32_t *user;
  int64_t *ordinal; /* k-th session of its user (GAP keys), or its day (DAY keys) */
  uint8_t *alive;
} sessions;

static int sessionize(const sp_raw *raw, const sp_prep_config *cfg, const uint8_t *ev_alive,
                      int64_t **ev_out, int64_t *n_ev_out, sessions *s) {
  int64_t n = 0;
  for (int64_t e = 0; e < raw->n_events; e++) n += ev_alive[e];
  ev_order *ord = malloc((size_t)(n ? n : 1) * sizeof *ord);
  int64_t *ev = malloc((size_t)(n ? n : 1) * sizeof *ev);
  s->start = malloc((size_t)(n ? n : 1) * sizeof *s->start);
  s->end = malloc((size_t)(n ? n : 1) * sizeof *s->end);
  s->user = malloc((size_t)(n ? n : 1) * sizeof *s->user);
  s->ordinal = malloc((size_t)(n ? n : 1) * sizeof *s->ordinal);
  s->alive = malloc((size_t)(n ? n : 1));
  if (!ord || !ev || !s->start || !s->end || !s->user || !s->ordinal || !s->alive) {
    free(ord), free(ev);
    return SP_FAIL(SP_ENOMEM, "out of memory sessionizing %lld events", (long long)n);
  }
  int64_t k = 0;
  for (int64_t e = 0; e < raw->n_events; e++)
    if (ev_alive[e]) ord[k++] = (ev_order){raw->ev_user[e], raw->ev_time[e], tie_key(cfg->tie_order, e), e};
  qsort(ord, (size_t)n, sizeof *ord, cmp_event);
  s->n = 0;
  int64_t user_sessions = 0;
  for (int64_t i = 0; i < n; i++) {
    ev[i] = ord[i].index;
    int fresh = i == 0 || ord[i].user != ord[i - 1].user;
    if (fresh) user_sessions = 0;
    int64_t day = floor_div(ord[i].time + cfg->day_offset_seconds, 86400);
    int split = fresh;
    if (!split && cfg->session_rule == SP_SESSION_DAY)
      split = day != floor_div(ord[i - 1].time + cfg->day_offset_seconds, 86400);
    if (!split && cfg->session_rule == SP_SESSION_GAP)
      split = ord[i].time - ord[i - 1].time > cfg->gap_seconds;
    if (split) {
      if (s->n) s->end[s->n - 1] = i;
      s->start[s->n] = i;
      s->user[s->n] = ord[i].user;
      s->ordinal[s->n] = cfg->session_rule == SP_SESSION_DAY ? day : user_sessions;
      s->alive[s->n] = 1;
      s->n++;
      user_sessions++;
    }
  }
  if (s->n) s->end[s->n - 1] = n;
  free(ord);
  *ev_out = ev;
  *n_ev_out = n;
  return SP_OK;
}

static int32_t alive_len(const sessions *s, int64_t i, const int64_t *ev, const uint8_t *alive) {
  int32_t len = 0;
  for (int64_t k = s->start[i]; k < s->end[i]; k++) len += alive[ev[k]];
  return len;
}

typedef struct {
  int64_t session;
  int64_t end_time;
} by_end;

static int cmp_end(const void *a, const void *b) {
  const by_end *x = a, *y = b;
  if (x->end_time != y->end_time) return x->end_time < y->end_time ? -1 : 1;
  return (x->session > y->session) - (x->session < y->session);
}

static void session_key(const sp_raw *raw, const sp_prep_config *cfg, const sessions *s, int64_t i,
                        char *buf, size_t n) {
  const char *user = sp_strtab_get(&raw->users, s->user[i]);
  if (cfg->session_rule == SP_SESSION_GIVEN) {
    snprintf(buf, n, "%s", user);
  } else if (cfg->session_rule == SP_SESSION_DAY) {
    time_t t = (time_t)(s->ordinal[i] * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, n, "%s@%04d-%02d-%02d", user, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  } else {
    snprintf(buf, n, "%s#%lld", user, (long long)s->ordinal[i] + 1);
  }
}

static int check_config(const sp_prep_config *c) {
  if (c->session_rule < SP_SESSION_DAY || c->session_rule > SP_SESSION_GIVEN)
    return SP_FAIL(SP_EINVAL, "prepare: unknown session rule %d", c->session_rule);
  if (c->session_rule == SP_SESSION_GAP && c->gap_seconds <= 0)
    return SP_FAIL(SP_EINVAL, "prepare: gap_seconds must be > 0 for the gap rule");
  if (!(c->valid_quantile > 0 && c->valid_quantile <= c->test_quantile && c->test_quantile <= 1))
    return SP_FAIL(SP_EINVAL, "prepare: need 0 < valid_quantile <= test_quantile <= 1, got %g, %g",
                   c->valid_quantile, c->test_quantile);
  if (c->tie_order < 0 || c->tie_order > 2)
    return SP_FAIL(SP_EINVAL, "prepare: tie_order must be 0 (input), 1 (shuffle) or 2 (reverse), got %d", c->tie_order);
  if (c->min_session_len < 1 || c->min_item_support < 1 || c->min_eval_len < 1 ||
      c->user_core < 0 || c->item_core < 0 || c->max_session_len < 0)
    return SP_FAIL(SP_EINVAL,
                   "prepare: lengths, supports and cores must be positive (0 for no core)");
  return SP_OK;
}

int sp_dataset_from_raw(sp_dataset **out, sp_raw *raw, const sp_prep_config *cfg_in) {
  sp_prep_config cfg;
  if (cfg_in)
    cfg = *cfg_in;
  else
    sp_prep_config_default(&cfg);
  *out = NULL;
  int rc = check_config(&cfg);
  if (rc) {
    sp_raw_free(raw);
    return rc;
  }
  if (raw->events_are_sessions) cfg.session_rule = SP_SESSION_GIVEN;
  pool text = {0};
  report rep = {.pool = &text};
  sessions s = {0};
  int64_t *ev = NULL, n_ev = 0;
  uint8_t *alive = NULL;
  int32_t *support = NULL, *new_id = NULL;
  by_end *order = NULL;
  sp_dataset *d = calloc(1, sizeof *d);
  if (!d) {
    sp_raw_free(raw);
    return SP_FAIL(SP_ENOMEM, "prepare: out of memory");
  }
#define CHECK(x)                        \
  do {                                  \
    if ((rc = (x)) != SP_OK) goto fail; \
  } while (0)
#define NEED(p)                                          \
  do {                                                   \
    if (!(p)) {                                          \
      rc = SP_FAIL(SP_ENOMEM, "prepare: out of memory"); \
      goto fail;                                         \
    }                                                    \
  } while (0)

  int64_t bad = 0;
  for (int c = 0; c < SP_BAD_CAUSES; c++) bad += raw->bad[c];
  CHECK(report_add(
      &rep, "read %lld lines: %lld events, %d users/sessions, %d items; %lld bad lines skipped",
      (long long)raw->lines_read, (long long)raw->n_events, raw->users.count, raw->items.count,
      (long long)bad));
  for (int c = 0; c < SP_BAD_CAUSES; c++)
    if (raw->bad[c])
      CHECK(report_add(&rep, "  skipped for %s: %lld lines", sp_bad_cause_names[c],
                       (long long)raw->bad[c]));
  if (raw->n_events == 0) {
    rc = SP_FAIL(SP_EFORMAT, "prepare: the input holds no events");
    goto fail;
  }

  /* 1. k-core */
  alive = malloc((size_t)raw->n_events);
  NEED(alive);
  memset(alive, 1, (size_t)raw->n_events);
  if (cfg.user_core > 0 || cfg.item_core > 0) {
    int64_t removed = kcore(raw, alive, cfg.user_core, cfg.item_core);
    NEED(removed >= 0);
    CHECK(report_add(&rep, "k-core (users >= %d, items >= %d): removed %lld interactions",
                     cfg.user_core, cfg.item_core, (long long)removed));
  }

  /* 2. sessions */
  CHECK(sessionize(raw, &cfg, alive, &ev, &n_ev, &s));
  static const char *rule_names[] = {"one user's events on one calendar day", "split at gaps",
                                     "given by the input"};
  CHECK(report_add(&rep, "sessions (%s): %lld sessions, %lld interactions",
                   rule_names[cfg.session_rule], (long long)s.n, (long long)n_ev));
  /* from here `alive` is indexed by raw event index and all events of ev are alive */

  /* 3. length and support, repeated until stable */
  support = calloc((size_t)raw->items.count + 1, sizeof *support);
  NEED(support);
  int64_t drop_short = 0, drop_short_ev = 0, drop_support_ev = 0;
  int rounds = 0;
  for (int changed = 1; changed; rounds++) {
    changed = 0;
    for (int64_t i = 0; i < s.n; i++) {
      if (!s.alive[i]) continue;
      int32_t len = alive_len(&s, i, ev, alive);
      if (len < cfg.min_session_len) {
        s.alive[i] = 0;
        drop_short++;
        drop_short_ev += len;
        for (int64_t k = s.start[i]; k < s.end[i]; k++) alive[ev[k]] = 0;
        changed = 1;
      }
    }
    memset(support, 0, sizeof *support * (size_t)raw->items.count);
    for (int64_t k = 0; k < n_ev; k++)
      if (alive[ev[k]]) support[raw->ev_item[ev[k]]]++;
    for (int64_t k = 0; k < n_ev; k++)
      if (alive[ev[k]] && support[raw->ev_item[ev[k]]] < cfg.min_item_support) {
        alive[ev[k]] = 0;
        drop_support_ev++;
        changed = 1;
      }
  }
  CHECK(report_add(&rep, "session length >= %d: removed %lld sessions (%lld interactions)",
                   cfg.min_session_len, (long long)drop_short, (long long)drop_short_ev));
  CHECK(report_add(&rep,
                   "item support >= %d: removed %lld interactions (both filters repeated %d times)",
                   cfg.min_item_support, (long long)drop_support_ev, rounds));
  {
    int64_t ns = 0, ni = 0, nit = 0;
    memset(support, 0, sizeof *support * (size_t)raw->items.count);
    for (int64_t i = 0; i < s.n; i++) ns += s.alive[i];
    for (int64_t k = 0; k < n_ev; k++)
      if (alive[ev[k]]) ni++, nit += support[raw->ev_item[ev[k]]]++ == 0;
    CHECK(report_add(
        &rep,
        "after the filters: %lld sessions, %lld items, %lld interactions, average length %.2f",
        (long long)ns, (long long)nit, (long long)ni, ns ? (double)ni / (double)ns : 0.0));
  }

  /* 4. maximum length: keep the last events */
  if (cfg.max_session_len > 0) {
    int64_t cut = 0;
    for (int64_t i = 0; i < s.n; i++) {
      if (!s.alive[i]) continue;
      int32_t len = alive_len(&s, i, ev, alive);
      for (int64_t k = s.start[i]; k < s.end[i] && len > cfg.max_session_len; k++)
        if (alive[ev[k]]) alive[ev[k]] = 0, len--, cut++;
    }
    CHECK(report_add(&rep, "session length <= %d: removed %lld leading interactions",
                     cfg.max_session_len, (long long)cut));
  }

  /* 5. split by the time of the last event */
  int64_t n_alive = 0;
  for (int64_t i = 0; i < s.n; i++) n_alive += s.alive[i];
  if (n_alive == 0) {
    rc = SP_FAIL(SP_EFORMAT,
                 "prepare: no session survives the filters (min length %d, item support %d)",
                 cfg.min_session_len, cfg.min_item_support);
    goto fail;
  }
  order = malloc((size_t)n_alive * sizeof *order);
  NEED(order);
  int64_t m = 0;
  for (int64_t i = 0; i < s.n; i++) {
    if (!s.alive[i]) continue;
    int64_t last = INT64_MIN;
    for (int64_t k = s.start[i]; k < s.end[i]; k++)
      if (alive[ev[k]] && raw->ev_time[ev[k]] > last) last = raw->ev_time[ev[k]];
    order[m++] = (by_end){i, last};
  }
  qsort(order, (size_t)n_alive, sizeof *order, cmp_end);
  int64_t n_train = (int64_t)(cfg.valid_quantile * (double)n_alive);
  int64_t n_train_valid = (int64_t)(cfg.test_quantile * (double)n_alive);
  CHECK(report_add(&rep,
                   "split by last event at quantiles %.2f / %.2f: %lld / %lld / %lld sessions",
                   cfg.valid_quantile, cfg.test_quantile, (long long)n_train,
                   (long long)(n_train_valid - n_train), (long long)(n_alive - n_train_valid)));

  /* 6. unseen items out of valid/test, then short eval sessions */
  uint8_t *in_train = calloc((size_t)raw->items.count + 1, 1);
  NEED(in_train);
  for (int64_t r = 0; r < n_train; r++) {
    int64_t i = order[r].session;
    for (int64_t k = s.start[i]; k < s.end[i]; k++)
      if (alive[ev[k]]) in_train[raw->ev_item[ev[k]]] = 1;
  }
  int64_t unseen = 0, short_eval = 0;
  for (int64_t r = n_train; r < n_alive; r++) {
    int64_t i = order[r].session;
    if (cfg.filter_unseen_eval)
      for (int64_t k = s.start[i]; k < s.end[i]; k++)
        if (alive[ev[k]] && !in_train[raw->ev_item[ev[k]]]) alive[ev[k]] = 0, unseen++;
    if (alive_len(&s, i, ev, alive) < cfg.min_eval_len) {
      s.alive[i] = 0;
      short_eval++;
    }
  }
  free(in_train);
  if (cfg.filter_unseen_eval)
    CHECK(report_add(&rep, "valid/test: removed %lld interactions with items unseen in training",
                     (long long)unseen));
  CHECK(report_add(&rep, "valid/test: removed %lld sessions shorter than %d", (long long)short_eval,
                   cfg.min_eval_len));

  /* 7. number the items 1..n by first appearance in time order, and copy the sessions */
  new_id = calloc((size_t)raw->items.count + 1, sizeof *new_id);
  NEED(new_id);
  int64_t n_sessions = 0, n_inter = 0;
  for (int64_t r = 0; r < n_alive; r++) {
    int64_t i = order[r].session;
    if (!s.alive[i]) continue;
    n_sessions++;
    for (int64_t k = s.start[i]; k < s.end[i]; k++)
      if (alive[ev[k]]) {
        n_inter++;
        int32_t it = raw->ev_item[ev[k]];
        if (!new_id[it]) new_id[it] = ++d->n_items;
      }
  }
  d->n_sessions = n_sessions;
  d->offset = malloc((size_t)(n_sessions + 1) * sizeof *d->offset);
  d->items = malloc((size_t)(n_inter ? n_inter : 1) * sizeof *d->items);
  d->times = malloc((size_t)(n_inter ? n_inter : 1) * sizeof *d->times);
  d->split = malloc((size_t)(n_sessions ? n_sessions : 1));
  d->key = malloc((size_t)(n_sessions ? n_sessions : 1) * sizeof *d->key);
  NEED(d->offset && d->items && d->times && d->split && d->key);
  int has_labels = raw->user_labels != NULL;
  if (has_labels) {
    d->label_off = malloc((size_t)(n_sessions + 1) * sizeof *d->label_off);
    NEED(d->label_off);
  }
  int64_t at = 0, label_total = 0, si = 0;
  for (int64_t r = 0; r < n_alive; r++) {
    int64_t i = order[r].session;
    if (!s.alive[i]) continue;
    d->offset[si] = at;
    d->split[si] = r < n_train         ? SP_SPLIT_TRAIN
                   : r < n_train_valid ? SP_SPLIT_VALID
                                       : SP_SPLIT_TEST;
    char key[512];
    session_key(raw, &cfg, &s, i, key, sizeof key);
    CHECK(pool_add(&text, key, &d->key[si]));
    for (int64_t k = s.start[i]; k < s.end[i]; k++)
      if (alive[ev[k]]) {
        d->items[at] = new_id[raw->ev_item[ev[k]]];
        d->times[at] = raw->ev_time[ev[k]];
        at++;
      }
    if (has_labels) {
      d->label_off[si] = label_total;
      int32_t u = s.user[i];
      const int32_t *list = u < raw->user_labels_cap ? raw->user_labels[u] : NULL;
      if (list) {
        int32_t *grown = realloc(d->labels, (size_t)(label_total + list[0]) * sizeof *grown);
        NEED(grown);
        d->labels = grown;
        memcpy(d->labels + label_total, list + 1, (size_t)list[0] * sizeof *grown);
        label_total += list[0];
      }
    }
    si++;
  }
  d->offset[n_sessions] = at;
  if (has_labels) {
    d->label_off[n_sessions] = label_total;
    d->n_label_names = raw->label_names.count;
    d->label_name = malloc((size_t)(d->n_label_names + 1) * sizeof *d->label_name);
    NEED(d->label_name);
    for (int32_t l = 0; l < d->n_label_names; l++)
      CHECK(pool_add(&text, sp_strtab_get(&raw->label_names, l), &d->label_name[l]));
  }

  /* 8. item text */
  int32_t n_items = d->n_items;
  d->item_key = calloc((size_t)n_items + 1, sizeof *d->item_key);
  d->item_title = calloc((size_t)n_items + 1, sizeof *d->item_title);
  d->item_brand = calloc((size_t)n_items + 1, sizeof *d->item_brand);
  d->cat_off = calloc((size_t)n_items + 2, sizeof *d->cat_off);
  NEED(d->item_key && d->item_title && d->item_brand && d->cat_off);
  int64_t empty;
  CHECK(pool_add(&text, "", &empty));
  d->item_key[0] = d->item_title[0] = d->item_brand[0] = empty;
  int32_t *old_of = malloc(((size_t)n_items + 1) * sizeof *old_of);
  NEED(old_of);
  for (int32_t it = 0; it < raw->items.count; it++)
    if (new_id[it]) old_of[new_id[it]] = it;
  int64_t n_cats = 0;
  for (int32_t j = 1; j <= n_items; j++) {
    const int32_t *c = raw->categories[old_of[j]];
    n_cats += c ? c[0] : 0;
  }
  d->cats = malloc((size_t)(n_cats ? n_cats : 1) * sizeof *d->cats);
  if (!d->cats) free(old_of);
  NEED(d->cats);
  int64_t ci = 0, no_title = 0, no_text = 0;
  for (int32_t j = 1; j <= n_items; j++) {
    int32_t it = old_of[j];
    d->cat_off[j] = ci;
    if ((rc = pool_add(&text, sp_strtab_get(&raw->items, it), &d->item_key[j])) != SP_OK) break;
    int32_t t = raw->title[it], b = raw->brand[it];
    const int32_t *c = raw->categories[it];
    if ((rc = pool_add(&text, t >= 0 ? sp_strtab_get(&raw->text, t) : "", &d->item_title[j])) !=
        SP_OK)
      break;
    if ((rc = pool_add(&text, b >= 0 ? sp_strtab_get(&raw->text, b) : "", &d->item_brand[j])) !=
        SP_OK)
      break;
    for (int32_t k = 1; c && k <= c[0] && rc == SP_OK; k++)
      rc = pool_add(&text, sp_strtab_get(&raw->text, c[k]), &d->cats[ci++]);
    if (rc != SP_OK) break;
    no_title += t < 0;
    no_text += t < 0 && b < 0 && !c;
  }
  d->cat_off[n_items + 1] = ci;
  d->cat_off[0] = 0;
  free(old_of);
  if (rc != SP_OK) goto fail;
  CHECK(report_add(&rep,
                   "items: %d kept and numbered 1..%d; %lld without a title, %lld without any text",
                   n_items, n_items, (long long)no_title, (long long)no_text));

  d->stats.items_without_title = no_title;
  d->stats.items_without_text = no_text;
  for (int c = 0; c < SP_BAD_CAUSES && c < 4; c++) d->stats.bad_lines[c] = raw->bad[c];
  d->pool = text.buf;
  d->pool_len = text.len;
  d->report = rep.lines;
  d->n_report = rep.n;
  sp_dataset_compute_stats(d);
  free(alive), free(ev), free(support), free(new_id), free(order);
  free(s.start), free(s.end), free(s.user), free(s.ordinal), free(s.alive);
  sp_raw_free(raw);
  *out = d;
  return SP_OK;

fail:
  free(alive), free(ev), free(support), free(new_id), free(order);
  free(s.start), free(s.end), free(s.user), free(s.ordinal), free(s.alive);
  free(text.buf), free(rep.lines);
  d->pool = NULL, d->report = NULL;
  sp_dataset_free(d);
  sp_raw_free(raw);
  return rc;
#undef CHECK
#undef NEED
}
