/* test_eval.c — ranking evaluation (engine/eval): a hand-computed example with every number
 * written out (ties under each rule, masking of the session's items, NaN scores, padding rows),
 * sampled ranking over given candidates, the candidate helpers (uniform, a model's top items),
 * metrics from ranks, independence from the batch size and the thread count against a naive
 * reference, and the error paths. */
#include <stdlib.h>

#include "harness.h"

/* The example: d = 2, items 1..5 (row 0 padding).
 *   E: i1 (1, 0)  i2 (0, 1)  i3 (1, 1)  i4 (2, 0)  i5 (0, 0)
 *   row 0: h (1, 0)  scores i1..i5 = 1 0 1 2 0   target 3 (score 1)
 *   row 1: h (0, 1)  scores          0 1 1 0 0   target 5 (score 0)
 *   row 2: h (1, 2)  scores          1 2 3 2 0   target 3 (score 3)
 *   row 3: h (0, 0)  scores          0 0 0 0 0   target 2 (a constant model)
 *   row 4: padding (target 0)
 * Session items (seq, 0 = padding): row 0 {4, 3}, row 1 {2, 2, 1}, row 2 {}, row 3 {1, 5}. */
static const float E_VALUES[] = {0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 0, 0};
static const float H_VALUES[] = {1, 0, 0, 1, 1, 2, 0, 0, 0, 0};
static const int32_t TARGETS[] = {3, 5, 3, 2, 0};
static const int32_t SEQ[] = {4, 3, 0, 2, 2, 1, 0, 0, 0, 1, 0, 5, 0, 0, 0};

typedef struct {
  sp_ctx *ctx;
  sp_tensor *e, *h, *target, *seq, *rank;
} example;

static example example_new(void) {
  example x;
  sp_ctx_new(&x.ctx, 1);
  x.e = t_from(2, SHAPE(6, 2), E_VALUES);
  x.h = t_from(2, SHAPE(5, 2), H_VALUES);
  x.target = t_from_i32(1, SHAPE(5), TARGETS);
  x.seq = t_from_i32(2, SHAPE(5, 3), SEQ);
  sp_tensor_new(&x.rank, SP_F32, 1, SHAPE(5));
  return x;
}

static void example_free(example *x) {
  t_free_all((sp_tensor *[]){x->e, x->h, x->target, x->seq, x->rank}, 5);
  sp_ctx_free(x->ctx);
}

static void expect_full(example *x, int ties, int mask, const float *want) {
  sp_rank_config cfg;
  sp_rank_config_default(&cfg);
  cfg.ties = ties;
  cfg.mask_session_items = mask;
  cr_assert_eq(sp_rank_full(x->ctx, x->rank, x->h, x->e, x->target, x->seq, &cfg), SP_OK, "%s",
               sp_last_error());
  char what[64];
  snprintf(what, sizeof what, "full ranks, ties %d, mask %d", ties, mask);
  expect_values(what, x->rank, want, 5, 0);
}

