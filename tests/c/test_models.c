/* test_models.c — the backbones: finite-difference gradients of h_S through each whole model
 * (tiny sizes, dropout on), the BERT4Rec cloze masking and [MASK] appending, and bad input. */
#include "harness.h"

typedef struct {
  sp_backbone *m;
  sp_tensor *seq, *last;
} bb_arg;

static int build_backbone(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const bb_arg *a = arg;
  return sp_backbone_encode(ctx, out, NULL, a->m, a->seq, a->last);
}

static void check_backbone(int kind, const char *name) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 5);
  sp_backbone_config c;
  sp_backbone_config_default(&c, kind, 6);
  c.max_len = 4, c.dim = 4, c.layers = 1, c.heads = 2, c.ffn_hidden = 8, c.dropout = 0.1f;
  bb_arg a;
  cr_assert_eq(sp_backbone_new(&a.m, p, name, &c, &rng), SP_OK, "%s", sp_last_error());
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

Test(models, sasrec_gradcheck) { check_backbone(SP_SASREC, "m"); }
Test(models, bert4rec_gradcheck) { check_backbone(SP_BERT4REC, "m"); }
Test(models, gru4rec_gradcheck) { check_backbone(SP_GRU4REC, "m"); }

Test(models, bert4rec_masking_and_append) {
  sp_tensor *in = t_from_i32(2, SHAPE(2, 5), (int32_t[]){0, 0, 3, 4, 5, 1, 2, 3, 4, 5});
  sp_tensor *out, *lab, *last;
  sp_tensor_new(&out, SP_I32, 2, SHAPE(2, 5));
  sp_tensor_new(&lab, SP_I32, 2, SHAPE(2, 5));
  sp_rng rng;
  sp_rng_init(&rng, 3);
  cr_assert_eq(sp_bert4rec_mask(out, lab, in, 0.5f, 9, &rng), SP_OK, "%s", sp_last_error());
  const int32_t *o = sp_tensor_i32(out), *l = sp_tensor_i32(lab), *s = sp_tensor_i32(in);
  int masked[2] = {0, 0};
  for (int i = 0; i < 10; i++) {
    if (s[i] == 0) cr_expect(o[i] == 0 && l[i] == -1, "padding is never masked");
    else if (o[i] == 9) {
      cr_expect_eq(l[i], s[i], "a masked position's label is its item");
      masked[i / 5]++;
    }
    else cr_expect(o[i] == s[i] && l[i] == -1);
  }
  cr_expect(masked[0] >= 1 && masked[1] >= 1, "every row has a masked item");
  sp_tensor *one = t_from_i32(2, SHAPE(1, 3), (int32_t[]){0, 0, 4});
  sp_tensor *o1, *l1;
  sp_tensor_new(&o1, SP_I32, 2, SHAPE(1, 3));
  sp_tensor_new(&l1, SP_I32, 2, SHAPE(1, 3));
  cr_assert_eq(sp_bert4rec_mask(o1, l1, one, 0.01f, 9, &rng), SP_OK);
  cr_expect(sp_tensor_i32(o1)[2] == 9 && sp_tensor_i32(l1)[2] == 4, "with no draw masked, the last item is");
  sp_tensor_new(&last, SP_I32, 1, SHAPE(2));
  cr_assert_eq(sp_bert4rec_append_mask(in, last, 9), SP_OK);
  int32_t want[10] = {0, 3, 4, 5, 9, 2, 3, 4, 5, 9};
  for (int i = 0; i < 10; i++) cr_expect_eq(s[i], want[i], "appended row element %d", i);
  cr_expect(sp_tensor_i32(last)[0] == 4 && sp_tensor_i32(last)[1] == 4);
  expect_error(sp_bert4rec_mask(out, lab, in, 0.0f, 9, &rng), SP_EINVAL, "mask_prob");
  expect_error(sp_bert4rec_mask(out, last, in, 0.5f, 9, &rng), SP_ESHAPE, "alike");
  t_free_all((sp_tensor *[]){in, out, lab, last, one, o1, l1}, 7);
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
