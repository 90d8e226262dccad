/* test_data.c — the preparation pipeline (hand-built raw data with known sessions), the split
 * boundaries, the planted generator's determinism, the dataset cache, the batcher, the
 * Beauty/Yelp join rules on the real files in ../shared, and the bad-input paths. */
#include <stdlib.h>
#include <unistd.h>

#include "dataset.h"
#include "harness.h"

#define DAY 86400

static const char *shared_dir(const char *name) {
  static char buf[512];
  const char *env = getenv("SPRINT_DATA");
  snprintf(buf, sizeof buf, "%s/%s", env ? env : "../shared/datasets", name);
  if (access(buf, R_OK) == 0) return buf;
  snprintf(buf, sizeof buf, "%s/../shared/datasets/%s", SPRINT_TEST_SOURCE_DIR, name);
  return access(buf, R_OK) == 0 ? buf : NULL;
}

static void event(sp_raw *r, const char *u, const char *item, int64_t t) {
  cr_assert_eq(sp_raw_event(r, u, strlen(u), item, strlen(item), t), SP_OK, "%s", sp_last_error());
}

/* Three users over five days; day sessions of length >= 2, support >= 2. */
static sp_dataset *tiny(int filter_unseen) {
  sp_raw *r;
  sp_raw_new(&r);
  int64_t t0 = 1600000000 / DAY * DAY; /* a midnight */
  /* u1 day 0: a b c (a session); day 1: a (too short, dropped) */
  event(r, "u1", "a", t0 + 10), event(r, "u1", "b", t0 + 20), event(r, "u1", "c", t0 + 30);
  event(r, "u1", "a", t0 + DAY + 5);
  /* u2 day 2: b a z (z is seen once: support drops it) */
  event(r, "u2", "b", t0 + 2 * DAY), event(r, "u2", "a", t0 + 2 * DAY + 1),
      event(r, "u2", "z", t0 + 2 * DAY + 2);
  /* u3 day 3: c b; day 4: a d d ... d is only in the last session */
  event(r, "u3", "c", t0 + 3 * DAY), event(r, "u3", "b", t0 + 3 * DAY + 1);
  event(r, "u3", "d", t0 + 4 * DAY), event(r, "u3", "a", t0 + 4 * DAY + 1),
      event(r, "u3", "d", t0 + 4 * DAY + 2);
  sp_raw_item_title(r, "a", 1, "Apple", 5);
  sp_raw_item_category(r, "a", 1, "Fruit", 5);
  sp_raw_item_brand(r, "b", 1, "Acme", 4);
  sp_prep_config c;
  sp_prep_config_default(&c);
  c.min_session_len = 2;
  c.min_item_support = 2;
  c.valid_quantile = 0.5;
  c.test_quantile = 0.75;
  c.filter_unseen_eval = filter_unseen;
  sp_dataset *d;
  cr_assert_eq(sp_dataset_from_raw(&d, r, &c), SP_OK, "%s", sp_last_error());
  return d;
}

static void expect_session(sp_dataset *d, int64_t i, const char *key, int split, int n,
                           const char *items) {
  sp_session_view v;
  cr_assert_eq(sp_dataset_session(d, i, &v), SP_OK);
  cr_expect_str_eq(v.key, key);
  cr_expect_eq(v.split, split, "session %s split %d", key, v.split);
  cr_assert_eq(v.len, n, "session %s has %d items, expected %d", key, v.len, n);
  for (int k = 0; k < n; k++) {
    sp_item_view it;
    sp_dataset_item(d, v.items[k], &it);
    cr_expect(it.key[0] == items[k], "session %s item %d is %s, expected %c", key, k, it.key,
              items[k]);
  }
}

