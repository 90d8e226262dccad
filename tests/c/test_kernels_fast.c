/* test_kernels_fast.c — the vectorised element kernels against plain references: sp_vexpf
 * against expf, gelu over many parallel ranges against the double-precision formula, dropout
 * against its documented keep rule element by element (chunk edges, a partial last block),
 * and the per-op profiler's rows. */
#include <math.h>

#include "cpu.h"
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

/* The vectorised kernels are built in clones per instruction set (vmath.h's SP_VECTOR_CLONES)
 * with -ffp-contract=off: whichever clone this CPU runs must give the bits of the plain
 * baseline formula compiled here. */
static float gelu_plain(float v) {
  return 0.5f * v * (1.0f + sp_vtanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
}

Test(unary, gelu_clone_gives_the_baseline_bits) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  enum { N = 2 * 4096 + 13 };
  sp_tensor *x = t_randn(9, 1, SHAPE(N), 3.0f), *o;
  cr_assert_eq(sp_gelu(ctx, &o, x), SP_OK);
  const float *xd = sp_tensor_f32(x), *od = sp_tensor_f32(o);
  for (int i = 0; i < N; i++) cr_assert_eq(od[i], gelu_plain(xd[i]), "gelu(%.9g)", xd[i]);
  sp_tensor_free(x);
  sp_ctx_free(ctx);
}

Test(adam, clone_gives_the_baseline_bits) {
  for (int decoupled = 0; decoupled < 2; decoupled++) {
    sp_params *p;
    sp_params_new(&p);
    enum { N = 40000 + 7 }; /* more than one parallel range */
    sp_tensor *w;
    cr_assert_eq(sp_params_create(p, &w, "w", 1, SHAPE(N)), SP_OK);
    sp_rng rng;
    sp_rng_init(&rng, 11);
    sp_tensor_fill_normal(w, &rng, 0.0f, 1.0f);
    sp_tensor_zero_grad(w);
    float *g = sp_tensor_f32(sp_tensor_grad(w)), *wd = sp_tensor_f32(w);
    for (int i = 0; i < N; i++) g[i] = 0.001f * (float)((i * 37) % 201 - 100);
    float *w0 = malloc(sizeof(float) * N);
    memcpy(w0, wd, sizeof(float) * N);
    sp_adam_config c = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f,
                        .decoupled = decoupled};
    sp_adam *opt;
    cr_assert_eq(sp_adam_new(&opt, p, &c), SP_OK, "%s", sp_last_error());
    cr_assert_eq(sp_adam_step(opt), SP_OK);
    const float bc1 = 1.0f - powf(c.beta1, 1.0f), bc2 = 1.0f - powf(c.beta2, 1.0f);
    const float step_size = c.lr / bc1, bc2_sqrt = sqrtf(bc2);
    for (int i = 0; i < N; i++) { /* the first step from zero moments, written out */
      float gj = g[i], w1 = w0[i];
      if (!decoupled) gj = gj + c.weight_decay * w1;
      const float m = c.beta1 * 0.0f + (1.0f - c.beta1) * gj, v = c.beta2 * 0.0f + (1.0f - c.beta2) * gj * gj;
      if (decoupled) w1 -= c.lr * c.weight_decay * w1;
      w1 -= step_size * m / (sqrtf(v) / bc2_sqrt + c.eps);
      cr_assert_eq(wd[i], w1, "decoupled %d: w[%d]", decoupled, i);
    }
    free(w0);
    sp_adam_free(opt);
    sp_params_free(p);
  }
}

/* Layer norm, written out plainly in this file (baseline instruction set, no fused
 * multiply-add): the kernel's clone must give these bits, forward and backward. */
static float plain_sum8(const float *x, int d, float m, int sq) {
  float p[8] = {0};
  int j = 0;
  for (; j + 8 <= d; j += 8)
    for (int k = 0; k < 8; k++) p[k] += sq ? (x[j + k] - m) * (x[j + k] - m) : x[j + k];
  float s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  for (; j < d; j++) s += sq ? (x[j] - m) * (x[j] - m) : x[j];
  return s;
}

