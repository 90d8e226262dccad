/* binary.c — add, sub, mul with broadcasting of b over a's leading dimensions (bias-add is
 * add with b of shape (N)). */
#include "kernels.h"
#include "internal.h"

static void binary_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *a = node->in[0], *b = node->in[1], *out = node->out;
  float *da = sp_needs_grad(a) ? sp_grad_of(ctx, a) : NULL;
  float *db = sp_needs_grad(b) ? sp_grad_of(ctx, b) : NULL;
  SP_K(ctx)->binary_backward(da, db, out->grad->data, a->data, b->data, a->numel, b->numel,
                         (sp_binary_kind)node->i[0]);
}

static int binary(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b, sp_binary_kind kind,
                  const char *op) {
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, a);
  SP_OP_F32(ctx, op, b);
  if (!sp_is_suffix_shape(a, b)) {
    char sa[64], sb[64];
    return SP_FAIL(SP_ESHAPE, "%s: b %s must equal a %s or its trailing dimensions", op,
                   sp_shape_str(b, sb), sp_shape_str(a, sa));
  }
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, a->ndim, a->shape));
  SP_K(ctx)->binary_forward(o->data, a->data, b->data, a->numel, b->numel, kind);
  sp_tensor *in[2] = {a, b};
  sp_node *node = sp_tape_record(ctx, op, binary_backward, o, 2, in);
  if (node) node->i[0] = kind;
  *out = o;
  return SP_OK;
}

int sp_add(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b) {
  return binary(ctx, out, a, b, SP_BIN_ADD, "sp_add");
}
int sp_sub(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b) {
  return binary(ctx, out, a, b, SP_BIN_SUB, "sp_sub");
}
int sp_mul(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b) {
  return binary(ctx, out, a, b, SP_BIN_MUL, "sp_mul");
}
