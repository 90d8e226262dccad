/* softmax.c — softmax and log-softmax over the last axis with an optional key-padding mask
 * and a causal mask. Forward saves its output; backward needs nothing else. */
#include "kernels.h"
#include "internal.h"

static void softmax_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *mask = node->in[1], *out = node->out;
  float *dx = sp_grad_of(ctx, x);
  if (!dx) return;
  SP_K(ctx)->softmax_backward(dx, out->grad->data, out->data, mask ? mask->data : NULL, node->i[0],
                          node->i[1], node->i[2], node->i[3], node->i[4]);
}

static int softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *key_mask, int causal,
                   int log_space, const char *op) {
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  char sx[64], sm[64];
  /* Kernel view: (batch, rows, n) with batch = x's first axis; the causal query index of a
   * row is its flat row number modulo Q = x's second-last axis. */
  int n = x->shape[x->ndim - 1];
  int batch = x->ndim >= 2 ? x->shape[0] : 1;
  int64_t rows = n && batch ? x->numel / ((int64_t)batch * n) : 0;
  if (causal && x->ndim < 2)
    return SP_FAIL(SP_ESHAPE, "%s: causal needs at least 2-D x, got %s", op, sp_shape_str(x, sx));
  int q = causal ? x->shape[x->ndim - 2] : 0;
  if (key_mask) {
    SP_OP_I32(ctx, op, key_mask);
    if (key_mask->ndim != 2 || key_mask->shape[0] != batch || key_mask->shape[1] != n)
      return SP_FAIL(SP_ESHAPE, "%s: key_mask %s must be (%d, %d) for x %s", op,
                     sp_shape_str(key_mask, sm), batch, n, sp_shape_str(x, sx));
  }
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, x->ndim, x->shape));
  SP_K(ctx)->softmax_forward(o->data, x->data, key_mask ? key_mask->data : NULL, batch, (int)rows, n,
                         q, log_space);
  sp_tensor *in[2] = {x, key_mask};
  sp_node *node = sp_tape_record(ctx, op, softmax_backward, o, 2, in);
  if (node) {
    node->i[0] = batch, node->i[1] = (int)rows, node->i[2] = n;
    node->i[3] = q, node->i[4] = log_space;
  }
  *out = o;
  return SP_OK;
}

int sp_softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *key_mask, int causal) {
  return softmax(ctx, out, x, key_mask, causal, 0, "sp_softmax");
}
int sp_log_softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *key_mask, int causal) {
  return softmax(ctx, out, x, key_mask, causal, 1, "sp_log_softmax");
}
