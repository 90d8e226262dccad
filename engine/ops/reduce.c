/* reduce.c — sum and mean, to a scalar or over one axis (the axis is removed). */
#include "kernels.h"
#include "internal.h"

static void reduce_backward(sp_ctx *ctx, sp_node *node) {
  float *dx = sp_grad_of(ctx, node->in[0]);
  if (!dx) return;
  SP_K(ctx)->reduce_backward(dx, node->out->grad->data, (int64_t)node->u[0], node->i[0],
                         (int64_t)node->u[1], node->i[1]);
}

/* axis < -SP_MAX_DIMS means "all": x is viewed as (1, numel, 1). */
static int reduce(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis, int all, int mean,
                  const char *op) {
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  int64_t outer = 1, inner = 1;
  int n;
  int shape[SP_MAX_DIMS], ndim = 0;
  if (all) {
    if (x->numel > INT32_MAX) return SP_FAIL(SP_ESHAPE, "%s: too many elements", op);
    n = (int)x->numel;
    shape[ndim++] = 1;
  } else {
    int a = sp_norm_axis(x, axis);
    if (a < 0) return SP_FAIL(SP_EINVAL, "%s: axis %d out of range for %d-D tensor", op, axis, x->ndim);
    n = x->shape[a];
    for (int i = 0; i < a; i++) outer *= x->shape[i];
    for (int i = a + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int i = 0; i < x->ndim; i++)
      if (i != a) shape[ndim++] = x->shape[i];
    if (ndim == 0) shape[ndim++] = 1;
  }
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, ndim, shape));
  SP_K(ctx)->reduce_forward(o->data, x->data, outer, n, inner, mean);
  sp_node *node = sp_tape_record(ctx, op, reduce_backward, o, 1, &x);
  if (node) {
    node->u[0] = (uint64_t)outer, node->u[1] = (uint64_t)inner;
    node->i[0] = n, node->i[1] = mean;
  }
  *out = o;
  return SP_OK;
}

int sp_sum(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) { return reduce(ctx, out, x, 0, 1, 0, "sp_sum"); }
int sp_mean(sp_ctx *ctx, sp_tensor **out, sp_tensor *x) { return reduce(ctx, out, x, 0, 1, 1, "sp_mean"); }
int sp_sum_axis(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis) {
  return reduce(ctx, out, x, axis, 0, 0, "sp_sum_axis");
}
int sp_mean_axis(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis) {
  return reduce(ctx, out, x, axis, 0, 1, "sp_mean_axis");
}
