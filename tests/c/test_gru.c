/* test_gru.c — sp_gru: a two-step case worked out by hand, a naive double-precision reference
 * (with and without mask), the mask's carry-over semantics, finite-difference gradients of
 * all five float inputs, and error paths. */
#include "harness.h"

static double sigm(double v) {
  return 1.0 / (1.0 + exp(-v));
}

/* Reference GRU, PyTorch gate order (r, z, n), h0 = 0; out (B, L, H). */
static void ref_gru(double *out, const float *x, const float *w_ih, const float *w_hh,
                    const float *b_ih, const float *b_hh, const int32_t *mask, int B, int L,
                    int Din, int H) {
  for (int b = 0; b < B; b++) {
    double h[16] = {0}, hn[16];
    for (int t = 0; t < L; t++) {
      const float *xt = x + (b * L + t) * Din;
      if (!mask || mask[b * L + t]) {
        for (int j = 0; j < H; j++) {
          double a[3], c[3]; /* x-side and h-side pre-activations of r, z, n */
          for (int g = 0; g < 3; g++) {
            a[g] = b_ih[g * H + j];
            c[g] = b_hh[g * H + j];
            for (int i = 0; i < Din; i++) a[g] += (double)w_ih[(g * H + j) * Din + i] * xt[i];
            for (int i = 0; i < H; i++) c[g] += (double)w_hh[(g * H + j) * H + i] * h[i];
          }
          double r = sigm(a[0] + c[0]), z = sigm(a[1] + c[1]), n = tanh(a[2] + r * c[2]);
          hn[j] = (1 - z) * n + z * h[j];
        }
        for (int j = 0; j < H; j++) h[j] = hn[j];
      }
      for (int j = 0; j < H; j++) out[(b * L + t) * H + j] = h[j];
    }
  }
}

/* in = {x, w_ih, w_hh, b_ih, b_hh, mask or NULL} */
static int build_gru(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_gru(ctx, out, in[0], in[1], in[2], in[3], in[4], in[5]);
}

/* H = 1, Din = 1, x = (1, -2). w_ih = (0.5, -0.4, 0.3), w_hh = (0.2, 0.6, -0.7),
 * b_ih = (0.1, -0.2, 0.05), b_hh = (-0.3, 0.1, 0.4) in gate order (r, z, n).
 * t = 0 (h = 0): r = s(0.5 + 0.1 - 0.3) = s(0.3) = 0.574442517
 *                z = s(-0.4 - 0.2 + 0.1) = s(-0.5) = 0.377540669
 *                n = tanh(0.3 + 0.05 + r * 0.4) = tanh(0.579777007) = 0.522503335
 *                h = (1 - z) n = 0.325237076
 * t = 1 (x = -2): r = s(-1.0 + 0.1 + 0.2 h - 0.3) = s(-1.134952585) = 0.243248277
 *                z = s(0.8 - 0.2 + 0.6 h + 0.1) = s(0.895142246) = 0.709950211
 *                hn = -0.7 h + 0.4 = 0.172334047
 *                n = tanh(-0.6 + 0.05 + r hn) = tanh(-0.508080040) = -0.468447910
 *                h = (1 - z) n + z h = 0.095028913 */
