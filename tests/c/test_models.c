/* test_models.c — the backbones: finite-difference gradients of h_S through each whole model
 * (tiny sizes, dropout on) and of BERT4Rec's output head, evaluation's last-positions encode
 * against the full one, the head's known values, the BERT4Rec
 * cloze masking (the original's recipe) and [MASK] appending, and bad input. */
#include "harness.h"

typedef struct {
  sp_backbone *m;
  sp_tensor *seq, *last;
} bb_arg;

static int build_backbone(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const bb_arg *a = arg;
  return sp_backbone_encode(ctx, out, NULL, a->m, a->seq, a->last);
}

/* A backbone of 6 items, max_len 4, d = 4, one layer of two heads, in p. */
static sp_backbone *small_backbone(sp_params *p, sp_rng *rng, int kind, const char *name, float dropout) {
  sp_backbone_config c;
  sp_backbone_config_default(&c, kind, 6);
  c.max_len = 4, c.dim = 4, c.layers = 1, c.heads = 2, c.ffn_hidden = 8, c.dropout = dropout;
  sp_backbone *m;
  cr_assert_eq(sp_backbone_new(&m, p, name, &c, rng), SP_OK, "%s", sp_last_error());
  return m;
}

static void check_backbone(int kind, const char *name) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 5);
  bb_arg a;
  a.m = small_backbone(p, &rng, kind, name, 0.1f);
  /* right-aligned sequences with padding; row 1 ends in the [MASK] token for BERT4Rec */
  a.seq = t_from_i32(2, SHAPE(2, 4), (int32_t[]){0, 1, 2, 3, 4, 5, 6, kind == SP_BERT4REC ? 7 : 2});
  a.last = t_from_i32(1, SHAPE(2), (int32_t[]){3, 3});
  sp_tensor *in[3] = {sp_backbone_item_table(a.m), NULL, NULL};
  sp_tensor *t;
  if (kind == SP_GRU4REC) {
    sp_params_find(p, "m.gru0.w_hh", &t);
  } else {
    sp_params_find(p, "m.block0.attn.q.weight", &t);
    sp_params_find(p, "m.pos.weight", &in[2]);
  }
  in[1] = t;
  /* The N(0, 0.02) initialisation puts every activation so close to zero that the layer norms'
   * 1/std dominates and a finite-difference step is larger than the signal; check the
   * gradients at a well-scaled point instead. */
  sp_tensor_fill_normal(in[0], &rng, 0.0f, 0.5f);
  if (in[2]) sp_tensor_fill_normal(in[2], &rng, 0.0f, 0.5f);
  gradcheck(name, build_backbone, in, in[2] ? 3 : 2, &a, (gradcheck_opts){.eps = 3e-3f, .atol = 2e-3f, .rtol = 3e-2f});
  sp_tensor_free(a.seq), sp_tensor_free(a.last);
  sp_backbone_free(a.m);
  sp_params_free(p);
}

/* ---- encoding from given item vectors (SPRINT+LE) ---- */

static int build_embedded(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const bb_arg *a = arg;
  return sp_backbone_encode_embedded(ctx, out, NULL, a->m, a->seq, in[0], a->last);
}

/* encode_embedded with e = item_table[seq] is encode, bit for bit; its gradient reaches e. */
static void check_embedded(int kind) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 7);
  bb_arg a;
  a.m = small_backbone(p, &rng, kind, "m", 0.0f);
  sp_tensor_fill_normal(sp_backbone_item_table(a.m), &rng, 0.0f, 0.5f);
  a.seq = t_from_i32(2, SHAPE(2, 4), (int32_t[]){0, 1, 2, 3, 4, 5, 6, 2});
  a.last = t_from_i32(1, SHAPE(2), (int32_t[]){3, 3});
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *e, *h1, *h2, *bad;
  cr_assert_eq(sp_embedding(ctx, &e, sp_backbone_item_table(a.m), a.seq, 0), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backbone_encode(ctx, &h1, NULL, a.m, a.seq, a.last), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backbone_encode_embedded(ctx, &h2, NULL, a.m, a.seq, e, a.last), SP_OK, "%s", sp_last_error());
  for (int64_t i = 0; i < sp_tensor_numel(h1); i++)
    cr_assert_eq(sp_tensor_f32(h1)[i], sp_tensor_f32(h2)[i], "h[%lld]", (long long)i);
  cr_assert_eq(sp_ctx_tensor(ctx, &bad, SP_F32, 3, SHAPE(2, 4, 3)), SP_OK);
  expect_error(sp_backbone_encode_embedded(ctx, &h2, NULL, a.m, a.seq, bad, a.last), SP_ESHAPE, "(2, 4, 4)");
  sp_ctx_free(ctx);
  /* (a point away from the feed-forward ReLU kinks: seed 11 puts one within the FD step) */
  sp_tensor *in[1] = {t_randn(14, 3, SHAPE(2, 4, 4), 0.5f)};
  t_require_grad(in, 1);
  gradcheck("encode_embedded", build_embedded, in, 1, &a, (gradcheck_opts){.eps = 3e-3f, .atol = 2e-3f, .rtol = 3e-2f});
  sp_tensor_free(in[0]);
  sp_tensor_free(a.seq), sp_tensor_free(a.last);
  sp_backbone_free(a.m);
  sp_params_free(p);
}

