/* uncertainty.c — the per-session uncertainty scores of SPRINT's hard-session selection (§4.1.1):
 * the entropy of the model's softmax over a session's own distinct items (H_sess, Eq. 3) and
 * the negative log-probability of a held-out target, normalised over the session's items
 * (H_pred) or over the whole catalogue. No gradients; float inputs, double dot products and
 * sums; each row is computed on its own, so nothing depends on the batch or the thread count. */
#include <math.h>

#include "eval.h"

/* A streaming log-sum-exp over logits z that also keeps sum_i exp(z_i - m) (z_i - m), so the
 * entropy comes out of one pass with no scratch: with p_i = exp(z_i - lse),
 *   lse = m + log s,   H = -sum p_i log p_i = sum p_i (lse - z_i) = log s - t / s. */
typedef struct {
  double m; /* the largest logit so far */
  double s; /* sum exp(z_i - m) */
  double t; /* sum exp(z_i - m) (z_i - m) */
  int n;    /* logits seen */
  int bad;  /* a logit was NaN or infinite */
} lse_acc;

static void lse_add(lse_acc *a, double z) {
  if (!isfinite(z)) {
    a->bad = 1;
    return;
  }
  if (a->n++ == 0) {
    a->m = z, a->s = 1.0, a->t = 0.0;
  } else if (z > a->m) { /* rescale the old terms to the new maximum */
    const double shift = a->m - z, f = exp(shift);
    a->t = f * (a->t + shift * a->s);
    a->s = f * a->s + 1.0;
    a->m = z;
  } else {
    const double e = exp(z - a->m);
    a->s += e;
    a->t += e * (z - a->m);
  }
}

static double dot_d(const float *x, const float *y, int d) {
  double acc = 0.0; /* k-ordered, in double */
  for (int k = 0; k < d; k++) acc += (double)x[k] * (double)y[k];
  return acc;
}

/* Checks sess (B, L) int32 with every value in 0..n (0 = padding). */
static int check_sess(sp_ctx *ctx, const char *op, sp_tensor *sess, int B, int n) {
  char s[64];
  SP_CHECK_I32(ctx, op, sess);
  if (sess->ndim != 2 || sess->shape[0] != B)
    return SP_FAIL(SP_ESHAPE, "%s: sess %s must be (B, L) with B = %d rows of h", op,
                   sp_shape_str(sess, s), B);
  const int L = sess->shape[1];
  const int32_t *v = sess->data;
  for (int64_t i = 0; i < sess->numel; i++)
    if (v[i] < 0 || v[i] > n)
      return SP_FAIL(SP_EINVAL,
                     "%s: sess[%lld][%lld] = %d is not an item id in 1..%d (0 = padding)", op,
                     (long long)(i / L), (long long)(i % L), v[i], n);
  return SP_OK;
}

/* What every call checks first: the context, h (B, d), items (V, d) with n_items, out (B). */
static int begin(sp_ctx *ctx, const char *op, sp_eval_args *a, sp_tensor *out, sp_tensor *h,
                 sp_tensor *items, int n_items) {
  if (!ctx) return SP_FAIL(SP_EINVAL, "%s: NULL context", op);
  SP_TRY(sp_eval_check_model(ctx, op, a, h, items, NULL, n_items, 0));
  return sp_eval_check_out(ctx, op, "out", out, SP_F32, 1, a->B, 0);
}

/* H_sess of one row: the entropy of softmax(h . e_i) over the distinct items i of seq (L). */
static float entropy_row(const float *h, const float *items, int d, const int32_t *seq, int L) {
  lse_acc a = {0};
  for (int p = 0; p < L; p++)
    if (sp_eval_first_item(seq, p, 0)) lse_add(&a, dot_d(h, items + (int64_t)seq[p] * d, d));
  if (a.bad) return NAN;
  if (a.n == 0) return 0.0f; /* a padding row */
  const double H = log(a.s) - a.t / a.s;
  return (float)(H > 0.0 ? H : 0.0); /* a single item (or rounding) gives exactly 0 */
}

