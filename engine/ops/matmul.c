/* matmul.c — (batched) matrix products with optional transposes, and the fused linear layer
 * product x w^T + b. A 2-D b shared by a batched, untransposed a is one GEMM over all rows. */
#include "kernels.h"
#include "internal.h"

static void matmul_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *a = node->in[0], *b = node->in[1];
  float *da = sp_needs_grad(a) ? sp_grad_of(ctx, a) : NULL;
  float *db = sp_needs_grad(b) ? sp_grad_of(ctx, b) : NULL;
  SP_K(ctx)->matmul_backward(da, db, node->out->grad->data, a->data, b->data, node->i[0], node->i[1],
                         node->i[2], node->i[3], node->i[4] & 1, (node->i[4] >> 1) & 1, node->i[5]);
}

int sp_matmul(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b, int trans_a, int trans_b) {
  const char *op = "sp_matmul";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, a);
  SP_OP_F32(ctx, op, b);
  char sa[64], sb[64];
  if (a->ndim < 2 || b->ndim < 2)
    return SP_FAIL(SP_ESHAPE, "%s: a %s and b %s must be at least 2-D", op, sp_shape_str(a, sa),
                   sp_shape_str(b, sb));
  int m = trans_a ? a->shape[a->ndim - 1] : a->shape[a->ndim - 2];
  int k = trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
  int kb = trans_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
  int n = trans_b ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
  if (k != kb)
    return SP_FAIL(SP_ESHAPE, "%s: inner dimensions differ: a %s%s, b %s%s", op, sp_shape_str(a, sa),
                   trans_a ? "^T" : "", sp_shape_str(b, sb), trans_b ? "^T" : "");
  int batch = 1;
  for (int i = 0; i < a->ndim - 2; i++) batch *= a->shape[i];
  int b_batched = b->ndim > 2;
  if (b_batched) {
    if (b->ndim != a->ndim) return SP_FAIL(SP_ESHAPE, "%s: batched b %s must have a's rank %s", op, sp_shape_str(b, sb), sp_shape_str(a, sa));
    for (int i = 0; i < a->ndim - 2; i++)
      if (a->shape[i] != b->shape[i])
        return SP_FAIL(SP_ESHAPE, "%s: batch dimensions differ: a %s, b %s", op, sp_shape_str(a, sa),
                       sp_shape_str(b, sb));
  }
  int shape[SP_MAX_DIMS];
  for (int i = 0; i < a->ndim - 2; i++) shape[i] = a->shape[i];
  shape[a->ndim - 2] = m;
  shape[a->ndim - 1] = n;
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, a->ndim, shape));
  SP_TRY(SP_K(ctx)->matmul_forward(o->data, a->data, b->data, batch, m, n, k, trans_a, trans_b, b_batched));
  sp_tensor *in[2] = {a, b};
  sp_node *node = sp_tape_record(ctx, op, matmul_backward, o, 2, in);
  if (node) {
    node->i[0] = batch, node->i[1] = m, node->i[2] = n, node->i[3] = k;
    node->i[4] = (trans_a ? 1 : 0) | (trans_b ? 2 : 0);
    node->i[5] = b_batched;
  }
  *out = o;
  return SP_OK;
}

static void linear_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *w = node->in[1], *bias = node->in[2];
  float *dx = sp_needs_grad(x) ? sp_grad_of(ctx, x) : NULL;
  float *dw = sp_needs_grad(w) ? sp_grad_of(ctx, w) : NULL;
  float *db = sp_needs_grad(bias) ? sp_grad_of(ctx, bias) : NULL;
  SP_K(ctx)->linear_backward(dx, dw, db, node->out->grad->data, x->data, w->data, node->i[0],
                         node->i[1], node->i[2]);
}

int sp_linear(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *w, sp_tensor *b) {
  const char *op = "sp_linear";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  SP_OP_F32(ctx, op, w);
  char sx[64], sw[64];
  int din = x->shape[x->ndim - 1];
  if (w->ndim != 2 || w->shape[1] != din)
    return SP_FAIL(SP_ESHAPE, "%s: w %s must be (d_out, %d) for x %s", op, sp_shape_str(w, sw), din,
                   sp_shape_str(x, sx));
  int dout = w->shape[0];
  if (b) {
    SP_OP_F32(ctx, op, b);
    if (b->ndim != 1 || b->shape[0] != dout)
      return SP_FAIL(SP_ESHAPE, "%s: bias %s must be (%d)", op, sp_shape_str(b, sw), dout);
  }
  int rows = (int)(x->numel / (din ? din : 1));
  int shape[SP_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
  shape[x->ndim - 1] = dout;
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, x->ndim, shape));
  SP_TRY(SP_K(ctx)->linear_forward(o->data, x->data, w->data, b ? b->data : NULL, rows, din, dout));
  sp_tensor *in[3] = {x, w, b};
  sp_node *node = sp_tape_record(ctx, op, linear_backward, o, 3, in);
  if (node) node->i[0] = rows, node->i[1] = din, node->i[2] = dout;
  *out = o;
  return SP_OK;
}