/* ---- evaluation's encode at the last positions (sp_backbone_encode_last) ---- */

/* With grad off and not training, h_S from the last block at the last positions only equals
 * the full encode's h_S (to float rounding: its GEMMs see other row counts); two layers, so
 * a full block runs before the shortened one, rows of different lengths and a causal query
 * that is not the last column; with grad on it is the full encode, bit for bit. */
static void check_encode_last(int kind) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 3);
  sp_backbone_config c;
  sp_backbone_config_default(&c, kind, 6);
  c.max_len = 5, c.dim = 8, c.layers = 2, c.heads = 2, c.ffn_hidden = 16;
  sp_backbone *m;
  cr_assert_eq(sp_backbone_new(&m, p, "m", &c, &rng), SP_OK, "%s", sp_last_error());
  sp_tensor_fill_normal(sp_backbone_item_table(m), &rng, 0.0f, 0.5f);
  sp_tensor *seq = t_from_i32(2, SHAPE(3, 5), (int32_t[]){0, 0, 1, 2, 3, 4, 5, 6, 1, 2, 0, 0, 0, 3, 5});
  sp_tensor *last = t_from_i32(1, SHAPE(3), (int32_t[]){4, 3, 4});
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *full, *fast;
  sp_ctx_set_training(ctx, 0);
  sp_ctx_set_grad_enabled(ctx, 0);
  cr_assert_eq(sp_backbone_encode(ctx, &full, NULL, m, seq, last), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backbone_encode_last(ctx, &fast, m, seq, last), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_tensor_numel(full), sp_tensor_numel(fast));
  for (int64_t i = 0; i < sp_tensor_numel(full); i++)
    cr_assert_float_eq(sp_tensor_f32(fast)[i], sp_tensor_f32(full)[i], 1e-5f, "h[%lld]", (long long)i);
  sp_ctx_set_grad_enabled(ctx, 1); /* the shortcut does not apply: the full encode */
  cr_assert_eq(sp_backbone_encode_last(ctx, &fast, m, seq, last), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_backbone_encode(ctx, &full, NULL, m, seq, last), SP_OK, "%s", sp_last_error());
  for (int64_t i = 0; i < sp_tensor_numel(full); i++)
    cr_assert_eq(sp_tensor_f32(fast)[i], sp_tensor_f32(full)[i], "h[%lld] with grad on", (long long)i);
  sp_ctx_free(ctx);
  sp_tensor_free(seq), sp_tensor_free(last);
  sp_backbone_free(m);
  sp_params_free(p);
}

Test(models, sasrec_encode_last_equals_the_full_encode) { check_encode_last(SP_SASREC); }
Test(models, bert4rec_encode_last_equals_the_full_encode) { check_encode_last(SP_BERT4REC); }
Test(models, gru4rec_encode_last_equals_the_full_encode) { check_encode_last(SP_GRU4REC); }

Test(models, sasrec_encodes_given_item_vectors) { check_embedded(SP_SASREC); }
Test(models, gru4rec_encodes_given_item_vectors) { check_embedded(SP_GRU4REC); }

Test(models, sasrec_gradcheck) { check_backbone(SP_SASREC, "m"); }
Test(models, bert4rec_gradcheck) { check_backbone(SP_BERT4REC, "m"); }
Test(models, gru4rec_gradcheck) { check_backbone(SP_GRU4REC, "m"); }

/* ---- BERT4Rec's output head ---- */

typedef struct {
  sp_backbone *m;
} head_arg;

static int build_logits(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_backbone_logits(ctx, out, ((const head_arg *)arg)->m, in[0]);
}

