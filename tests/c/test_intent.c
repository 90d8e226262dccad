/* test_intent.c — SPRINT's Stage 2 pieces: the threshold phi (known values, gradient away from
 * tau, the jump), L_ortho (hand value, naive pairwise reference, the cosine-matrix identity,
 * gradients with a clamped row, C = 1), the intent predictor's relevance, intent loss and fusion
 * (hand values, double-precision references, gradients through each composition) and the
 * collaborative enrichment (hand-built neighbours and weights, ties, k past the batch, k = 0,
 * padding rows, the ablation modes, thread-count determinism), with their error paths. */
#include <stdlib.h>

#include "harness.h"

static double sigmoid_d(double x) {
  return 1.0 / (1.0 + exp(-x));
}

/* ---- threshold (phi) ---- */
static int build_threshold(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_threshold(ctx, out, in[0], *(const float *)arg);
}

Test(intent, threshold_known_values_and_gradient) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  /* exactly tau is filtered out (strict >); NaN maps to 0 as in relu */
  sp_tensor *x = t_from(1, SHAPE(6), (float[]){0.2f, 0.5f, 0.50001f, 0.9f, -3, NAN}), *y, *s;
  t_require_grad(&x, 1);
  cr_assert_eq(sp_threshold(ctx, &y, x, 0.5f), SP_OK, "%s", sp_last_error());
  expect_values("phi(x)", y, (float[]){0, 0, 0.50001f, 0.9f, 0, 0}, 6, 0);
  cr_assert_eq(sp_sum(ctx, &s, y), SP_OK);
  cr_assert_eq(sp_backward(ctx, s), SP_OK, "%s", sp_last_error());
  /* [x > tau]: the step at tau contributes nothing (its jump is not differentiated) */
  expect_values("dphi/dx", sp_tensor_grad(x), (float[]){0, 0, 1, 1, 0, 0}, 6, 0);
  /* another tau, negative */
  sp_tensor *z = t_from(1, SHAPE(3), (float[]){-2, -1, 0});
  cr_assert_eq(sp_threshold(ctx, &y, z, -1.5f), SP_OK);
  expect_values("phi(x), tau -1.5", y, (float[]){0, -1, 0}, 3, 0);
  t_free_all((sp_tensor *[]){x, z}, 2);
  sp_ctx_free(ctx);
}

Test(intent, threshold_gradcheck_away_from_tau) {
  float tau = 0.5f;
  sp_tensor *x = t_randn(11, 2, SHAPE(4, 6), 1.0f);
  float *xd = sp_tensor_f32(x);
  for (int i = 0; i < 24; i++) /* probabilities at least 0.05 from tau (the probe is 1e-2) */
    xd[i] = (i % 2 ? 0.55f : 0.05f) + 0.4f * (float)sigmoid_d(xd[i]);
  t_require_grad(&x, 1);
  gradcheck("threshold", build_threshold, &x, 1, &tau, (gradcheck_opts){0});
  sp_tensor_free(x);
}

Test(intent, threshold_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *x = t_randn(1, 1, SHAPE(3), 1), *o;
  sp_tensor *xi = t_from_i32(1, SHAPE(2), (int32_t[]){0, 1});
  expect_error(sp_threshold(ctx, &o, x, NAN), SP_EINVAL, "sp_threshold: tau must be finite");
  expect_error(sp_threshold(ctx, &o, x, INFINITY), SP_EINVAL, "tau must be finite");
  expect_error(sp_threshold(ctx, &o, xi, 0.5f), SP_EDTYPE, "sp_threshold: x must be float32");
  expect_error(sp_threshold(ctx, &o, NULL, 0.5f), SP_EINVAL, "x is NULL");
  expect_error(sp_threshold(NULL, &o, x, 0.5f), SP_EINVAL, "NULL context");
  t_free_all((sp_tensor *[]){x, xi}, 2);
  sp_ctx_free(ctx);
}

/* ---- L_ortho ---- */
static int build_ortho(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_ortho_loss(ctx, out, in[0], *(const float *)arg);
}

/* -1/(C(C-1)) sum_{i != j} |n_i - n_j|^2, pair by pair, in double. */
static double ref_ortho(const float *e, int c, int d, double eps) {
  double sum = 0.0;
  for (int i = 0; i < c; i++)
    for (int j = 0; j < c; j++) {
      if (i == j) continue;
      double ni = 0, nj = 0, dist = 0;
      for (int k = 0; k < d; k++) ni += (double)e[i * d + k] * e[i * d + k];
      for (int k = 0; k < d; k++) nj += (double)e[j * d + k] * e[j * d + k];
      ni = fmax(sqrt(ni), eps), nj = fmax(sqrt(nj), eps);
      for (int k = 0; k < d; k++) {
        double t = e[i * d + k] / ni - e[j * d + k] / nj;
        dist += t * t;
      }
      sum += dist;
    }
  return -sum / ((double)c * (c - 1));
}