Test(eval, full_ranking_hand_computed_ties_and_masking) {
  example x = example_new();
  /* No masking. row 0: >= 1 are i1 i3 i4 -> pessimistic 3; > 1 is i4 -> optimistic 2; mid 2.5.
   * row 1: every item >= 0 -> 5; > 0 are i2 i3 -> 3; mid 4. row 2: 3 is the top -> 1 1 1.
   * row 3: all tie -> 5 (a constant model must not get rank 1), 1, 3. row 4: padding -> 0. */
  expect_full(&x, SP_TIES_PESSIMISTIC, 0, (float[]){3, 5, 1, 5, 0});
  expect_full(&x, SP_TIES_OPTIMISTIC, 0, (float[]){2, 3, 1, 1, 0});
  expect_full(&x, SP_TIES_AVERAGE, 0, (float[]){2.5f, 4, 1, 3, 0});
  /* Masking. row 0 leaves out i4 (score 2; i3 is the target): ranked i1 i2 i3 i5, >= 1 are i1
   * i3 -> 2, > 1 none -> 1, mid 1.5. row 1 leaves out i2 and i1 (i2 listed twice): ranked i3 i4
   * i5, >= 0 all three -> 3, > 0 is i3 -> 2, mid 2.5. row 2 has no items: as before. row 3
   * leaves out i1 i5: ranked i2 i3 i4 all tie -> 3, 1, 2. */
  expect_full(&x, SP_TIES_PESSIMISTIC, 1, (float[]){2, 3, 1, 3, 0});
  expect_full(&x, SP_TIES_OPTIMISTIC, 1, (float[]){1, 2, 1, 1, 0});
  expect_full(&x, SP_TIES_AVERAGE, 1, (float[]){1.5f, 2.5f, 1, 2, 0});
  /* seq is ignored without masking, and may be NULL */
  cr_assert_eq(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, NULL, NULL), SP_OK, "%s",
               sp_last_error());
  expect_values("defaults: pessimistic, no masking", x.rank, (float[]){3, 5, 1, 5, 0}, 5, 0);
  example_free(&x);
}

Test(eval, full_ranking_nan_scores_rank_last) {
  example x = example_new();
  /* i5 becomes (NaN, 0): every row sees a NaN score among its ranked items -> the worst rank
   * (5 items, or 5 minus the masked ones); row 3 masks i5, so its NaN does not count there. */
  sp_tensor_f32(x.e)[10] = NAN;
  expect_full(&x, SP_TIES_OPTIMISTIC, 0, (float[]){5, 5, 5, 5, 0});
  expect_full(&x, SP_TIES_OPTIMISTIC, 1, (float[]){4, 3, 5, 1, 0});
  /* a NaN representation: the worst rank too */
  sp_tensor_f32(x.e)[10] = 0;
  sp_tensor_f32(x.h)[4] = NAN;
  expect_full(&x, SP_TIES_AVERAGE, 0, (float[]){2.5f, 4, 5, 3, 0});
  example_free(&x);
}

Test(eval, n_items_ignores_extra_table_rows) {
  /* A table with a 7th row (a mask token, say) that scores highest: with n_items = 5 it is not
   * ranked; with n_items 0 it is, and every target drops by one. */
  example x = example_new();
  float e7[14];
  memcpy(e7, E_VALUES, sizeof E_VALUES);
  e7[12] = 9, e7[13] = 9;
  sp_tensor *e = t_from(2, SHAPE(7, 2), e7);
  sp_rank_config cfg;
  sp_rank_config_default(&cfg);
  cfg.n_items = 5;
  cr_assert_eq(sp_rank_full(x.ctx, x.rank, x.h, e, x.target, NULL, &cfg), SP_OK, "%s",
               sp_last_error());
  expect_values("n_items 5", x.rank, (float[]){3, 5, 1, 5, 0}, 5, 0);
  cfg.n_items = 0;
  cr_assert_eq(sp_rank_full(x.ctx, x.rank, x.h, e, x.target, NULL, &cfg), SP_OK);
  /* row 3 (h = 0) scores the extra row 0 as well: a six-way tie */
  expect_values("n_items 0 (all rows)", x.rank, (float[]){4, 6, 2, 6, 0}, 5, 0);
  sp_tensor_free(e);
  example_free(&x);
}

