/* test_nn.c — the parameter store (save/load, clipping), Adam (known steps, L2 vs AdamW,
 * state round trip) and the layers (values and finite-difference gradients through whole
 * blocks). */
#include <unistd.h>

#include "harness.h"

static char *tmp_path(const char *stem) {
  static char buf[256];
  snprintf(buf, sizeof buf, "/tmp/sprint_test_%s_%ld", stem, (long)getpid());
  return buf;
}

Test(params, create_find_and_duplicate_names) {
  sp_params *p;
  sp_params_new(&p);
  sp_tensor *a, *b, *f;
  cr_assert_eq(sp_params_create(p, &a, "a", 2, SHAPE(2, 3)), SP_OK);
  cr_assert_eq(sp_params_create(p, &b, "b", 1, SHAPE(4)), SP_OK);
  cr_expect(sp_tensor_requires_grad(a));
  cr_expect_eq(sp_params_count(p), 2);
  cr_expect_eq(sp_params_numel(p), 10);
  cr_assert_eq(sp_params_find(p, "b", &f), SP_OK);
  cr_expect_eq(f, b);
  expect_error(sp_params_create(p, &f, "a", 1, SHAPE(1)), SP_EINVAL, "already exists");
  expect_error(sp_params_find(p, "zzz", &f), SP_EINVAL, "no parameter named 'zzz'");
  sp_params_free(p);
}

Test(params, save_load_round_trip_and_bad_files) {
  sp_params *p, *q;
  sp_params_new(&p);
  sp_params_new(&q);
  sp_tensor *a, *b, *qa, *qb;
  sp_rng rng;
  sp_rng_init(&rng, 5);
  sp_params_create(p, &a, "layer.weight", 2, SHAPE(3, 2));
  sp_params_create(p, &b, "layer.bias", 1, SHAPE(3));
  sp_tensor_fill_normal(a, &rng, 0, 1);
  sp_tensor_fill_normal(b, &rng, 0, 1);
  sp_params_create(q, &qb, "layer.bias", 1, SHAPE(3)); /* other order: load matches by name */
  sp_params_create(q, &qa, "layer.weight", 2, SHAPE(3, 2));
  const char *path = tmp_path("params");
  cr_assert_eq(sp_params_save(p, path), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_params_load(q, path), SP_OK, "%s", sp_last_error());
  cr_expect(memcmp(sp_tensor_data(a), sp_tensor_data(qa), 6 * 4) == 0);
  cr_expect(memcmp(sp_tensor_data(b), sp_tensor_data(qb), 3 * 4) == 0);

  /* a shape mismatch changes nothing */
  sp_params *r;
  sp_params_new(&r);
  sp_tensor *ra, *rb;
  sp_params_create(r, &ra, "layer.weight", 2, SHAPE(2, 3));
  sp_params_create(r, &rb, "layer.bias", 1, SHAPE(3));
  expect_error(sp_params_load(r, path), SP_EFORMAT, "another shape");
  cr_expect_eq(sp_tensor_f32(rb)[0], 0.0f, "nothing copied on failure");

  /* a flipped byte and a truncated file are caught by the checksum */
  FILE *f = fopen(path, "r+b");
  fseek(f, 30, SEEK_SET);
  fputc(0x5a, f);
  fclose(f);
  expect_error(sp_params_load(q, path), SP_EFORMAT, "checksum");
  cr_assert_eq(sp_params_save(p, path), SP_OK);
  cr_assert_eq(truncate(path, 40), 0);
  expect_error(sp_params_load(q, path), SP_EFORMAT, "checksum");
  expect_error(sp_params_load(q, "/nonexistent/dir/x.bin"), SP_EIO, "cannot read");
  expect_error(sp_params_save(p, "/nonexistent/dir/x.bin"), SP_EIO, "cannot write");
  unlink(path);
  sp_params_free(p);
  sp_params_free(q);
  sp_params_free(r);
}

