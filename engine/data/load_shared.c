/* load_shared.c — Amazon Beauty and Yelp from the preprocessed paper-repository files in
 * ../shared/datasets, joined by the rules their PROVENANCE.md documents and checks:
 *   Beauty: TiCoSeRec events (user k = P5 user k; item k = the k-th smallest ASIN), titles via
 *     item_id_to_int.json -> products_lookup.csv, attributes via S3Rec item2attributes with
 *     names from the P5 attribute ids that occur at least 5 times, in ascending order.
 *   Yelp: TiCoSeRec events mapped to P5 ids and Yelp ids by the derived TSV files; categories from
 *     closed_categories.json (general to specific) plus the S3Rec attribute names.
 * Within one day the true order of Beauty's reviews is lost upstream; the TiCoSeRec file
 * order is kept (documented in datasets/README.md). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "internal.h"

/* ---- small file helpers ---- */

static int slurp(const char *dir, const char *rel, char **out, size_t *len, char *path,
                 size_t path_cap) {
  snprintf(path, path_cap, "%s/%s", dir, rel);
  FILE *f = fopen(path, "rb");
  if (!f) return SP_FAIL(SP_EIO, "cannot read %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
  if (!buf) {
    fclose(f);
    return SP_FAIL(SP_ENOMEM, "cannot hold %s (%ld bytes)", path, n);
  }
  size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
  fclose(f);
  if (n < 0 || got != (size_t)n) {
    free(buf);
    return SP_FAIL(SP_EIO, "short read of %s", path);
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return SP_OK;
}

static int json_file(const char *dir, const char *rel, cJSON **out) {
  char path[4096], *buf;
  size_t len;
  SP_TRY(slurp(dir, rel, &buf, &len, path, sizeof path));
  *out = cJSON_ParseWithLength(buf, len);
  if (!*out) {
    const char *at = cJSON_GetErrorPtr();
    long off = at ? (long)(at - buf) : -1;
    free(buf);
    return SP_FAIL(SP_EFORMAT, "%s: invalid JSON near byte %ld", path, off);
  }
  free(buf);
  return SP_OK;
}

/* The children of a JSON object whose keys are integers, as an array indexed by the key
 * (cJSON's own lookup is a linear scan, far too slow for 20,000-key maps). */
static int index_by_int(cJSON *obj, const char *what, cJSON ***out, long *n) {
  long max = 0;
  for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
    char *end;
    long k = strtol(c->string, &end, 10);
    if (*end || k < 0)
      return SP_FAIL(SP_EFORMAT, "%s: key '%s' is not a non-negative integer", what, c->string);
    if (k > max) max = k;
  }
  *out = calloc((size_t)max + 1, sizeof **out);
  if (!*out) return SP_FAIL(SP_ENOMEM, "out of memory indexing %s", what);
  for (cJSON *c = obj ? obj->child : NULL; c; c = c->next) (*out)[strtol(c->string, NULL, 10)] = c;
  *n = max;
  return SP_OK;
}

/* Splits the next line off *cursor (NUL-terminating it); NULL at the end. */
static char *next_line(char **cursor) {
  char *s = *cursor;
  if (!s || !*s) return NULL;
  char *nl = strchr(s, '\n');
  if (nl) {
    *nl = '\0';
    *cursor = nl + 1;
  } else {
    *cursor = s + strlen(s);
  }
  size_t n = strlen(s);
  if (n && s[n - 1] == '\r') s[n - 1] = '\0';
  return s;
}

/* Reads whitespace-separated integers from a line into vals (grown as needed). */
static int parse_ints(const char *line, int64_t **vals, int64_t *cap, int64_t *n) {
  *n = 0;
  const char *p = line;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return SP_OK;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno || (*end && *end != ' ' && *end != '\t')) return SP_EFORMAT;
    if (*n == *cap) {
      int64_t c = *cap ? *cap * 2 : 256;
      int64_t *g = realloc(*vals, (size_t)c * sizeof *g);
      if (!g) return SP_ENOMEM;
      *vals = g, *cap = c;
    }
    (*vals)[(*n)++] = v;
    p = end;
  }
}

/* TiCoSeRec's aligned pair: "user item item ..." and "user time time ...". item_key maps
 * its item id to our item key, user_key its user id to our user key. */
typedef const char *(*id_to_key)(void *ctx, int64_t id);

