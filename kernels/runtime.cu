/* runtime.cu — the GPU runtime behind engine/core/device.h: one device, one stream, one cuBLAS
 * handle, a caching allocator, copies, and the error flag kernels raise for bad indices. It
 * ends with sp_cuda_plugin_v1, the plugin's one exported symbol, which libsprint looks up
 * after dlopen.
 * Nothing here aborts: a missing GPU or driver is an SP_EDEVICE error with the CUDA runtime's
 * reason, remembered so later calls fail fast with the same message. */
#include <pthread.h>
#include <stdio.h>

#include "common.cuh"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_state = 0;                /* 0 untried, 1 ready, -1 failed */
static char g_why[512];                /* the reason when failed */
static char g_info[256];
static int g_device_id;
static cudaStream_t g_stream;
static cublasHandle_t g_blas;
static int *g_flag;                    /* (4) device ints */

/* ---- errors ---- */

static int g_pending = SP_OK;          /* first failed launch since the last check */
static char g_pending_msg[512];

int sp_cuda_fail(const char *file, int line, const char *stmt, const char *why) {
  return sp_error_set(SP_EDEVICE, file, line, "%s failed: %s", stmt, why);
}

void sp_cuda_note_launch(const char *file, int line, const char *what) {
  cudaError_t e = cudaPeekAtLastError();
  if (e == cudaSuccess || g_pending != SP_OK) return;
  cudaGetLastError(); /* clear it: the message keeps it */
  snprintf(g_pending_msg, sizeof g_pending_msg, "%s:%d: launching %s failed: %s", file, line, what,
           cudaGetErrorString(e));
  g_pending = SP_EDEVICE;
}

const char *sp_cublas_status_string(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

/* ---- init ---- */

static int init_locked(void) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    snprintf(g_why, sizeof g_why, "no CUDA GPU can be used: %s",
             e != cudaSuccess ? cudaGetErrorString(e) : "the driver sees no device");
    cudaGetLastError();
    return SP_EDEVICE;
  }
  const char *env = getenv("SPRINT_CUDA_DEVICE");
  g_device_id = env ? atoi(env) : 0;
  if (g_device_id < 0 || g_device_id >= count) {
    snprintf(g_why, sizeof g_why, "SPRINT_CUDA_DEVICE=%s but there are %d GPUs", env, count);
    return SP_EDEVICE;
  }
#define INIT_TRY(stmt, what)                                                                       \
  do {                                                                                             \
    cudaError_t ie_ = (stmt);                                                                      \
    if (ie_ != cudaSuccess) {                                                                      \
      snprintf(g_why, sizeof g_why, "%s failed: %s", what, cudaGetErrorString(ie_));               \
      cudaGetLastError();                                                                          \
      return SP_EDEVICE;                                                                           \
    }                                                                                              \
  } while (0)
  INIT_TRY(cudaSetDevice(g_device_id), "cudaSetDevice");
  cudaDeviceProp prop;
  INIT_TRY(cudaGetDeviceProperties(&prop, g_device_id), "cudaGetDeviceProperties");
  INIT_TRY(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreate");
  INIT_TRY(cudaMalloc((void **)&g_flag, 4 * sizeof(int)), "cudaMalloc(error flag)");
  INIT_TRY(cudaMemset(g_flag, 0, 4 * sizeof(int)), "cudaMemset(error flag)");
  cublasStatus_t s = cublasCreate(&g_blas);
  if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetStream(g_blas, g_stream);
  /* FP32 GEMMs by default, so GPU results stay within the op tests' tolerance of the CPU's;
   * SPRINT_CUDA_TF32=1 lets cuBLAS use TF32 tensor cores (faster, ~1e-3 relative error). */
  const char *tf32 = getenv("SPRINT_CUDA_TF32");
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasSetMathMode(g_blas, tf32 && *tf32 == '1' ? CUBLAS_TF32_TENSOR_OP_MATH
                                                       : CUBLAS_DEFAULT_MATH);
  if (s != CUBLAS_STATUS_SUCCESS) {
    snprintf(g_why, sizeof g_why, "cuBLAS could not start: %s", sp_cublas_status_string(s));
    return SP_EDEVICE;
  }
  snprintf(g_info, sizeof g_info, "%.200s (sm_%d%d, %.1f GiB, %d SMs)", prop.name, prop.major,
           prop.minor, (double)prop.totalGlobalMem / (1 << 30), prop.multiProcessorCount);
  return SP_OK;
#undef INIT_TRY
}

