/* test_shape_ops.c — reshape (a view), concat, slice and take_positions: known values,
 * finite-difference gradients, and error paths. */
#include "harness.h"

/* ---- reshape ---- */
typedef struct {
  int ndim;
  int shape[4];
} reshape_arg;
static int build_reshape(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const reshape_arg *r = arg;
  return sp_reshape(ctx, out, in[0], r->ndim, r->shape);
}

Test(shape_ops, reshape_is_a_view_with_inferred_dim) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}), *o;
  cr_assert_eq(sp_reshape(ctx, &o, x, 2, SHAPE(3, -1)), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_ndim(o), 2);
  cr_expect_eq(sp_tensor_dim(o, 0), 3);
  cr_expect_eq(sp_tensor_dim(o, 1), 2);
  cr_expect_eq(sp_tensor_data(o), sp_tensor_data(x), "reshape must not copy");
  expect_values("reshape", o, (float[]){1, 2, 3, 4, 5, 6}, 6, 0);
  cr_assert_eq(sp_reshape(ctx, &o, x, 1, SHAPE(-1)), SP_OK);
  cr_expect_eq(sp_tensor_dim(o, 0), 6);
  /* int32 index tensors reshape too */
  sp_tensor *idx = t_from_i32(1, SHAPE(4), (int32_t[]){7, 8, 9, 10});
  cr_assert_eq(sp_reshape(ctx, &o, idx, 3, SHAPE(2, 1, 2)), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_dtype(o), SP_I32);
  cr_expect_eq(sp_tensor_i32(o)[3], 10);
  t_free_all((sp_tensor *[]){x, idx}, 2);
  sp_ctx_free(ctx);
}

Test(shape_ops, reshape_gradcheck) {
  reshape_arg args[2] = {{2, {4, -1}}, {4, {3, 1, 2, 4}}};
  for (int i = 0; i < 2; i++) {
    sp_tensor *in[1] = {t_randn(11, 3, SHAPE(2, 3, 4), 1)};
    t_require_grad(in, 1);
    gradcheck("reshape", build_reshape, in, 1, &args[i], (gradcheck_opts){0});
    t_free_all(in, 1);
  }
}

Test(shape_ops, reshape_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 2, SHAPE(2, 3), 1), *o;
  expect_error(sp_reshape(ctx, &o, x, 2, SHAPE(4, 2)), SP_ESHAPE, "(2, 3)");
  expect_error(sp_reshape(ctx, &o, x, 2, SHAPE(4, 2)), SP_ESHAPE, "(4, 2)");
  expect_error(sp_reshape(ctx, &o, x, 2, SHAPE(4, -1)), SP_ESHAPE, "sp_reshape: cannot view");
  expect_error(sp_reshape(ctx, &o, x, 2, SHAPE(-1, -1)), SP_ESHAPE, "more than one -1");
  expect_error(sp_reshape(ctx, &o, x, 2, SHAPE(-2, -3)), SP_ESHAPE, "negative");
  expect_error(sp_reshape(ctx, &o, x, 5, SHAPE(1, 1, 1, 2, 3)), SP_ESHAPE, "ndim");
  expect_error(sp_reshape(ctx, &o, x, 2, NULL), SP_EINVAL, "shape is NULL");
  expect_error(sp_reshape(ctx, &o, NULL, 1, SHAPE(6)), SP_EINVAL, "x is NULL");
  expect_error(sp_reshape(NULL, &o, x, 1, SHAPE(6)), SP_EINVAL, "NULL context");
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

/* ---- concat ---- */
typedef struct {
  int n, axis;
  const int *pick;
} concat_arg; /* pick: which inputs, or NULL */
static int build_concat(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const concat_arg *c = arg;
  sp_tensor *xs[16];
  for (int i = 0; i < c->n; i++) xs[i] = in[c->pick ? c->pick[i] : i];
  return sp_concat(ctx, out, xs, c->n, c->axis);
}

