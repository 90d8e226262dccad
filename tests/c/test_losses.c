/* test_losses.c — cross_entropy (with ignore_index) and bce_logits (soft targets, weights):
 * known values, gradients, numerical stability, thread-count determinism, error paths. */
#include <stdlib.h>

#include "harness.h"

/* Naive double-precision reference for one cross-entropy row. */
static double ref_ce_row(const float *x, int c, int t) {
  double m = x[0], s = 0.0;
  for (int j = 1; j < c; j++) m = x[j] > m ? x[j] : m;
  for (int j = 0; j < c; j++) s += exp((double)x[j] - m);
  return m + log(s) - x[t];
}

/* ---- cross_entropy ---- */
static int build_ce(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_cross_entropy(ctx, out, in[0], in[1], *(const int *)arg);
}

Test(losses, cross_entropy_known_values_and_gradient) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  /* row 0: lse(1,2,3) - 3 = 0.4076060; row 1: log 3 = 1.0986123; row 2 ignored */
  sp_tensor *logits = t_from(2, SHAPE(3, 3), (float[]){1, 2, 3, 1, 1, 1, 0, 0, 5});
  sp_tensor *targets = t_from_i32(1, SHAPE(3), (int32_t[]){2, 0, -100}), *loss;
  t_require_grad(&logits, 1);
  cr_assert_eq(sp_cross_entropy(ctx, &loss, logits, targets, -100), SP_OK, "%s", sp_last_error());
  expect_values("loss", loss, (float[]){0.75310913f}, 1, 1e-6f);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  /* (softmax - onehot) / 2 on the two counted rows, zero on the ignored one */
  expect_values("dlogits", sp_tensor_grad(logits),
                (float[]){0.04501529f, 0.12236424f, -0.16737952f, -0.33333333f, 0.16666667f,
                          0.16666667f, 0, 0, 0},
                9, 1e-6f);
  t_free_all((sp_tensor *[]){logits, targets}, 2);
  sp_ctx_free(ctx);
}

Test(losses, cross_entropy_extreme_logits_stay_finite) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *logits = t_from(2, SHAPE(2, 3), (float[]){1000, 0, -1000, -1e30f, 1e30f, 0});
  sp_tensor *targets = t_from_i32(1, SHAPE(2), (int32_t[]){1, 1}), *loss;
  cr_assert_eq(sp_cross_entropy(ctx, &loss, logits, targets, -1), SP_OK, "%s", sp_last_error());
  /* row 0: 1000 - 0; row 1: 0 (the target holds all the mass) */
  expect_values("loss", loss, (float[]){500.0f}, 1, 1e-3f);
  t_free_all((sp_tensor *[]){logits, targets}, 2);
  sp_ctx_free(ctx);
}

Test(losses, cross_entropy_all_ignored_is_zero_with_zero_gradient) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *logits = t_randn(3, 2, SHAPE(2, 4), 1);
  sp_tensor *targets = t_from_i32(1, SHAPE(2), (int32_t[]){0, 0}), *loss;
  t_require_grad(&logits, 1);
  cr_assert_eq(sp_cross_entropy(ctx, &loss, logits, targets, 0), SP_OK, "%s", sp_last_error());
  expect_values("loss", loss, (float[]){0}, 1, 0);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  expect_values("dlogits", sp_tensor_grad(logits), (float[8]){0}, 8, 0);
  t_free_all((sp_tensor *[]){logits, targets}, 2);
  sp_ctx_free(ctx);
}

Test(losses, cross_entropy_gradcheck_with_ignored_row) {
  int ignore = -1;
  sp_tensor *in[2] = {t_randn(5, 2, SHAPE(4, 7), 1.5f),
                      t_from_i32(1, SHAPE(4), (int32_t[]){3, -1, 0, 6})};
  t_require_grad(in, 2);
  gradcheck("cross_entropy", build_ce, in, 2, &ignore, (gradcheck_opts){0});
  t_free_all(in + 1, 1);
  /* ignore_index inside [0, C) (item 0 as padding): the rows with target 0 are skipped */
  ignore = 0;
  in[1] = t_from_i32(1, SHAPE(4), (int32_t[]){0, 2, 0, 6});
  gradcheck("cross_entropy ignore 0", build_ce, in, 2, &ignore, (gradcheck_opts){0});
  t_free_all(in, 2);
}

