/* device.c — devices as the engine sees them: the backend table per device, heap tensors on a
 * GPU, copies between devices, a context's device, and the CUDA plugin (libsprint_cuda.so,
 * built from kernels/), loaded with dlopen on first use. Without the plugin every GPU call
 * fails with SP_EDEVICE and the reason. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <libgen.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "kernels.h"

static const sp_cuda_plugin *plugin_load(void);

const sp_kernels *sp_kernels_for(sp_device device) {
  if (device == SP_CPU) return &sp_kernels_cpu;
  if (device == SP_CUDA) {
    const sp_cuda_plugin *pl = plugin_load();
    return pl ? pl->kernels : NULL;
  }
  return NULL;
}

int sp_cuda_built(void) {
#ifdef SPRINT_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

/* Every entry of the table, for the completeness count (the op tests report what is missing). */
#define KERNEL_FIELD(name) {#name, offsetof(sp_kernels, name)}
static const struct {
  const char *name;
  size_t offset;
} kernel_fields[] = {
    KERNEL_FIELD(matmul_forward), KERNEL_FIELD(matmul_backward), KERNEL_FIELD(linear_forward),
    KERNEL_FIELD(linear_backward), KERNEL_FIELD(binary_forward), KERNEL_FIELD(binary_backward),
    KERNEL_FIELD(unary_forward), KERNEL_FIELD(unary_backward), KERNEL_FIELD(copy),
    KERNEL_FIELD(accumulate), KERNEL_FIELD(softmax_forward), KERNEL_FIELD(softmax_backward),
    KERNEL_FIELD(layernorm_forward), KERNEL_FIELD(layernorm_backward),
    KERNEL_FIELD(embedding_forward), KERNEL_FIELD(embedding_backward_work_floats),
    KERNEL_FIELD(embedding_backward),
    KERNEL_FIELD(dropout_forward), KERNEL_FIELD(dropout_backward),
    KERNEL_FIELD(attention_forward), KERNEL_FIELD(attention_backward_work_floats),
    KERNEL_FIELD(attention_backward), KERNEL_FIELD(gru_forward_work_floats),
    KERNEL_FIELD(gru_backward_work_floats), KERNEL_FIELD(gru_forward),
    KERNEL_FIELD(gru_backward), KERNEL_FIELD(reduce_forward), KERNEL_FIELD(reduce_backward),
    KERNEL_FIELD(axis_copy), KERNEL_FIELD(take_positions_forward),
    KERNEL_FIELD(take_positions_backward), KERNEL_FIELD(cross_entropy_forward_work_floats),
    KERNEL_FIELD(cross_entropy_forward), KERNEL_FIELD(cross_entropy_backward),
    KERNEL_FIELD(bce_logits_forward_work_floats), KERNEL_FIELD(bce_logits_forward),
    KERNEL_FIELD(bce_logits_backward), KERNEL_FIELD(cosine_forward),
    KERNEL_FIELD(cosine_backward_work_floats), KERNEL_FIELD(cosine_backward),
    KERNEL_FIELD(ortho_forward), KERNEL_FIELD(ortho_backward), KERNEL_FIELD(enrich_work_floats),
    KERNEL_FIELD(enrich), KERNEL_FIELD(topk),
};

int sp_kernels_count(const sp_kernels *k, int *total, const char **first_missing) {
  int n = (int)(sizeof kernel_fields / sizeof kernel_fields[0]), have = 0;
  if (total) *total = n;
  if (first_missing) *first_missing = k ? NULL : "(no backend)";
  for (int i = 0; k && i < n; i++) {
    void *fn;
    memcpy(&fn, (const char *)k + kernel_fields[i].offset, sizeof fn);
    if (fn)
      have++;
    else if (first_missing && !*first_missing)
      *first_missing = kernel_fields[i].name;
  }
  return have;
}

int sp_device_kernels(sp_device device, int *have, int *total, const char **first_missing) {
  int h = sp_kernels_count(sp_kernels_for(device), total, first_missing);
  if (have) *have = h;
  return SP_OK;
}

static const char *device_name(sp_device d) { return d == SP_CPU ? "cpu" : d == SP_CUDA ? "cuda" : "?"; }