int sp_session_entropy(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items, sp_tensor *sess,
                       int n_items) {
  const char *op = "sp_session_entropy";
  sp_eval_args a;
  SP_TRY(begin(ctx, op, &a, out, h, items, n_items));
  SP_TRY(check_sess(ctx, op, sess, a.B, a.n));
  const int B = a.B, d = a.d, L = sess->shape[1];
  const float *hp = a.h, *ip = a.items;
  const int32_t *sq = sess->data;
  float *o = out->data;
  SP_PARALLEL_FOR((int64_t)B * L * d >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    o[b] = entropy_row(hp + (int64_t)b * d, ip, d, sq + (int64_t)b * L, L);
  });
  return SP_OK;
}

/* H_pred of one row: -log softmax(h . e_t) over {t} and the distinct items of seq (L). */
static float nll_row(const float *h, const float *items, int d, const int32_t *seq, int L,
                     int32_t t) {
  lse_acc a = {0};
  const double zt = dot_d(h, items + (int64_t)t * d, d);
  lse_add(&a, zt);
  for (int p = 0; p < L; p++)
    if (sp_eval_first_item(seq, p, t)) lse_add(&a, dot_d(h, items + (int64_t)seq[p] * d, d));
  if (a.bad) return NAN;
  const double nll = a.m + log(a.s) - zt;
  return (float)(nll > 0.0 ? nll : 0.0);
}

int sp_session_target_nll(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items,
                          sp_tensor *sess, sp_tensor *target, int n_items) {
  const char *op = "sp_session_target_nll";
  sp_eval_args a;
  SP_TRY(begin(ctx, op, &a, out, h, items, n_items));
  SP_TRY(check_sess(ctx, op, sess, a.B, a.n));
  SP_TRY(sp_eval_check_targets(ctx, op, target, a.B, a.n));
  const int B = a.B, d = a.d, L = sess->shape[1];
  const float *hp = a.h, *ip = a.items;
  const int32_t *sq = sess->data, *t = target->data;
  float *o = out->data;
  SP_PARALLEL_FOR((int64_t)B * L * d >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    o[b] = t[b] == 0 ? 0.0f : nll_row(hp + (int64_t)b * d, ip, d, sq + (int64_t)b * L, L, t[b]);
  });
  return SP_OK;
}

/* -log softmax(s)[t] over one row of float scores s (n) of items 1..n, summed in double. */
static float full_nll_row(const float *s, int n, int32_t t) {
  float m = s[0];
  int bad = 0;
  for (int j = 0; j < n; j++) {
    bad |= !isfinite(s[j]);
    m = s[j] > m ? s[j] : m;
  }
  if (bad) return NAN;
  double sum = 0.0; /* float exponents (the scores are float GEMM sums), a double sum */
  for (int j = 0; j < n; j++) sum += (double)expf(s[j] - m);
  const double nll = (double)m + log(sum) - (double)s[t - 1];
  return (float)(nll > 0.0 ? nll : 0.0);
}

int sp_session_target_nll_full(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items,
                               sp_tensor *target, int n_items) {
  const char *op = "sp_session_target_nll_full";
  sp_eval_args a;
  SP_TRY(begin(ctx, op, &a, out, h, items, n_items));
  SP_TRY(sp_eval_check_targets(ctx, op, target, a.B, a.n));
  if (a.B == 0) return SP_OK;
  float *scores = sp_work_host(ctx, (int64_t)a.B * a.n, op); /* (B, n): items 1..n */
  if (!scores) return SP_ENOMEM;
  SP_TRY(sp_sgemm(0, 1, a.B, a.n, a.d, 1.0f, a.h, a.d, a.items + a.d, a.d, 0.0f, scores, a.n));
  const int B = a.B, n = a.n;
  const int32_t *t = target->data;
  float *o = out->data;
  SP_PARALLEL_FOR((int64_t)B * n >= SP_PAR_MIN, for (int b = 0; b < B; b++) {
    o[b] = t[b] == 0 ? 0.0f : full_nll_row(scores + (int64_t)b * n, n, t[b]);
  });
  return SP_OK;
}
