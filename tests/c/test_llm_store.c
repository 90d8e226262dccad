/* test_llm_store.c — the LLM cache and ledger (engine/llm/store.c): round trips, cache modes,
 * ledger totals and stages, batches, persistence, bad files; and SHA-256 known answers. */
#include "harness.h"

#include <unistd.h>

static void tmp_path(char *out, size_t n, const char *name) {
  snprintf(out, n, "/tmp/sprint_llm_store_%d_%s.sqlite", (int)getpid(), name);
  char side[600];
  remove(out);
  snprintf(side, sizeof side, "%s-wal", out);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", out);
  remove(side);
}

static sp_llm_entry entry(const char *key, const char *response) {
  sp_llm_entry e = {0};
  e.key = key;
  e.request = "{\"messages\":[]}";
  e.response = response;
  e.provider = "openai";
  e.model = "m";
  e.prompt_tokens = 10;
  e.completion_tokens = 5;
  e.latency_ms = 12.5;
  e.attempts = 2;
  e.errors = "attempt 1: HTTP 503; retry in 500 ms\n";
  return e;
}

static sp_llm_ledger_row row(const char *run, const char *stage, int cached, int ok, double cost) {
  sp_llm_ledger_row r = {0};
  r.run = run;
  r.stage = stage;
  r.session = "s1";
  r.try_no = 1;
  r.key = "k";
  r.provider = "openai";
  r.model = "m";
  r.cached = cached;
  r.ok = ok;
  r.prompt_tokens = cached ? 0 : 10;
  r.completion_tokens = cached ? 0 : 5;
  r.cost = cost;
  r.error = ok ? "" : "HTTP 401";
  return r;
}

Test(llm_store, put_get_roundtrip_and_persistence) {
  char path[512];
  tmp_path(path, sizeof path, "rt");
  sp_llm_store *s = NULL;
  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_RW), SP_OK, "%s", sp_last_error());
  int found = 1;
  sp_llm_entry got;
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "nope"), SP_OK);
  cr_expect_eq(found, 0);
  sp_llm_entry e = entry("k1", "{\"choices\":[]}");
  sp_llm_ledger_row r = row("run1", "pc", 0, 1, 0.5);
  cr_assert_eq(sp_llm_store_put(s, &e, &r), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "k1"), SP_OK);
  cr_expect_eq(found, 1);
  cr_expect_str_eq(got.response, "{\"choices\":[]}");
  cr_expect_str_eq(got.request, "{\"messages\":[]}");
  cr_expect_str_eq(got.errors, "attempt 1: HTTP 503; retry in 500 ms\n");
  cr_expect_eq(got.prompt_tokens, 10);
  cr_expect_eq(got.attempts, 2);
  cr_expect(got.created > 1e9);
  /* replacing an entry keeps one */
  sp_llm_entry e2 = entry("k1", "{\"v\":2}");
  cr_assert_eq(sp_llm_store_put(s, &e2, NULL), SP_OK);
  int64_t count = 0;
  cr_assert_eq(sp_llm_store_entries(s, &count), SP_OK);
  cr_expect_eq(count, 1);
  sp_llm_store_close(s);
  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_READ), SP_OK);
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "k1"), SP_OK);
  cr_expect_eq(found, 1);
  cr_expect_str_eq(got.response, "{\"v\":2}");
  sp_llm_store_close(s);
  remove(path);
}

Test(llm_store, cache_modes) {
  char path[512];
  tmp_path(path, sizeof path, "modes");
  sp_llm_store *s = NULL;
  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_RW), SP_OK);
  sp_llm_entry e = entry("k", "{}");
  cr_assert_eq(sp_llm_store_put(s, &e, NULL), SP_OK);
  sp_llm_store_close(s);

  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_READ), SP_OK);
  cr_expect_eq(sp_llm_store_cache_mode(s), SP_LLM_CACHE_READ);
  sp_llm_entry e2 = entry("k2", "{}");
  sp_llm_ledger_row r = row("r", "s", 0, 1, 0);
  cr_assert_eq(sp_llm_store_put(s, &e2, &r), SP_OK); /* the row is kept, the entry not */
  int found = 0;
  sp_llm_entry got;
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "k2"), SP_OK);
  cr_expect_eq(found, 0);
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "k"), SP_OK);
  cr_expect_eq(found, 1);
  sp_llm_totals t;
  cr_assert_eq(sp_llm_store_totals(s, &t, "r", NULL, NULL), SP_OK);
  cr_expect_eq(t.calls, 1);
  sp_llm_store_close(s);

  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_OFF), SP_OK);
  cr_assert_eq(sp_llm_store_get(s, &found, &got, "k"), SP_OK);
  cr_expect_eq(found, 0, "mode off never reads");
  sp_llm_store_close(s);
  remove(path);
}

