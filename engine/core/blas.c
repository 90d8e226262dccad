/* blas.c — finds the fast SGEMM on its own. Debian's OpenBLAS 0.3.21 is built for many
 * cores and picks one at load time; on recent CPUs it can fall back to slow generic kernels
 * (seen: "Prescott" on an AVX-512 EPYC, 5x slower), and OPENBLAS_CORETYPE may be set to a
 * slow core by the environment. So libsprint does not link OpenBLAS: it reads the CPU's
 * features with cpuid, sets OPENBLAS_CORETYPE to the best SGEMM core for them (SkylakeX for
 * AVX-512, Haswell for AVX2+FMA) and only then dlopens the library, whose constructor reads
 * that variable. It prefers Debian's OpenMP build of OpenBLAS: it shares libgomp's thread pool
 * with the engine's own loops, where the pthread build's spinning threads fight them for the
 * cores (measured: a training step 1.9x slower on 2 threads with the pthread build).
 * SPRINT_BLAS_CORETYPE overrides the core choice (e.g. to compare kernels);
 * SPRINT_BLAS_LIB names another library exporting cblas_sgemm (e.g. BLIS). We use SGEMM
 * only, and the op tests check its results against a reference loop. */
#include "internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__)
#define OPENBLAS_OPENMP_PATH "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"
#elif defined(__aarch64__)
#define OPENBLAS_OPENMP_PATH "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0"
#else
#define OPENBLAS_OPENMP_PATH NULL
#endif

typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta,
                               float *c, int ldc);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static cblas_sgemm_fn blas_sgemm;
static corename_fn blas_corename;
static set_threads_fn blas_set_threads;
static char blas_info[512];
static char blas_error[512];
static int num_threads;

static const char *best_coretype(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return NULL;
}

static void blas_load(void) {
  const char *lib = getenv("SPRINT_BLAS_LIB");
  const char *forced = getenv("SPRINT_BLAS_CORETYPE");
  const char *inherited = getenv("OPENBLAS_CORETYPE");
  const char *source = "openblas-detected";
  char inherited_copy[64] = "";
  if (inherited) snprintf(inherited_copy, sizeof inherited_copy, "%s", inherited);
  if (forced && *forced) {
    setenv("OPENBLAS_CORETYPE", forced, 1);
    source = "SPRINT_BLAS_CORETYPE";
  } else {
    const char *best = best_coretype();
    if (best) {
      setenv("OPENBLAS_CORETYPE", best, 1);
      source = "cpuid";
    }
  }
  const char *candidates[] = {lib, OPENBLAS_OPENMP_PATH, "libopenblas.so.0", "libopenblas.so",
                              "libblas.so.3"};
  void *h = NULL;
  const char *loaded = NULL;
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !h; i++) {
    if (!candidates[i]) continue;
    h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (h) loaded = candidates[i];
  }
  if (!h) {
    snprintf(blas_error, sizeof blas_error,
             "no BLAS library found (tried SPRINT_BLAS_LIB, openblas-openmp, libopenblas.so.0, "
             "libblas.so.3): %s; install libopenblas0-openmp (tools/setup)",
             dlerror());
    return;
  }
  blas_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
  blas_corename = (corename_fn)dlsym(h, "openblas_get_corename");
  blas_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
  if (!blas_sgemm) {
    snprintf(blas_error, sizeof blas_error, "%s has no cblas_sgemm", loaded);
    return;
  }
  if (blas_set_threads && num_threads > 0) blas_set_threads(num_threads);
  snprintf(blas_info, sizeof blas_info, "library=%s core=%s coretype_source=%s%s%s", loaded,
           blas_corename ? blas_corename() : "unknown", source,
           inherited_copy[0] ? " inherited_OPENBLAS_CORETYPE=" : "", inherited_copy);
}

int sp_blas_init(void) {
  pthread_once(&blas_once, blas_load);
  if (!blas_sgemm) return SP_FAIL(SP_EBLAS, "%s", blas_error);
  return SP_OK;
}

const char *sp_blas_info(void) {
  if (sp_blas_init() != SP_OK) return blas_error;
  return blas_info;
}

int sp_set_num_threads(int n) {
  if (n <= 0) {
#ifdef _OPENMP
    n = omp_get_num_procs();
#else
    n = 1;
#endif
  }
  num_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  if (blas_set_threads) blas_set_threads(n);
  return SP_OK;
}

int sp_thread_num(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

int sp_get_num_threads(void) {
#ifdef _OPENMP
  return num_threads > 0 ? num_threads : omp_get_max_threads();
#else
  return 1;
#endif
}

int sp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc) {
  if (!blas_sgemm) SP_TRY(sp_blas_init());
  if (m == 0 || n == 0) return SP_OK;
  if (k == 0) { /* BLAS leaves C alone when k = 0 only if beta = 1; do it ourselves */
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(int64_t)i * ldc + j] = beta == 0.0f ? 0.0f : c[(int64_t)i * ldc + j] * beta;
    return SP_OK;
  }
  enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
  int ta = trans_a ? TRANS : NO_TRANS, tb = trans_b ? TRANS : NO_TRANS;
  int threads = sp_get_num_threads();
  /* Tall, thin products (B*L rows against a d x d weight) scale badly inside OpenBLAS; split
   * the rows over the threads instead, each running the single-threaded kernel (OpenBLAS runs
   * single-threaded inside a parallel region). Every C element is still one kernel's k-ordered
   * sum, so the result does not depend on the split. */
  if (threads > 1 && m >= 256 * threads && (int64_t)n * k <= 256 * 256) {
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
      int t = 0, nt = 1;
#endif
      int rows = (m + nt - 1) / nt;
      rows = (rows + 15) / 16 * 16; /* whole register blocks per thread */
      int i0 = t * rows, i1 = i0 + rows < m ? i0 + rows : m;
      if (i0 < i1) {
        const float *a0 = trans_a ? a + i0 : a + (int64_t)i0 * lda;
        blas_sgemm(ROW_MAJOR, ta, tb, i1 - i0, n, k, alpha, a0, lda, b, ldb, beta,
                   c + (int64_t)i0 * ldc, ldc);
      }
    }
    return SP_OK;
  }
  blas_sgemm(ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return SP_OK;
}
