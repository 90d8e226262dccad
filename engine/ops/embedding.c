/* embedding.c — row lookup (gather) with a scatter-add backward; the padding row stays zero
 * and gets no gradient. */
#include "kernels.h"
#include "internal.h"

static void embedding_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *w = node->in[0], *idx = node->in[1];
  float *dw = sp_grad_of(ctx, w);
  if (!dw) return;
  int64_t need = SP_K(ctx)->embedding_backward_work_floats(idx->numel, w->shape[0]);
  float *work = need > 0 ? sp_work(ctx, need, "sp_embedding backward") : NULL;
  if (need > 0 && !work) {
    sp_backward_fail(ctx, SP_ENOMEM);
    return;
  }
  SP_K(ctx)->embedding_backward(dw, work, node->out->grad->data, idx->data, idx->numel,
                                w->shape[1], node->i[0], w->shape[0]);
}

int sp_embedding(sp_ctx *ctx, sp_tensor **out, sp_tensor *weight, sp_tensor *idx, int padding_idx) {
  const char *op = "sp_embedding";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, weight);
  SP_OP_I32(ctx, op, idx);
  char sw[64];
  if (weight->ndim != 2) return SP_FAIL(SP_ESHAPE, "%s: weight %s must be (V, D)", op, sp_shape_str(weight, sw));
  if (idx->ndim >= SP_MAX_DIMS)
    return SP_FAIL(SP_ESHAPE, "%s: idx has %d dims; at most %d so the output fits", op, idx->ndim, SP_MAX_DIMS - 1);
  int v = weight->shape[0], d = weight->shape[1];
  const int32_t *ix = idx->data;
  /* on a GPU the kernel checks the indices (reported at the next sync: sp_dev_sync) */
  for (int64_t i = 0; ctx->device == SP_CPU && i < idx->numel; i++)
    if (ix[i] != padding_idx && (ix[i] < 0 || ix[i] >= v))
      return SP_FAIL(SP_EINVAL, "%s: index %d at position %lld is outside [0, %d)", op, ix[i],
                     (long long)i, v);
  int shape[SP_MAX_DIMS];
  for (int i = 0; i < idx->ndim; i++) shape[i] = idx->shape[i];
  shape[idx->ndim] = d;
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, SP_F32, idx->ndim + 1, shape));
  SP_K(ctx)->embedding_forward(o->data, weight->data, ix, idx->numel, d, padding_idx, v);
  sp_tensor *in[2] = {weight, idx};
  sp_node *node = sp_tape_record(ctx, op, embedding_backward, o, 2, in);
  if (node) node->i[0] = padding_idx;
  *out = o;
  return SP_OK;
}