static int load_ticoserec(sp_raw *raw, const char *dir, const char *items_rel,
                          const char *times_rel, id_to_key user_key, id_to_key item_key,
                          void *ctx) {
  char ipath[4096], tpath[4096], *ibuf = NULL, *tbuf = NULL;
  size_t ilen, tlen;
  int rc = slurp(dir, items_rel, &ibuf, &ilen, ipath, sizeof ipath);
  if (rc == SP_OK) rc = slurp(dir, times_rel, &tbuf, &tlen, tpath, sizeof tpath);
  int64_t *iv = NULL, *tv = NULL, icap = 0, tcap = 0, ni, nt;
  char *ic = ibuf, *tc = tbuf, *il, *tl;
  int64_t line = 0;
  while (rc == SP_OK && (il = next_line(&ic)) != NULL) {
    line++;
    tl = next_line(&tc);
    raw->lines_read++;
    if (!tl) {
      rc = SP_FAIL(SP_EFORMAT, "%s:%lld: no matching line in %s", ipath, (long long)line, tpath);
      break;
    }
    if (parse_ints(il, &iv, &icap, &ni) != SP_OK || parse_ints(tl, &tv, &tcap, &nt) != SP_OK) {
      rc = SP_FAIL(SP_EFORMAT, "%s:%lld / %s:%lld: not a line of integers", ipath, (long long)line,
                   tpath, (long long)line);
      break;
    }
    if (ni == 0 && nt == 0) continue;
    if (ni != nt || ni < 2 || iv[0] != tv[0]) {
      rc = SP_FAIL(SP_EFORMAT, "%s:%lld and %s:%lld are not aligned (%lld vs %lld fields)", ipath,
                   (long long)line, tpath, (long long)line, (long long)ni, (long long)nt);
      break;
    }
    const char *u = user_key(ctx, iv[0]);
    if (!u) {
      rc = SP_FAIL(SP_EFORMAT, "%s:%lld: unknown user id %lld", ipath, (long long)line,
                   (long long)iv[0]);
      break;
    }
    for (int64_t k = 1; k < ni && rc == SP_OK; k++) {
      const char *it = item_key(ctx, iv[k]);
      if (!it) {
        rc = SP_FAIL(SP_EFORMAT, "%s:%lld: unknown item id %lld", ipath, (long long)line,
                     (long long)iv[k]);
        break;
      }
      rc = sp_raw_event(raw, u, strlen(u), it, strlen(it), tv[k]);
    }
  }
  if (rc == SP_OK && tc && next_line(&tc))
    rc = SP_FAIL(SP_EFORMAT, "%s has more lines than %s", tpath, ipath);
  free(iv), free(tv), free(ibuf), free(tbuf);
  return rc;
}

/* ---- Amazon Beauty ---- */

typedef struct {
  cJSON *datamaps;
  char **asins; /* (n_asins) sorted: TiCoSeRec item k is asins[k - 1] */
  int n_asins;
  cJSON **id2user; /* (n_users + 1) */
  long n_users;
} beauty_ctx;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *beauty_user(void *p, int64_t id) {
  beauty_ctx *c = p;
  cJSON *u = id >= 0 && id <= c->n_users ? c->id2user[id] : NULL;
  return cJSON_IsString(u) ? u->valuestring : NULL;
}

static const char *beauty_item(void *p, int64_t id) {
  beauty_ctx *c = p;
  return id >= 1 && id <= c->n_asins ? c->asins[id - 1] : NULL;
}

/* One CSV field starting at *p (quotes with "" escapes); advances past the comma. */
static char *csv_field(char **p) {
  char *s = *p, *out = s;
  if (*s == '"') {
    char *w = s, *r = s + 1;
    for (;;) {
      if (!*r) break;
      if (*r == '"' && r[1] == '"')
        *w++ = '"', r += 2;
      else if (*r == '"') {
        r++;
        break;
      } else
        *w++ = *r++;
    }
    *w = '\0';
    *p = *r == ',' ? r + 1 : r;
    return out;
  }
  char *comma = strchr(s, ',');
  if (comma) {
    *comma = '\0';
    *p = comma + 1;
  } else {
    *p = s + strlen(s);
  }
  return out;
}

/* Position of an ASIN in the sorted list, or -1. */
static int asin_index(const beauty_ctx *c, const char *asin) {
  char **hit = bsearch(&asin, c->asins, (size_t)c->n_asins, sizeof *c->asins, cmp_str);
  return hit ? (int)(hit - c->asins) : -1;
}