Test(layernorm, clone_gives_the_baseline_bits) {
  const int dims[2] = {64, 37}; /* whole blocks of 8, and a tail */
  for (int c = 0; c < 2; c++) {
    const int rows = 300, d = dims[c];
    sp_tensor *x = t_randn(21, 2, SHAPE(rows, d), 2.0f), *dy = t_randn(22, 2, SHAPE(rows, d), 1.0f);
    sp_tensor *w = t_randn(23, 1, SHAPE(d), 1.0f), *b = t_randn(24, 1, SHAPE(d), 1.0f);
    const float *xd = sp_tensor_f32(x), *g = sp_tensor_f32(dy), *wd = sp_tensor_f32(w), *bd = sp_tensor_f32(b);
    float *out = calloc((size_t)rows * d, 4), *mean = calloc(rows, 4), *rstd = calloc(rows, 4);
    float *dx = calloc((size_t)rows * d, 4), *dw = calloc(d, 4), *db = calloc(d, 4), *dw_ref = calloc(d, 4),
          *db_ref = calloc(d, 4);
    sp_cpu_layernorm_forward(out, mean, rstd, xd, wd, bd, rows, d, 1e-5f);
    sp_cpu_layernorm_backward(dx, dw, db, g, xd, wd, mean, rstd, rows, d);
    for (int r = 0; r < rows; r++) {
      const float *xr = xd + (int64_t)r * d, *gr = g + (int64_t)r * d;
      const float m = plain_sum8(xr, d, 0, 0) / (float)d;
      const float s = 1.0f / sqrtf(plain_sum8(xr, d, m, 1) / (float)d + 1e-5f);
      cr_assert_eq(mean[r], m, "d %d row %d mean", d, r);
      cr_assert_eq(rstd[r], s, "d %d row %d rstd", d, r);
      for (int j = 0; j < d; j++)
        cr_assert_eq(out[(int64_t)r * d + j], (xr[j] - m) * s * wd[j] + bd[j], "d %d out[%d][%d]", d, r, j);
      float pg[8] = {0}, pgx[8] = {0};
      int j = 0;
      for (; j + 8 <= d; j += 8)
        for (int k = 0; k < 8; k++) {
          const float gg = gr[j + k] * wd[j + k];
          pg[k] += gg;
          pgx[k] += gg * ((xr[j + k] - m) * s);
        }
      float gs = ((pg[0] + pg[1]) + (pg[2] + pg[3])) + ((pg[4] + pg[5]) + (pg[6] + pg[7]));
      float gxs = ((pgx[0] + pgx[1]) + (pgx[2] + pgx[3])) + ((pgx[4] + pgx[5]) + (pgx[6] + pgx[7]));
      for (; j < d; j++) {
        const float gg = gr[j] * wd[j];
        gs += gg;
        gxs += gg * ((xr[j] - m) * s);
      }
      const float gm = gs / (float)d, gxm = gxs / (float)d;
      for (j = 0; j < d; j++) {
        const float want = 0.0f + s * (gr[j] * wd[j] - gm - (xr[j] - m) * s * gxm);
        cr_assert_eq(dx[(int64_t)r * d + j], want, "d %d dx[%d][%d]", d, r, j);
        dw_ref[j] += gr[j] * ((xr[j] - m) * s);
        db_ref[j] += gr[j];
      }
    }
    for (int j = 0; j < d; j++) {
      cr_assert_eq(dw[j], dw_ref[j], "d %d dweight[%d]", d, j);
      cr_assert_eq(db[j], db_ref[j], "d %d dbias[%d]", d, j);
    }
    free(out), free(mean), free(rstd), free(dx), free(dw), free(db), free(dw_ref), free(db_ref);
    sp_tensor_free(x), sp_tensor_free(dy), sp_tensor_free(w), sp_tensor_free(b);
  }
}
