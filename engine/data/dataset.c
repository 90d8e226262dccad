/* dataset.c — the prepared dataset: accessors, statistics, and its cache file. The file is an
 * identity (name, settings hash), then the arrays back to back (8-byte aligned), then a
 * checksum; loading reads it once and points into the buffer, so a prepared dataset loads in
 * milliseconds. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "file_io.h"
#include "internal.h"

void sp_dataset_free(sp_dataset *d) {
  if (!d) return;
  if (!d->blob) {
    free(d->offset), free(d->items), free(d->times), free(d->split), free(d->key);
    free(d->label_off), free(d->labels), free(d->label_name);
    free(d->item_key), free(d->item_title), free(d->item_brand), free(d->cat_off), free(d->cats);
    free(d->pool), free(d->report);
  }
  free(d->blob);
  free(d);
}

void sp_dataset_compute_stats(sp_dataset *d) {
  sp_dataset_stats *st = &d->stats;
  memset(&st->total, 0, sizeof st->total);
  memset(st->split, 0, sizeof st->split);
  st->n_items = d->n_items;
  uint8_t *seen = calloc((size_t)d->n_items + 1, 4); /* bit k: seen in split k, bit 3: any */
  for (int64_t i = 0; i < d->n_sessions; i++) {
    int sp = d->split[i];
    int64_t len = d->offset[i + 1] - d->offset[i];
    st->split[sp].sessions++;
    st->split[sp].interactions += len;
    st->total.sessions++;
    st->total.interactions += len;
    for (int64_t k = d->offset[i]; seen && k < d->offset[i + 1]; k++)
      seen[d->items[k]] |= (uint8_t)(1 << sp) | 8;
  }
  for (int32_t j = 1; seen && j <= d->n_items; j++) {
    for (int sp = 0; sp < 3; sp++) st->split[sp].items += (seen[j] >> sp) & 1;
    st->total.items += (seen[j] >> 3) & 1;
  }
  free(seen);
  for (int sp = 0; sp < 3; sp++)
    st->split[sp].avg_len =
        st->split[sp].sessions ? (double)st->split[sp].interactions / st->split[sp].sessions : 0;
  st->total.avg_len = st->total.sessions ? (double)st->total.interactions / st->total.sessions : 0;
}

/* ---- accessors ---- */

int sp_dataset_get_stats(const sp_dataset *d, sp_dataset_stats *out) {
  if (!d || !out) return SP_FAIL(SP_EINVAL, "sp_dataset_get_stats: NULL argument");
  *out = d->stats;
  return SP_OK;
}

int64_t sp_dataset_n_sessions(const sp_dataset *d) {
  return d ? d->n_sessions : 0;
}

int sp_dataset_session(const sp_dataset *d, int64_t i, sp_session_view *out) {
  if (!d || !out) return SP_FAIL(SP_EINVAL, "sp_dataset_session: NULL argument");
  if (i < 0 || i >= d->n_sessions)
    return SP_FAIL(SP_EINVAL, "sp_dataset_session: session %lld outside [0, %lld)", (long long)i,
                   (long long)d->n_sessions);
  out->items = d->items + d->offset[i];
  out->times = d->times + d->offset[i];
  out->len = (int32_t)(d->offset[i + 1] - d->offset[i]);
  out->split = d->split[i];
  out->key = d->pool + d->key[i];
  out->labels = d->label_off ? d->labels + d->label_off[i] : NULL;
  out->n_labels = d->label_off ? (int32_t)(d->label_off[i + 1] - d->label_off[i]) : 0;
  return SP_OK;
}

int sp_dataset_find_session(const sp_dataset *d, const char *key, int64_t *index) {
  if (!d || !key || !index) return SP_FAIL(SP_EINVAL, "sp_dataset_find_session: NULL argument");
  for (int64_t i = 0; i < d->n_sessions; i++)
    if (strcmp(d->pool + d->key[i], key) == 0) {
      *index = i;
      return SP_OK;
    }
  return SP_FAIL(SP_EINVAL, "no session with key '%s'", key);
}

int sp_dataset_item(const sp_dataset *d, int32_t item, sp_item_view *out) {
  if (!d || !out) return SP_FAIL(SP_EINVAL, "sp_dataset_item: NULL argument");
  if (item < 1 || item > d->n_items)
    return SP_FAIL(SP_EINVAL, "sp_dataset_item: item %d outside [1, %d]", item, d->n_items);
  out->key = d->pool + d->item_key[item];
  out->title = d->pool + d->item_title[item];
  out->brand = d->pool + d->item_brand[item];
  out->n_categories = (int32_t)(d->cat_off[item + 1] - d->cat_off[item]);
  return SP_OK;
}

const char *sp_dataset_item_category(const sp_dataset *d, int32_t item, int32_t k) {
  if (!d || item < 1 || item > d->n_items || k < 0 || k >= d->cat_off[item + 1] - d->cat_off[item])
    return NULL;
  return d->pool + d->cats[d->cat_off[item] + k];
}

