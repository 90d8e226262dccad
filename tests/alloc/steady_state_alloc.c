/* steady_state_alloc.c — checks the engine's promise that a training step does no malloc once
 * the arena has grown to fit it. This program defines malloc/calloc/realloc itself, so every
 * allocation in the process (libsprint, libgomp, OpenBLAS) is seen; it runs a step that uses
 * every op family with a backward (attention, GRU, cosine, losses, Transformer block, Adam,
 * and SPRINT's intent predictor: relevance, enrichment, intent loss, fusion, L_ortho),
 * warms up, then requires zero allocations over further steps, on 1 and 2 threads, OpenBLAS's
 * included: it always runs single-threaded on tiles from our own parallel loop (blas.c), so its
 * threaded driver, which allocated a few blocks per call, never runs.
 * Not built with the sanitizers (they replace malloc themselves). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprint.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

/* While armed, the callers of every allocation are recorded (classified after the window). */
#define MAX_SITES 4096
static void *sites[MAX_SITES];
static atomic_int n_sites;
static atomic_int armed;

static void record(void *caller) {
  if (!atomic_load(&armed)) return;
  int k = atomic_fetch_add(&n_sites, 1);
  if (k < MAX_SITES) sites[k] = caller;
}
void *malloc(size_t n) {
  record(__builtin_return_address(0));
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  record(__builtin_return_address(0));
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  record(__builtin_return_address(0));
  return __libc_realloc(p, n);
}

/* Allocations made from inside the BLAS library itself. */
static int from_blas(void *caller) {
  Dl_info info;
  return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "blas");
}

typedef struct {
  sp_params *p;
  sp_embedding_layer emb;
  sp_transformer_block block;
  sp_tensor *w_ih, *w_hh, *b_ih, *b_hh;
  sp_intent_predictor intent;
  sp_adam *opt;
} model;

/* Stage 2 on h_S (B, d): relevance, labels enriched from the batch (no grad), L_intent on
 * them, fusion and L_ortho; *out = L_intent + L_ortho + mean(h~). */
static int intent_step(sp_ctx *ctx, model *m, sp_tensor *hs, sp_tensor **out) {
  sp_tensor *logits, *yhat, *labels, *l_int, *ht, *l_ht, *l_orth, *s;
  int B = sp_tensor_dim(hs, 0), C = sp_tensor_dim(m->intent.intents, 0);
  return sp_intent_relevance(ctx, &logits, &yhat, &m->intent, hs) ||
         sp_ctx_tensor(ctx, &labels, SP_F32, 2, (int[]){B, C}) ||
         sp_intent_enrich(ctx, labels, yhat, hs, B - 3, 5, SP_ENRICH_BOTH) ||
         sp_bce_logits(ctx, &l_int, logits, labels, NULL) ||
         sp_intent_fuse(ctx, &ht, &m->intent, hs, yhat) || sp_mean(ctx, &l_ht, ht) ||
         sp_ortho_loss(ctx, &l_orth, m->intent.intents, 1e-8f) || sp_add(ctx, &s, l_int, l_ht) ||
         sp_add(ctx, out, s, l_orth);
}

static int step(sp_ctx *ctx, model *m, int s) {
  int B = 64, L = 12, V = 200;
  sp_tensor *idx, *tgt, *mask, *pos, *x, *h, *g, *hs, *hs2, *cos, *logits, *ce, *soft, *bce, *sum,
      *intent, *all, *loss;
  sp_ctx_reset(ctx);
  if (sp_ctx_tensor(ctx, &idx, SP_I32, 2, (int[]){B, L}) ||
      sp_ctx_tensor(ctx, &mask, SP_I32, 2, (int[]){B, L}) ||
      sp_ctx_tensor(ctx, &tgt, SP_I32, 1, (int[]){B}) ||
      sp_ctx_tensor(ctx, &pos, SP_I32, 1, (int[]){B}))
    return 1;
  for (int i = 0; i < B * L; i++) {
    sp_tensor_i32(idx)[i] = 1 + (i * 7 + s) % (V - 1);
    sp_tensor_i32(mask)[i] = (i % L) >= (i / L) % 4; /* left padding of 0..3 */
  }
  for (int i = 0; i < B; i++)
    sp_tensor_i32(tgt)[i] = 1 + (i + s) % (V - 1), sp_tensor_i32(pos)[i] = L - 1;
  return sp_embedding_layer_forward(ctx, &x, &m->emb, idx) ||
         sp_transformer_block_forward(ctx, &h, &m->block, x, 1, mask) ||
         sp_gru(ctx, &g, h, m->w_ih, m->w_hh, m->b_ih, m->b_hh, mask) ||
         sp_take_positions(ctx, &hs, g, pos) || sp_take_positions(ctx, &hs2, h, pos) ||
         sp_cosine_matrix(ctx, &cos, hs, hs2, 1e-8f) ||
         sp_matmul(ctx, &logits, hs, m->emb.weight, 0, 1) ||
         sp_cross_entropy(ctx, &ce, logits, tgt, 0) || sp_sigmoid(ctx, &soft, cos) ||
         sp_bce_logits(ctx, &bce, cos, soft, NULL) || sp_add(ctx, &sum, ce, bce) ||
         intent_step(ctx, m, hs, &intent) || sp_add(ctx, &all, sum, intent) ||
         sp_mean(ctx, &loss, all) || sp_backward(ctx, loss) || sp_adam_step(m->opt) ||
         sp_params_zero_grad(m->p);
}