Test(data, pipeline_known_sessions_and_report) {
  /* Day sessions: u1 [a b c], u1 [a], u2 [b a z], u3 [c b], u3 [d a d]. The length filter drops
   * u1's [a]; support drops z (seen once); stable after that. Ordered by last event, 4 sessions
   * split 2 / 1 / 1 at quantiles 0.5 / 0.75. */
  sp_dataset *d = tiny(0);
  cr_assert_eq(sp_dataset_n_sessions(d), 4);
  expect_session(d, 0, "u1@2020-09-13", SP_SPLIT_TRAIN, 3, "abc");
  expect_session(d, 1, "u2@2020-09-15", SP_SPLIT_TRAIN, 2, "ba");
  expect_session(d, 2, "u3@2020-09-16", SP_SPLIT_VALID, 2, "cb");
  expect_session(d, 3, "u3@2020-09-17", SP_SPLIT_TEST, 3, "dad");
  sp_item_view it;
  cr_assert_eq(sp_dataset_item(d, 1, &it), SP_OK);
  cr_expect(!strcmp(it.key, "a") && !strcmp(it.title, "Apple") && it.n_categories == 1,
            "item 1: %s %s", it.key, it.title);
  cr_assert_eq(sp_dataset_item(d, 2, &it), SP_OK);
  cr_expect_str_eq(it.brand, "Acme");
  sp_dataset_stats st;
  sp_dataset_get_stats(d, &st);
  cr_expect_eq(st.items_without_title, 3);
  cr_expect_eq(st.total.interactions, 10);
  int saw_support = 0;
  for (int i = 0; i < sp_dataset_report_count(d); i++)
    saw_support |=
        strstr(sp_dataset_report_line(d, i), "item support >= 2: removed 1 interactions") != NULL;
  cr_expect(saw_support, "the report does not say what the support filter removed");
  sp_dataset_free(d);
  /* with the usual protocol, d (never in training) leaves the test session, which is then
   * shorter than 2 and goes too */
  d = tiny(1);
  cr_expect_eq(sp_dataset_n_sessions(d), 3);
  int saw_unseen = 0;
  for (int i = 0; i < sp_dataset_report_count(d); i++)
    saw_unseen |=
        strstr(sp_dataset_report_line(d, i), "removed 2 interactions with items unseen") != NULL;
  cr_expect(saw_unseen, "the report does not count the unseen items removed");
  sp_dataset_free(d);
  expect_error(sp_dataset_item(d = tiny(1), 4, &it), SP_EINVAL, "outside [1, 3]");
  sp_dataset_free(d);
}

Test(data, split_boundaries_and_eval_filter) {
  sp_planted_config g;
  sp_planted_config_default(&g);
  g.n_sessions = 600;
  sp_dataset *d;
  cr_assert_eq(sp_dataset_generate_planted(&d, &g, NULL), SP_OK, "%s", sp_last_error());
  int64_t last_end[3] = {INT64_MIN, INT64_MIN, INT64_MIN},
          first_end[3] = {INT64_MAX, INT64_MAX, INT64_MAX};
  int64_t max_train_event = INT64_MIN;
  sp_dataset_stats st;
  sp_dataset_get_stats(d, &st);
  uint8_t *in_train = calloc((size_t)st.n_items + 1, 1);
  for (int64_t i = 0; i < sp_dataset_n_sessions(d); i++) {
    sp_session_view v;
    sp_dataset_session(d, i, &v);
    int64_t end = v.times[v.len - 1];
    if (end > last_end[v.split]) last_end[v.split] = end;
    if (end < first_end[v.split]) first_end[v.split] = end;
    if (v.split == SP_SPLIT_TRAIN)
      for (int k = 0; k < v.len; k++) {
        in_train[v.items[k]] = 1;
        if (v.times[k] > max_train_event) max_train_event = v.times[k];
      }
  }
  cr_expect(last_end[0] <= first_end[1] && last_end[1] <= first_end[2], "splits overlap in time");
  cr_expect(max_train_event <= first_end[2], "a training interaction lies in the test period");
  for (int64_t i = 0; i < sp_dataset_n_sessions(d); i++) {
    sp_session_view v;
    sp_dataset_session(d, i, &v);
    if (v.split == SP_SPLIT_TRAIN) continue;
    cr_expect(v.len >= 2, "eval session %s shorter than 2", v.key);
    for (int k = 0; k < v.len; k++)
      cr_expect(in_train[v.items[k]], "eval item %d unseen in training", v.items[k]);
  }
  cr_expect(st.split[0].sessions > 3 * st.split[2].sessions, "train %lld vs test %lld",
            (long long)st.split[0].sessions, (long long)st.split[2].sessions);
  free(in_train);
  sp_dataset_free(d);
}

