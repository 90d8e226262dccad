/* test_cuda.c — the CUDA backend against the CPU: every op through devicecheck (output and
 * input gradients by normalised error, odd sizes, masks), the optimiser, the runtime's error
 * paths, and a few SASRec training steps from the same seed on both devices. Without a GPU
 * the GPU tests report as skipped with the reason; the checks that need none still run. */
#include "harness.h"

#include "internal.h"

#define DC(name, build, in, n, arg, ...)                                                            \
  cr_expect_eq(devicecheck(name, build, in, n, arg, (devicecheck_opts){__VA_ARGS__}), 0,            \
               "%s: GPU differs from CPU", name)

/* ---- without a GPU too: the backend is there or says why not ---- */

Test(cuda, reports_what_it_has) {
  int have = 0, total = 0;
  const char *missing = NULL;
  sp_device_kernels(SP_CUDA, &have, &total, &missing);
  if (sp_cuda_built() || getenv("SPRINT_CUDA_PLUGIN")) /* the plugin, or tests/fake_gpu's */
    cr_expect_eq(have, total, "the CUDA table lacks %s", missing ? missing : "?");
  else
    cr_expect_eq(have, 0);
  sp_device_kernels(SP_CPU, &have, &total, &missing);
  cr_expect_eq(have, total, "the CPU table lacks %s", missing ? missing : "?");
  cr_expect(strlen(sp_cuda_info()) > 0);
}

Test(cuda, no_gpu_is_an_error_not_an_abort) {
  sp_ctx *ctx;
  cr_assert_eq(sp_ctx_new(&ctx, 1), SP_OK);
  int rc = sp_ctx_set_device(ctx, SP_CUDA);
  if (rc != SP_OK) {
    cr_expect_eq(rc, SP_EDEVICE, "%s", sp_last_error());
    cr_expect(strstr(sp_last_error(), sp_cuda_built() ? "GPU" : "without CUDA") != NULL, "%s",
              sp_last_error());
    cr_expect_eq(sp_ctx_device(ctx), SP_CPU); /* unchanged: still usable */
    sp_tensor *t;
    expect_error(sp_tensor_new_on(&t, SP_F32, 1, SHAPE(4), SP_CUDA), SP_EDEVICE, "");
  }
  sp_ctx_free(ctx);
}

Test(cuda, host_inputs_are_uploaded_host_parameters_refused) {
  SKIP_WITHOUT_GPU();
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_ctx_set_device(ctx, SP_CUDA), SP_OK, "%s", sp_last_error());
  sp_tensor *a = t_randn(1, 2, SHAPE(2, 3), 1.0f), *out, *back;
  /* a host batch: uploaded by the op */
  cr_assert_eq(sp_relu(ctx, &out, a), SP_OK, "%s", sp_last_error());
  cr_expect_eq(sp_tensor_device(out), SP_CUDA);
  cr_assert_eq(sp_tensor_new(&back, SP_F32, 2, SHAPE(2, 3)), SP_OK);
  cr_assert_eq(sp_tensor_copy(back, out), SP_OK, "%s", sp_last_error());
  for (int i = 0; i < 6; i++) cr_expect_eq(sp_tensor_f32(back)[i], fmaxf(sp_tensor_f32(a)[i], 0.0f));
  /* a host parameter: its gradient could never reach it */
  t_require_grad(&a, 1);
  expect_error(sp_relu(ctx, &out, a), SP_EDEVICE, "is on cpu but the context computes on cuda");
  sp_tensor_free(a), sp_tensor_free(back);
  sp_ctx_free(ctx);
}

