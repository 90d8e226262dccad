/* test_softmax_norm.c — softmax/log-softmax (masks), layer norm, embedding, dropout:
 * known values, finite-difference gradients, error paths. */
#include "harness.h"

typedef struct { int causal, use_mask, log_space; } sm_arg;
static int build_softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const sm_arg *a = arg;
  sp_tensor *mask = a->use_mask ? in[1] : NULL;
  return a->log_space ? sp_log_softmax(ctx, out, in[0], mask, a->causal)
                      : sp_softmax(ctx, out, in[0], mask, a->causal);
}

Test(softmax, known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 3), (float[]){1, 2, 3, 0, 0, 0}), *o;
  cr_assert_eq(sp_softmax(ctx, &o, x, NULL, 0), SP_OK, "%s", sp_last_error());
  expect_values("softmax", o, (float[]){0.09003057f, 0.24472847f, 0.66524096f, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 6, 1e-6f);
  cr_assert_eq(sp_log_softmax(ctx, &o, x, NULL, 0), SP_OK);
  expect_values("log_softmax", o, (float[]){-2.40760596f, -1.40760596f, -0.40760596f, -1.09861229f, -1.09861229f, -1.09861229f}, 6, 1e-5f);
  /* key mask hides key 2 of row 0 and keys 0, 1, 2 of row 1 (a fully masked row is zero) */
  sp_tensor *m = t_from_i32(2, SHAPE(2, 3), (int32_t[]){1, 1, 0, 0, 0, 0});
  cr_assert_eq(sp_softmax(ctx, &o, x, m, 0), SP_OK);
  expect_values("masked", o, (float[]){0.26894142f, 0.73105858f, 0, 0, 0, 0}, 6, 1e-6f);
  /* causal on (3, 3): row q sees keys <= q */
  sp_tensor *s = t_from(2, SHAPE(3, 3), (float[]){5, 9, 9, 1, 1, 9, 0, 0, 0});
  cr_assert_eq(sp_softmax(ctx, &o, s, NULL, 1), SP_OK);
  expect_values("causal", o, (float[]){1, 0, 0, 0.5f, 0.5f, 0, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 9, 1e-6f);
  t_free_all((sp_tensor *[]){x, m, s}, 3);
  sp_ctx_free(ctx);
}

Test(softmax, gradcheck_masks) {
  for (int c = 0; c < 2; c++)
    for (int mk = 0; mk < 2; mk++)
      for (int lg = 0; lg < 2; lg++) {
        sm_arg arg = {c, mk, lg};
        sp_tensor *x = t_randn(5, 3, SHAPE(2, 4, 4), 1.0f);
        sp_tensor *m = t_from_i32(2, SHAPE(2, 4), (int32_t[]){1, 1, 0, 1, 0, 1, 1, 1});
        sp_tensor *in[2] = {x, m};
        t_require_grad(in, 1);
        gradcheck("softmax", build_softmax, in, 2, &arg, (gradcheck_opts){.eps = 5e-3f});
        t_free_all(in, 2);
      }
}

Test(softmax, errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 2, SHAPE(2, 3), 1), *o;
  sp_tensor *bad = t_from_i32(2, SHAPE(3, 3), (int32_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
  sp_tensor *v = t_randn(1, 1, SHAPE(3), 1);
  expect_error(sp_softmax(ctx, &o, x, bad, 0), SP_ESHAPE, "key_mask");
  expect_error(sp_softmax(ctx, &o, x, x, 0), SP_EDTYPE, "int32");
  expect_error(sp_log_softmax(ctx, &o, v, NULL, 1), SP_ESHAPE, "causal");
  t_free_all((sp_tensor *[]){x, bad, v}, 3);
  sp_ctx_free(ctx);
}

/* ---- layer norm ---- */
static int build_layernorm(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_layernorm(ctx, out, in[0], in[1], in[2], 1e-5f);
}

Test(layernorm, known_values_and_gradcheck) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 4), (float[]){1, 2, 3, 4, -1, -1, 1, 1});
  sp_tensor *w = t_from(1, SHAPE(4), (float[]){1, 1, 2, 1});
  sp_tensor *b = t_from(1, SHAPE(4), (float[]){0, 0, 0, 1});
  sp_tensor *o;
  cr_assert_eq(sp_layernorm(ctx, &o, x, w, b, 1e-5f), SP_OK, "%s", sp_last_error());
  /* row 0: mean 2.5, var 1.25 -> xhat = (-1.3416, -0.4472, 0.4472, 1.3416) */
  expect_values("layernorm", o,
                (float[]){-1.3416355f, -0.4472118f, 0.8944236f, 2.3416355f, -0.999995f, -0.999995f, 1.99999f, 1.999995f},
                8, 1e-4f);
  expect_error(sp_layernorm(ctx, &o, x, b, x, 1e-5f), SP_ESHAPE, "weight");
  expect_error(sp_layernorm(ctx, &o, x, w, b, 0.0f), SP_EINVAL, "eps");
  t_free_all((sp_tensor *[]){x, w, b}, 3);
  sp_ctx_free(ctx);

  sp_tensor *in[3] = {t_randn(2, 3, SHAPE(2, 3, 6), 1), t_randn(3, 1, SHAPE(6), 1),
                      t_randn(4, 1, SHAPE(6), 1)};
  t_require_grad(in, 3);
  gradcheck("layernorm", build_layernorm, in, 3, NULL, (gradcheck_opts){.eps = 5e-3f});
  t_free_all(in, 3);
}