Test(gru, two_steps_by_hand) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_from(3, SHAPE(1, 2, 1), (float[]){1.0f, -2.0f});
  sp_tensor *w_ih = t_from(2, SHAPE(3, 1), (float[]){0.5f, -0.4f, 0.3f});
  sp_tensor *w_hh = t_from(2, SHAPE(3, 1), (float[]){0.2f, 0.6f, -0.7f});
  sp_tensor *b_ih = t_from(1, SHAPE(3), (float[]){0.1f, -0.2f, 0.05f});
  sp_tensor *b_hh = t_from(1, SHAPE(3), (float[]){-0.3f, 0.1f, 0.4f});
  sp_tensor *o;
  cr_assert_eq(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, NULL), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_ndim(o), 3);
  cr_expect_eq(sp_tensor_dim(o, 2), 1);
  expect_values("h", o, (float[]){0.325237076f, 0.095028913f}, 2, 1e-6f);
  /* masking step 0 keeps h = 0 there; step 1 then starts from h0 = 0 */
  sp_tensor *mask = t_from_i32(2, SHAPE(1, 2), (int32_t[]){0, 1});
  cr_assert_eq(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, mask), SP_OK, "%s", sp_last_error());
  double ref;
  ref_gru(&ref, (float[]){-2.0f}, sp_tensor_f32(w_ih), sp_tensor_f32(w_hh), sp_tensor_f32(b_ih),
          sp_tensor_f32(b_hh), NULL, 1, 1, 1, 1); /* x = -2 alone */
  expect_values("masked step 0", o, (float[]){0.0f, (float)ref}, 2, 1e-6f);
  t_free_all((sp_tensor *[]){x, w_ih, w_hh, b_ih, b_hh, mask}, 6);
  sp_ctx_free(ctx);
}

static const int32_t mask_2x5[10] = {0, 0, 1, 1, 0, 1, 0, 1, 0, 1};

Test(gru, matches_reference) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const int B = 2, L = 5, Din = 3, H = 4;
  sp_tensor *x = t_randn(1, 3, SHAPE(2, 5, 3), 1.0f), *w_ih = t_randn(2, 2, SHAPE(12, 3), 0.5f);
  sp_tensor *w_hh = t_randn(3, 2, SHAPE(12, 4), 0.5f), *b_ih = t_randn(4, 1, SHAPE(12), 0.5f);
  sp_tensor *b_hh = t_randn(5, 1, SHAPE(12), 0.5f);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 5), mask_2x5);
  for (int m = 0; m < 2; m++) {
    sp_tensor *o;
    cr_assert_eq(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, m ? mask : NULL), SP_OK, "%s",
                 sp_last_error());
    double ref[40];
    float expect[40];
    ref_gru(ref, sp_tensor_f32(x), sp_tensor_f32(w_ih), sp_tensor_f32(w_hh), sp_tensor_f32(b_ih),
            sp_tensor_f32(b_hh), m ? mask_2x5 : NULL, B, L, Din, H);
    for (int i = 0; i < 40; i++) expect[i] = (float)ref[i];
    expect_values(m ? "gru with mask" : "gru", o, expect, 40, 2e-6f);
  }
  t_free_all((sp_tensor *[]){x, w_ih, w_hh, b_ih, b_hh, mask}, 6);
  sp_ctx_free(ctx);
}

/* A masked step repeats h_{t-1} exactly (0 before the first valid step), and the valid steps
 * give the same states as running the GRU on the valid steps alone. */
