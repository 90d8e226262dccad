/* intent.c — SPRINT's Stage 2 intent predictor (section 4.2) built from ops: session-intent
 * relevance (Eq. 8-9), intent fusion (Eq. 15) and the no-grad collaborative enrichment of its
 * labels (Eq. 12-14). L_intent is sp_bce_logits on the relevance logits and L_ortho is
 * sp_ortho_loss on the intent embeddings; each piece is its own call, so a recipe (an
 * ablation) leaves any of them out. The struct only points at tensors of a parameter store. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "internal.h"

#define NAME_MAX_LEN 200

static int child(char *buf, const char *op, const char *name, const char *part) {
  if (!name || !*name) return SP_FAIL(SP_EINVAL, "%s: the name is empty", op);
  if (snprintf(buf, NAME_MAX_LEN, "%s.%s", name, part) >= NAME_MAX_LEN)
    return SP_FAIL(SP_EINVAL, "%s: name '%s' is too long", op, name);
  return SP_OK;
}

int sp_intent_predictor_init(sp_intent_predictor *m, sp_params *p, const char *name, int d,
                             int n_intents, float tau, float dropout, sp_rng *rng) {
  const char *op = "sp_intent_predictor_init";
  if (!m || !p || !rng) return SP_FAIL(SP_EINVAL, "%s: NULL argument", op);
  memset(m, 0, sizeof *m);
  if (d < 1 || n_intents < 1)
    return SP_FAIL(SP_EINVAL, "%s: d (%d) and n_intents (%d) must be >= 1", op, d, n_intents);
  if (!isfinite(tau)) return SP_FAIL(SP_EINVAL, "%s: tau must be finite, got %g", op, (double)tau);
  if (!(dropout >= 0.0f && dropout < 1.0f))
    return SP_FAIL(SP_EINVAL, "%s: dropout must be in [0, 1), got %g", op, (double)dropout);
  char buf[NAME_MAX_LEN];
  sp_intent_predictor t = {.tau = tau, .dropout = dropout};
  SP_TRY(child(buf, op, name, "intents"));
  SP_TRY(sp_params_create(p, &t.intents, buf, 2, (int[]){n_intents, d}));
  /* Xavier-uniform like the projections: q . k starts O(1), so sigmoid is neither flat at
   * 0.5 (where phi's threshold would split the intents at random) nor saturated. */
  float bound = sqrtf(6.0f / (float)(n_intents + d));
  SP_TRY(sp_tensor_fill_uniform(t.intents, rng, -bound, bound));
  SP_TRY(child(buf, op, name, "q"));
  SP_TRY(sp_linear_layer_init(&t.q, p, buf, d, d, 0, rng));
  SP_TRY(child(buf, op, name, "k"));
  SP_TRY(sp_linear_layer_init(&t.k, p, buf, d, d, 0, rng));
  SP_TRY(child(buf, op, name, "v"));
  SP_TRY(sp_linear_layer_init(&t.v, p, buf, d, d, 0, rng));
  SP_TRY(child(buf, op, name, "ln"));
  SP_TRY(sp_layernorm_layer_init(&t.ln, p, buf, d, 1e-5f));
  *m = t;
  return SP_OK;
}

/* The predictor's tensors are there, and h is (B, d) float32 for its width d. */
static int check_model(sp_ctx *ctx, const char *op, const sp_intent_predictor *m, sp_tensor *h) {
  if (!m || !m->intents || !m->q.weight || !m->k.weight || !m->v.weight || !m->ln.weight ||
      !m->ln.bias)
    return SP_FAIL(SP_EINVAL, "%s: NULL or uninitialised predictor", op);
  SP_OP_F32(ctx, op, h); /* the ops below run on the context's device */
  char sh[64], se[64];
  if (h->ndim != 2 || h->shape[1] != m->intents->shape[1])
    return SP_FAIL(SP_ESHAPE, "%s: h %s must be (B, d) for intents %s", op, sp_shape_str(h, sh),
                   sp_shape_str(m->intents, se));
  return SP_OK;
}

int sp_intent_relevance(sp_ctx *ctx, sp_tensor **logits, sp_tensor **yhat,
                        const sp_intent_predictor *m, sp_tensor *h) {
  const char *op = "sp_intent_relevance";
  SP_CHECK_CTX(ctx, op, logits);
  if (yhat) *yhat = NULL;
  SP_TRY(check_model(ctx, op, m, h));
  sp_tensor *q, *k, *l;
  SP_TRY(sp_linear(ctx, &q, h, m->q.weight, NULL));          /* (B, d): q_S = W_q h_S */
  SP_TRY(sp_linear(ctx, &k, m->intents, m->k.weight, NULL)); /* (C, d): k_c = W_k e_c */
  SP_TRY(sp_matmul(ctx, &l, q, k, 0, 1));                    /* (B, C): q_S . k_c */
  if (yhat) SP_TRY(sp_sigmoid(ctx, yhat, l));                /* Eq. 9 */
  *logits = l;
  return SP_OK;
}