Test(eval, sampled_ranking_hand_computed) {
  example x = example_new();
  /* Candidates, column 0 the target. row 0 {3, 1, 2}: scores 1 | 1 0 -> 2, 1, 1.5.
   * row 1 {5, 2, 4}: 0 | 1 0 -> 3, 2, 2.5. row 2 {1, 3, 5}: 1 | 3 0 -> 2, 2, 2.
   * row 3 {2, 1, 3}: all 0 -> 3, 1, 2. row 4: padding. */
  sp_tensor *cand =
      t_from_i32(2, SHAPE(5, 3), (int32_t[]){3, 1, 2, 5, 2, 4, 1, 3, 5, 2, 1, 3, 0, 0, 0});
  const float want[2][3][5] = {
      /* no masking */ {{2, 3, 2, 3, 0}, {1, 2, 2, 1, 0}, {1.5f, 2.5f, 2, 2, 0}},
      /* masking: row 1 drops i2, row 3 drops i1 (session items) */
      {{2, 2, 2, 2, 0}, {1, 1, 2, 1, 0}, {1.5f, 1.5f, 2, 1.5f, 0}}};
  for (int mask = 0; mask < 2; mask++)
    for (int ties = 0; ties < 3; ties++) {
      sp_rank_config cfg = {.ties = ties, .mask_session_items = mask, .n_items = 0};
      cr_assert_eq(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, cand, x.seq, &cfg), SP_OK, "%s",
                   sp_last_error());
      char what[64];
      snprintf(what, sizeof what, "sampled ranks, ties %d, mask %d", ties, mask);
      expect_values(what, x.rank, want[mask][ties], 5, 0);
    }
  /* a single candidate (the target alone) is rank 1 */
  sp_tensor *only = t_from_i32(2, SHAPE(5, 1), (int32_t[]){3, 5, 3, 2, 0});
  cr_assert_eq(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, only, NULL, NULL), SP_OK);
  expect_values("target alone", x.rank, (float[]){1, 1, 1, 1, 0}, 5, 0);
  t_free_all((sp_tensor *[]){cand, only}, 2);
  example_free(&x);
}

Test(eval, metrics_hand_computed) {
  const int ks[] = {1, 3};
  double m[7];
  /* pessimistic ranks 3 5 1 5: HR@1 = 1/4; HR@3 = 2/4; NDCG@3 = (1/log2 4 + 1) / 4 = 0.375;
   * MRR@3 = (1/3 + 1) / 4; MRR = (1/3 + 1/5 + 1 + 1/5) / 4 */
  cr_assert_eq(sp_rank_metrics(m, (float[]){3, 5, 1, 5}, 4, ks, 2), SP_OK, "%s", sp_last_error());
  const double want[7] = {0.25, 0.25, 0.25, 0.5, 0.375, 1.0 / 3.0, 1.7333333333333333 / 4};
  for (int i = 0; i < 7; i++)
    cr_expect(fabs(m[i] - want[i]) < 1e-12, "metric %d: %.17g, want %.17g", i, m[i], want[i]);
  /* mid-ranks 2.5 4 1 3: HR@3 = 3/4; NDCG@3 = (1/log2 3.5 + 1 + 1/log2 4) / 4 = 0.51332368...;
   * MRR@3 = (0.4 + 1 + 1/3) / 4; MRR = (0.4 + 0.25 + 1 + 1/3) / 4 */
  cr_assert_eq(sp_rank_metrics(m, (float[]){2.5f, 4, 1, 3}, 4, ks, 2), SP_OK);
  const double want_avg[7] = {
      0.25, 0.25, 0.25, 0.75, 0.513323688916278, 0.43333333333333335, 0.49583333333333335};
  for (int i = 0; i < 7; i++)
    cr_expect(fabs(m[i] - want_avg[i]) < 1e-12, "metric %d: %.17g, want %.17g", i, m[i],
              want_avg[i]);
  /* no cut-offs: the MRR alone */
  cr_assert_eq(sp_rank_metrics(m, (float[]){2, 4}, 2, NULL, 0), SP_OK);
  cr_expect(fabs(m[0] - 0.375) < 1e-15);
}

