/* test_uncertainty.c — the session-uncertainty scores (engine/eval/uncertainty.c): hand-computed
 * entropies and target NLLs with every number written out (repeated items counted once,
 * padding anywhere, single-item and empty sessions, the target inside or outside sess, the
 * catalogue variant, extra table rows), huge logits without overflow, NaN rows, agreement with a
 * double-precision reference on random data in any batch and on any thread count, nothing on
 * the tape, and the error paths. */
#include <stdlib.h>

#include "harness.h"

/* The example: d = 2, items 1..5 (row 0 padding), h0 = (ln 3, 0):
 *   E: i1 (1, 0)  i2 (0, 1)  i3 (1, 1)  i4 (2, 0)  i5 (0, 0)
 *   logits under h0: i1 ln3, i2 0, i3 ln3, i4 2 ln3, i5 0   (exp: 3 1 3 9 1)
 *   logits under h = 0: all 0 (a uniform softmax). */
static const float E_VALUES[] = {0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 0, 0};
#define LN3 1.0986122886681098
#define LN4 1.3862943611198906

static sp_tensor *example_items(void) {
  return t_from(2, SHAPE(6, 2), E_VALUES);
}

/* B rows of h: row b is h0 when pick[b] is 1, else (0, 0). */
static sp_tensor *example_h(int B, const int *pick) {
  float v[32] = {0};
  for (int b = 0; b < B; b++) v[2 * b] = pick[b] ? (float)LN3 : 0.0f;
  return t_from(2, SHAPE(B, 2), v);
}

static void expect_near(const char *what, sp_tensor *t, const double *want, int n, double tol) {
  const float *v = sp_tensor_f32(t);
  for (int i = 0; i < n; i++)
    cr_expect(fabs((double)v[i] - want[i]) <= tol, "%s[%d]: %.9g, want %.9g", what, i, (double)v[i],
              want[i]);
}

Test(uncertainty, session_entropy_hand_computed) {
  /* row 0 {1, 2} under h0: p = 3/4, 1/4 -> H = ln 4 - (3/4) ln 3 = 0.5623351446...
   * row 1 {1, 2, 1, 1}: i1 repeated counts once -> the same (with multiplicity it would be the
   *   softmax of ln3, 0, ln3, ln3, p = 3/10 x3, 1/10: H = 1.1682...).
   * row 2 {0, 0, 1, 2}: left padding ignored -> the same.
   * row 3 {2, 0, 1, 0}: padding in the middle and at the end ignored -> the same.
   * row 4 {1, 2, 3, 4} under h = 0: uniform over 4 -> ln 4.
   * row 5 {1, 3, 4} under h0: exp 3 3 9 over 15 -> H = ln 15 - (3 ln3 + 3 ln3 + 9 * 2 ln3) / 15
   *   = ln 15 - 1.6 ln 3.
   * row 6 {3, 3, 3, 0}: one distinct item -> 0.   row 7 all padding -> 0. */
  enum { B = 8, L = 4 };
  sp_tensor *e = example_items(), *h = example_h(B, (int[]){1, 1, 1, 1, 0, 1, 1, 1}), *out;
  sp_tensor *s =
      t_from_i32(2, SHAPE(B, L), (int32_t[]){1, 2, 0, 0, 1, 2, 1, 1, 0, 0, 1, 2, 2, 0, 1, 0,
                                             1, 2, 3, 4, 1, 3, 4, 0, 3, 3, 3, 0, 0, 0, 0, 0});
  sp_tensor_new(&out, SP_F32, 1, SHAPE(B));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 0), SP_OK, "%s", sp_last_error());
  const double h01 = LN4 - 0.75 * LN3;
  const double want[B] = {h01, h01, h01, h01, LN4, log(15.0) - 1.6 * LN3, 0, 0};
  expect_near("H_sess", out, want, B, 1e-6);
  cr_expect(fabs(h01 - 0.5623351446188083) < 1e-15, "the hand value itself");
  /* n_items = 4 is enough here (no row uses i5) and gives the same numbers */
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 4), SP_OK, "%s", sp_last_error());
  expect_near("H_sess, n_items 4", out, want, B, 1e-6);
  t_free_all((sp_tensor *[]){e, h, s, out}, 4);
  sp_ctx_free(ctx);
}