Test(cuda, bad_indices_are_reported_at_the_next_sync) {
  SKIP_WITHOUT_GPU();
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_ctx_set_device(ctx, SP_CUDA), SP_OK, "%s", sp_last_error());
  sp_tensor *w = t_randn(1, 2, SHAPE(5, 3), 1.0f), *idx = t_from_i32(1, SHAPE(3), (int32_t[]){1, 7, 2});
  cr_assert_eq(sp_tensor_to_device(w, SP_CUDA), SP_OK);
  cr_assert_eq(sp_tensor_to_device(idx, SP_CUDA), SP_OK);
  sp_tensor *out;
  cr_assert_eq(sp_embedding(ctx, &out, w, idx, 0), SP_OK, "%s", sp_last_error());
  expect_error(sp_cuda_synchronize(), SP_EINVAL, "index 7 at position 1 is outside [0, 5)");
  cr_expect_eq(sp_cuda_synchronize(), SP_OK, "the flag is cleared once reported");
  sp_tensor_free(w), sp_tensor_free(idx);
  sp_ctx_free(ctx);
}

Test(cuda, tensors_round_trip) {
  SKIP_WITHOUT_GPU();
  sp_tensor *a = t_randn(3, 2, SHAPE(7, 13), 1.0f), *b = t_randn(4, 2, SHAPE(7, 13), 1.0f);
  sp_tensor *g;
  cr_assert_eq(sp_tensor_new_on(&g, SP_F32, 2, SHAPE(7, 13), SP_CUDA), SP_OK, "%s", sp_last_error());
  cr_expect_null(sp_tensor_f32(g), "GPU data is not host memory");
  cr_assert_eq(sp_tensor_copy(g, a), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_tensor_copy(b, g), SP_OK, "%s", sp_last_error());
  cr_expect_eq(memcmp(sp_tensor_f32(a), sp_tensor_f32(b), 7 * 13 * 4), 0);
  cr_assert_eq(sp_tensor_to_device(g, SP_CPU), SP_OK);
  cr_expect_eq(memcmp(sp_tensor_f32(a), sp_tensor_f32(g), 7 * 13 * 4), 0);
  sp_tensor_free(a), sp_tensor_free(b), sp_tensor_free(g);
}

/* ---- every op, GPU against CPU ---- */

typedef struct {
  int ta, tb, flag;
  float f;
} opargs;

static int b_matmul(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  const opargs *p = a;
  return sp_matmul(c, o, in[0], in[1], p->ta, p->tb);
}
static int b_linear(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_linear(c, o, in[0], in[1], in[2]);
}
static int b_binary(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  int k = ((const opargs *)a)->flag;
  return k == 0 ? sp_add(c, o, in[0], in[1]) : k == 1 ? sp_sub(c, o, in[0], in[1]) : sp_mul(c, o, in[0], in[1]);
}
static int b_unary(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  const opargs *p = a;
  switch (p->flag) {
    case 0: return sp_relu(c, o, in[0]);
    case 1: return sp_gelu(c, o, in[0]);
    case 2: return sp_sigmoid(c, o, in[0]);
    case 3: return sp_tanh(c, o, in[0]);
    case 4: return sp_scale(c, o, in[0], p->f);
    default: return sp_threshold(c, o, in[0], p->f);
  }
}

Test(cuda, matmul_and_linear) {
  SKIP_WITHOUT_GPU();
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      opargs p = {ta, tb, 0, 0};
      sp_tensor *in[2] = {t_randn(1, 3, ta ? SHAPE(3, 7, 5) : SHAPE(3, 5, 7), 1.0f),
                          t_randn(2, 2, tb ? SHAPE(9, 7) : SHAPE(7, 9), 1.0f)};
      t_require_grad(in, 2);
      DC("matmul shared b", b_matmul, in, 2, &p);
      t_free_all(in, 2);
      sp_tensor *bb[2] = {t_randn(3, 3, ta ? SHAPE(3, 7, 5) : SHAPE(3, 5, 7), 1.0f),
                          t_randn(4, 3, tb ? SHAPE(3, 9, 7) : SHAPE(3, 7, 9), 1.0f)};
      t_require_grad(bb, 2);
      DC("matmul batched b", b_matmul, bb, 2, &p);
      t_free_all(bb, 2);
    }
  sp_tensor *in[3] = {t_randn(5, 3, SHAPE(2, 33, 17), 1.0f), t_randn(6, 2, SHAPE(11, 17), 1.0f),
                      t_randn(7, 1, SHAPE(11), 1.0f)};
  t_require_grad(in, 3);
  DC("linear", b_linear, in, 3, NULL);
  sp_tensor *nb[3] = {in[0], in[1], NULL};
  DC("linear without bias", b_linear, nb, 3, NULL);
  t_free_all(in, 3);
}