static int same_dataset(sp_dataset *a, sp_dataset *b) {
  if (sp_dataset_n_sessions(a) != sp_dataset_n_sessions(b)) return 0;
  for (int64_t i = 0; i < sp_dataset_n_sessions(a); i++) {
    sp_session_view x, y;
    sp_dataset_session(a, i, &x);
    sp_dataset_session(b, i, &y);
    if (x.len != y.len || x.split != y.split || strcmp(x.key, y.key) || x.n_labels != y.n_labels ||
        memcmp(x.items, y.items, sizeof(int32_t) * (size_t)x.len) ||
        memcmp(x.times, y.times, sizeof(int64_t) * (size_t)x.len))
      return 0;
  }
  sp_dataset_stats sa, sb;
  sp_dataset_get_stats(a, &sa), sp_dataset_get_stats(b, &sb);
  for (int32_t j = 1; j <= sa.n_items; j++) {
    sp_item_view x, y;
    sp_dataset_item(a, j, &x), sp_dataset_item(b, j, &y);
    if (strcmp(x.key, y.key) || strcmp(x.title, y.title) || x.n_categories != y.n_categories)
      return 0;
  }
  return sa.n_items == sb.n_items && sp_dataset_report_count(a) == sp_dataset_report_count(b);
}

Test(data, planted_is_deterministic_and_labelled) {
  sp_planted_config g;
  sp_planted_config_default(&g);
  g.n_sessions = 300;
  sp_dataset *a, *b, *c;
  cr_assert_eq(sp_dataset_generate_planted(&a, &g, NULL), SP_OK);
  cr_assert_eq(sp_dataset_generate_planted(&b, &g, NULL), SP_OK);
  g.seed = 2;
  cr_assert_eq(sp_dataset_generate_planted(&c, &g, NULL), SP_OK);
  cr_expect(same_dataset(a, b), "same seed, different data");
  cr_expect(!same_dataset(a, c), "different seeds, same data");
  cr_expect_eq(sp_dataset_n_labels(a), 8);
  sp_session_view v;
  sp_dataset_session(a, 0, &v);
  cr_expect(v.n_labels >= 1 && v.n_labels <= 3, "%d labels", v.n_labels);
  sp_item_view it;
  sp_dataset_item(a, v.items[0], &it);
  cr_expect(it.n_categories == 2 && strlen(it.title) > 5, "item text: '%s' with %d categories",
            it.title, it.n_categories);
  sp_dataset_free(a), sp_dataset_free(b), sp_dataset_free(c);
  g.max_intents = 9;
  expect_error(sp_dataset_generate_planted(&a, &g, NULL), SP_EINVAL, "max_intents");
}

Test(data, cache_round_trip_and_damaged_files) {
  sp_dataset *d = tiny(1), *e;
  char path[128];
  snprintf(path, sizeof path, "/tmp/sprint_test_ds_%ld.spd", (long)getpid());
  cr_assert_eq(sp_dataset_save(d, path, "tiny", 42), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_dataset_load(&e, path, "tiny", 42), SP_OK, "%s", sp_last_error());
  cr_expect(same_dataset(d, e), "the cache changed the dataset");
  cr_expect_str_eq(sp_dataset_report_line(d, 0), sp_dataset_report_line(e, 0));
  const char *name;
  uint64_t hash;
  cr_assert_eq(sp_dataset_identity(e, &name, &hash), SP_OK);
  cr_expect(strcmp(name, "tiny") == 0 && hash == 42, "identity %s %llu", name,
            (unsigned long long)hash);
  sp_dataset_free(e);
  /* the file says whose it is: another name or settings hash is refused, NULL accepts any */
  expect_error(sp_dataset_load(&e, path, "other", 42), SP_EFORMAT,
               "holds the prepared dataset 'tiny' (settings hash 000000000000002a), not 'other'");
  expect_error(sp_dataset_load(&e, path, "tiny", 43), SP_EFORMAT,
               "not 'tiny' (settings hash 000000000000002b)");
  cr_assert_eq(sp_dataset_load(&e, path, NULL, 0), SP_OK, "%s", sp_last_error());
  sp_dataset_free(e);
  FILE *f = fopen(path, "r+b");
  fseek(f, 100, SEEK_SET);
  fputc(0x7f, f);
  fclose(f);
  expect_error(sp_dataset_load(&e, path, "tiny", 42), SP_EFORMAT, "checksum");
  cr_assert_eq(truncate(path, 50), 0);
  expect_error(sp_dataset_load(&e, path, "tiny", 42), SP_EFORMAT, "checksum");
  expect_error(sp_dataset_load(&e, "/nonexistent/x.spd", NULL, 0), SP_EIO, "cannot read");
  unlink(path);
  sp_dataset_free(d);
}

