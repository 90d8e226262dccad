/* dropout.c — inverted dropout. The mask is never stored: forward takes a fresh counter from
 * the context's Philox stream and backward regenerates the same uniforms from it. */
#include "kernels.h"
#include "internal.h"

static void dropout_backward(sp_ctx *ctx, sp_node *node) {
  float *dx = sp_grad_of(ctx, node->in[0]);
  if (!dx) return;
  SP_K(ctx)->dropout_backward(dx, node->out->grad->data, node->in[0]->numel, node->f[0], node->u[0],
                          node->u[1]);
}

static void identity_backward(sp_ctx *ctx, sp_node *node) {
  float *dx = sp_grad_of(ctx, node->in[0]);
  if (!dx) return;
  SP_K(ctx)->accumulate(dx, node->out->grad->data, node->in[0]->numel);
}

int sp_dropout(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, float p) {
  const char *op = "sp_dropout";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  if (!(p >= 0.0f && p < 1.0f)) return SP_FAIL(SP_EINVAL, "%s: p must be in [0, 1), got %g", op, (double)p);
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, x->ndim, x->shape));
  if (!ctx->training || p == 0.0f) { /* identity: still a fresh tensor, so callers may write it */
    SP_K(ctx)->copy(o->data, x->data, x->numel);
    sp_tape_record(ctx, op, identity_backward, o, 1, &x);
    *out = o;
    return SP_OK;
  }
  uint64_t seed = ctx->rng.seed, counter = ctx->rng.counter++;
  SP_K(ctx)->dropout_forward(o->data, x->data, x->numel, p, seed, counter);
  sp_node *node = sp_tape_record(ctx, op, dropout_backward, o, 1, &x);
  if (node) {
    node->f[0] = p;
    node->u[0] = seed, node->u[1] = counter;
  }
  *out = o;
  return SP_OK;
}