/* A tiny BERT4Rec (n_items items, d = dim) with or without the head. */
static sp_backbone *tiny_bert4rec(sp_params *p, int n_items, int dim, int head) {
  sp_rng rng;
  sp_rng_init(&rng, 9);
  sp_backbone_config c;
  sp_backbone_config_default(&c, SP_BERT4REC, n_items);
  cr_expect_eq(c.output_head, 1, "BERT4Rec has the head by default");
  c.max_len = 4, c.dim = dim, c.layers = 1, c.heads = 1, c.ffn_hidden = 4, c.output_head = head;
  sp_backbone *m;
  cr_assert_eq(sp_backbone_new(&m, p, "m", &c, &rng), SP_OK, "%s", sp_last_error());
  return m;
}

static sp_tensor *param(sp_params *p, const char *name) {
  sp_tensor *t = NULL;
  cr_assert_eq(sp_params_find(p, name, &t), SP_OK, "%s", sp_last_error());
  return t;
}

Test(models, bert4rec_head_gradcheck) {
  sp_params *p;
  sp_params_new(&p);
  head_arg a = {tiny_bert4rec(p, 6, 4, 1)};
  sp_rng rng;
  sp_rng_init(&rng, 4);
  sp_tensor *in[7] = {t_randn(3, 2, SHAPE(5, 4), 1.0f), param(p, "m.item.weight"),
                      param(p, "m.head.dense.weight"), param(p, "m.head.dense.bias"),
                      param(p, "m.head.ln.weight"), param(p, "m.head.ln.bias"), param(p, "m.head.bias")};
  t_require_grad(in, 1);
  /* well-scaled values, not the near-zero initialisation (see check_backbone) */
  for (int i = 1; i < 7; i++) sp_tensor_fill_normal(in[i], &rng, i == 4 ? 1.0f : 0.0f, 0.5f);
  gradcheck("bert4rec head", build_logits, in, 7, &a, (gradcheck_opts){.eps = 3e-3f, .atol = 2e-3f, .rtol = 3e-2f});
  sp_tensor_free(in[0]);
  sp_backbone_free(a.m);
  sp_params_free(p);
}

static double gelu_tanh(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

Test(models, bert4rec_head_known_values) {
  /* d = 3, 2 items: logits_j = LN(GELU(W h + b)) . E_j + bias_j, computed here in double */
  sp_params *p;
  sp_params_new(&p);
  sp_backbone *m = tiny_bert4rec(p, 2, 3, 1);
  const float W[9] = {0.5f, -1, 0.25f, 2, 0.1f, -0.3f, 0, 0.7f, 1.5f}, bd[3] = {0.1f, -0.2f, 0.3f};
  const float gam[3] = {1.5f, 0.5f, 1}, bet[3] = {0, 0.25f, -0.5f};
  const float E[12] = {0, 0, 0, 1, 2, -1, -0.5f, 0.25f, 3, 9, 9, 9}, ob[4] = {7, 0.5f, -1, 7};
  memcpy(sp_tensor_f32(param(p, "m.head.dense.weight")), W, sizeof W);
  memcpy(sp_tensor_f32(param(p, "m.head.dense.bias")), bd, sizeof bd);
  memcpy(sp_tensor_f32(param(p, "m.head.ln.weight")), gam, sizeof gam);
  memcpy(sp_tensor_f32(param(p, "m.head.ln.bias")), bet, sizeof bet);
  memcpy(sp_tensor_f32(sp_backbone_item_table(m)), E, sizeof E);
  memcpy(sp_tensor_f32(sp_backbone_output_bias(m)), ob, sizeof ob);
  const float hv[6] = {1, -2, 0.5f, 0.3f, 0.3f, -1};
  sp_tensor *h = t_from(2, SHAPE(2, 3), hv), *out;
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_backbone_logits(ctx, &out, m, h), SP_OK, "%s", sp_last_error());
  cr_assert(sp_tensor_dim(out, 0) == 2 && sp_tensor_dim(out, 1) == 2, "(N, n_items)");
  float want[4];
  for (int r = 0; r < 2; r++) {
    double g[3], mean = 0, var = 0;
    for (int i = 0; i < 3; i++) {
      double z = bd[i];
      for (int j = 0; j < 3; j++) z += (double)W[i * 3 + j] * hv[r * 3 + j];
      g[i] = gelu_tanh(z), mean += g[i] / 3;
    }
    for (int i = 0; i < 3; i++) var += (g[i] - mean) * (g[i] - mean) / 3;
    for (int item = 1; item <= 2; item++) {
      double acc = ob[item];
      for (int i = 0; i < 3; i++) acc += ((g[i] - mean) / sqrt(var + 1e-5) * gam[i] + bet[i]) * E[item * 3 + i];
      want[r * 2 + item - 1] = (float)acc;
    }
  }
  expect_values("head logits", out, want, 4, 1e-4f);
  /* without the head: plain h E^T over items 1..n, no bias */
  sp_params *q;
  sp_params_new(&q);
  sp_backbone *plain = tiny_bert4rec(q, 2, 3, 0);
  cr_expect(sp_backbone_output_bias(plain) == NULL, "no bias without the head");
  memcpy(sp_tensor_f32(sp_backbone_item_table(plain)), E, sizeof E);
  cr_assert_eq(sp_backbone_logits(ctx, &out, plain, h), SP_OK, "%s", sp_last_error());
  float dots[4];
  for (int r = 0; r < 2; r++)
    for (int item = 1; item <= 2; item++) {
      double acc = 0;
      for (int i = 0; i < 3; i++) acc += (double)hv[r * 3 + i] * E[item * 3 + i];
      dots[r * 2 + item - 1] = (float)acc;
    }
  expect_values("plain logits", out, dots, 4, 1e-5f);
  sp_tensor *bad = t_from(2, SHAPE(1, 2), (float[]){1, 2});
  expect_error(sp_backbone_logits(ctx, &out, m, bad), SP_ESHAPE, "(..., 3)");
  t_free_all((sp_tensor *[]){h, bad}, 2);
  sp_ctx_free(ctx);
  sp_backbone_free(m), sp_backbone_free(plain);
  sp_params_free(p), sp_params_free(q);
}

