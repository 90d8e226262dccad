/* test_basic_ops.c — matmul, linear, add/sub/mul/scale, relu/gelu/sigmoid/tanh, sum/mean:
 * known values, finite-difference gradients, and error paths. */
#include "harness.h"

/* ---- matmul ---- */
typedef struct { int ta, tb; } mm_arg;
static int build_matmul(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const mm_arg *a = arg;
  return sp_matmul(ctx, out, in[0], in[1], a->ta, a->tb);
}

Test(matmul, known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_from(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  sp_tensor *b = t_from(2, SHAPE(3, 2), (float[]){7, 8, 9, 10, 11, 12});
  sp_tensor *o;
  cr_assert_eq(sp_matmul(ctx, &o, a, b, 0, 0), SP_OK, "%s", sp_last_error());
  expect_values("a b", o, (float[]){58, 64, 139, 154}, 4, 1e-4f);
  cr_assert_eq(sp_matmul(ctx, &o, a, a, 0, 1), SP_OK);
  expect_values("a a^T", o, (float[]){14, 32, 32, 77}, 4, 1e-4f);
  cr_assert_eq(sp_matmul(ctx, &o, a, a, 1, 0), SP_OK);
  expect_values("a^T a", o, (float[]){17, 22, 27, 22, 29, 36, 27, 36, 45}, 9, 1e-4f);
  t_free_all((sp_tensor *[]){a, b}, 2);
  sp_ctx_free(ctx);
}

Test(matmul, gradcheck_all_transposes_and_batches) {
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int batched_b = 0; batched_b < 2; batched_b++) {
        mm_arg arg = {ta, tb};
        sp_tensor *a = t_randn(1, 3, ta ? SHAPE(2, 4, 3) : SHAPE(2, 3, 4), 1.0f);
        sp_tensor *b = batched_b ? t_randn(2, 3, tb ? SHAPE(2, 5, 4) : SHAPE(2, 4, 5), 1.0f)
                                 : t_randn(2, 2, tb ? SHAPE(5, 4) : SHAPE(4, 5), 1.0f);
        sp_tensor *in[2] = {a, b};
        t_require_grad(in, 2);
        char name[64];
        snprintf(name, sizeof name, "matmul ta=%d tb=%d batched_b=%d", ta, tb, batched_b);
        gradcheck(name, build_matmul, in, 2, &arg, (gradcheck_opts){0});
        t_free_all(in, 2);
      }
}

Test(matmul, errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_randn(1, 2, SHAPE(2, 3), 1), *b = t_randn(2, 2, SHAPE(4, 2), 1), *o;
  sp_tensor *idx = t_from_i32(2, SHAPE(3, 2), (int32_t[]){0, 1, 2, 3, 4, 5});
  expect_error(sp_matmul(ctx, &o, a, b, 0, 0), SP_ESHAPE, "inner dimensions");
  expect_error(sp_matmul(ctx, &o, a, NULL, 0, 0), SP_EINVAL, "b is NULL");
  expect_error(sp_matmul(ctx, &o, a, idx, 0, 0), SP_EDTYPE, "float32");
  expect_error(sp_matmul(NULL, &o, a, b, 0, 0), SP_EINVAL, "NULL context");
  t_free_all((sp_tensor *[]){a, b, idx}, 3);
  sp_ctx_free(ctx);
}

/* ---- linear ---- */
static int build_linear(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_linear(ctx, out, in[0], in[1], in[2]);
}

Test(linear, known_values_and_gradcheck) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 2), (float[]){1, 2, 3, 4});
  sp_tensor *w = t_from(2, SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, 1});
  sp_tensor *b = t_from(1, SHAPE(3), (float[]){0.5f, -1, 0});
  sp_tensor *o;
  cr_assert_eq(sp_linear(ctx, &o, x, w, b), SP_OK, "%s", sp_last_error());
  expect_values("x w^T + b", o, (float[]){1.5f, 1, 3, 3.5f, 3, 7}, 6, 1e-5f);
  cr_assert_eq(sp_linear(ctx, &o, x, w, NULL), SP_OK);
  expect_values("x w^T", o, (float[]){1, 2, 3, 3, 4, 7}, 6, 1e-5f);
  expect_error(sp_linear(ctx, &o, b, w, NULL), SP_ESHAPE, "must be (d_out, 3)");
  expect_error(sp_linear(ctx, &o, x, w, x), SP_ESHAPE, "bias");
  t_free_all((sp_tensor *[]){x, w, b}, 3);
  sp_ctx_free(ctx);

  sp_tensor *in[3] = {t_randn(3, 3, SHAPE(2, 3, 4), 1), t_randn(4, 2, SHAPE(5, 4), 1),
                      t_randn(5, 1, SHAPE(5), 1)};
  t_require_grad(in, 3);
  gradcheck("linear", build_linear, in, 3, NULL, (gradcheck_opts){0});
  t_free_all(in, 3);
}

/* ---- binary ---- */
typedef int (*binary_fn)(sp_ctx *, sp_tensor **, sp_tensor *, sp_tensor *);
static int build_binary(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return (*(const binary_fn *)arg)(ctx, out, in[0], in[1]);
}