Test(data, bad_inputs_are_errors) {
  sp_dataset *d;
  const char *paths[1] = {"/nonexistent/folder"};
  expect_error(sp_dataset_prepare(&d, "beauty-shared", paths, 1, NULL), SP_EIO,
               "/nonexistent/folder");
  expect_error(sp_dataset_prepare(&d, "no-such-loader", paths, 1, NULL), SP_EINVAL,
               "unknown loader");
  const char *two[2] = {"/nonexistent/a", "/nonexistent/b"};
  expect_error(sp_dataset_prepare(&d, "beauty-shared", two, 2, NULL), SP_EINVAL, "one path");
  sp_prep_config c;
  sp_prep_config_default(&c);
  c.valid_quantile = 0.95;
  sp_raw *r;
  sp_raw_new(&r);
  event(r, "u", "a", 1);
  expect_error(sp_dataset_from_raw(&d, r, &c), SP_EINVAL, "valid_quantile");
  sp_raw_new(&r);
  expect_error(sp_dataset_from_raw(&d, r, NULL), SP_EFORMAT, "no events");
  sp_raw_new(&r);
  event(r, "u", "a", 1);
  expect_error(sp_dataset_from_raw(&d, r, NULL), SP_EFORMAT, "no session survives");
  sp_raw_new(&r);
  expect_error(sp_raw_event(r, "", 0, "a", 1, 0), SP_EFORMAT, "empty");
  sp_raw_free(r);
}

/* ---- batcher ---- */

static sp_tensor *i32(int ndim, const int *shape) {
  sp_tensor *t;
  cr_assert_eq(sp_tensor_new(&t, SP_I32, ndim, shape), SP_OK);
  return t;
}

