/* profile.c — per-op wall time of a context's steps, for tools/bench profile. The tape is the
 * profiler's clock: every recorded op is charged the time since the previous record, backward
 * times each node's own function. Off (the default) it costs one NULL test per record. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define PROFILE_ROWS 64

typedef struct sp_profile {
  sp_profile_row rows[PROFILE_ROWS];
  int n;
  double stamp;      /* end of the last charged interval */
  int64_t pending;   /* tape index of the last record whose flops are not counted yet */
} sp_profile;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static sp_profile_row *row_of(sp_profile *p, const char *op) {
  for (int i = 0; i < p->n; i++)
    if (p->rows[i].op == op || strcmp(p->rows[i].op, op) == 0) return &p->rows[i];
  if (p->n == PROFILE_ROWS) return &p->rows[PROFILE_ROWS - 1]; /* more ops than rows: lumped */
  sp_profile_row *r = &p->rows[p->n++];
  r->op = op;
  return r;
}

/* Floating-point operations of a node's forward, from the scalars its op saved (0: not GEMM-like). */
static double node_flops(const sp_node *nd) {
  const char *op = nd->name;
  if (strcmp(op, "sp_linear") == 0) return 2.0 * nd->i[0] * nd->i[1] * nd->i[2];
  if (strcmp(op, "sp_matmul") == 0) return 2.0 * nd->i[0] * nd->i[1] * nd->i[2] * nd->i[3];
  if (strcmp(op, "sp_attention") == 0) return 4.0 * nd->i[0] * nd->i[1] * nd->i[1] * nd->i[2];
  if (strcmp(op, "sp_gru") == 0) return 6.0 * nd->i[0] * nd->i[1] * nd->i[3] * (double)(nd->i[2] + nd->i[3]);
  return 0.0;
}

static double node_bytes(const sp_node *nd) {
  double b = (double)nd->out->numel * 4.0;
  for (int i = 0; i < SP_NODE_MAX_IN; i++)
    if (nd->in[i]) b += (double)nd->in[i]->numel * 4.0;
  return b;
}

/* Counts the flops and bytes of the pending record (its scalars are filled by now). */
static void settle(sp_ctx *ctx) {
  sp_profile *p = ctx->profile;
  if (p->pending < 0 || p->pending >= ctx->tape_len) return;
  const sp_node *nd = &ctx->tape[p->pending];
  sp_profile_row *r = row_of(p, nd->name);
  r->flops += node_flops(nd);
  r->bytes += node_bytes(nd);
  p->pending = -1;
}

int sp_ctx_profile(sp_ctx *ctx, int on) {
  if (!ctx) return SP_FAIL(SP_EINVAL, "sp_ctx_profile: NULL context");
  if (!on) {
    if (ctx->profile) settle(ctx);
    ctx->profiling = 0;
    return SP_OK;
  }
  if (!ctx->profile) {
    ctx->profile = calloc(1, sizeof *ctx->profile);
    if (!ctx->profile) return SP_FAIL(SP_ENOMEM, "sp_ctx_profile: out of memory");
  }
  memset(ctx->profile, 0, sizeof *ctx->profile);
  ctx->profile->pending = -1;
  ctx->profile->stamp = now_s();
  ctx->profiling = 1;
  return SP_OK;
}

int sp_ctx_profile_rows(const sp_ctx *ctx, sp_profile_row *rows, int cap) {
  if (!ctx || !ctx->profile) return 0;
  const sp_profile *p = ctx->profile;
  for (int i = 0; i < p->n && i < cap; i++) rows[i] = p->rows[i];
  return p->n;
}

void sp_profile_free(sp_ctx *ctx) {
  free(ctx->profile);
  ctx->profile = NULL;
}

void sp_profile_mark(sp_ctx *ctx) {
  settle(ctx);
  ctx->profile->stamp = now_s();
}

void sp_profile_record(sp_ctx *ctx, const sp_node *node) {
  sp_profile *p = ctx->profile;
  settle(ctx);
  double t = now_s();
  sp_profile_row *r = row_of(p, node->name);
  r->calls++;
  r->forward_s += t - p->stamp;
  p->stamp = t;
  p->pending = node - ctx->tape;
}

void sp_profile_backward(sp_ctx *ctx, sp_node *node) {
  double t0 = now_s();
  node->backward(ctx, node);
  sp_profile_row *r = row_of(ctx->profile, node->name);
  r->backwards++;
  r->backward_s += now_s() - t0;
}