Test(eval, uniform_candidates) {
  /* n = 50 items; row 0 session {1..10}, row 1 padding, row 2 the same session as row 0 under
   * another key, row 3 key 7 again with no session. */
  int32_t seq[4 * 10] = {0};
  for (int p = 0; p < 10; p++) seq[p] = p + 1, seq[20 + p] = p + 1;
  sp_tensor *s = t_from_i32(2, SHAPE(4, 10), seq);
  sp_tensor *t = t_from_i32(1, SHAPE(4), (int32_t[]){11, 0, 11, 11});
  sp_tensor *key = t_from_i32(1, SHAPE(4), (int32_t[]){7, 8, 9, 7});
  sp_tensor *c, *c2;
  sp_tensor_new(&c, SP_I32, 2, SHAPE(4, 20));
  sp_tensor_new(&c2, SP_I32, 2, SHAPE(4, 20));
  cr_assert_eq(sp_rank_uniform_candidates(c, t, s, key, 50, 3), SP_OK, "%s", sp_last_error());
  const int32_t *cv = sp_tensor_i32(c);
  for (int k = 0; k < 20; k++) cr_expect_eq(cv[20 + k], 0, "a padding row is all zero");
  for (int b = 0; b < 4; b += 2) {
    const int32_t *row = cv + b * 20;
    cr_expect_eq(row[0], 11, "column 0 is the target");
    for (int k = 1; k < 20; k++) {
      cr_expect(row[k] >= 12 && row[k] <= 50, "row %d: %d must be outside the session and target",
                b, row[k]);
      for (int j = 1; j < k; j++) cr_expect_neq(row[j], row[k], "negatives are distinct");
    }
  }
  cr_expect(memcmp(cv, cv + 40, 20 * sizeof *cv) != 0, "other keys draw other negatives");
  /* deterministic, and a row's draws depend on its key, not its place in the batch */
  cr_assert_eq(sp_rank_uniform_candidates(c2, t, s, key, 50, 3), SP_OK);
  cr_expect(memcmp(cv, sp_tensor_i32(c2), 80 * sizeof *cv) == 0, "same seed, same sets");
  sp_tensor *c1, *t1 = t_from_i32(1, SHAPE(1), (int32_t[]){11}),
                 *k1 = t_from_i32(1, SHAPE(1), (int32_t[]){7}),
                 *s1 = t_from_i32(2, SHAPE(1, 10), seq);
  sp_tensor_new(&c1, SP_I32, 2, SHAPE(1, 20));
  cr_assert_eq(sp_rank_uniform_candidates(c1, t1, s1, k1, 50, 3), SP_OK);
  cr_expect(memcmp(cv, sp_tensor_i32(c1), 20 * sizeof *cv) == 0, "a batch of one draws the same");
  cr_assert_eq(sp_rank_uniform_candidates(c2, t, s, key, 50, 4), SP_OK);
  cr_expect(memcmp(cv, sp_tensor_i32(c2), 20 * sizeof *cv) != 0, "another seed, another set");
  /* a session holding all but one free item: the draw must find exactly that one */
  int32_t full[10] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 0};
  sp_tensor *sf = t_from_i32(2, SHAPE(1, 10), full), *cf;
  sp_tensor *tf = t_from_i32(1, SHAPE(1), (int32_t[]){11});
  sp_tensor_new(&cf, SP_I32, 2, SHAPE(1, 2));
  cr_assert_eq(sp_rank_uniform_candidates(cf, tf, sf, k1, 11, 3), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_i32(cf)[1], 5);
  sp_tensor *cf3;
  sp_tensor_new(&cf3, SP_I32, 2, SHAPE(1, 3));
  expect_error(sp_rank_uniform_candidates(cf3, tf, sf, k1, 11, 3), SP_EINVAL,
               "row 0 has 1 items outside its session to draw 2 negatives from");
  expect_error(sp_rank_uniform_candidates(c, t, s, key, 10, 3), SP_EINVAL,
               "target[0] = 11 is outside 1..10");
  expect_error(sp_rank_uniform_candidates(c, t1, s, key, 50, 3), SP_ESHAPE,
               "target (1) must be (4)");
  expect_error(sp_rank_uniform_candidates(c, t, s, NULL, 50, 3), SP_EINVAL, "key is NULL");
  expect_error(sp_rank_uniform_candidates(c, t, s, key, 0, 3), SP_EINVAL, "n_items must be >= 1");
  t_free_all((sp_tensor *[]){s, t, key, c, c2, c1, t1, k1, s1, sf, cf, tf, cf3}, 13);
}