Test(params, clip_grad_norm) {
  sp_params *p;
  sp_params_new(&p);
  sp_tensor *a, *b;
  sp_params_create(p, &a, "a", 1, SHAPE(2));
  sp_params_create(p, &b, "b", 1, SHAPE(1));
  float *ga = sp_tensor_f32(sp_tensor_grad(a)), *gb = sp_tensor_f32(sp_tensor_grad(b));
  ga[0] = 3, ga[1] = 0, gb[0] = 4; /* norm 5 */
  float norm;
  cr_assert_eq(sp_params_clip_grad_norm(p, 10.0f, &norm), SP_OK);
  cr_expect_float_eq(norm, 5.0f, 1e-6f);
  cr_expect_eq(ga[0], 3.0f, "below the limit: unchanged");
  cr_assert_eq(sp_params_clip_grad_norm(p, 1.0f, &norm), SP_OK);
  cr_expect_float_eq(ga[0], 0.6f, 1e-5f);
  cr_expect_float_eq(gb[0], 0.8f, 1e-5f);
  expect_error(sp_params_clip_grad_norm(p, 0.0f, NULL), SP_EINVAL, "max_norm");
  sp_params_zero_grad(p);
  cr_expect_eq(gb[0], 0.0f);
  sp_params_free(p);
}

/* Reference Adam in double for one scalar parameter. */
static double ref_adam(double w, const double *grads, int steps, double lr, double wd, int decoupled) {
  double m = 0, v = 0;
  for (int t = 1; t <= steps; t++) {
    double g = grads[t - 1] + (decoupled ? 0 : wd * w);
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    if (decoupled) w -= lr * wd * w;
    w -= lr * (m / (1 - pow(0.9, t))) / (sqrt(v / (1 - pow(0.999, t))) + 1e-8);
  }
  return w;
}

Test(adam, matches_reference_with_l2_and_adamw) {
  double grads[3] = {0.5, -1.5, 0.25};
  for (int decoupled = 0; decoupled < 2; decoupled++) {
    sp_params *p;
    sp_params_new(&p);
    sp_tensor *w;
    sp_params_create(p, &w, "w", 1, SHAPE(1));
    sp_tensor_f32(w)[0] = 2.0f;
    sp_adam_config cfg;
    sp_adam_config_default(&cfg);
    cfg.lr = 0.1f;
    cfg.weight_decay = 0.01f;
    cfg.decoupled = decoupled;
    sp_adam *opt;
    cr_assert_eq(sp_adam_new(&opt, p, &cfg), SP_OK);
    for (int t = 0; t < 3; t++) {
      sp_tensor_f32(sp_tensor_grad(w))[0] = (float)grads[t];
      cr_assert_eq(sp_adam_step(opt), SP_OK);
    }
    cr_expect_float_eq(sp_tensor_f32(w)[0], (float)ref_adam(2.0, grads, 3, 0.1, 0.01, decoupled), 1e-5f,
                       "decoupled=%d: %g vs %g", decoupled, sp_tensor_f32(w)[0], ref_adam(2.0, grads, 3, 0.1, 0.01, decoupled));
    cr_expect_eq(sp_adam_steps(opt), 3);
    sp_adam_free(opt);
    sp_params_free(p);
  }
  sp_params *p;
  sp_params_new(&p);
  sp_adam *opt;
  sp_adam_config bad;
  sp_adam_config_default(&bad);
  bad.beta1 = 1.0f;
  expect_error(sp_adam_new(&opt, p, &bad), SP_EINVAL, "betas");
  sp_params_free(p);
}

Test(adam, state_round_trip_continues_identically) {
  sp_params *p;
  sp_params_new(&p);
  sp_tensor *w;
  sp_params_create(p, &w, "w", 1, SHAPE(3));
  sp_adam *a, *b;
  sp_adam_new(&a, p, NULL);
  float *g = sp_tensor_f32(sp_tensor_grad(w));
  g[0] = 1, g[1] = -2, g[2] = 0.5f;
  sp_adam_step(a);
  const char *path = tmp_path("adam");
  cr_assert_eq(sp_adam_save(a, path), SP_OK, "%s", sp_last_error());
  sp_adam_new(&b, p, NULL);
  cr_assert_eq(sp_adam_load(b, path), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_adam_steps(b), 1);
  float w0[3];
  memcpy(w0, sp_tensor_data(w), sizeof w0);
  sp_adam_step(a);
  float wa[3];
  memcpy(wa, sp_tensor_data(w), sizeof wa);
  memcpy(sp_tensor_data(w), w0, sizeof w0);
  sp_adam_step(b);
  cr_expect(memcmp(wa, sp_tensor_data(w), sizeof wa) == 0, "resumed optimiser differs");
  unlink(path);
  sp_adam_free(a);
  sp_adam_free(b);
  sp_params_free(p);
}

