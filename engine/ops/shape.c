/* shape.c — reshape (a view on the same data), concat and slice along one axis (copies), and
 * take_positions, the per-row gather of one sequence position. Each backward routes the
 * output gradient back to where the element came from. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "internal.h"

/* "(2, -1, 4)" for a requested shape; buf holds 64 bytes. */
static const char *dims_str(int ndim, const int *shape, char *buf) {
  int n = snprintf(buf, 64, "(");
  for (int i = 0; i < ndim && n < 64; i++)
    n += snprintf(buf + n, 64 - n, i ? ", %d" : "%d", shape[i]);
  if (n < 64) snprintf(buf + n, 64 - n, ")");
  return buf;
}

/* x viewed as (outer, n, inner) around axis a. */
static void axis_split(const sp_tensor *t, int a, int64_t *outer, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int i = 0; i < a; i++) *outer *= t->shape[i];
  for (int i = a + 1; i < t->ndim; i++) *inner *= t->shape[i];
}

/* ---- reshape: out (shape) shares x's data; dx (numel) += dout (numel) ---- */

static void reshape_backward(sp_ctx *ctx, sp_node *node) {
  float *dx = sp_grad_of(ctx, node->in[0]);
  if (!dx) return;
  SP_K(ctx)->accumulate(dx, node->out->grad->data, node->out->numel);
}

int sp_reshape(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int ndim, const int *shape) {
  const char *op = "sp_reshape";
  SP_CHECK_CTX(ctx, op, out);
  /* Any dtype: index tensors get reshaped too (they never carry gradients). */
  SP_TRY(sp_check_op_tensor(ctx, op, "x", &x, x ? x->dtype : SP_F32, __FILE__, __LINE__));
  if (!shape) return SP_FAIL(SP_EINVAL, "%s: shape is NULL", op);
  if (ndim < 1 || ndim > SP_MAX_DIMS)
    return SP_FAIL(SP_ESHAPE, "%s: ndim must be 1..%d, got %d", op, SP_MAX_DIMS, ndim);
  char sx[64], sr[64];
  int dims[SP_MAX_DIMS], infer = -1;
  int64_t known = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0)
        return SP_FAIL(SP_ESHAPE, "%s: more than one -1 in %s", op, dims_str(ndim, shape, sr));
      infer = i;
    } else if (shape[i] < 0) {
      return SP_FAIL(SP_ESHAPE, "%s: dimension %d of %s is negative", op, i,
                     dims_str(ndim, shape, sr));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x->numel % known != 0 || x->numel / known > INT32_MAX)
      return SP_FAIL(SP_ESHAPE, "%s: cannot view x %s (%lld elements) as %s", op,
                     sp_shape_str(x, sx), (long long)x->numel, dims_str(ndim, shape, sr));
    dims[infer] = (int)(x->numel / known);
    known = x->numel;
  }
  if (known != x->numel)
    return SP_FAIL(SP_ESHAPE, "%s: cannot view x %s (%lld elements) as %s (%lld elements)", op,
                   sp_shape_str(x, sx), (long long)x->numel, dims_str(ndim, shape, sr),
                   (long long)known);
  /* Only a header: the view's data is x's (filled as sp_arena_tensor does, zeroed by the arena). */
  sp_tensor *o = sp_arena_alloc(&ctx->arena, (int64_t)sizeof *o);
  if (!o) return SP_FAIL(SP_ENOMEM, "%s: arena out of memory", op);
  o->data = x->data;
  o->numel = x->numel;
  o->ndim = ndim;
  for (int i = 0; i < ndim; i++) o->shape[i] = dims[i];
  o->dtype = x->dtype;
  o->device = x->device;
  o->in_arena = 1;
  o->generation = ctx->generation;
  sp_tape_record(ctx, op, reshape_backward, o, 1, &x);
  *out = o;
  return SP_OK;
}

/* ---- concat: out (..., sum n_i, ...) = [xs[0] | xs[1] | ...] along axis ----
 * A node holds SP_NODE_MAX_IN inputs; longer lists live in the arena (node->extra). */