Test(eval, topk_candidates_are_a_models_best_non_session_items) {
  example x = example_new();
  sp_tensor *c;
  sp_tensor_new(&c, SP_I32, 2, SHAPE(5, 3));
  /* row 0 scores 1 0 1 2 0, target 3: without seq the best others are i4 (2), i1 (1); with seq
   * {4, 3} i4 is left out: i1 (1), then i2 and i5 tie at 0 -> the lower id, i2.
   * row 1 scores 0 1 1 0 0, target 5: i2 i3 (1, 1, by id); with seq {2, 2, 1}: i3, i4.
   * row 2 scores 1 2 3 2 0, target 3: i2 i4 tie at 2. row 3 all 0, target 2: i1 i3 (seq {1, 5}:
   * i3 i4). */
  cr_assert_eq(sp_rank_topk_candidates(x.ctx, c, x.h, x.e, x.target, NULL, 0), SP_OK, "%s",
               sp_last_error());
  const int32_t want[15] = {3, 4, 1, 5, 2, 3, 3, 2, 4, 2, 1, 3, 0, 0, 0};
  cr_expect(memcmp(sp_tensor_i32(c), want, sizeof want) == 0, "top-k without seq");
  cr_assert_eq(sp_rank_topk_candidates(x.ctx, c, x.h, x.e, x.target, x.seq, 0), SP_OK);
  const int32_t want_seq[15] = {3, 1, 2, 5, 3, 4, 3, 2, 4, 2, 3, 4, 0, 0, 0};
  cr_expect(memcmp(sp_tensor_i32(c), want_seq, sizeof want_seq) == 0, "top-k outside the session");
  /* the model ranks its own top items: under it the target of row 2 (its best) stays first */
  sp_rank_config cfg;
  sp_rank_config_default(&cfg);
  cr_assert_eq(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, c, NULL, &cfg), SP_OK);
  expect_values("ranks among the model's hard negatives", x.rank, (float[]){2, 3, 1, 3, 0}, 5, 0);
  /* too few free items: row 1 has 2 besides its target and session (5; 2, 1) */
  sp_tensor *c4;
  sp_tensor_new(&c4, SP_I32, 2, SHAPE(5, 4));
  expect_error(sp_rank_topk_candidates(x.ctx, c4, x.h, x.e, x.target, x.seq, 0), SP_EINVAL,
               "row 1 has 2 items outside its session for 3 negatives");
  sp_tensor_f32(x.h)[0] = NAN;
  expect_error(sp_rank_topk_candidates(x.ctx, c, x.h, x.e, x.target, NULL, 0), SP_EINVAL,
               "row 0 has too few items with a finite score");
  t_free_all((sp_tensor *[]){c, c4}, 2);
  example_free(&x);
}

/* ---- batch-size and thread-count independence against a naive reference ---- */

/* Reference: double dot products, every item compared to the target, the rule applied. */
static float reference_rank(const float *h, const float *e, int d, int n, int32_t t,
                            const int32_t *seq, int L, int ties) {
  double st = 0;
  for (int k = 0; k < d; k++) st += (double)h[k] * e[(int64_t)t * d + k];
  int ge = 0, gt = 0;
  for (int j = 1; j <= n; j++) {
    int masked = 0;
    for (int p = 0; seq && p < L; p++) masked |= j != t && seq[p] == j;
    if (masked) continue;
    double s = 0;
    for (int k = 0; k < d; k++) s += (double)h[k] * e[(int64_t)j * d + k];
    ge += s >= st;
    gt += s > st;
  }
  return ties == 0 ? (float)ge : ties == 1 ? (float)(gt + 1) : 0.5f * (float)(ge + gt + 1);
}