Test(intent, ortho_known_values) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  /* Unit rows (1, 0), (0, 1), (-1, 0) (the first two scaled: only directions count):
   * squared distances 2, 4, 2 per unordered pair, so L = -2 (2 + 4 + 2) / 6 = -8/3. */
  sp_tensor *e = t_from(2, SHAPE(3, 2), (float[]){3, 0, 0, 0.5f, -1, 0}), *o;
  cr_assert_eq(sp_ortho_loss(ctx, &o, e, 1e-8f), SP_OK, "%s", sp_last_error());
  expect_values("L_ortho", o, (float[]){-8.0f / 3.0f}, 1, 1e-6f);
  /* identical directions: no spread at all */
  sp_tensor *same = t_from(2, SHAPE(2, 3), (float[]){1, 2, 2, 2, 4, 4});
  cr_assert_eq(sp_ortho_loss(ctx, &o, same, 1e-8f), SP_OK);
  expect_values("L_ortho, one direction", o, (float[]){0}, 1, 1e-6f);
  /* a zero row is clamped to eps: n = 0, at distance 1 from each unit row */
  sp_tensor *zero = t_from(2, SHAPE(2, 2), (float[]){0, 0, 0, 7});
  cr_assert_eq(sp_ortho_loss(ctx, &o, zero, 1e-8f), SP_OK);
  expect_values("L_ortho, zero row", o, (float[]){-1}, 1, 1e-6f);
  t_free_all((sp_tensor *[]){e, same, zero}, 3);
  sp_ctx_free(ctx);
}

/* Random rows against the pair-by-pair reference, and against the cosine-matrix form: for unit
 * rows |n_i - n_j|^2 = 2 - 2 cos_ij, so L = 2 mean_{i != j} cos_ij - 2. */
Test(intent, ortho_matches_pairwise_reference_and_cosine_form) {
  enum { C = 9, D = 5 };
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *e = t_randn(21, 2, SHAPE(C, D), 0.7f), *o, *cos;
  cr_assert_eq(sp_ortho_loss(ctx, &o, e, 1e-8f), SP_OK, "%s", sp_last_error());
  double ref = ref_ortho(sp_tensor_f32(e), C, D, 1e-8);
  cr_expect(fabs(sp_tensor_f32(o)[0] - ref) <= 1e-5, "L_ortho %.8g vs pairwise %.8g",
            sp_tensor_f32(o)[0], ref);
  cr_assert_eq(sp_cosine_matrix(ctx, &cos, e, e, 1e-8f), SP_OK);
  double off = 0.0;
  for (int i = 0; i < C; i++)
    for (int j = 0; j < C; j++)
      if (i != j) off += sp_tensor_f32(cos)[i * C + j];
  double via_cos = 2.0 * off / (C * (C - 1)) - 2.0;
  cr_expect(fabs(sp_tensor_f32(o)[0] - via_cos) <= 1e-5, "L_ortho %.8g vs cosine form %.8g",
            sp_tensor_f32(o)[0], via_cos);
  sp_tensor_free(e);
  sp_ctx_free(ctx);
}

Test(intent, ortho_gradcheck) {
  float eps = 1e-8f;
  sp_tensor *e = t_randn(23, 2, SHAPE(6, 4), 1.0f);
  t_require_grad(&e, 1);
  gradcheck("ortho", build_ortho, &e, 1, &eps, (gradcheck_opts){0});
  /* a row whose norm (0.1) stays below eps (0.5) under the probe: a constant denominator */
  float *ed = sp_tensor_f32(e);
  double nr = 0;
  for (int k = 0; k < 4; k++) nr += (double)ed[8 + k] * ed[8 + k];
  for (int k = 0; k < 4; k++) ed[8 + k] *= (float)(0.1 / sqrt(nr));
  eps = 0.5f;
  gradcheck("ortho, clamped row", build_ortho, &e, 1, &eps, (gradcheck_opts){.eps = 1e-3f});
  sp_tensor_free(e);
}

Test(intent, ortho_one_intent_is_zero_with_zero_gradient) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *e = t_from(2, SHAPE(1, 3), (float[]){1, 2, 3}), *o;
  t_require_grad(&e, 1);
  cr_assert_eq(sp_ortho_loss(ctx, &o, e, 1e-8f), SP_OK, "%s", sp_last_error());
  expect_values("L_ortho, C = 1", o, (float[]){0}, 1, 0);
  cr_assert_eq(sp_backward(ctx, o), SP_OK, "%s", sp_last_error());
  expect_values("dL/de, C = 1", sp_tensor_grad(e), (float[3]){0}, 3, 0);
  sp_tensor_free(e);
  sp_ctx_free(ctx);
}

Test(intent, ortho_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *v = t_randn(1, 1, SHAPE(4), 1), *e = t_randn(2, 2, SHAPE(3, 2), 1), *o;
  sp_tensor *ei = t_from_i32(2, SHAPE(1, 2), (int32_t[]){0, 1});
  expect_error(sp_ortho_loss(ctx, &o, v, 1e-8f), SP_ESHAPE, "sp_ortho_loss: e (4) must be (C, D)");
  expect_error(sp_ortho_loss(ctx, &o, e, 0.0f), SP_EINVAL, "eps must be positive");
  expect_error(sp_ortho_loss(ctx, &o, e, NAN), SP_EINVAL, "eps must be positive");
  expect_error(sp_ortho_loss(ctx, &o, ei, 1e-8f), SP_EDTYPE, "e must be float32");
  expect_error(sp_ortho_loss(ctx, &o, NULL, 1e-8f), SP_EINVAL, "e is NULL");
  expect_error(sp_ortho_loss(ctx, NULL, e, 1e-8f), SP_EINVAL, "NULL context or output");
  t_free_all((sp_tensor *[]){v, e, ei}, 3);
  sp_ctx_free(ctx);
}

/* ---- the predictor: relevance, intent loss, fusion ---- */
typedef struct {
  sp_params *p;
  sp_intent_predictor m;
} predictor;

