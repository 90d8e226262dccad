/* load_recbole.c — RecBole atomic files: .inter (user or session, item, timestamp) and .item
 * (title, brand, categories), tab-separated under a typed "name:type" header. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "load_common.h"

enum { ROLE_USER, ROLE_SESSION, ROLE_ITEM, ROLE_TIME, ROLE_TITLE, ROLE_BRAND, ROLE_CATS, N_ROLES };

typedef struct {
  int is_item_file;
  int header_done;
  int n_cols;
  int col[N_ROLES]; /* column of each role, -1 if absent */
  int cats_seq;     /* categories column is a token_seq */
  sp_fields f;
} recbole_state;

static int role_of(const char *name, size_t n, int is_item_file) {
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
  if (IS("item_id")) return ROLE_ITEM;
  if (!is_item_file) {
    if (IS("user_id")) return ROLE_USER;
    if (IS("session_id")) return ROLE_SESSION;
    if (IS("timestamp")) return ROLE_TIME;
    return -1;
  }
  if (IS("title") || IS("movie_title") || IS("item_name") || IS("name")) return ROLE_TITLE;
  if (IS("brand") || IS("store")) return ROLE_BRAND;
  if (IS("categories") || IS("category") || IS("genre") || IS("genres")) return ROLE_CATS;
  return -1;
#undef IS
}

static int header(const sp_line_ctx *c, recbole_state *st, const char *line, size_t len) {
  static const char *const types[] = {"token", "token_seq", "float", "float_seq"};
  SP_TRY(sp_split_tabs(&st->f, line, len));
  st->n_cols = st->f.n;
  for (int k = 0; k < N_ROLES; k++) st->col[k] = -1;
  int n_unknown = 0, first_unknown = -1;
  size_t unknown_name_len = 0;
  for (int i = 0; i < st->f.n; i++) {
    const char *s = st->f.s[i];
    size_t n = st->f.len[i];
    const char *colon = NULL;
    for (size_t k = 0; k < n; k++)
      if (s[k] == ':') colon = s + k;
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *type = colon ? colon + 1 : "";
    size_t type_len = colon ? n - name_len - 1 : 0;
    int known = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
      if (type_len == strlen(types[t]) && memcmp(type, types[t], type_len) == 0) known = 1;
    if (!known) { /* reported once below; with skip_bad_lines the column is ignored */
      if (n_unknown++ == 0) first_unknown = i, unknown_name_len = colon ? name_len : n;
      continue;
    }
    int role = role_of(s, name_len, st->is_item_file);
    if (role < 0) continue;
    if (st->col[role] >= 0)
      return SP_FAIL(SP_EFORMAT, "%s:%lld: column '%.*s' appears twice in the header", c->l->path,
                     (long long)c->l->line, (int)(name_len > 60 ? 60 : name_len), s);
    st->col[role] = i;
    if (role == ROLE_CATS) st->cats_seq = type_len == 9; /* token_seq or float_seq */
  }
  if (n_unknown) { /* one bad line, however many of its columns are wrong */
    const char *s = st->f.s[first_unknown];
    size_t n = st->f.len[first_unknown];
    int typed = unknown_name_len < n;
    const char *type = typed ? s + unknown_name_len + 1 : "";
    size_t type_len = typed ? n - unknown_name_len - 1 : 0;
    char more[48] = "";
    if (n_unknown > 1) snprintf(more, sizeof more, ", and %d more such columns", n_unknown - 1);
    SP_TRY(sp_bad(c, SP_BAD_SYNTAX,
                  "column %d '%.*s' has %s type '%.*s' (token, token_seq, float or float_seq)%s",
                  first_unknown + 1, (int)(n > 60 ? 60 : n), s, typed ? "unknown" : "no",
                  (int)(type_len > 30 ? 30 : type_len), type, more));
  }
  if (st->col[ROLE_ITEM] < 0)
    return SP_FAIL(SP_EFORMAT, "%s:%lld: the header has no item_id column", c->l->path,
                   (long long)c->l->line);
  if (!st->is_item_file) {
    if (st->col[ROLE_SESSION] < 0 && st->col[ROLE_USER] < 0)
      return SP_FAIL(SP_EFORMAT, "%s:%lld: the header has no session_id or user_id column",
                     c->l->path, (long long)c->l->line);
    if (st->col[ROLE_TIME] < 0)
      return SP_FAIL(SP_EFORMAT, "%s:%lld: the header has no timestamp column", c->l->path,
                     (long long)c->l->line);
    if (st->col[ROLE_SESSION] >= 0) c->r->events_are_sessions = 1;
  }
  st->header_done = 1;
  return SP_OK;
}