/* Batches of a planted dataset: an epoch's batches must not allocate either. */
static int batches(sp_batcher *b, sp_tensor *seq, sp_tensor *last, sp_tensor *tg, sp_tensor *neg,
                   int64_t epoch) {
  int rows;
  if (sp_batcher_start_epoch(b, epoch)) return 1;
  do {
    if (sp_batcher_next(b, seq, last, tg, neg, NULL, &rows)) return 1;
  } while (rows > 0);
  return 0;
}

int main(void) {
  int passed = 0, failed = 0;
  {
    sp_dataset *d;
    sp_batcher *b;
    sp_tensor *seq, *last, *tg, *neg;
    sp_planted_config g;
    sp_planted_config_default(&g);
    int rc = sp_dataset_generate_planted(&d, &g, NULL) || sp_batcher_new(&b, d, NULL) ||
             sp_tensor_new(&seq, SP_I32, 2, (int[]){256, 50}) ||
             sp_tensor_new(&last, SP_I32, 1, (int[]){256}) ||
             sp_tensor_new(&tg, SP_I32, 1, (int[]){256}) ||
             sp_tensor_new(&neg, SP_I32, 2, (int[]){256, 2});
    rc = rc || batches(b, seq, last, tg, neg, 0);
    atomic_store(&n_sites, 0);
    atomic_store(&armed, 1);
    for (int e = 1; e < 4 && !rc; e++) rc = batches(b, seq, last, tg, neg, e);
    atomic_store(&armed, 0);
    int total = atomic_load(&n_sites);
    if (rc || total) {
      printf("FAIL batches: %s\n", rc ? sp_last_error() : "allocations while producing batches");
      failed++;
    } else {
      passed++;
    }
    sp_tensor_free(seq), sp_tensor_free(last), sp_tensor_free(tg), sp_tensor_free(neg);
    sp_batcher_free(b);
    sp_dataset_free(d);
  }
  for (int threads = 1; threads <= 2; threads++) {
    sp_set_num_threads(threads);
    model m;
    sp_rng rng;
    sp_rng_init(&rng, 1);
    sp_params_new(&m.p);
    int rc =
        sp_embedding_layer_init(&m.emb, m.p, "emb", 200, 32, 0, &rng) ||
        sp_transformer_block_init(&m.block, m.p, "blk", 32, 2, 64, SP_ACT_GELU, 0.1f, 1, &rng) ||
        sp_params_create(m.p, &m.w_ih, "gru.w_ih", 2, (int[]){96, 32}) ||
        sp_params_create(m.p, &m.w_hh, "gru.w_hh", 2, (int[]){96, 32}) ||
        sp_params_create(m.p, &m.b_ih, "gru.b_ih", 1, (int[]){96}) ||
        sp_params_create(m.p, &m.b_hh, "gru.b_hh", 1, (int[]){96}) ||
        sp_tensor_fill_normal(m.w_ih, &rng, 0, 0.1f) ||
        sp_tensor_fill_normal(m.w_hh, &rng, 0, 0.1f) ||
        sp_intent_predictor_init(&m.intent, m.p, "intent", 32, 6, 0.5f, 0.1f, &rng) ||
        sp_adam_new(&m.opt, m.p, NULL);
    sp_ctx *ctx;
    rc = rc || sp_ctx_new(&ctx, 3);
    for (int s = 0; s < 3 && !rc; s++) rc = step(ctx, &m, s); /* warm-up: the arena grows */
    atomic_store(&n_sites, 0);
    atomic_store(&armed, 1);
    for (int s = 3; s < 8 && !rc; s++) rc = step(ctx, &m, s);
    atomic_store(&armed, 0);
    int total = atomic_load(&n_sites), blas = 0;
    for (int k = 0; k < total && k < MAX_SITES; k++) blas += from_blas(sites[k]);
    long during = total;
    if (rc) {
      printf("FAIL steady_state_alloc threads=%d: %s\n", threads, sp_last_error());
      failed++;
    } else if (during != 0) {
      printf(
          "FAIL steady_state_alloc threads=%d: %ld allocations (%d in OpenBLAS) in 5 steady-state "
          "steps\n",
          threads, during, blas);
      failed++;
    } else {
      passed++;
    }
    sp_ctx_free(ctx);
    sp_adam_free(m.opt);
    sp_params_free(m.p);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