int32_t sp_dataset_n_labels(const sp_dataset *d) {
  return d ? d->n_label_names : 0;
}
const char *sp_dataset_label_name(const sp_dataset *d, int32_t label) {
  if (!d || label < 0 || label >= d->n_label_names) return NULL;
  return d->pool + d->label_name[label];
}
int sp_dataset_report_count(const sp_dataset *d) {
  return d ? d->n_report : 0;
}
const char *sp_dataset_report_line(const sp_dataset *d, int i) {
  if (!d || i < 0 || i >= d->n_report) return NULL;
  return d->pool + d->report[i];
}

/* ---- the cache file ---- */

/* version 2: the identity (name, settings hash) after the header */
static const char DATASET_MAGIC[8] = {'S', 'P', 'R', 'I', 'N', 'T', 'D', '2'};
#define MAX_NAME_LEN 4096

typedef struct {
  int64_t n_sessions, n_interactions, n_labels, n_cats, pool_len;
  int32_t n_items, n_label_names, n_report, has_labels;
  uint64_t settings_hash;
  int64_t name_len; /* the name follows the header, NUL-terminated */
} header;

/* Writes n bytes then zeros up to a multiple of 8, so every array starts aligned. */
static void put(sp_writer *w, const void *p, int64_t n) {
  static const char zeros[8] = {0};
  if (n > 0) sp_writer_bytes(w, p, (size_t)n);
  if (n % 8) sp_writer_bytes(w, zeros, (size_t)(8 - n % 8));
}

int sp_dataset_identity(const sp_dataset *d, const char **name, uint64_t *settings_hash) {
  if (!d || !name || !settings_hash)
    return SP_FAIL(SP_EINVAL, "sp_dataset_identity: NULL argument");
  *name = d->name ? d->name : "";
  *settings_hash = d->settings_hash;
  return SP_OK;
}

int sp_dataset_save(const sp_dataset *d, const char *path, const char *name,
                    uint64_t settings_hash) {
  if (!d || !path || !name) return SP_FAIL(SP_EINVAL, "sp_dataset_save: NULL argument");
  size_t name_len = strlen(name);
  if (name_len > MAX_NAME_LEN)
    return SP_FAIL(SP_EINVAL, "sp_dataset_save: name longer than %d bytes", MAX_NAME_LEN);
  header h = {d->n_sessions,
              d->offset[d->n_sessions],
              d->label_off ? d->label_off[d->n_sessions] : 0,
              d->cat_off[d->n_items + 1],
              d->pool_len,
              d->n_items,
              d->n_label_names,
              d->n_report,
              d->label_off != NULL,
              settings_hash,
              (int64_t)name_len};
  sp_writer w;
  SP_TRY(sp_writer_open(&w, path, DATASET_MAGIC));
  put(&w, &h, sizeof h);
  put(&w, name, (int64_t)name_len + 1);
  put(&w, &d->stats, sizeof d->stats);
  put(&w, d->offset, (h.n_sessions + 1) * 8);
  put(&w, d->items, h.n_interactions * 4);
  put(&w, d->times, h.n_interactions * 8);
  put(&w, d->split, h.n_sessions);
  put(&w, d->key, h.n_sessions * 8);
  if (h.has_labels) {
    put(&w, d->label_off, (h.n_sessions + 1) * 8);
    put(&w, d->labels, h.n_labels * 4);
    put(&w, d->label_name, (int64_t)h.n_label_names * 8);
  }
  put(&w, d->item_key, ((int64_t)h.n_items + 1) * 8);
  put(&w, d->item_title, ((int64_t)h.n_items + 1) * 8);
  put(&w, d->item_brand, ((int64_t)h.n_items + 1) * 8);
  put(&w, d->cat_off, ((int64_t)h.n_items + 2) * 8);
  put(&w, d->cats, h.n_cats * 8);
  put(&w, d->report, (int64_t)h.n_report * 8);
  put(&w, d->pool, h.pool_len);
  return sp_writer_commit(&w);
}

/* Takes the next array of n bytes from the buffer, checking bounds. */
static void *take(sp_reader *r, int64_t n, int *ok) {
  int64_t padded = (n + 7) / 8 * 8;
  if (!*ok || n < 0 || (int64_t)r->pos + padded > (int64_t)r->len) {
    *ok = 0;
    return NULL;
  }
  void *p = r->buf + r->pos;
  r->pos += (size_t)padded;
  return p;
}