static void concat_backward(sp_ctx *ctx, sp_node *node) {
  int n = node->i[0], a = node->i[1];
  sp_tensor **xs = n <= SP_NODE_MAX_IN ? node->in : (sp_tensor **)node->extra;
  const sp_tensor *o = node->out;
  int64_t outer, inner;
  axis_split(o, a, &outer, &inner);
  const float *dout = o->grad->data;
  int off = 0;
  for (int t = 0; t < n; t++) {
    int len = xs[t]->shape[a];
    float *dx = sp_needs_grad(xs[t]) ? sp_grad_of(ctx, xs[t]) : NULL;
    if (dx) SP_K(ctx)->axis_copy(dx, dout, outer, inner, o->shape[a], off, len, 0, len, 1);
    off += len;
  }
}

int sp_concat(sp_ctx *ctx, sp_tensor **out, sp_tensor **xs, int n, int axis) {
  const char *op = "sp_concat";
  SP_CHECK_CTX(ctx, op, out);
  if (!xs) return SP_FAIL(SP_EINVAL, "%s: xs is NULL", op);
  if (n < 1) return SP_FAIL(SP_EINVAL, "%s: n must be >= 1, got %d", op, n);
  sp_tensor **list = xs; /* the caller's list, or a copy holding uploaded inputs */
  for (int t = 0; t < n; t++) {
    char name[32];
    snprintf(name, sizeof name, "xs[%d]", t);
    sp_tensor *x = xs[t];
    SP_TRY(sp_check_op_tensor(ctx, op, name, &x, SP_F32, __FILE__, __LINE__));
    if (x != xs[t] && list == xs) {
      list = sp_arena_alloc(&ctx->arena, (int64_t)n * (int64_t)sizeof *list);
      if (!list) return SP_FAIL(SP_ENOMEM, "%s: arena out of memory", op);
      memcpy(list, xs, (size_t)n * sizeof *list);
    }
    list[t] = x;
  }
  xs = list;
  const sp_tensor *x0 = xs[0];
  int a = sp_norm_axis(x0, axis);
  if (a < 0)
    return SP_FAIL(SP_EINVAL, "%s: axis %d out of range for %d-D tensors", op, axis, x0->ndim);
  char s0[64], st[64];
  int64_t total = 0;
  for (int t = 0; t < n; t++) {
    const sp_tensor *x = xs[t];
    int fits = x->ndim == x0->ndim;
    for (int i = 0; fits && i < x->ndim; i++) fits = i == a || x->shape[i] == x0->shape[i];
    if (!fits)
      return SP_FAIL(SP_ESHAPE, "%s: xs[%d] %s does not match xs[0] %s outside axis %d", op, t,
                     sp_shape_str(x, st), sp_shape_str(x0, s0), a);
    total += x->shape[a];
  }
  if (total > INT32_MAX) return SP_FAIL(SP_ESHAPE, "%s: concatenated axis too long", op);
  int shape[SP_MAX_DIMS];
  for (int i = 0; i < x0->ndim; i++) shape[i] = x0->shape[i];
  shape[a] = (int)total;
  sp_tensor *o;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, x0->ndim, shape));
  int64_t outer, inner;
  axis_split(o, a, &outer, &inner);
  int off = 0;
  for (int t = 0; t < n; t++) {
    int len = xs[t]->shape[a];
    SP_K(ctx)->axis_copy(o->data, xs[t]->data, outer, inner, len, 0, (int)total, off, len, 0);
    off += len;
  }
  if (!ctx->grad_enabled) {
    *out = o;
    return SP_OK;
  }
  sp_node *node;
  if (n <= SP_NODE_MAX_IN) {
    node = sp_tape_record(ctx, op, concat_backward, o, n, xs);
  } else {
    sp_tensor *first = NULL; /* records the node iff some input requires grad */
    for (int t = 0; t < n && !first; t++)
      if (xs[t]->requires_grad) first = xs[t];
    node = NULL;
    if (first) {
      sp_tensor **list = sp_arena_alloc(&ctx->arena, (int64_t)n * (int64_t)sizeof *list);
      if (!list) return SP_FAIL(SP_ENOMEM, "%s: arena out of memory", op);
      memcpy(list, xs, (size_t)n * sizeof *list);
      node = sp_tape_record(ctx, op, concat_backward, o, 1, &first);
      if (node) node->extra = list;
    }
  }
  if (node) node->i[0] = n, node->i[1] = a;
  *out = o;
  return SP_OK;
}

