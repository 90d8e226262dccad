/* planted.c — the planted-intent generator: a self-contained, seeded dataset for tests and
 * demos whose hidden intents are known, so later stages can measure how well intents are
 * recovered. Each intent has its own vocabulary (title words) and category names; items
 * belong to one intent; a session picks 1..max_intents intents and, event by event, an intent
 * of its own (or, with probability `noise`, any item), walking that intent's items in order
 * with probability `follow`. Sessions are one day apart, so the time split is meaningful. */
#include <stdio.h>
#include <string.h>

#include "dataset.h"
#include "internal.h"

/* Intent vocabularies: a theme name, two category levels, and title words. Intent i uses
 * theme i % N; beyond N themes the names get a number so every intent stays distinct. */
static const struct {
  const char *theme, *category, *sub;
  const char *words[6];
} themes[] = {
    {"skin care",
     "Skin Care",
     "Moisturizers",
     {"hydrating", "cream", "face", "moisture", "serum", "glow"}},
    {"hair care",
     "Hair Care",
     "Shampoos",
     {"shampoo", "conditioner", "curl", "scalp", "keratin", "shine"}},
    {"makeup", "Makeup", "Eyes", {"mascara", "eyeliner", "palette", "shadow", "lash", "brow"}},
    {"nails", "Nail Care", "Polish", {"nail", "polish", "lacquer", "topcoat", "manicure", "gel"}},
    {"fragrance", "Fragrance", "Women's", {"perfume", "eau", "parfum", "floral", "musk", "mist"}},
    {"sun care", "Skin Care", "Sunscreens", {"sunscreen", "spf", "uv", "broad", "spectrum", "tan"}},
    {"men's grooming",
     "Shaving",
     "Men's",
     {"razor", "shave", "beard", "aftershave", "trimmer", "balm"}},
    {"tools",
     "Tools & Accessories",
     "Brushes",
     {"brush", "sponge", "applicator", "blender", "kit", "mirror"}},
    {"bath", "Bath & Body", "Body Wash", {"body", "wash", "soap", "scrub", "bubble", "lotion"}},
    {"oral care",
     "Oral Care",
     "Whitening",
     {"toothpaste", "whitening", "floss", "mint", "enamel", "strips"}},
    {"lips", "Makeup", "Lips", {"lipstick", "gloss", "lip", "matte", "liner", "tint"}},
    {"anti-aging",
     "Skin Care",
     "Anti-Aging",
     {"retinol", "wrinkle", "firming", "collagen", "peptide", "night"}},
};
#define N_THEMES ((int)(sizeof themes / sizeof themes[0]))
static const char *generic_words[] = {"premium", "daily", "natural", "classic",
                                      "travel",  "size",  "pro",     "gentle"};

void sp_planted_config_default(sp_planted_config *c) {
  if (!c) return;
  c->n_intents = 8;
  c->items_per_intent = 40;
  c->n_sessions = 4000;
  c->min_len = 3;
  c->max_len = 10;
  c->max_intents = 3;
  c->noise = 0.1f;
  c->follow = 0.7f;
  c->seed = 1;
}

static void intent_name(int i, char *buf, size_t n) {
  if (i < N_THEMES)
    snprintf(buf, n, "%s", themes[i].theme);
  else
    snprintf(buf, n, "%s %d", themes[i % N_THEMES].theme, i / N_THEMES + 1);
}

