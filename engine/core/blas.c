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
 * only, and the op tests check its results against a reference loop.
 * Results must not depend on the thread count, so OpenBLAS never threads a call itself: C is
 * cut into tiles by its shape alone, and our own parallel loop runs one single-threaded BLAS
 * call per tile (sp_sgemm below). */
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

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static cblas_sgemm_fn blas_sgemm;
static corename_fn blas_corename;
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
  if (!blas_sgemm) {
    snprintf(blas_error, sizeof blas_error, "%s has no cblas_sgemm", loaded);
    return;
  }
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
  return SP_OK; /* OpenBLAS itself always runs single-threaded: see sp_sgemm */
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

/* C's tiles: a function of the shape alone, never of the thread count. Every tile is one
 * single-threaded BLAS call over the whole reduction, so each element of C is summed by the
 * same kernel in the same order however many threads share the tiles (OpenBLAS's own threaded
 * driver blocks the reduction differently from its single-threaded one, and which small-matrix
 * kernel it picks depends on the call's size: both would make the numbers depend on the split).
 * C is cut along its longer side into a power of two of tiles, each at least SP_GEMM_MIN_TILE
 * wide (whole register blocks) and SP_GEMM_TILE_FLOPS of work; a tile re-packs the operand it
 * shares with the others, which is cheap unless both sides of C are small and k long. */
#define SP_GEMM_MIN_TILE 32
#define SP_GEMM_TILE_FLOPS (1 << 20)
#define SP_GEMM_MAX_TILES 4

static int gemm_tiles(int m, int n, int k, int *by_rows, int *width) {
  *by_rows = m >= n;
  const int side = *by_rows ? m : n;
  const double flops = 2.0 * m * n * k;
  int t = 1;
  while (t < SP_GEMM_MAX_TILES && side / (2 * t) >= SP_GEMM_MIN_TILE &&
         flops / (2 * t) >= SP_GEMM_TILE_FLOPS)
    t *= 2;
  int w = (side + t - 1) / t;
  w = (w + 15) / 16 * 16; /* whole 16-wide register blocks per tile */
  *width = w;
  return (side + w - 1) / w;
}

typedef struct {
  int ta, tb, trans_a, trans_b, m, n, k, lda, ldb, ldc, by_rows, width;
  float alpha, beta;
  const float *a, *b;
  float *c;
} gemm_call;

/* Tile t: rows (or columns) [t * width, min((t + 1) * width, side)) of C, one BLAS call. */
static void gemm_tile(const gemm_call *g, int t) {
  enum { ROW_MAJOR = 101 };
  const int side = g->by_rows ? g->m : g->n, lo = t * g->width;
  const int len = lo + g->width < side ? g->width : side - lo;
  if (g->by_rows)
    blas_sgemm(ROW_MAJOR, g->ta, g->tb, len, g->n, g->k, g->alpha,
               g->trans_a ? g->a + lo : g->a + (int64_t)lo * g->lda, g->lda, g->b, g->ldb, g->beta,
               g->c + (int64_t)lo * g->ldc, g->ldc);
  else
    blas_sgemm(ROW_MAJOR, g->ta, g->tb, g->m, len, g->k, g->alpha, g->a, g->lda,
               g->trans_b ? g->b + (int64_t)lo * g->ldb : g->b + lo, g->ldb, g->beta, g->c + lo,
               g->ldc);
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
  enum { NO_TRANS = 111, TRANS = 112 };
  gemm_call g = {.a = a, .b = b, .c = c, .alpha = alpha, .beta = beta};
  g.ta = trans_a ? TRANS : NO_TRANS, g.tb = trans_b ? TRANS : NO_TRANS;
  g.trans_a = trans_a, g.trans_b = trans_b, g.m = m, g.n = n, g.k = k;
  g.lda = lda, g.ldb = ldb, g.ldc = ldc;
  const int tiles = gemm_tiles(m, n, k, &g.by_rows, &g.width);
  int threads = tiles > 1 ? sp_get_num_threads() : 1;
#ifdef _OPENMP
  if (threads > 1 && omp_in_parallel())
    threads = 1; /* inside a parallel loop: this thread does it all */
#endif
  if (threads > tiles) threads = tiles;
  if (threads > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < tiles; t++) gemm_tile(&g, t); /* inside a parallel region: serial BLAS */
    return SP_OK;
  }
#ifdef _OPENMP
  /* OpenBLAS's OpenMP build threads a call made outside a parallel region whenever OpenMP's
   * thread count is above 1 (it even resets its own count to OpenMP's), whatever
   * openblas_set_num_threads said; so a serial call lowers the count to 1 around itself. */
  const int saved = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (saved > 1) omp_set_num_threads(1);
#endif
  for (int t = 0; t < tiles; t++) gemm_tile(&g, t);
#ifdef _OPENMP
  if (saved > 1) omp_set_num_threads(saved);
#endif
  return SP_OK;
}