static predictor make_predictor(int d, int c, float tau, float dropout, uint64_t seed) {
  predictor r;
  sp_rng rng;
  sp_rng_init(&rng, seed);
  cr_assert_eq(sp_params_new(&r.p), SP_OK);
  cr_assert_eq(sp_intent_predictor_init(&r.m, r.p, "intent", d, c, tau, dropout, &rng), SP_OK, "%s",
               sp_last_error());
  return r;
}

static void set_values(sp_tensor *t, const float *v) {
  memcpy(sp_tensor_f32(t), v, (size_t)sp_tensor_numel(t) * sizeof(float));
}

Test(intent, predictor_parameters) {
  predictor r = make_predictor(4, 3, 0.5f, 0.1f, 1);
  const char *names[] = {"intent.intents",  "intent.q.weight",  "intent.k.weight",
                         "intent.v.weight", "intent.ln.weight", "intent.ln.bias"};
  const int rows[] = {3, 4, 4, 4, 4, 4};
  cr_expect_eq(sp_params_count(r.p), 6);
  for (int i = 0; i < 6; i++) {
    sp_tensor *t;
    cr_assert_eq(sp_params_find(r.p, names[i], &t), SP_OK, "%s", sp_last_error());
    cr_assert(t != NULL, "%s missing", names[i]);
    cr_expect_eq(sp_tensor_dim(t, 0), rows[i], "%s", names[i]);
    cr_expect_eq(sp_tensor_dim(t, -1), 4, "%s", names[i]);
  }
  cr_expect(r.m.q.bias == NULL && r.m.k.bias == NULL && r.m.v.bias == NULL, "no biases (Eq. 8)");
  cr_expect(r.m.tau == 0.5f && r.m.dropout == 0.1f);
  /* Xavier-uniform intents: within the bound, not all zero */
  const float *e = sp_tensor_f32(r.m.intents);
  float bound = sqrtf(6.0f / 7.0f), mx = 0;
  for (int i = 0; i < 12; i++) mx = fmaxf(mx, fabsf(e[i]));
  cr_expect(mx > 0 && mx <= bound, "max |e| = %g, bound %g", mx, bound);
  sp_intent_predictor m;
  sp_rng rng;
  sp_rng_init(&rng, 1);
  expect_error(sp_intent_predictor_init(&m, r.p, "intent", 4, 3, 0.5f, 0, &rng), SP_EINVAL,
               "already");
  expect_error(sp_intent_predictor_init(&m, r.p, "x", 0, 3, 0.5f, 0, &rng), SP_EINVAL,
               "sp_intent_predictor_init: d (0) and n_intents (3) must be >= 1");
  expect_error(sp_intent_predictor_init(&m, r.p, "x", 4, 0, 0.5f, 0, &rng), SP_EINVAL,
               "n_intents (0)");
  expect_error(sp_intent_predictor_init(&m, r.p, "x", 4, 3, NAN, 0, &rng), SP_EINVAL,
               "tau must be finite");
  expect_error(sp_intent_predictor_init(&m, r.p, "x", 4, 3, 0.5f, 1.0f, &rng), SP_EINVAL,
               "dropout must be in [0, 1)");
  expect_error(sp_intent_predictor_init(&m, r.p, "", 4, 3, 0.5f, 0, &rng), SP_EINVAL,
               "name is empty");
  expect_error(sp_intent_predictor_init(&m, NULL, "x", 4, 3, 0.5f, 0, &rng), SP_EINVAL,
               "NULL argument");
  sp_params_free(r.p);
}

Test(intent, relevance_known_values) {
  predictor r = make_predictor(2, 2, 0.5f, 0, 1);
  /* W_q h = (h0, 2 h1), W_k e = (e1, e0) */
  set_values(r.m.q.weight, (float[]){1, 0, 0, 2});
  set_values(r.m.k.weight, (float[]){0, 1, 1, 0});
  set_values(r.m.intents, (float[]){1, 0, 0.5f, -1}); /* k_0 = (0, 1), k_1 = (-1, 0.5) */
  sp_tensor *h = t_from(2, SHAPE(2, 2), (float[]){1, 1, 0, -1}), *logits, *yhat;
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  cr_assert_eq(sp_intent_relevance(ctx, &logits, &yhat, &r.m, h), SP_OK, "%s", sp_last_error());
  /* q = (1, 2): logits (2, 0); q = (0, -2): logits (-2, -1) */
  expect_values("logits", logits, (float[]){2, 0, -2, -1}, 4, 1e-6f);
  expect_values("yhat", yhat, (float[]){0.88079708f, 0.5f, 0.11920292f, 0.26894142f}, 4, 1e-6f);
  cr_assert_eq(sp_intent_relevance(ctx, &logits, NULL, &r.m, h), SP_OK, "yhat is optional");
  expect_values("logits, no yhat", logits, (float[]){2, 0, -2, -1}, 4, 1e-6f);
  sp_tensor_free(h);
  sp_ctx_free(ctx);
  sp_params_free(r.p);
}

typedef struct {
  sp_intent_predictor *m;
  int probs; /* 1: yhat, 0: logits */
} rel_arg;

static int build_relevance(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const rel_arg *a = arg;
  sp_tensor *logits, *yhat;
  int rc = sp_intent_relevance(ctx, &logits, a->probs ? &yhat : NULL, a->m, in[0]);
  if (rc == SP_OK) *out = a->probs ? yhat : logits;
  return rc;
}