int sp_check_op_tensor(sp_ctx *ctx, const char *op, const char *arg, sp_tensor **tp,
                       sp_dtype dtype, const char *file, int line) {
  sp_tensor *t = *tp;
  if (!t) return sp_error_set(SP_EINVAL, file, line, "%s: %s is NULL", op, arg);
  if (t->dtype != dtype)
    return sp_error_set(SP_EDTYPE, file, line, "%s: %s must be %s, got %s", op, arg,
                        dtype == SP_F32 ? "float32" : "int32", t->dtype == SP_F32 ? "float32" : "int32");
  SP_TRY(sp_check_alive(ctx, op, t, file, line));
  if (t->device == ctx->device) return SP_OK;
  if (t->device == SP_CPU && !t->requires_grad) { /* a batch, mask or target: upload it */
    sp_tensor *up;
    int rc = sp_ctx_upload(ctx, &up, t);
    if (rc != SP_OK) return rc;
    *tp = up;
    return SP_OK;
  }
  return sp_error_set(SP_EDEVICE, file, line,
                      "%s: %s is on %s but the context computes on %s (move parameters with "
                      "sp_params_to_device, other tensors with sp_tensor_to_device)",
                      op, arg, device_name(t->device), device_name(ctx->device));
}

/* ---- heap tensors on a device ---- */

int sp_tensor_new_on(sp_tensor **out, sp_dtype dtype, int ndim, const int *shape, sp_device device) {
  if (device == SP_CPU) return sp_tensor_new(out, dtype, ndim, shape);
  if (!out) return SP_FAIL(SP_EINVAL, "sp_tensor_new_on: NULL output");
  *out = NULL;
  if (device != SP_CUDA) return SP_FAIL(SP_EDEVICE, "sp_tensor_new_on: unknown device %d", (int)device);
  SP_TRY(sp_dev_init());
  sp_tensor *t;
  SP_TRY(sp_tensor_new(&t, dtype, ndim, shape)); /* checks the shape; a host copy to move */
  int rc = sp_tensor_to_device(t, SP_CUDA);
  if (rc != SP_OK) {
    sp_tensor_free(t);
    return rc;
  }
  *out = t;
  return SP_OK;
}

int sp_tensor_to_device(sp_tensor *t, sp_device device) {
  const char *op = "sp_tensor_to_device";
  if (!t) return SP_FAIL(SP_EINVAL, "%s: NULL tensor", op);
  if (device != SP_CPU && device != SP_CUDA)
    return SP_FAIL(SP_EDEVICE, "%s: unknown device %d", op, (int)device);
  if (t->in_arena)
    return SP_FAIL(SP_EINVAL, "%s: arena tensors stay where their context computes (use sp_ctx_upload)", op);
  if (t->device == device) return SP_OK;
  if (!t->owns_data) return SP_FAIL(SP_EINVAL, "%s: the tensor does not own its data (a view)", op);
  int64_t bytes = t->numel * 4;
  void *data = NULL;
  if (device == SP_CUDA) {
    SP_TRY(sp_dev_init());
    SP_TRY(sp_dev_alloc(&data, bytes, op));
    int rc = sp_dev_copy(data, t->data, bytes, SP_COPY_H2D);
    if (rc == SP_OK) rc = sp_dev_sync(op); /* the host buffer is freed next */
    if (rc != SP_OK) {
      sp_dev_release(data);
      return rc;
    }
    free(t->data);
  } else {
    data = aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64 + 64));
    if (!data) return SP_FAIL(SP_ENOMEM, "%s: cannot allocate %lld bytes", op, (long long)bytes);
    int rc = sp_dev_copy(data, t->data, bytes, SP_COPY_D2H);
    if (rc != SP_OK) {
      free(data);
      return rc;
    }
    sp_dev_release(t->data);
  }
  t->data = data;
  t->device = device;
  if (t->grad) SP_TRY(sp_tensor_to_device(t->grad, device));
  return SP_OK;
}

