/* topk.c — row-wise top-k (ranking evaluation, candidate selection). No gradient, no tape
 * node: the values are plain data. */
#include "kernels.h"
#include "internal.h"

/* values (N, k) float32, indices (N, k) int32 from x (N, C); descending, ties to the lower index.
 */
int sp_topk(sp_ctx *ctx, sp_tensor **values, sp_tensor **indices, sp_tensor *x, int k) {
  const char *op = "sp_topk";
  if (!ctx || !values || !indices) return SP_FAIL(SP_EINVAL, "%s: NULL context or output", op);
  *values = NULL, *indices = NULL;
  SP_OP_F32(ctx, op, x);
  char sx[64];
  if (x->ndim != 2) return SP_FAIL(SP_ESHAPE, "%s: x %s must be (N, C)", op, sp_shape_str(x, sx));
  int n = x->shape[0], c = x->shape[1];
  if (k < 1 || k > c)
    return SP_FAIL(SP_EINVAL, "%s: k = %d must be in [1, %d] for x %s", op, k, c,
                   sp_shape_str(x, sx));
  sp_tensor *v, *i;
  SP_TRY(sp_arena_tensor(ctx, &v, SP_F32, 2, (int[]){n, k}));
  SP_TRY(sp_arena_tensor(ctx, &i, SP_I32, 2, (int[]){n, k}));
  SP_K(ctx)->topk(v->data, i->data, x->data, n, c, k);
  *values = v, *indices = i;
  return SP_OK;
}