static int cu_init(void) {
  pthread_mutex_lock(&g_lock);
  if (g_state == 0) g_state = init_locked() == SP_OK ? 1 : -1;
  int state = g_state;
  pthread_mutex_unlock(&g_lock);
  if (state < 0) return SP_FAIL(SP_EDEVICE, "%s", g_why);
  return SP_OK;
}

static const char *cu_info(void) {
  if (cu_init() != SP_OK) {
    static char none[600];
    snprintf(none, sizeof none, "none: %s", g_why);
    return none;
  }
  return g_info;
}

cudaStream_t sp_cuda_stream(void) { return g_stream; }
cublasHandle_t sp_cuda_blas(void) { return g_blas; }
int *sp_cuda_flag(void) { return g_flag; }

/* ---- the caching allocator ----
 * Blocks are rounded up (512 B below 1 MiB, else 2 MiB) and kept in one table; release marks
 * a block free, alloc takes the smallest free block that fits without wasting more than half
 * of it. cudaMalloc only when none fits; on out-of-memory the free blocks are returned to the
 * driver and the call is retried once. */
typedef struct {
  void *ptr;
  int64_t size;
  int free;
} block;
static block *g_blocks;
static int g_nblocks, g_cap;
static int64_t g_in_use, g_cached, g_peak, g_mallocs;

static int64_t round_size(int64_t bytes) {
  if (bytes <= 0) bytes = 1;
  if (bytes < (1 << 20)) return (bytes + 511) / 512 * 512;
  return (bytes + (2 << 20) - 1) / (2 << 20) * (2 << 20);
}

static void release_cache_locked(void) {
  int j = 0;
  for (int i = 0; i < g_nblocks; i++) {
    if (g_blocks[i].free) {
      cudaFree(g_blocks[i].ptr);
      g_cached -= g_blocks[i].size;
    } else {
      g_blocks[j++] = g_blocks[i];
    }
  }
  g_nblocks = j;
}

static int cu_alloc(void **p, int64_t bytes, const char *what) {
  *p = NULL;
  SP_TRY(cu_init());
  int64_t size = round_size(bytes);
  pthread_mutex_lock(&g_lock);
  int best = -1;
  for (int i = 0; i < g_nblocks; i++)
    if (g_blocks[i].free && g_blocks[i].size >= size && g_blocks[i].size <= 2 * size &&
        (best < 0 || g_blocks[i].size < g_blocks[best].size))
      best = i;
  if (best >= 0) {
    g_blocks[best].free = 0;
    g_cached -= g_blocks[best].size;
    g_in_use += g_blocks[best].size;
    *p = g_blocks[best].ptr;
    pthread_mutex_unlock(&g_lock);
    return SP_OK;
  }
  if (g_nblocks == g_cap) {
    int cap = g_cap ? 2 * g_cap : 64;
    block *nb = (block *)realloc(g_blocks, (size_t)cap * sizeof *nb);
    if (!nb) {
      pthread_mutex_unlock(&g_lock);
      return SP_FAIL(SP_ENOMEM, "%s: out of host memory for the GPU block table", what);
    }
    g_blocks = nb, g_cap = cap;
  }
  void *ptr = NULL;
  cudaError_t e = cudaMalloc(&ptr, (size_t)size);
  if (e == cudaErrorMemoryAllocation) { /* give the cache back and try once more */
    cudaGetLastError();
    cudaStreamSynchronize(g_stream);
    release_cache_locked();
    e = cudaMalloc(&ptr, (size_t)size);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    int64_t used = g_in_use;
    pthread_mutex_unlock(&g_lock);
    return SP_FAIL(e == cudaErrorMemoryAllocation ? SP_ENOMEM : SP_EDEVICE,
                   "%s: cudaMalloc(%lld bytes) failed: %s (%.2f GiB in use)", what,
                   (long long)size, cudaGetErrorString(e), (double)used / (1 << 30));
  }
  g_blocks[g_nblocks++] = (block){ptr, size, 0};
  g_in_use += size;
  g_mallocs++;
  if (g_in_use + g_cached > g_peak) g_peak = g_in_use + g_cached;
  *p = ptr;
  pthread_mutex_unlock(&g_lock);
  return SP_OK;
}

static void cu_release(void *p) {
  if (!p) return;
  pthread_mutex_lock(&g_lock);
  for (int i = 0; i < g_nblocks; i++)
    if (g_blocks[i].ptr == p && !g_blocks[i].free) {
      g_blocks[i].free = 1;
      g_in_use -= g_blocks[i].size;
      g_cached += g_blocks[i].size;
      break;
    }
  pthread_mutex_unlock(&g_lock);
}

