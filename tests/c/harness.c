/* harness.c — finite-difference gradient checks and tensor helpers for the op tests. */
#include "harness.h"

#include <stdio.h>

#include "internal.h"

sp_tensor *t_randn(uint64_t seed, int ndim, const int *shape, float std) {
  sp_tensor *t;
  cr_assert_eq(sp_tensor_new(&t, SP_F32, ndim, shape), SP_OK, "%s", sp_last_error());
  sp_rng rng;
  sp_rng_init(&rng, seed);
  sp_tensor_fill_normal(t, &rng, 0.0f, std);
  return t;
}

sp_tensor *t_from(int ndim, const int *shape, const float *values) {
  sp_tensor *t;
  cr_assert_eq(sp_tensor_new(&t, SP_F32, ndim, shape), SP_OK, "%s", sp_last_error());
  memcpy(sp_tensor_data(t), values, (size_t)sp_tensor_numel(t) * sizeof(float));
  return t;
}

sp_tensor *t_from_i32(int ndim, const int *shape, const int32_t *values) {
  sp_tensor *t;
  cr_assert_eq(sp_tensor_new(&t, SP_I32, ndim, shape), SP_OK, "%s", sp_last_error());
  memcpy(sp_tensor_data(t), values, (size_t)sp_tensor_numel(t) * sizeof(int32_t));
  return t;
}

void t_require_grad(sp_tensor **ts, int n) {
  for (int i = 0; i < n; i++)
    if (ts[i] && sp_tensor_dtype(ts[i]) == SP_F32) sp_tensor_set_requires_grad(ts[i], 1);
}

void t_free_all(sp_tensor **ts, int n) {
  for (int i = 0; i < n; i++) sp_tensor_free(ts[i]);
}

void expect_values(const char *what, sp_tensor *t, const float *expect, int64_t n, float tol) {
  cr_assert_eq(sp_tensor_numel(t), n, "%s: %lld elements, expected %lld", what,
               (long long)sp_tensor_numel(t), (long long)n);
  const float *d = sp_tensor_f32(t);
  for (int64_t i = 0; i < n; i++)
    cr_expect(fabsf(d[i] - expect[i]) <= tol, "%s[%lld] = %.7g, expected %.7g", what, (long long)i,
              d[i], expect[i]);
}

/* L = sum(out * w), in double, with the rng state restored so that dropout-like ops draw the
 * same numbers on every evaluation. */
static double eval_loss(sp_ctx *ctx, op_builder build, sp_tensor **in, const void *arg,
                        const sp_tensor *w, sp_rng rng0) {
  sp_ctx_reset(ctx);
  *sp_ctx_rng(ctx) = rng0;
  sp_ctx_set_grad_enabled(ctx, 0);
  sp_tensor *out;
  int rc = build(ctx, &out, in, arg);
  sp_ctx_set_grad_enabled(ctx, 1);
  cr_assert_eq(rc, SP_OK, "forward failed: %s", sp_last_error());
  const float *o = sp_tensor_f32(out);
  const float *wd = w->data;
  double loss = 0.0;
  for (int64_t i = 0; i < out->numel; i++) loss += (double)o[i] * wd[i];
  return loss;
}

static int skipped(const int *skip, int i) {
  for (; skip && *skip >= 0; skip++)
    if (*skip == i) return 1;
  return 0;
}

int gradcheck(const char *name, op_builder build, sp_tensor **in, int n_in, const void *arg,
              gradcheck_opts o) {
  if (o.eps == 0) o.eps = 1e-2f;
  if (o.atol == 0) o.atol = 1e-3f;
  if (o.rtol == 0) o.rtol = 2e-2f;
  if (o.max_checks == 0) o.max_checks = 48;
  sp_ctx *ctx;
  cr_assert_eq(sp_ctx_new(&ctx, 1234), SP_OK);
  sp_rng rng0 = *sp_ctx_rng(ctx);
  for (int i = 0; i < n_in; i++)
    if (in[i] && in[i]->requires_grad) sp_tensor_zero_grad(in[i]);

  /* Analytic: forward with the tape, L = sum(out * w), backward. */
  sp_tensor *out, *prod, *loss;
  cr_assert_eq(build(ctx, &out, in, arg), SP_OK, "%s: forward failed: %s", name, sp_last_error());
  sp_tensor *w = t_randn(99, out->ndim, out->shape, 1.0f);
  cr_assert_eq(sp_mul(ctx, &prod, out, w), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_sum(ctx, &loss, prod), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s: backward failed: %s", name, sp_last_error());

  int bad = 0, checked = 0;
  for (int i = 0; i < n_in; i++) {
    sp_tensor *x = in[i];
    if (!x || !x->requires_grad || skipped(o.skip, i)) continue;
    float *analytic = malloc((size_t)x->numel * sizeof(float));
    memcpy(analytic, x->grad->data, (size_t)x->numel * sizeof(float));
    float *xd = x->data;
    int64_t stride = x->numel > o.max_checks ? x->numel / o.max_checks : 1;
    for (int64_t j = 0; j < x->numel; j += stride) {
      float saved = xd[j];
      xd[j] = saved + o.eps;
      double lp = eval_loss(ctx, build, in, arg, w, rng0);
      xd[j] = saved - o.eps;
      double lm = eval_loss(ctx, build, in, arg, w, rng0);
      xd[j] = saved;
      double numeric = (lp - lm) / (2.0 * o.eps);
      double diff = fabs(analytic[j] - numeric);
      checked++;
      if (diff > o.atol + o.rtol * fabs(numeric)) {
        if (bad < 8)
          cr_log_error("%s: input %d element %lld: analytic %.6g vs numeric %.6g", name, i,
                       (long long)j, analytic[j], numeric);
        bad++;
      }
    }
    free(analytic);
  }
  cr_expect(checked > 0, "%s: no element was checked (no input requires grad?)", name);
  cr_expect_eq(bad, 0, "%s: %d of %d gradient elements differ from finite differences", name, bad,
               checked);
  sp_tensor_free(w);
  sp_ctx_free(ctx);
  return bad;
}
