/* layernorm.c — layer norm over the last axis; forward saves mean and rstd per row
 * (llm.c's layernorm_forward/backward pairing). */
#include "kernels.h"
#include "internal.h"

static void layernorm_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
  float *dx = sp_needs_grad(x) ? sp_grad_of(ctx, x) : NULL;
  float *dw = sp_needs_grad(w) ? sp_grad_of(ctx, w) : NULL;
  float *db = sp_needs_grad(b) ? sp_grad_of(ctx, b) : NULL;
  SP_K(ctx)->layernorm_backward(dx, dw, db, node->out->grad->data, x->data, w->data,
                            node->saved[0]->data, node->saved[1]->data, node->i[0], node->i[1]);
}

int sp_layernorm(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *weight, sp_tensor *bias,
                 float eps) {
  const char *op = "sp_layernorm";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  SP_OP_F32(ctx, op, weight);
  SP_OP_F32(ctx, op, bias);
  char sx[64], sw[64];
  int d = x->shape[x->ndim - 1];
  if (weight->ndim != 1 || weight->shape[0] != d || bias->ndim != 1 || bias->shape[0] != d)
    return SP_FAIL(SP_ESHAPE, "%s: weight %s and bias must be (%d) for x %s", op,
                   sp_shape_str(weight, sw), d, sp_shape_str(x, sx));
  if (!(eps > 0.0f)) return SP_FAIL(SP_EINVAL, "%s: eps must be > 0, got %g", op, (double)eps);
  int rows = d ? (int)(x->numel / d) : 0;
  sp_tensor *o, *mean, *rstd;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, x->ndim, x->shape));
  SP_TRY(sp_arena_tensor_uninit(ctx, &mean, SP_F32, 1, (int[]){rows}));
  SP_TRY(sp_arena_tensor_uninit(ctx, &rstd, SP_F32, 1, (int[]){rows}));
  SP_K(ctx)->layernorm_forward(o->data, mean->data, rstd->data, x->data, weight->data, bias->data, rows,
                           d, eps);
  sp_tensor *in[3] = {x, weight, bias};
  sp_node *node = sp_tape_record(ctx, op, layernorm_backward, o, 3, in);
  if (node) {
    node->saved[0] = mean, node->saved[1] = rstd;
    node->i[0] = rows, node->i[1] = d;
  }
  *out = o;
  return SP_OK;
}