Test(gru, mask_carries_state_over) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  const int L = 5, Din = 3, H = 4;
  sp_tensor *x = t_randn(1, 3, SHAPE(2, 5, 3), 1.0f), *w_ih = t_randn(2, 2, SHAPE(12, 3), 0.5f);
  sp_tensor *w_hh = t_randn(3, 2, SHAPE(12, 4), 0.5f), *b_ih = t_randn(4, 1, SHAPE(12), 0.5f);
  sp_tensor *b_hh = t_randn(5, 1, SHAPE(12), 0.5f);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 5), mask_2x5), *o, *oc;
  cr_assert_eq(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, mask), SP_OK, "%s", sp_last_error());
  const float *od = sp_tensor_f32(o), *xd = sp_tensor_f32(x);
  for (int b = 0; b < 2; b++) {
    float xc[15];
    int n = 0;
    for (int t = 0; t < L; t++) {
      const float *ht = od + (b * L + t) * H;
      if (mask_2x5[b * L + t]) {
        memcpy(xc + n * Din, xd + (b * L + t) * Din, Din * sizeof(float));
        n++;
        continue;
      }
      for (int j = 0; j < H; j++)
        cr_expect_eq(ht[j], t ? ht[j - H] : 0.0f, "b=%d t=%d j=%d not carried over", b, t, j);
    }
    sp_tensor *xs = t_from(3, (const int[]){1, n, Din}, xc);
    cr_assert_eq(sp_gru(ctx, &oc, xs, w_ih, w_hh, b_ih, b_hh, NULL), SP_OK, "%s", sp_last_error());
    for (int t = 0, k = 0; t < L; t++)
      if (mask_2x5[b * L + t]) {
        for (int j = 0; j < H; j++)
          cr_expect(fabsf(od[(b * L + t) * H + j] - sp_tensor_f32(oc)[k * H + j]) <= 1e-6f,
                    "b=%d t=%d j=%d: masked run %g vs compacted run %g", b, t, j,
                    od[(b * L + t) * H + j], sp_tensor_f32(oc)[k * H + j]);
        k++;
      }
    sp_tensor_free(xs);
  }
  t_free_all((sp_tensor *[]){x, w_ih, w_hh, b_ih, b_hh, mask}, 6);
  sp_ctx_free(ctx);
}

/* A masked step passes no gradient through its gates: x there gets exactly zero. */
Test(gru, masked_steps_get_no_gradient) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *in[5] = {t_randn(1, 3, SHAPE(2, 5, 3), 1.0f), t_randn(2, 2, SHAPE(12, 3), 0.5f),
                      t_randn(3, 2, SHAPE(12, 4), 0.5f), t_randn(4, 1, SHAPE(12), 0.5f),
                      t_randn(5, 1, SHAPE(12), 0.5f)};
  t_require_grad(in, 5);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 5), mask_2x5), *o, *loss;
  cr_assert_eq(sp_gru(ctx, &o, in[0], in[1], in[2], in[3], in[4], mask), SP_OK, "%s",
               sp_last_error());
  cr_assert_eq(sp_sum(ctx, &loss, o), SP_OK);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  const float *dx = sp_tensor_f32(sp_tensor_grad(in[0]));
  for (int row = 0; row < 10; row++)
    for (int i = 0; i < 3; i++) {
      if (mask_2x5[row])
        cr_expect_neq(dx[row * 3 + i], 0.0f, "valid row %d gets a gradient", row);
      else
        cr_expect_eq(dx[row * 3 + i], 0.0f, "masked row %d: dx = %g", row, dx[row * 3 + i]);
    }
  t_free_all(in, 5);
  sp_tensor_free(mask);
  sp_ctx_free(ctx);
}

Test(gru, gradcheck_with_and_without_mask) {
  for (int m = 0; m < 2; m++) {
    sp_tensor *in[6] = {
        t_randn(31, 3, SHAPE(2, 5, 3), 1.0f), t_randn(32, 2, SHAPE(12, 3), 0.5f),
        t_randn(33, 2, SHAPE(12, 4), 0.5f),   t_randn(34, 1, SHAPE(12), 0.5f),
        t_randn(35, 1, SHAPE(12), 0.5f),      m ? t_from_i32(2, SHAPE(2, 5), mask_2x5) : NULL};
    t_require_grad(in, 5);
    gradcheck(m ? "gru with mask" : "gru", build_gru, in, 6, NULL, (gradcheck_opts){0});
    t_free_all(in, 6);
  }
}

/* Only some inputs need gradients: the others are left alone, the rest still match. */
Test(gru, gradcheck_subset_of_inputs) {
  sp_tensor *in[6] = {t_randn(41, 3, SHAPE(3, 4, 2), 1.0f), t_randn(42, 2, SHAPE(9, 2), 0.5f),
                      t_randn(43, 2, SHAPE(9, 3), 0.5f),    t_randn(44, 1, SHAPE(9), 0.5f),
                      t_randn(45, 1, SHAPE(9), 0.5f),       NULL};
  sp_tensor *want[2] = {in[2], in[4]}; /* w_hh, b_hh */
  t_require_grad(want, 2);
  gradcheck("gru w_hh, b_hh only", build_gru, in, 6, NULL, (gradcheck_opts){0});
  cr_expect_null(sp_tensor_grad(in[0]));
  cr_expect_null(sp_tensor_grad(in[1]));
  t_free_all(in, 6);
}

