/* attention.c — multi-head scaled dot-product attention over already-projected q, k, v
 * (B, L, D), with an optional key mask and causal masking. The softmax probabilities
 * (B, heads, L, L) are kept in the arena for the backward pass. */
#include "kernels.h"
#include "internal.h"

/* node: in = {q, k, v}; saved[0] = probs (B, heads, L, L); i = {B, L, D, heads} */
static void attention_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
  float *dq = sp_needs_grad(q) ? sp_grad_of(ctx, q) : NULL;
  float *dk = sp_needs_grad(k) ? sp_grad_of(ctx, k) : NULL;
  float *dv = sp_needs_grad(v) ? sp_grad_of(ctx, v) : NULL;
  float *work =
      sp_work(ctx, SP_K(ctx)->attention_backward_work_floats(node->i[0], node->i[1], node->i[3]), "sp_attention backward");
  if (!work) {
    sp_backward_fail(ctx, SP_ENOMEM);
    return;
  }
  sp_backward_fail(ctx, SP_K(ctx)->attention_backward(dq, dk, dv, work, node->out->grad->data,
                                                  node->saved[0]->data, q->data, k->data, v->data,
                                                  node->i[0], node->i[1], node->i[2], node->i[3]));
}

int sp_attention(sp_ctx *ctx, sp_tensor **out, sp_tensor *q, sp_tensor *k, sp_tensor *v, int heads,
                 int causal, sp_tensor *key_mask) {
  const char *op = "sp_attention";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, q);
  SP_OP_F32(ctx, op, k);
  SP_OP_F32(ctx, op, v);
  char s1[64], s2[64], s3[64];
  if (q->ndim != 3)
    return SP_FAIL(SP_ESHAPE, "%s: q %s must be (B, L, D)", op, sp_shape_str(q, s1));
  if (!sp_same_shape(q, k) || !sp_same_shape(q, v))
    return SP_FAIL(SP_ESHAPE, "%s: q %s, k %s and v %s must have the same shape", op,
                   sp_shape_str(q, s1), sp_shape_str(k, s2), sp_shape_str(v, s3));
  const int b = q->shape[0], l = q->shape[1], d = q->shape[2];
  if (heads <= 0) return SP_FAIL(SP_EINVAL, "%s: heads must be positive, got %d", op, heads);
  if (d == 0) return SP_FAIL(SP_ESHAPE, "%s: D must be positive, q is %s", op, sp_shape_str(q, s1));
  if (d % heads != 0)
    return SP_FAIL(SP_ESHAPE, "%s: D = %d is not divisible by heads = %d", op, d, heads);
  if (key_mask) {
    SP_OP_I32(ctx, op, key_mask);
    if (key_mask->ndim != 2 || key_mask->shape[0] != b || key_mask->shape[1] != l)
      return SP_FAIL(SP_ESHAPE, "%s: key_mask %s must be (%d, %d) for q %s", op,
                     sp_shape_str(key_mask, s1), b, l, sp_shape_str(q, s2));
  }
  sp_tensor *o, *probs;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 3, q->shape));
  SP_TRY(sp_arena_tensor(ctx, &probs, SP_F32, 4, (const int[]){b, heads, l, l}));
  SP_TRY(SP_K(ctx)->attention_forward(o->data, probs->data, q->data, k->data, v->data,
                                  key_mask ? key_mask->data : NULL, b, l, d, heads, causal != 0));
  sp_tensor *in[3] = {q, k, v};
  sp_node *node = sp_tape_record(ctx, op, attention_backward, o, 3, in);
  if (node) {
    node->saved[0] = probs;
    node->i[0] = b, node->i[1] = l, node->i[2] = d, node->i[3] = heads;
  }
  *out = o;
  return SP_OK;
}
