/* test_cosine_topk.c — cosine_matrix (known values, gradients for a, b and a == b, clamped
 * norms) and topk (known values, ties, NaN, k = C, a large row against a naive reference,
 * thread-count determinism), with their error paths. */
#include <stdlib.h>

#include "harness.h"

/* ---- cosine_matrix ---- */
typedef struct {
  float eps;
  int same;
} cos_arg;
static int build_cosine(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const cos_arg *c = arg;
  return sp_cosine_matrix(ctx, out, in[0], c->same ? in[0] : in[1], c->eps);
}

Test(cosine_topk, cosine_known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_from(2, SHAPE(2, 2), (float[]){1, 0, 3, 4});
  sp_tensor *b = t_from(2, SHAPE(3, 2), (float[]){0, 2, 1, 1, 0, 0}), *o;
  cr_assert_eq(sp_cosine_matrix(ctx, &o, a, b, 1e-8f), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_dim(o, 0), 2);
  cr_expect_eq(sp_tensor_dim(o, 1), 3);
  /* the zero row of b has its norm clamped to eps: cosine 0, not NaN */
  expect_values("cos(a, b)", o, (float[]){0, 0.70710678f, 0, 0.8f, 0.98994949f, 0}, 6, 1e-6f);
  cr_assert_eq(sp_cosine_matrix(ctx, &o, a, a, 1e-8f), SP_OK);
  expect_values("cos(a, a)", o, (float[]){1, 0.6f, 0.6f, 1}, 4, 1e-6f);
  /* eps above a norm: (3, 4) . (1, 0) / (max(5, 10) * max(1, 10)) = 3 / 100 */
  cr_assert_eq(sp_cosine_matrix(ctx, &o, a, a, 10.0f), SP_OK);
  expect_values("cos(a, a), eps 10", o, (float[]){0.01f, 0.03f, 0.03f, 0.25f}, 4, 1e-7f);
  t_free_all((sp_tensor *[]){a, b}, 2);
  sp_ctx_free(ctx);
}

Test(cosine_topk, cosine_gradcheck) {
  sp_tensor *in[2] = {t_randn(1, 2, SHAPE(3, 4), 1), t_randn(2, 2, SHAPE(5, 4), 1)};
  t_require_grad(in, 2);
  gradcheck("cosine a, b", build_cosine, in, 2, &(cos_arg){1e-8f, 0}, (gradcheck_opts){0});
  gradcheck("cosine a, a", build_cosine, in, 1, &(cos_arg){1e-8f, 1}, (gradcheck_opts){0});
  /* only b requires grad */
  sp_tensor_set_requires_grad(in[0], 0);
  gradcheck("cosine b only", build_cosine, in, 2, &(cos_arg){1e-8f, 0}, (gradcheck_opts){0});
  /* a row whose norm (0.1) stays below eps (0.5) under the probe: a constant denominator */
  sp_tensor_set_requires_grad(in[0], 1);
  float *ad = sp_tensor_f32(in[0]);
  double nr = 0;
  for (int k = 0; k < 4; k++) nr += (double)ad[4 + k] * ad[4 + k];
  for (int k = 0; k < 4; k++) ad[4 + k] *= (float)(0.1 / sqrt(nr));
  gradcheck("cosine clamped row", build_cosine, in, 2, &(cos_arg){0.5f, 0},
            (gradcheck_opts){.eps = 1e-3f});
  gradcheck("cosine clamped row, a == b", build_cosine, in, 1, &(cos_arg){0.5f, 1},
            (gradcheck_opts){.eps = 1e-3f});
  t_free_all(in, 2);
}

Test(cosine_topk, cosine_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *a = t_randn(1, 2, SHAPE(2, 3), 1), *b = t_randn(2, 2, SHAPE(4, 2), 1);
  sp_tensor *v = t_randn(3, 1, SHAPE(3), 1), *o;
  sp_tensor *idx = t_from_i32(2, SHAPE(2, 3), (int32_t[]){0, 1, 2, 3, 4, 5});
  expect_error(sp_cosine_matrix(ctx, &o, a, b, 1e-8f), SP_ESHAPE,
               "sp_cosine_matrix: a (2, 3) and b (4, 2) must be (N, D) and (M, D)");
  expect_error(sp_cosine_matrix(ctx, &o, v, v, 1e-8f), SP_ESHAPE, "must be (N, D)");
  expect_error(sp_cosine_matrix(ctx, &o, a, a, 0.0f), SP_EINVAL, "eps must be positive");
  expect_error(sp_cosine_matrix(ctx, &o, a, a, NAN), SP_EINVAL, "eps");
  expect_error(sp_cosine_matrix(ctx, &o, a, idx, 1e-8f), SP_EDTYPE, "b must be float32");
  expect_error(sp_cosine_matrix(ctx, &o, NULL, a, 1e-8f), SP_EINVAL, "a is NULL");
  expect_error(sp_cosine_matrix(ctx, NULL, a, a, 1e-8f), SP_EINVAL, "NULL context");
  t_free_all((sp_tensor *[]){a, b, v, idx}, 4);
  sp_ctx_free(ctx);
}