/* Gradients of the composition reach h, E_G, W_q and W_k. */
Test(intent, relevance_gradcheck) {
  predictor r = make_predictor(4, 5, 0.5f, 0, 2);
  sp_tensor *in[4] = {t_randn(3, 2, SHAPE(3, 4), 1.0f), r.m.intents, r.m.q.weight, r.m.k.weight};
  t_require_grad(in, 1);
  gradcheck("relevance logits", build_relevance, in, 4, &(rel_arg){&r.m, 0}, (gradcheck_opts){0});
  gradcheck("relevance yhat", build_relevance, in, 4, &(rel_arg){&r.m, 1}, (gradcheck_opts){0});
  sp_tensor_free(in[0]);
  sp_params_free(r.p);
}

/* Eq. 10 over the labelled sessions: sp_bce_logits on the relevance logits with soft labels and
 * weight 1 on labelled rows, 0 on the others, is the mean over labelled sessions of
 * -1/|G| sum_c [y log yhat + (1 - y) log(1 - yhat)]; an unlabelled session gets no gradient. */
Test(intent, intent_loss_soft_labels_and_unlabelled_rows) {
  enum { B = 4, C = 3, D = 4 };
  predictor r = make_predictor(D, C, 0.5f, 0, 3);
  sp_tensor *h = t_randn(4, 2, SHAPE(B, D), 1.0f);
  sp_tensor *y =
      t_from(2, SHAPE(B, C), (float[]){1, 0, 0, 0.25f, 0.8f, 0.5f, 0, 0, 0, 0.1f, 1, 0.3f});
  const int labelled[B] = {1, 1, 0, 1}; /* session 2 has no intents yet */
  sp_tensor *w;
  sp_tensor_new(&w, SP_F32, 2, SHAPE(B, C));
  for (int i = 0; i < B * C; i++) sp_tensor_f32(w)[i] = (float)labelled[i / C];
  t_require_grad(&h, 1);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *logits, *yhat, *loss;
  cr_assert_eq(sp_intent_relevance(ctx, &logits, &yhat, &r.m, h), SP_OK, "%s", sp_last_error());
  cr_assert_eq(sp_bce_logits(ctx, &loss, logits, y, w), SP_OK, "%s", sp_last_error());
  double ref = 0.0;
  int n = 0;
  for (int b = 0; b < B; b++) {
    if (!labelled[b]) continue;
    double row = 0.0;
    for (int c = 0; c < C; c++) {
      double p = sigmoid_d(sp_tensor_f32(logits)[b * C + c]), t = sp_tensor_f32(y)[b * C + c];
      row += t * log(p) + (1 - t) * log(1 - p);
    }
    ref += -row / C, n++;
  }
  ref /= n;
  cr_expect(fabs(sp_tensor_f32(loss)[0] - ref) <= 1e-6, "L_intent %.8g vs Eq. 10 %.8g",
            sp_tensor_f32(loss)[0], ref);
  cr_assert_eq(sp_backward(ctx, loss), SP_OK, "%s", sp_last_error());
  const float *gh = sp_tensor_f32(sp_tensor_grad(h));
  for (int k = 0; k < D; k++) cr_expect_eq(gh[2 * D + k], 0.0f, "unlabelled session's dh[%d]", k);
  double gn = 0;
  for (int k = 0; k < D; k++) gn += fabs(gh[k]);
  cr_expect(gn > 0, "a labelled session gets a gradient");
  t_free_all((sp_tensor *[]){h, y, w}, 3);
  sp_ctx_free(ctx);
  sp_params_free(r.p);
}

typedef struct {
  sp_intent_predictor *m;
  sp_tensor *labels, *weight;
} loss_arg;

static int build_intent_loss(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  const loss_arg *a = arg;
  sp_tensor *logits;
  int rc = sp_intent_relevance(ctx, &logits, NULL, a->m, in[0]);
  return rc ? rc : sp_bce_logits(ctx, out, logits, a->labels, a->weight);
}

Test(intent, intent_loss_gradcheck) {
  enum { B = 3, C = 4, D = 3 };
  predictor r = make_predictor(D, C, 0.5f, 0, 4);
  sp_tensor *y = t_randn(5, 2, SHAPE(B, C), 1.0f), *w;
  for (int i = 0; i < B * C; i++) sp_tensor_f32(y)[i] = (float)sigmoid_d(sp_tensor_f32(y)[i]);
  sp_tensor_new(&w, SP_F32, 2, SHAPE(B, C));
  for (int i = 0; i < B * C; i++) sp_tensor_f32(w)[i] = i / C == 1 ? 0.0f : 1.0f;
  sp_tensor *in[4] = {t_randn(6, 2, SHAPE(B, D), 1.0f), r.m.intents, r.m.q.weight, r.m.k.weight};
  t_require_grad(in, 1);
  gradcheck("intent loss", build_intent_loss, in, 4, &(loss_arg){&r.m, y, w}, (gradcheck_opts){0});
  t_free_all((sp_tensor *[]){in[0], y, w}, 3);
  sp_params_free(r.p);
}

