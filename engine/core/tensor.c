/* tensor.c — heap tensors (owned storage), accessors, fills, and the argument checks every
 * op shares. Arena tensors are made by the context (engine/autograd/ctx.c). */
#include "device.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int64_t sp_memory_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return INT64_MAX;
  return (int64_t)pages * page;
}

int sp_check_numel(const char *what, const char *desc, int64_t count, int64_t elem_bytes) {
  if (count >= 0 && count <= SP_MAX_NUMEL) {
    /* below 1 GiB no machine we run on is too small: skip the system call on the hot path */
    int64_t bytes = count * elem_bytes;
    if (bytes <= ((int64_t)1 << 30) || bytes <= sp_memory_bytes()) return SP_OK;
  }
  char n[32];
  if (count < 0)
    snprintf(n, sizeof n, "more than 2^63");
  else
    snprintf(n, sizeof n, "%lld", (long long)count);
  return SP_FAIL(SP_ESHAPE,
                 "%s: %s = %s elements is too large (at most %lld elements of %lld bytes, and "
                 "this machine has %.1f GiB of memory)",
                 what, desc, n, (long long)SP_MAX_NUMEL, (long long)elem_bytes,
                 (double)sp_memory_bytes() / (1 << 30));
}

/* The element count of a shape, computed in 64 bits and bounded before anything is allocated. */
static int shape_numel(const char *what, int ndim, const int *shape, int64_t *numel) {
  if (ndim < 1 || ndim > SP_MAX_DIMS)
    return SP_FAIL(SP_ESHAPE, "%s: ndim must be 1..%d, got %d", what, SP_MAX_DIMS, ndim);
  if (!shape) return SP_FAIL(SP_EINVAL, "%s: NULL shape", what);
  int64_t n = 1;
  int overflow = 0;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return SP_FAIL(SP_ESHAPE, "%s: dimension %d is negative (%d)", what, i, shape[i]);
    if (shape[i] > 0 && n > INT64_MAX / shape[i]) overflow = 1;
    n = overflow ? 0 : n * shape[i];
  }
  for (int i = 0; i < ndim; i++)
    if (shape[i] == 0) overflow = 0, n = 0; /* an empty tensor, whatever the other sizes */
  if (overflow || n > SP_MAX_NUMEL || n * 4 > ((int64_t)1 << 30)) {
    char desc[96];
    int at = snprintf(desc, sizeof desc, "shape (");
    for (int i = 0; i < ndim; i++)
      at += snprintf(desc + at, sizeof desc - (size_t)at, "%s%d", i ? ", " : "", shape[i]);
    snprintf(desc + at, sizeof desc - (size_t)at, ")");
    SP_TRY(sp_check_numel(what, desc, overflow ? -1 : n, 4));
  }
  *numel = n;
  return SP_OK;
}

static void header_init(sp_tensor *t, sp_dtype dtype, int ndim, const int *shape, int64_t numel) {
  memset(t, 0, sizeof *t);
  t->dtype = dtype;
  t->device = SP_CPU;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
}

int sp_tensor_new(sp_tensor **out, sp_dtype dtype, int ndim, const int *shape) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_tensor_new: NULL output");
  *out = NULL;
  if (dtype != SP_F32 && dtype != SP_I32) return SP_FAIL(SP_EDTYPE, "sp_tensor_new: unknown dtype %d", (int)dtype);
  int64_t numel;
  SP_TRY(shape_numel("sp_tensor_new", ndim, shape, &numel));
  sp_tensor *t = malloc(sizeof *t);
  if (!t) return SP_FAIL(SP_ENOMEM, "sp_tensor_new: out of memory");
  header_init(t, dtype, ndim, shape, numel);
  size_t bytes = (size_t)((numel * 4 + 63) / 64 * 64);
  t->data = aligned_alloc(64, bytes ? bytes : 64);
  if (!t->data) {
    free(t);
    return SP_FAIL(SP_ENOMEM, "sp_tensor_new: cannot allocate %lld elements", (long long)numel);
  }
  memset(t->data, 0, bytes);
  t->owns_data = 1;
  *out = t;
  return SP_OK;
}

void sp_tensor_free(sp_tensor *t) {
  if (!t || t->in_arena) return;
  if (t->grad) sp_tensor_free(t->grad);
  if (t->owns_data) {
    if (t->device == SP_CPU)
      free(t->data);
    else
      sp_dev_release(t->data);
  }
  free(t);
}

