/* eval.h — what engine/eval's files share: the checked arguments of a ranking call (model,
 * targets, session items) and the scan of a session's distinct items. Not public. */
#ifndef SPRINT_EVAL_H
#define SPRINT_EVAL_H

#include "internal.h"

typedef struct {
  int B, d;           /* rows, representation width */
  int n;              /* ranked items are 1..n */
  int L;              /* session columns (0 without seq) */
  const float *h;     /* (B, d) */
  const float *items; /* (n + 1, d) at least; row 0 padding */
  const int32_t *seq; /* (B, L) or NULL */
} sp_eval_args;

/* Checks h (B, d), items (V, d) with n_items (0: V - 1) in 1..V-1, and seq (B, L) int32 with
 * values in 0..n when given; fills a. `required_seq` makes a NULL seq an error. */
int sp_eval_check_model(sp_ctx *ctx, const char *op, sp_eval_args *a, sp_tensor *h,
                        sp_tensor *items, sp_tensor *seq, int n_items, int required_seq);
/* Checks a caller-owned output of dtype, shape (d0) or (d0, d1) (ndim 1 or 2). */
int sp_eval_check_out(sp_ctx *ctx, const char *op, const char *arg, sp_tensor *t, sp_dtype dtype,
                      int ndim, int d0, int d1);
/* Checks int32 targets (B) with values in 0..n (0: a padding row). */
int sp_eval_check_targets(sp_ctx *ctx, const char *op, sp_tensor *target, int B, int n);

/* True when v occurs in row[0..len). */
static inline int sp_eval_contains(const int32_t *row, int len, int32_t v) {
  for (int k = 0; k < len; k++)
    if (row[k] == v) return 1;
  return 0;
}
/* True when seq[p] is an item (not padding, not `skip`) seen for the first time at p, so a
 * walk over p visits each distinct session item once. */
static inline int sp_eval_first_item(const int32_t *seq, int p, int32_t skip) {
  int32_t v = seq[p];
  return v != 0 && v != skip && !sp_eval_contains(seq, p, v);
}

#endif