Test(cuda, elementwise) {
  SKIP_WITHOUT_GPU();
  for (int k = 0; k < 3; k++) {
    opargs p = {0, 0, k, 0};
    sp_tensor *in[2] = {t_randn(10 + k, 3, SHAPE(3, 5, 67), 1.0f), t_randn(20 + k, 1, SHAPE(67), 1.0f)};
    t_require_grad(in, 2);
    DC("binary broadcast", b_binary, in, 2, &p);
    t_free_all(in, 2);
    sp_tensor *same[2] = {t_randn(30 + k, 2, SHAPE(13, 7), 1.0f), t_randn(40 + k, 2, SHAPE(13, 7), 1.0f)};
    t_require_grad(same, 2);
    DC("binary", b_binary, same, 2, &p);
    t_free_all(same, 2);
  }
  for (int k = 0; k < 6; k++) {
    opargs p = {0, 0, k, k == 4 ? 0.7f : 0.3f};
    sp_tensor *in[1] = {t_randn(50 + k, 2, SHAPE(129, 33), 2.0f)};
    t_require_grad(in, 1);
    DC("unary", b_unary, in, 1, &p);
    t_free_all(in, 1);
  }
}

static int b_softmax(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  const opargs *p = a;
  return p->tb ? sp_log_softmax(c, o, in[0], in[1], p->ta) : sp_softmax(c, o, in[0], in[1], p->ta);
}
static int b_layernorm(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_layernorm(c, o, in[0], in[1], in[2], 1e-5f);
}

Test(cuda, softmax_masks_and_layernorm) {
  SKIP_WITHOUT_GPU();
  int32_t mask[3 * 9];
  for (int i = 0; i < 27; i++) mask[i] = (i % 4 != 1) && i / 9 != 2; /* row 2 fully masked */
  for (int causal = 0; causal < 2; causal++)
    for (int logs = 0; logs < 2; logs++) {
      opargs p = {causal, logs, 0, 0};
      sp_tensor *in[2] = {t_randn(60, 3, SHAPE(3, 9, 9), 2.0f), t_from_i32(2, SHAPE(3, 9), mask)};
      t_require_grad(in, 1);
      DC("softmax", b_softmax, in, 2, &p);
      sp_tensor *nomask[2] = {in[0], NULL};
      DC("softmax unmasked", b_softmax, nomask, 2, &p);
      t_free_all(in, 2);
    }
  sp_tensor *wide[2] = {t_randn(61, 2, SHAPE(3, 2500), 3.0f), NULL}; /* rows longer than a block */
  t_require_grad(wide, 1);
  opargs p = {0, 1, 0, 0};
  DC("log_softmax wide", b_softmax, wide, 2, &p);
  t_free_all(wide, 2);
  for (int d = 5; d <= 1500; d *= 17) {
    sp_tensor *in[3] = {t_randn(62, 3, SHAPE(2, 7, d), 2.0f), t_randn(63, 1, SHAPE(d), 1.0f),
                        t_randn(64, 1, SHAPE(d), 1.0f)};
    t_require_grad(in, 3);
    DC("layernorm", b_layernorm, in, 3, NULL);
    t_free_all(in, 3);
  }
}

static int b_embedding(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_embedding(c, o, in[0], in[1], 0);
}
static int b_dropout(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  sp_tensor *t;
  SP_TRY(sp_dropout(c, &t, in[0], 0.3f));
  return sp_dropout(c, o, t, 0.5f); /* two draws: the counters advance alike */
}
static int b_take(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_take_positions(c, o, in[0], in[1]);
}