Test(binary, known_values_with_broadcast) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_from(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  sp_tensor *b = t_from(1, SHAPE(3), (float[]){10, 20, 30});
  sp_tensor *o;
  cr_assert_eq(sp_add(ctx, &o, a, b), SP_OK);
  expect_values("add", o, (float[]){11, 22, 33, 14, 25, 36}, 6, 0);
  cr_assert_eq(sp_sub(ctx, &o, a, b), SP_OK);
  expect_values("sub", o, (float[]){-9, -18, -27, -6, -15, -24}, 6, 0);
  cr_assert_eq(sp_mul(ctx, &o, a, b), SP_OK);
  expect_values("mul", o, (float[]){10, 40, 90, 40, 100, 180}, 6, 0);
  cr_assert_eq(sp_scale(ctx, &o, a, -0.5f), SP_OK);
  expect_values("scale", o, (float[]){-0.5f, -1, -1.5f, -2, -2.5f, -3}, 6, 0);
  expect_error(sp_add(ctx, &o, b, a), SP_ESHAPE, "trailing dimensions");
  t_free_all((sp_tensor *[]){a, b}, 2);
  sp_ctx_free(ctx);
}

Test(binary, gradcheck) {
  binary_fn fns[3] = {sp_add, sp_sub, sp_mul};
  const char *names[3] = {"add", "sub", "mul"};
  for (int f = 0; f < 3; f++)
    for (int bc = 0; bc < 2; bc++) {
      sp_tensor *in[2] = {t_randn(1, 3, SHAPE(2, 3, 4), 1),
                          bc ? t_randn(2, 2, SHAPE(3, 4), 1) : t_randn(2, 3, SHAPE(2, 3, 4), 1)};
      t_require_grad(in, 2);
      gradcheck(names[f], build_binary, in, 2, &fns[f], (gradcheck_opts){0});
      t_free_all(in, 2);
    }
}

/* ---- unary ---- */
typedef int (*unary_fn)(sp_ctx *, sp_tensor **, sp_tensor *);
static int build_unary(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return (*(const unary_fn *)arg)(ctx, out, in[0]);
}
static int build_scale(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_scale(ctx, out, in[0], 1.7f);
}

Test(unary, known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(1, SHAPE(4), (float[]){-2, -0.5f, 0.5f, 3}), *o;
  cr_assert_eq(sp_relu(ctx, &o, x), SP_OK);
  expect_values("relu", o, (float[]){0, 0, 0.5f, 3}, 4, 0);
  cr_assert_eq(sp_sigmoid(ctx, &o, x), SP_OK);
  expect_values("sigmoid", o, (float[]){0.11920292f, 0.37754067f, 0.62245933f, 0.95257413f}, 4, 1e-6f);
  cr_assert_eq(sp_tanh(ctx, &o, x), SP_OK);
  expect_values("tanh", o, (float[]){-0.96402758f, -0.46211716f, 0.46211716f, 0.99505475f}, 4, 1e-6f);
  cr_assert_eq(sp_gelu(ctx, &o, x), SP_OK); /* PyTorch gelu(approximate='tanh') */
  expect_values("gelu", o, (float[]){-0.04540231f, -0.15428599f, 0.34571401f, 2.99636261f}, 4, 1e-5f);
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

Test(unary, gradcheck) {
  unary_fn fns[4] = {sp_relu, sp_gelu, sp_sigmoid, sp_tanh};
  const char *names[4] = {"relu", "gelu", "sigmoid", "tanh"};
  for (int f = 0; f < 4; f++) {
    sp_tensor *in[1] = {t_randn(7, 2, SHAPE(5, 7), 1)};
    if (f == 0) { /* keep relu's inputs away from the kink at 0 */
      float *d = sp_tensor_f32(in[0]);
      for (int i = 0; i < 35; i++)
        if (fabsf(d[i]) < 0.05f) d[i] = 0.3f;
    }
    t_require_grad(in, 1);
    gradcheck(names[f], build_unary, in, 1, &fns[f], (gradcheck_opts){0});
    t_free_all(in, 1);
  }
  sp_tensor *in[1] = {t_randn(8, 1, SHAPE(9), 1)};
  t_require_grad(in, 1);
  gradcheck("scale", build_scale, in, 1, NULL, (gradcheck_opts){0});
  t_free_all(in, 1);
}

/* ---- reductions ---- */
typedef struct { int axis, mean, all; } red_arg;
static int build_reduce(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const red_arg *r = arg;
  if (r->all) return r->mean ? sp_mean(ctx, out, in[0]) : sp_sum(ctx, out, in[0]);
  return r->mean ? sp_mean_axis(ctx, out, in[0], r->axis) : sp_sum_axis(ctx, out, in[0], r->axis);
}

Test(reduce, known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}), *o;
  cr_assert_eq(sp_sum(ctx, &o, x), SP_OK);
  expect_values("sum", o, (float[]){21}, 1, 0);
  cr_assert_eq(sp_mean(ctx, &o, x), SP_OK);
  expect_values("mean", o, (float[]){3.5f}, 1, 0);
  cr_assert_eq(sp_sum_axis(ctx, &o, x, 0), SP_OK);
  expect_values("sum axis 0", o, (float[]){5, 7, 9}, 3, 0);
  cr_assert_eq(sp_mean_axis(ctx, &o, x, -1), SP_OK);
  expect_values("mean axis -1", o, (float[]){2, 5}, 2, 0);
  expect_error(sp_sum_axis(ctx, &o, x, 2), SP_EINVAL, "axis 2 out of range");
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

Test(reduce, gradcheck) {
  red_arg args[5] = {{0, 0, 1}, {0, 1, 1}, {0, 0, 0}, {1, 1, 0}, {-1, 0, 0}};
  for (int i = 0; i < 5; i++) {
    sp_tensor *in[1] = {t_randn(3, 3, SHAPE(2, 3, 4), 1)};
    t_require_grad(in, 1);
    gradcheck("reduce", build_reduce, in, 1, &args[i], (gradcheck_opts){0});
    t_free_all(in, 1);
  }
}