Test(llm_store, ledger_totals_stages_and_batches) {
  char path[512];
  tmp_path(path, sizeof path, "ledger");
  sp_llm_store *s = NULL;
  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_RW), SP_OK);
  sp_llm_ledger_row rows[4] = {row("a", "pc", 0, 1, 0.25), row("a", "pc", 1, 1, 0),
                               row("a", "gip", 0, 0, 0), row("b", "pc", 0, 1, 1.0)};
  rows[2].provider = "offline";
  cr_assert_eq(sp_llm_store_put_rows(s, rows, 4), SP_OK, "%s", sp_last_error());
  sp_llm_totals t;
  cr_assert_eq(sp_llm_store_totals(s, &t, "a", NULL, NULL), SP_OK);
  cr_expect_eq(t.calls, 3);
  cr_expect_eq(t.cached, 1);
  cr_expect_eq(t.failed, 1);
  cr_expect_eq(t.prompt_tokens, 20);
  cr_expect_float_eq(t.cost, 0.25, 1e-12);
  cr_assert_eq(sp_llm_store_totals(s, &t, "a", "pc", NULL), SP_OK);
  cr_expect_eq(t.calls, 2);
  cr_assert_eq(sp_llm_store_totals(s, &t, NULL, NULL, "offline"), SP_OK);
  cr_expect_eq(t.calls, 1);
  cr_assert_eq(sp_llm_store_totals(s, &t, "", "", ""), SP_OK);
  cr_expect_eq(t.calls, 4);
  cr_expect_float_eq(t.cost, 1.25, 1e-12);
  const char *name = NULL;
  cr_assert_eq(sp_llm_store_stage(s, &name, "a", 0), SP_OK);
  cr_expect_str_eq(name, "gip");
  cr_assert_eq(sp_llm_store_stage(s, &name, "a", 1), SP_OK);
  cr_expect_str_eq(name, "pc");
  cr_assert_eq(sp_llm_store_stage(s, &name, "a", 2), SP_OK);
  cr_expect_null(name);
  sp_llm_store_close(s);
  remove(path);
}

Test(llm_store, bad_paths_files_and_arguments) {
  sp_llm_store *s = NULL;
  expect_error(sp_llm_store_open(&s, "/nonexistent-dir/x/llm.sqlite", SP_LLM_CACHE_RW), SP_EIO,
               "cannot open");
  cr_expect_null(s);
  char path[512];
  tmp_path(path, sizeof path, "junk");
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs("this is not a database, just some text that is long enough to look like a header......",
        f);
  fclose(f);
  expect_error(sp_llm_store_open(&s, path, SP_LLM_CACHE_RW), SP_EIO, "not a usable cache");
  remove(path);
  expect_error(sp_llm_store_open(&s, path, 7), SP_EINVAL, "cache mode");
  expect_error(sp_llm_store_open(NULL, path, 0), SP_EINVAL, "NULL");
  tmp_path(path, sizeof path, "args");
  cr_assert_eq(sp_llm_store_open(&s, path, SP_LLM_CACHE_RW), SP_OK);
  sp_llm_entry e = entry(NULL, "{}");
  expect_error(sp_llm_store_put(s, &e, NULL), SP_EINVAL, "needs key");
  expect_error(sp_llm_store_put(NULL, NULL, NULL), SP_EINVAL, "NULL store");
  cr_expect_eq(sp_llm_store_put(s, NULL, NULL), SP_OK, "nothing to write is fine");
  int found;
  expect_error(sp_llm_store_get(s, &found, NULL, "k"), SP_EINVAL, "NULL");
  sp_llm_store_close(s);
  sp_llm_store_close(NULL);
  remove(path);
}

Test(llm_store, sha256_known_answers) {
  char hex[65];
  sp_sha256_hex(hex, "", 0);
  cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sp_sha256_hex(hex, "abc", 3);
  cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes */
  sp_sha256_hex(hex, two, (int64_t)strlen(two));
  cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  enum { M = 1000000 };
  char *a = malloc(M);
  memset(a, 'a', M);
  sp_sha256_hex(hex, a, M);
  cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* the same million a's from a file (read in 64 KiB pieces), as raw dataset files are checked */
  char path[64];
  snprintf(path, sizeof path, "/tmp/sprint_sha_%ld", (long)getpid());
  FILE *f = fopen(path, "wb");
  cr_assert(f && fwrite(a, 1, M, f) == M);
  fclose(f);
  memset(hex, 0, sizeof hex);
  cr_assert_eq(sp_file_sha256_hex(hex, path), SP_OK, "%s", sp_last_error());
  cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  unlink(path);
  expect_error(sp_file_sha256_hex(hex, path), SP_EIO, "cannot read");
  free(a);
}
