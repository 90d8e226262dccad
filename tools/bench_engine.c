/* bench_engine.c — engine benchmarks: SGEMM GFLOP/s for the shapes the models use, next to
 * this machine's measured peak and the BLAS kernel that ran, and the time of a SASRec-sized
 * Transformer training step. Prints medians; run through tools/bench. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median GFLOP/s of C (m, n) = A (m, k) B (k, n) [A^T when ta, B^T when tb]. */
static double gemm_gflops(int m, int n, int k, int ta, int tb, int reps) {
  float *a = aligned_alloc(64, sizeof(float) * (size_t)m * k + 64);
  float *b = aligned_alloc(64, sizeof(float) * (size_t)k * n + 64);
  float *c = aligned_alloc(64, sizeof(float) * (size_t)m * n + 64);
  for (int64_t i = 0; i < (int64_t)m * k; i++) a[i] = (float)((i % 13) - 6) * 0.01f;
  for (int64_t i = 0; i < (int64_t)k * n; i++) b[i] = (float)((i % 7) - 3) * 0.01f;
  double t[64];
  sp_sgemm(ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    sp_sgemm(ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
    t[r] = now() - t0;
  }
  free(a), free(b), free(c);
  return 2.0 * m * n * k / median(t, reps) / 1e9;
}

static void cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) snprintf(buf, n, "%s", p + 2);
      buf[strcspn(buf, "\n")] = 0;
      break;
    }
  fclose(f);
}

static void bench_gemm(void) {
  struct { const char *what; int m, n, k, ta, tb; } shapes[] = {
      {"[B*L x 64] x [64 x 64]   (attention/linear, B=256 L=50)", 12800, 64, 64, 0, 1},
      {"[B*L x 64] x [64 x 256]  (FFN up)", 12800, 256, 64, 0, 1},
      {"[B*L x 256] x [256 x 64] (FFN down)", 12800, 64, 256, 0, 1},
      {"[B x 64] x [64 x 12101]  (scores, all Beauty items)", 256, 12101, 64, 0, 1},
      {"[B x 64] x [64 x 2351]   (scores, paper's Beauty items)", 256, 2351, 64, 0, 1},
      {"[64 x B*L] x [B*L x 64]  (linear weight gradient)", 64, 64, 12800, 1, 0},
      {"[256 x B*L] x [B*L x 64] (FFN up weight gradient)", 256, 64, 12800, 1, 0},
      {"[B x 12101] x [12101 x 64] (scores' input gradient)", 256, 64, 12101, 0, 0},
  };
  int nthreads[2] = {1, 2};
  for (int ti = 0; ti < 2; ti++) {
    sp_set_num_threads(nthreads[ti]);
    double peak = gemm_gflops(1536, 1536, 1536, 0, 0, 7);
    printf("\nSGEMM, %d thread%s: peak (1536^3) %.1f GFLOP/s\n", nthreads[ti], ti ? "s" : "", peak);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      double g = gemm_gflops(shapes[s].m, shapes[s].n, shapes[s].k, shapes[s].ta, shapes[s].tb, 21);
      printf("  %-58s %7.1f GFLOP/s  (%3.0f%% of peak)\n", shapes[s].what, g, 100.0 * g / peak);
    }
  }
  sp_set_num_threads(0);
}

/* One SASRec-sized step: embedding -> 2 pre-norm blocks -> last position -> logits over
 * items -> cross-entropy -> backward -> Adam. */
