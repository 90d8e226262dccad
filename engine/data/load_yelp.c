/* load_yelp.c — the Yelp Open Dataset: review.json (user, business, local date read as UTC)
 * and business.json (name as the title, comma-separated categories). */
#include <string.h>

#include "internal.h"
#include "load_common.h"

static int review_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *user, *item;
  size_t ulen, ilen;
  char ubuf[32], ibuf[32];
  int64_t t;
  int got = sp_field_id(j, "user_id", ubuf, &user, &ulen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no user_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "user_id is not a string");
  if (ulen == 0) return sp_bad(c, SP_BAD_ID, "empty user_id");
  got = sp_field_id(j, "business_id", ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no business_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "business_id is not a string");
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty business_id");
  got = sp_field_time(j, "date", 1, 1, &t);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no date field");
  if (got < 0) return sp_bad(c, SP_BAD_TIME, "date is not \"YYYY-MM-DD HH:MM:SS\"");
  return sp_raw_event(c->r, user, ulen, item, ilen, t);
}

static int review_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  (void)state;
  return sp_object_line(c, line, len, 0, review_fields);
}

static int business_fields(const sp_line_ctx *c, const cJSON *j) {
  const char *item, *name = "";
  size_t ilen, nlen = 0;
  char ibuf[32];
  int got = sp_field_id(j, "business_id", ibuf, &item, &ilen);
  if (got == 0) return sp_bad(c, SP_BAD_MISSING, "no business_id field");
  if (got < 0) return sp_bad(c, SP_BAD_MISSING, "business_id is not a string");
  if (ilen == 0) return sp_bad(c, SP_BAD_ID, "empty business_id");
  if (sp_field_str(j, "name", &name, &nlen) < 0)
    return sp_bad(c, SP_BAD_MISSING, "name is not a string");
  const cJSON *cats = sp_field(j, "categories");
  if (cats && sp_check_categories(cats))
    return sp_bad(c, SP_BAD_MISSING, "categories is not a string or a list of strings");
  SP_TRY(sp_raw_item_title(c->r, item, ilen, name, nlen));
  if (cats && cJSON_IsString(cats))
    SP_TRY(sp_add_categories_split(c->r, item, ilen, cats->valuestring, strlen(cats->valuestring),
                                   ','));
  else if (cats)
    SP_TRY(sp_add_categories(c->r, item, ilen, cats));
  return SP_OK;
}

static int business_line(const sp_line_ctx *c, void *state, const char *line, size_t len) {
  (void)state;
  return sp_object_line(c, line, len, 0, business_fields);
}

int sp_load_yelp_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o) {
  if (!r || !a) return SP_FAIL(SP_EINVAL, "yelp loader: NULL raw store or reviews");
  int64_t before = r->n_events, bad_before = sp_bad_total(r);
  SP_TRY(sp_each_line(r, a, o, review_line, NULL));
  SP_TRY(sp_expect_events(r, a, before, bad_before));
  if (b) SP_TRY(sp_each_line(r, b, o, business_line, NULL));
  return SP_OK;
}

int sp_load_yelp(sp_raw *r, const char *reviews, const char *business, const sp_load_opts *o) {
  return sp_load_files(r, reviews, business, o, sp_load_yelp_lines);
}