/* h~ = h + LayerNorm(h + phi(yhat) E W_v^T) (ln weight, bias), dropout off, in double. */
static void ref_fuse(double *out, const float *h, const float *yhat, const float *e,
                     const float *wv, const float *lw, const float *lb, int B, int C, int d,
                     double tau) {
  for (int b = 0; b < B; b++) {
    double x[64], mean = 0, var = 0;
    for (int j = 0; j < d; j++) {
      double acc = h[b * d + j];
      for (int c = 0; c < C; c++) {
        double p = yhat[b * C + c] > tau ? yhat[b * C + c] : 0.0, v = 0;
        for (int k = 0; k < d; k++) v += (double)wv[j * d + k] * e[c * d + k];
        acc += p * v;
      }
      x[j] = acc, mean += acc;
    }
    mean /= d;
    for (int j = 0; j < d; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= d;
    for (int j = 0; j < d; j++)
      out[b * d + j] = h[b * d + j] + (x[j] - mean) / sqrt(var + 1e-5) * lw[j] + lb[j];
  }
}

Test(intent, fuse_known_values) {
  predictor r = make_predictor(2, 2, 0.5f, 0.3f, 1);
  set_values(r.m.v.weight, (float[]){1, 0, 0, 1}); /* V = E */
  set_values(r.m.intents, (float[]){1, 0, 0.5f, -1});
  /* yhat (0.8, 0.5): phi keeps 0.8, drops 0.5 (not > tau); x = (1, 1) + 0.8 (1, 0) = (1.8, 1);
   * LayerNorm: mean 1.4, var 0.16, so (+-0.4 / sqrt(0.16 + 1e-5)); h~ = h + that. */
  sp_tensor *h = t_from(2, SHAPE(1, 2), (float[]){1, 1});
  sp_tensor *yhat = t_from(2, SHAPE(1, 2), (float[]){0.8f, 0.5f}), *out;
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_ctx_set_training(ctx, 0); /* dropout off */
  cr_assert_eq(sp_intent_fuse(ctx, &out, &r.m, h, yhat), SP_OK, "%s", sp_last_error());
  float z = 0.4f / sqrtf(0.16f + 1e-5f);
  expect_values("h~", out, (float[]){1 + z, 1 - z}, 2, 1e-5f);
  t_free_all((sp_tensor *[]){h, yhat}, 2);
  sp_ctx_free(ctx);
  sp_params_free(r.p);
}

Test(intent, fuse_matches_reference_and_dropout_only_in_training) {
  enum { B = 5, C = 6, D = 8 };
  predictor r = make_predictor(D, C, 0.5f, 0.5f, 6);
  sp_rng rng;
  sp_rng_init(&rng, 9);
  sp_tensor_fill_normal(r.m.ln.weight, &rng, 1.0f, 0.3f);
  sp_tensor_fill_normal(r.m.ln.bias, &rng, 0.0f, 0.3f);
  sp_tensor *h = t_randn(7, 2, SHAPE(B, D), 1.0f), *yhat;
  sp_tensor_new(&yhat, SP_F32, 2, SHAPE(B, C));
  sp_tensor_fill_uniform(yhat, &rng, 0.0f, 1.0f);
  double ref[B * D];
  ref_fuse(ref, sp_tensor_f32(h), sp_tensor_f32(yhat), sp_tensor_f32(r.m.intents),
           sp_tensor_f32(r.m.v.weight), sp_tensor_f32(r.m.ln.weight), sp_tensor_f32(r.m.ln.bias), B,
           C, D, 0.5);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *out;
  sp_ctx_set_training(ctx, 0);
  cr_assert_eq(sp_intent_fuse(ctx, &out, &r.m, h, yhat), SP_OK, "%s", sp_last_error());
  for (int i = 0; i < B * D; i++)
    cr_expect(fabs(sp_tensor_f32(out)[i] - ref[i]) <= 1e-5, "h~[%d] = %.7g, reference %.7g", i,
              sp_tensor_f32(out)[i], ref[i]);
  /* training: g is dropped (p = 0.5) or doubled, element by element: h~ - h in {0, 2 g} */
  sp_ctx_set_training(ctx, 1);
  cr_assert_eq(sp_intent_fuse(ctx, &out, &r.m, h, yhat), SP_OK, "%s", sp_last_error());
  int dropped = 0;
  for (int i = 0; i < B * D; i++) {
    double g = ref[i] - sp_tensor_f32(h)[i], got = sp_tensor_f32(out)[i] - sp_tensor_f32(h)[i];
    int zero = fabs(got) <= 1e-6, twice = fabs(got - 2 * g) <= 1e-4;
    cr_expect(zero || twice, "h~[%d] - h = %.7g is neither 0 nor 2 g = %.7g", i, got, 2 * g);
    dropped += zero;
  }
  cr_expect(dropped > 0 && dropped < B * D, "dropout dropped %d of %d", dropped, B * D);
  t_free_all((sp_tensor *[]){h, yhat}, 2);
  sp_ctx_free(ctx);
  sp_params_free(r.p);
}

static int build_fuse(sp_ctx *ctx, sp_tensor **out, sp_tensor **in, const void *arg) {
  return sp_intent_fuse(ctx, out, arg, in[0], in[1]);
}

/* Gradients reach h, yhat (through phi, where yhat > tau), E_G, W_v and the layer norm, with
 * dropout on (the harness replays the same mask). */
Test(intent, fuse_gradcheck) {
  enum { B = 3, C = 4, D = 4 };
  predictor r = make_predictor(D, C, 0.5f, 0.2f, 8);
  sp_tensor *yhat = t_randn(9, 2, SHAPE(B, C), 1.0f);
  float *yd = sp_tensor_f32(yhat);
  for (int i = 0; i < B * C; i++) /* at least 0.05 from tau: the probe is 1e-2 */
    yd[i] = (i % 3 ? 0.55f : 0.05f) + 0.4f * (float)sigmoid_d(yd[i]);
  sp_tensor *h = t_randn(10, 2, SHAPE(B, D), 1.0f);
  sp_tensor *in[6] = {h, yhat, r.m.intents, r.m.v.weight, r.m.ln.weight, r.m.ln.bias};
  t_require_grad(in, 2);
  gradcheck("fuse", build_fuse, in, 6, &r.m, (gradcheck_opts){.eps = 3e-3f, .atol = 2e-3f});
  t_free_all(in, 2);
  sp_params_free(r.p);
}

Test(intent, relevance_and_fuse_errors) {
  predictor r = make_predictor(4, 3, 0.5f, 0, 1);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *h = t_randn(1, 2, SHAPE(2, 4), 1), *h5 = t_randn(2, 2, SHAPE(2, 5), 1), *o, *y;
  sp_tensor *yhat = t_randn(3, 2, SHAPE(2, 3), 1), *y4 = t_randn(4, 2, SHAPE(2, 4), 1);
  sp_tensor *hi = t_from_i32(2, SHAPE(1, 4), (int32_t[]){0, 1, 2, 3});
  expect_error(sp_intent_relevance(ctx, &o, &y, &r.m, h5), SP_ESHAPE,
               "sp_intent_relevance: h (2, 5) must be (B, d) for intents (3, 4)");
  expect_error(sp_intent_relevance(ctx, &o, &y, &r.m, hi), SP_EDTYPE, "h must be float32");
  expect_error(sp_intent_relevance(ctx, &o, &y, NULL, h), SP_EINVAL, "uninitialised predictor");
  expect_error(sp_intent_relevance(NULL, &o, &y, &r.m, h), SP_EINVAL, "NULL context");
  expect_error(sp_intent_fuse(ctx, &o, &r.m, h, y4), SP_ESHAPE,
               "sp_intent_fuse: yhat (2, 4) must be (B, C) = (2, 3)");
  expect_error(sp_intent_fuse(ctx, &o, &r.m, h5, yhat), SP_ESHAPE, "sp_intent_fuse: h (2, 5)");
  expect_error(sp_intent_fuse(ctx, &o, &r.m, h, NULL), SP_EINVAL, "yhat is NULL");
  sp_intent_predictor blank;
  memset(&blank, 0, sizeof blank);
  expect_error(sp_intent_fuse(ctx, &o, &blank, h, yhat), SP_EINVAL, "uninitialised predictor");
  t_free_all((sp_tensor *[]){h, h5, yhat, y4, hi}, 5);
  sp_ctx_free(ctx);
  sp_params_free(r.p);
}

/* ---- enrichment ---- */
/* h (1, 0), (1, 0), (0, 1), (-1, 0): cos row 0 = (., 1, 0, -1), row 1 = (1, ., 0, -1),
 * row 2 = (0, 0, ., 0), row 3 = (-1, -1, 0, .). With yhat = I (C = B) a label row shows its
 * neighbours' weights in their columns. */
static const float H4[] = {1, 0, 1, 0, 0, 1, -1, 0};
static const float I4[] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

static void enrich_case(const char *what, int rows, int k, int mode, const float *h_vals,
                        const float *yhat_vals, const float *expect) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *h = t_from(2, SHAPE(4, 2), h_vals), *yhat = t_from(2, SHAPE(4, 4), yhat_vals), *lab;
  sp_tensor_new(&lab, SP_F32, 2, SHAPE(4, 4));
  sp_tensor_fill(lab, 9.0f); /* every element must be written */
  cr_assert_eq(sp_intent_enrich(ctx, lab, yhat, h, rows, k, mode), SP_OK, "%s: %s", what,
               sp_last_error());
  expect_values(what, lab, expect, 16, 1e-6f);
  t_free_all((sp_tensor *[]){h, yhat, lab}, 3);
  sp_ctx_free(ctx);
}