Test(uncertainty, target_nll_hand_computed) {
  /* S = {target} + the distinct items of sess.
   * row 0 sess {2}, target 1, h0: P(1) = 3 / 4 -> ln(4/3).
   * row 1 sess {1}, target 2, h0: P(2) = 1 / 4 -> ln 4.
   * row 2 sess {1, 2}, target 1: the target inside sess counts once -> ln(4/3).
   * row 3 sess {2, 2, 1, 1}, target 1 -> ln(4/3).
   * row 4 sess {1, 2, 3}, target 4, h = 0: uniform over 4 -> ln 4.
   * row 5 sess {1, 3, 0, 2}, target 4, h0: exp 3 3 1 9 -> ln(16/9).
   * row 6 sess {0, 0}, target 3: the target alone -> 0.
   * row 7 target 0: a padding row -> 0. */
  enum { B = 8, L = 4 };
  sp_tensor *e = example_items(), *h = example_h(B, (int[]){1, 1, 1, 1, 0, 1, 1, 1}), *out;
  sp_tensor *s =
      t_from_i32(2, SHAPE(B, L), (int32_t[]){2, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0, 2, 2, 1, 1,
                                             1, 2, 3, 0, 1, 3, 0, 2, 0, 0, 0, 0, 5, 1, 0, 0});
  sp_tensor *t = t_from_i32(1, SHAPE(B), (int32_t[]){1, 2, 1, 1, 4, 4, 3, 0});
  sp_tensor_new(&out, SP_F32, 1, SHAPE(B));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_session_target_nll(ctx, out, h, e, s, t, 0), SP_OK, "%s", sp_last_error());
  const double want[B] = {LN4 - LN3, LN4, LN4 - LN3, LN4 - LN3, LN4, log(16.0 / 9.0), 0, 0};
  expect_near("H_pred", out, want, B, 1e-6);
  t_free_all((sp_tensor *[]){e, h, s, t, out}, 5);
  sp_ctx_free(ctx);
}

Test(uncertainty, catalogue_nll_hand_computed_and_extra_rows) {
  /* Over items 1..5 under h0 the exps are 3 1 3 9 1 (sum 17): target 1 -> ln(17/3), target 4 ->
   * ln(17/9); under h = 0: ln 5 for any target; target 0 -> 0. With n_items = 4 (i5 left out):
   * sum 16, target 4 -> ln(16/9). A 7th table row (a mask token) scoring e^20 is never counted
   * with n_items = 5, and counted with n_items = 0. */
  float e7[14];
  memcpy(e7, E_VALUES, sizeof E_VALUES);
  e7[12] = 20.0f / (float)LN3, e7[13] = 0;
  sp_tensor *e = example_items(), *ex = t_from(2, SHAPE(7, 2), e7), *out;
  sp_tensor *h = example_h(4, (int[]){1, 1, 0, 1});
  sp_tensor *t = t_from_i32(1, SHAPE(4), (int32_t[]){1, 4, 2, 0});
  sp_tensor_new(&out, SP_F32, 1, SHAPE(4));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, e, t, 0), SP_OK, "%s", sp_last_error());
  expect_near("catalogue", out, (double[]){log(17.0 / 3), log(17.0 / 9), log(5.0), 0}, 4, 1e-6);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, e, t, 4), SP_OK, "%s", sp_last_error());
  expect_near("catalogue, n_items 4", out, (double[]){log(16.0 / 3), log(16.0 / 9), log(4.0), 0}, 4,
              1e-6);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, ex, t, 5), SP_OK, "%s", sp_last_error());
  expect_near("extra row ignored", out, (double[]){log(17.0 / 3), log(17.0 / 9), log(5.0), 0}, 4,
              1e-6);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, ex, t, 0), SP_OK, "%s", sp_last_error());
  const double big = exp(20.0); /* row 2 (h = 0) sees a sixth item of logit 0 instead */
  expect_near("extra row counted", out,
              (double[]){log((17 + big) / 3), log((17 + big) / 9), log(6.0), 0}, 4, 1e-5);
  /* the session softmax ignores the extra row as well: it is no session's item. row 0 {2} + 1:
   * ln(4/3); row 1 {1} + 4: exp 3 9 -> ln(12/9); row 2 (h = 0) {1, 3} + 2: ln 3. */
  sp_tensor *s = t_from_i32(2, SHAPE(4, 2), (int32_t[]){2, 0, 1, 0, 1, 3, 0, 0});
  cr_assert_eq(sp_session_target_nll(ctx, out, h, ex, s, t, 5), SP_OK, "%s", sp_last_error());
  expect_near("session softmax", out, (double[]){LN4 - LN3, log(12.0 / 9), log(3.0), 0}, 4, 1e-6);
  t_free_all((sp_tensor *[]){e, ex, h, t, out, s}, 6);
  sp_ctx_free(ctx);
}