Test(cuda, gather_scatter_dropout) {
  SKIP_WITHOUT_GPU();
  sp_tensor *in[2] = {t_randn(70, 2, SHAPE(11, 6), 1.0f),
                      t_from_i32(2, SHAPE(3, 5), (int32_t[]){0, 1, 2, 3, 3, 3, 10, 0, 5, 1, 1, 1, 1, 9, 4})};
  t_require_grad(in, 1);
  DC("embedding (padding, repeats)", b_embedding, in, 2, NULL, .max_nmse = 1e-10);
  t_free_all(in, 2);
  sp_tensor *d[1] = {t_randn(71, 3, SHAPE(3, 7, 5), 1.0f)}; /* 105: a partial hash block */
  t_require_grad(d, 1);
  DC("dropout (bit for bit)", b_dropout, d, 1, NULL, .max_nmse = 1e-14);
  t_free_all(d, 1);
  sp_tensor *tp[2] = {t_randn(72, 3, SHAPE(4, 6, 5), 1.0f), t_from_i32(1, SHAPE(4), (int32_t[]){5, 0, 3, 5})};
  t_require_grad(tp, 1);
  DC("take_positions", b_take, tp, 2, NULL, .max_nmse = 1e-14);
  t_free_all(tp, 2);
}

static int b_attention(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  const opargs *p = a;
  return sp_attention(c, o, in[0], in[1], in[2], p->ta, p->tb, in[3]);
}
static int b_gru(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_gru(c, o, in[0], in[1], in[2], in[3], in[4], in[5]);
}

Test(cuda, attention_and_gru) {
  SKIP_WITHOUT_GPU();
  int32_t mask[3 * 7];
  for (int i = 0; i < 21; i++) mask[i] = i % 7 >= (i / 7) * 2; /* left padding, row 0 full */
  for (int causal = 0; causal < 2; causal++) {
    opargs p = {2, causal, 0, 0};
    sp_tensor *in[4] = {t_randn(80, 3, SHAPE(3, 7, 10), 1.0f), t_randn(81, 3, SHAPE(3, 7, 10), 1.0f),
                        t_randn(82, 3, SHAPE(3, 7, 10), 1.0f), t_from_i32(2, SHAPE(3, 7), mask)};
    t_require_grad(in, 3);
    DC("attention", b_attention, in, 4, &p);
    sp_tensor *nomask[4] = {in[0], in[1], in[2], NULL};
    DC("attention unmasked", b_attention, nomask, 4, &p);
    t_free_all(in, 4);
  }
  sp_tensor *g[6] = {t_randn(90, 3, SHAPE(3, 7, 5), 1.0f), t_randn(91, 2, SHAPE(18, 5), 0.4f),
                     t_randn(92, 2, SHAPE(18, 6), 0.4f), t_randn(93, 1, SHAPE(18), 0.4f),
                     t_randn(94, 1, SHAPE(18), 0.4f), t_from_i32(2, SHAPE(3, 7), mask)};
  t_require_grad(g, 5);
  DC("gru", b_gru, g, 6, NULL, .max_nmse = 1e-6);
  t_free_all(g, 6);
}

static int b_reduce(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  const opargs *p = a;
  switch (p->flag) {
    case 0: return sp_sum(c, o, in[0]);
    case 1: return sp_mean(c, o, in[0]);
    case 2: return sp_sum_axis(c, o, in[0], p->ta);
    default: return sp_mean_axis(c, o, in[0], p->ta);
  }
}
static int b_shapes(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  sp_tensor *r, *parts[7], *cat;
  SP_TRY(sp_reshape(c, &r, in[0], 2, (int[]){6, -1}));
  for (int i = 0; i < 7; i++) parts[i] = i % 2 ? r : in[1]; /* more than a node holds */
  SP_TRY(sp_concat(c, &cat, parts, 7, 1));
  return sp_slice(c, o, cat, 1, 3, 40);
}