static int inter_row(const sp_line_ctx *c, recbole_state *st) {
  int key_col = st->col[ROLE_SESSION] >= 0 ? st->col[ROLE_SESSION] : st->col[ROLE_USER];
  const char *key_name = st->col[ROLE_SESSION] >= 0 ? "session_id" : "user_id";
  const char *key = st->f.s[key_col], *item = st->f.s[st->col[ROLE_ITEM]];
  size_t klen = st->f.len[key_col], ilen = st->f.len[st->col[ROLE_ITEM]];
  if (klen == 0) return sp_bad(c, SP_BAD_ID, "empty %s", key_name);
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty item_id");
  const char *ts = st->f.s[st->col[ROLE_TIME]];
  size_t tlen = st->f.len[st->col[ROLE_TIME]];
  int64_t t;
  if (sp_parse_time(ts, tlen, &t))
    return sp_bad(c, SP_BAD_TIME, "timestamp '%.*s' is not a time", (int)(tlen > 40 ? 40 : tlen),
                  ts);
  return sp_raw_event(c->r, key, klen, item, ilen, t);
}

static int item_row(const sp_line_ctx *c, recbole_state *st) {
  const char *item = st->f.s[st->col[ROLE_ITEM]];
  size_t ilen = st->f.len[st->col[ROLE_ITEM]];
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty item_id");
  if (st->col[ROLE_TITLE] >= 0)
    SP_TRY(sp_raw_item_title(c->r, item, ilen, st->f.s[st->col[ROLE_TITLE]],
                             st->f.len[st->col[ROLE_TITLE]]));
  if (st->col[ROLE_BRAND] >= 0)
    SP_TRY(sp_raw_item_brand(c->r, item, ilen, st->f.s[st->col[ROLE_BRAND]],
                             st->f.len[st->col[ROLE_BRAND]]));
  if (st->col[ROLE_CATS] >= 0) {
    const char *s = st->f.s[st->col[ROLE_CATS]];
    size_t n = st->f.len[st->col[ROLE_CATS]];
    char sep = '\0';
    if (st->cats_seq) sep = memchr(s, ',', n) ? ',' : memchr(s, '|', n) ? '|' : ' ';
    if (sep)
      SP_TRY(sp_add_categories_split(c->r, item, ilen, s, n, sep));
    else
      SP_TRY(sp_raw_item_category(c->r, item, ilen, s, n));
  }
  return SP_OK;
}

static int recbole_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  recbole_state *st = state;
  if (!st->header_done) return header(c, st, line, len);
  SP_TRY(sp_split_tabs(&st->f, line, len));
  if (st->f.n != st->n_cols)
    return sp_bad(c, SP_BAD_SYNTAX, "%d columns, the header has %d", st->f.n, st->n_cols);
  return st->is_item_file ? item_row(c, st) : inter_row(c, st);
}

static int load_file(sp_raw *r, sp_lines *l, const sp_load_opts *o, int is_item_file) {
  recbole_state st = {.is_item_file = is_item_file};
  int rc = sp_each_line(r, l, o, recbole_line, &st);
  sp_fields_free(&st.f);
  return rc;
}

int sp_load_recbole_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o) {
  if (!r || !a) return SP_FAIL(SP_EINVAL, "recbole loader: NULL raw store or .inter");
  int64_t before = r->n_events, bad_before = sp_bad_total(r);
  SP_TRY(load_file(r, a, o, 0));
  SP_TRY(sp_expect_events(r, a, before, bad_before));
  if (b) SP_TRY(load_file(r, b, o, 1));
  return SP_OK;
}

int sp_load_recbole(sp_raw *r, const char *inter, const char *item, const sp_load_opts *o) {
  return sp_load_files(r, inter, item, o, sp_load_recbole_lines);
}