/* Copies between any two devices; a copy to the host waits for the GPU. */
int sp_tensor_copy_bytes(sp_tensor *dst, const sp_tensor *src, int64_t bytes) {
  if (dst->device == SP_CPU && src->device == SP_CPU) {
    memmove(dst->data, src->data, (size_t)bytes);
    return SP_OK;
  }
  sp_copy_kind kind = dst->device == SP_CPU ? SP_COPY_D2H : src->device == SP_CPU ? SP_COPY_H2D : SP_COPY_D2D;
  return sp_dev_copy(dst->data, src->data, bytes, kind);
}

/* ---- a context's device ---- */

int sp_ctx_set_device(sp_ctx *ctx, sp_device device) {
  if (!ctx) return SP_FAIL(SP_EINVAL, "sp_ctx_set_device: NULL context");
  if (device == ctx->device) return SP_OK;
  if (ctx->tape_len != 0)
    return SP_FAIL(SP_ESTATE, "sp_ctx_set_device: the tape holds %lld ops; reset the context first",
                   (long long)ctx->tape_len);
  const sp_kernels *k = sp_kernels_for(device);
  if (!k) {
    if (device == SP_CUDA)
      return SP_FAIL(SP_EDEVICE, "sp_ctx_set_device: this libsprint was built without CUDA "
                                 "(configure with -DSPRINT_CUDA=ON where nvcc and cuBLAS are installed)");
    return SP_FAIL(SP_EDEVICE, "sp_ctx_set_device: unknown device %d", (int)device);
  }
  if (device == SP_CUDA) {
    SP_TRY(sp_dev_init());
    if (!ctx->dev_arena.head) sp_arena_init_on(&ctx->dev_arena, 0, SP_CUDA);
  }
  ctx->device = device;
  ctx->kernels = k;
  ctx->generation++; /* tensors made before belong to the other device's arena */
  return SP_OK;
}

sp_device sp_ctx_device(const sp_ctx *ctx) { return ctx ? ctx->device : SP_CPU; }

int sp_ctx_upload(sp_ctx *ctx, sp_tensor **out, sp_tensor *t) {
  const char *op = "sp_ctx_upload";
  SP_CHECK_CTX(ctx, op, out);
  if (!t) return SP_FAIL(SP_EINVAL, "%s: NULL tensor", op);
  SP_TRY(sp_check_alive(ctx, op, t, __FILE__, __LINE__));
  sp_tensor *o;
  SP_TRY(sp_arena_tensor_uninit(ctx, &o, t->dtype, t->ndim, t->shape));
  SP_TRY(sp_tensor_copy_bytes(o, t, t->numel * 4));
  *out = o;
  return SP_OK;
}

/* ---- the CUDA plugin ---- */

#define NO_CUDA                                                                                    \
  "this libsprint was built without CUDA (configure with -DSPRINT_CUDA=ON where nvcc and "        \
  "cuBLAS are installed)"

static pthread_once_t plugin_once = PTHREAD_ONCE_INIT;
static const sp_cuda_plugin *plugin;
static char plugin_why[1400];

/* libsprint_cuda.so beside this libsprint. SPRINT_CUDA_PLUGIN overrides the path, in any
 * build: the tests load tests/fake_gpu's stand-in that way on machines without a GPU. */
static void plugin_open(void) {
  char path[1024];
  const char *env = getenv("SPRINT_CUDA_PLUGIN");
  Dl_info info;
  if (env && *env) {
    snprintf(path, sizeof path, "%s", env);
  } else if (!sp_cuda_built()) {
    snprintf(plugin_why, sizeof plugin_why, "%s", NO_CUDA);
    return;
  } else if (dladdr((void *)&sp_dev_init, &info) && info.dli_fname) {
    char own[1024];
    snprintf(own, sizeof own, "%s", info.dli_fname);
    snprintf(path, sizeof path, "%s/libsprint_cuda.so", dirname(own));
  } else {
    snprintf(path, sizeof path, "libsprint_cuda.so");
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(plugin_why, sizeof plugin_why, "the CUDA plugin could not be loaded: %s", dlerror());
    return;
  }
  const sp_cuda_plugin *pl = dlsym(h, "sp_cuda_plugin_v1");
  if (!pl || pl->abi != SP_CUDA_PLUGIN_ABI) {
    snprintf(plugin_why, sizeof plugin_why, "%.1000s is not this libsprint's CUDA plugin (%s)", path,
             pl ? "ABI differs: rebuild" : "no sp_cuda_plugin_v1");
    return;
  }
  plugin = pl;
}