Test(batcher, known_rows_padding_and_augmentation) {
  sp_dataset *d = tiny(0);
  sp_batch_config c;
  sp_batch_config_default(&c);
  c.batch_size = 4;
  c.max_len = 2;
  c.shuffle = 0;
  c.bucket = 0;
  c.n_hard_neg = 0;
  sp_batcher *b;
  cr_assert_eq(sp_batcher_new(&b, d, &c), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_batcher_n_examples(b), 3, "train: a b c gives 2 prefixes, b a gives 1");
  sp_tensor *seq = i32(2, SHAPE(4, 2)), *last = i32(1, SHAPE(4)), *tg = i32(1, SHAPE(4)),
            *neg = i32(2, SHAPE(4, 1));
  int rows;
  cr_assert_eq(sp_batcher_next(b, seq, last, tg, neg, NULL, &rows), SP_OK, "%s", sp_last_error());
  cr_expect_eq(rows, 3);
  const int32_t *s = sp_tensor_i32(seq), *l = sp_tensor_i32(last), *t = sp_tensor_i32(tg),
                *n = sp_tensor_i32(neg);
  /* items are numbered by first appearance: a=1 b=2 c=3; rows: [_ a]->b, [a b]->c, [_ b]->a */
  int32_t want_seq[8] = {0, 1, 1, 2, 0, 2, 0, 0}, want_t[4] = {2, 3, 1, 0},
          want_l[4] = {1, 1, 1, 0};
  for (int k = 0; k < 8; k++) cr_expect_eq(s[k], want_seq[k], "seq[%d] = %d", k, s[k]);
  for (int k = 0; k < 4; k++) cr_expect_eq(t[k], want_t[k], "target[%d] = %d", k, t[k]);
  for (int k = 0; k < 4; k++) cr_expect_eq(l[k], want_l[k], "last[%d] = %d", k, l[k]);
  cr_expect(n[0] == 4 && n[1] == 4, "the only item outside {a, b, c} is d = 4, got %d %d", n[0],
            n[1]);
  cr_expect(n[2] == 3 || n[2] == 4, "row 2's negative must be outside {a, b}, got %d", n[2]);
  cr_assert_eq(sp_batcher_next(b, seq, last, tg, neg, NULL, &rows), SP_OK);
  cr_expect_eq(rows, 0, "the epoch has ended");
  sp_tensor *bad = i32(2, SHAPE(4, 3));
  expect_error(sp_batcher_next(b, bad, NULL, NULL, NULL, NULL, &rows), SP_ESHAPE,
               "seq must be int32 of shape (4, 2)");
  int32_t hard[1] = {99};
  expect_error(sp_batcher_set_hard_negatives(b, 0, hard, 1), SP_EINVAL, "item 99");
  sp_batcher_free(b);
  c.pad_left = 0;
  c.prefix_augment = 0;
  cr_assert_eq(sp_batcher_new(&b, d, &c), SP_OK);
  cr_expect_eq(sp_batcher_n_examples(b), 2, "one example per session without augmentation");
  cr_assert_eq(sp_batcher_next(b, seq, last, tg, NULL, NULL, &rows), SP_OK);
  cr_expect(s[0] == 1 && s[1] == 2 && t[0] == 3 && l[0] == 1, "left-aligned [a b] -> c");
  t_free_all((sp_tensor *[]){seq, last, tg, neg, bad}, 5);
  sp_batcher_free(b);
  sp_dataset_free(d);
}

/* batch_size x max_len is the size of the caller's seq tensor: a huge one is refused by the
 * batcher itself (its histogram is sized by the longest session, not max_len). */
Test(batcher, huge_sizes_are_errors_not_allocations) {
  sp_dataset *d = tiny(0);
  sp_batch_config c;
  sp_batch_config_default(&c);
  sp_batcher *b = NULL;
  c.max_len = 100000000;
  expect_error(
      sp_batcher_new(&b, d, &c), SP_ESHAPE,
      "sp_batcher_new: batch_size 256 x max_len 100000000 = 25600000000 elements is too large");
  cr_expect_null(b);
  c.max_len = 50;
  c.n_uniform_neg = 1 << 30;
  expect_error(sp_batcher_new(&b, d, &c), SP_ESHAPE, "batch_size 256 x negatives 1073741825");
  /* a long max_len that fits is fine, and batches come out as with a short one */
  c.n_uniform_neg = 1;
  c.batch_size = 2;
  c.max_len = 1 << 20;
  cr_assert_eq(sp_batcher_new(&b, d, &c), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_batcher_n_examples(b), 3);
  sp_batcher_free(b);
  sp_dataset_free(d);
}