Test(intent, enrich_known_neighbours_and_weights) {
  const float a = 0.73105858f, b = 0.26894142f; /* e / (e + 1), 1 / (e + 1) */
  /* k = 2: row 0 -> rows 1 (cos 1), 2 (cos 0); row 1 -> 0, 2; row 2: three ties at 0, the
   * lower rows 0, 1 win, equal weights; row 3 -> 2 (cos 0), then 0 over 1 (tie at -1). */
  const float nbr2[] = {0, a, b, 0, a, 0, b, 0, 0.5f, 0.5f, 0, 0, b, 0, a, 0};
  enrich_case("neighbours only, k = 2", 4, 2, SP_ENRICH_NEIGHBOURS, H4, I4, nbr2);
  float both[16];
  for (int i = 0; i < 16; i++) both[i] = 0.5f * (I4[i] + nbr2[i]);
  enrich_case("both (Eq. 14), k = 2", 4, 2, SP_ENRICH_BOTH, H4, I4, both);
  /* k = 5 > B - 1: every other row; row 0's weights softmax(1, 0, -1), row 2's uniform */
  const double z = exp(1.0) + 1.0 + exp(-1.0);
  const float p1 = (float)(exp(1.0) / z), p0 = (float)(1.0 / z), pm = (float)(exp(-1.0) / z);
  const float t = 1.0f / 3.0f;
  const float all[] = {0, p1, p0, pm, p1, 0, p0, pm, t, t, 0, t, pm, pm, p1, 0};
  /* row 3: cos (-1, -1, 0) -> (e^-1, e^-1, 1) / z' */
  const double z3 = 2 * exp(-1.0) + 1.0;
  float all3[16];
  memcpy(all3, all, sizeof all3);
  all3[12] = all3[13] = (float)(exp(-1.0) / z3), all3[14] = (float)(1.0 / z3);
  enrich_case("neighbours only, k = 5 > B - 1", 4, 5, SP_ENRICH_NEIGHBOURS, H4, I4, all3);
  /* k = 0: no neighbours (the paper's K = 0): y = yhat; the self mode ignores k */
  enrich_case("both, k = 0", 4, 0, SP_ENRICH_BOTH, H4, I4, I4);
  enrich_case("self only", 4, 3, SP_ENRICH_SELF, H4, I4, I4);
}