Test(uncertainty, huge_logits_do_not_overflow) {
  /* h = (1000, ln 3), i1 = (1, 0), i2 = (1, 1): logits 1000 and 1000 + ln 3 (exp overflows
   * float and double alike) give the row-0 numbers of the hand example, shifted by 1000. */
  const float ln3f = (float)LN3;
  sp_tensor *e = t_from(2, SHAPE(3, 2), (float[]){0, 0, 1, 0, 1, 1});
  sp_tensor *h = t_from(2, SHAPE(1, 2), (float[]){1000, ln3f});
  sp_tensor *s = t_from_i32(2, SHAPE(1, 2), (int32_t[]){1, 2});
  sp_tensor *t = t_from_i32(1, SHAPE(1), (int32_t[]){1}), *out;
  sp_tensor_new(&out, SP_F32, 1, SHAPE(1));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const double l3 = (double)ln3f;            /* the logit gap is exactly the float ln 3 */
  const double p2 = exp(l3) / (1 + exp(l3)); /* P(i2) */
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 0), SP_OK, "%s", sp_last_error());
  expect_near("H_sess", out, (double[]){-(p2 * log(p2) + (1 - p2) * log(1 - p2))}, 1, 1e-6);
  cr_assert_eq(sp_session_target_nll(ctx, out, h, e, s, t, 0), SP_OK, "%s", sp_last_error());
  expect_near("H_pred", out, (double[]){-log(1 - p2)}, 1, 1e-6);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, e, t, 0), SP_OK, "%s", sp_last_error());
  expect_near("catalogue", out, (double[]){-log(1 - p2)}, 1, 1e-4);
  t_free_all((sp_tensor *[]){e, h, s, t, out}, 5);
  sp_ctx_free(ctx);
}

Test(uncertainty, nan_rows) {
  /* row 0 has a NaN in h -> NaN everywhere; row 1 is fine. A NaN item outside every session
   * leaves the session scores alone but makes every catalogue NLL NaN. */
  sp_tensor *e = example_items();
  sp_tensor *h = t_from(2, SHAPE(2, 2), (float[]){NAN, 0, (float)LN3, 0});
  sp_tensor *s = t_from_i32(2, SHAPE(2, 2), (int32_t[]){1, 2, 1, 2});
  sp_tensor *t = t_from_i32(1, SHAPE(2), (int32_t[]){1, 1}), *out;
  sp_tensor_new(&out, SP_F32, 1, SHAPE(2));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const float *o = sp_tensor_f32(out);
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 0), SP_OK, "%s", sp_last_error());
  cr_expect(isnan(o[0]) && fabs(o[1] - (LN4 - 0.75 * LN3)) < 1e-6, "entropy %g %g", o[0], o[1]);
  cr_assert_eq(sp_session_target_nll(ctx, out, h, e, s, t, 0), SP_OK, "%s", sp_last_error());
  cr_expect(isnan(o[0]) && fabs(o[1] - (LN4 - LN3)) < 1e-6, "nll %g %g", o[0], o[1]);
  sp_tensor_f32(h)[0] = 0;
  sp_tensor_f32(e)[2 * 5] = NAN; /* i5 */
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 0), SP_OK, "%s", sp_last_error());
  cr_expect(fabs(o[0] - LN4 / 2) < 1e-6 && !isnan(o[1]), "i5 is in no session: %g %g", o[0], o[1]);
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, e, t, 0), SP_OK, "%s", sp_last_error());
  cr_expect(isnan(o[0]) && isnan(o[1]), "catalogue with a NaN item: %g %g", o[0], o[1]);
  t_free_all((sp_tensor *[]){e, h, s, t, out}, 5);
  sp_ctx_free(ctx);
}

