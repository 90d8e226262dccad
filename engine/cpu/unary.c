/* unary.c (CPU) — pointwise activations. gelu is the tanh form used by BERT:
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). threshold is SPRINT's phi(x) = x [x > tau]:
 * its derivative is [x > tau] (the jump is not differentiated; NaN maps to 0, as in relu). */
#include <math.h>

#include "cpu.h"
#include "internal.h"

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

static inline float sigmoidf(float x) {
  return 1.0f / (1.0f + expf(-x));
}

/* tanh for gelu through one expf (glibc's tanhf is 4x slower and was half of a small
 * Transformer's step). Absolute error ~1e-7, which gelu's 0.5 x (1 + tanh) cannot see. */
static inline float gelu_tanh(float u) {
  if (u > 9.0f) return 1.0f;
  if (u < -9.0f) return -1.0f;
  float e = expf(2.0f * u);
  return (e - 1.0f) / (e + 1.0f);
}

void sp_cpu_unary_forward(float *out, const float *x, int64_t n, sp_unary_kind kind, float param) {
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        switch (kind) {
          case SP_UN_RELU:
            out[i] = v > 0.0f ? v : 0.0f;
            break;
          case SP_UN_GELU:
            out[i] = 0.5f * v * (1.0f + gelu_tanh(GELU_C * (v + 0.044715f * v * v * v)));
            break;
          case SP_UN_SIGMOID:
            out[i] = sigmoidf(v);
            break;
          case SP_UN_TANH:
            out[i] = tanhf(v);
            break;
          case SP_UN_SCALE:
            out[i] = v * param;
            break;
          case SP_UN_THRESHOLD:
            out[i] = v > param ? v : 0.0f;
            break;
        }
      });
}

void sp_cpu_unary_backward(float *dx, const float *dout, const float *x, const float *out,
                           int64_t n, sp_unary_kind kind, float param) {
  SP_PARALLEL_FOR(
      n > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) {
        float g = dout[i], v = x[i], y = out[i], d = 0.0f;
        switch (kind) {
          case SP_UN_RELU:
            d = v > 0.0f ? g : 0.0f;
            break;
          case SP_UN_GELU: {
            float u = GELU_C * (v + 0.044715f * v * v * v);
            float t = gelu_tanh(u);
            float du = GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
            d = g * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
            break;
          }
          case SP_UN_SIGMOID:
            d = g * y * (1.0f - y);
            break;
          case SP_UN_TANH:
            d = g * (1.0f - y * y);
            break;
          case SP_UN_SCALE:
            d = g * param;
            break;
          case SP_UN_THRESHOLD:
            d = v > param ? g : 0.0f;
            break;
        }
        dx[i] += d;
      });
}