/* Every (session, target, negatives) triple of an epoch, in order, for a batch size. */
static uint64_t epoch_digest(sp_dataset *d, int batch, int64_t epoch, int hard) {
  sp_batch_config c;
  sp_batch_config_default(&c);
  c.bucket = 0; /* bucketing forms batches by length, so it depends on the batch size */
  c.batch_size = batch;
  c.max_len = 5;
  c.seed = 77;
  sp_batcher *b;
  cr_assert_eq(sp_batcher_new(&b, d, &c), SP_OK);
  if (hard) {
    int32_t h[2] = {1, 2};
    sp_batcher_set_hard_negatives(b, 0, h, 2);
  }
  sp_batcher_start_epoch(b, epoch);
  sp_tensor *seq = i32(2, (int[]){batch, 5}), *tg = i32(1, (int[]){batch}),
            *neg = i32(2, (int[]){batch, 2}), *ses = i32(1, (int[]){batch});
  uint64_t h = 1469598103934665603ull;
  int rows;
  while (sp_batcher_next(b, seq, NULL, tg, neg, ses, &rows) == SP_OK && rows > 0)
    for (int r = 0; r < rows; r++) {
      int32_t v[4] = {sp_tensor_i32(ses)[r], sp_tensor_i32(tg)[r], sp_tensor_i32(neg)[2 * r],
                      sp_tensor_i32(neg)[2 * r + 1]};
      for (int k = 0; k < 4; k++) h = (h ^ (uint32_t)v[k]) * 1099511628211ull;
      sp_session_view s;
      sp_dataset_session(d, sp_tensor_i32(ses)[r], &s);
      for (int k = 0; k < s.len; k++)
        cr_assert(s.items[k] != sp_tensor_i32(neg)[2 * r + 1],
                  "uniform negative inside the session");
    }
  t_free_all((sp_tensor *[]){seq, tg, neg, ses}, 4);
  sp_batcher_free(b);
  return h;
}

Test(batcher, deterministic_and_independent_of_batch_size) {
  sp_planted_config g;
  sp_planted_config_default(&g);
  g.n_sessions = 200;
  sp_dataset *d;
  sp_dataset_generate_planted(&d, &g, NULL);
  uint64_t a = epoch_digest(d, 32, 0, 0);
  cr_expect_eq(a, epoch_digest(d, 32, 0, 0), "same seed and epoch, different batches");
  cr_expect_eq(a, epoch_digest(d, 7, 0, 0), "the batch size changed the examples or negatives");
  cr_expect_neq(a, epoch_digest(d, 32, 1, 0), "epoch 1 repeats epoch 0's order");
  cr_expect_neq(a, epoch_digest(d, 32, 0, 1), "hard negatives were not used");
  sp_dataset_free(d);
}

Test(batcher, bucketing_keeps_the_examples_and_groups_lengths) {
  sp_planted_config g;
  sp_planted_config_default(&g);
  g.n_sessions = 400;
  sp_dataset *d;
  sp_dataset_generate_planted(&d, &g, NULL);
  int64_t seen[2][8] = {{0}};
  int64_t spread[2] = {0, 0};
  for (int bucket = 0; bucket < 2; bucket++) {
    sp_batch_config c;
    sp_batch_config_default(&c);
    c.batch_size = 16, c.max_len = 8, c.bucket = bucket, c.n_hard_neg = 0, c.n_uniform_neg = 0;
    sp_batcher *b;
    cr_assert_eq(sp_batcher_new(&b, d, &c), SP_OK);
    sp_batcher_start_epoch(b, 3);
    sp_tensor *seq = i32(2, SHAPE(16, 8)), *tg = i32(1, SHAPE(16)), *ses = i32(1, SHAPE(16));
    int rows;
    while (sp_batcher_next(b, seq, NULL, tg, NULL, ses, &rows) == SP_OK && rows > 0) {
      int lo = 99, hi = 0;
      for (int r = 0; r < rows; r++) {
        int len = 0;
        for (int k = 0; k < 8; k++) len += sp_tensor_i32(seq)[r * 8 + k] != 0;
        lo = len < lo ? len : lo, hi = len > hi ? len : hi;
        /* an order-independent digest of (session, target): sums of a few mixes */
        uint64_t x = (uint64_t)sp_tensor_i32(ses)[r] * 1000003u + (uint64_t)sp_tensor_i32(tg)[r];
        for (int m = 0; m < 8; m++) seen[bucket][m] += (int64_t)((x * (2654435761u + 2u * (uint64_t)m)) >> 7);
      }
      spread[bucket] += hi - lo;
    }
    t_free_all((sp_tensor *[]){seq, tg, ses}, 3);
    sp_batcher_free(b);
  }
  for (int m = 0; m < 8; m++) cr_expect_eq(seen[0][m], seen[1][m], "bucketing changed the set of examples");
  cr_expect(spread[1] * 2 < spread[0], "bucketed batches are not more uniform in length: %lld vs %lld",
            (long long)spread[1], (long long)spread[0]);
  sp_dataset_free(d);
}

