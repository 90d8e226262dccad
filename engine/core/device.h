/* device.h — the GPU runtime as the engine calls it (sp_dev_*): device memory, copies, the
 * one stream, and the error flag kernels raise. engine/core/device.c implements these by
 * forwarding to the CUDA plugin, libsprint_cuda.so (kernels/), which it loads with dlopen the
 * first time a GPU is asked for: libsprint itself links no CUDA library, so a CPU run pays
 * nothing for a CUDA build and a machine without a driver loads it fine. Without the plugin
 * (a CPU-only build, or the file missing) every call fails with SP_EDEVICE saying why.
 *
 * Memory comes from the plugin's caching allocator: released blocks go back to a free list,
 * never to cudaFree (until sp_cuda_release_cache), so steady-state training steps do not
 * allocate. All work is queued on one stream, so a block released while queued kernels still
 * use it is only handed to work queued after them. */
#ifndef SPRINT_DEVICE_H
#define SPRINT_DEVICE_H

#include <stddef.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SP_COPY_H2D = 0, SP_COPY_D2H = 1, SP_COPY_D2D = 2 } sp_copy_kind;

int sp_dev_init(void);                                       /* once; SP_EDEVICE when no GPU */
int sp_dev_alloc(void **p, int64_t bytes, const char *what); /* 256-byte aligned, not zeroed */
void sp_dev_release(void *p);                                /* back to the cache; NULL is fine */
/* Queued on the stream; a copy to the host (D2H) waits for it and reports kernel errors. */
int sp_dev_copy(void *dst, const void *src, int64_t bytes, sp_copy_kind kind);
int sp_dev_zero(void *p, int64_t bytes); /* queued memset */
/* Waits for the stream; reports the first failed launch or a kernel's bad-index flag. */
int sp_dev_sync(const char *what);
/* The first failed launch since the last check, without waiting (SP_OK when none). */
int sp_dev_pending(const char *what);
/* The global gradient norm of one contiguous buffer g (n) into norm_dev (1, device); when
 * max_norm > 0, g is scaled by max_norm / (norm + 1e-6) where norm > max_norm. No wait. */
int64_t sp_dev_clip_grad_norm_work_floats(int64_t n);
int sp_dev_clip_grad_norm(float *g, int64_t n, float max_norm, float *norm_dev, float *work);
/* One Adam update of w (n) from g and the moments m, v (n); the formula of engine/nn/adam.c. */
int sp_dev_adam_update(float *w, const float *g, float *m, float *v, int64_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, int decoupled,
                       float step_size, float bc2_sqrt);
/* mask (n) = seq (n) != 0, int32 (the backbones' key mask) */
int sp_dev_nonzero_mask(int32_t *mask, const int32_t *seq, int64_t n);
/* buf (n, device) = its mean over the data-parallel ranks (sp_dist_init), queued */
int sp_dev_allreduce_mean(float *buf, int64_t n);
/* Full ranking on the device (kernels/topk.cu: sp_cuda_rank_full); all pointers device memory. */
int sp_dev_rank_full(float *rank, float *scores, const float *h, const float *items,
                     const int32_t *target, const int32_t *seq, int B, int n, int d, int L, int ties);

/* What the plugin exports (one symbol, sp_cuda_plugin_v1); abi guards against a stale file. */
#define SP_CUDA_PLUGIN_ABI 3
typedef struct {
  int abi;
  const sp_kernels *kernels;
  int (*init)(void);
  const char *(*info)(void);
  int (*alloc)(void **p, int64_t bytes, const char *what);
  void (*release)(void *p);
  int (*copy)(void *dst, const void *src, int64_t bytes, sp_copy_kind kind);
  int (*zero)(void *p, int64_t bytes);
  int (*sync)(const char *what);
  int (*pending)(const char *what);
  int (*memory_stats)(sp_cuda_memory *out);
  int (*release_cache)(void);
  int64_t (*clip_grad_norm_work_floats)(int64_t n);
  int (*clip_grad_norm)(float *g, int64_t n, float max_norm, float *norm_dev, float *work);
  int (*adam_update)(float *w, const float *g, float *m, float *v, int64_t n, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int decoupled,
                     float step_size, float bc2_sqrt);
  int (*nonzero_mask)(int32_t *mask, const int32_t *seq, int64_t n);
  int (*rank_full)(float *rank, float *scores, const float *h, const float *items,
                   const int32_t *target, const int32_t *seq, int B, int n, int d, int L, int ties);
  /* data-parallel over NCCL (kernels/dist.cu) */
  int (*dist_unique_id)(char *hex, int n);
  int (*dist_init)(int rank, int world, const char *hex);
  int (*dist_allreduce_mean)(float *buf, int64_t n);
  void (*dist_free)(void);
} sp_cuda_plugin;

#ifdef __cplusplus
}
#endif
#endif
