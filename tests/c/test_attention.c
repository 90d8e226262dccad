/* test_attention.c — sp_attention against a naive double-precision reference (heads, causal,
 * key mask), that masked and future keys do not leak, fully masked rows, finite-difference
 * gradients, thread-count independence, and error paths. */
#include "harness.h"

/* Reference: loops in double. q, k, v (B, L, D); mask (B, L) or NULL; out (B, L, D). */
static void ref_attention(double *out, const float *q, const float *k, const float *v,
                          const int32_t *mask, int B, int L, int D, int heads, int causal) {
  int dh = D / heads;
  double scale = 1.0 / sqrt((double)dh);
  double s[64];
  for (int b = 0; b < B; b++)
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < L; i++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < L; j++) {
          int vis = (!mask || mask[b * L + j]) && (!causal || j <= i);
          s[j] = -INFINITY;
          if (!vis) continue;
          double acc = 0;
          for (int c = 0; c < dh; c++)
            acc += (double)q[(b * L + i) * D + h * dh + c] * k[(b * L + j) * D + h * dh + c];
          s[j] = acc * scale;
          if (s[j] > mx) mx = s[j];
        }
        for (int j = 0; j < L; j++) {
          s[j] = s[j] == -INFINITY ? 0 : exp(s[j] - mx);
          sum += s[j];
        }
        for (int c = 0; c < dh; c++) {
          double acc = 0;
          for (int j = 0; j < L; j++) acc += s[j] * v[(b * L + j) * D + h * dh + c];
          out[(b * L + i) * D + h * dh + c] = sum > 0 ? acc / sum : 0.0;
        }
      }
}

typedef struct {
  int heads, causal;
} attn_arg;

/* in = {q, k, v, key_mask or NULL} */
static int build_attention(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const attn_arg *a = arg;
  return sp_attention(ctx, out, in[0], in[1], in[2], a->heads, a->causal, in[3]);
}

/* Self-attention on one tensor: in = {x, key_mask or NULL} */
static int build_self_attention(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const attn_arg *a = arg;
  return sp_attention(ctx, out, in[0], in[0], in[0], a->heads, a->causal, in[1]);
}

/* Batch 0 sees keys 0..2 of 4, batch 1 sees keys 1 and 3 (so its query 0 is empty when causal). */
static const int32_t mask_2x4[8] = {1, 1, 1, 0, 0, 1, 0, 1};

Test(attention, matches_reference) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const int B = 2, L = 4, D = 4;
  sp_tensor *q = t_randn(1, 3, SHAPE(2, 4, 4), 1.0f), *k = t_randn(2, 3, SHAPE(2, 4, 4), 1.0f);
  sp_tensor *v = t_randn(3, 3, SHAPE(2, 4, 4), 1.0f);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 4), mask_2x4);
  int heads_list[3] = {1, 2, 4};
  for (int hi = 0; hi < 3; hi++)
    for (int causal = 0; causal < 2; causal++)
      for (int m = 0; m < 2; m++) {
        sp_tensor *o;
        cr_assert_eq(sp_attention(ctx, &o, q, k, v, heads_list[hi], causal, m ? mask : NULL), SP_OK,
                     "%s", sp_last_error());
        double ref[32];
        ref_attention(ref, sp_tensor_f32(q), sp_tensor_f32(k), sp_tensor_f32(v),
                      m ? mask_2x4 : NULL, B, L, D, heads_list[hi], causal);
        float expect[32];
        for (int i = 0; i < 32; i++) expect[i] = (float)ref[i];
        char what[64];
        snprintf(what, sizeof what, "heads=%d causal=%d mask=%d", heads_list[hi], causal, m);
        expect_values(what, o, expect, 32, 2e-6f);
      }
  t_free_all((sp_tensor *[]){q, k, v, mask}, 4);
  sp_ctx_free(ctx);
}

/* q = 0 makes every visible score equal, so each output row is the mean of the visible v rows:
 * numbers that can be written down by hand. */