/* ---- topk ---- */
static void expect_topk(sp_ctx *ctx, sp_tensor *x, int k, const float *val, const int32_t *ind) {
  sp_tensor *v, *i;
  cr_assert_eq(sp_topk(ctx, &v, &i, x, k), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_tensor_numel(i), sp_tensor_numel(v));
  const float *vd = sp_tensor_f32(v);
  const int32_t *id = sp_tensor_i32(i);
  for (int64_t j = 0; j < sp_tensor_numel(v); j++) {
    int same = isnan(val[j]) ? isnan(vd[j]) : vd[j] == val[j];
    cr_expect(same && id[j] == ind[j], "k=%d [%lld]: (%g, %d), expected (%g, %d)", k, (long long)j,
              vd[j], id[j], val[j], ind[j]);
  }
}

Test(cosine_topk, topk_known_values_ties_and_k_equals_c) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(2, SHAPE(2, 8),
                        (float[]){3, 1, 4, 1, 5, 9, 2, 6, /**/ -1, -2, -3, -4, -5, -6, -7, -8});
  expect_topk(ctx, x, 3, (float[]){9, 6, 5, -1, -2, -3}, (int32_t[]){5, 7, 4, 0, 1, 2});
  expect_topk(ctx, x, 1, (float[]){9, -1}, (int32_t[]){5, 0});
  sp_tensor *ties = t_from(2, SHAPE(1, 5), (float[]){1, 2, 2, 1, 2});
  expect_topk(ctx, ties, 2, (float[]){2, 2}, (int32_t[]){1, 2});
  expect_topk(ctx, ties, 5, (float[]){2, 2, 2, 1, 1}, (int32_t[]){1, 2, 4, 0, 3});
  /* NaN ranks lowest, level with -inf (lower index first) */
  sp_tensor *nan = t_from(2, SHAPE(1, 5), (float[]){NAN, 1, -INFINITY, 0, -INFINITY});
  expect_topk(ctx, nan, 5, (float[]){1, 0, NAN, -INFINITY, -INFINITY}, (int32_t[]){1, 3, 0, 2, 4});
  expect_topk(ctx, nan, 3, (float[]){1, 0, NAN}, (int32_t[]){1, 3, 0});
  /* values are plain data even when x requires grad; no tape node */
  sp_tensor *v, *i;
  t_require_grad(&x, 1);
  cr_assert_eq(sp_topk(ctx, &v, &i, x, 2), SP_OK);
  cr_expect_eq(sp_tensor_requires_grad(v), 0);
  sp_ctx_stats st;
  sp_ctx_get_stats(ctx, &st);
  cr_expect_eq(st.tape_len, 0);
  t_free_all((sp_tensor *[]){x, ties, nan}, 3);
  sp_ctx_free(ctx);
}

static const float *ref_row;
static int ref_cmp(const void *p, const void *q) {
  int a = *(const int *)p, b = *(const int *)q;
  if (ref_row[a] != ref_row[b]) return ref_row[a] > ref_row[b] ? -1 : 1;
  return a - b;
}

/* The item-catalogue size with many ties (values quantised), against a full sort. */
Test(cosine_topk, topk_large_rows_match_sort_and_are_deterministic) {
  enum { N = 8, C = 50000, K = 100 };
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(7, 2, SHAPE(N, C), 100);
  float *xd = sp_tensor_f32(x);
  for (int j = 0; j < N * C; j++) xd[j] = roundf(xd[j]);
  for (int j = 0; j < C; j++) xd[7 * C + j] = (float)j; /* ascending: every element enters */
  int *order = malloc(C * sizeof *order);
  float vals[N * K];
  int32_t inds[N * K];
  for (int r = 0; r < N; r++) {
    for (int j = 0; j < C; j++) order[j] = j;
    ref_row = xd + r * C;
    qsort(order, C, sizeof *order, ref_cmp);
    for (int j = 0; j < K; j++) vals[r * K + j] = ref_row[order[j]], inds[r * K + j] = order[j];
  }
  int threads = sp_get_num_threads();
  for (int t = 1; t <= 2; t++) {
    sp_set_num_threads(t);
    expect_topk(ctx, x, K, vals, inds);
  }
  sp_set_num_threads(threads);
  free(order);
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

Test(cosine_topk, topk_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 2, SHAPE(2, 5), 1), *v1 = t_randn(2, 1, SHAPE(5), 1), *v, *i;
  sp_tensor *idx = t_from_i32(2, SHAPE(1, 2), (int32_t[]){0, 1});
  expect_error(sp_topk(ctx, &v, &i, x, 0), SP_EINVAL, "sp_topk: k = 0 must be in [1, 5]");
  expect_error(sp_topk(ctx, &v, &i, x, 6), SP_EINVAL, "k = 6");
  expect_error(sp_topk(ctx, &v, &i, v1, 1), SP_ESHAPE, "must be (N, C)");
  expect_error(sp_topk(ctx, &v, &i, idx, 1), SP_EDTYPE, "x must be float32");
  expect_error(sp_topk(ctx, &v, &i, NULL, 1), SP_EINVAL, "x is NULL");
  expect_error(sp_topk(ctx, &v, NULL, x, 1), SP_EINVAL, "NULL context or output");
  expect_error(sp_topk(NULL, &v, &i, x, 1), SP_EINVAL, "NULL context or output");
  t_free_all((sp_tensor *[]){x, v1, idx}, 3);
  sp_ctx_free(ctx);
}