static int arena_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape, int zero) {
  int64_t numel;
  SP_TRY(shape_numel("arena tensor", ndim, shape, &numel));
  sp_tensor *t = sp_arena_alloc(&ctx->arena, (int64_t)sizeof *t);
  /* headers stay on the host; the data lives where the context computes */
  sp_arena *a = ctx->device == SP_CPU ? &ctx->arena : &ctx->dev_arena;
  void *data = !t ? NULL : zero ? sp_arena_alloc(a, numel * 4) : sp_arena_alloc_uninit(a, numel * 4);
  if (!data)
    return SP_FAIL(SP_ENOMEM, "arena: cannot allocate %lld elements%s", (long long)numel,
                   ctx->device == SP_CPU ? "" : " on the GPU");
  header_init(t, dtype, ndim, shape, numel);
  t->device = ctx->device;
  t->data = data;
  t->in_arena = 1;
  t->generation = ctx->generation;
  *out = t;
  return SP_OK;
}

int sp_arena_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape) {
  return arena_tensor(ctx, out, dtype, ndim, shape, 1);
}

int sp_arena_tensor_uninit(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape) {
  return arena_tensor(ctx, out, dtype, ndim, shape, 0);
}

int sp_arena_tensor_host(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape) {
  sp_device d = ctx->device;
  ctx->device = SP_CPU; /* arena_tensor allocates where the context computes */
  int rc = arena_tensor(ctx, out, dtype, ndim, shape, 1);
  ctx->device = d;
  return rc;
}

int sp_tensor_ndim(const sp_tensor *t) { return t ? t->ndim : 0; }
int sp_tensor_dim(const sp_tensor *t, int axis) {
  if (!t) return 0;
  int a = sp_norm_axis(t, axis);
  return a < 0 ? 0 : t->shape[a];
}
int64_t sp_tensor_numel(const sp_tensor *t) { return t ? t->numel : 0; }
sp_dtype sp_tensor_dtype(const sp_tensor *t) { return t ? t->dtype : SP_F32; }
sp_device sp_tensor_device(const sp_tensor *t) { return t ? t->device : SP_CPU; }
/* Host pointers only: a GPU tensor's data is read through sp_tensor_copy. */
void *sp_tensor_data(sp_tensor *t) { return t && t->device == SP_CPU ? t->data : NULL; }
float *sp_tensor_f32(sp_tensor *t) { return t && t->dtype == SP_F32 && t->device == SP_CPU ? t->data : NULL; }
int32_t *sp_tensor_i32(sp_tensor *t) { return t && t->dtype == SP_I32 && t->device == SP_CPU ? t->data : NULL; }
int sp_tensor_is_arena(const sp_tensor *t) { return t ? t->in_arena : 0; }
int sp_tensor_requires_grad(const sp_tensor *t) { return t ? t->requires_grad : 0; }
sp_tensor *sp_tensor_grad(sp_tensor *t) { return t ? t->grad : NULL; }

int sp_tensor_set_requires_grad(sp_tensor *t, int requires_grad) {
  if (!t) return SP_FAIL(SP_EINVAL, "sp_tensor_set_requires_grad: NULL tensor");
  if (requires_grad && t->dtype != SP_F32)
    return SP_FAIL(SP_EDTYPE, "sp_tensor_set_requires_grad: only float32 tensors have gradients");
  if (requires_grad && t->in_arena)
    return SP_FAIL(SP_EINVAL, "sp_tensor_set_requires_grad: arena tensors get gradients from the tape; "
                              "make leaves with sp_tensor_new or sp_params_create");
  if (requires_grad && !t->grad) SP_TRY(sp_tensor_new_on(&t->grad, SP_F32, t->ndim, t->shape, t->device));
  t->requires_grad = requires_grad ? 1 : 0;
  return SP_OK;
}

int sp_tensor_zero_grad(sp_tensor *t) {
  if (!t) return SP_FAIL(SP_EINVAL, "sp_tensor_zero_grad: NULL tensor");
  if (t->grad && t->grad->device != SP_CPU) return sp_dev_zero(t->grad->data, t->numel * 4);
  if (t->grad) memset(t->grad->data, 0, (size_t)t->numel * 4);
  return SP_OK;
}

int sp_tensor_fill(sp_tensor *t, float value) {
  if (!t) return SP_FAIL(SP_EINVAL, "sp_tensor_fill: NULL tensor");
  if (t->device != SP_CPU) {
    if (value == 0.0f) return sp_dev_zero(t->data, t->numel * 4);
    return SP_FAIL(SP_EDEVICE, "sp_tensor_fill: a GPU tensor can only be zero-filled; fill on the CPU and move it");
  }
  if (t->dtype == SP_F32) {
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = value;
  } else {
    int32_t *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = (int32_t)value;
  }
  return SP_OK;
}