/* ---- embedding ---- */
static int build_embedding(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_embedding(ctx, out, in[0], in[1], *(const int *)arg);
}

Test(embedding, known_values_padding_and_repeats) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *w = t_from(2, SHAPE(3, 2), (float[]){9, 9, 1, 2, 3, 4});
  sp_tensor *idx = t_from_i32(2, SHAPE(2, 2), (int32_t[]){2, 0, 1, 2});
  sp_tensor_set_requires_grad(w, 1);
  sp_tensor *o, *s;
  cr_assert_eq(sp_embedding(ctx, &o, w, idx, 0), SP_OK, "%s", sp_last_error());
  expect_values("lookup", o, (float[]){3, 4, 0, 0, 1, 2, 3, 4}, 8, 0);
  cr_assert_eq(sp_sum(ctx, &s, o), SP_OK);
  cr_assert_eq(sp_backward(ctx, s), SP_OK, "%s", sp_last_error());
  /* row 0 is padding: no gradient; row 2 used twice: gradient 2 */
  expect_values("dweight", sp_tensor_grad(w), (float[]){0, 0, 1, 1, 2, 2}, 6, 0);
  sp_tensor *badi = t_from_i32(1, SHAPE(2), (int32_t[]){1, 3});
  expect_error(sp_embedding(ctx, &o, w, badi, -1), SP_EINVAL, "index 3 at position 1");
  expect_error(sp_embedding(ctx, &o, w, w, -1), SP_EDTYPE, "int32");
  t_free_all((sp_tensor *[]){w, idx, badi}, 3);
  sp_ctx_free(ctx);

  int pad = 1;
  sp_tensor *in[2] = {t_randn(5, 2, SHAPE(4, 3), 1), t_from_i32(2, SHAPE(2, 3), (int32_t[]){0, 1, 3, 3, 2, 0})};
  t_require_grad(in, 1);
  gradcheck("embedding", build_embedding, in, 2, &pad, (gradcheck_opts){0});
  t_free_all(in, 2);
}

/* ---- dropout ---- */
static int build_dropout(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_dropout(ctx, out, in[0], 0.3f);
}

Test(dropout, statistics_modes_and_gradcheck) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 7);
  int n = 100000;
  sp_tensor *x, *o;
  sp_tensor_new(&x, SP_F32, 1, &n);
  sp_tensor_fill(x, 1.0f);
  cr_assert_eq(sp_dropout(ctx, &o, x, 0.25f), SP_OK);
  const float *d = sp_tensor_f32(o);
  int zeros = 0;
  for (int i = 0; i < n; i++) {
    cr_assert(d[i] == 0.0f || fabsf(d[i] - 1.0f / 0.75f) < 1e-6f, "value %g", d[i]);
    zeros += d[i] == 0.0f;
  }
  cr_expect(abs(zeros - 25000) < 600, "dropped %d of 100000 at p = 0.25", zeros);
  /* same seed and counter -> same mask; next call -> a different one */
  sp_tensor *o2;
  cr_assert_eq(sp_dropout(ctx, &o2, x, 0.25f), SP_OK);
  cr_expect(memcmp(sp_tensor_data(o), sp_tensor_data(o2), (size_t)n * 4) != 0, "two draws gave one mask");
  sp_ctx_set_training(ctx, 0);
  cr_assert_eq(sp_dropout(ctx, &o, x, 0.25f), SP_OK);
  cr_expect(sp_tensor_f32(o)[123] == 1.0f, "eval mode must be the identity");
  expect_error(sp_dropout(ctx, &o, x, 1.0f), SP_EINVAL, "p must be in [0, 1)");
  sp_tensor_free(x);
  sp_ctx_free(ctx);

  sp_tensor *in[1] = {t_randn(2, 2, SHAPE(6, 5), 1)};
  t_require_grad(in, 1);
  gradcheck("dropout", build_dropout, in, 1, NULL, (gradcheck_opts){0});
  t_free_all(in, 1);
}