Test(cuda, reductions_and_shapes) {
  SKIP_WITHOUT_GPU();
  for (int k = 0; k < 4; k++)
    for (int axis = 0; axis < 3; axis++) {
      opargs p = {axis, 0, k, 0};
      sp_tensor *in[1] = {t_randn(100 + k, 3, SHAPE(5, 33, 7), 1.0f)};
      t_require_grad(in, 1);
      DC("reduce", b_reduce, in, 1, &p, .max_nmse = 1e-10);
      t_free_all(in, 1);
      if (k < 2) break; /* the scalar ones have no axis */
    }
  sp_tensor *big[1] = {t_randn(105, 1, SHAPE(100003), 1.0f)};
  t_require_grad(big, 1);
  opargs s = {0, 0, 0, 0};
  DC("sum of many", b_reduce, big, 1, &s, .max_nmse = 1e-10);
  t_free_all(big, 1);
  sp_tensor *in[2] = {t_randn(106, 3, SHAPE(2, 3, 11), 1.0f), t_randn(107, 2, SHAPE(6, 4), 1.0f)};
  t_require_grad(in, 2);
  DC("reshape, concat (7 inputs), slice", b_shapes, in, 2, NULL, .max_nmse = 1e-14);
  t_free_all(in, 2);
}

static int b_ce(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_cross_entropy(c, o, in[0], in[1], -1);
}
static int b_bce(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_bce_logits(c, o, in[0], in[1], in[2]);
}
static int b_cosine(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_cosine_matrix(c, o, in[0], in[1], 1e-3f);
}
static int b_ortho(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  return sp_ortho_loss(c, o, in[0], 1e-3f);
}
static int b_topk(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  sp_tensor *v, *i;
  SP_TRY(sp_topk(c, &v, &i, in[0], ((const opargs *)a)->ta));
  *o = ((const opargs *)a)->tb ? i : v;
  return SP_OK;
}

Test(cuda, losses_cosine_ortho_topk) {
  SKIP_WITHOUT_GPU();
  sp_tensor *ce[2] = {t_randn(110, 2, SHAPE(9, 1537), 2.0f),
                      t_from_i32(1, SHAPE(9), (int32_t[]){3, -1, 1536, 0, 7, -1, 100, 5, 9})};
  t_require_grad(ce, 1);
  DC("cross_entropy (ignored rows, wide)", b_ce, ce, 2, NULL, .max_nmse = 1e-10);
  t_free_all(ce, 2);
  sp_tensor *b[3] = {t_randn(111, 2, SHAPE(3, 5000), 3.0f), t_randn(112, 2, SHAPE(3, 5000), 0.5f),
                     t_randn(113, 2, SHAPE(3, 5000), 1.0f)};
  t_require_grad(b, 2); /* logits and targets */
  DC("bce_logits weighted (several blocks)", b_bce, b, 3, NULL, .max_nmse = 1e-10);
  sp_tensor *nb[3] = {b[0], b[1], NULL};
  DC("bce_logits", b_bce, nb, 3, NULL, .max_nmse = 1e-10);
  t_free_all(b, 3);
  sp_tensor *cs[2] = {t_randn(114, 2, SHAPE(7, 9), 1.0f), t_randn(115, 2, SHAPE(5, 9), 1.0f)};
  memset(sp_tensor_f32(cs[1]), 0, 9 * sizeof(float)); /* row 0 of b: a clamped norm */
  t_require_grad(cs, 2);
  DC("cosine (a clamped norm)", b_cosine, cs, 2, NULL, .max_nmse = 1e-9);
  t_free_all(cs, 2);
  sp_tensor *e[1] = {t_randn(117, 2, SHAPE(13, 64), 1.0f)};
  t_require_grad(e, 1);
  DC("ortho_loss", b_ortho, e, 1, NULL, .max_nmse = 1e-10);
  t_free_all(e, 1);
  float vals[3 * 40];
  for (int i = 0; i < 120; i++) vals[i] = (float)((i * 7) % 11) - 5.0f; /* many ties */
  vals[5] = NAN;
  sp_tensor *tk[1] = {t_from(2, SHAPE(3, 40), vals)};
  for (int idx = 0; idx < 2; idx++) {
    opargs p = {17, idx, 0, 0};
    DC("topk (ties, NaN)", b_topk, tk, 1, &p, .no_backward = 1, .max_nmse = 1e-14);
  }
  t_free_all(tk, 1);
}

