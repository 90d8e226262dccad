/* load_common.h — what the load_*.c readers share: the per-line driver with bad-line
 * reporting, JSON / Python-literal line parsing, typed field access, category splitting. */
#ifndef SPRINT_DATA_LOAD_COMMON_H
#define SPRINT_DATA_LOAD_COMMON_H

#include <cjson/cJSON.h>

#include "loaders.h"

typedef struct {
  sp_raw *r;
  const sp_load_opts *o;
  sp_lines *l;
} sp_line_ctx;

/* Reports the current line as bad: SP_OK when skipping (the caller then drops the line),
 * else the error "PATH:LINE: what (cause)". */
int sp_bad(const sp_line_ctx *c, sp_bad_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Called for each non-blank line (NUL-free, NUL-terminated, without its line end). */
typedef int (*sp_line_fn)(const sp_line_ctx *c, void *state, const char *line, size_t len);
/* Runs fn over every line of l, counting r->lines_read; an empty file is a bad line. */
int sp_each_line(sp_raw *r, sp_lines *l, const sp_load_opts *o, sp_line_fn fn, void *state);
/* Fails with "PATH: no usable events" when r holds no more than `before` events. */
int sp_expect_events(const sp_raw *r, const sp_lines *l, int64_t before, int64_t bad_before);
static inline int64_t sp_bad_total(const sp_raw *r) {
  int64_t n = 0;
  for (int i = 0; i < SP_BAD_CAUSES; i++) n += r->bad[i];
  return n;
}

/* Parses a line holding one JSON object (or, with pylit, a Python literal, falling back to
 * JSON); NULL with the reason in err when it is not an object. */
cJSON *sp_parse_object_line(const char *line, size_t len, int pylit, char *err, size_t err_cap);
/* Parses one object line (JSON, or a Python literal when pylit) and hands it to fields; a line
 * that does not parse is a bad line (syntax). Returns what fields or sp_bad returns. */
typedef int (*sp_object_fields)(const sp_line_ctx *c, const cJSON *j);
int sp_object_line(const sp_line_ctx *c, const char *line, size_t len, int pylit, sp_object_fields fields);

/* Field access. The last field of that name wins (as in Python); null counts as absent.
 * Each returns 1 when found, 0 when absent, -1 when of the wrong type. */
const cJSON *sp_field(const cJSON *obj, const char *name);
/* A string, trimmed. */
int sp_field_str(const cJSON *obj, const char *name, const char **s, size_t *len);
/* An id: a string (trimmed) or an integral number (printed into buf, 32 bytes). */
int sp_field_id(const cJSON *obj, const char *name, char *buf, const char **s, size_t *len);
/* A time: a number of seconds * `scale` (1 for seconds, 1000 for ms), or when strings are
 * allowed, text for sp_parse_time. -2 when present but not a valid time. */
int sp_field_time(const cJSON *obj, const char *name, int64_t scale, int allow_string,
                  int64_t *out);

/* Checks that v is a category list (a string, or an array of strings and arrays of strings,
 * nested up to 2 deep); 0 if it is, -1 if not. */
int sp_check_categories(const cJSON *v);
/* Adds the categories of v (checked), in order. */
int sp_add_categories(sp_raw *r, const char *item, size_t item_len, const cJSON *v);
/* Adds the pieces of s split at sep, trimmed, with surrounding quotes dropped. */
int sp_add_categories_split(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len,
                            char sep);

/* Opens a (and b when not NULL; both before reading, so a missing second file fails fast),
 * runs fn over them, closes them. */
typedef int (*sp_lines_loader)(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);
int sp_load_files(sp_raw *r, const char *a, const char *b, const sp_load_opts *o,
                  sp_lines_loader fn);

/* Tab-separated fields of a line (pointers into it). */
typedef struct {
  const char **s;
  size_t *len;
  int n, cap;
} sp_fields;
int sp_split_tabs(sp_fields *f, const char *line, size_t len);
void sp_fields_free(sp_fields *f);

#endif
