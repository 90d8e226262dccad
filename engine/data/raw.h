/* raw.h — what every loader produces and the preparation pipeline consumes: events (a user or
 * session key, an item key, a time) and item text, with string keys interned to dense ids.
 * Loaders also count the lines they skipped, by cause, so nothing disappears silently. */
#ifndef SPRINT_DATA_RAW_H
#define SPRINT_DATA_RAW_H

#include <stddef.h>
#include <stdint.h>

/* Interned strings: id i in [0, count) <-> bytes; lookups are O(1) expected. */
typedef struct {
  char *bytes; /* all strings, NUL-terminated, back to back */
  int64_t bytes_len, bytes_cap;
  int64_t *offset; /* (count) start of string i in bytes */
  int32_t count, cap;
  int32_t *slots; /* open-addressing table of ids + 1 (0 = empty) */
  int64_t n_slots;
} sp_strtab;

int sp_strtab_intern(sp_strtab *t, const char *s, size_t len, int32_t *id);
int32_t sp_strtab_find(const sp_strtab *t, const char *s, size_t len); /* -1 if absent */
static inline const char *sp_strtab_get(const sp_strtab *t, int32_t id) {
  return t->bytes + t->offset[id];
}
void sp_strtab_free(sp_strtab *t);

/* Why a line was skipped (with skip_bad_lines) or refused (without). */
typedef enum {
  SP_BAD_SYNTAX = 0, /* not parseable JSON / Python literal / columns */
  SP_BAD_MISSING,    /* a required field is absent or of the wrong type */
  SP_BAD_TIME,       /* a timestamp that cannot be read */
  SP_BAD_ID,         /* an id that is empty, or unknown where it must be known */
  SP_BAD_CAUSES
} sp_bad_cause;
extern const char *const sp_bad_cause_names[SP_BAD_CAUSES];

typedef struct {
  int skip_bad_lines; /* 0: the first bad line is an error naming file and line */
} sp_load_opts;

typedef struct sp_raw {
  sp_strtab users; /* user keys, or session keys when events_are_sessions */
  sp_strtab items;
  int events_are_sessions;
  int64_t n_events, cap_events;
  int32_t *ev_user; /* (n_events) */
  int32_t *ev_item; /* (n_events) */
  int64_t *ev_time; /* (n_events) seconds since the epoch (UTC) */
  /* item text, indexed by item id; strings interned in `text` (-1 = none) */
  sp_strtab text;
  int32_t *title, *brand; /* (text_cap) text ids, -1 = none */
  int32_t **categories;   /* (items.cap) each a list: [n, c1, c2, ...] or NULL */
  int64_t text_cap;       /* allocated length of title, brand, categories */
  /* hidden labels of generated sessions, by user (session) id: lists [n, l1, l2, ...] */
  sp_strtab label_names;
  int32_t **user_labels;
  int64_t user_labels_cap;
  int64_t bad[SP_BAD_CAUSES];
  int64_t lines_read;
  int64_t items_without_text; /* filled by the pipeline */
} sp_raw;

int sp_raw_new(sp_raw **out);
void sp_raw_free(sp_raw *r);
int sp_raw_event(sp_raw *r, const char *user, size_t user_len, const char *item, size_t item_len,
                 int64_t time);
/* Item text by key; the item is created if new (an item with text but no event is dropped
 * by the pipeline and counted). Empty strings are ignored. */
int sp_raw_item_title(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len);
int sp_raw_item_brand(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len);
int sp_raw_item_category(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len);

/* Attaches a hidden label (e.g. a planted intent) to a session key (events_are_sessions). */
int sp_raw_session_label(sp_raw *r, const char *session, size_t len, const char *label,
                         size_t label_len);

/* A bad line: with skip_bad_lines it is counted and SP_OK returned (the caller skips it);
 * without, it is an error "PATH:LINE: what". */
int sp_raw_bad_line(sp_raw *r, const sp_load_opts *o, sp_bad_cause cause, const char *path,
                    int64_t line, const char *what);

#endif