/* ---- against a double-precision reference on random data, in any batch, on any threads ---- */

/* The reference: logits of the distinct items (and the target) in double, then the sums
 * written out from the definitions, two passes, no streaming. */
static void reference(double *hs, double *nll, double *full, const float *h, const float *e, int d,
                      int n, const int32_t *seq, int L, int32_t t) {
  double z[64], zt = 0, m = -INFINITY;
  int32_t ids[64];
  int k = 0;
  for (int p = 0; p < L; p++) {
    int seen = seq[p] == 0;
    for (int q = 0; q < k; q++) seen |= ids[q] == seq[p];
    if (seen) continue;
    ids[k] = seq[p];
    z[k] = 0;
    for (int c = 0; c < d; c++) z[k] += (double)h[c] * e[(int64_t)seq[p] * d + c];
    k++;
  }
  for (int c = 0; c < d; c++) zt += (double)h[c] * e[(int64_t)t * d + c];
  /* H_sess */
  for (int q = 0; q < k; q++) m = z[q] > m ? z[q] : m;
  double sum = 0;
  for (int q = 0; q < k; q++) sum += exp(z[q] - m);
  *hs = 0;
  for (int q = 0; q < k; q++) {
    double p = exp(z[q] - m) / sum;
    *hs -= p * log(p);
  }
  /* H_pred over S = seq's items + t */
  int has_t = 0;
  for (int q = 0; q < k; q++) has_t |= ids[q] == t;
  double mt = zt;
  for (int q = 0; q < k; q++) mt = z[q] > mt ? z[q] : mt;
  double st = has_t ? 0 : exp(zt - mt);
  for (int q = 0; q < k; q++) st += exp(z[q] - mt);
  *nll = -(zt - mt - log(st));
  /* catalogue */
  double zs[512], mf = -INFINITY, sf = 0;
  for (int j = 1; j <= n; j++) {
    zs[j] = 0;
    for (int c = 0; c < d; c++) zs[j] += (double)h[c] * e[(int64_t)j * d + c];
    mf = zs[j] > mf ? zs[j] : mf;
  }
  for (int j = 1; j <= n; j++) sf += exp(zs[j] - mf);
  *full = -(zt - mf - log(sf));
}