/* ---- the real files (../shared/datasets): the join rules of PROVENANCE.md ---- */

Test(shared, beauty_join_rules_and_provenance_counts) {
  const char *dir = shared_dir("amazon_beauty_2014_5core");
  if (!dir) cr_skip_test("../shared/datasets/amazon_beauty_2014_5core is not here");
  sp_dataset *d;
  sp_prep_config c;
  sp_prep_config_default(&c);
  c.min_item_support = 1;
  c.min_session_len = 1;
  c.filter_unseen_eval = 0;
  c.min_eval_len = 1;
  cr_assert_eq(sp_dataset_prepare(&d, "beauty-shared", &dir, 1, &c), SP_OK, "%s", sp_last_error());
  sp_dataset_stats st;
  sp_dataset_get_stats(d, &st);
  /* nothing filtered: the 5-core population of PROVENANCE.md */
  cr_expect_eq(st.total.interactions, 198502);
  cr_expect_eq(st.n_items, 12101);
  /* its spot check: B00004TMFE -> Avalon Biotin ... [Avalon Organics, Hair Care, Conditioners] */
  int found = 0;
  for (int32_t j = 1; j <= st.n_items; j++) {
    sp_item_view it;
    sp_dataset_item(d, j, &it);
    if (strcmp(it.key, "B00004TMFE")) continue;
    found = 1;
    cr_expect(strncmp(it.title, "Avalon Biotin B-Complex Thickening Conditioner", 46) == 0,
              "title '%s'", it.title);
    cr_expect_str_eq(it.brand, "Avalon Organics");
    cr_expect(it.n_categories == 2, "%d categories", it.n_categories);
    cr_expect_str_eq(sp_dataset_item_category(d, j, 0), "Hair Care");
    cr_expect_str_eq(sp_dataset_item_category(d, j, 1), "Conditioners");
  }
  cr_expect(found, "B00004TMFE is missing");
  cr_expect_eq(st.items_without_title, 7, "PROVENANCE: 7 titles are empty");
  sp_dataset_free(d);
  /* the paper's rule: the counts PROVENANCE.md computed independently (7,604 / 2,004 / 31,433) */
  sp_prep_config_default(&c);
  c.filter_unseen_eval = 0;
  c.min_eval_len = 1;
  cr_assert_eq(sp_dataset_prepare(&d, "beauty-shared", &dir, 1, &c), SP_OK, "%s", sp_last_error());
  sp_dataset_get_stats(d, &st);
  cr_expect_eq(st.total.sessions, 7604);
  cr_expect_eq(st.n_items, 2004);
  cr_expect_eq(st.total.interactions, 31433);
  sp_dataset_free(d);
}

Test(shared, yelp_join_and_provenance_counts) {
  const char *dir = shared_dir("yelp_2019_5core");
  if (!dir) cr_skip_test("../shared/datasets/yelp_2019_5core is not here");
  sp_prep_config c;
  sp_prep_config_default(&c);
  c.session_rule = SP_SESSION_GAP;
  c.gap_seconds = 86400;
  c.min_session_len = 2;
  c.min_item_support = 5;
  c.filter_unseen_eval = 0;
  c.min_eval_len = 1;
  sp_dataset *d;
  cr_assert_eq(sp_dataset_prepare(&d, "yelp-shared", &dir, 1, &c), SP_OK, "%s", sp_last_error());
  sp_dataset_stats st;
  sp_dataset_get_stats(d, &st);
  cr_expect_eq(st.total.sessions, 42676); /* PROVENANCE.md: gap <= 24 h, min length 2, support 5 */
  cr_expect_eq(st.n_items, 9186);
  cr_expect_eq(st.total.interactions, 124384);
  cr_expect_eq(st.items_without_text, 0, "every business has categories");
  sp_dataset_free(d);
}
