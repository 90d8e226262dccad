/* unary.c (CPU) — pointwise activations. gelu is the tanh form used by BERT:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). threshold is SPRINT's phi(x) = x [x > tau]:
 * its derivative is [x > tau] (the jump is not differentiated; NaN maps to 0, as in relu). */
#include <math.h>

#include "cpu.h"
#include "internal.h"
#include "vmath.h"

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

static inline float sigmoidf(float x) {
  return 1.0f / (1.0f + expf(-x));
}

/* gelu's tanh through sp_vtanhf (vmath.h): branch-free, so the loops vectorise (glibc's tanhf
 * was half of a small Transformer's step, expf a third of BERT4Rec's). Its absolute error
 * ~2e-7 is below what gelu's 0.5 x (1 + tanh) can show. */
static inline float gelu(float v) {
  return 0.5f * v * (1.0f + sp_vtanhf(GELU_C * (v + 0.044715f * v * v * v)));
}

static inline float gelu_grad(float v) {
  const float t = sp_vtanhf(GELU_C * (v + 0.044715f * v * v * v));
  const float du = GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
  return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
}

/* One loop per kind (the kind is hoisted out of the element loop so each loop vectorises),
 * over [i0, i1) so the parallel split is by ranges. */
SP_VECTOR_CLONES static void forward_range(float *restrict out, const float *restrict x, int64_t i0, int64_t i1,
                          sp_unary_kind kind, float param) {
  switch (kind) {
    case SP_UN_RELU:
      for (int64_t i = i0; i < i1; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case SP_UN_GELU:
      for (int64_t i = i0; i < i1; i++) out[i] = gelu(x[i]);
      break;
    case SP_UN_SIGMOID:
      for (int64_t i = i0; i < i1; i++) out[i] = sigmoidf(x[i]);
      break;
    case SP_UN_TANH:
      for (int64_t i = i0; i < i1; i++) out[i] = tanhf(x[i]);
      break;
    case SP_UN_SCALE:
      for (int64_t i = i0; i < i1; i++) out[i] = x[i] * param;
      break;
    case SP_UN_THRESHOLD:
      for (int64_t i = i0; i < i1; i++) out[i] = x[i] > param ? x[i] : 0.0f;
      break;
  }
}

SP_VECTOR_CLONES static void backward_range(float *restrict dx, const float *restrict dout, const float *restrict x,
                           const float *restrict out, int64_t i0, int64_t i1, sp_unary_kind kind,
                           float param) {
  switch (kind) {
    case SP_UN_RELU:
      for (int64_t i = i0; i < i1; i++) {
        const float g = dout[i];
        dx[i] += x[i] > 0.0f ? g : 0.0f;
      }
      break;
    case SP_UN_GELU:
      for (int64_t i = i0; i < i1; i++) dx[i] += dout[i] * gelu_grad(x[i]);
      break;
    case SP_UN_SIGMOID:
      for (int64_t i = i0; i < i1; i++) dx[i] += dout[i] * out[i] * (1.0f - out[i]);
      break;
    case SP_UN_TANH:
      for (int64_t i = i0; i < i1; i++) dx[i] += dout[i] * (1.0f - out[i] * out[i]);
      break;
    case SP_UN_SCALE:
      for (int64_t i = i0; i < i1; i++) dx[i] += dout[i] * param;
      break;
    case SP_UN_THRESHOLD:
      for (int64_t i = i0; i < i1; i++) {
        const float g = dout[i];
        dx[i] += x[i] > param ? g : 0.0f;
      }
      break;
  }
}

enum { RANGE = 4096 }; /* elements per parallel task */

void sp_cpu_unary_forward(float *out, const float *x, int64_t n, sp_unary_kind kind, float param) {
  const int64_t tasks = (n + RANGE - 1) / RANGE;
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN && tasks > 1, for (int64_t t = 0; t < tasks; t++) {
        forward_range(out, x, t * RANGE, (t + 1) * RANGE < n ? (t + 1) * RANGE : n, kind, param);
      });
}

void sp_cpu_unary_backward(float *dx, const float *dout, const float *x, const float *out,
                           int64_t n, sp_unary_kind kind, float param) {
  const int64_t tasks = (n + RANGE - 1) / RANGE;
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN && tasks > 1, for (int64_t t = 0; t < tasks; t++) {
        backward_range(dx, dout, x, out, t * RANGE, (t + 1) * RANGE < n ? (t + 1) * RANGE : n, kind, param);
      });
}
