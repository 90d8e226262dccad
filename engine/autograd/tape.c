/* tape.c — the context and its tape. Ops append a node when they need a backward; backward
 * walks the nodes in reverse and each node adds its inputs' gradients (always +=), the
 * micrograd idea with the topological order given for free by recording order. */
#include "device.h"
#include "internal.h"
#include "kernels.h"

#include <string.h>

int sp_ctx_new(sp_ctx **out, uint64_t seed) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_ctx_new: NULL output");
  sp_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return SP_FAIL(SP_ENOMEM, "sp_ctx_new: out of memory");
  sp_arena_init(&ctx->arena, 1 << 22);
  ctx->tape_cap = 256;
  ctx->tape = malloc((size_t)ctx->tape_cap * sizeof *ctx->tape);
  if (!ctx->arena.head || !ctx->tape) {
    sp_ctx_free(ctx);
    return SP_FAIL(SP_ENOMEM, "sp_ctx_new: out of memory");
  }
  sp_arena_init_on(&ctx->dev_arena, 0, SP_CPU); /* used once the context moves to a GPU */
  ctx->device = SP_CPU;
  ctx->kernels = &sp_kernels_cpu;
  ctx->grad_enabled = 1;
  ctx->training = 1;
  ctx->generation = 1;
  sp_rng_init(&ctx->rng, seed);
  *out = ctx;
  return SP_OK;
}

void sp_ctx_free(sp_ctx *ctx) {
  if (!ctx) return;
  sp_arena_destroy(&ctx->arena);
  sp_arena_destroy(&ctx->dev_arena);
  free(ctx->tape);
  sp_profile_free(ctx);
  free(ctx);
}

int sp_ctx_reset(sp_ctx *ctx) {
  if (!ctx) return SP_FAIL(SP_EINVAL, "sp_ctx_reset: NULL context");
  sp_arena_reset(&ctx->arena);
  sp_arena_reset(&ctx->dev_arena);
  ctx->tape_len = 0;
  ctx->generation++;
  if (ctx->profiling) sp_profile_mark(ctx);
  /* a GPU step's launch errors surface here at the latest (no wait: launches are checked) */
  return ctx->device == SP_CPU ? SP_OK : sp_dev_pending("sp_ctx_reset");
}

void sp_ctx_set_grad_enabled(sp_ctx *ctx, int enabled) {
  if (ctx) ctx->grad_enabled = enabled != 0;
}
int sp_ctx_grad_enabled(const sp_ctx *ctx) {
  return ctx ? ctx->grad_enabled : 0;
}
void sp_ctx_set_training(sp_ctx *ctx, int training) {
  if (ctx) ctx->training = training != 0;
}
int sp_ctx_training(const sp_ctx *ctx) {
  return ctx ? ctx->training : 0;
}
sp_rng *sp_ctx_rng(sp_ctx *ctx) {
  return ctx ? &ctx->rng : NULL;
}

void sp_ctx_get_stats(const sp_ctx *ctx, sp_ctx_stats *out) {
  if (!ctx || !out) return;
  out->generation = ctx->generation;
  out->tape_len = ctx->tape_len;
  out->arena_used = sp_arena_used(&ctx->arena);
  out->arena_capacity = ctx->arena.capacity;
  out->arena_mallocs = ctx->arena.mallocs;
}

int sp_ctx_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape) {
  SP_CHECK_CTX(ctx, "sp_ctx_tensor", out);
  if (dtype != SP_F32 && dtype != SP_I32)
    return SP_FAIL(SP_EDTYPE, "sp_ctx_tensor: unknown dtype %d", (int)dtype);
  return sp_arena_tensor_host(ctx, out, dtype, ndim, shape); /* host memory: Lua fills it */
}

sp_node *sp_tape_record(sp_ctx *ctx, const char *name, sp_backward_fn fn, sp_tensor *out, int n_in,
                        sp_tensor *const *in) {
  SP_ASSERT(n_in <= SP_NODE_MAX_IN);
  if (!ctx->grad_enabled) return NULL;
  int any = 0;
  for (int i = 0; i < n_in; i++) any |= in[i] && in[i]->requires_grad;
  if (!any) return NULL;
  if (ctx->tape_len == ctx->tape_cap) {
    int64_t cap = ctx->tape_cap * 2;
    sp_node *tape = realloc(ctx->tape, (size_t)cap * sizeof *tape);
    if (!tape) return NULL; /* out stays grad-free; backward will report the missing path */
    ctx->tape = tape;
    ctx->tape_cap = cap;
  }
  sp_node *node = &ctx->tape[ctx->tape_len++];
  memset(node, 0, sizeof *node);
  node->backward = fn;
  node->name = name;
  node->out = out;
  for (int i = 0; i < n_in; i++) node->in[i] = in[i];
  out->requires_grad = 1;
  if (ctx->profiling) sp_profile_record(ctx, node);
  return node;
}

