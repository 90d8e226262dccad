/* ortho.c — SPRINT's intent-orthogonality loss (section 4.3): the negated mean squared distance
 * between the L2-normalised rows of the intent embeddings, as the paper writes it,
 *   L_ortho = -1 / (|G| (|G| - 1)) * sum_{i != j} |e^_i - e^_j|^2,
 * so minimising it pushes the intents apart. (For unit rows |e^_i - e^_j|^2 = 2 - 2 cos, so it
 * equals 2 mean_{i != j} cos - 2: the mean pairwise cosine up to an affine map.) */
#include <math.h>

#include "kernels.h"
#include "internal.h"

/* out (1) from e (C, D); norms (C) and the sum of the normalised rows (D) saved. */
static void ortho_backward(sp_ctx *ctx, sp_node *node) {
  float *de = sp_grad_of(ctx, node->in[0]);
  if (!de) return;
  SP_K(ctx)->ortho_backward(de, node->out->grad->data, node->saved[0]->data,
                        node->saved[1]->data, node->in[0]->data, node->i[0], node->i[1],
                        node->f[0]);
}

int sp_ortho_loss(sp_ctx *ctx, sp_tensor **out, sp_tensor *e, float eps) {
  const char *op = "sp_ortho_loss";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, e);
  char se[64];
  if (e->ndim != 2 || e->shape[1] < 1)
    return SP_FAIL(SP_ESHAPE, "%s: e %s must be (C, D) with D >= 1", op, sp_shape_str(e, se));
  if (!(eps > 0.0f) || isinf(eps))
    return SP_FAIL(SP_EINVAL, "%s: eps must be positive and finite, got %g", op, (double)eps);
  int c = e->shape[0], d = e->shape[1];
  sp_tensor *o, *norm, *s;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 1, (int[]){1}));
  SP_TRY(sp_arena_tensor(ctx, &norm, SP_F32, 1, (int[]){c}));
  SP_TRY(sp_arena_tensor(ctx, &s, SP_F32, 1, (int[]){d}));
  SP_K(ctx)->ortho_forward(o->data, norm->data, s->data, e->data, c, d, eps);
  sp_node *node = sp_tape_record(ctx, op, ortho_backward, o, 1, &e);
  if (node) {
    node->saved[0] = norm, node->saved[1] = s;
    node->i[0] = c, node->i[1] = d;
    node->f[0] = eps;
  }
  *out = o;
  return SP_OK;
}