static void bench_step(int threads) {
  int B = 256, L = 50, D = 64, V = 12102, steps = 12;
  sp_set_num_threads(threads);
  sp_params *p;
  sp_params_new(&p);
  sp_rng rng;
  sp_rng_init(&rng, 1);
  sp_embedding_layer item, pos;
  sp_transformer_block blocks[2];
  if (sp_embedding_layer_init(&item, p, "item", V, D, 0, &rng) || sp_embedding_layer_init(&pos, p, "pos", L, D, -1, &rng) ||
      sp_transformer_block_init(&blocks[0], p, "b0", D, 2, D, SP_ACT_RELU, 0.2f, 1, &rng) ||
      sp_transformer_block_init(&blocks[1], p, "b1", D, 2, D, SP_ACT_RELU, 0.2f, 1, &rng)) {
    printf("step benchmark: %s\n", sp_last_error());
    return;
  }
  sp_adam *opt;
  sp_adam_new(&opt, p, NULL);
  sp_ctx *ctx;
  sp_ctx_new(&ctx, 7);
  sp_tensor *seq, *posi, *mask, *last, *target;
  double t[32];
  int ok = 1;
  for (int s = 0; s < steps + 2 && ok; s++) {
    double t0 = now();
    sp_ctx_reset(ctx);
    sp_ctx_tensor(ctx, &seq, SP_I32, 2, (int[]){B, L});
    sp_ctx_tensor(ctx, &posi, SP_I32, 1, (int[]){L});
    sp_ctx_tensor(ctx, &mask, SP_I32, 2, (int[]){B, L});
    sp_ctx_tensor(ctx, &last, SP_I32, 1, (int[]){B});
    sp_ctx_tensor(ctx, &target, SP_I32, 1, (int[]){B});
    int32_t *sq = sp_tensor_i32(seq), *mk = sp_tensor_i32(mask);
    for (int i = 0; i < B * L; i++) {
      sq[i] = i % L < 20 ? 0 : 1 + (int)sp_rng_below(&rng, (uint32_t)(V - 1));
      mk[i] = sq[i] != 0;
    }
    for (int i = 0; i < L; i++) sp_tensor_i32(posi)[i] = i;
    for (int i = 0; i < B; i++) sp_tensor_i32(last)[i] = L - 1, sp_tensor_i32(target)[i] = 1 + i % (V - 1);
    sp_tensor *e, *pe, *h, *h1, *h2, *hs, *logits, *loss;
    ok = !sp_embedding_layer_forward(ctx, &e, &item, seq) && !sp_embedding_layer_forward(ctx, &pe, &pos, posi) &&
         !sp_add(ctx, &h, e, pe) && !sp_transformer_block_forward(ctx, &h1, &blocks[0], h, 1, mask) &&
         !sp_transformer_block_forward(ctx, &h2, &blocks[1], h1, 1, mask) && !sp_take_positions(ctx, &hs, h2, last) &&
         !sp_matmul(ctx, &logits, hs, item.weight, 0, 1) && !sp_cross_entropy(ctx, &loss, logits, target, -1) &&
         !sp_backward(ctx, loss) && !sp_adam_step(opt) && !sp_params_zero_grad(p);
    if (s >= 2) t[s - 2] = now() - t0;
  }
  if (!ok) {
    printf("step benchmark failed: %s\n", sp_last_error());
  } else {
    sp_ctx_stats st;
    sp_ctx_get_stats(ctx, &st);
    double med = median(t, steps);
    printf("  %d thread%s: %.1f ms/step median (B=%d L=%d d=%d, %d items, full softmax); "
           "arena %.1f MiB (%.1f used), %lld chunk allocations in all\n",
           threads, threads > 1 ? "s" : "", med * 1e3, B, L, D, V, st.arena_capacity / 1048576.0, st.arena_used / 1048576.0,
           (long long)st.arena_mallocs);
  }
  sp_ctx_free(ctx);
  sp_adam_free(opt);
  sp_params_free(p);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  char model[256];
  cpu_model(model, sizeof model);
  if (sp_blas_init() != SP_OK) {
    fprintf(stderr, "%s\n", sp_last_error());
    return 1;
  }
  printf("machine: %s, %d cores visible\n", model, sp_get_num_threads());
  printf("blas: %s\n", sp_blas_info());
  if (!strcmp(what, "all") || !strcmp(what, "gemm")) bench_gemm();
  if (!strcmp(what, "all") || !strcmp(what, "step")) {
    printf("\nTraining step (forward + backward + Adam):\n");
    bench_step(1);
    bench_step(2);
  }
  return 0;
}