int sp_tensor_copy(sp_tensor *dst, const sp_tensor *src) {
  if (!dst || !src) return SP_FAIL(SP_EINVAL, "sp_tensor_copy: NULL tensor");
  if (dst->dtype != src->dtype) return SP_FAIL(SP_EDTYPE, "sp_tensor_copy: dtypes differ");
  if (dst->numel != src->numel)
    return SP_FAIL(SP_ESHAPE, "sp_tensor_copy: %lld vs %lld elements", (long long)dst->numel,
                   (long long)src->numel);
  return sp_tensor_copy_bytes(dst, src, src->numel * 4);
}

int sp_tensor_fill_uniform(sp_tensor *t, sp_rng *rng, float lo, float hi) {
  if (!t || !rng) return SP_FAIL(SP_EINVAL, "sp_tensor_fill_uniform: NULL argument");
  if (t->dtype != SP_F32) return SP_FAIL(SP_EDTYPE, "sp_tensor_fill_uniform: float32 only");
  SP_TRY(sp_check_device("sp_tensor_fill_uniform", t, __FILE__, __LINE__));
  float *d = t->data;
  sp_rng_uniform(rng, d, t->numel);
  for (int64_t i = 0; i < t->numel; i++) d[i] = lo + (hi - lo) * d[i];
  return SP_OK;
}

int sp_tensor_fill_normal(sp_tensor *t, sp_rng *rng, float mean, float std) {
  if (!t || !rng) return SP_FAIL(SP_EINVAL, "sp_tensor_fill_normal: NULL argument");
  if (t->dtype != SP_F32) return SP_FAIL(SP_EDTYPE, "sp_tensor_fill_normal: float32 only");
  SP_TRY(sp_check_device("sp_tensor_fill_normal", t, __FILE__, __LINE__));
  sp_rng_normal(rng, t->data, t->numel, mean, std);
  return SP_OK;
}

/* ---- shared argument checks ---- */

const char *sp_shape_str(const sp_tensor *t, char *buf) {
  int n = snprintf(buf, 64, "(");
  for (int i = 0; i < t->ndim; i++) n += snprintf(buf + n, 64 - n, i ? ", %d" : "%d", t->shape[i]);
  snprintf(buf + n, 64 - n, ")");
  return buf;
}

int sp_check_tensor(const char *op, const char *arg, const sp_tensor *t, sp_dtype dtype,
                    const char *file, int line) {
  if (!t) return sp_error_set(SP_EINVAL, file, line, "%s: %s is NULL", op, arg);
  if (t->dtype != dtype)
    return sp_error_set(SP_EDTYPE, file, line, "%s: %s must be %s, got %s", op, arg,
                        dtype == SP_F32 ? "float32" : "int32", t->dtype == SP_F32 ? "float32" : "int32");
  return sp_check_device(op, t, file, line);
}

int sp_check_alive(sp_ctx *ctx, const char *op, const sp_tensor *t, const char *file, int line) {
  if (t->in_arena && t->generation != ctx->generation)
    return sp_error_set(SP_ESTATE, file, line,
                        "%s: tensor from arena generation %llu used after sp_ctx_reset (now %llu)", op,
                        (unsigned long long)t->generation, (unsigned long long)ctx->generation);
  return SP_OK;
}

int sp_check_device(const char *op, const sp_tensor *t, const char *file, int line) {
  /* Ops check with sp_check_op_tensor (the context's device); this is host code's check. */
  if (t->device != SP_CPU)
    return sp_error_set(SP_EDEVICE, file, line,
                        "%s: %s runs on the CPU and takes CPU tensors (copy GPU data back first)",
                        op, op);
  return SP_OK;
}

int sp_same_shape(const sp_tensor *a, const sp_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

int sp_is_suffix_shape(const sp_tensor *a, const sp_tensor *b) {
  if (b->ndim > a->ndim) return 0;
  for (int i = 0; i < b->ndim; i++)
    if (b->shape[b->ndim - 1 - i] != a->shape[a->ndim - 1 - i]) return 0;
  return 1;
}

int sp_norm_axis(const sp_tensor *t, int axis) {
  int a = axis < 0 ? axis + t->ndim : axis;
  return (a < 0 || a >= t->ndim) ? -1 : a;
}
