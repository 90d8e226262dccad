/* loss.c — the scalar training losses: softmax cross-entropy over item logits with an
 * ignore_index (BERT4Rec's unmasked positions), and binary cross-entropy on logits with soft
 * targets and optional weights (negative sampling, masked positions). */
#include <string.h>

#include "kernels.h"
#include "internal.h"

/* ---- cross_entropy: out (1) from logits (N, C), targets int32 (N); probs (N, C) and the
 * count of rows that are not ignored (1, int32) saved ---- */

static void cross_entropy_backward(sp_ctx *ctx, sp_node *node) {
  float *dlogits = sp_grad_of(ctx, node->in[0]);
  if (!dlogits) return;
  SP_K(ctx)->cross_entropy_backward(dlogits, node->out->grad->data, node->saved[1]->data,
                                    node->saved[0]->data, node->in[1]->data, node->i[0], node->i[1],
                                    node->i[2]);
}

int sp_cross_entropy(sp_ctx *ctx, sp_tensor **out, sp_tensor *logits, sp_tensor *targets,
                     int ignore_index) {
  const char *op = "sp_cross_entropy";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, logits);
  SP_OP_I32(ctx, op, targets);
  char sl[64], st[64];
  if (logits->ndim != 2 || logits->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: logits %s must be (N, C) with C >= 1", op,
                   sp_shape_str(logits, sl));
  int n = logits->shape[0], c = logits->shape[1];
  if (targets->ndim != 1 || targets->shape[0] != n)
    return SP_FAIL(SP_ESHAPE, "%s: targets %s must be (%d) for logits %s", op,
                   sp_shape_str(targets, st), n, sp_shape_str(logits, sl));
  const int32_t *t = targets->data;
  for (int r = 0; ctx->device == SP_CPU && r < n; r++) /* the GPU kernel checks its own */
    if (t[r] != ignore_index && (t[r] < 0 || t[r] >= c))
      return SP_FAIL(SP_EINVAL,
                     "%s: targets[%d] = %d is outside [0, %d) and is not ignore_index %d", op, r,
                     t[r], c, ignore_index);
  sp_tensor *o, *probs, *counted;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 1, (int[]){1}));
  SP_TRY(sp_arena_tensor(ctx, &probs, SP_F32, 2, logits->shape));
  SP_TRY(sp_arena_tensor(ctx, &counted, SP_I32, 1, (int[]){1}));
  float *work = sp_work(ctx, SP_K(ctx)->cross_entropy_forward_work_floats(n), op);
  if (!work) return SP_ENOMEM;
  SP_K(ctx)->cross_entropy_forward(o->data, counted->data, probs->data, work, logits->data, t, n, c,
                                   ignore_index);
  sp_tensor *in[2] = {logits, targets};
  sp_node *node = sp_tape_record(ctx, op, cross_entropy_backward, o, 2, in);
  if (node) {
    node->saved[0] = probs, node->saved[1] = counted;
    node->i[0] = n, node->i[1] = c, node->i[2] = ignore_index;
  }
  *out = o;
  return SP_OK;
}

/* ---- bce_logits: out (1) from logits, targets, weight (all the same shape, weight optional);
 * the weight sum (the denominator, a double) is saved in saved[0]. ---- */

static void bce_logits_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *logits = node->in[0], *targets = node->in[1], *weight = node->in[2];
  float *dlogits = sp_needs_grad(logits) ? sp_grad_of(ctx, logits) : NULL;
  float *dtargets = sp_needs_grad(targets) ? sp_grad_of(ctx, targets) : NULL;
  if (!dlogits && !dtargets) return; /* only the weight requires grad: it gets none */
  SP_K(ctx)->bce_logits_backward(dlogits, dtargets, node->out->grad->data, node->saved[0]->data,
                                 logits->data, targets->data, weight ? weight->data : NULL,
                                 logits->numel);
}

int sp_bce_logits(sp_ctx *ctx, sp_tensor **out, sp_tensor *logits, sp_tensor *targets,
                  sp_tensor *weight) {
  const char *op = "sp_bce_logits";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, logits);
  SP_OP_F32(ctx, op, targets);
  char sl[64], so[64];
  if (!sp_same_shape(logits, targets))
    return SP_FAIL(SP_ESHAPE, "%s: targets %s must have the shape of logits %s", op,
                   sp_shape_str(targets, so), sp_shape_str(logits, sl));
  if (weight) {
    SP_OP_F32(ctx, op, weight);
    if (!sp_same_shape(logits, weight))
      return SP_FAIL(SP_ESHAPE, "%s: weight %s must have the shape of logits %s", op,
                     sp_shape_str(weight, so), sp_shape_str(logits, sl));
  }
  sp_tensor *o, *weight_sum; /* the denominator, a double in 2 floats of arena memory */
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 1, (int[]){1}));
  SP_TRY(sp_arena_tensor(ctx, &weight_sum, SP_F32, 1, (int[]){2}));
  float *work = sp_work(ctx, SP_K(ctx)->bce_logits_forward_work_floats(logits->numel), op);
  if (!work) return SP_ENOMEM;
  SP_K(ctx)->bce_logits_forward(o->data, weight_sum->data, work, logits->data, targets->data,
                                weight ? weight->data : NULL, logits->numel);
  sp_tensor *in[3] = {logits, targets, weight};
  sp_node *node = sp_tape_record(ctx, op, bce_logits_backward, o, 3, in);
  if (node) node->saved[0] = weight_sum;
  *out = o;
  return SP_OK;
}
