/* gru.c — a GRU layer over a whole sequence (PyTorch's gate layout r, z, n; h0 = 0) with an
 * optional step mask that carries the state over padded steps. The gate activations
 * (B, L, 4H) = r, z, n, hn are kept in the arena for backpropagation through time. */
#include "kernels.h"
#include "internal.h"

/* node: in = {x, w_ih, w_hh, b_ih, b_hh, mask}; saved[0] = gates (B, L, 4H);
 * i = {B, L, Din, H} */
static void gru_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *w_ih = node->in[1], *w_hh = node->in[2];
  sp_tensor *b_ih = node->in[3], *b_hh = node->in[4], *mask = node->in[5];
  float *dx = sp_needs_grad(x) ? sp_grad_of(ctx, x) : NULL;
  float *dw_ih = sp_needs_grad(w_ih) ? sp_grad_of(ctx, w_ih) : NULL;
  float *dw_hh = sp_needs_grad(w_hh) ? sp_grad_of(ctx, w_hh) : NULL;
  float *db_ih = sp_needs_grad(b_ih) ? sp_grad_of(ctx, b_ih) : NULL;
  float *db_hh = sp_needs_grad(b_hh) ? sp_grad_of(ctx, b_hh) : NULL;
  float *work = sp_work(ctx, SP_K(ctx)->gru_backward_work_floats(node->i[0], node->i[1], node->i[3]),
                        "sp_gru backward");
  if (!work) {
    sp_backward_fail(ctx, SP_ENOMEM);
    return;
  }
  sp_backward_fail(ctx,
                   SP_K(ctx)->gru_backward(dx, dw_ih, dw_hh, db_ih, db_hh, work, node->out->grad->data,
                                       node->out->data, node->saved[0]->data, x->data, w_ih->data,
                                       w_hh->data, mask ? mask->data : NULL, node->i[0], node->i[1],
                                       node->i[2], node->i[3]));
}

int sp_gru(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *w_ih, sp_tensor *w_hh,
           sp_tensor *b_ih, sp_tensor *b_hh, sp_tensor *mask) {
  const char *op = "sp_gru";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  SP_OP_F32(ctx, op, w_ih);
  SP_OP_F32(ctx, op, w_hh);
  SP_OP_F32(ctx, op, b_ih);
  SP_OP_F32(ctx, op, b_hh);
  char s1[64], s2[64];
  if (x->ndim != 3)
    return SP_FAIL(SP_ESHAPE, "%s: x %s must be (B, L, Din)", op, sp_shape_str(x, s1));
  const int b = x->shape[0], l = x->shape[1], din = x->shape[2];
  if (w_ih->ndim != 2 || w_ih->shape[1] != din || w_ih->shape[0] % 3 != 0 || w_ih->shape[0] == 0)
    return SP_FAIL(SP_ESHAPE, "%s: w_ih %s must be (3H, %d) with H > 0 for x %s", op,
                   sp_shape_str(w_ih, s1), din, sp_shape_str(x, s2));
  const int h = w_ih->shape[0] / 3;
  if (w_hh->ndim != 2 || w_hh->shape[0] != 3 * h || w_hh->shape[1] != h)
    return SP_FAIL(SP_ESHAPE, "%s: w_hh %s must be (%d, %d)", op, sp_shape_str(w_hh, s1), 3 * h, h);
  if (b_ih->ndim != 1 || b_ih->shape[0] != 3 * h)
    return SP_FAIL(SP_ESHAPE, "%s: b_ih %s must be (%d)", op, sp_shape_str(b_ih, s1), 3 * h);
  if (b_hh->ndim != 1 || b_hh->shape[0] != 3 * h)
    return SP_FAIL(SP_ESHAPE, "%s: b_hh %s must be (%d)", op, sp_shape_str(b_hh, s1), 3 * h);
  if (mask) {
    SP_OP_I32(ctx, op, mask);
    if (mask->ndim != 2 || mask->shape[0] != b || mask->shape[1] != l)
      return SP_FAIL(SP_ESHAPE, "%s: mask %s must be (%d, %d) for x %s", op, sp_shape_str(mask, s1),
                     b, l, sp_shape_str(x, s2));
  }
  sp_tensor *o, *gates;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 3, (const int[]){b, l, h}));
  SP_TRY(sp_arena_tensor(ctx, &gates, SP_F32, 3, (const int[]){b, l, 4 * h}));
  float *work = sp_work(ctx, SP_K(ctx)->gru_forward_work_floats(b, h), op);
  if (!work) return SP_ENOMEM;
  SP_TRY(SP_K(ctx)->gru_forward(o->data, gates->data, work, x->data, w_ih->data, w_hh->data, b_ih->data,
                            b_hh->data, mask ? mask->data : NULL, b, l, din, h));
  sp_tensor *in[6] = {x, w_ih, w_hh, b_ih, b_hh, mask};
  sp_node *node = sp_tape_record(ctx, op, gru_backward, o, 6, in);
  if (node) {
    node->saved[0] = gates;
    node->i[0] = b, node->i[1] = l, node->i[2] = din, node->i[3] = h;
  }
  *out = o;
  return SP_OK;
}