Test(uncertainty, random_data_matches_a_double_reference_in_any_batch) {
  /* 37 rows, d 16, 300 items, sessions of up to 12 slots with repeats and padding; logits of
   * size ~4 so the softmaxes are neither flat nor one-hot. 37 x 12 x 16 and 37 x 300 are above
   * the parallel threshold only together with more threads, so both paths run. */
  enum { B = 37, N = 300, D = 16, L = 12 };
  sp_tensor *e = t_randn(11, 2, SHAPE(N + 1, D), 0.5f), *h = t_randn(12, 2, SHAPE(B, D), 1.0f);
  int32_t seq[B * L], t[B];
  sp_rng rng;
  sp_rng_init(&rng, 5);
  for (int b = 0; b < B; b++) {
    int len = 1 + (int)sp_rng_below(&rng, L);
    for (int p = 0; p < L; p++)
      seq[b * L + p] = p < L - len ? 0 : 1 + (int32_t)sp_rng_below(&rng, b % 3 == 0 ? 6 : N);
    t[b] = b == 9 ? 0 : 1 + (int32_t)sp_rng_below(&rng, N);
  }
  seq[4 * L + L - 1] = t[4];              /* a target inside its session */
  seq[5 * L + 3] = 7, seq[5 * L + 8] = 7; /* a repeat with padding between */
  double ref_hs[B], ref_nll[B], ref_full[B];
  for (int b = 0; b < B; b++) {
    reference(&ref_hs[b], &ref_nll[b], &ref_full[b], sp_tensor_f32(h) + b * D, sp_tensor_f32(e), D,
              N, seq + b * L, L, t[b] ? t[b] : 1);
    if (t[b] == 0) ref_nll[b] = ref_full[b] = 0;
  }
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  float whole[3][B];
  int saved = sp_get_num_threads();
  const int sizes[] = {B, 1, 5, 16};
  for (int threads = 1; threads <= 2; threads++) {
    sp_set_num_threads(threads);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
      const int bs = sizes[si];
      for (int b0 = 0; b0 < B; b0 += bs) {
        const int rows = b0 + bs <= B ? bs : B - b0;
        sp_tensor *th = t_from(2, SHAPE(rows, D), sp_tensor_f32(h) + b0 * D);
        sp_tensor *ts = t_from_i32(2, SHAPE(rows, L), seq + b0 * L);
        sp_tensor *tt = t_from_i32(1, SHAPE(rows), t + b0), *o[3];
        for (int k = 0; k < 3; k++) sp_tensor_new(&o[k], SP_F32, 1, SHAPE(rows));
        cr_assert_eq(sp_session_entropy(ctx, o[0], th, e, ts, 0), SP_OK, "%s", sp_last_error());
        cr_assert_eq(sp_session_target_nll(ctx, o[1], th, e, ts, tt, N), SP_OK, "%s",
                     sp_last_error());
        cr_assert_eq(sp_session_target_nll_full(ctx, o[2], th, e, tt, N), SP_OK, "%s",
                     sp_last_error());
        for (int r = 0; r < rows; r++) {
          const int b = b0 + r;
          const float got[3] = {sp_tensor_f32(o[0])[r], sp_tensor_f32(o[1])[r],
                                sp_tensor_f32(o[2])[r]};
          const double want[3] = {ref_hs[b], ref_nll[b], ref_full[b]};
          /* float32 outputs of double sums: a few ulps; the catalogue's scores are float GEMM */
          const double tol[3] = {2e-6, 2e-6, 5e-5};
          for (int k = 0; k < 3; k++) {
            cr_expect(fabs(got[k] - want[k]) <= tol[k] * (1 + fabs(want[k])),
                      "score %d row %d (threads %d, batch %d): %.9g, reference %.9g", k, b, threads,
                      bs, (double)got[k], want[k]);
            if (threads == 1 && bs == B)
              whole[k][b] = got[k];
            else if (k < 2) /* the session scores are the same bits in any batch */
              cr_expect(got[k] == whole[k][b], "score %d row %d: batch %d threads %d differs", k, b,
                        bs, threads);
          }
        }
        t_free_all((sp_tensor *[]){th, ts, tt, o[0], o[1], o[2]}, 6);
        sp_ctx_reset(ctx);
      }
    }
  }
  /* the reference is not trivial: the rows' entropies spread out */
  double lo = 1e9, hi = -1e9;
  for (int b = 0; b < B; b++) lo = fmin(lo, ref_hs[b]), hi = fmax(hi, ref_hs[b]);
  cr_expect(hi - lo > 0.5, "entropies span %g..%g", lo, hi);
  sp_set_num_threads(saved);
  t_free_all((sp_tensor *[]){e, h}, 2);
  sp_ctx_free(ctx);
}

