/* load_amazon.c — Amazon review data: the 2014 files (JSON reviews, Python-literal metadata)
 * and the 2018/2023 JSONL files, the layout of each line told apart by its field names. */
#include <string.h>

#include "internal.h"
#include "load_common.h"

static int review_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *user, *item;
  size_t ulen, ilen;
  char ubuf[32], ibuf[32];
  int64_t t;
  const char *user_key, *item_key, *time_key;
  int64_t scale;
  if (sp_field(j, "reviewerID")) { /* 2014 and 2018 */
    user_key = "reviewerID", item_key = "asin", time_key = "unixReviewTime", scale = 1;
  } else if (sp_field(j, "user_id")) { /* 2023: items are grouped under parent_asin */
    user_key = "user_id", item_key = sp_field(j, "parent_asin") ? "parent_asin" : "asin";
    time_key = "timestamp", scale = 1000;
  } else {
    return sp_bad(c, SP_BAD_MISSING, "no reviewerID (2014/2018) or user_id (2023) field");
  }
  int got = sp_field_id(j, user_key, ubuf, &user, &ulen);
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "%s is not a string", user_key);
  if (ulen == 0) return sp_bad(c, SP_BAD_ID, "empty %s", user_key);
  got = sp_field_id(j, item_key, ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no %s field", item_key);
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "%s is not a string", item_key);
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty %s", item_key);
  got = sp_field_time(j, time_key, scale, 0, &t);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no %s field", time_key);
  if (got < 0) return sp_bad(c, SP_BAD_TIME, "%s is not a valid time", time_key);
  return sp_raw_event(c->r, user, ulen, item, ilen, t);
}

static int review_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  (void)state;
  return sp_object_line(c, line, len, 0, review_fields);
}

static int meta_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *key_name = sp_field(j, "parent_asin") ? "parent_asin" : "asin";
  const char *item, *title = "", *brand = "";
  size_t ilen, tlen = 0, blen = 0;
  char ibuf[32];
  int got = sp_field_id(j, key_name, ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no asin or parent_asin field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "%s is not a string", key_name);
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty %s", key_name);
  if (sp_field_str(j, "title", &title, &tlen) < 0)
    return sp_bad(c, SP_BAD_MISSING, "title is not a string");
  const char *brand_key = sp_field(j, "brand") ? "brand" : "store";
  if (sp_field_str(j, brand_key, &brand, &blen) < 0)
    return sp_bad(c, SP_BAD_MISSING, "%s is not a string", brand_key);
  const cJSON *cats = sp_field(j, "categories");
  const char *cats_key = "categories";
  if (!cats) cats = sp_field(j, "category"), cats_key = "category";
  if (cats && sp_check_categories(cats))
    return sp_bad(c, SP_BAD_MISSING, "%s is not a list of strings or of lists of strings",
                  cats_key);
  /* the line is good: store its text */
  SP_TRY(sp_raw_item_title(c->r, item, ilen, title, tlen));
  SP_TRY(sp_raw_item_brand(c->r, item, ilen, brand, blen));
  if (cats) SP_TRY(sp_add_categories(c->r, item, ilen, cats));
  return SP_OK;
}

static int meta_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  return sp_object_line(c, line, len, *(const int *)state, meta_fields);
}

static int load(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o, int pylit) {
  if (!r || !a) return SP_FAIL(SP_EINVAL, "amazon loader: NULL raw store or reviews");
  int64_t before = r->n_events, bad_before = sp_bad_total(r);
  SP_TRY(sp_each_line(r, a, o, review_line, NULL));
  SP_TRY(sp_expect_events(r, a, before, bad_before));
  if (b) SP_TRY(sp_each_line(r, b, o, meta_line, &pylit));
  return SP_OK;
}

int sp_load_amazon2014_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o) {
  return load(r, a, b, o, 1);
}

int sp_load_amazon_jsonl_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o) {
  return load(r, a, b, o, 0);
}

int sp_load_amazon2014(sp_raw *r, const char *reviews, const char *meta, const sp_load_opts *o) {
  return sp_load_files(r, reviews, meta, o, sp_load_amazon2014_lines);
}

int sp_load_amazon_jsonl(sp_raw *r, const char *reviews, const char *meta, const sp_load_opts *o) {
  return sp_load_files(r, reviews, meta, o, sp_load_amazon_jsonl_lines);
}