Test(attention, equal_scores_average_visible_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *q = t_from(3, SHAPE(1, 3, 2), (float[]){0, 0, 0, 0, 0, 0});
  sp_tensor *k = t_from(3, SHAPE(1, 3, 2), (float[]){1, 2, 3, 4, 5, 6});
  sp_tensor *v = t_from(3, SHAPE(1, 3, 2), (float[]){1, 10, 2, 20, 6, 60});
  sp_tensor *mask = t_from_i32(2, SHAPE(1, 3), (int32_t[]){1, 0, 1});
  sp_tensor *o;
  cr_assert_eq(sp_attention(ctx, &o, q, k, v, 1, 0, NULL), SP_OK, "%s", sp_last_error());
  expect_values("bidirectional", o, (float[]){3, 30, 3, 30, 3, 30}, 6, 1e-5f);
  cr_assert_eq(sp_attention(ctx, &o, q, k, v, 1, 1, NULL), SP_OK);
  expect_values("causal", o, (float[]){1, 10, 1.5f, 15, 3, 30}, 6, 1e-5f);
  cr_assert_eq(sp_attention(ctx, &o, q, k, v, 1, 1, mask), SP_OK);
  expect_values("causal + mask", o, (float[]){1, 10, 1, 10, 3.5f, 35}, 6, 1e-5f);
  cr_assert_eq(sp_attention(ctx, &o, q, k, v, 2, 0, mask), SP_OK); /* heads are independent */
  expect_values("2 heads + mask", o, (float[]){3.5f, 35, 3.5f, 35, 3.5f, 35}, 6, 1e-5f);
  t_free_all((sp_tensor *[]){q, k, v, mask}, 4);
  sp_ctx_free(ctx);
}

Test(attention, masked_and_future_values_do_not_leak) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *q = t_randn(1, 3, SHAPE(2, 4, 4), 1.0f), *k = t_randn(2, 3, SHAPE(2, 4, 4), 1.0f);
  sp_tensor *v = t_randn(3, 3, SHAPE(2, 4, 4), 1.0f);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 4), mask_2x4);
  sp_tensor *o1, *o2;
  float before[32];

  /* key 3 of batch 0 is masked: its v (and k) must not matter anywhere */
  cr_assert_eq(sp_attention(ctx, &o1, q, k, v, 2, 0, mask), SP_OK, "%s", sp_last_error());
  memcpy(before, sp_tensor_f32(o1), sizeof before);
  for (int c = 0; c < 4; c++) {
    sp_tensor_f32(v)[12 + c] += 100.0f;
    sp_tensor_f32(k)[12 + c] -= 50.0f;
  }
  cr_assert_eq(sp_attention(ctx, &o2, q, k, v, 2, 0, mask), SP_OK);
  expect_values("masked key changed", o2, before, 32, 0);

  /* causal: changing position 2 leaves queries 0 and 1 alone, and changes query 2 */
  cr_assert_eq(sp_attention(ctx, &o1, q, k, v, 2, 1, NULL), SP_OK);
  memcpy(before, sp_tensor_f32(o1), sizeof before);
  for (int c = 0; c < 4; c++) {
    sp_tensor_f32(v)[8 + c] += 3.0f;
    sp_tensor_f32(k)[8 + c] += 1.0f;
  }
  cr_assert_eq(sp_attention(ctx, &o2, q, k, v, 2, 1, NULL), SP_OK);
  for (int i = 0; i < 8; i++)
    cr_expect_eq(sp_tensor_f32(o2)[i], before[i], "query %d changed with a future key", i / 4);
  int changed = 0;
  for (int c = 0; c < 4; c++) changed += sp_tensor_f32(o2)[8 + c] != before[8 + c];
  cr_expect_eq(changed, 4, "query 2 should see its own key");
  t_free_all((sp_tensor *[]){q, k, v, mask}, 4);
  sp_ctx_free(ctx);
}

