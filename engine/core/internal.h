/* internal.h — what the engine's own files share and callers never see: the tensor and
 * context layouts, the tape node, error helpers and the op-argument checks. */
#ifndef SPRINT_INTERNAL_H
#define SPRINT_INTERNAL_H

#include "sprint.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#define SP_MAX_DIMS 4

struct sp_tensor {
  void *data;
  sp_tensor *grad;        /* same shape, float32; NULL until needed */
  int64_t numel;
  int shape[SP_MAX_DIMS];
  int ndim;
  sp_dtype dtype;
  sp_device device;
  uint8_t requires_grad;
  uint8_t owns_data;      /* heap tensor that frees data on sp_tensor_free */
  uint8_t in_arena;       /* header and data live in a context's arena */
  uint64_t generation;    /* arena generation it was made in */
};

/* ---- errors: set the thread's message and return the status ---- */
int sp_error_set(int status, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define SP_FAIL(status, ...) sp_error_set((status), __FILE__, __LINE__, __VA_ARGS__)
#define SP_TRY(expr)                                                                               \
  do {                                                                                             \
    int sp_try_rc_ = (expr);                                                                       \
    if (sp_try_rc_ != SP_OK) return sp_try_rc_;                                                    \
  } while (0)
/* An internal invariant, never reachable from bad input. */
#define SP_ASSERT(cond)                                                                            \
  do {                                                                                             \
    if (!(cond)) sp_internal_abort(__FILE__, __LINE__, #cond);                                     \
  } while (0)
void sp_internal_abort(const char *file, int line, const char *what) __attribute__((noreturn));

/* ---- how large one allocation may be ----
 * A tensor holds at most SP_MAX_NUMEL elements (kernels index rows and columns with int), and
 * no allocation asks for more bytes than the machine has: such a request cannot succeed, and
 * under ASan the allocator aborts instead of returning NULL, so sizes are refused first. */
#define SP_MAX_NUMEL ((int64_t)INT32_MAX)
int64_t sp_memory_bytes(void); /* physical memory; INT64_MAX when unknown */
/* SP_OK when count elements of elem_bytes each fit both limits; else an SP_ESHAPE error
 * "what: desc = count elements is too large (...)". count < 0 means it overflowed. */
int sp_check_numel(const char *what, const char *desc, int64_t count, int64_t elem_bytes);

/* ---- arena: bump allocation in chunks; reset coalesces into one chunk ---- */
typedef struct sp_arena_chunk sp_arena_chunk;
typedef struct {
  sp_device device;        /* where the chunks live: host memory, or the GPU (engine/core/device.h) */
  sp_arena_chunk *head;    /* chunk being filled */
  sp_arena_chunk *full;    /* chunks filled earlier this generation */
  int64_t used_before;     /* bytes in the full chunks */
  int64_t capacity;
  int64_t mallocs;
} sp_arena;
void sp_arena_init(sp_arena *a, int64_t initial);
/* The same for memory on a device (SP_CUDA: chunks from the caching allocator; zeroing is an
 * asynchronous memset on the stream). initial 0 allocates nothing until first use. */
void sp_arena_init_on(sp_arena *a, int64_t initial, sp_device device);
void sp_arena_destroy(sp_arena *a);
void *sp_arena_alloc(sp_arena *a, int64_t bytes);  /* 64-byte aligned, zeroed; NULL on OOM */
void *sp_arena_alloc_uninit(sp_arena *a, int64_t bytes); /* the same, not zeroed */
void sp_arena_reset(sp_arena *a);
int64_t sp_arena_used(const sp_arena *a);

/* ---- tape ---- */
#define SP_NODE_MAX_IN 6
typedef struct sp_node sp_node;
typedef void (*sp_backward_fn)(sp_ctx *ctx, sp_node *node);
struct sp_node {
  sp_backward_fn backward;
  const char *name;
  sp_tensor *out;
  sp_tensor *in[SP_NODE_MAX_IN];
  sp_tensor *saved[3];  /* what backward needs: softmax probs, mean/rstd, gates */
  float f[4];
  int i[6];
  uint64_t u[2];
  void *extra;          /* op-specific arena data, e.g. concat's list of more than 6 inputs */
};

typedef struct sp_kernels sp_kernels; /* engine/core/kernels.h */

struct sp_ctx {
  sp_arena arena;          /* host memory: tensor headers, tape lists; CPU tensors' data */
  sp_arena dev_arena;      /* the data of tensors on a GPU context (per-step activations) */
  sp_device device;        /* where this context computes: its arena tensors live there */
  const sp_kernels *kernels; /* that device's kernel table */
  sp_node *tape;
  int64_t tape_len, tape_cap;
  uint64_t generation;
  int grad_enabled;
  int training;
  int backward_status; /* first failure inside a backward function, reported by sp_backward */
  sp_rng rng;
  int profiling;              /* sp_ctx_profile on: records and backward are timed */
  struct sp_profile *profile; /* engine/autograd/profile.c; NULL until first turned on */
};

/* The profiler's hooks (engine/autograd/profile.c), called only while ctx->profiling. */
void sp_profile_record(sp_ctx *ctx, const sp_node *node);  /* a node was just recorded */
void sp_profile_mark(sp_ctx *ctx);                         /* a step boundary: reset, backward end */
void sp_profile_backward(sp_ctx *ctx, sp_node *node);      /* runs node's backward, timed */
void sp_profile_free(sp_ctx *ctx);

/* A new arena tensor (zeroed data). */
int sp_arena_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
/* The same without zeroing, for outputs the kernel writes completely (saves a memset). */
int sp_arena_tensor_uninit(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
/* Records a node if grad is enabled and any input requires grad; marks out accordingly.
 * Returns the node (to fill saved/params) or NULL when nothing is recorded. */
sp_node *sp_tape_record(sp_ctx *ctx, const char *name, sp_backward_fn fn, sp_tensor *out,
                        int n_in, sp_tensor *const *in);
/* The float32 gradient buffer of t, created zeroed in the arena if t has none; NULL (and the
 * context's backward_status set) when the arena is out of memory. */
float *sp_grad_of(sp_ctx *ctx, sp_tensor *t);
/* Zeroed scratch floats from the arena (on the context's device) for kernels that take `work`;
 * NULL with the error set. */
float *sp_work(sp_ctx *ctx, int64_t floats, const char *op);
/* The same in host memory whatever the context's device (engine/eval's CPU code). */
float *sp_work_host(sp_ctx *ctx, int64_t floats, const char *op);
/* For backward functions (which return nothing): records the first failure for sp_backward. */
void sp_backward_fail(sp_ctx *ctx, int status);
/* True when t needs its gradient (so backward should compute it). */
static inline int sp_needs_grad(const sp_tensor *t) { return t && t->requires_grad; }

/* Dropout inside the layers and models: x itself where dropout does nothing (evaluation mode,
 * or p = 0), with no copy and no tape node, so gradients reach x directly; else sp_dropout.
 * For callers that never write into the result. */
static inline int sp_dropout_if_active(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, float p) {
  if (ctx && out && x && (!sp_ctx_training(ctx) || p == 0.0f)) {
    *out = x;
    return SP_OK;
  }
  return sp_dropout(ctx, out, x, p);
}

/* engine/nn/layers.c: a Transformer block's output at each row's last position (B, d), for
 * evaluation (no grad recording, not training, CPU); see sp_backbone_encode_last. */
int sp_transformer_block_forward_last(sp_ctx *ctx, sp_tensor **out, const sp_transformer_block *b,
                                      sp_tensor *x, int causal, sp_tensor *key_mask, sp_tensor *last);

/* ---- argument checks shared by the ops ---- */
int sp_check_tensor(const char *op, const char *arg, const sp_tensor *t, sp_dtype dtype,
                    const char *file, int line);
int sp_check_alive(sp_ctx *ctx, const char *op, const sp_tensor *t, const char *file, int line);
#define SP_CHECK_F32(ctx, op, t)                                                                   \
  do {                                                                                             \
    SP_TRY(sp_check_tensor(op, #t, t, SP_F32, __FILE__, __LINE__));                                \
    SP_TRY(sp_check_alive(ctx, op, t, __FILE__, __LINE__));                                        \
  } while (0)
#define SP_CHECK_I32(ctx, op, t)                                                                   \
  do {                                                                                             \
    SP_TRY(sp_check_tensor(op, #t, t, SP_I32, __FILE__, __LINE__));                                \
    SP_TRY(sp_check_alive(ctx, op, t, __FILE__, __LINE__));                                        \
  } while (0)
#define SP_CHECK_CTX(ctx, op, out)                                                                 \
  do {                                                                                             \
    if (!(ctx) || !(out)) return SP_FAIL(SP_EINVAL, "%s: NULL context or output", op);            \
    *(out) = NULL;                                                                                 \
  } while (0)
/* Shape formatting for error messages: "(2, 3, 4)". buf must hold 64 bytes. */
const char *sp_shape_str(const sp_tensor *t, char *buf);
int sp_same_shape(const sp_tensor *a, const sp_tensor *b);
/* b's shape equals a's or a trailing part of it (broadcast over leading dims). */
int sp_is_suffix_shape(const sp_tensor *a, const sp_tensor *b);
int sp_norm_axis(const sp_tensor *t, int axis);  /* -1 if out of range */
/* Host code (eval, data, models' index handling) reads tensors' data directly: it takes CPU
 * tensors only. */
int sp_check_device(const char *op, const sp_tensor *t, const char *file, int line);
/* Ops run on the context's device: *t must be of dtype and alive, and the op then calls
 * ctx->kernels (the CPU table, or the CUDA one: engine/core/kernels.h). On a GPU context a
 * host tensor that needs no gradient (a batch, a mask, targets, Lua's scratch) is uploaded:
 * *t becomes an arena copy on the GPU (a queued copy, no wait); a host tensor that needs a
 * gradient is an error (parameters move with sp_params_to_device). */
int sp_check_op_tensor(sp_ctx *ctx, const char *op, const char *arg, sp_tensor **t,
                       sp_dtype dtype, const char *file, int line);
#define SP_OP_F32(ctx, op, t) SP_TRY(sp_check_op_tensor(ctx, op, #t, &(t), SP_F32, __FILE__, __LINE__))
#define SP_OP_I32(ctx, op, t) SP_TRY(sp_check_op_tensor(ctx, op, #t, &(t), SP_I32, __FILE__, __LINE__))
/* A host tensor in the context's host arena (zeroed), whatever the context's device. */
int sp_arena_tensor_host(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
#define SP_K(ctx) ((ctx)->kernels)
/* A GPU parameter store's one gradient buffer (NULL on the CPU), and the clip over it with the
 * norm left in device memory (*norm_dev, 1 float): engine/nn/params.c. */
float *sp_params_grad_block(sp_params *p, int64_t *floats);
int sp_params_clip_grad_norm_device(sp_params *p, float max_norm, float **norm_dev);
/* bytes from src to dst on any devices (engine/core/device.c); a copy to the host waits. */
int sp_tensor_copy_bytes(sp_tensor *dst, const sp_tensor *src, int64_t bytes);

/* ---- BLAS (engine/core/blas.c): row-major SGEMM, C = alpha op(A) op(B) + beta C ---- */
int sp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc);

/* ---- Philox (engine/core/rng.c) for kernels that regenerate numbers by index ---- */
float sp_philox_uniform_at(uint64_t seed, uint64_t counter, uint64_t index);
/* The raw 32-bit words of Philox block `block` of stream (seed, counter). */
void sp_philox_u32x4(uint64_t seed, uint64_t counter, uint64_t block, uint32_t out[4]);
/* Fills out[0..n) with the uniforms of indices [0, n) of stream (seed, counter). */
void sp_philox_uniform_fill(uint64_t seed, uint64_t counter, float *out, int64_t n);

/* OpenMP threshold: loops over fewer elements than this run on one thread. */
#define SP_PAR_MIN 32768

/* Runs a `for` loop on the OpenMP team only when `cond` holds. An `if` clause is not enough:
 * with it false, libgomp still builds a one-thread team per call (a malloc and a futex wake,
 * ~350 ns), which small ops would pay on every step. */
#define SP_PARALLEL_FOR(cond, ...)                                                                 \
  do {                                                                                             \
    if (cond) {                                                                                    \
      _Pragma("omp parallel for schedule(static)") __VA_ARGS__                                     \
    } else {                                                                                       \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  } while (0)
/* The calling thread's number inside a parallel loop (0 outside, or without OpenMP). */
int sp_thread_num(void);
/* The same with dynamic scheduling, for rows of uneven cost. */
#define SP_PARALLEL_FOR_DYNAMIC(cond, ...)                                                         \
  do {                                                                                             \
    if (cond) {                                                                                    \
      _Pragma("omp parallel for schedule(dynamic, 4)") __VA_ARGS__                                 \
    } else {                                                                                       \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  } while (0)

#endif