/* The item-catalogue size: against the naive reference, and bitwise the same on 1 or 2 threads. */
Test(losses, cross_entropy_large_c_matches_reference_and_is_deterministic) {
  enum { N = 6, C = 50000 };
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *logits = t_randn(8, 2, SHAPE(N, C), 3.0f);
  sp_tensor *targets = t_from_i32(1, SHAPE(N), (int32_t[]){0, 49999, -1, 123, 777, 4242}), *loss;
  const float *x = sp_tensor_f32(logits);
  double ref = 0.0;
  const int32_t *t = sp_tensor_i32(targets);
  for (int r = 0; r < N; r++)
    if (t[r] >= 0) ref += ref_ce_row(x + (size_t)r * C, C, t[r]);
  ref /= 5;
  int threads = sp_get_num_threads();
  float got[2];
  for (int k = 0; k < 2; k++) {
    sp_set_num_threads(k + 1);
    cr_assert_eq(sp_cross_entropy(ctx, &loss, logits, targets, -1), SP_OK, "%s", sp_last_error());
    got[k] = sp_tensor_f32(loss)[0];
  }
  sp_set_num_threads(threads);
  cr_expect(fabs(got[0] - ref) <= 1e-5 * fabs(ref), "loss %.8g vs reference %.8g", got[0], ref);
  cr_expect(memcmp(&got[0], &got[1], sizeof(float)) == 0, "1 thread %.9g vs 2 threads %.9g", got[0],
            got[1]);
  t_free_all((sp_tensor *[]){logits, targets}, 2);
  sp_ctx_free(ctx);
}

Test(losses, cross_entropy_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *logits = t_randn(1, 2, SHAPE(2, 7), 1), *flat = t_randn(2, 1, SHAPE(7), 1), *loss;
  sp_tensor *high = t_from_i32(1, SHAPE(2), (int32_t[]){0, 7});
  sp_tensor *neg = t_from_i32(1, SHAPE(2), (int32_t[]){-2, 0});
  sp_tensor *three = t_from_i32(1, SHAPE(3), (int32_t[]){0, 0, 0});
  sp_tensor *ftargets = t_from(1, SHAPE(2), (float[]){0, 1});
  expect_error(sp_cross_entropy(ctx, &loss, logits, high, -100), SP_EINVAL,
               "sp_cross_entropy: targets[1] = 7 is outside [0, 7)");
  expect_error(sp_cross_entropy(ctx, &loss, logits, neg, -1), SP_EINVAL, "targets[0] = -2");
  expect_error(sp_cross_entropy(ctx, &loss, logits, three, -1), SP_ESHAPE,
               "targets (3) must be (2)");
  expect_error(sp_cross_entropy(ctx, &loss, flat, high, -1), SP_ESHAPE, "must be (N, C)");
  expect_error(sp_cross_entropy(ctx, &loss, logits, ftargets, -1), SP_EDTYPE,
               "targets must be int32");
  expect_error(sp_cross_entropy(ctx, &loss, high, high, -1), SP_EDTYPE, "logits must be float32");
  expect_error(sp_cross_entropy(ctx, &loss, NULL, high, -1), SP_EINVAL, "logits is NULL");
  expect_error(sp_cross_entropy(ctx, NULL, logits, high, -1), SP_EINVAL, "NULL context or output");
  t_free_all((sp_tensor *[]){logits, flat, high, neg, three, ftargets}, 6);
  sp_ctx_free(ctx);
}

/* ---- bce_logits ---- */
static int build_bce(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_bce_logits(ctx, out, in[0], in[1], arg ? in[2] : NULL);
}

Test(losses, bce_known_values_and_gradients) {
  /* l = (log 2, 2 + log(1 + e^-2), 1.5 + log(1 + e^-3)) = (0.6931472, 2.1269280, 1.5485874) */
  sp_tensor *x = t_from(1, SHAPE(3), (float[]){0, 2, -3});
  sp_tensor *t = t_from(1, SHAPE(3), (float[]){1, 0, 0.5f});
  sp_tensor *w = t_from(1, SHAPE(3), (float[]){1, 0, 3}), *loss;
  t_require_grad((sp_tensor *[]){x, t}, 2);
  for (int weighted = 0; weighted < 2; weighted++) {
    sp_ctx *ctx;
    sp_ctx_new(&ctx, 1);
    sp_tensor_zero_grad(x), sp_tensor_zero_grad(t);
    cr_assert_eq(sp_bce_logits(ctx, &loss, x, t, weighted ? w : NULL), SP_OK, "%s",
                 sp_last_error());
    cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
    if (!weighted) { /* mean of the three; d/dx = (sigmoid(x) - t) / 3, d/dt = -x / 3 */
      expect_values("loss", loss, (float[]){1.45622085f}, 1, 1e-6f);
      expect_values("dlogits", sp_tensor_grad(x),
                    (float[]){-0.16666667f, 0.29359903f, -0.15085804f}, 3, 1e-6f);
      expect_values("dtargets", sp_tensor_grad(t), (float[]){0, -0.66666667f, 1}, 3, 1e-6f);
    } else { /* (1 l0 + 0 l1 + 3 l2) / 4 */
      expect_values("loss", loss, (float[]){1.33472731f}, 1, 1e-6f);
      expect_values("dlogits", sp_tensor_grad(x), (float[]){-0.125f, 0, -0.33943060f}, 3, 1e-6f);
      expect_values("dtargets", sp_tensor_grad(t), (float[]){0, 0, 2.25f}, 3, 1e-6f);
    }
    sp_ctx_free(ctx);
  }
  t_free_all((sp_tensor *[]){x, t, w}, 3);
}