int sp_dataset_generate_planted(sp_dataset **out, const sp_planted_config *g_in,
                                const sp_prep_config *prep_in) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_dataset_generate_planted: NULL output");
  *out = NULL;
  sp_planted_config g;
  if (g_in)
    g = *g_in;
  else
    sp_planted_config_default(&g);
  if (g.n_intents < 1 || g.items_per_intent < 1 || g.n_sessions < 1 || g.min_len < 1 ||
      g.max_len < g.min_len || g.max_intents < 1 || g.max_intents > g.n_intents ||
      !(g.noise >= 0 && g.noise <= 1) || !(g.follow >= 0 && g.follow <= 1))
    return SP_FAIL(
        SP_EINVAL,
        "planted: need positive sizes, min_len <= max_len, 1 <= max_intents <= n_intents "
        "and noise, follow in [0, 1]");
  sp_prep_config prep;
  if (prep_in)
    prep = *prep_in;
  else {
    sp_prep_config_default(&prep);
    prep.min_session_len = 2;
    prep.min_item_support = 1;
  }
  prep.session_rule = SP_SESSION_GIVEN;
  sp_raw *raw;
  SP_TRY(sp_raw_new(&raw));
  raw->events_are_sessions = 1;
  sp_rng rng;
  sp_rng_init(&rng, g.seed);
  int rc = SP_OK;
  char key[64], title[256], name[64], cat[96];
  /* items: "p<intent>-<k>", title from the intent's words plus generic words */
  for (int i = 0; i < g.n_intents && rc == SP_OK; i++) {
    const int t = i % N_THEMES;
    intent_name(i, name, sizeof name);
    for (int k = 0; k < g.items_per_intent && rc == SP_OK; k++) {
      snprintf(key, sizeof key, "p%d-%d", i, k);
      snprintf(title, sizeof title, "%s %s %s %s #%d", generic_words[sp_rng_below(&rng, 8)],
               themes[t].words[sp_rng_below(&rng, 6)], themes[t].words[sp_rng_below(&rng, 6)],
               i >= N_THEMES ? name : "", k + 1);
      rc = sp_raw_item_title(raw, key, strlen(key), title, strlen(title));
      if (rc == SP_OK)
        rc = sp_raw_item_category(raw, key, strlen(key), themes[t].category,
                                  strlen(themes[t].category));
      snprintf(cat, sizeof cat, "%s%s%s", themes[t].sub, i >= N_THEMES ? " " : "",
               i >= N_THEMES ? name : "");
      if (rc == SP_OK) rc = sp_raw_item_category(raw, key, strlen(key), cat, strlen(cat));
    }
  }
  int chosen[64];
  int last[64];
  for (int s = 0; s < g.n_sessions && rc == SP_OK; s++) {
    snprintf(key, sizeof key, "s%06d", s);
    int n_int = 1 + (int)sp_rng_below(&rng, (uint32_t)(g.max_intents < 64 ? g.max_intents : 64));
    for (int c = 0; c < n_int; c++) { /* distinct intents */
      int pick;
      int again;
      do {
        pick = (int)sp_rng_below(&rng, (uint32_t)g.n_intents);
        again = 0;
        for (int q = 0; q < c; q++) again |= chosen[q] == pick;
      } while (again);
      chosen[c] = pick;
      last[c] = (int)sp_rng_below(&rng, (uint32_t)g.items_per_intent) - 1;
      intent_name(pick, name, sizeof name);
      rc = sp_raw_session_label(raw, key, strlen(key), name, strlen(name));
    }
    int len = g.min_len + (int)sp_rng_below(&rng, (uint32_t)(g.max_len - g.min_len + 1));
    int64_t t0 = 1577836800 + (int64_t)s * 86400; /* 2020-01-01 + s days */
    for (int e = 0; e < len && rc == SP_OK; e++) {
      float u[2];
      sp_rng_uniform(&rng, u, 2);
      int intent, item;
      if (u[0] < g.noise) {
        intent = (int)sp_rng_below(&rng, (uint32_t)g.n_intents);
        item = (int)sp_rng_below(&rng, (uint32_t)g.items_per_intent);
      } else {
        int c = (int)sp_rng_below(&rng, (uint32_t)n_int);
        intent = chosen[c];
        item = u[1] < g.follow ? (last[c] + 1) % g.items_per_intent
                               : (int)sp_rng_below(&rng, (uint32_t)g.items_per_intent);
        last[c] = item;
      }
      char ik[64];
      snprintf(ik, sizeof ik, "p%d-%d", intent, item);
      rc = sp_raw_event(raw, key, strlen(key), ik, strlen(ik), t0 + e * 60);
    }
    raw->lines_read++;
  }
  if (rc != SP_OK) {
    sp_raw_free(raw);
    return rc;
  }
  return sp_dataset_from_raw(out, raw, &prep);
}