/* ---- slice: out (..., len, ...) = x (..., n, ...) [start : start + len] along axis ---- */

static void slice_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0];
  float *dx = sp_grad_of(ctx, x);
  if (!dx) return;
  int a = node->i[0], start = node->i[1], len = node->i[2];
  int64_t outer, inner;
  axis_split(x, a, &outer, &inner);
  SP_K(ctx)->axis_copy(dx, node->out->grad->data, outer, inner, len, 0, x->shape[a], start, len, 1);
}

int sp_slice(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis, int start, int len) {
  const char *op = "sp_slice";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  int a = sp_norm_axis(x, axis);
  if (a < 0)
    return SP_FAIL(SP_EINVAL, "%s: axis %d out of range for %d-D tensor", op, axis, x->ndim);
  char sx[64];
  if (start < 0 || len < 0 || (int64_t)start + len > x->shape[a])
    return SP_FAIL(SP_EINVAL, "%s: [%d, %d + %d) is outside axis %d of x %s", op, start, start, len,
                   a, sp_shape_str(x, sx));
  int shape[SP_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
  shape[a] = len;
  sp_tensor *o;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, x->ndim, shape));
  int64_t outer, inner;
  axis_split(x, a, &outer, &inner);
  SP_K(ctx)->axis_copy(o->data, x->data, outer, inner, x->shape[a], start, len, 0, len, 0);
  sp_node *node = sp_tape_record(ctx, op, slice_backward, o, 1, &x);
  if (node) node->i[0] = a, node->i[1] = start, node->i[2] = len;
  *out = o;
  return SP_OK;
}

/* ---- take_positions: out (B, D) = x (B, L, D) [b, pos[b], :] ---- */

static void take_positions_backward(sp_ctx *ctx, sp_node *node) {
  sp_tensor *x = node->in[0], *pos = node->in[1];
  float *dx = sp_grad_of(ctx, x);
  if (!dx) return;
  SP_K(ctx)->take_positions_backward(dx, node->out->grad->data, pos->data, x->shape[0], x->shape[1],
                                 x->shape[2]);
}

int sp_take_positions(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *pos) {
  const char *op = "sp_take_positions";
  SP_CHECK_CTX(ctx, op, out);
  SP_OP_F32(ctx, op, x);
  SP_OP_I32(ctx, op, pos);
  char sx[64], sp[64];
  if (x->ndim != 3)
    return SP_FAIL(SP_ESHAPE, "%s: x %s must be (B, L, D)", op, sp_shape_str(x, sx));
  int b = x->shape[0], l = x->shape[1], d = x->shape[2];
  if (pos->ndim != 1 || pos->shape[0] != b)
    return SP_FAIL(SP_ESHAPE, "%s: pos %s must be (%d) for x %s", op, sp_shape_str(pos, sp), b,
                   sp_shape_str(x, sx));
  const int32_t *p = pos->data;
  for (int r = 0; ctx->device == SP_CPU && r < b; r++) /* the GPU kernel checks its own */
    if (p[r] < 0 || p[r] >= l)
      return SP_FAIL(SP_EINVAL, "%s: pos[%d] = %d is outside [0, %d)", op, r, p[r], l);
  sp_tensor *o;
  SP_TRY(sp_arena_tensor(ctx, &o, SP_F32, 2, (int[]){b, d}));
  SP_K(ctx)->take_positions_forward(o->data, x->data, p, b, l, d);
  sp_tensor *in[2] = {x, pos};
  sp_tape_record(ctx, op, take_positions_backward, o, 2, in);
  *out = o;
  return SP_OK;
}
