/* load_plain.c — the plain pair anyone can write: sessions (session_id, item_id, timestamp)
 * and items (item_id, title, brand, categories), each as TSV with a header or as JSONL. */
#include <string.h>

#include "internal.h"
#include "load_common.h"

enum { COL_SESSION, COL_ITEM, COL_TIME, COL_TITLE, COL_BRAND, COL_CATS, N_COLS };
static const char *const col_names[N_COLS] = {"session_id", "item_id", "timestamp",
                                              "title",      "brand",   "categories"};

typedef struct {
  int is_items;
  int format; /* 0 until the first line, then 1 = TSV, 2 = JSONL */
  int n_cols;
  int col[N_COLS];
  sp_fields f;
} plain_state;

/* ---- TSV ---- */

static int tsv_header(const sp_line_ctx *c, plain_state *st, const char *line, size_t len) {
  SP_TRY(sp_split_tabs(&st->f, line, len));
  st->n_cols = st->f.n;
  for (int k = 0; k < N_COLS; k++) st->col[k] = -1;
  int first = st->is_items ? COL_ITEM : COL_SESSION, last = st->is_items ? COL_CATS : COL_TIME;
  for (int i = 0; i < st->f.n; i++)
    for (int k = first; k <= last; k++)
      if (st->f.len[i] == strlen(col_names[k]) &&
          memcmp(st->f.s[i], col_names[k], st->f.len[i]) == 0) {
        if (st->col[k] >= 0)
          return SP_FAIL(SP_EFORMAT, "%s:%lld: column '%s' appears twice in the header", c->l->path,
                         (long long)c->l->line, col_names[k]);
        st->col[k] = i;
      }
  if (st->is_items ? st->col[COL_ITEM] < 0
                   : (st->col[COL_SESSION] < 0 || st->col[COL_ITEM] < 0 || st->col[COL_TIME] < 0))
    return SP_FAIL(SP_EFORMAT, "%s:%lld: the first line must be a header naming %s", c->l->path,
                   (long long)c->l->line,
                   st->is_items ? "item_id (and any of title, brand, categories)"
                                : "session_id, item_id and timestamp");
  return SP_OK;
}

static int tsv_row(const sp_line_ctx *c, plain_state *st, const char *line, size_t len) {
  SP_TRY(sp_split_tabs(&st->f, line, len));
  if (st->f.n != st->n_cols)
    return sp_bad(c, SP_BAD_SYNTAX, "%d columns, the header has %d", st->f.n, st->n_cols);
  const char *item = st->f.s[st->col[COL_ITEM]];
  size_t ilen = st->f.len[st->col[COL_ITEM]];
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty item_id");
  if (!st->is_items) {
    const char *key = st->f.s[st->col[COL_SESSION]], *ts = st->f.s[st->col[COL_TIME]];
    size_t klen = st->f.len[st->col[COL_SESSION]], tlen = st->f.len[st->col[COL_TIME]];
    int64_t t;
    if (klen == 0) return sp_bad(c, SP_BAD_ID, "empty session_id");
    if (sp_parse_time(ts, tlen, &t))
      return sp_bad(c, SP_BAD_TIME, "timestamp '%.*s' is not seconds or YYYY-MM-DD[ HH:MM:SS]",
                    (int)(tlen > 40 ? 40 : tlen), ts);
    return sp_raw_event(c->r, key, klen, item, ilen, t);
  }
  if (st->col[COL_TITLE] >= 0)
    SP_TRY(sp_raw_item_title(c->r, item, ilen, st->f.s[st->col[COL_TITLE]],
                             st->f.len[st->col[COL_TITLE]]));
  if (st->col[COL_BRAND] >= 0)
    SP_TRY(sp_raw_item_brand(c->r, item, ilen, st->f.s[st->col[COL_BRAND]],
                             st->f.len[st->col[COL_BRAND]]));
  if (st->col[COL_CATS] >= 0)
    SP_TRY(sp_add_categories_split(c->r, item, ilen, st->f.s[st->col[COL_CATS]],
                                   st->f.len[st->col[COL_CATS]], '|'));
  return SP_OK;
}

/* ---- JSONL ---- */

static int session_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *key, *item;
  size_t klen, ilen;
  char kbuf[32], ibuf[32];
  int64_t t;
  int got = sp_field_id(j, "session_id", kbuf, &key, &klen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no session_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "session_id is not a string or an integer");
  if (klen == 0) return sp_bad(c, SP_BAD_ID, "empty session_id");
  got = sp_field_id(j, "item_id", ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no item_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "item_id is not a string or an integer");
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty item_id");
  got = sp_field_time(j, "timestamp", 1, 1, &t);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no timestamp field");
  if (got < 0)
    return sp_bad(c, SP_BAD_TIME, "timestamp is not seconds or \"YYYY-MM-DD[ HH:MM:SS]\"");
  return sp_raw_event(c->r, key, klen, item, ilen, t);
}

static int item_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *item, *title = "", *brand = "";
  size_t ilen, tlen = 0, blen = 0;
  char ibuf[32];
  int got = sp_field_id(j, "item_id", ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no item_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "item_id is not a string or an integer");
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty item_id");
  if (sp_field_str(j, "title", &title, &tlen) < 0)
    return sp_bad(c, SP_BAD_MISSING, "title is not a string");
  if (sp_field_str(j, "brand", &brand, &blen) < 0)
    return sp_bad(c, SP_BAD_MISSING, "brand is not a string");
  const cJSON *cats = sp_field(j, "categories");
  if (cats && sp_check_categories(cats))
    return sp_bad(c, SP_BAD_MISSING, "categories is not a list of strings");
  SP_TRY(sp_raw_item_title(c->r, item, ilen, title, tlen));
  SP_TRY(sp_raw_item_brand(c->r, item, ilen, brand, blen));
  if (cats && cJSON_IsString(cats))
    SP_TRY(sp_add_categories_split(c->r, item, ilen, cats->valuestring, strlen(cats->valuestring),
                                   '|'));
  else if (cats)
    SP_TRY(sp_add_categories(c->r, item, ilen, cats));
  return SP_OK;
}

static int plain_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  plain_state *st = state;
  if (st->format == 0) { /* the first non-blank line decides */
    const char *s = line;
    size_t n = len;
    sp_trim(&s, &n);
    st->format = s[0] == '{' ? 2 : 1;
    if (st->format == 1) return tsv_header(c, st, line, len);
  }
  if (st->format == 1) return tsv_row(c, st, line, len);
  return sp_object_line(c, line, len, 0, st->is_items ? item_fields : session_fields);
}

static int load_file(sp_raw *r, sp_lines *l, const sp_load_opts *o, int is_items) {
  plain_state st = {.is_items = is_items};
  int rc = sp_each_line(r, l, o, plain_line, &st);
  sp_fields_free(&st.f);
  return rc;
}

int sp_load_plain_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o) {
  if (!r || !a) return SP_FAIL(SP_EINVAL, "plain loader: NULL raw store or sessions");
  int64_t before = r->n_events, bad_before = sp_bad_total(r);
  r->events_are_sessions = 1;
  SP_TRY(load_file(r, a, o, 0));
  SP_TRY(sp_expect_events(r, a, before, bad_before));
  if (b) SP_TRY(load_file(r, b, o, 1));
  return SP_OK;
}

int sp_load_plain(sp_raw *r, const char *sessions, const char *items, const sp_load_opts *o) {
  return sp_load_files(r, sessions, items, o, sp_load_plain_lines);
}