Test(losses, bce_extreme_logits_and_zero_weight) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(1, SHAPE(4), (float[]){100, -100, 1e30f, -1e30f});
  sp_tensor *t = t_from(1, SHAPE(4), (float[]){0, 1, 1, 0});
  sp_tensor *w0 = t_from(1, SHAPE(4), (float[]){0, 0, 0, 0}), *loss;
  t_require_grad(&x, 1);
  cr_assert_eq(sp_bce_logits(ctx, &loss, x, t, NULL), SP_OK, "%s", sp_last_error());
  expect_values("loss", loss, (float[]){50.0f}, 1, 1e-4f); /* (100 + 100 + 0 + 0) / 4 */
  cr_assert_eq(sp_bce_logits(ctx, &loss, x, t, w0), SP_OK, "%s", sp_last_error());
  expect_values("loss, all weights 0", loss, (float[]){0}, 1, 0);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  expect_values("dlogits, all weights 0", sp_tensor_grad(x), (float[4]){0}, 4, 0);
  t_free_all((sp_tensor *[]){x, t, w0}, 3);
  sp_ctx_free(ctx);
}

Test(losses, bce_gradcheck_with_and_without_weight) {
  sp_tensor *in[3] = {t_randn(1, 2, SHAPE(3, 5), 2), t_randn(2, 2, SHAPE(3, 5), 1),
                      t_randn(3, 2, SHAPE(3, 5), 1)};
  float *tt = sp_tensor_f32(in[1]), *ww = sp_tensor_f32(in[2]);
  for (int i = 0; i < 15; i++) {
    tt[i] = 1.0f / (1.0f + expf(-tt[i])); /* soft targets in (0, 1) */
    ww[i] = fabsf(ww[i]) + 0.1f;
  }
  t_require_grad(in, 2); /* logits and targets; the weight gets no gradient */
  gradcheck("bce_logits", build_bce, in, 2, NULL, (gradcheck_opts){0});
  gradcheck("bce_logits weighted", build_bce, in, 3, "w", (gradcheck_opts){0});
  t_free_all(in, 3);
}

Test(losses, bce_large_matches_reference_and_is_deterministic) {
  enum { N = 100003 };
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(4, 1, SHAPE(N), 3), *t = t_randn(5, 1, SHAPE(N), 1);
  sp_tensor *w = t_randn(6, 1, SHAPE(N), 1), *loss;
  float *td = sp_tensor_f32(t), *wd = sp_tensor_f32(w);
  const float *xd = sp_tensor_f32(x);
  double lsum = 0, wsum = 0;
  for (int i = 0; i < N; i++) {
    td[i] = td[i] > 0 ? 1.0f : 0.0f;
    wd[i] = fabsf(wd[i]);
    double l = fmax(xd[i], 0) - (double)xd[i] * td[i] + log1p(exp(-fabs((double)xd[i])));
    lsum += wd[i] * l, wsum += wd[i];
  }
  int threads = sp_get_num_threads();
  float got[2];
  for (int k = 0; k < 2; k++) {
    sp_set_num_threads(k + 1);
    cr_assert_eq(sp_bce_logits(ctx, &loss, x, t, w), SP_OK, "%s", sp_last_error());
    got[k] = sp_tensor_f32(loss)[0];
  }
  sp_set_num_threads(threads);
  cr_expect(fabs(got[0] - lsum / wsum) <= 1e-5 * lsum / wsum, "loss %.8g vs %.8g", got[0],
            lsum / wsum);
  cr_expect(memcmp(&got[0], &got[1], sizeof(float)) == 0, "1 thread %.9g vs 2 threads %.9g", got[0],
            got[1]);
  t_free_all((sp_tensor *[]){x, t, w}, 3);
  sp_ctx_free(ctx);
}

Test(losses, bce_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 2, SHAPE(2, 3), 1), *t = t_randn(2, 2, SHAPE(2, 3), 1);
  sp_tensor *t6 = t_randn(3, 1, SHAPE(6), 1), *loss;
  sp_tensor *ti = t_from_i32(2, SHAPE(2, 3), (int32_t[]){0, 1, 0, 1, 0, 1});
  expect_error(sp_bce_logits(ctx, &loss, x, t6, NULL), SP_ESHAPE,
               "sp_bce_logits: targets (6) must have the shape of logits (2, 3)");
  expect_error(sp_bce_logits(ctx, &loss, x, t, t6), SP_ESHAPE, "weight (6)");
  expect_error(sp_bce_logits(ctx, &loss, x, ti, NULL), SP_EDTYPE, "targets must be float32");
  expect_error(sp_bce_logits(ctx, &loss, x, t, ti), SP_EDTYPE, "weight must be float32");
  expect_error(sp_bce_logits(ctx, &loss, NULL, t, NULL), SP_EINVAL, "logits is NULL");
  expect_error(sp_bce_logits(NULL, &loss, x, t, NULL), SP_EINVAL, "NULL context");
  t_free_all((sp_tensor *[]){x, t, t6, ti}, 4);
  sp_ctx_free(ctx);
}