static int b_enrich(sp_ctx *c, sp_tensor **o, sp_tensor **in, const void *a) {
  SP_TRY(sp_ctx_tensor(c, o, SP_F32, 2, in[0]->shape));
  return sp_intent_enrich(c, *o, in[0], in[1], 6, 3, ((const opargs *)a)->flag);
}

Test(cuda, intent_enrichment) {
  SKIP_WITHOUT_GPU();
  sp_tensor *y = t_randn(120, 2, SHAPE(8, 11), 1.0f), *h = t_randn(121, 2, SHAPE(8, 16), 1.0f);
  float *yd = sp_tensor_f32(y);
  for (int i = 0; i < 88; i++) yd[i] = 1.0f / (1.0f + expf(-yd[i]));
  sp_tensor *in[2] = {y, h};
  for (int mode = 0; mode < 3; mode++) {
    opargs p = {0, 0, mode, 0};
    DC("enrich", b_enrich, in, 2, &p, .no_backward = 1, .max_nmse = 1e-10);
  }
  t_free_all(in, 2);
}

/* ---- the optimiser: Adam with clipping on both devices, from the same gradients ---- */

Test(cuda, adam_matches) {
  SKIP_WITHOUT_GPU();
  sp_params *pc, *pg;
  sp_params_new(&pc), sp_params_new(&pg);
  sp_tensor *tc[2], *tg[2];
  int shapes[2][2] = {{7, 13}, {129, 1}};
  for (int i = 0; i < 2; i++) {
    char name[8];
    snprintf(name, sizeof name, "p%d", i);
    sp_params_create(pc, &tc[i], name, 2, shapes[i]);
    sp_params_create(pg, &tg[i], name, 2, shapes[i]);
    sp_tensor *r = t_randn(130 + i, 2, shapes[i], 1.0f), *gr = t_randn(140 + i, 2, shapes[i], 3.0f);
    sp_tensor_copy(tc[i], r), sp_tensor_copy(tg[i], r);
    sp_tensor_copy(sp_tensor_grad(tc[i]), gr), sp_tensor_copy(sp_tensor_grad(tg[i]), gr);
    sp_tensor_free(r), sp_tensor_free(gr);
  }
  cr_assert_eq(sp_params_to_device(pg, SP_CUDA), SP_OK, "%s", sp_last_error());
  sp_adam_config cfg;
  sp_adam_config_default(&cfg);
  cfg.weight_decay = 0.01f, cfg.clip_norm = 1.0f, cfg.lr = 0.01f;
  sp_adam *ac, *ag;
  cr_assert_eq(sp_adam_new(&ac, pc, &cfg), SP_OK);
  cr_assert_eq(sp_adam_new(&ag, pg, &cfg), SP_OK, "%s", sp_last_error());
  for (int step = 0; step < 3; step++) {
    cr_assert_eq(sp_adam_step(ac), SP_OK);
    cr_assert_eq(sp_adam_step(ag), SP_OK, "%s", sp_last_error());
  }
  cr_expect_float_eq(sp_adam_last_grad_norm(ag), sp_adam_last_grad_norm(ac), 1e-4f * sp_adam_last_grad_norm(ac));
  cr_assert_eq(sp_params_to_device(pg, SP_CPU), SP_OK, "%s", sp_last_error());
  for (int i = 0; i < 2; i++) cr_expect_lt(t_nmse(tg[i], tc[i]), 1e-12, "parameter %d", i);
  cr_expect_eq(sp_params_zero_grad(pg), SP_OK);
  sp_adam_free(ac), sp_adam_free(ag);
  sp_params_free(pc), sp_params_free(pg);
}

/* ---- full ranking of a GPU model: one GEMM and a rank kernel, only ranks copied back ---- */