/* Soft predictions: labels = (yhat_S + sum_j w_j yhat_j) / 2, by hand for row 0. */
Test(intent, enrich_soft_predictions) {
  const float y[] = {0.9f, 0.1f, 0.2f, 0.6f, 0.4f, 0.8f, 0.3f, 0.5f,
                     0.0f, 1.0f, 0.7f, 0.2f, 0.5f, 0.5f, 0.5f, 0.5f};
  const float a = 0.73105858f, b = 0.26894142f;
  float expect[16];
  /* k = 1: row 0 -> row 1; row 1 -> row 0; row 2 -> row 0 (tie); row 3 -> row 2 */
  const int nb[4] = {1, 0, 0, 2};
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) expect[r * 4 + c] = 0.5f * (y[r * 4 + c] + y[nb[r] * 4 + c]);
  enrich_case("both, k = 1", 4, 1, SP_ENRICH_BOTH, H4, y, expect);
  /* k = 2, row 0: (y0 + a y1 + b y2) / 2 */
  float e2[16];
  const int n2[4][2] = {{1, 2}, {0, 2}, {0, 1}, {2, 0}};
  const float w2[4][2] = {{a, b}, {a, b}, {0.5f, 0.5f}, {a, b}};
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      e2[r * 4 + c] =
          0.5f * (y[r * 4 + c] + w2[r][0] * y[n2[r][0] * 4 + c] + w2[r][1] * y[n2[r][1] * 4 + c]);
  enrich_case("both, k = 2", 4, 2, SP_ENRICH_BOTH, H4, y, e2);
}

/* Rows past `rows` are batch padding: nobody's neighbour, labels 0, their values unchecked. */
Test(intent, enrich_padding_rows) {
  const float a = 0.73105858f, b = 0.26894142f;
  /* row 3 (padding) has h = (1, 0): it would be row 0's best neighbour at a tie with row 1 and
   * beat row 2; its yhat is not a probability and would be an error on a real row */
  const float h[] = {1, 0, 1, 0, 0, 1, 1, 0};
  const float y[] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 7, NAN, -1, 0};
  const float expect[] = {0, a, b, 0, a, 0, b, 0, 0.5f, 0.5f, 0, 0, 0, 0, 0, 0};
  enrich_case("neighbours, rows = 3, k = 3", 3, 3, SP_ENRICH_NEIGHBOURS, h, y, expect);
  /* one real row: no neighbour, it keeps its own prediction in every mode */
  const float one[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  enrich_case("neighbours, rows = 1", 1, 2, SP_ENRICH_NEIGHBOURS, h, y, one);
  enrich_case("both, rows = 1", 1, 2, SP_ENRICH_BOTH, h, y, one);
  const float none[16] = {0};
  enrich_case("rows = 0", 0, 2, SP_ENRICH_BOTH, h, y, none);
}

/* A batch of the paper's size against a naive reference, and the same bits on 1 or 2 threads. */
Test(intent, enrich_matches_reference_and_is_deterministic) {
  enum { B = 300, C = 24, D = 16, K = 5, ROWS = 290 }; /* rows k C > SP_PAR_MIN: parallel mixing */
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *h = t_randn(31, 2, SHAPE(B, D), 1.0f), *yhat, *lab[2];
  sp_rng rng;
  sp_rng_init(&rng, 32);
  sp_tensor_new(&yhat, SP_F32, 2, SHAPE(B, C));
  sp_tensor_fill_uniform(yhat, &rng, 0.0f, 1.0f);
  const float *hd = sp_tensor_f32(h), *y = sp_tensor_f32(yhat);
  int threads = sp_get_num_threads();
  for (int t = 0; t < 2; t++) {
    sp_set_num_threads(t + 1);
    sp_tensor_new(&lab[t], SP_F32, 2, SHAPE(B, C));
    cr_assert_eq(sp_intent_enrich(ctx, lab[t], yhat, h, ROWS, K, SP_ENRICH_BOTH), SP_OK, "%s",
                 sp_last_error());
  }
  sp_set_num_threads(threads);
  cr_expect(memcmp(sp_tensor_f32(lab[0]), sp_tensor_f32(lab[1]), sizeof(float) * B * C) == 0,
            "1 and 2 threads differ");
  /* naive: all cosines in double, selection by repeated argmax (ties to the lower row) */
  double norm[B];
  for (int i = 0; i < ROWS; i++) {
    double s = 0;
    for (int k = 0; k < D; k++) s += (double)hd[i * D + k] * hd[i * D + k];
    norm[i] = sqrt(s);
  }
  int bad = 0;
  for (int r = 0; r < ROWS; r++) {
    double sim[B];
    int used[B] = {0}, nb[K];
    for (int j = 0; j < ROWS; j++) {
      double s = 0;
      for (int k = 0; k < D; k++) s += (double)hd[r * D + k] * hd[j * D + k];
      sim[j] = s / (norm[r] * norm[j]);
    }
    used[r] = 1;
    double z = 0;
    for (int n = 0; n < K; n++) {
      int best = -1;
      for (int j = 0; j < ROWS; j++)
        if (!used[j] && (best < 0 || sim[j] > sim[best])) best = j;
      used[best] = 1, nb[n] = best;
      z += exp(sim[best] - sim[nb[0]]);
    }
    for (int c = 0; c < C; c++) {
      double mix = 0;
      for (int n = 0; n < K; n++) mix += exp(sim[nb[n]] - sim[nb[0]]) / z * y[nb[n] * C + c];
      double want = 0.5 * (y[r * C + c] + mix), got = sp_tensor_f32(lab[0])[r * C + c];
      if (fabs(got - want) > 1e-5 && bad++ < 5)
        cr_log_error("labels[%d][%d] = %.7g, reference %.7g", r, c, got, want);
    }
  }
  cr_expect_eq(bad, 0, "%d labels differ from the reference", bad);
  for (int i = ROWS * C; i < B * C; i++) cr_expect_eq(sp_tensor_f32(lab[0])[i], 0.0f);
  t_free_all((sp_tensor *[]){h, yhat, lab[0], lab[1]}, 4);
  sp_ctx_free(ctx);
}

