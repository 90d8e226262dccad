/* cosine.c — the cosine-similarity matrix between the rows of a and b (item-item or
 * sequence-item similarity). a and b may be the same tensor: both gradients then accumulate
 * into its one buffer. */
#include <math.h>

#include "kernels.h"
#include "internal.h"

static void cosine_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *a = node->in[0], *b = node->in[1];
  float *da = sp_needs_grad(a) ? sp_grad_of(ctx, a) : NULL;
  float *db = sp_needs_grad(b) ? sp_grad_of(ctx, b) : NULL; /* == da when a == b */
  float *work = sp_work(ctx, SP_K(ctx)->cosine_backward_work_floats(node->i[0], node->i[1]),
                        "sp_cosine_matrix backward");
  if (!work) {
    sp_backward_fail(ctx, SP_ENOMEM);
    return;
  }
  sp_backward_fail(
      ctx, SP_K(ctx)->cosine_backward(da, db, work, node->out->grad->data, node->out->data,
                                  node->saved[0]->data, node->saved[1]->data, a->data, b->data,
                                  node->i[0], node->i[1], node->i[2], node->f[0]));
}

/* out (N, M) = cos(a_i, b_j); a (N, D), b (M, D); norms (N), (M) saved. */
int sp_cosine_matrix(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b, float eps) {
  const char *op = "sp_cosine_matrix";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, a);
  SP_OP_F32(ctx, op, b);
  char sa[64], sb[64];
  if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[1])
    return SP_FAIL(SP_ESHAPE, "%s: a %s and b %s must be (N, D) and (M, D)", op,
                   sp_shape_str(a, sa), sp_shape_str(b, sb));
  if (!(eps > 0.0f) || isinf(eps))
    return SP_FAIL(SP_EINVAL, "%s: eps must be positive and finite, got %g", op, (double)eps);
  int n = a->shape[0], m = b->shape[0], d = a->shape[1];
  sp_tensor *o, *norm_a, *norm_b;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 2, (int[]){n, m}));
  SP_TRY(sp_arena_tensor(ctx, &norm_a, SP_F32, 1, (int[]){n}));
  SP_TRY(sp_arena_tensor(ctx, &norm_b, SP_F32, 1, (int[]){m}));
  SP_TRY(
      SP_K(ctx)->cosine_forward(o->data, norm_a->data, norm_b->data, a->data, b->data, n, m, d, eps));
  sp_tensor *in[2] = {a, b};
  sp_node *node = sp_tape_record(ctx, op, cosine_backward, o, 2, in);
  if (node) {
    node->saved[0] = norm_a, node->saved[1] = norm_b;
    node->i[0] = n, node->i[1] = m, node->i[2] = d;
    node->f[0] = eps;
  }
  *out = o;
  return SP_OK;
}