Test(eval, batch_size_and_threads_do_not_change_ranks) {
  /* Values on a coarse grid (multiples of 1/4, small): every dot product is exact in float, so
   * ties are real ties and the reference's comparisons are the ranking's. 37 rows x 1000 items
   * is above the parallel threshold. */
  enum { B = 37, N = 1000, D = 8, L = 6 };
  float *e = malloc(sizeof *e * (N + 1) * D), h[B * D];
  int32_t t[B], seq[B * L];
  sp_rng rng;
  sp_rng_init(&rng, 42);
  for (int i = 0; i < (N + 1) * D; i++) e[i] = 0.25f * (float)((int)sp_rng_below(&rng, 9) - 4);
  for (int i = 0; i < B * D; i++) h[i] = 0.25f * (float)((int)sp_rng_below(&rng, 9) - 4);
  for (int b = 0; b < B; b++) {
    t[b] = b == 5 ? 0 : 1 + (int32_t)sp_rng_below(&rng, N);
    for (int p = 0; p < L; p++) seq[b * L + p] = p < b % L ? 0 : (int32_t)sp_rng_below(&rng, N + 1);
  }
  seq[3 * L + 2] = t[3]; /* the target inside its own session stays ranked */
  sp_tensor *te = t_from(2, SHAPE(N + 1, D), e);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  int saved_threads = sp_get_num_threads();
  for (int ties = 0; ties < 3; ties++)
    for (int mask = 0; mask < 2; mask++) {
      sp_rank_config cfg = {.ties = ties, .mask_session_items = mask, .n_items = 0};
      float ref[B];
      for (int b = 0; b < B; b++)
        ref[b] = t[b] == 0
                     ? 0
                     : reference_rank(h + b * D, e, D, N, t[b], mask ? seq + b * L : NULL, L, ties);
      const int sizes[] = {B, 1, 4, 16, 36};
      for (int threads = 1; threads <= 2; threads++) {
        sp_set_num_threads(threads);
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
          int bs = sizes[si];
          for (int b0 = 0; b0 < B; b0 += bs) {
            int rows = b0 + bs <= B ? bs : B - b0;
            sp_tensor *th = t_from(2, SHAPE(rows, D), h + b0 * D);
            sp_tensor *tt = t_from_i32(1, SHAPE(rows), t + b0);
            sp_tensor *ts = t_from_i32(2, SHAPE(rows, L), seq + b0 * L), *r;
            sp_tensor_new(&r, SP_F32, 1, SHAPE(rows));
            cr_assert_eq(sp_rank_full(ctx, r, th, te, tt, ts, &cfg), SP_OK, "%s", sp_last_error());
            for (int b = 0; b < rows; b++)
              cr_expect_eq(sp_tensor_f32(r)[b], ref[b0 + b],
                           "ties %d mask %d threads %d batch %d row %d: %g, reference %g", ties,
                           mask, threads, bs, b0 + b, (double)sp_tensor_f32(r)[b],
                           (double)ref[b0 + b]);
            t_free_all((sp_tensor *[]){th, tt, ts, r}, 4);
            sp_ctx_reset(ctx);
          }
        }
      }
    }
  sp_set_num_threads(saved_threads);
  sp_tensor_free(te);
  sp_ctx_free(ctx);
  free(e);
}

Test(eval, random_scores_rank_the_same_in_any_batch) {
  /* Gaussian values: no exact ties; the ranks of a whole batch and of one-row batches match
   * bit for bit (each row's scores are the same k-ordered sums). */
  enum { B = 64, N = 2000, D = 64 };
  sp_tensor *e = t_randn(7, 2, SHAPE(N + 1, D), 1), *h = t_randn(8, 2, SHAPE(B, D), 1);
  int32_t t[B];
  for (int b = 0; b < B; b++) t[b] = 1 + (b * 97) % N;
  sp_tensor *tt = t_from_i32(1, SHAPE(B), t), *r;
  sp_tensor_new(&r, SP_F32, 1, SHAPE(B));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_rank_full(ctx, r, h, e, tt, NULL, NULL), SP_OK, "%s", sp_last_error());
  for (int b = 0; b < B; b++) {
    sp_tensor *h1 = t_from(2, SHAPE(1, D), sp_tensor_f32(h) + b * D);
    sp_tensor *t1 = t_from_i32(1, SHAPE(1), t + b), *r1;
    sp_tensor_new(&r1, SP_F32, 1, SHAPE(1));
    cr_assert_eq(sp_rank_full(ctx, r1, h1, e, t1, NULL, NULL), SP_OK);
    cr_expect_eq(sp_tensor_f32(r1)[0], sp_tensor_f32(r)[b], "row %d", b);
    t_free_all((sp_tensor *[]){h1, t1, r1}, 3);
  }
  t_free_all((sp_tensor *[]){e, h, tt, r}, 4);
  sp_ctx_free(ctx);
}