/* ---- BERT4Rec's cloze masking ---- */

Test(models, bert4rec_masking_follows_the_original_recipe) {
  /* rows of 7, 2 and 1 items (right-aligned) and an all-padding row */
  const int B = 4, L = 8;
  const int32_t rows[32] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
  sp_tensor *in = t_from_i32(2, SHAPE(B, L), rows), *out, *lab;
  sp_tensor_new(&out, SP_I32, 2, SHAPE(B, L));
  sp_tensor_new(&lab, SP_I32, 2, SHAPE(B, L));
  sp_rng rng;
  sp_rng_init(&rng, 3);
  const int32_t *o = sp_tensor_i32(out), *l = sp_tensor_i32(lab);
  /* mask_prob 0.5: round(7 * 0.5) = 4 of 7, max(1, round(1)) = 1 of 2, 1 of 1, none of 0 */
  const int want[4] = {4, 1, 1, 0};
  for (int draw = 0; draw < 20; draw++) {
    cr_assert_eq(sp_bert4rec_mask(out, lab, in, 0.5f, 0.0f, 99, &rng), SP_OK, "%s", sp_last_error());
    for (int b = 0; b < B; b++) {
      int masked = 0;
      for (int t = 0; t < L; t++) {
        int i = b * L + t;
        if (rows[i] == 0) cr_expect(o[i] == 0 && l[i] == -1, "padding is never masked");
        else if (o[i] == 99) {
          cr_expect_eq(l[i], rows[i], "a masked position's label is its item");
          masked++;
        } else
          cr_expect(o[i] == rows[i] && l[i] == -1, "an unmasked item is kept, unlabelled");
      }
      cr_expect_eq(masked, want[b], "row %d: %d masked, want %d", b, masked, want[b]);
    }
  }
  /* last_prob 1: only the last item of each row */
  cr_assert_eq(sp_bert4rec_mask(out, lab, in, 0.5f, 1.0f, 99, &rng), SP_OK);
  for (int i = 0; i < B * L; i++) {
    int last = (i % L) == L - 1 && rows[i] != 0;
    cr_expect_eq(l[i], last ? rows[i] : -1, "last-only masking at %d", i);
  }
  /* frequencies over many rows of 5 items: 1 masked, uniform, plus the last-only share */
  enum { R = 4000 };
  int32_t *many = malloc(sizeof(int32_t) * R * 5);
  for (int i = 0; i < R * 5; i++) many[i] = 1 + i % 5;
  sp_tensor *mi = t_from_i32(2, SHAPE(R, 5), many), *mo, *ml;
  sp_tensor_new(&mo, SP_I32, 2, SHAPE(R, 5));
  sp_tensor_new(&ml, SP_I32, 2, SHAPE(R, 5));
  cr_assert_eq(sp_bert4rec_mask(mo, ml, mi, 0.2f, 0.25f, 99, &rng), SP_OK);
  int count[5] = {0};
  for (int i = 0; i < R * 5; i++) count[i % 5] += sp_tensor_i32(ml)[i] >= 0;
  for (int t = 0; t < 5; t++) {
    double f = (double)count[t] / R, expect = 0.75 * 0.2 + (t == 4 ? 0.25 : 0);
    cr_expect(fabs(f - expect) < 0.03, "position %d masked %.3f of the time, expected %.3f", t, f, expect);
  }
  expect_error(sp_bert4rec_mask(out, lab, in, 0.0f, 0.1f, 99, &rng), SP_EINVAL, "mask_prob");
  expect_error(sp_bert4rec_mask(out, lab, in, 0.2f, 1.5f, 99, &rng), SP_EINVAL, "last_prob");
  expect_error(sp_bert4rec_mask(out, in, in, 0.2f, 0.1f, 99, &rng), SP_EINVAL, "distinct");
  expect_error(sp_bert4rec_mask(out, mo, in, 0.2f, 0.1f, 99, &rng), SP_ESHAPE, "alike");
  t_free_all((sp_tensor *[]){in, out, lab, mi, mo, ml}, 6);
  free(many);
}

