/* test_loaders.c — the loaders for the data people bring, on small fixtures written in the
 * upstream formats (tests/fixtures/data; gzip'd, CRLF and BOM variants made at test time):
 * exact events and item text, every bad-input path (failing with file:line by default,
 * counted when skipping), and the Python-literal parser on a table of cases. */
#include <stdarg.h>
#include <unistd.h>

#include "harness.h"

#include "loaders.h"
#include "pylit.h"

/* ---- helpers ---- */

static const char *fixture(const char *rel) {
  static char buf[4][1024];
  static int k;
  char *out = buf[k++ % 4];
  const char *here = __FILE__; /* .../tests/c/test_loaders.c */
  const char *slash = strrchr(here, '/');
  int dir_len = slash ? (int)(slash - here) : 1;
  snprintf(out, sizeof buf[0], "%.*s/../fixtures/data/%s", dir_len, slash ? here : ".", rel);
  return out;
}

static const char *tmp_path(const char *name) {
  static char buf[4][256];
  static int k;
  char *out = buf[k++ % 4];
  snprintf(out, sizeof buf[0], "/tmp/sprint_loaders_%ld_%s", (long)getpid(), name);
  return out;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert(f, "cannot write %s", path);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

/* Writes content to a temporary file and returns its path. */
static const char *tmp_file(const char *name, const char *content) {
  const char *p = tmp_path(name);
  write_bytes(p, content, strlen(content));
  return p;
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  char *b = malloc((size_t)len + 1);
  cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  b[len] = '\0';
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* A gzip file with stored (uncompressed) deflate blocks: enough for zlib to read, and no
 * compressor needed in the test. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void write_gzip(const char *path, const char *data, size_t n, int truncate) {
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  fwrite(head, 1, 10, f);
  size_t at = 0;
  do {
    size_t k = n - at > 65535 ? 65535 : n - at;
    unsigned char bh[5] = {at + k == n ? 1 : 0, (unsigned char)(k & 0xFF), (unsigned char)(k >> 8),
                           (unsigned char)(~k & 0xFF), (unsigned char)((~k >> 8) & 0xFF)};
    fwrite(bh, 1, 5, f);
    fwrite(data + at, 1, truncate && at + k == n ? k / 2 : k, f);
    at += k;
  } while (at < n);
  if (!truncate) {
    uint32_t crc = crc32_of((const unsigned char *)data, n), size = (uint32_t)n;
    unsigned char tail[8];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (8 * i));
    for (int i = 0; i < 4; i++) tail[4 + i] = (unsigned char)(size >> (8 * i));
    fwrite(tail, 1, 8, f);
  }
  fclose(f);
}

/* Events as "user item time\n" lines, in load order. */
static char *events(const sp_raw *r) {
  size_t cap = 64 + (size_t)r->n_events * 128, len = 0;
  char *s = malloc(cap);
  s[0] = '\0';
  for (int64_t e = 0; e < r->n_events; e++)
    len += (size_t)snprintf(s + len, cap - len, "%s %s %lld\n",
                            sp_strtab_get(&r->users, r->ev_user[e]),
                            sp_strtab_get(&r->items, r->ev_item[e]), (long long)r->ev_time[e]);
  return s;
}

static int32_t item(const sp_raw *r, const char *key) {
  return sp_strtab_find(&r->items, key, strlen(key));
}

static const char *title(const sp_raw *r, const char *key) {
  int32_t id = item(r, key);
  cr_assert(id >= 0, "no item %s", key);
  return r->title[id] >= 0 ? sp_strtab_get(&r->text, r->title[id]) : "(none)";
}

static const char *brand(const sp_raw *r, const char *key) {
  int32_t id = item(r, key);
  cr_assert(id >= 0, "no item %s", key);
  return r->brand[id] >= 0 ? sp_strtab_get(&r->text, r->brand[id]) : "(none)";
}

/* Categories joined with '|'. */
static const char *cats(const sp_raw *r, const char *key) {
  static char buf[1024];
  int32_t id = item(r, key);
  cr_assert(id >= 0, "no item %s", key);
  buf[0] = '\0';
  const int32_t *c = r->categories[id];
  for (int32_t k = 1; c && k <= c[0]; k++) {
    if (k > 1) strcat(buf, "|");
    strcat(buf, sp_strtab_get(&r->text, c[k]));
  }
  return buf;
}

static const sp_load_opts strict = {0}, skipping = {1};

typedef int (*loader_fn)(sp_raw *, const char *, const char *, const sp_load_opts *);

static sp_raw *load_ok(loader_fn fn, const char *a, const char *b, const sp_load_opts *o) {
  sp_raw *r;
  cr_assert_eq(sp_raw_new(&r), SP_OK);
  int rc = fn(r, a, b, o);
  cr_assert_eq(rc, SP_OK, "load failed: %s", sp_last_error());
  return r;
}

static int64_t bad_total(const sp_raw *r) {
  int64_t n = 0;
  for (int c = 0; c < SP_BAD_CAUSES; c++) n += r->bad[c];
  return n;
}

/* ---- each loader on its fixtures ---- */

static void check_amazon2014(const sp_raw *r) {
  char *ev = events(r);
  cr_expect_str_eq(ev,
                   "A1YJEY40YUW4SE 7806397051 1391040000\n"
                   "A60XNB876KYML 7806397051 1397779200\n"
                   "A1YJEY40YUW4SE B00004TMFE 1391040000\n"
                   "A3G6XNM240RMWA 9790787006 1378425600\n"
                   "A3G6XNM240RMWA B00EMPTYTL 1378425600\n");
  free(ev);
  cr_expect_eq(r->events_are_sessions, 0);
  cr_expect_str_eq(title(r, "7806397051"), "Cosmetic Eyeshadow Palette 24 Colors");
  cr_expect_str_eq(brand(r, "7806397051"), "Cosmetic");
  cr_expect_str_eq(cats(r, "7806397051"), "Beauty|Makeup|Eyes|Eye Shadow|Makeup Palettes");
  cr_expect_str_eq(title(r, "B00004TMFE"),
                   "Avalon Biotin B-Complex Thickening Conditioner, 14-Ounce Bottles (Pack of 2)");
  cr_expect_str_eq(brand(r, "B00004TMFE"), "Avalon Organics");
  cr_expect_str_eq(cats(r, "B00004TMFE"), "Beauty|Hair Care|Conditioners");
  /* Python 2 wrote UTF-8 bytes as \xhh escapes */
  cr_expect_str_eq(title(r, "9790787006"), "Caf\xc3\xa9 Mocha Lip Balm \xe2\x80\x93 Men's");
  cr_expect_str_eq(brand(r, "9790787006"), "(none)");
  cr_expect_str_eq(cats(r, "9790787006"), "Beauty");
  cr_expect_str_eq(title(r, "B00EMPTYTL"), "(none)", "an empty title is not stored");
  cr_expect_str_eq(brand(r, "B00EMPTYTL"), "Nivea");
  cr_expect_str_eq(cats(r, "B00EMPTYTL"), "");
  /* metadata for an item nobody reviewed is kept for the pipeline to drop and count */
  cr_expect_str_eq(title(r, "B000UNKNOWN"), "Never Reviewed");
  cr_expect_eq(r->items.count, 5);
  cr_expect_eq(r->users.count, 3);
  cr_expect_eq(r->lines_read, 10);
  cr_expect_eq(bad_total(r), 0);
}

Test(loaders, amazon2014_reviews_and_python_literal_meta) {
  sp_raw *r = load_ok(sp_load_amazon2014, fixture("amazon2014/reviews_Tiny_5.json"),
                      fixture("amazon2014/meta_Tiny.json"), &strict);
  check_amazon2014(r);
  sp_raw_free(r);
  /* without metadata: events only */
  r = load_ok(sp_load_amazon2014, fixture("amazon2014/reviews_Tiny_5.json"), NULL, NULL);
  cr_expect_eq(r->n_events, 5);
  cr_expect_str_eq(title(r, "7806397051"), "(none)");
  sp_raw_free(r);
}

Test(loaders, gzip_crlf_and_bom_are_transparent) {
  size_t nr, nm;
  char *rev = slurp(fixture("amazon2014/reviews_Tiny_5.json"), &nr);
  char *meta = slurp(fixture("amazon2014/meta_Tiny.json"), &nm);
  /* CRLF line ends and a BOM on the metadata, gzip on both (the name does not matter) */
  char *crlf = malloc(nm * 2 + 4);
  size_t k = 0;
  memcpy(crlf, "\xEF\xBB\xBF", 3), k = 3;
  for (size_t i = 0; i < nm; i++) {
    if (meta[i] == '\n') crlf[k++] = '\r';
    crlf[k++] = meta[i];
  }
  const char *rgz = tmp_path("reviews.json.gz"), *mgz = tmp_path("meta.json");
  write_gzip(rgz, rev, nr, 0);
  write_gzip(mgz, crlf, k, 0);
  sp_raw *r = load_ok(sp_load_amazon2014, rgz, mgz, &strict);
  check_amazon2014(r);
  sp_raw_free(r);
  /* a BOM and CRLF in plain text too */
  const char *plain = tmp_path("meta_crlf.json");
  write_bytes(plain, crlf, k);
  r = load_ok(sp_load_amazon2014, fixture("amazon2014/reviews_Tiny_5.json"), plain, &strict);
  check_amazon2014(r);
  sp_raw_free(r);
  /* a truncated gzip file is an error naming the file, even when skipping bad lines */
  write_gzip(rgz, rev, nr, 1);
  cr_assert_eq(sp_raw_new(&r), SP_OK);
  expect_error(sp_load_amazon2014(r, rgz, NULL, &skipping), SP_EFORMAT, rgz);
  cr_expect(strstr(sp_last_error(), "gzip") != NULL, "%s", sp_last_error());
  sp_raw_free(r);
  unlink(rgz), unlink(mgz), unlink(plain);
  free(rev), free(meta), free(crlf);
}

Test(loaders, long_lines_are_read_whole) {
  size_t n = 300000;
  char *line = malloc(n + 256);
  int k = sprintf(
      line, "{\"reviewerID\": \"U1\", \"asin\": \"I1\", \"unixReviewTime\": 7, \"reviewText\": \"");
  memset(line + k, 'x', n);
  strcpy(line + k + n, "\"}\n{\"reviewerID\": \"U2\", \"asin\": \"I1\", \"unixReviewTime\": 8}");
  const char *p = tmp_file("long.json", line);
  sp_raw *r = load_ok(sp_load_amazon_jsonl, p, NULL, &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev, "U1 I1 7\nU2 I1 8\n");
  free(ev);
  sp_raw_free(r);
  unlink(p);
  free(line);
}

Test(loaders, amazon2018_jsonl) {
  sp_raw *r = load_ok(sp_load_amazon_jsonl, fixture("amazon2018/reviews_Tiny.json"),
                      fixture("amazon2018/meta_Tiny.json"), &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev,
                   "A3CIUOJXQ5VDQ2 B0000530HU 1472688000\nA3H7T87S984REU B0000530HU 1384387200\n");
  free(ev);
  cr_expect_str_eq(title(r, "B0000530HU"), "Nivea Men Sensitive Shave Gel, 7 oz");
  cr_expect_str_eq(brand(r, "B0000530HU"), "Nivea");
  cr_expect_str_eq(cats(r, "B0000530HU"), "Beauty|Skin Care|Shaving");
  sp_raw_free(r);
}

Test(loaders, amazon2023_jsonl_milliseconds_and_parent_asin) {
  sp_raw *r = load_ok(sp_load_amazon_jsonl, fixture("amazon2023/All_Beauty.jsonl"),
                      fixture("amazon2023/meta_All_Beauty.jsonl"), &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev,
                   "AGKHLEW2SOWHNMFQIJGBECAF7INQ B00YQ6X8EO 1588687728\n"
                   "AGKHLEW2SOWHNMFQIJGBECAF7INQ B08BBQ29N5 1588615855\n");
  free(ev);
  cr_expect_eq(item(r, "B081TJ8YS3"), -1, "items are grouped under parent_asin");
  cr_expect_str_eq(title(r, "B00YQ6X8EO"), "Herbivore - Natural Sea Mist Texturizing Salt Spray");
  cr_expect_str_eq(brand(r, "B00YQ6X8EO"), "Herbivore", "store is the brand");
  cr_expect_str_eq(cats(r, "B00YQ6X8EO"), "");
  cr_expect_str_eq(title(r, "B08BBQ29N5"), "Lilyana Naturals Organic Rosehip Oil", "trimmed");
  cr_expect_str_eq(brand(r, "B08BBQ29N5"), "(none)", "store: null");
  cr_expect_str_eq(cats(r, "B08BBQ29N5"), "Beauty & Personal Care|Skin Care|Face");
  sp_raw_free(r);
}

Test(loaders, amazon_variants_detected_per_line) {
  const char *a = tmp_file("mixed.json",
                           "{\"reviewerID\": \"U1\", \"asin\": \"A\", \"unixReviewTime\": 100}\n"
                           "{\"user_id\": \"U2\", \"asin\": \"B\", \"timestamp\": 200999}\n"
                           "{\"user_id\": \"U3\", \"asin\": \"C\", \"parent_asin\": \"P\", "
                           "\"timestamp\": 3000}\n");
  const char *b = tmp_file("mixed_meta.json",
                           "{'asin': 'A', 'title': 'lit'}\n"
                           "{\"parent_asin\": \"P\", \"title\": \"json\"}\n");
  sp_raw *r = load_ok(sp_load_amazon2014, a, b, &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev, "U1 A 100\nU2 B 200\nU3 P 3\n");
  free(ev);
  cr_expect_str_eq(title(r, "A"), "lit");
  cr_expect_str_eq(title(r, "P"), "json", "a JSON meta line is read as JSON");
  sp_raw_free(r);
  unlink(a), unlink(b);
}

Test(loaders, yelp_reviews_and_business) {
  sp_raw *r =
      load_ok(sp_load_yelp, fixture("yelp/review.json"), fixture("yelp/business.json"), &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev,
                   "mh_-eMZ6K5RLWhZyISBhwA XQfwVwDr-v0ZS3_CbbE5Xw 1531001351\n"
                   "OyoGAe7OKpv6SyGZT5g77Q 7ATYjTIgM3jUlt4UM3IypQ 1325600571\n"
                   "mh_-eMZ6K5RLWhZyISBhwA 7ATYjTIgM3jUlt4UM3IypQ 1546300809\n");
  free(ev);
  cr_expect_str_eq(title(r, "XQfwVwDr-v0ZS3_CbbE5Xw"), "Turning Point of North Wales");
  cr_expect_str_eq(cats(r, "XQfwVwDr-v0ZS3_CbbE5Xw"),
                   "Restaurants|Breakfast & Brunch|Food|Juice Bars & Smoothies|American (New)|"
                   "Coffee & Tea|Sandwiches");
  cr_expect_str_eq(title(r, "7ATYjTIgM3jUlt4UM3IypQ"), "Body Cycle Spinning Studio");
  cr_expect_str_eq(cats(r, "7ATYjTIgM3jUlt4UM3IypQ"), "", "categories: null");
  cr_expect_eq(r->lines_read, 5);
  sp_raw_free(r);
}

Test(loaders, recbole_user_inter_and_movie_item) {
  sp_raw *r = load_ok(sp_load_recbole, fixture("recbole/ml-tiny.inter"),
                      fixture("recbole/ml-tiny.item"), &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev, "1 1193 978300760\n1 661 978302109\n2 1357 978298709\n");
  free(ev);
  cr_expect_eq(r->events_are_sessions, 0);
  cr_expect_str_eq(title(r, "1193"), "One Flew Over the Cuckoo's Nest");
  cr_expect_str_eq(cats(r, "1193"), "Drama");
  cr_expect_str_eq(cats(r, "661"), "Animation|Children's|Musical", "token_seq splits at spaces");
  cr_expect_str_eq(title(r, "1357"), "(none)", "no .item row: no text");
  sp_raw_free(r);
}

Test(loaders, recbole_sessions_and_amazon_style_item) {
  sp_raw *r = load_ok(sp_load_recbole, fixture("recbole/diginetica-tiny.inter"),
                      fixture("recbole/diginetica-tiny.item"), &strict);
  char *ev = events(r);
  cr_expect_str_eq(ev, "1 81766 1462752000\n1 31331 1462752060\n2 32118 1462838400\n");
  free(ev);
  cr_expect_eq(r->events_are_sessions, 1);
  cr_expect_str_eq(title(r, "81766"), "Glow Serum");
  cr_expect_str_eq(brand(r, "81766"), "GlowCo");
  cr_expect_str_eq(cats(r, "81766"), "Beauty|Skin Care|Face");
  cr_expect_str_eq(title(r, "31331"), "Plain Soap");
  cr_expect_str_eq(brand(r, "31331"), "(none)");
  cr_expect_str_eq(cats(r, "31331"), "Bath|Soap");
  sp_raw_free(r);
}

static void check_plain(const sp_raw *r, const char *s2) {
  char *ev = events(r), want[256];
  snprintf(want, sizeof want, "s1 i1 1500000000\ns1 i2 1500000010\n%s i3 1499990400\n", s2);
  cr_expect_str_eq(ev, want);
  free(ev);
  cr_expect_eq(r->events_are_sessions, 1);
  cr_expect_str_eq(title(r, "i1"), "Red Shoes");
  cr_expect_str_eq(brand(r, "i1"), "Acme");
  cr_expect_str_eq(cats(r, "i1"), "Shoes|Red");
  cr_expect_str_eq(title(r, "i2"), "Blue Hat");
  cr_expect_str_eq(brand(r, "i2"), "(none)");
  cr_expect_str_eq(cats(r, "i2"), "Hats");
  cr_expect_str_eq(title(r, "i3"), "(none)");
  cr_expect_str_eq(brand(r, "i3"), "Acme");
  cr_expect_str_eq(cats(r, "i3"), "");
}

Test(loaders, plain_tsv_and_jsonl) {
  sp_raw *r =
      load_ok(sp_load_plain, fixture("plain/sessions.tsv"), fixture("plain/items.tsv"), &strict);
  check_plain(r, "s2");
  sp_raw_free(r);
  r = load_ok(sp_load_plain, fixture("plain/sessions.jsonl"), fixture("plain/items.jsonl"),
              &strict);
  check_plain(r, "2");
  sp_raw_free(r);
  /* mixed: TSV sessions, JSONL items, and the loader chosen by name */
  cr_assert_eq(sp_raw_new(&r), SP_OK);
  cr_assert_eq(
      sp_load_format(r, "plain", fixture("plain/sessions.tsv"), fixture("plain/items.jsonl"), NULL),
      SP_OK, "%s", sp_last_error());
  check_plain(r, "s2");
  expect_error(sp_load_format(r, "parquet", "x", NULL, NULL), SP_EINVAL, "unknown data format");
  sp_raw_free(r);
}

/* ---- bad input: each case fails by default naming file and line, and is counted when
 * skipping (the good lines still load) ---- */

typedef struct {
  const char *name;
  loader_fn fn;
  const char *a, *b; /* file contents; b may be NULL */
  int bad_in_b;      /* the bad line is in b */
  int line;
  sp_bad_cause cause;
  const char *what; /* part of the message */
} bad_case;

#define REVIEW_OK "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n"
#define YELP_OK "{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-05-01 10:00:00\"}\n"
#define RECBOLE_OK "user_id:token\titem_id:token\ttimestamp:float\nu\ti\t5\n"
#define PLAIN_TSV_OK "session_id\titem_id\ttimestamp\ns\ti\t5\n"
#define PLAIN_JSONL_OK "{\"session_id\": \"s\", \"item_id\": \"i\", \"timestamp\": 5}\n"

static const bad_case bad_cases[] = {
    /* Amazon */
    {"amazon bad JSON", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n{\"reviewerID\": \"V\", "
     "\"asin\": \n",
     NULL, 0, 2, SP_BAD_SYNTAX, "bad JSON at column"},
    {"amazon trailing garbage", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5} x\n{\"reviewerID\": \"U\", "
     "\"asin\": \"I\", \"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_SYNTAX, "bad JSON: unexpected text after the object at column 54"},
    {"amazon not an object", sp_load_amazon_jsonl,
     "[1, 2]\n{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n", NULL, 0, 1,
     SP_BAD_SYNTAX, "the line is not an object"},
    {"amazon bad Python literal", sp_load_amazon2014,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n",
     "{'asin': 'I', 'title': 'ok'}\n{'asin': 'J', 'title': 'unterminated}\n", 1, 2, SP_BAD_SYNTAX,
     "bad Python literal: unterminated string at column 24"},
    {"amazon unknown name in a literal", sp_load_amazon2014,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n",
     "{'asin': 'J', 'related': set(['a'])}\n", 1, 1, SP_BAD_SYNTAX,
     "bad Python literal: unknown name 'set' at column 26"},
    {"amazon no user field", sp_load_amazon_jsonl,
     "{\"asin\": \"I\", \"unixReviewTime\": 5}\n{\"reviewerID\": \"U\", \"asin\": \"I\", "
     "\"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_MISSING, "no reviewerID (2014/2018) or user_id (2023) field"},
    {"amazon missing asin", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"unixReviewTime\": 5}\n{\"reviewerID\": \"U\", \"asin\": \"I\", "
     "\"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_MISSING, "no asin field"},
    {"amazon missing time", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n{\"reviewerID\": \"U\", "
     "\"asin\": \"I\"}\n",
     NULL, 0, 2, SP_BAD_MISSING, "no unixReviewTime field"},
    {"amazon asin not a string", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": [1], \"unixReviewTime\": 5}\n{\"reviewerID\": \"U\", "
     "\"asin\": \"I\", \"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_MISSING, "asin is not a string"},
    {"amazon time as text", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": \"soon\"}\n{\"reviewerID\": "
     "\"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_TIME, "unixReviewTime is not a valid time"},
    {"amazon 2023 negative time", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 5}\n{\"user_id\": \"U\", "
     "\"asin\": \"I\", \"timestamp\": -1000}\n",
     NULL, 0, 2, SP_BAD_TIME, "timestamp is not a valid time"},
    {"amazon time past 9999", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"U\", \"asin\": \"I\", \"unixReviewTime\": 1e300}\n{\"reviewerID\": \"U\", "
     "\"asin\": \"I\", \"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_TIME, "unixReviewTime is not a valid time"},
    {"amazon empty reviewerID", sp_load_amazon_jsonl,
     "{\"reviewerID\": \"  \", \"asin\": \"I\", \"unixReviewTime\": 5}\n{\"reviewerID\": \"U\", "
     "\"asin\": \"I\", \"unixReviewTime\": 5}\n",
     NULL, 0, 1, SP_BAD_ID, "empty reviewerID"},
    {"amazon meta without asin", sp_load_amazon_jsonl, REVIEW_OK, "{\"title\": \"x\"}\n", 1, 1,
     SP_BAD_MISSING, "no asin or parent_asin field"},
    {"amazon meta empty asin", sp_load_amazon_jsonl, REVIEW_OK,
     "{\"asin\": \"\", \"title\": \"x\"}\n", 1, 1, SP_BAD_ID, "empty asin"},
    {"amazon meta title not a string", sp_load_amazon_jsonl, REVIEW_OK,
     "{\"asin\": \"I\", \"title\": 5}\n", 1, 1, SP_BAD_MISSING, "title is not a string"},
    {"amazon meta categories of numbers", sp_load_amazon_jsonl, REVIEW_OK,
     "{\"asin\": \"I\", \"category\": [1, 2]}\n", 1, 1, SP_BAD_MISSING, "category is not a list"},
    {"amazon NUL byte", sp_load_amazon_jsonl, REVIEW_OK, "{\"asin\": \"I\"}\n{\"asin\": \"\0\"}\n",
     1, 2, SP_BAD_SYNTAX, "NUL byte"},
    {"amazon empty meta file", sp_load_amazon2014, REVIEW_OK, "\n  \n", 1, 1, SP_BAD_SYNTAX,
     "empty file"},
    /* Yelp */
    {"yelp bad JSON", sp_load_yelp,
     "{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-05-01 10:00:00\"\n" YELP_OK,
     NULL, 0, 1, SP_BAD_SYNTAX, "bad JSON"},
    {"yelp bad date", sp_load_yelp,
     "{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-02-29 "
     "10:00:00\"}\n{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-05-01 "
     "10:00:00\"}\n",
     NULL, 0, 1, SP_BAD_TIME, "date is not"},
    {"yelp bad hour", sp_load_yelp,
     "{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-05-01 "
     "10:00:00\"}\n{\"user_id\": \"U\", \"business_id\": \"B\", \"date\": \"2019-05-01 "
     "25:00:00\"}\n",
     NULL, 0, 2, SP_BAD_TIME, "date is not"},
    {"yelp missing business_id", sp_load_yelp,
     "{\"user_id\": \"U\", \"date\": \"2019-05-01\"}\n{\"user_id\": \"U\", \"business_id\": \"B\", "
     "\"date\": \"2019-05-01 10:00:00\"}\n",
     NULL, 0, 1, SP_BAD_MISSING, "no business_id field"},
    {"yelp empty user_id", sp_load_yelp,
     "{\"user_id\": \"\", \"business_id\": \"B\", \"date\": \"2019-05-01\"}\n{\"user_id\": \"U\", "
     "\"business_id\": \"B\", \"date\": \"2019-05-01 10:00:00\"}\n",
     NULL, 0, 1, SP_BAD_ID, "empty user_id"},
    {"yelp categories not text", sp_load_yelp, YELP_OK,
     "{\"business_id\": \"B\", \"name\": \"n\", \"categories\": 7}\n", 1, 1, SP_BAD_MISSING,
     "categories is not"},
    {"yelp business without id", sp_load_yelp, YELP_OK,
     "{\"business_id\": \"B\", \"name\": \"n\"}\n{\"name\": \"m\"}\n", 1, 2, SP_BAD_MISSING,
     "no business_id field"},
    /* RecBole */
    {"recbole wrong column count", sp_load_recbole,
     "user_id:token\titem_id:token\ttimestamp:float\nu\ti\t5\nu\ti\n", NULL, 0, 3, SP_BAD_SYNTAX,
     "2 columns, the header has 3"},
    {"recbole unknown column type", sp_load_recbole,
     "user_id:token\titem_id:token\trating:floatt\ttimestamp:float\nu\ti\t1\t5\n", NULL, 0, 1,
     SP_BAD_SYNTAX, "column 3 'rating:floatt' has unknown type 'floatt'"},
    {"recbole untyped column", sp_load_recbole,
     "user_id:token\titem_id:token\ttimestamp:float\tnote\nu\ti\t5\tx\n", NULL, 0, 1, SP_BAD_SYNTAX,
     "column 4 'note' has no type"},
    {"recbole bad timestamp", sp_load_recbole,
     "user_id:token\titem_id:token\ttimestamp:float\nu\ti\tabc\nu\ti\t5\n", NULL, 0, 2, SP_BAD_TIME,
     "timestamp 'abc' is not a time"},
    {"recbole negative timestamp", sp_load_recbole,
     "user_id:token\titem_id:token\ttimestamp:float\nu\ti\t5\nu\ti\t-5\n", NULL, 0, 3, SP_BAD_TIME,
     "timestamp '-5' is not a time"},
    {"recbole empty item id", sp_load_recbole,
     "user_id:token\titem_id:token\ttimestamp:float\nu\t \t5\nu\ti\t5\n", NULL, 0, 2, SP_BAD_ID,
     "empty item_id"},
    {"recbole empty session id", sp_load_recbole,
     "session_id:token\titem_id:token\ttimestamp:float\n\ti\t5\ns\ti\t5\n", NULL, 0, 2, SP_BAD_ID,
     "empty session_id"},
    {"recbole item wrong column count", sp_load_recbole, RECBOLE_OK,
     "item_id:token\ttitle:token_seq\ni\tA title\textra\n", 1, 2, SP_BAD_SYNTAX,
     "3 columns, the header has 2"},
    {"recbole empty item file", sp_load_recbole, RECBOLE_OK, "", 1, 1, SP_BAD_SYNTAX, "empty file"},
    /* plain */
    {"plain tsv wrong column count", sp_load_plain,
     "session_id\titem_id\ttimestamp\ns\ti\t5\ts\ns\ti\t5\n", NULL, 0, 2, SP_BAD_SYNTAX,
     "4 columns, the header has 3"},
    {"plain tsv bad date", sp_load_plain,
     "session_id\titem_id\ttimestamp\ns\ti\t2019-02-30\ns\ti\t5\n", NULL, 0, 2, SP_BAD_TIME,
     "timestamp '2019-02-30' is not seconds"},
    {"plain tsv empty session", sp_load_plain, "session_id\titem_id\ttimestamp\ns\ti\t5\n\ti\t5\n",
     NULL, 0, 3, SP_BAD_ID, "empty session_id"},
    {"plain tsv item wrong column count", sp_load_plain, PLAIN_TSV_OK, "item_id\ttitle\ni\tt\tx\n",
     1, 2, SP_BAD_SYNTAX, "3 columns, the header has 2"},
    {"plain jsonl missing timestamp", sp_load_plain,
     "{\"session_id\": \"s\", \"item_id\": \"i\"}\n{\"session_id\": \"s\", \"item_id\": \"i\", "
     "\"timestamp\": 5}\n",
     NULL, 0, 1, SP_BAD_MISSING, "no timestamp field"},
    {"plain jsonl bad time string", sp_load_plain,
     "{\"session_id\": \"s\", \"item_id\": \"i\", \"timestamp\": \"yesterday\"}\n{\"session_id\": "
     "\"s\", \"item_id\": \"i\", \"timestamp\": 5}\n",
     NULL, 0, 1, SP_BAD_TIME, "timestamp is not"},
    {"plain jsonl fractional id", sp_load_plain,
     "{\"session_id\": 1.5, \"item_id\": \"i\", \"timestamp\": 5}\n{\"session_id\": \"s\", "
     "\"item_id\": \"i\", \"timestamp\": 5}\n",
     NULL, 0, 1, SP_BAD_MISSING, "session_id is not a string or an integer"},
    {"plain jsonl items bad JSON", sp_load_plain, PLAIN_JSONL_OK,
     "{\"item_id\": \"i\", \"title\": \"t\"}\n{\"item_id\": \"j\", \"title\": t}\n", 1, 2,
     SP_BAD_SYNTAX, "bad JSON at column"},
    {"plain jsonl items empty id", sp_load_plain, PLAIN_JSONL_OK,
     "{\"item_id\": \"\", \"title\": \"t\"}\n", 1, 1, SP_BAD_ID, "empty item_id"},
};

Test(loaders, every_bad_line_fails_by_default_and_is_counted_when_skipping) {
  for (size_t k = 0; k < sizeof bad_cases / sizeof *bad_cases; k++) {
    const bad_case *c = &bad_cases[k];
    /* NUL bytes: contents are written up to the last "\n" */
    const char *pa = tmp_path("bad_a"), *pb = tmp_path("bad_b");
    write_bytes(pa, c->a, strlen(c->a));
    if (c->b) {
      size_t n = strlen(c->b);
      if (strstr(c->name, "NUL")) n = strlen(c->b) + 1 + strlen(c->b + strlen(c->b) + 1);
      write_bytes(pb, c->b, n);
    }
    sp_raw *r;
    cr_assert_eq(sp_raw_new(&r), SP_OK);
    int rc = c->fn(r, pa, c->b ? pb : NULL, &strict);
    char want[600];
    snprintf(want, sizeof want, "%s:%d: %s", c->bad_in_b ? pb : pa, c->line, c->what);
    cr_expect_eq(rc, SP_EFORMAT, "%s: expected a failure, got %d (%s)", c->name, rc,
                 sp_last_error());
    cr_expect(strstr(sp_last_error(), want) != NULL, "%s: '%s' does not contain '%s'", c->name,
              sp_last_error(), want);
    cr_expect(strstr(sp_last_error(), sp_bad_cause_names[c->cause]) != NULL,
              "%s: '%s' does not name the cause '%s'", c->name, sp_last_error(),
              sp_bad_cause_names[c->cause]);
    sp_raw_free(r);

    cr_assert_eq(sp_raw_new(&r), SP_OK);
    rc = c->fn(r, pa, c->b ? pb : NULL, &skipping);
    cr_expect_eq(rc, SP_OK, "%s: skipping failed: %s", c->name, sp_last_error());
    cr_expect_eq(r->bad[c->cause], 1, "%s: %lld counted as '%s'", c->name,
                 (long long)r->bad[c->cause], sp_bad_cause_names[c->cause]);
    cr_expect_eq(bad_total(r), 1, "%s: %lld bad lines in all", c->name, (long long)bad_total(r));
    cr_expect(r->n_events >= 1, "%s: the good lines still load", c->name);
    sp_raw_free(r);
    unlink(pa), unlink(pb);
  }
}

Test(loaders, a_bad_meta_line_changes_nothing) {
  /* the categories are wrong: the title before them must not be stored either */
  const char *a = tmp_file("atomic_a", REVIEW_OK);
  const char *b = tmp_file(
      "atomic_b", "{\"asin\": \"I\", \"title\": \"T\", \"category\": [[\"x\", [\"deep\"]]]}\n");
  sp_raw *r = load_ok(sp_load_amazon_jsonl, a, b, &skipping);
  cr_expect_eq(r->bad[SP_BAD_MISSING], 1);
  cr_expect_str_eq(title(r, "I"), "(none)");
  sp_raw_free(r);
  unlink(a), unlink(b);
}

Test(loaders, unknown_column_type_is_ignored_when_skipping) {
  const char *a = tmp_file("rb_a",
                           "user_id:token\titem_id:token\trating:floatt\ttimestamp:float\n"
                           "u\ti\tnot-a-number\t5\n");
  sp_raw *r = load_ok(sp_load_recbole, a, NULL, &skipping);
  char *ev = events(r);
  cr_expect_str_eq(ev, "u i 5\n");
  free(ev);
  cr_expect_eq(r->bad[SP_BAD_SYNTAX], 1);
  sp_raw_free(r);
  /* several bad columns make one bad line (found by fuzzing: it was counted per column) */
  const char *b = tmp_file("rb_b", "item_id:token\ttitle:toke\tprice\tbrand:x\ni\tt\t1\tb\n");
  const char *good = tmp_file("rb_good", RECBOLE_OK);
  cr_assert_eq(sp_raw_new(&r), SP_OK);
  expect_error(sp_load_recbole(r, good, b, &strict), SP_EFORMAT,
               "column 2 'title:toke' has unknown type 'toke' (token, token_seq, float or "
               "float_seq), and 2 more such columns (syntax)");
  sp_raw_free(r);
  r = load_ok(sp_load_recbole, good, b, &skipping);
  cr_expect_eq(r->bad[SP_BAD_SYNTAX], 1);
  cr_expect_str_eq(title(r, "i"), "(none)", "the ignored column is not read");
  sp_raw_free(r);
  unlink(a), unlink(b), unlink(good);
}

Test(loaders, header_and_file_errors_fail_even_when_skipping) {
  struct {
    loader_fn fn;
    const char *a, *strict_what, *skip_what;
  } cases[] = {
      {sp_load_recbole, "user_id:token\titem_id:token\nu\ti\n",
       ":1: the header has no timestamp column", NULL},
      {sp_load_recbole, "user_id:token\ttimestamp:float\nu\t5\n",
       ":1: the header has no item_id column", NULL},
      {sp_load_recbole, "item_id:token\ttimestamp:float\ni\t5\n",
       ":1: the header has no session_id or user_id", NULL},
      {sp_load_recbole, "user_id:token\titem_id:token\titem_id:token\ttimestamp:float\n",
       ":1: column 'item_id' appears twice", NULL},
      /* an unknown type is a bad line; skipped, it leaves the header without item_id */
      {sp_load_recbole, "user_id:token\titem_id:wrong\ttimestamp:float\nu\ti\t5\n",
       ":1: column 2 'item_id:wrong' has unknown type 'wrong'", ":1: the header has no item_id"},
      {sp_load_plain, "session\titem_id\ttimestamp\ns\ti\t5\n",
       ":1: the first line must be a header", NULL},
      {sp_load_plain, "s\ti\t5\n", ":1: the first line must be a header", NULL},
      /* an events file with no usable event */
      {sp_load_amazon_jsonl, "", ":1: empty file (syntax)",
       ": no usable events (0 lines, 1 skipped as bad)"},
      {sp_load_amazon_jsonl, "{}\n{}\n", ":1: no reviewerID",
       ": no usable events (2 lines, 2 skipped as bad)"},
      {sp_load_plain, "session_id\titem_id\ttimestamp\n", ": no usable events (1 lines, 0 skipped",
       NULL},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    const char *pa = tmp_file("hdr", cases[k].a);
    for (int skip = 0; skip <= 1; skip++) {
      sp_raw *r;
      cr_assert_eq(sp_raw_new(&r), SP_OK);
      int rc = cases[k].fn(r, pa, NULL, skip ? &skipping : &strict);
      cr_expect_eq(rc, SP_EFORMAT, "case %zu skip %d: rc %d (%s)", k, skip, rc, sp_last_error());
      const char *want = skip && cases[k].skip_what ? cases[k].skip_what : cases[k].strict_what;
      cr_expect(strstr(sp_last_error(), pa) && strstr(sp_last_error(), want),
                "case %zu skip %d: '%s' lacks '%s'", k, skip, sp_last_error(), want);
      sp_raw_free(r);
    }
    unlink(pa);
  }
}

Test(loaders, missing_file_is_an_io_error_naming_it) {
  sp_raw *r;
  cr_assert_eq(sp_raw_new(&r), SP_OK);
  const char *nope = "/nonexistent/sprint/reviews_Beauty.json.gz";
  for (int skip = 0; skip <= 1; skip++) {
    const sp_load_opts *o = skip ? &skipping : &strict;
    expect_error(sp_load_amazon2014(r, nope, NULL, o), SP_EIO, nope);
    expect_error(sp_load_amazon_jsonl(r, nope, NULL, o), SP_EIO, nope);
    expect_error(sp_load_yelp(r, nope, NULL, o), SP_EIO, nope);
    expect_error(sp_load_recbole(r, nope, NULL, o), SP_EIO, nope);
    expect_error(sp_load_plain(r, nope, NULL, o), SP_EIO, nope);
    /* a missing second file fails before anything is read */
    expect_error(sp_load_plain(r, fixture("plain/sessions.tsv"), nope, o), SP_EIO, nope);
  }
  expect_error(sp_load_yelp(r, "/tmp", NULL, NULL), SP_EIO, "/tmp:1: read error");
  cr_expect_eq(r->n_events, 0);
  expect_error(sp_load_yelp(r, NULL, NULL, NULL), SP_EINVAL, "no events file");
  sp_raw_free(r);
}

Test(loaders, timestamps) {
  struct {
    const char *s;
    int ok;
    int64_t t;
  } cases[] = {
      {"0", 1, 0},
      {"978300760", 1, 978300760},
      {" 978300760.9 ", 1, 978300760},
      {"1.4627520e9", 1, 1462752000},
      {"1970-01-01", 1, 0},
      {"2000-02-29 23:59:59", 1, 951868799},
      {"2019-01-01T00:00:09Z", 1, 1546300809},
      {"9999-12-31 23:59:59", 1, 253402300799},
      {"", 0, 0},
      {"-1", 0, 0},
      {"1e20", 0, 0},
      {"12abc", 0, 0},
      {".", 0, 0},
      {"1969-12-31", 0, 0},
      {"2019-02-29", 0, 0},
      {"2019-04-31", 0, 0},
      {"2019-00-10", 0, 0},
      {"2019-01-01 24:00:00", 0, 0},
      {"2019-01-01 10:60:00", 0, 0},
      {"2019-01-01 10:00", 0, 0},
      {"2019-1-01", 0, 0},
      {"2019-01-01X10:00:00", 0, 0},
      {"nan", 0, 0},
      {"inf", 0, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    int64_t t = -7;
    int rc = sp_parse_time(cases[k].s, strlen(cases[k].s), &t);
    cr_expect_eq(rc == 0, cases[k].ok, "'%s': rc %d", cases[k].s, rc);
    if (cases[k].ok) cr_expect_eq(t, cases[k].t, "'%s': %lld", cases[k].s, (long long)t);
  }
}

Test(loaders, line_reader_from_memory) {
  const char text[] =
      "\xEF\xBB\xBF"
      "a\r\n\r\nb\nlast";
  sp_lines l;
  cr_assert_eq(sp_lines_open_mem(&l, text, sizeof text - 1, "mem"), SP_OK);
  const char *want[] = {"a", "", "b", "last"};
  int got;
  for (int k = 0; k < 4; k++) {
    cr_assert_eq(sp_lines_next(&l, &got), SP_OK);
    cr_assert_eq(got, 1);
    cr_expect_str_eq(l.buf, want[k]);
    cr_expect_eq(l.line, k + 1);
  }
  cr_expect_eq(sp_lines_next(&l, &got), SP_OK);
  cr_expect_eq(got, 0);
  sp_lines_close(&l);
}

/* ---- the Python-literal parser ---- */

Test(pylit, literals_to_json) {
  struct {
    const char *lit, *json;
  } cases[] = {
      {"{'asin': '0205616461', 'title': 'Bio-Active Anti-Aging Serum', 'brand': 'Olay', "
       "'categories': [['Beauty', 'Skin Care', 'Face']], 'price': 23.0}",
       "{\"asin\":\"0205616461\",\"title\":\"Bio-Active Anti-Aging Serum\",\"brand\":\"Olay\","
       "\"categories\":[[\"Beauty\",\"Skin Care\",\"Face\"]],\"price\":23}"},
      /* strings and escapes */
      {"'it\\'s'", "\"it's\""},
      {"\"it's\"", "\"it's\""},
      {"'say \"hi\"'", "\"say \\\"hi\\\"\""},
      {"'a\\\\b'", "\"a\\\\b\""},
      {"'\\x41\\x42'", "\"AB\""},
      {"'\\101\\60'", "\"A0\""},
      {"u'\\u00e9'", "\"\xc3\xa9\""},
      {"'\\u00e9t\\u00e9'", "\"\xc3\xa9t\xc3\xa9\""},
      {"'Caf\\xc3\\xa9'", "\"Caf\xc3\xa9\""},            /* Python 2 UTF-8 bytes */
      {"'\\xe9t\\xe9'", "\"\xc3\xa9t\xc3\xa9\""},        /* not UTF-8: Latin-1 code points */
      {"u'\\xc3\\xa9'", "\"\xc3\x83\xc2\xa9\""},         /* u'': always code points */
      {"b'\\xc3\\xa9\\u00e9'", "\"\xc3\xa9\\\\u00e9\""}, /* no \\u in bytes */
      {"'\\U0001F600'", "\"\xf0\x9f\x98\x80\""},
      {"'\\ud83d\\ude00'", "\"\xf0\x9f\x98\x80\""},
      {"'\\ud83d!'", "\"\xef\xbf\xbd!\""},
      {"'\\a\\b\\f\\n\\r\\t\\v'", "\"\\u0007\\b\\f\\n\\r\\t\\u000b\""},
      {"'\\q\\8'", "\"\\\\q\\\\8\""},
      {"r'\\n\\''", "\"\\\\n\\\\'\""},
      {"R\"C:\\dir\"", "\"C:\\\\dir\""},
      {"'ab' \"cd\" u'ef'", "\"abcdef\""},
      {"'tab\there'", "\"tab\\there\""},
      {"'caf\xc3\xa9'", "\"caf\xc3\xa9\""},
      {"''", "\"\""},
      /* containers */
      {"(1, 2)", "[1,2]"},
      {"(1,)", "[1]"},
      {"()", "[]"},
      {"(1)", "1"},
      {"((1, (2,)), [3, (4, 5)])", "[[1,[2]],[3,[4,5]]]"},
      {"[1, 2, ]", "[1,2]"},
      {"[]", "[]"},
      {"{'a': 1,}", "{\"a\":1}"},
      {"{}", "{}"},
      {"{1: 'x', 2.5: 'y', -3: 'z'}", "{\"1\":\"x\",\"2.5\":\"y\",\"-3\":\"z\"}"},
      {"{1, 'b',}", "[1,\"b\"]"},
      {"{'related': {'also_bought': ['B1', 'B2']}, 'salesRank': {'Beauty': 10}}",
       "{\"related\":{\"also_bought\":[\"B1\",\"B2\"]},\"salesRank\":{\"Beauty\":10}}"},
      {" [1,\n\t2 ,3]\n", "[1,2,3]"},
      /* numbers and constants */
      {"[-5, +5, - 3, --2]", "[-5,5,-3,2]"},
      {"[1.5e3, -2.5E-2, .5, 5., 0.0]", "[1500,-0.025,0.5,5,0]"},
      {"[0x1F, 0o17, 0b101, 0X_ff]", "[31,15,5,255]"},
      {"[1_000, 10L, 0, 00, 0_0, 007.5]", "[1000,10,0,0,0,7.5]"},
      {"[True, False, None]", "[true,false,null]"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char err[200];
    char *json = sp_pylit_to_json(cases[k].lit, strlen(cases[k].lit), err, sizeof err);
    cr_expect(json != NULL, "%s: rejected (%s)", cases[k].lit, err);
    if (json) cr_expect_str_eq(json, cases[k].json, "%s", cases[k].lit);
    free(json);
  }
}

Test(pylit, long_runs_of_byte_escapes) {
  /* 1 + 2 * 80 escaped bytes: the UTF-8 pairs straddle the parser's 64-byte run buffer */
  char lit[1024] = "'\\x41", want[512] = "\"A";
  for (int k = 0; k < 80; k++) strcat(lit, "\\xc3\\xa9"), strcat(want, "\xc3\xa9");
  strcat(lit, "'"), strcat(want, "\"");
  char err[200];
  char *json = sp_pylit_to_json(lit, strlen(lit), err, sizeof err);
  cr_assert(json, "%s", err);
  cr_expect_str_eq(json, want);
  free(json);
  /* 4-byte sequences at every alignment */
  for (int shift = 0; shift < 4; shift++) {
    strcpy(lit, "'"), strcpy(want, "\"");
    for (int k = 0; k < shift; k++) strcat(lit, "\\x41"), strcat(want, "A");
    for (int k = 0; k < 40; k++)
      strcat(lit, "\\xf0\\x9f\\x98\\x80"), strcat(want, "\xf0\x9f\x98\x80");
    strcat(lit, "'"), strcat(want, "\"");
    json = sp_pylit_to_json(lit, strlen(lit), err, sizeof err);
    cr_assert(json, "%s", err);
    cr_expect_str_eq(json, want, "shift %d", shift);
    free(json);
  }
}

Test(pylit, rejected_inputs) {
  char deep[700];
  memset(deep, '[', 300);
  memset(deep + 300, ']', 300);
  deep[600] = '\0';
  struct {
    const char *lit, *err;
  } cases[] = {
      {"", "unexpected end of input at column 1"},
      {"   ", "unexpected end of input"},
      {"'abc", "unterminated string at column 1"},
      {"{'a': 'b\nc'}", "newline inside a string at column 9"},
      {"'a\\\nb'", "backslash-newline"},
      {"'a\\", "unterminated string"},
      {"'''abc'''", "triple-quoted strings are not supported"},
      {"'\\x4'", "truncated \\xXX escape"},
      {"'\\u12'", "truncated \\uXXXX escape"},
      {"u'\\U00110000'", "illegal Unicode character"},
      {"'\\N{EM DASH}'", "\\N{...} escapes are not supported"},
      {"'\\x00'", "NUL character in a string"},
      {"'\\0'", "NUL character in a string"},
      {"{'a' 1}", "expected ':', ',' or '}' after a dict key"},
      {"{'a': 1 'b': 2}", "expected ',' or '}' in a dict"},
      {"{'a': 1, 'b'}", "expected ':' after a dict key"},
      {"{'a': }", "unexpected character '}'"},
      {"{'a': 1", "unterminated dict"},
      {"[1 2]", "expected ',' or ']' in a list"},
      {"[1, 2", "unterminated list"},
      {"(1 2)", "expected ',' or ')' in a tuple"},
      {"(1, 2", "unterminated tuple"},
      {"[,]", "unexpected character ','"},
      {"{(1, 2): 3}", "unsupported dict key"},
      {"{None: 3}", "unsupported dict key"},
      {"set([1])", "unknown name 'set'"},
      {"inf", "unknown name 'inf'"},
      {"nan", "unknown name 'nan'"},
      {"true", "unknown name 'true'"},
      {"f'x'", "unknown name 'f'"},
      {"01", "leading zeros in an integer"},
      {"1j", "complex numbers are not supported"},
      {"1__0", "invalid number"},
      {"1_", "invalid number"},
      {"0x", "invalid number"},
      {"1e", "invalid number"},
      {"1.5L", "invalid number"},
      {"12abc", "invalid number"},
      {".", "invalid number"},
      {"-'a'", "a sign must be followed by a number"},
      {"1 2", "unexpected text after the literal at column 3"},
      {"{'a': 1}}", "unexpected text after the literal"},
      {"\x01", "unexpected byte 0x01"},
      {deep, "nesting deeper than 256"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char err[200];
    char *json = sp_pylit_to_json(cases[k].lit, strlen(cases[k].lit), err, sizeof err);
    cr_expect(json == NULL, "'%s' accepted as %s", cases[k].lit, json ? json : "");
    free(json);
    cr_expect(strstr(err, cases[k].err) != NULL, "'%s': error '%s' lacks '%s'", cases[k].lit, err,
              cases[k].err);
  }
  /* the length is respected: no read past it */
  char err[200];
  char *json = sp_pylit_to_json("'abc'XYZ", 5, err, sizeof err);
  cr_expect_str_eq(json ? json : "", "\"abc\"");
  free(json);
  json = sp_pylit_to_json("'abc'", 3, err, sizeof err);
  cr_expect(json == NULL && strstr(err, "unterminated string"), "%s", err);
  free(json);
}