Test(cuda, full_ranking_matches) {
  SKIP_WITHOUT_GPU();
  const int B = 9, d = 8, V = 301, L = 6;
  /* small integers: every score is exact on both devices, and many tie */
  sp_tensor *h = t_randn(150, 2, SHAPE(B, d), 1.0f), *items = t_randn(151, 2, SHAPE(V, d), 1.0f);
  for (int64_t i = 0; i < B * d; i++) sp_tensor_f32(h)[i] = roundf(2.0f * sp_tensor_f32(h)[i]);
  for (int64_t i = 0; i < (int64_t)V * d; i++) sp_tensor_f32(items)[i] = roundf(sp_tensor_f32(items)[i]);
  int32_t tg[9] = {1, 5, 300, 0, 17, 17, 250, 3, 99}, sq[9 * 6];
  for (int i = 0; i < B * L; i++) sq[i] = (i * 37) % 40; /* repeats, padding (0), the target too */
  sp_tensor *target = t_from_i32(1, SHAPE(B), tg), *seq = t_from_i32(2, SHAPE(B, L), sq);
  sp_tensor *hg, *ig, *rc, *rg;
  cr_assert_eq(sp_tensor_new(&rc, SP_F32, 1, SHAPE(B)), SP_OK);
  cr_assert_eq(sp_tensor_new(&rg, SP_F32, 1, SHAPE(B)), SP_OK);
  cr_assert_eq(sp_tensor_new_on(&hg, SP_F32, 2, SHAPE(B, d), SP_CUDA), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_tensor_new_on(&ig, SP_F32, 2, SHAPE(V, d), SP_CUDA), SP_OK, "%s", sp_last_error());
  sp_tensor_copy(hg, h), sp_tensor_copy(ig, items);
  sp_ctx *cc, *gc;
  sp_ctx_new(&cc, 1), sp_ctx_new(&gc, 1);
  cr_assert_eq(sp_ctx_set_device(gc, SP_CUDA), SP_OK, "%s", sp_last_error());
  for (int ties = 0; ties < 3; ties++)
    for (int mask = 0; mask < 2; mask++) {
      sp_rank_config cfg;
      sp_rank_config_default(&cfg);
      cfg.ties = ties, cfg.mask_session_items = mask;
      cr_assert_eq(sp_rank_full(cc, rc, h, items, target, seq, &cfg), SP_OK, "%s", sp_last_error());
      cr_assert_eq(sp_rank_full(gc, rg, hg, ig, target, seq, &cfg), SP_OK, "%s", sp_last_error());
      for (int b = 0; b < B; b++)
        cr_expect_eq(sp_tensor_f32(rg)[b], sp_tensor_f32(rc)[b], "ties %d mask %d row %d: %g on the GPU, %g on the CPU",
                     ties, mask, b, sp_tensor_f32(rg)[b], sp_tensor_f32(rc)[b]);
      sp_ctx_reset(cc), sp_ctx_reset(gc);
    }
  sp_ctx_free(cc), sp_ctx_free(gc);
  t_free_all((sp_tensor *[]){h, items, target, seq, hg, ig, rc, rg}, 8);
}

/* ---- data-parallel: a world of one averages to the gradients themselves ---- */

Test(cuda, allreduce_in_a_world_of_one) {
  SKIP_WITHOUT_GPU();
  char id[300];
  int rc = sp_dist_unique_id(id, sizeof id);
  if (rc != SP_OK) cr_skip_test("no NCCL: %s", sp_last_error());
  cr_assert_eq(sp_dist_init(0, 1, id), SP_OK, "%s", sp_last_error());
  sp_params *p;
  sp_params_new(&p);
  sp_tensor *t;
  sp_params_create(p, &t, "w", 2, SHAPE(5, 7));
  sp_tensor *g = t_randn(160, 2, SHAPE(5, 7), 1.0f);
  sp_tensor_copy(sp_tensor_grad(t), g);
  expect_error(sp_params_allreduce_grads(p), SP_EDEVICE, "on the CPU");
  cr_assert_eq(sp_params_to_device(p, SP_CUDA), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_params_allreduce_grads(p), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_params_to_device(p, SP_CPU), SP_OK, "%s", sp_last_error());
  cr_expect_eq(memcmp(sp_tensor_f32(sp_tensor_grad(t)), sp_tensor_f32(g), 35 * 4), 0);
  sp_dist_free();
  sp_tensor_free(g);
  sp_params_free(p);
}