static int beauty_text(sp_raw *raw, const char *dir, beauty_ctx *c) {
  int rc;
  cJSON *to_int = NULL, *attrs = NULL;
  cJSON **attrs_of = NULL, **attr_name = NULL, **freq_of = NULL;
  long n_attrs_of = 0, n_attr_name = 0, n_freq = 0;
  char path[4096], *csv = NULL;
  size_t len;
  char **title_of = NULL;                           /* by global_product_id */
  long *kept = NULL, *gid_of = NULL, *p5_of = NULL; /* by ASIN index */
  uint8_t *is_category = NULL;
  if ((rc = json_file(dir, "raw/llm-seqrec/item_id_to_int.json", &to_int)) != SP_OK) goto done;
  if ((rc = slurp(dir, "raw/llm-seqrec/products_lookup.csv", &csv, &len, path, sizeof path)) !=
      SP_OK)
    goto done;
  int n_products = cJSON_GetArraySize(to_int);
  title_of = calloc((size_t)n_products + 1, sizeof *title_of);
  gid_of = malloc((size_t)c->n_asins * sizeof *gid_of + 1);
  p5_of = malloc((size_t)c->n_asins * sizeof *p5_of + 1);
  if (!title_of || !gid_of || !p5_of) {
    rc = SP_FAIL(SP_ENOMEM, "out of memory for titles");
    goto done;
  }
  for (int k = 0; k < c->n_asins; k++) gid_of[k] = p5_of[k] = -1;
  for (cJSON *g = to_int->child; g; g = g->next) {
    int k = asin_index(c, g->string);
    if (k >= 0 && cJSON_IsNumber(g)) gid_of[k] = (long)g->valuedouble;
  }
  for (cJSON *g = cJSON_GetObjectItemCaseSensitive(c->datamaps, "item2id")->child; g; g = g->next) {
    int k = asin_index(c, g->string);
    if (k >= 0 && cJSON_IsString(g)) p5_of[k] = strtol(g->valuestring, NULL, 10);
  }
  char *cur = csv, *line = next_line(&cur); /* header */
  int64_t ln = 1;
  while ((line = next_line(&cur)) != NULL) {
    ln++;
    if (!*line) continue;
    char *p = line;
    csv_field(&p);
    char *gid = csv_field(&p), *name = csv_field(&p), *end;
    long g = strtol(gid, &end, 10);
    if (end == gid || *end || g < 0 || g >= n_products) {
      rc = SP_FAIL(SP_EFORMAT, "%s:%lld: bad global_product_id '%s'", path, (long long)ln, gid);
      goto done;
    }
    title_of[g] = name;
  }
  /* attribute names: P5 ids ascending with frequency >= 5; the j-th is S3Rec attribute j */
  if ((rc = index_by_int(cJSON_GetObjectItemCaseSensitive(c->datamaps, "id2attribute"),
                         "id2attribute", &attr_name, &n_attr_name)) != SP_OK)
    goto done;
  if ((rc = index_by_int(cJSON_GetObjectItemCaseSensitive(c->datamaps, "attributeid2num"),
                         "attributeid2num", &freq_of, &n_freq)) != SP_OK)
    goto done;
  int n_kept = 0;
  kept = malloc((size_t)(n_attr_name + 1) * sizeof *kept);
  if (!kept) {
    rc = SP_FAIL(SP_ENOMEM, "out of memory for attributes");
    goto done;
  }
  for (long a = 0; a <= n_attr_name && a <= n_freq; a++)
    if (attr_name[a] && cJSON_IsNumber(freq_of[a]) && freq_of[a]->valuedouble >= 5)
      kept[n_kept++] = a;
  if ((rc = json_file(dir, "raw/s3rec/Beauty_item2attributes.json", &attrs)) != SP_OK) goto done;
  if ((rc = index_by_int(attrs, "Beauty_item2attributes.json", &attrs_of, &n_attrs_of)) != SP_OK)
    goto done;
  /* Brand or category? Both come in one list, a brand first when the item has one. A name
   * seen after the first position anywhere is a category; a first name never seen there is
   * taken as the brand. */
  is_category = calloc((size_t)n_kept + 1, 1);
  if (!is_category) {
    rc = SP_FAIL(SP_ENOMEM, "out of memory");
    goto done;
  }
  for (cJSON *it = attrs->child; it; it = it->next) {
    int pos = 0;
    for (cJSON *a = it->child; a; a = a->next, pos++)
      if (pos > 0 && cJSON_IsNumber(a) && a->valueint >= 1 && a->valueint <= n_kept)
        is_category[a->valueint] = 1;
  }
  for (int k = 0; k < c->n_asins && rc == SP_OK; k++) {
    const char *asin = c->asins[k];
    size_t alen = strlen(asin);
    long g = gid_of[k];
    if (g >= 0 && g < n_products && title_of[g])
      rc = sp_raw_item_title(raw, asin, alen, title_of[g], strlen(title_of[g]));
    cJSON *list = p5_of[k] >= 0 && p5_of[k] <= n_attrs_of ? attrs_of[p5_of[k]] : NULL;
    int pos = 0;
    for (cJSON *a = list ? list->child : NULL; a && rc == SP_OK; a = a->next, pos++) {
      if (!cJSON_IsNumber(a) || a->valueint < 1 || a->valueint > n_kept) continue;
      cJSON *name = attr_name[kept[a->valueint - 1]];
      if (!cJSON_IsString(name)) continue;
      if (pos == 0 && !is_category[a->valueint])
        rc = sp_raw_item_brand(raw, asin, alen, name->valuestring, strlen(name->valuestring));
      else
        rc = sp_raw_item_category(raw, asin, alen, name->valuestring, strlen(name->valuestring));
    }
  }
done:
  free(is_category), free(kept), free(title_of), free(csv), free(gid_of), free(p5_of);
  free(attrs_of), free(attr_name), free(freq_of);
  cJSON_Delete(to_int);
  cJSON_Delete(attrs);
  return rc;
}

