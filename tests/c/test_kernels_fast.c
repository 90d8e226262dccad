/* test_kernels_fast.c — the vectorised element kernels against plain references: sp_vexpf
 * against expf, gelu over many parallel ranges against the double-precision formula, dropout
 * against its documented keep rule element by element (chunk edges, a partial last block),
 * and the per-op profiler's rows. */
#include <math.h>

#include "harness.h"
#include "vmath.h"

Test(vmath, vexpf_matches_expf) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = exp((double)x), got = sp_vexpf(x);
    const double rel = fabs(got - want) / want;
    if (rel > worst) worst = rel;
  }
  cr_assert_lt(worst, 3e-7, "sp_vexpf's relative error %g", worst);
  cr_assert_eq(sp_vexpf(0.0f), 1.0f);
  cr_assert(sp_vexpf(1000.0f) > 1e38f && isfinite(sp_vexpf(1000.0f)), "clamped, finite");
  cr_assert(sp_vexpf(-1000.0f) >= 0.0f && sp_vexpf(-1000.0f) < 1e-37f);
}

Test(unary, gelu_over_many_ranges_matches_the_formula) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  enum { N = 3 * 4096 + 37 }; /* several parallel ranges and a ragged end */
  sp_tensor *x = t_randn(3, 1, SHAPE(N), 4.0f), *o;
  cr_assert_eq(sp_gelu(ctx, &o, x), SP_OK);
  const float *xd = sp_tensor_f32(x), *od = sp_tensor_f32(o);
  for (int i = 0; i < N; i++) {
    const double v = xd[i];
    const double want = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    cr_assert_leq(fabs(od[i] - want), 2e-6 * (1.0 + fabs(want)), "gelu(%g) = %g, want %g", v, od[i], want);
  }
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

/* The documented rule (engine/cpu/dropout.c), written out plainly. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Test(dropout, every_element_follows_the_keep_rule) {
  const int sizes[] = {1, 3, 1023, 1025, 5001};
  for (int s = 0; s < 5; s++) {
    const int n = sizes[s];
    sp_ctx *ctx;
    sp_ctx_new(&ctx, 42);
    sp_tensor *x = t_randn(5, 1, SHAPE(n), 1.0f), *o;
    sp_tensor_set_requires_grad(x, 1);
    const uint64_t seed = sp_ctx_rng(ctx)->seed, counter = sp_ctx_rng(ctx)->counter;
    cr_assert_eq(sp_dropout(ctx, &o, x, 0.3f), SP_OK);
    sp_tensor *loss;
    cr_assert_eq(sp_sum(ctx, &loss, o), SP_OK);
    cr_assert_eq(sp_backward(ctx, loss), SP_OK);
    const uint64_t key = mix64(seed ^ mix64(counter + 0x9e3779b97f4a7c15ull));
    const uint32_t threshold = (uint32_t)lrintf(0.3f * 65536.0f);
    const float scale = 1.0f / (1.0f - 0.3f);
    const float *xd = sp_tensor_f32(x), *od = sp_tensor_f32(o), *gd = sp_tensor_f32(sp_tensor_grad(x));
    for (int i = 0; i < n; i++) {
      const uint64_t bits = mix64(key + (uint64_t)(i / 4) * 0x9e3779b97f4a7c15ull);
      const float f = (((uint32_t)(bits >> (16 * (i % 4))) & 0xffffu) >= threshold) * scale;
      cr_assert_eq(od[i], xd[i] * f, "n = %d: element %d", n, i);
      cr_assert_eq(gd[i], f, "n = %d: gradient %d", n, i);
    }
    sp_tensor_free(x);
    sp_ctx_free(ctx);
  }
}

Test(profile, rows_count_calls_time_and_flops) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_profile_row rows[8];
  cr_assert_eq(sp_ctx_profile_rows(ctx, rows, 8), 0, "no rows before it is turned on");
  sp_tensor *x = t_randn(1, 2, SHAPE(6, 4), 1.0f), *w = t_randn(2, 2, SHAPE(3, 4), 1.0f);
  sp_tensor_set_requires_grad(w, 1);
  cr_assert_eq(sp_ctx_profile(ctx, 1), SP_OK);
  for (int step = 0; step < 3; step++) {
    sp_ctx_reset(ctx);
    sp_tensor *h, *r, *loss;
    cr_assert_eq(sp_linear(ctx, &h, x, w, NULL), SP_OK);
    cr_assert_eq(sp_relu(ctx, &r, h), SP_OK);
    cr_assert_eq(sp_sum(ctx, &loss, r), SP_OK);
    cr_assert_eq(sp_backward(ctx, loss), SP_OK);
  }
  cr_assert_eq(sp_ctx_profile(ctx, 0), SP_OK);
  sp_tensor *h; /* stopped: this call is not counted */
  cr_assert_eq(sp_linear(ctx, &h, x, w, NULL), SP_OK);
  const int n = sp_ctx_profile_rows(ctx, rows, 8);
  cr_assert_eq(n, 3, "linear, relu, sum");
  cr_assert_str_eq(rows[0].op, "sp_linear");
  cr_assert_str_eq(rows[1].op, "sp_relu");
  for (int i = 0; i < n; i++) {
    cr_assert_eq(rows[i].calls, 3, "%s", rows[i].op);
    cr_assert_eq(rows[i].backwards, 3, "%s", rows[i].op);
    cr_assert(rows[i].forward_s >= 0 && rows[i].backward_s >= 0 && rows[i].forward_s < 10);
  }
  cr_assert_eq(rows[0].flops, 3 * 2.0 * 6 * 4 * 3, "2 rows d_in d_out per call");
  cr_assert_eq(rows[1].flops, 0);
  cr_assert_eq(rows[1].bytes, 3 * 2 * 18 * 4.0, "input and output of 18 floats");
  sp_tensor_free(x);
  sp_tensor_free(w);
  sp_ctx_free(ctx);
}
