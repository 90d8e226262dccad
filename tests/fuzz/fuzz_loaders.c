/* fuzz_loaders.c — libFuzzer targets for the loaders' line handling, one per loader (chosen
 * at build time by FUZZ_AMAZON, FUZZ_YELP, FUZZ_RECBOLE or FUZZ_PLAIN). The input is the
 * events file, then optionally a NUL byte and the item file. Each input is loaded failing on
 * the first bad line and again skipping bad lines; either way the raw store must stay
 * consistent, and every format error must name the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loaders.h"
#include "sprint.h"

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

static void check_strtab(const sp_strtab *t, int nonempty) {
  for (int32_t i = 0; i < t->count; i++) {
    const char *s = sp_strtab_get(t, i);
    CHECK(!nonempty || s[0] != '\0');
    CHECK(sp_strtab_find(t, s, strlen(s)) == i);
  }
}

static void check_raw(const sp_raw *r) {
  check_strtab(&r->users, 1);
  check_strtab(&r->items, 1);
  check_strtab(&r->text, 1);
  for (int64_t e = 0; e < r->n_events; e++) {
    CHECK(r->ev_user[e] >= 0 && r->ev_user[e] < r->users.count);
    CHECK(r->ev_item[e] >= 0 && r->ev_item[e] < r->items.count);
    CHECK(r->ev_time[e] >= 0 && r->ev_time[e] <= SP_TIME_MAX);
  }
  for (int32_t i = 0; i < r->items.count; i++) {
    CHECK(r->title[i] >= -1 && r->title[i] < r->text.count);
    CHECK(r->brand[i] >= -1 && r->brand[i] < r->text.count);
    const int32_t *c = r->categories[i];
    if (!c) continue;
    CHECK(c[0] >= 1);
    for (int32_t k = 1; k <= c[0]; k++) {
      CHECK(c[k] >= 0 && c[k] < r->text.count);
      for (int32_t m = 1; m < k; m++) CHECK(c[m] != c[k]);
    }
  }
  for (int k = 0; k < SP_BAD_CAUSES; k++) CHECK(r->bad[k] >= 0);
}

static int run(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o, int variant) {
#if defined(FUZZ_AMAZON)
  return variant ? sp_load_amazon_jsonl_lines(r, a, b, o) : sp_load_amazon2014_lines(r, a, b, o);
#elif defined(FUZZ_YELP)
  (void)variant;
  return sp_load_yelp_lines(r, a, b, o);
#elif defined(FUZZ_RECBOLE)
  (void)variant;
  return sp_load_recbole_lines(r, a, b, o);
#elif defined(FUZZ_PLAIN)
  (void)variant;
  return sp_load_plain_lines(r, a, b, o);
#else
#error "define one of FUZZ_AMAZON, FUZZ_YELP, FUZZ_RECBOLE, FUZZ_PLAIN"
#endif
}

#if defined(FUZZ_AMAZON)
#define VARIANTS 2
#else
#define VARIANTS 1
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t na = nul ? (size_t)(nul - data) : size, nb = nul ? size - na - 1 : 0;
  /* separate exact-size copies, so ASan sees a read past either file */
  char *a = malloc(na ? na : 1), *b = malloc(nb ? nb : 1);
  if (!a || !b) return free(a), free(b), 0;
  memcpy(a, data, na);
  if (nul) memcpy(b, nul + 1, nb);
  for (int variant = 0; variant < VARIANTS; variant++) {
    int strict_rc = -1;
    int64_t strict_events = 0, strict_items = 0;
    for (int skip = 0; skip <= 1; skip++) {
      sp_raw *r;
      if (sp_raw_new(&r) != SP_OK) continue;
      sp_lines la, lb;
      sp_lines_open_mem(&la, a, na, "events");
      sp_lines_open_mem(&lb, b, nb, "items");
      sp_load_opts o = {skip};
      int rc = run(r, &la, nul ? &lb : NULL, &o, variant);
      CHECK(rc == SP_OK || rc == SP_EFORMAT || rc == SP_ENOMEM);
      if (rc == SP_EFORMAT) {
        const char *m = sp_last_error();
        CHECK(strstr(m, "events:") || strstr(m, "items:"));
      }
      int64_t bad = 0;
      for (int k = 0; k < SP_BAD_CAUSES; k++) bad += r->bad[k];
      if (rc == SP_OK)
        CHECK(r->n_events > 0 && r->n_events + bad <= r->lines_read + 2); /* an empty file is one */
      if (!skip) {
        CHECK(bad == 0); /* nothing is counted when not skipping */
        strict_rc = rc, strict_events = r->n_events, strict_items = r->items.count;
      } else if (strict_rc == SP_OK) {
        /* what loads cleanly loads the same when skipping, with nothing skipped */
        CHECK(rc == SP_OK && bad == 0 && r->n_events == strict_events &&
              r->items.count == strict_items);
      }
      check_raw(r);
      sp_lines_close(&la);
      sp_lines_close(&lb);
      sp_raw_free(r);
    }
  }
  free(a);
  free(b);
  return 0;
}