int sp_load_beauty_shared(sp_raw *raw, const char *dir) {
  beauty_ctx c = {0};
  int rc = json_file(dir, "raw/p5_llm-recsys-id/datamaps.json", &c.datamaps);
  if (rc != SP_OK) return rc;
  cJSON *item2id = cJSON_GetObjectItemCaseSensitive(c.datamaps, "item2id");
  c.n_asins = cJSON_GetArraySize(item2id);
  c.asins = malloc((size_t)(c.n_asins + 1) * sizeof *c.asins);
  if (!c.asins) rc = SP_FAIL(SP_ENOMEM, "out of memory");
  int k = 0;
  for (cJSON *a = item2id ? item2id->child : NULL; a && rc == SP_OK; a = a->next)
    c.asins[k++] = a->string;
  if (rc == SP_OK)
    rc = index_by_int(cJSON_GetObjectItemCaseSensitive(c.datamaps, "id2user"), "id2user",
                      &c.id2user, &c.n_users);
  if (rc == SP_OK) {
    qsort(c.asins, (size_t)c.n_asins, sizeof *c.asins, cmp_str);
    rc = load_ticoserec(raw, dir, "raw/ticoserec/Beauty_item_org_rank.txt",
                        "raw/ticoserec/Beauty_time_org_rank.txt", beauty_user, beauty_item, &c);
  }
  if (rc == SP_OK) rc = beauty_text(raw, dir, &c);
  free(c.asins);
  free(c.id2user);
  cJSON_Delete(c.datamaps);
  return rc;
}

/* ---- Yelp ---- */

typedef struct {
  char **user_of, **item_of; /* TiCoSeRec id -> Yelp id */
  long *p5_of;               /* TiCoSeRec item id -> P5 item id */
  long n_users, n_items;
  char *ubuf, *ibuf;
} yelp_ctx;

static const char *yelp_user(void *p, int64_t id) {
  yelp_ctx *c = p;
  return id >= 1 && id <= c->n_users ? c->user_of[id] : NULL;
}
static const char *yelp_item(void *p, int64_t id) {
  yelp_ctx *c = p;
  return id >= 1 && id <= c->n_items ? c->item_of[id] : NULL;
}

/* derived/ticoserec_to_p5_{user,item}_ids.tsv: "ticoserec_id  p5_id  yelp_id  ambiguous", with a
 * header. */