Test(intent, enrich_records_nothing) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *h = t_from(2, SHAPE(4, 2), H4), *yhat = t_from(2, SHAPE(4, 4), I4), *lab;
  sp_tensor_new(&lab, SP_F32, 2, SHAPE(4, 4));
  t_require_grad((sp_tensor *[]){h, yhat}, 2);
  cr_assert_eq(sp_intent_enrich(ctx, lab, yhat, h, 4, 2, SP_ENRICH_BOTH), SP_OK, "%s",
               sp_last_error());
  sp_ctx_stats st;
  sp_ctx_get_stats(ctx, &st);
  cr_expect_eq(st.tape_len, 0, "labels carry no gradient");
  cr_expect_eq(sp_tensor_requires_grad(lab), 0);
  t_free_all((sp_tensor *[]){h, yhat, lab}, 3);
  sp_ctx_free(ctx);
}

Test(intent, enrich_errors) {
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 1);
  sp_tensor *h = t_from(2, SHAPE(4, 2), H4), *yhat = t_from(2, SHAPE(4, 4), I4), *lab, *lab3;
  sp_tensor *h3 = t_randn(1, 2, SHAPE(3, 2), 1), *hv = t_randn(2, 1, SHAPE(8), 1);
  sp_tensor *hi = t_from_i32(2, SHAPE(4, 1), (int32_t[]){0, 1, 2, 3});
  sp_tensor_new(&lab, SP_F32, 2, SHAPE(4, 4));
  sp_tensor_new(&lab3, SP_F32, 2, SHAPE(4, 3));
  expect_error(sp_intent_enrich(ctx, lab, yhat, h3, 4, 2, 0), SP_ESHAPE,
               "sp_intent_enrich: yhat (4, 4) and h (3, 2) must be (B, C) and (B, d)");
  expect_error(sp_intent_enrich(ctx, lab, yhat, hv, 4, 2, 0), SP_ESHAPE, "h (8)");
  expect_error(sp_intent_enrich(ctx, lab3, yhat, h, 4, 2, 0), SP_ESHAPE,
               "labels (4, 3) must have the shape of yhat (4, 4)");
  expect_error(sp_intent_enrich(ctx, lab, yhat, hi, 4, 2, 0), SP_EDTYPE, "h must be float32");
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 5, 2, 0), SP_EINVAL,
               "rows = 5 must be in [0, 4]");
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, -1, 2, 0), SP_EINVAL, "rows = -1");
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, -1, 0), SP_EINVAL, "k = -1 must be >= 0");
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, 2, 3), SP_EINVAL, "unknown mode 3");
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, 0, SP_ENRICH_NEIGHBOURS), SP_EINVAL,
               "the neighbours-only mode needs k >= 1");
  expect_error(sp_intent_enrich(ctx, yhat, yhat, h, 4, 2, 0), SP_EINVAL,
               "labels must not share memory with yhat or h");
  sp_tensor_f32(yhat)[6] = 1.5f;
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, 2, 0), SP_EINVAL,
               "yhat[1][2] = 1.5 is not a probability in [0, 1]");
  sp_tensor_f32(yhat)[6] = NAN;
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, 2, 0), SP_EINVAL, "yhat[1][2] = nan");
  sp_tensor_f32(yhat)[6] = 0.0f;
  sp_tensor_f32(h)[5] = INFINITY;
  expect_error(sp_intent_enrich(ctx, lab, yhat, h, 4, 2, 0), SP_EINVAL,
               "h[2][1] = inf is not finite");
  expect_error(sp_intent_enrich(ctx, lab, NULL, h, 4, 2, 0), SP_EINVAL, "yhat is NULL");
  expect_error(sp_intent_enrich(NULL, lab, yhat, h, 4, 2, 0), SP_EINVAL, "NULL context");
  t_free_all((sp_tensor *[]){h, yhat, lab, lab3, h3, hv, hi}, 7);
  sp_ctx_free(ctx);
}