Test(shape_ops, concat_known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_from(3, SHAPE(2, 1, 2), (float[]){1, 2, 3, 4});
  sp_tensor *b = t_from(3, SHAPE(2, 2, 2), (float[]){5, 6, 7, 8, 9, 10, 11, 12}), *o;
  cr_assert_eq(sp_concat(ctx, &o, (sp_tensor *[]){a, b}, 2, 1), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_dim(o, 1), 3);
  expect_values("concat axis 1", o, (float[]){1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, 12, 0);
  cr_assert_eq(sp_concat(ctx, &o, (sp_tensor *[]){a, a}, 2, -1), SP_OK);
  expect_values("concat axis -1", o, (float[]){1, 2, 1, 2, 3, 4, 3, 4}, 8, 0);
  cr_assert_eq(sp_concat(ctx, &o, (sp_tensor *[]){b}, 1, 0), SP_OK);
  expect_values("concat n=1", o, (float[]){5, 6, 7, 8, 9, 10, 11, 12}, 8, 0);
  t_free_all((sp_tensor *[]){a, b}, 2);
  sp_ctx_free(ctx);
}

Test(shape_ops, concat_gradcheck) {
  /* n = 3 on a middle axis */
  sp_tensor *in3[3] = {t_randn(1, 3, SHAPE(2, 1, 3), 1), t_randn(2, 3, SHAPE(2, 2, 3), 1),
                       t_randn(3, 3, SHAPE(2, 3, 3), 1)};
  t_require_grad(in3, 3);
  gradcheck("concat n=3 axis 1", build_concat, in3, 3, &(concat_arg){3, 1, NULL},
            (gradcheck_opts){0});
  /* the same tensor three times: its gradient sums the three routes */
  gradcheck("concat a,a,a axis 1", build_concat, in3, 1,
            &(concat_arg){3, 1, (const int[]){0, 0, 0}}, (gradcheck_opts){0});
  t_free_all(in3, 3);
  /* more inputs than a tape node holds, only the last one requiring grad */
  sp_tensor *in8[8];
  for (int i = 0; i < 8; i++) in8[i] = t_randn(10 + i, 2, SHAPE(1 + i % 2, 3), 1);
  t_require_grad(in8 + 7, 1);
  gradcheck("concat n=8, last requires grad", build_concat, in8, 8, &(concat_arg){8, 0, NULL},
            (gradcheck_opts){0});
  t_require_grad(in8, 8);
  gradcheck("concat n=8", build_concat, in8, 8, &(concat_arg){8, 0, NULL}, (gradcheck_opts){0});
  t_free_all(in8, 8);
}

Test(shape_ops, concat_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_randn(1, 2, SHAPE(2, 3), 1), *b = t_randn(2, 2, SHAPE(3, 3), 1);
  sp_tensor *c = t_randn(3, 3, SHAPE(2, 3, 1), 1), *o;
  sp_tensor *idx = t_from_i32(2, SHAPE(2, 3), (int32_t[]){0, 1, 2, 3, 4, 5});
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, b}, 2, 1), SP_ESHAPE,
               "xs[1] (3, 3) does not match");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, c}, 2, 0), SP_ESHAPE, "sp_concat: xs[1]");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, idx}, 2, 0), SP_EDTYPE, "float32");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, NULL}, 2, 0), SP_EINVAL, "xs[1] is NULL");
  expect_error(sp_concat(ctx, &o, NULL, 2, 0), SP_EINVAL, "xs is NULL");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a}, 0, 0), SP_EINVAL, "n must be >= 1");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, b}, 2, 2), SP_EINVAL, "axis 2 out of range");
  expect_error(sp_concat(ctx, &o, (sp_tensor *[]){a, b}, 2, -3), SP_EINVAL, "sp_concat: axis");
  t_free_all((sp_tensor *[]){a, b, c, idx}, 4);
  sp_ctx_free(ctx);
}

/* ---- slice ---- */
typedef struct {
  int axis, start, len;
} slice_arg;
static int build_slice(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const slice_arg *s = arg;
  return sp_slice(ctx, out, in[0], s->axis, s->start, s->len);
}

Test(shape_ops, slice_known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7}), *o;
  cr_assert_eq(sp_slice(ctx, &o, x, 1, 1, 2), SP_OK, "%s", sp_last_error());
  expect_values("slice axis 1", o, (float[]){1, 2, 5, 6}, 4, 0);
  cr_assert_eq(sp_slice(ctx, &o, x, 0, 1, 1), SP_OK);
  expect_values("slice axis 0", o, (float[]){4, 5, 6, 7}, 4, 0);
  cr_assert_eq(sp_slice(ctx, &o, x, -1, 3, 1), SP_OK);
  expect_values("slice axis -1", o, (float[]){3, 7}, 2, 0);
  cr_assert_eq(sp_slice(ctx, &o, x, 1, 4, 0), SP_OK, "an empty slice at the end is valid");
  cr_expect_eq(sp_tensor_numel(o), 0);
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