int sp_intent_fuse(sp_ctx *ctx, sp_tensor **h_tilde, const sp_intent_predictor *m, sp_tensor *h,
                   sp_tensor *yhat) {
  const char *op = "sp_intent_fuse";
  SP_CHECK_CTX(ctx, op, h_tilde);
  SP_TRY(check_model(ctx, op, m, h));
  SP_OP_F32(ctx, op, yhat);
  char sy[64], sh[64];
  int B = h->shape[0], C = m->intents->shape[0];
  if (yhat->ndim != 2 || yhat->shape[0] != B || yhat->shape[1] != C)
    return SP_FAIL(SP_ESHAPE, "%s: yhat %s must be (B, C) = (%d, %d) for h %s and %d intents", op,
                   sp_shape_str(yhat, sy), B, C, sp_shape_str(h, sh), C);
  sp_tensor *v, *f, *mix, *x, *n, *g;
  SP_TRY(sp_linear(ctx, &v, m->intents, m->v.weight, NULL)); /* (C, d): v_c = W_v e_c */
  SP_TRY(sp_threshold(ctx, &f, yhat, m->tau));               /* (B, C): phi(yhat) */
  SP_TRY(sp_matmul(ctx, &mix, f, v, 0, 0));                  /* (B, d): sum_c phi v_c */
  SP_TRY(sp_add(ctx, &x, h, mix));
  SP_TRY(sp_layernorm_layer_forward(ctx, &n, &m->ln, x));
  SP_TRY(sp_dropout(ctx, &g, n, m->dropout)); /* g_S (Eq. 15) */
  return sp_add(ctx, h_tilde, h, g);          /* h~_S = h_S + g_S */
}

/* True when the float ranges of a and b share memory (views share their base's data). */
static int overlaps(const sp_tensor *a, const sp_tensor *b) {
  const char *a0 = a->data, *b0 = b->data;
  const char *a1 = a0 + a->numel * (int64_t)sizeof(float),
             *b1 = b0 + b->numel * (int64_t)sizeof(float);
  return a->numel > 0 && b->numel > 0 && a0 < b1 && b0 < a1;
}

int sp_intent_enrich(sp_ctx *ctx, sp_tensor *labels, sp_tensor *yhat, sp_tensor *h, int rows, int k,
                     int mode) {
  const char *op = "sp_intent_enrich";
  if (!ctx) return SP_FAIL(SP_EINVAL, "%s: NULL context", op);
  sp_tensor *given = labels; /* host labels on a GPU context: computed there, copied back */
  SP_OP_F32(ctx, op, labels);
  SP_OP_F32(ctx, op, yhat);
  SP_OP_F32(ctx, op, h);
  char sl[64], sy[64], sh[64];
  if (yhat->ndim != 2 || h->ndim != 2 || h->shape[0] != yhat->shape[0] || h->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: yhat %s and h %s must be (B, C) and (B, d) with d >= 1", op,
                   sp_shape_str(yhat, sy), sp_shape_str(h, sh));
  if (!sp_same_shape(labels, yhat))
    return SP_FAIL(SP_ESHAPE, "%s: labels %s must have the shape of yhat %s", op,
                   sp_shape_str(labels, sl), sp_shape_str(yhat, sy));
  const int B = yhat->shape[0], C = yhat->shape[1], d = h->shape[1];
  if (rows < 0 || rows > B)
    return SP_FAIL(SP_EINVAL, "%s: rows = %d must be in [0, %d] (the batch's real rows)", op, rows,
                   B);
  if (k < 0) return SP_FAIL(SP_EINVAL, "%s: k = %d must be >= 0", op, k);
  if (mode < SP_ENRICH_BOTH || mode > SP_ENRICH_NEIGHBOURS)
    return SP_FAIL(SP_EINVAL, "%s: unknown mode %d (0 both, 1 self, 2 neighbours)", op, mode);
  if (mode == SP_ENRICH_NEIGHBOURS && k == 0)
    return SP_FAIL(SP_EINVAL, "%s: the neighbours-only mode needs k >= 1", op);
  if (overlaps(labels, yhat) || overlaps(labels, h))
    return SP_FAIL(SP_EINVAL,
                   "%s: labels must not share memory with yhat or h (they are read while labels "
                   "are written)",
                   op);
  const float *y = yhat->data, *hd = h->data;
  /* value checks read the data: on the host only (a GPU context trusts its own sigmoid) */
  const int on_host = ctx->device == SP_CPU;
  for (int64_t i = 0; on_host && i < (int64_t)rows * C; i++)
    if (!(y[i] >= 0.0f && y[i] <= 1.0f))
      return SP_FAIL(SP_EINVAL, "%s: yhat[%lld][%lld] = %g is not a probability in [0, 1]", op,
                     (long long)(i / C), (long long)(i % C), (double)y[i]);
  for (int64_t i = 0; on_host && i < (int64_t)rows * d; i++)
    if (!isfinite(hd[i]))
      return SP_FAIL(SP_EINVAL, "%s: h[%lld][%lld] = %g is not finite", op, (long long)(i / d),
                     (long long)(i % d), (double)hd[i]);
  float *work = NULL;
  int64_t need = mode == SP_ENRICH_SELF ? 0 : SP_K(ctx)->enrich_work_floats(rows, k);
  if (need > 0) {
    SP_TRY(sp_check_numel(op, "the similarity scratch", need, sizeof(float)));
    if (!(work = sp_work(ctx, need, op))) return SP_ENOMEM;
  }
  SP_TRY(SP_K(ctx)->enrich(labels->data, work, y, hd, B, rows, C, d, k, mode));
  return labels == given ? SP_OK : sp_tensor_copy(given, labels); /* waits for the GPU */
}