Test(models, bert4rec_append_mask) {
  sp_tensor *in = t_from_i32(2, SHAPE(2, 5), (int32_t[]){0, 0, 3, 4, 5, 1, 2, 3, 4, 5}), *last;
  sp_tensor_new(&last, SP_I32, 1, SHAPE(2));
  cr_assert_eq(sp_bert4rec_append_mask(in, last, 9), SP_OK);
  const int32_t *s = sp_tensor_i32(in);
  int32_t want[10] = {0, 3, 4, 5, 9, 2, 3, 4, 5, 9};
  for (int i = 0; i < 10; i++) cr_expect_eq(s[i], want[i], "appended row element %d", i);
  cr_expect(sp_tensor_i32(last)[0] == 4 && sp_tensor_i32(last)[1] == 4);
  t_free_all((sp_tensor *[]){in, last}, 2);
}

Test(models, bad_configs_and_inputs) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 1);
  sp_backbone_config c;
  sp_backbone_config_default(&c, SP_SASREC, 10);
  c.heads = 3;
  sp_backbone *m;
  expect_error(sp_backbone_new(&m, p, "m", &c, &rng), SP_EINVAL, "divisible");
  sp_backbone_config_default(&c, 7, 10);
  expect_error(sp_backbone_new(&m, p, "m", &c, &rng), SP_EINVAL, "unknown kind");
  sp_backbone_config_default(&c, SP_SASREC, 10);
  cr_expect_eq(c.output_head, 0, "only BERT4Rec has the output head by default");
  c.output_head = 1;
  expect_error(sp_backbone_new(&m, p, "m", &c, &rng), SP_EINVAL, "output_head");
  sp_backbone_config_default(&c, SP_SASREC, 10);
  c.max_len = 4;
  cr_assert_eq(sp_backbone_new(&m, p, "m", &c, &rng), SP_OK);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *seq = t_from_i32(2, SHAPE(1, 4), (int32_t[]){0, 1, 2, 12}), *last = t_from_i32(1, SHAPE(1), (int32_t[]){3});
  sp_tensor *h;
  expect_error(sp_backbone_encode(ctx, &h, NULL, m, seq, last), SP_EINVAL, "index 12");
  sp_tensor *long_seq = t_from_i32(2, SHAPE(1, 5), (int32_t[]){1, 2, 3, 4, 5});
  expect_error(sp_backbone_encode(ctx, &h, NULL, m, long_seq, last), SP_ESHAPE, "max_len");
  sp_tensor *bad_last = t_from_i32(1, SHAPE(1), (int32_t[]){4});
  sp_tensor_i32(seq)[3] = 3;
  expect_error(sp_backbone_encode(ctx, &h, NULL, m, seq, bad_last), SP_EINVAL, "last[0] = 4");
  cr_assert_eq(sp_backbone_encode(ctx, &h, NULL, m, seq, last), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_dim(h, 1), 64);
  t_free_all((sp_tensor *[]){seq, last, long_seq, bad_last}, 4);
  sp_ctx_free(ctx);
  sp_backbone_free(m);
  sp_params_free(p);
}
