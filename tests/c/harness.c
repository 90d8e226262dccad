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

/* ---- the backend check: GPU against CPU ---- */

int gpu_available(void) { return sp_cuda_init() == SP_OK; }

double t_nmse(sp_tensor *a, sp_tensor *b) {
  const float *x = sp_tensor_f32(a), *y = sp_tensor_f32(b);
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < sp_tensor_numel(b); i++) {
    double d = (double)x[i] - y[i];
    num += d * d;
    den += (double)y[i] * y[i];
  }
  if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
  return num / den;
}

/* A host copy of any tensor (waits for the GPU). */
static sp_tensor *host_copy(sp_tensor *t) {
  sp_tensor *h;
  cr_assert_eq(sp_tensor_new(&h, sp_tensor_dtype(t), t->ndim, t->shape), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_tensor_copy(h, t), SP_OK, "copy back: %s", sp_last_error());
  return h;
}

/* Runs build on ctx, then L = sum(out * w) and backward (unless no_backward); *out_host gets
 * the output on the host. */
static void run_on(sp_ctx *ctx, op_builder build, sp_tensor **in, const void *arg, sp_tensor *w_host,
                   int no_backward, sp_tensor **out_host, const char *name) {
  sp_tensor *out, *w, *prod, *loss;
  cr_assert_eq(build(ctx, &out, in, arg), SP_OK, "%s on %s: %s", name,
               sp_ctx_device(ctx) == SP_CPU ? "cpu" : "cuda", sp_last_error());
  *out_host = host_copy(out);
  if (no_backward || !sp_tensor_requires_grad(out) || sp_tensor_dtype(out) != SP_F32) return;
  cr_assert_eq(sp_ctx_upload(ctx, &w, w_host), SP_OK, "%s", sp_last_error());
  sp_tensor *wv;
  cr_assert_eq(sp_reshape(ctx, &wv, w, out->ndim, out->shape), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_mul(ctx, &prod, out, wv), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_sum(ctx, &loss, prod), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s backward on %s: %s", name,
               sp_ctx_device(ctx) == SP_CPU ? "cpu" : "cuda", sp_last_error());
}

int devicecheck(const char *name, op_builder build, sp_tensor **in, int n_in, const void *arg,
                devicecheck_opts o) {
  if (o.max_nmse == 0) o.max_nmse = 1e-7;
  sp_tensor *gin[8];
  cr_assert(n_in <= 8);
  for (int i = 0; i < n_in; i++) { /* the GPU's inputs: copies with the same values */
    gin[i] = NULL;
    if (!in[i]) continue;
    gin[i] = host_copy(in[i]);
    if (sp_tensor_requires_grad(in[i])) {
      sp_tensor_zero_grad(in[i]);
      sp_tensor_set_requires_grad(gin[i], 1);
    }
    cr_assert_eq(sp_tensor_to_device(gin[i], SP_CUDA), SP_OK, "%s", sp_last_error());
  }
  sp_ctx *cc, *gc;
  cr_assert_eq(sp_ctx_new(&cc, 1234), SP_OK);
  cr_assert_eq(sp_ctx_new(&gc, 1234), SP_OK);
  cr_assert_eq(sp_ctx_set_device(gc, SP_CUDA), SP_OK, "%s", sp_last_error());
  sp_tensor *probe, *out_cpu, *out_gpu;
  cr_assert_eq(build(cc, &probe, in, arg), SP_OK, "%s: %s", name, sp_last_error());
  sp_tensor *w = t_randn(99, 1, (int[]){(int)(probe->numel > 0 ? probe->numel : 1)}, 1.0f);
  sp_ctx_reset(cc);
  *sp_ctx_rng(cc) = *sp_ctx_rng(gc); /* both start at the same counter */
  run_on(cc, build, in, arg, w, o.no_backward, &out_cpu, name);
  run_on(gc, build, gin, arg, w, o.no_backward, &out_gpu, name);
  int bad = 0;
  if (sp_tensor_dtype(out_cpu) == SP_I32) {
    bad += memcmp(out_cpu->data, out_gpu->data, (size_t)out_cpu->numel * 4) != 0;
    if (bad) cr_log_error("%s: int32 outputs differ", name);
  } else {
    double e = t_nmse(out_gpu, out_cpu);
    if (!(e <= o.max_nmse)) {
      cr_log_error("%s: output NMSE %.3g > %.3g", name, e, o.max_nmse);
      bad++;
    }
  }
  for (int i = 0; i < n_in && !o.no_backward; i++) {
    if (!in[i] || !sp_tensor_requires_grad(in[i]) || !sp_tensor_grad(in[i])) continue;
    sp_tensor *g = host_copy(sp_tensor_grad(gin[i]));
    double e = t_nmse(g, sp_tensor_grad(in[i]));
    if (!(e <= o.max_nmse)) {
      cr_log_error("%s: gradient of input %d NMSE %.3g > %.3g", name, i, e, o.max_nmse);
      bad++;
    }
    sp_tensor_free(g);
  }
  sp_tensor_free(out_cpu), sp_tensor_free(out_gpu), sp_tensor_free(w);
  for (int i = 0; i < n_in; i++) sp_tensor_free(gin[i]);
  sp_ctx_free(cc), sp_ctx_free(gc);
  return bad;
}