/* ---- error paths: a status and a message naming the call and the cause, never a crash ---- */

Test(eval, errors) {
  example x = example_new();
  sp_rank_config cfg;
  sp_rank_config_default(&cfg);
  sp_tensor *v = t_from(1, SHAPE(2), (float[]){1, 2});
  sp_tensor *e3 = t_from(2, SHAPE(2, 3), (float[]){0, 0, 0, 1, 1, 1});
  sp_tensor *bad_t = t_from_i32(1, SHAPE(5), (int32_t[]){3, 6, 3, 2, 0});
  sp_tensor *neg_t = t_from_i32(1, SHAPE(5), (int32_t[]){3, -1, 3, 2, 0});
  sp_tensor *t4 = t_from_i32(1, SHAPE(4), (int32_t[]){1, 1, 1, 1});
  sp_tensor *seq4 = t_from_i32(2, SHAPE(4, 3), SEQ);
  sp_tensor *bad_seq =
      t_from_i32(2, SHAPE(5, 3), (int32_t[]){4, 3, 0, 2, 2, 1, 0, 0, 0, 1, 9, 5, 0, 0, 0});
  sp_tensor *r4, *ri;
  sp_tensor_new(&r4, SP_F32, 1, SHAPE(4));
  sp_tensor_new(&ri, SP_I32, 1, SHAPE(5));
  expect_error(sp_rank_full(NULL, x.rank, x.h, x.e, x.target, NULL, NULL), SP_EINVAL,
               "sp_rank_full: NULL context");
  expect_error(sp_rank_full(x.ctx, NULL, x.h, x.e, x.target, NULL, NULL), SP_EINVAL,
               "sp_rank_full: rank is NULL");
  expect_error(sp_rank_full(x.ctx, x.rank, NULL, x.e, x.target, NULL, NULL), SP_EINVAL,
               "h is NULL");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, NULL, NULL, NULL), SP_EINVAL,
               "target is NULL");
  expect_error(sp_rank_full(x.ctx, x.rank, v, x.e, x.target, NULL, NULL), SP_ESHAPE,
               "h (2) must be (B, d)");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, e3, x.target, NULL, NULL), SP_ESHAPE,
               "items (2, 3) must be (n_items + 1, d) with n_items >= 1 and d = 2");
  expect_error(sp_rank_full(x.ctx, r4, x.h, x.e, x.target, NULL, NULL), SP_ESHAPE,
               "rank (4) must be (5)");
  expect_error(sp_rank_full(x.ctx, ri, x.h, x.e, x.target, NULL, NULL), SP_EDTYPE,
               "rank must be float32");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, t4, NULL, NULL), SP_ESHAPE,
               "target (4) must be (5)");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, bad_t, NULL, NULL), SP_EINVAL,
               "target[1] = 6 is outside 1..5");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, neg_t, NULL, NULL), SP_EINVAL,
               "target[1] = -1 is outside 1..5");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, x.h, NULL), SP_EDTYPE,
               "seq must be int32");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, seq4, NULL), SP_ESHAPE,
               "seq (4, 3) must be (B, L) with B = 5");
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, bad_seq, NULL), SP_EINVAL,
               "seq[3][1] = 9 is outside 0..5");
  cfg.mask_session_items = 1;
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, NULL, &cfg), SP_EINVAL,
               "masking the session's items needs seq");
  cfg = (sp_rank_config){.ties = 3};
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, NULL, &cfg), SP_EINVAL,
               "ties 3 must be 0 (pessimistic)");
  cfg = (sp_rank_config){.mask_session_items = 2};
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, x.seq, &cfg), SP_EINVAL,
               "mask_session_items must be 0 or 1");
  cfg = (sp_rank_config){.n_items = 6};
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, NULL, &cfg), SP_EINVAL,
               "n_items 6 must be in 1..5");
  cfg = (sp_rank_config){.n_items = 4}; /* target 5 of row 1 is then out of range */
  expect_error(sp_rank_full(x.ctx, x.rank, x.h, x.e, x.target, NULL, &cfg), SP_EINVAL,
               "target[1] = 5 is outside 1..4");
  /* an arena tensor used after a reset */
  sp_tensor *arena_h;
  sp_ctx_tensor(x.ctx, &arena_h, SP_F32, 2, SHAPE(5, 2));
  sp_ctx_reset(x.ctx);
  expect_error(sp_rank_full(x.ctx, x.rank, arena_h, x.e, x.target, NULL, NULL), SP_ESTATE,
               "used after sp_ctx_reset");

  /* sampled */
  sp_tensor *cand = t_from_i32(2, SHAPE(5, 2), (int32_t[]){3, 1, 5, 5, 3, 2, 2, 1, 0, 0});
  sp_tensor *cand_out = t_from_i32(2, SHAPE(5, 2), (int32_t[]){3, 1, 5, 2, 3, 7, 2, 1, 0, 0});
  sp_tensor *cand4 = t_from_i32(2, SHAPE(4, 2), (int32_t[]){3, 1, 5, 2, 3, 2, 2, 1});
  expect_error(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, cand, NULL, NULL), SP_EINVAL,
               "candidates[1][1] = 5 repeats the target");
  expect_error(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, cand_out, NULL, NULL), SP_EINVAL,
               "candidates[2][1] = 7 is outside 1..5");
  expect_error(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, cand4, NULL, NULL), SP_ESHAPE,
               "candidates (4, 2) must be (B, C) with B = 5");
  expect_error(sp_rank_sampled(x.ctx, x.rank, x.h, x.e, NULL, NULL, NULL), SP_EINVAL,
               "candidates is NULL");
  expect_error(sp_rank_sampled(NULL, x.rank, x.h, x.e, cand, NULL, NULL), SP_EINVAL,
               "sp_rank_sampled: NULL context");

  /* metrics */
  double m[7];
  const float ranks[] = {1, 2};
  expect_error(sp_rank_metrics(m, ranks, 2, (int[]){5, 0}, 2), SP_EINVAL, "ks[1] = 0 must be >= 1");
  expect_error(sp_rank_metrics(m, ranks, 0, (int[]){5}, 1), SP_EINVAL, "no ranks to average");
  expect_error(sp_rank_metrics(NULL, ranks, 2, (int[]){5}, 1), SP_EINVAL, "NULL out, rank or ks");
  expect_error(sp_rank_metrics(m, NULL, 2, (int[]){5}, 1), SP_EINVAL, "NULL out, rank or ks");
  expect_error(sp_rank_metrics(m, ranks, 2, NULL, 1), SP_EINVAL, "NULL out, rank or ks");
  expect_error(sp_rank_metrics(m, (float[]){1, 0}, 2, (int[]){5}, 1), SP_EINVAL,
               "rank[1] = 0 must be a finite rank >= 1");
  expect_error(sp_rank_metrics(m, (float[]){NAN}, 1, (int[]){5}, 1), SP_EINVAL, "rank[0] = nan");
  expect_error(sp_rank_metrics(m, ranks, 2, (int[]){5}, -1), SP_EINVAL, "n_ks must be >= 0");
  t_free_all((sp_tensor *[]){v, e3, bad_t, neg_t, t4, seq4, bad_seq, r4, ri, cand, cand_out, cand4},
             12);
  example_free(&x);
}