float *sp_grad_of(sp_ctx *ctx, sp_tensor *t) {
  if (!t->grad) {
    sp_tensor *g;
    if (sp_arena_tensor(ctx, &g, SP_F32, t->ndim, t->shape) != SP_OK) {
      sp_backward_fail(
          ctx, SP_FAIL(SP_ENOMEM, "sp_backward: out of memory for a gradient of %lld floats",
                       (long long)t->numel));
      return NULL;
    }
    t->grad = g;
  }
  return t->grad->data;
}

void sp_backward_fail(sp_ctx *ctx, int status) {
  if (ctx->backward_status == SP_OK) ctx->backward_status = status;
}

float *sp_work(sp_ctx *ctx, int64_t floats, const char *op) {
  sp_arena *a = ctx->device == SP_CPU ? &ctx->arena : &ctx->dev_arena;
  float *w = sp_arena_alloc(a, floats * (int64_t)sizeof(float));
  if (!w) SP_FAIL(SP_ENOMEM, "%s: out of memory for %lld scratch floats", op, (long long)floats);
  return w;
}

float *sp_work_host(sp_ctx *ctx, int64_t floats, const char *op) {
  float *w = sp_arena_alloc(&ctx->arena, floats * (int64_t)sizeof(float));
  if (!w) SP_FAIL(SP_ENOMEM, "%s: out of memory for %lld scratch floats", op, (long long)floats);
  return w;
}

int sp_backward(sp_ctx *ctx, sp_tensor *loss) {
  if (!ctx || !loss) return SP_FAIL(SP_EINVAL, "sp_backward: NULL argument");
  SP_TRY(sp_check_alive(ctx, "sp_backward", loss, __FILE__, __LINE__));
  if (loss->dtype != SP_F32 || loss->numel != 1)
    return SP_FAIL(SP_ESHAPE, "sp_backward: loss must be a float32 scalar, got %lld elements",
                   (long long)loss->numel);
  if (!loss->requires_grad)
    return SP_FAIL(SP_ESTATE,
                   "sp_backward: loss does not depend on any tensor that requires grad "
                   "(or it was computed in no-grad mode)");
  int64_t last = -1;
  for (int64_t i = ctx->tape_len - 1; i >= 0 && last < 0; i--)
    if (ctx->tape[i].out == loss) last = i;
  if (last < 0) return SP_FAIL(SP_ESTATE, "sp_backward: loss is not on this context's tape");
  float *g = sp_grad_of(ctx, loss);
  if (!g) return SP_FAIL(SP_ENOMEM, "sp_backward: arena out of memory");
  if (ctx->device == SP_CPU) {
    g[0] += 1.0f;
  } else { /* d loss / d loss = 1, added on the device (queued: no wait) */
    static const float one = 1.0f;
    float *dev_one = sp_work(ctx, 1, "sp_backward");
    if (!dev_one) return SP_ENOMEM;
    SP_TRY(sp_dev_copy(dev_one, &one, sizeof one, SP_COPY_H2D));
    ctx->kernels->accumulate(g, dev_one, 1);
  }
  /* Intermediate gradients are made lazily by sp_grad_of inside each backward; a failure
   * there (or in a kernel) is recorded in backward_status and stops the walk. */
  ctx->backward_status = SP_OK;
  for (int64_t i = last; i >= 0; i--) {
    sp_node *node = &ctx->tape[i];
    if (!node->out->grad) continue; /* does not reach the loss */
    if (ctx->profiling)
      sp_profile_backward(ctx, node);
    else
      node->backward(ctx, node);
    if (ctx->backward_status != SP_OK) return ctx->backward_status; /* message already set */
  }
  if (ctx->profiling) sp_profile_mark(ctx);
  return ctx->device == SP_CPU ? SP_OK : sp_dev_pending("sp_backward");
}