/* ---- layers ---- */
typedef struct {
  sp_transformer_block block;
  int causal;
  sp_tensor *mask;
} block_arg;

static int build_block(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const block_arg *a = arg;
  return sp_transformer_block_forward(ctx, out, &a->block, in[0], a->causal, a->mask);
}

Test(layers, transformer_block_gradcheck_pre_and_post_norm) {
  for (int pre = 0; pre < 2; pre++) {
    sp_params *p;
    sp_params_new(&p);
    sp_rng rng;
    sp_rng_init(&rng, 11);
    block_arg arg = {.causal = 1};
    cr_assert_eq(sp_transformer_block_init(&arg.block, p, "blk", 4, 2, 8, pre ? SP_ACT_GELU : SP_ACT_RELU,
                                           0.1f, pre, &rng), SP_OK, "%s", sp_last_error());
    cr_expect_eq(sp_params_count(p), 4 * 2 + 2 * 2 + 2 * 2);
    arg.mask = t_from_i32(2, SHAPE(2, 3), (int32_t[]){0, 1, 1, 1, 1, 1});
    sp_tensor *x = t_randn(4, 3, SHAPE(2, 3, 4), 1);
    sp_tensor_set_requires_grad(x, 1);
    sp_tensor *in[4] = {x, arg.block.attn.q.weight, arg.block.ffn.up.weight, arg.block.ln1.weight};
    gradcheck(pre ? "pre-norm block" : "post-norm block", build_block, in, 4, &arg,
              (gradcheck_opts){.eps = 3e-3f, .atol = 2e-3f, .rtol = 3e-2f});
    sp_tensor_free(x);
    sp_tensor_free(arg.mask);
    sp_params_free(p);
  }
}

Test(layers, linear_embedding_layernorm_wiring_and_errors) {
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 3);
  sp_linear_layer lin;
  sp_embedding_layer emb;
  sp_layernorm_layer ln;
  cr_assert_eq(sp_linear_layer_init(&lin, p, "lin", 3, 2, 1, &rng), SP_OK);
  cr_assert_eq(sp_embedding_layer_init(&emb, p, "emb", 5, 3, 0, &rng), SP_OK);
  cr_assert_eq(sp_layernorm_layer_init(&ln, p, "ln", 2, 1e-5f), SP_OK);
  float bound = sqrtf(6.0f / 5.0f);
  for (int i = 0; i < 6; i++) cr_expect(fabsf(sp_tensor_f32(lin.weight)[i]) <= bound);
  for (int j = 0; j < 3; j++) cr_expect_eq(sp_tensor_f32(emb.weight)[j], 0.0f, "padding row zero");
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *idx = t_from_i32(2, SHAPE(2, 2), (int32_t[]){1, 2, 0, 4}), *e, *h, *o;
  cr_assert_eq(sp_embedding_layer_forward(ctx, &e, &emb, idx), SP_OK);
  cr_assert_eq(sp_linear_layer_forward(ctx, &h, &lin, e), SP_OK);
  cr_assert_eq(sp_layernorm_layer_forward(ctx, &o, &ln, h), SP_OK);
  cr_expect_eq(sp_tensor_ndim(o), 3);
  cr_expect_eq(sp_tensor_dim(o, 2), 2);
  sp_linear_layer dup;
  expect_error(sp_linear_layer_init(&dup, p, "lin", 3, 2, 1, &rng), SP_EINVAL, "already exists");
  sp_mha_layer mha;
  expect_error(sp_mha_layer_init(&mha, p, "mha", 5, 2, 0, &rng), SP_EINVAL, "divisible");
  sp_tensor_free(idx);
  sp_ctx_free(ctx);
  sp_params_free(p);
}