static const sp_cuda_plugin *plugin_load(void) {
  pthread_once(&plugin_once, plugin_open);
  return plugin;
}

#define NEED_PLUGIN(what)                                                                          \
  do {                                                                                             \
    if (!plugin_load()) return SP_FAIL(SP_EDEVICE, "%s: %s", what, plugin_why);                   \
  } while (0)

int sp_dev_init(void) {
  NEED_PLUGIN("CUDA");
  return plugin->init();
}
int sp_dev_alloc(void **p, int64_t bytes, const char *what) {
  *p = NULL;
  NEED_PLUGIN(what);
  return plugin->alloc(p, bytes, what);
}
void sp_dev_release(void *p) {
  if (p && plugin) plugin->release(p);
}
int sp_dev_copy(void *dst, const void *src, int64_t bytes, sp_copy_kind kind) {
  NEED_PLUGIN("copy");
  return plugin->copy(dst, src, bytes, kind);
}
int sp_dev_zero(void *p, int64_t bytes) {
  NEED_PLUGIN("zero");
  return plugin->zero(p, bytes);
}
int sp_dev_sync(const char *what) { return plugin ? plugin->sync(what) : SP_OK; }
int sp_dev_pending(const char *what) { return plugin ? plugin->pending(what) : SP_OK; }
int64_t sp_dev_clip_grad_norm_work_floats(int64_t n) {
  return plugin ? plugin->clip_grad_norm_work_floats(n) : 0;
}
int sp_dev_clip_grad_norm(float *g, int64_t n, float max_norm, float *norm_dev, float *work) {
  NEED_PLUGIN("clip_grad_norm");
  return plugin->clip_grad_norm(g, n, max_norm, norm_dev, work);
}
int sp_dev_adam_update(float *w, const float *g, float *m, float *v, int64_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, int decoupled,
                       float step_size, float bc2_sqrt) {
  NEED_PLUGIN("adam");
  return plugin->adam_update(w, g, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled,
                             step_size, bc2_sqrt);
}
int sp_dev_nonzero_mask(int32_t *mask, const int32_t *seq, int64_t n) {
  NEED_PLUGIN("nonzero_mask");
  return plugin->nonzero_mask(mask, seq, n);
}

int sp_dev_rank_full(float *rank, float *scores, const float *h, const float *items,
                     const int32_t *target, const int32_t *seq, int B, int n, int d, int L, int ties) {
  NEED_PLUGIN("rank_full");
  return plugin->rank_full(rank, scores, h, items, target, seq, B, n, d, L, ties);
}

int sp_dev_allreduce_mean(float *buf, int64_t n) {
  NEED_PLUGIN("all-reduce");
  return plugin->dist_allreduce_mean(buf, n);
}

/* ---- data-parallel training over NCCL ---- */

int sp_dist_unique_id(char *hex, int n) {
  if (!hex) return SP_FAIL(SP_EINVAL, "sp_dist_unique_id: NULL buffer");
  SP_TRY(sp_dev_init());
  return plugin->dist_unique_id(hex, n);
}

int sp_dist_init(int rank, int world, const char *hex) {
  SP_TRY(sp_dev_init());
  return plugin->dist_init(rank, world, hex);
}

void sp_dist_free(void) {
  if (plugin) plugin->dist_free();
}

/* ---- the public CUDA calls ---- */

int sp_cuda_init(void) { return sp_dev_init(); }

const char *sp_cuda_info(void) {
  static char none[1500];
  if (!plugin_load()) {
    snprintf(none, sizeof none, "none: %s", plugin_why);
    return none;
  }
  return plugin->info();
}

int sp_cuda_memory_stats(sp_cuda_memory *out) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_cuda_memory_stats: NULL output");
  if (!plugin_load()) {
    memset(out, 0, sizeof *out);
    return SP_OK;
  }
  return plugin->memory_stats(out);
}

int sp_cuda_release_cache(void) { return plugin ? plugin->release_cache() : SP_OK; }

int sp_cuda_synchronize(void) {
  SP_TRY(sp_dev_init());
  return sp_dev_sync("sp_cuda_synchronize");
}