Test(attention, fully_masked_rows_are_zero_with_finite_gradients) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *in[3] = {t_randn(1, 3, SHAPE(2, 4, 4), 1.0f), t_randn(2, 3, SHAPE(2, 4, 4), 1.0f),
                      t_randn(3, 3, SHAPE(2, 4, 4), 1.0f)};
  t_require_grad(in, 3);
  /* batch 0: key 0 masked, so causal query 0 sees nothing; batch 1: every key masked */
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 4), (int32_t[]){0, 1, 1, 1, 0, 0, 0, 0});
  sp_tensor *o, *loss;
  cr_assert_eq(sp_attention(ctx, &o, in[0], in[1], in[2], 2, 1, mask), SP_OK, "%s",
               sp_last_error());
  const float *od = sp_tensor_f32(o);
  for (int c = 0; c < 4; c++) cr_expect_eq(od[c], 0.0f, "batch 0 query 0 [%d] = %g", c, od[c]);
  for (int i = 16; i < 32; i++) cr_expect_eq(od[i], 0.0f, "batch 1 [%d] = %g", i, od[i]);
  for (int i = 4; i < 16; i++) cr_expect(isfinite(od[i]));
  cr_assert_eq(sp_sum(ctx, &loss, o), SP_OK);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  for (int t = 0; t < 3; t++) {
    const float *g = sp_tensor_f32(sp_tensor_grad(in[t]));
    for (int i = 0; i < 32; i++) cr_expect(isfinite(g[i]), "grad %d[%d] = %g", t, i, g[i]);
    for (int i = 16; i < 32; i++) cr_expect_eq(g[i], 0.0f, "grad %d[%d] of a dead batch", t, i);
  }
  const float *gq = sp_tensor_f32(sp_tensor_grad(in[0]));
  for (int c = 0; c < 4; c++) cr_expect_eq(gq[c], 0.0f, "empty query gets no gradient");
  t_free_all(in, 3);
  sp_tensor_free(mask);
  sp_ctx_free(ctx);
}

Test(attention, gradcheck_causal_and_mask) {
  for (int heads = 1; heads <= 2; heads++)
    for (int causal = 0; causal < 2; causal++)
      for (int m = 0; m < 2; m++) {
        sp_tensor *in[4] = {
            t_randn(11, 3, SHAPE(2, 4, 4), 1.0f), t_randn(12, 3, SHAPE(2, 4, 4), 1.0f),
            t_randn(13, 3, SHAPE(2, 4, 4), 1.0f), m ? t_from_i32(2, SHAPE(2, 4), mask_2x4) : NULL};
        t_require_grad(in, 3);
        attn_arg arg = {heads, causal};
        char name[64];
        snprintf(name, sizeof name, "attention heads=%d causal=%d mask=%d", heads, causal, m);
        gradcheck(name, build_attention, in, 4, &arg, (gradcheck_opts){0});
        t_free_all(in, 4);
      }
}

/* q = k = v: the three gradients land in one buffer. */
Test(attention, gradcheck_self_attention_shared_input) {
  for (int causal = 0; causal < 2; causal++) {
    sp_tensor *in[2] = {t_randn(21, 3, SHAPE(2, 4, 4), 1.0f), t_from_i32(2, SHAPE(2, 4), mask_2x4)};
    t_require_grad(in, 1);
    attn_arg arg = {2, causal};
    gradcheck("self-attention q=k=v", build_self_attention, in, 2, &arg, (gradcheck_opts){0});
    t_free_all(in, 2);
  }
}

/* Large enough to run in parallel: 1 and 2 threads must give identical bits. */
Test(attention, results_do_not_depend_on_thread_count) {
  const int shape[3] = {64, 20, 16};
  const int64_t n = 64 * 20 * 16;
  float *res[2][4];
  int32_t mvals[64 * 20];
  for (int i = 0; i < 64 * 20; i++) mvals[i] = (i * 7) % 5 != 0;
  int saved_threads = sp_get_num_threads();
  for (int run = 0; run < 2; run++) {
    sp_set_num_threads(run + 1);
    sp_ctx *ctx;
    sp_ctx_new(&ctx, 1);
    sp_tensor *in[3] = {t_randn(1, 3, shape, 1.0f), t_randn(2, 3, shape, 1.0f),
                        t_randn(3, 3, shape, 1.0f)};
    sp_tensor *mask = t_from_i32(2, SHAPE(64, 20), mvals);
    t_require_grad(in, 3);
    sp_tensor *o, *sq, *loss;
    cr_assert_eq(sp_attention(ctx, &o, in[0], in[1], in[2], 2, 1, mask), SP_OK, "%s",
                 sp_last_error());
    cr_assert_eq(sp_mul(ctx, &sq, o, o), SP_OK);
    cr_assert_eq(sp_sum(ctx, &loss, sq), SP_OK);
    cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
    res[run][0] = malloc((size_t)n * sizeof(float));
    memcpy(res[run][0], sp_tensor_f32(o), (size_t)n * sizeof(float));
    for (int t = 0; t < 3; t++) {
      res[run][t + 1] = malloc((size_t)n * sizeof(float));
      memcpy(res[run][t + 1], sp_tensor_f32(sp_tensor_grad(in[t])), (size_t)n * sizeof(float));
    }
    t_free_all(in, 3);
    sp_tensor_free(mask);
    sp_ctx_free(ctx);
  }
  sp_set_num_threads(saved_threads);
  const char *names[4] = {"out", "dq", "dk", "dv"};
  for (int t = 0; t < 4; t++) {
    cr_expect(memcmp(res[0][t], res[1][t], (size_t)n * sizeof(float)) == 0,
              "%s differs between 1 and 2 threads", names[t]);
    free(res[0][t]);
    free(res[1][t]);
  }
}