static int cu_memory_stats(sp_cuda_memory *out) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_cuda_memory_stats: NULL output");
  pthread_mutex_lock(&g_lock);
  out->in_use = g_in_use, out->cached = g_cached, out->peak = g_peak;
  out->device_mallocs = g_mallocs;
  pthread_mutex_unlock(&g_lock);
  return SP_OK;
}

static int cu_release_cache(void) {
  if (g_state != 1) return SP_OK;
  CUDA_CHECK(cudaStreamSynchronize(g_stream));
  pthread_mutex_lock(&g_lock);
  release_cache_locked();
  pthread_mutex_unlock(&g_lock);
  return SP_OK;
}

/* ---- copies and waiting ---- */

static int check_flag(const char *what) {
  int f[4];
  CUDA_CHECK(cudaMemcpy(f, g_flag, sizeof f, cudaMemcpyDeviceToHost));
  if (f[0] == 0) return SP_OK;
  CUDA_CHECK(cudaMemset(g_flag, 0, sizeof f));
  switch (f[0]) {
    case SP_FLAG_EMBEDDING_INDEX:
      return SP_FAIL(SP_EINVAL, "%s: sp_embedding: index %d at position %d is outside [0, %d)", what,
                     f[2], f[1], f[3]);
    case SP_FLAG_POSITION:
      return SP_FAIL(SP_EINVAL, "%s: sp_take_positions: pos[%d] = %d is outside [0, %d)", what, f[1],
                     f[2], f[3]);
    case SP_FLAG_TARGET:
      return SP_FAIL(SP_EINVAL,
                     "%s: sp_cross_entropy: targets[%d] = %d is outside [0, %d) and is not "
                     "ignore_index",
                     what, f[1], f[2], f[3]);
    case SP_FLAG_TOPK:
      return SP_FAIL(SP_EINVAL, "%s: sp_topk on the GPU: k = %d is above %d", what, f[1], f[2]);
    default:
      return SP_FAIL(SP_EDEVICE, "%s: a kernel raised error %d", what, f[0]);
  }
}

static int cu_pending(const char *what) {
  if (g_state != 1) return SP_OK;
  sp_cuda_note_launch(__FILE__, __LINE__, what);
  if (g_pending == SP_OK) return SP_OK;
  int rc = g_pending;
  g_pending = SP_OK;
  return SP_FAIL(rc, "%s", g_pending_msg);
}

static int cu_sync(const char *what) {
  if (g_state != 1) return SP_OK;
  CUDA_CHECK(cudaStreamSynchronize(g_stream));
  SP_TRY(cu_pending(what));
  return check_flag(what);
}


static int cu_copy(void *dst, const void *src, int64_t bytes, sp_copy_kind kind) {
  if (bytes <= 0) return SP_OK;
  SP_TRY(cu_init());
  cudaMemcpyKind k = kind == SP_COPY_H2D   ? cudaMemcpyHostToDevice
                     : kind == SP_COPY_D2H ? cudaMemcpyDeviceToHost
                                           : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)bytes, k, g_stream));
  if (kind == SP_COPY_D2H) return cu_sync("copy to the host");
  return SP_OK;
}

static int cu_zero(void *p, int64_t bytes) {
  if (bytes <= 0) return SP_OK;
  CUDA_CHECK(cudaMemsetAsync(p, 0, (size_t)bytes, g_stream));
  return SP_OK;
}

/* ---- the plugin's one exported symbol ---- */
extern "C" {
extern const sp_kernels sp_kernels_cuda; /* table.c */
__attribute__((visibility("default"))) extern const sp_cuda_plugin sp_cuda_plugin_v1;
const sp_cuda_plugin sp_cuda_plugin_v1 = {
    SP_CUDA_PLUGIN_ABI,
    &sp_kernels_cuda,
    cu_init,
    cu_info,
    cu_alloc,
    cu_release,
    cu_copy,
    cu_zero,
    cu_sync,
    cu_pending,
    cu_memory_stats,
    cu_release_cache,
    sp_cuda_clip_grad_norm_work_floats,
    sp_cuda_clip_grad_norm,
    sp_cuda_adam_update,
    sp_cuda_nonzero_mask,
    sp_cuda_rank_full,
    sp_cuda_dist_unique_id,
    sp_cuda_dist_init,
    sp_cuda_dist_allreduce_mean,
    sp_cuda_dist_free,
};
}