Test(shape_ops, slice_gradcheck) {
  slice_arg args[3] = {{1, 1, 3}, {0, 1, 1}, {-1, 0, 2}};
  for (int i = 0; i < 3; i++) {
    sp_tensor *in[1] = {t_randn(5 + i, 3, SHAPE(2, 5, 3), 1)};
    t_require_grad(in, 1);
    gradcheck("slice", build_slice, in, 1, &args[i], (gradcheck_opts){0});
    t_free_all(in, 1);
  }
}

Test(shape_ops, slice_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 2, SHAPE(2, 4), 1), *o;
  sp_tensor *idx = t_from_i32(1, SHAPE(2), (int32_t[]){0, 1});
  expect_error(sp_slice(ctx, &o, x, 1, 3, 2), SP_EINVAL, "sp_slice: [3, 3 + 2) is outside axis 1");
  expect_error(sp_slice(ctx, &o, x, 1, -1, 1), SP_EINVAL, "outside");
  expect_error(sp_slice(ctx, &o, x, 0, 0, -1), SP_EINVAL, "outside");
  expect_error(sp_slice(ctx, &o, x, 2, 0, 1), SP_EINVAL, "axis 2 out of range");
  expect_error(sp_slice(ctx, &o, idx, 0, 0, 1), SP_EDTYPE, "float32");
  expect_error(sp_slice(ctx, &o, NULL, 0, 0, 1), SP_EINVAL, "x is NULL");
  t_free_all((sp_tensor *[]){x, idx}, 2);
  sp_ctx_free(ctx);
}

/* ---- take_positions ---- */
static int build_take(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_take_positions(ctx, out, in[0], in[1]);
}

Test(shape_ops, take_positions_known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  float v[12];
  for (int i = 0; i < 12; i++) v[i] = (float)i;
  sp_tensor *x = t_from(3, SHAPE(2, 3, 2), v), *o;
  sp_tensor *pos = t_from_i32(1, SHAPE(2), (int32_t[]){2, 0});
  cr_assert_eq(sp_take_positions(ctx, &o, x, pos), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_ndim(o), 2);
  expect_values("take_positions", o, (float[]){4, 5, 6, 7}, 4, 0);
  t_free_all((sp_tensor *[]){x, pos}, 2);
  sp_ctx_free(ctx);
}

Test(shape_ops, take_positions_gradcheck) {
  sp_tensor *in[2] = {t_randn(3, 3, SHAPE(3, 4, 5), 1),
                      t_from_i32(1, SHAPE(3), (int32_t[]){3, 0, 3})};
  t_require_grad(in, 2);
  gradcheck("take_positions", build_take, in, 2, NULL, (gradcheck_opts){.max_checks = 60});
  t_free_all(in, 2);
}

Test(shape_ops, take_positions_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 3, SHAPE(2, 3, 2), 1), *x2 = t_randn(2, 2, SHAPE(2, 3), 1), *o;
  sp_tensor *bad = t_from_i32(1, SHAPE(2), (int32_t[]){0, 3});
  sp_tensor *neg = t_from_i32(1, SHAPE(2), (int32_t[]){-1, 0});
  sp_tensor *short_pos = t_from_i32(1, SHAPE(1), (int32_t[]){0});
  sp_tensor *fpos = t_from(1, SHAPE(2), (float[]){0, 1});
  expect_error(sp_take_positions(ctx, &o, x, bad), SP_EINVAL, "pos[1] = 3 is outside [0, 3)");
  expect_error(sp_take_positions(ctx, &o, x, neg), SP_EINVAL, "pos[0] = -1");
  expect_error(sp_take_positions(ctx, &o, x, short_pos), SP_ESHAPE, "pos (1) must be (2)");
  expect_error(sp_take_positions(ctx, &o, x, fpos), SP_EDTYPE, "int32");
  expect_error(sp_take_positions(ctx, &o, x2, neg), SP_ESHAPE, "must be (B, L, D)");
  expect_error(sp_take_positions(ctx, &o, x, NULL), SP_EINVAL, "pos is NULL");
  t_free_all((sp_tensor *[]){x, x2, bad, neg, short_pos, fpos}, 6);
  sp_ctx_free(ctx);
}