static int yelp_map(const char *dir, const char *rel, char **buf, char ***yelp_of, long **p5_of,
                    long *n) {
  char path[4096];
  size_t len;
  SP_TRY(slurp(dir, rel, buf, &len, path, sizeof path));
  long lines = 0;
  for (size_t i = 0; i < len; i++) lines += (*buf)[i] == '\n';
  *yelp_of = calloc((size_t)lines + 2, sizeof **yelp_of);
  if (p5_of) *p5_of = calloc((size_t)lines + 2, sizeof **p5_of);
  if (!*yelp_of || (p5_of && !*p5_of)) return SP_FAIL(SP_ENOMEM, "out of memory");
  char *cur = *buf, *line = next_line(&cur);
  long ln = 1;
  *n = 0;
  while ((line = next_line(&cur)) != NULL) {
    ln++;
    if (!*line) continue;
    char *f[4] = {line, NULL, NULL, NULL};
    for (int k = 1; k < 4; k++) {
      char *tab = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
      if (tab) *tab = '\0', f[k] = tab + 1;
    }
    char *end;
    long id = strtol(f[0], &end, 10);
    if (!f[2] || *end || id < 1 || id > lines)
      return SP_FAIL(SP_EFORMAT, "%s:%ld: expected 4 tab-separated columns", path, ln);
    (*yelp_of)[id] = f[2];
    if (p5_of) (*p5_of)[id] = strtol(f[1], NULL, 10);
    if (id > *n) *n = id;
  }
  return SP_OK;
}

int sp_load_yelp_shared(sp_raw *raw, const char *dir) {
  yelp_ctx c = {0};
  cJSON *closed = NULL, *attrs = NULL, *datamaps = NULL;
  long n_p5 = 0;
  int rc =
      yelp_map(dir, "derived/ticoserec_to_p5_user_ids.tsv", &c.ubuf, &c.user_of, NULL, &c.n_users);
  if (rc == SP_OK)
    rc = yelp_map(dir, "derived/ticoserec_to_p5_item_ids.tsv", &c.ibuf, &c.item_of, &c.p5_of,
                  &c.n_items);
  (void)n_p5;
  if (rc == SP_OK)
    rc = load_ticoserec(raw, dir, "raw/ticoserec/Yelp_item_org_rank.txt",
                        "raw/ticoserec/Yelp_time_org_rank.txt", yelp_user, yelp_item, &c);
  if (rc == SP_OK) rc = json_file(dir, "raw/p5_llm-recsys-id/closed_categories.json", &closed);
  if (rc == SP_OK) rc = json_file(dir, "raw/s3rec/Yelp_item2attributes.json", &attrs);
  if (rc == SP_OK) rc = json_file(dir, "raw/p5_llm-recsys-id/datamaps.json", &datamaps);
  cJSON **closed_of = NULL, **attrs_of = NULL, **attr_name = NULL;
  long n_closed = 0, n_attrs = 0, n_names = 0;
  if (rc == SP_OK) rc = index_by_int(closed, "closed_categories.json", &closed_of, &n_closed);
  if (rc == SP_OK) rc = index_by_int(attrs, "Yelp_item2attributes.json", &attrs_of, &n_attrs);
  if (rc == SP_OK)
    rc = index_by_int(cJSON_GetObjectItemCaseSensitive(datamaps, "id2attribute"), "id2attribute",
                      &attr_name, &n_names);
  for (long t = 1; rc == SP_OK && t <= c.n_items; t++) {
    const char *biz = c.item_of[t];
    long p5 = c.p5_of[t];
    if (!biz) continue;
    cJSON *hier = p5 >= 0 && p5 <= n_closed ? closed_of[p5] : NULL;
    for (cJSON *cat = hier ? hier->child : NULL; cat && rc == SP_OK; cat = cat->next)
      if (cJSON_IsString(cat))
        rc =
            sp_raw_item_category(raw, biz, strlen(biz), cat->valuestring, strlen(cat->valuestring));
    cJSON *list = p5 >= 0 && p5 <= n_attrs ? attrs_of[p5] : NULL;
    for (cJSON *a = list ? list->child : NULL; a && rc == SP_OK; a = a->next) {
      cJSON *name = cJSON_IsNumber(a) && a->valueint >= 0 && a->valueint <= n_names
                        ? attr_name[a->valueint]
                        : NULL;
      if (cJSON_IsString(name))
        rc = sp_raw_item_category(raw, biz, strlen(biz), name->valuestring,
                                  strlen(name->valuestring));
    }
  }
  free(closed_of), free(attrs_of), free(attr_name);
  cJSON_Delete(closed), cJSON_Delete(attrs), cJSON_Delete(datamaps);
  free(c.user_of), free(c.item_of), free(c.p5_of), free(c.ubuf), free(c.ibuf);
  return rc;
}
