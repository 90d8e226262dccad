/* common.cuh — what every .cu file in kernels/ shares: the error macros, the stream and cuBLAS handle
 * of the runtime (runtime.cu), launch sizes, and block reductions.
 *
 * CUDA_CHECK(stmt) / CUBLAS_CHECK(stmt) return an SP_EDEVICE status from the enclosing
 * function with "file:line: stmt failed: reason" in sp_last_error(); nothing aborts.
 * SP_CUDA_LAUNCHED(name) records a failed launch for kernels that return void (reported by
 * sp_dev_pending / sp_dev_sync). */
#ifndef SPRINT_COMMON_CUH
#define SPRINT_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"

extern "C" {
#include "device.h"
#include "internal.h"
}

/* runtime.cu */
cudaStream_t sp_cuda_stream(void);
cublasHandle_t sp_cuda_blas(void);
int *sp_cuda_flag(void); /* (4) device ints: code, then three details; 0 = no error */
int sp_cuda_fail(const char *file, int line, const char *stmt, const char *why);
void sp_cuda_note_launch(const char *file, int line, const char *what);
const char *sp_cublas_status_string(cublasStatus_t s);

#define CUDA_CHECK(stmt)                                                                           \
  do {                                                                                             \
    cudaError_t sp_e_ = (stmt);                                                                    \
    if (sp_e_ != cudaSuccess)                                                                      \
      return sp_cuda_fail(__FILE__, __LINE__, #stmt, cudaGetErrorString(sp_e_));                   \
  } while (0)
#define CUBLAS_CHECK(stmt)                                                                         \
  do {                                                                                             \
    cublasStatus_t sp_s_ = (stmt);                                                                 \
    if (sp_s_ != CUBLAS_STATUS_SUCCESS)                                                            \
      return sp_cuda_fail(__FILE__, __LINE__, #stmt, sp_cublas_status_string(sp_s_));              \
  } while (0)
/* After a <<<...>>> launch in an int-returning function. */
#define CUDA_CHECK_LAUNCH(name) CUDA_CHECK(cudaPeekAtLastError())
/* After a launch in a void function: remembered, reported at the next check. */
#define SP_CUDA_LAUNCHED(name) sp_cuda_note_launch(__FILE__, __LINE__, name)

/* error codes raised by kernels through sp_cuda_flag() */
enum {
  SP_FLAG_EMBEDDING_INDEX = 1, /* details: position, index, rows */
  SP_FLAG_POSITION = 2,        /* details: row, pos, length */
  SP_FLAG_TARGET = 3,          /* details: row, target, classes */
  SP_FLAG_TOPK = 4,            /* details: k, limit */
};
__device__ inline void sp_raise(int *flag, int code, int a, int b, int c) {
  if (atomicCAS(flag, 0, code) == 0) flag[1] = a, flag[2] = b, flag[3] = c;
}

#define SP_THREADS 256
/* A grid for a grid-stride loop over n elements. */
static inline unsigned sp_grid(int64_t n, int threads = SP_THREADS) {
  int64_t g = (n + threads - 1) / threads;
  if (g < 1) g = 1;
  if (g > 65535LL * 8) g = 65535LL * 8;
  return (unsigned)g;
}
#define SP_GRID_STRIDE(i, n)                                                                       \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
       i += (int64_t)blockDim.x * gridDim.x)

/* Sums over a warp and over a block (blockDim.x a multiple of 32, <= 1024); every thread gets
 * the result. The order is fixed by the launch shape, so results repeat run to run. */
template <typename T> __device__ inline T sp_warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename T> __device__ inline T sp_warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    T w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}
template <typename T> __device__ inline T sp_block_sum(T v) {
  __shared__ T part[32];
  __syncthreads(); /* part may still be read by a previous call */
  v = sp_warp_sum(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : (T)0;
  return sp_warp_sum(v);
}
template <typename T> __device__ inline T sp_block_max(T v, T lowest) {
  __shared__ T part[32];
  __syncthreads();
  v = sp_warp_max(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : lowest;
  return sp_warp_max(v);
}
/* threads per row for row kernels: a multiple of 32 covering n, at most 1024 */
static inline int sp_row_threads(int64_t n) {
  int t = 32;
  while (t < n && t < 1024) t <<= 1;
  return t;
}

#endif