int sp_dataset_load(sp_dataset **out, const char *path, const char *name, uint64_t settings_hash) {
  if (!out || !path) return SP_FAIL(SP_EINVAL, "sp_dataset_load: NULL argument");
  *out = NULL;
  sp_reader r;
  SP_TRY(sp_reader_open(&r, path, DATASET_MAGIC));
  sp_dataset *d = calloc(1, sizeof *d);
  if (!d) {
    sp_reader_close(&r);
    return SP_FAIL(SP_ENOMEM, "sp_dataset_load: out of memory");
  }
  d->blob = r.buf; /* arrays below point into it */
  int ok = 1;
  header *h = take(&r, sizeof *h, &ok);
  if (ok && (h->n_sessions < 0 || h->n_items < 0 || h->n_report < 0 || h->pool_len <= 0 ||
             h->name_len < 0 || h->name_len > MAX_NAME_LEN))
    ok = 0;
  const char *stored_name = ok ? take(&r, h->name_len + 1, &ok) : NULL;
  if (ok && (stored_name[h->name_len] != '\0' || (int64_t)strlen(stored_name) != h->name_len))
    ok = 0;
  if (ok && name && (strcmp(stored_name, name) != 0 || h->settings_hash != settings_hash)) {
    int rc = SP_FAIL(SP_EFORMAT,
                     "%s: holds the prepared dataset '%s' (settings hash %016llx), not '%s' "
                     "(settings hash %016llx)",
                     path, stored_name, (unsigned long long)h->settings_hash, name,
                     (unsigned long long)settings_hash);
    sp_dataset_free(d);
    return rc;
  }
  if (ok) d->name = stored_name, d->settings_hash = h->settings_hash;
  sp_dataset_stats *st = ok ? take(&r, sizeof *st, &ok) : NULL;
  if (ok) {
    d->n_sessions = h->n_sessions;
    d->n_items = h->n_items;
    d->n_label_names = h->n_label_names;
    d->n_report = h->n_report;
    d->pool_len = h->pool_len;
    d->stats = *st;
    d->offset = take(&r, (h->n_sessions + 1) * 8, &ok);
    d->items = take(&r, h->n_interactions * 4, &ok);
    d->times = take(&r, h->n_interactions * 8, &ok);
    d->split = take(&r, h->n_sessions, &ok);
    d->key = take(&r, h->n_sessions * 8, &ok);
    if (h->has_labels) {
      d->label_off = take(&r, (h->n_sessions + 1) * 8, &ok);
      d->labels = take(&r, h->n_labels * 4, &ok);
      d->label_name = take(&r, (int64_t)h->n_label_names * 8, &ok);
    }
    d->item_key = take(&r, ((int64_t)h->n_items + 1) * 8, &ok);
    d->item_title = take(&r, ((int64_t)h->n_items + 1) * 8, &ok);
    d->item_brand = take(&r, ((int64_t)h->n_items + 1) * 8, &ok);
    d->cat_off = take(&r, ((int64_t)h->n_items + 2) * 8, &ok);
    d->cats = take(&r, h->n_cats * 8, &ok);
    d->report = take(&r, (int64_t)h->n_report * 8, &ok);
    d->pool = take(&r, h->pool_len, &ok);
  }
  /* The checksum already vouches for the bytes; still check the structure so a file from a
   * different build cannot make us read out of bounds. */
  for (int64_t i = 0; ok && i < d->n_sessions; i++)
    ok = d->offset[i] >= 0 && d->offset[i] <= d->offset[i + 1] && d->split[i] <= 2 &&
         d->key[i] >= 0 && d->key[i] < d->pool_len;
  ok = ok && d->offset[d->n_sessions] == h->n_interactions && d->pool[d->pool_len - 1] == '\0';
  for (int64_t k = 0; ok && k < h->n_interactions; k++)
    ok = d->items[k] >= 1 && d->items[k] <= d->n_items;
  for (int32_t j = 0; ok && j <= d->n_items; j++)
    ok = d->item_key[j] >= 0 && d->item_key[j] < d->pool_len && d->item_title[j] >= 0 &&
         d->item_title[j] < d->pool_len && d->item_brand[j] >= 0 &&
         d->item_brand[j] < d->pool_len && d->cat_off[j] <= d->cat_off[j + 1];
  ok = ok && d->cat_off[d->n_items + 1] == h->n_cats;
  for (int64_t k = 0; ok && k < h->n_cats; k++) ok = d->cats[k] >= 0 && d->cats[k] < d->pool_len;
  for (int i = 0; ok && i < d->n_report; i++) ok = d->report[i] >= 0 && d->report[i] < d->pool_len;
  for (int64_t i = 0; ok && d->label_off && i < d->n_sessions; i++)
    ok = d->label_off[i] <= d->label_off[i + 1];
  for (int64_t k = 0; ok && d->label_off && k < h->n_labels; k++)
    ok = d->labels[k] >= 0 && d->labels[k] < d->n_label_names;
  for (int32_t l = 0; ok && l < d->n_label_names; l++)
    ok = d->label_name[l] >= 0 && d->label_name[l] < d->pool_len;
  if (!ok) {
    sp_dataset_free(d);
    return SP_FAIL(SP_EFORMAT,
                   "%s: not a valid prepared dataset (truncated or from another version)", path);
  }
  *out = d;
  return SP_OK;
}
