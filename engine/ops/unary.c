/* unary.c — relu, gelu (tanh approximation), sigmoid, tanh, scale by a constant and the
 * threshold filter (SPRINT's phi). */
#include <math.h>

#include "kernels.h"
#include "internal.h"

static void unary_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *out = node->out;
  float *dx = sp_grad_of(ctx, x);
  if (!dx) return;
  SP_K(ctx)->unary_backward(dx, out->grad->data, x->data, out->data, x->numel,
                        (sp_unary_kind)node->i[0], node->f[0]);
}

static int unary(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_unary_kind kind, float param,
                 const char *op) {
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, x->ndim, x->shape));
  SP_K(ctx)->unary_forward(o->data, x->data, x->numel, kind, param);
  sp_node *node = sp_tape_record(ctx, op, unary_backward, o, 1, &x);
  if (node) {
    node->i[0] = kind;
    node->f[0] = param;
  }
  *out = o;
  return SP_OK;
}

int sp_relu(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) { return unary(ctx, out, x, SP_UN_RELU, 0, "sp_relu"); }
int sp_gelu(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) { return unary(ctx, out, x, SP_UN_GELU, 0, "sp_gelu"); }
int sp_sigmoid(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) {
  return unary(ctx, out, x, SP_UN_SIGMOID, 0, "sp_sigmoid");
}
int sp_tanh(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) { return unary(ctx, out, x, SP_UN_TANH, 0, "sp_tanh"); }
int sp_scale(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, float s) {
  return unary(ctx, out, a, SP_UN_SCALE, s, "sp_scale");
}
/* SPRINT's phi (Eq. 15): x where x > tau, else 0; the gradient is [x > tau] (see sprint.h). */
int sp_threshold(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, float tau) {
  if (!isfinite(tau)) {
    if (out) *out = NULL;
    return SP_FAIL(SP_EINVAL, "sp_threshold: tau must be finite, got %g", (double)tau);
  }
  return unary(ctx, out, x, SP_UN_THRESHOLD, tau, "sp_threshold");
}
