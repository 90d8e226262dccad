/* load_common.c — the per-line driver, bad-line reporting, JSON/Python-literal line parsing
 * and field access shared by the load_*.c readers, and sp_load_format (dispatch by name). */
#include "load_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "pylit.h"

int sp_bad(const sp_line_ctx *c, sp_bad_cause cause, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return sp_raw_bad_line(c->r, c->o, cause, c->l->path, c->l->line ? c->l->line : 1, what);
}

int sp_each_line(sp_raw *r, sp_lines *l, const sp_load_opts *o, sp_line_fn fn, void *state) {
  sp_line_ctx c = {r, o, l};
  int any = 0, got;
  for (;;) {
    SP_TRY(sp_lines_next(l, &got));
    if (!got) break;
    r->lines_read++;
    if (sp_is_blank(l->buf, l->len)) continue;
    any = 1;
    if (memchr(l->buf, '\0', l->len)) {
      SP_TRY(sp_bad(&c, SP_BAD_SYNTAX, "NUL byte in the line"));
      continue;
    }
    SP_TRY(fn(&c, state, l->buf, l->len));
  }
  if (!any) SP_TRY(sp_raw_bad_line(r, o, SP_BAD_SYNTAX, l->path, 1, "empty file"));
  return SP_OK;
}

int sp_expect_events(const sp_raw *r, const sp_lines *l, int64_t before, int64_t bad_before) {
  if (r->n_events > before) return SP_OK;
  return SP_FAIL(SP_EFORMAT, "%s: no usable events (%lld lines, %lld skipped as bad)", l->path,
                 (long long)l->line, (long long)(sp_bad_total(r) - bad_before));
}

/* ---- parsing a line ---- */

static cJSON *parse_json(const char *line, size_t len, char *err, size_t err_cap) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (!j) {
    size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
    snprintf(err, err_cap, "bad JSON at column %zu", col);
    return NULL;
  }
  /* cJSON stops after the first value; anything but whitespace after it is an error */
  size_t at = end ? (size_t)(end - line) : len;
  if (!sp_is_blank(line + at, len - at)) {
    cJSON_Delete(j);
    snprintf(err, err_cap, "bad JSON: unexpected text after the object at column %zu", at + 1);
    return NULL;
  }
  return j;
}

cJSON *sp_parse_object_line(const char *line, size_t len, int pylit, char *err, size_t err_cap) {
  cJSON *j;
  if (pylit) {
    char perr[200];
    j = sp_pylit_parse(line, len, perr, sizeof perr);
    if (!j) {
      char jerr[8];
      j = parse_json(line, len, jerr, sizeof jerr); /* some copies were rewritten as JSON */
      if (!j) {
        snprintf(err, err_cap, "bad Python literal: %s", perr);
        return NULL;
      }
    }
  } else {
    j = parse_json(line, len, err, err_cap);
    if (!j) return NULL;
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    snprintf(err, err_cap, "the line is not an object (%s)", pylit ? "a Python dict" : "{...}");
    return NULL;
  }
  return j;
}

int sp_object_line(const sp_line_ctx *c, const char *line, size_t len, int pylit, sp_object_fields fields) {
  char err[256];
  cJSON *j = sp_parse_object_line(line, len, pylit, err, sizeof err);
  if (!j) return sp_bad(c, SP_BAD_SYNTAX, "%s", err);
  int rc = fields(c, j);
  cJSON_Delete(j);
  return rc;
}

/* ---- fields ---- */

const cJSON *sp_field(const cJSON *obj, const char *name) {
  const cJSON *found = NULL;
  for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next)
    if (c->string && strcmp(c->string, name) == 0) found = c;
  return found && !cJSON_IsNull(found) ? found : NULL;
}

int sp_field_str(const cJSON *obj, const char *name, const char **s, size_t *len) {
  const cJSON *v = sp_field(obj, name);
  if (!v) return 0;
  if (!cJSON_IsString(v) || !v->valuestring) return -1;
  *s = v->valuestring;
  *len = strlen(v->valuestring);
  sp_trim(s, len);
  return 1;
}

int sp_field_id(const cJSON *obj, const char *name, char *buf, const char **s, size_t *len) {
  const cJSON *v = sp_field(obj, name);
  if (!v) return 0;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) return -1;
    snprintf(buf, 32, "%.0f", d);
    *s = buf;
    *len = strlen(buf);
    return 1;
  }
  return sp_field_str(obj, name, s, len);
}

