/* raw.c — string interning and the raw event/item-text store that loaders fill. */
#include "raw.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *const sp_bad_cause_names[SP_BAD_CAUSES] = {"syntax", "missing field", "bad time",
                                                       "bad id"};

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return SP_OK;
  int64_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, (size_t)c * elem);
  if (!q) return SP_FAIL(SP_ENOMEM, "out of memory growing a table to %lld entries", (long long)c);
  *p = q;
  *cap = c;
  return SP_OK;
}

static int rehash(sp_strtab *t, int64_t n_slots) {
  int32_t *slots = calloc((size_t)n_slots, sizeof *slots);
  if (!slots) return SP_FAIL(SP_ENOMEM, "out of memory for a string table");
  for (int32_t id = 0; id < t->count; id++) {
    const char *s = t->bytes + t->offset[id];
    uint64_t h = hash_bytes(s, strlen(s)) & (uint64_t)(n_slots - 1);
    while (slots[h]) h = (h + 1) & (uint64_t)(n_slots - 1);
    slots[h] = id + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->n_slots = n_slots;
  return SP_OK;
}

int32_t sp_strtab_find(const sp_strtab *t, const char *s, size_t len) {
  if (!t->n_slots) return -1;
  uint64_t mask = (uint64_t)t->n_slots - 1, h = hash_bytes(s, len) & mask;
  for (; t->slots[h]; h = (h + 1) & mask) {
    int32_t id = t->slots[h] - 1;
    const char *k = t->bytes + t->offset[id];
    if (strncmp(k, s, len) == 0 && k[len] == '\0') return id;
  }
  return -1;
}

int sp_strtab_intern(sp_strtab *t, const char *s, size_t len, int32_t *id) {
  if (memchr(s, '\0', len)) return SP_FAIL(SP_EFORMAT, "a key contains a NUL byte");
  int32_t found = sp_strtab_find(t, s, len);
  if (found >= 0) {
    *id = found;
    return SP_OK;
  }
  if (t->count == INT32_MAX - 1) return SP_FAIL(SP_ENOMEM, "more than 2^31 distinct strings");
  if ((int64_t)(t->count + 1) * 2 > t->n_slots)
    SP_TRY(rehash(t, t->n_slots ? t->n_slots * 2 : 1024));
  int64_t cap = t->cap;
  SP_TRY(grow((void **)&t->offset, &cap, (int64_t)t->count + 1, sizeof *t->offset));
  t->cap = (int32_t)(cap < INT32_MAX ? cap : INT32_MAX);
  SP_TRY(grow((void **)&t->bytes, &t->bytes_cap, t->bytes_len + (int64_t)len + 1, 1));
  memcpy(t->bytes + t->bytes_len, s, len);
  t->bytes[t->bytes_len + (int64_t)len] = '\0';
  t->offset[t->count] = t->bytes_len;
  t->bytes_len += (int64_t)len + 1;
  uint64_t mask = (uint64_t)t->n_slots - 1, h = hash_bytes(s, len) & mask;
  while (t->slots[h]) h = (h + 1) & mask;
  t->slots[h] = t->count + 1;
  *id = t->count++;
  return SP_OK;
}

void sp_strtab_free(sp_strtab *t) {
  free(t->bytes);
  free(t->offset);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

int sp_raw_new(sp_raw **out) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_raw_new: NULL output");
  *out = calloc(1, sizeof **out);
  return *out ? SP_OK : SP_FAIL(SP_ENOMEM, "sp_raw_new: out of memory");
}

void sp_raw_free(sp_raw *r) {
  if (!r) return;
  for (int64_t i = 0; i < r->user_labels_cap; i++) free(r->user_labels[i]);
  free(r->user_labels);
  sp_strtab_free(&r->label_names);
  sp_strtab_free(&r->users);
  for (int32_t i = 0; i < r->items.count; i++) free(r->categories ? r->categories[i] : NULL);
  sp_strtab_free(&r->items);
  sp_strtab_free(&r->text);
  free(r->ev_user), free(r->ev_item), free(r->ev_time);
  free(r->title), free(r->brand), free(r->categories);
  free(r);
}

/* The item's id, creating it (and its empty text slots) if new. */
static int item_id(sp_raw *r, const char *item, size_t len, int32_t *id) {
  int32_t before = r->items.count;
  SP_TRY(sp_strtab_intern(&r->items, item, len, id));
  if (r->items.count == before) return SP_OK;
  if (r->items.count > r->text_cap) { /* the three per-item arrays grow together */
    int64_t target = r->text_cap ? r->text_cap * 2 : 64;
    int32_t *t = realloc(r->title, (size_t)target * sizeof *t);
    if (t) r->title = t;
    int32_t *b = t ? realloc(r->brand, (size_t)target * sizeof *b) : NULL;
    if (b) r->brand = b;
    int32_t **c = b ? realloc(r->categories, (size_t)target * sizeof *c) : NULL;
    if (c) r->categories = c;
    if (!c) return SP_FAIL(SP_ENOMEM, "out of memory for item text");
    r->text_cap = target;
  }
  r->title[*id] = -1;
  r->brand[*id] = -1;
  r->categories[*id] = NULL;
  return SP_OK;
}

int sp_raw_event(sp_raw *r, const char *user, size_t user_len, const char *item, size_t item_len,
                 int64_t time) {
  if (user_len == 0 || item_len == 0) return SP_FAIL(SP_EFORMAT, "empty user or item key");
  int32_t u, it;
  SP_TRY(sp_strtab_intern(&r->users, user, user_len, &u));
  SP_TRY(item_id(r, item, item_len, &it));
  if (r->n_events == r->cap_events) {
    int64_t cap = r->cap_events ? r->cap_events * 2 : 1024;
    int32_t *eu = realloc(r->ev_user, (size_t)cap * sizeof *eu);
    if (eu) r->ev_user = eu;
    int32_t *ei = eu ? realloc(r->ev_item, (size_t)cap * sizeof *ei) : NULL;
    if (ei) r->ev_item = ei;
    int64_t *et = ei ? realloc(r->ev_time, (size_t)cap * sizeof *et) : NULL;
    if (et) r->ev_time = et;
    if (!et) return SP_FAIL(SP_ENOMEM, "out of memory for %lld events", (long long)cap);
    r->cap_events = cap;
  }
  r->ev_user[r->n_events] = u;
  r->ev_item[r->n_events] = it;
  r->ev_time[r->n_events] = time;
  r->n_events++;
  return SP_OK;
}

static int set_text(sp_raw *r, const char *s, size_t len, int32_t *slot) {
  if (len == 0) return SP_OK;
  return sp_strtab_intern(&r->text, s, len, slot);
}

int sp_raw_item_title(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len) {
  int32_t id;
  SP_TRY(item_id(r, item, item_len, &id));
  return set_text(r, s, len, &r->title[id]);
}

int sp_raw_item_brand(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len) {
  int32_t id;
  SP_TRY(item_id(r, item, item_len, &id));
  return set_text(r, s, len, &r->brand[id]);
}

int sp_raw_item_category(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len) {
  if (len == 0) return SP_OK;
  int32_t id, c;
  SP_TRY(item_id(r, item, item_len, &id));
  SP_TRY(sp_strtab_intern(&r->text, s, len, &c));
  int32_t *list = r->categories[id];
  int32_t n = list ? list[0] : 0;
  for (int32_t k = 1; k <= n; k++)
    if (list[k] == c) return SP_OK; /* categories are a set */
  int32_t *grown = realloc(list, (size_t)(n + 2) * sizeof *grown);
  if (!grown) return SP_FAIL(SP_ENOMEM, "out of memory for categories");
  grown[0] = n + 1;
  grown[n + 1] = c;
  r->categories[id] = grown;
  return SP_OK;
}

int sp_raw_bad_line(sp_raw *r, const sp_load_opts *o, sp_bad_cause cause, const char *path,
                    int64_t line, const char *what) {
  if (o && o->skip_bad_lines) {
    r->bad[cause]++;
    return SP_OK;
  }
  return SP_FAIL(SP_EFORMAT, "%s:%lld: %s (%s)", path, (long long)line, what,
                 sp_bad_cause_names[cause]);
}

int sp_raw_session_label(sp_raw *r, const char *session, size_t len, const char *label,
                         size_t label_len) {
  int32_t u, l;
  SP_TRY(sp_strtab_intern(&r->users, session, len, &u));
  SP_TRY(sp_strtab_intern(&r->label_names, label, label_len, &l));
  if (u >= r->user_labels_cap) {
    int64_t cap = r->user_labels_cap ? r->user_labels_cap : 64;
    while (cap <= u) cap *= 2;
    int32_t **grown = realloc(r->user_labels, (size_t)cap * sizeof *grown);
    if (!grown) return SP_FAIL(SP_ENOMEM, "out of memory for session labels");
    memset(grown + r->user_labels_cap, 0, (size_t)(cap - r->user_labels_cap) * sizeof *grown);
    r->user_labels = grown;
    r->user_labels_cap = cap;
  }
  int32_t *list = r->user_labels[u];
  int32_t n = list ? list[0] : 0;
  for (int32_t k = 1; k <= n; k++)
    if (list[k] == l) return SP_OK;
  int32_t *next = realloc(list, (size_t)(n + 2) * sizeof *next);
  if (!next) return SP_FAIL(SP_ENOMEM, "out of memory for session labels");
  next[0] = n + 1;
  next[n + 1] = l;
  r->user_labels[u] = next;
  return SP_OK;
}