Test(gru, errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 3, SHAPE(2, 5, 3), 1), *w_ih = t_randn(2, 2, SHAPE(12, 3), 1);
  sp_tensor *w_hh = t_randn(3, 2, SHAPE(12, 4), 1), *b_ih = t_randn(4, 1, SHAPE(12), 1);
  sp_tensor *b_hh = t_randn(5, 1, SHAPE(12), 1), *x2 = t_randn(6, 2, SHAPE(5, 3), 1);
  sp_tensor *w_bad = t_randn(7, 2, SHAPE(10, 3), 1), *w_hh_bad = t_randn(8, 2, SHAPE(12, 3), 1);
  sp_tensor *b_bad = t_randn(9, 1, SHAPE(9), 1), *w_din = t_randn(10, 2, SHAPE(12, 2), 1);
  sp_tensor *mask = t_from_i32(2, SHAPE(2, 5), mask_2x5);
  sp_tensor *mask_bad = t_from_i32(2, SHAPE(5, 2), mask_2x5),
            *mask_f = t_randn(11, 2, SHAPE(2, 5), 1);
  sp_tensor *xi = t_from_i32(3, SHAPE(1, 1, 1), (int32_t[]){3});
  sp_tensor *o = (sp_tensor *)(uintptr_t)1;
  expect_error(sp_gru(NULL, &o, x, w_ih, w_hh, b_ih, b_hh, NULL), SP_EINVAL, "NULL context");
  expect_error(sp_gru(ctx, &o, NULL, w_ih, w_hh, b_ih, b_hh, NULL), SP_EINVAL, "sp_gru: x is NULL");
  cr_expect_null(o, "output is cleared on failure");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, NULL, b_hh, NULL), SP_EINVAL, "b_ih is NULL");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, NULL, NULL), SP_EINVAL, "b_hh is NULL");
  expect_error(sp_gru(ctx, &o, xi, w_ih, w_hh, b_ih, b_hh, NULL), SP_EDTYPE, "x must be float32");
  expect_error(sp_gru(ctx, &o, x2, w_ih, w_hh, b_ih, b_hh, NULL), SP_ESHAPE, "(B, L, Din)");
  expect_error(sp_gru(ctx, &o, x, w_bad, w_hh, b_ih, b_hh, NULL), SP_ESHAPE,
               "w_ih (10, 3) must be (3H, 3)");
  expect_error(sp_gru(ctx, &o, x, w_din, w_hh, b_ih, b_hh, NULL), SP_ESHAPE, "w_ih (12, 2)");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh_bad, b_ih, b_hh, NULL), SP_ESHAPE,
               "w_hh (12, 3) must be (12, 4)");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, b_bad, b_hh, NULL), SP_ESHAPE,
               "b_ih (9) must be (12)");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_bad, NULL), SP_ESHAPE,
               "b_hh (9) must be (12)");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, mask_bad), SP_ESHAPE,
               "mask (5, 2) must be (2, 5)");
  expect_error(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, mask_f), SP_EDTYPE, "mask must be int32");
  cr_expect_eq(sp_gru(ctx, &o, x, w_ih, w_hh, b_ih, b_hh, mask), SP_OK, "%s", sp_last_error());
  t_free_all((sp_tensor *[]){x, w_ih, w_hh, b_ih, b_hh, x2, w_bad, w_hh_bad, b_bad, w_din, mask,
                             mask_bad, mask_f, xi},
             14);
  sp_ctx_free(ctx);
}