int sp_field_time(const cJSON *obj, const char *name, int64_t scale, int allow_string,
                  int64_t *out) {
  const cJSON *v = sp_field(obj, name);
  if (!v) return 0;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0) return -2;
    d = floor(d / (double)scale);
    if (d > (double)SP_TIME_MAX) return -2;
    *out = (int64_t)d;
    return 1;
  }
  if (allow_string && cJSON_IsString(v) && v->valuestring)
    return sp_parse_time(v->valuestring, strlen(v->valuestring), out) == 0 ? 1 : -2;
  return -2;
}

static int check_cats(const cJSON *v, int depth) {
  if (cJSON_IsString(v)) return 0;
  if (!cJSON_IsArray(v) || depth >= 2) return -1;
  for (const cJSON *c = v->child; c; c = c->next)
    if (check_cats(c, depth + 1)) return -1;
  return 0;
}

int sp_check_categories(const cJSON *v) {
  return check_cats(v, 0);
}

int sp_add_categories(sp_raw *r, const char *item, size_t item_len, const cJSON *v) {
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    size_t n = strlen(s);
    sp_trim(&s, &n);
    return sp_raw_item_category(r, item, item_len, s, n);
  }
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next)
    SP_TRY(sp_add_categories(r, item, item_len, c));
  return SP_OK;
}

int sp_add_categories_split(sp_raw *r, const char *item, size_t item_len, const char *s, size_t len,
                            char sep) {
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && s[j] != sep) j++;
    const char *p = s + i;
    size_t n = j - i;
    sp_trim(&p, &n);
    if (n >= 2 && (p[0] == '\'' || p[0] == '"') && p[n - 1] == p[0]) {
      p++, n -= 2;
      sp_trim(&p, &n);
    }
    SP_TRY(sp_raw_item_category(r, item, item_len, p, n));
    i = j + 1;
  }
  return SP_OK;
}

/* ---- tab-separated fields ---- */

int sp_split_tabs(sp_fields *f, const char *line, size_t len) {
  f->n = 0;
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < len && line[j] != '\t') j++;
    if (f->n == f->cap) {
      int cap = f->cap ? f->cap * 2 : 16;
      const char **s = realloc(f->s, (size_t)cap * sizeof *s);
      if (s) f->s = s;
      size_t *l = s ? realloc(f->len, (size_t)cap * sizeof *l) : NULL;
      if (l) f->len = l;
      if (!l) return SP_FAIL(SP_ENOMEM, "out of memory splitting a line");
      f->cap = cap;
    }
    const char *p = line + i;
    size_t n = j - i;
    sp_trim(&p, &n);
    f->s[f->n] = p;
    f->len[f->n] = n;
    f->n++;
    if (j >= len) break;
    i = j + 1;
  }
  return SP_OK;
}

void sp_fields_free(sp_fields *f) {
  free(f->s);
  free(f->len);
  memset(f, 0, sizeof *f);
}

/* ---- files ---- */

int sp_load_files(sp_raw *r, const char *a, const char *b, const sp_load_opts *o,
                  sp_lines_loader fn) {
  if (!r) return SP_FAIL(SP_EINVAL, "load: NULL raw store");
  if (!a) return SP_FAIL(SP_EINVAL, "load: no events file given");
  sp_lines la, lb;
  SP_TRY(sp_lines_open(&la, a));
  if (b) {
    int rc = sp_lines_open(&lb, b);
    if (rc != SP_OK) {
      sp_lines_close(&la);
      return rc;
    }
  }
  int rc = fn(r, &la, b ? &lb : NULL, o);
  sp_lines_close(&la);
  if (b) sp_lines_close(&lb);
  return rc;
}

/* ---- by name ---- */

int sp_load_format(sp_raw *r, const char *format, const char *path_a, const char *path_b,
                   const sp_load_opts *o) {
  if (!r || !format) return SP_FAIL(SP_EINVAL, "sp_load_format: NULL raw store or format");
  if (strcmp(format, "amazon2014") == 0) return sp_load_amazon2014(r, path_a, path_b, o);
  if (strcmp(format, "amazon") == 0) return sp_load_amazon_jsonl(r, path_a, path_b, o);
  if (strcmp(format, "yelp") == 0) return sp_load_yelp(r, path_a, path_b, o);
  if (strcmp(format, "recbole") == 0) return sp_load_recbole(r, path_a, path_b, o);
  if (strcmp(format, "plain") == 0) return sp_load_plain(r, path_a, path_b, o);
  return SP_FAIL(SP_EINVAL,
                 "unknown data format '%s' (known: amazon2014, amazon, yelp, recbole, plain)",
                 format);
}