Test(uncertainty, records_nothing_on_the_tape) {
  sp_tensor *e = example_items(), *h = example_h(1, (int[]){1}), *out;
  sp_tensor *s = t_from_i32(2, SHAPE(1, 2), (int32_t[]){1, 2});
  sp_tensor *t = t_from_i32(1, SHAPE(1), (int32_t[]){1});
  t_require_grad((sp_tensor *[]){e, h}, 2);
  sp_tensor_new(&out, SP_F32, 1, SHAPE(1));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_ctx_set_grad_enabled(ctx, 1);
  cr_assert_eq(sp_session_entropy(ctx, out, h, e, s, 0), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_session_target_nll(ctx, out, h, e, s, t, 0), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_session_target_nll_full(ctx, out, h, e, t, 0), SP_OK, "%s", sp_last_error());
  sp_ctx_stats st;
  sp_ctx_get_stats(ctx, &st);
  cr_expect_eq(st.tape_len, 0, "scores are not differentiable ops");
  cr_expect(!sp_tensor_requires_grad(out));
  t_free_all((sp_tensor *[]){e, h, s, t, out}, 5);
  sp_ctx_free(ctx);
}

/* ---- error paths: a status and a message naming the call and the cause, never a crash ---- */

Test(uncertainty, errors) {
  sp_tensor *e = example_items(), *h = example_h(2, (int[]){1, 1}), *out, *out3, *outi;
  sp_tensor *s = t_from_i32(2, SHAPE(2, 2), (int32_t[]){1, 2, 3, 0});
  sp_tensor *t = t_from_i32(1, SHAPE(2), (int32_t[]){1, 2});
  sp_tensor *v = t_from(1, SHAPE(2), (float[]){1, 2});
  sp_tensor *e3 = t_from(2, SHAPE(2, 3), (float[]){0, 0, 0, 1, 1, 1});
  sp_tensor *s3 = t_from_i32(2, SHAPE(3, 2), (int32_t[]){1, 2, 1, 2, 1, 2});
  sp_tensor *s1d = t_from_i32(1, SHAPE(2), (int32_t[]){1, 2});
  sp_tensor *s_big = t_from_i32(2, SHAPE(2, 2), (int32_t[]){1, 2, 0, 6});
  sp_tensor *s_neg = t_from_i32(2, SHAPE(2, 2), (int32_t[]){1, -1, 0, 0});
  sp_tensor *t_big = t_from_i32(1, SHAPE(2), (int32_t[]){1, 6});
  sp_tensor *t3 = t_from_i32(1, SHAPE(3), (int32_t[]){1, 2, 3});
  sp_tensor_new(&out, SP_F32, 1, SHAPE(2));
  sp_tensor_new(&out3, SP_F32, 1, SHAPE(3));
  sp_tensor_new(&outi, SP_I32, 1, SHAPE(2));
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const char *E = "sp_session_entropy: ", *P = "sp_session_target_nll: ",
             *F = "sp_session_target_nll_full: ";
  char msg[160];
#define NEEDLE(prefix, text) (snprintf(msg, sizeof msg, "%s%s", prefix, text), msg)
  expect_error(sp_session_entropy(NULL, out, h, e, s, 0), SP_EINVAL, NEEDLE(E, "NULL context"));
  expect_error(sp_session_entropy(ctx, NULL, h, e, s, 0), SP_EINVAL, NEEDLE(E, "out is NULL"));
  expect_error(sp_session_entropy(ctx, out, NULL, e, s, 0), SP_EINVAL, NEEDLE(E, "h is NULL"));
  expect_error(sp_session_entropy(ctx, out, h, NULL, s, 0), SP_EINVAL, NEEDLE(E, "items is NULL"));
  expect_error(sp_session_entropy(ctx, out, h, e, NULL, 0), SP_EINVAL, NEEDLE(E, "sess is NULL"));
  expect_error(sp_session_entropy(ctx, out, v, e, s, 0), SP_ESHAPE,
               NEEDLE(E, "h (2) must be (B, d)"));
  expect_error(sp_session_entropy(ctx, out, h, e3, s, 0), SP_ESHAPE,
               "items (2, 3) must be (n_items + 1, d) with n_items >= 1 and d = 2");
  expect_error(sp_session_entropy(ctx, out3, h, e, s, 0), SP_ESHAPE, "out (3) must be (2)");
  expect_error(sp_session_entropy(ctx, outi, h, e, s, 0), SP_EDTYPE, "out must be float32");
  expect_error(sp_session_entropy(ctx, out, h, e, h, 0), SP_EDTYPE, "sess must be int32");
  expect_error(sp_session_entropy(ctx, out, h, e, s3, 0), SP_ESHAPE,
               "sess (3, 2) must be (B, L) with B = 2 rows of h");
  expect_error(sp_session_entropy(ctx, out, h, e, s1d, 0), SP_ESHAPE, "sess (2) must be (B, L)");
  expect_error(sp_session_entropy(ctx, out, h, e, s_big, 0), SP_EINVAL,
               NEEDLE(E, "sess[1][1] = 6 is not an item id in 1..5 (0 = padding)"));
  expect_error(sp_session_entropy(ctx, out, h, e, s_neg, 0), SP_EINVAL,
               "sess[0][1] = -1 is not an item id in 1..5");
  expect_error(sp_session_entropy(ctx, out, h, e, s, 2), SP_EINVAL,
               "sess[1][0] = 3 is not an item id in 1..2");
  expect_error(sp_session_entropy(ctx, out, h, e, s, 6), SP_EINVAL, "n_items 6 must be in 1..5");
  expect_error(sp_session_entropy(ctx, out, h, e, s, -1), SP_EINVAL, "n_items -1 must be in 1..5");

  expect_error(sp_session_target_nll(NULL, out, h, e, s, t, 0), SP_EINVAL,
               NEEDLE(P, "NULL context"));
  expect_error(sp_session_target_nll(ctx, out, h, e, s, NULL, 0), SP_EINVAL,
               NEEDLE(P, "target is NULL"));
  expect_error(sp_session_target_nll(ctx, out, h, e, s, t_big, 0), SP_EINVAL,
               NEEDLE(P, "target[1] = 6 is outside 1..5"));
  expect_error(sp_session_target_nll(ctx, out, h, e, s, t3, 0), SP_ESHAPE,
               "target (3) must be (2), one per row of h");
  expect_error(sp_session_target_nll(ctx, out, h, e, s_big, t, 0), SP_EINVAL,
               NEEDLE(P, "sess[1][1] = 6"));
  expect_error(sp_session_target_nll(ctx, out, h, e, s, t, 1), SP_EINVAL,
               "sess[0][1] = 2 is not an item id in 1..1");

  expect_error(sp_session_target_nll_full(NULL, out, h, e, t, 0), SP_EINVAL,
               NEEDLE(F, "NULL context"));
  expect_error(sp_session_target_nll_full(ctx, out, h, e, t_big, 0), SP_EINVAL,
               NEEDLE(F, "target[1] = 6 is outside 1..5"));
  expect_error(sp_session_target_nll_full(ctx, out, h, e, t, 1), SP_EINVAL,
               "target[1] = 2 is outside 1..1");
  expect_error(sp_session_target_nll_full(ctx, out3, h, e, t, 0), SP_ESHAPE, "out (3) must be (2)");
  /* an arena tensor used after a reset */
  sp_tensor *arena_h;
  sp_ctx_tensor(ctx, &arena_h, SP_F32, 2, SHAPE(2, 2));
  sp_ctx_reset(ctx);
  expect_error(sp_session_entropy(ctx, out, arena_h, e, s, 0), SP_ESTATE,
               "used after sp_ctx_reset");
  expect_error(sp_session_target_nll_full(ctx, out, arena_h, e, t, 0), SP_ESTATE,
               "used after sp_ctx_reset");
#undef NEEDLE
  t_free_all((sp_tensor *[]){e, h, out, out3, outi, s, t, v, e3, s3, s1d, s_big, s_neg, t_big, t3},
             15);
  sp_ctx_free(ctx);
}
