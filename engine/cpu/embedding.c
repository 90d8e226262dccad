/* embedding.c (CPU) — gather rows; backward scatter-adds in index order (serial, so repeated
 * indices sum in the same order whatever the thread count). */
#include <string.h>

#include "cpu.h"
#include "internal.h"

void sp_cpu_embedding_forward(float *out, const float *weight, const int32_t *idx, int64_t n, int d,
                              int padding_idx) {
  SP_PARALLEL_FOR(
      n * d > SP_PAR_MIN, for (int64_t i = 0; i < n; i++) {
        float *o = out + i * d;
        if (idx[i] == padding_idx)
          memset(o, 0, (size_t)d * sizeof(float));
        else
          memcpy(o, weight + (int64_t)idx[i] * d, (size_t)d * sizeof(float));
      });
}

void sp_cpu_embedding_backward(float *dweight, const float *dout, const int32_t *idx, int64_t n,
                               int d, int padding_idx) {
  for (int64_t i = 0; i < n; i++) {
    if (idx[i] == padding_idx) continue;
    float *dw = dweight + (int64_t)idx[i] * d;
    const float *g = dout + i * d;
    for (int j = 0; j < d; j++) dw[j] += g[j];
  }
}