Test(attention, errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *q = t_randn(1, 3, SHAPE(2, 4, 6), 1), *k = t_randn(2, 3, SHAPE(2, 4, 6), 1);
  sp_tensor *v = t_randn(3, 3, SHAPE(2, 4, 6), 1), *k2 = t_randn(4, 3, SHAPE(2, 3, 6), 1);
  sp_tensor *flat = t_randn(5, 2, SHAPE(8, 6), 1), *empty = t_randn(5, 3, SHAPE(2, 4, 0), 1);
  sp_tensor *qi = t_from_i32(3, SHAPE(1, 1, 2), (int32_t[]){0, 1});
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 4), mask_2x4);
  sp_tensor *mask_bad = t_from_i32(2, SHAPE(4, 2), mask_2x4);
  sp_tensor *mask_f = t_randn(6, 2, SHAPE(2, 4), 1);
  sp_tensor *o = (sp_tensor *)(uintptr_t)1;
  expect_error(sp_attention(NULL, &o, q, k, v, 2, 0, NULL), SP_EINVAL, "NULL context");
  expect_error(sp_attention(ctx, NULL, q, k, v, 2, 0, NULL), SP_EINVAL, "sp_attention");
  expect_error(sp_attention(ctx, &o, NULL, k, v, 2, 0, NULL), SP_EINVAL, "sp_attention: q is NULL");
  cr_expect_null(o, "output is cleared on failure");
  expect_error(sp_attention(ctx, &o, q, k, NULL, 2, 0, NULL), SP_EINVAL, "v is NULL");
  expect_error(sp_attention(ctx, &o, qi, k, v, 2, 0, NULL), SP_EDTYPE, "float32");
  expect_error(sp_attention(ctx, &o, flat, flat, flat, 2, 0, NULL), SP_ESHAPE, "(B, L, D)");
  expect_error(sp_attention(ctx, &o, q, k2, v, 2, 0, NULL), SP_ESHAPE, "same shape");
  expect_error(sp_attention(ctx, &o, q, k, k2, 2, 0, NULL), SP_ESHAPE, "same shape");
  expect_error(sp_attention(ctx, &o, q, k, v, 4, 0, NULL), SP_ESHAPE, "not divisible by heads = 4");
  expect_error(sp_attention(ctx, &o, q, k, v, 0, 0, NULL), SP_EINVAL, "heads must be positive");
  expect_error(sp_attention(ctx, &o, empty, empty, empty, 1, 0, NULL), SP_ESHAPE,
               "D must be positive");
  expect_error(sp_attention(ctx, &o, q, k, v, 2, 0, mask_bad), SP_ESHAPE,
               "key_mask (4, 2) must be (2, 4)");
  expect_error(sp_attention(ctx, &o, q, k, v, 2, 0, mask_f), SP_EDTYPE, "key_mask must be int32");
  cr_expect_eq(sp_attention(ctx, &o, q, k, v, 3, 1, mask), SP_OK, "%s", sp_last_error());
  t_free_all((sp_tensor *[]){q, k, v, k2, flat, empty, qi, mask, mask_bad, mask_f}, 10);
  sp_ctx_free(ctx);
}
