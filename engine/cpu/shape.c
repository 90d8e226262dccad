/* shape.c (CPU) — block copies along one axis (concat, slice and their backwards) and the
 * per-row position gather (take_positions). Pure data movement: each output element has one
 * source, so the loops parallelise without changing any result. */
#include <string.h>

#include "cpu.h"
#include "internal.h"

/* dst (outer, dst_n, inner) [:, dst_off : dst_off + len, :] (+)= src (outer, src_n, inner)
 * [:, src_off : src_off + len, :]. The rows of one (o, j) pair are contiguous runs of inner. */
void sp_cpu_axis_copy(float *dst, const float *src, int64_t outer, int64_t inner, int src_n,
                      int src_off, int dst_n, int dst_off, int len, int accumulate) {
  int64_t rows = outer * len;
  SP_PARALLEL_FOR(
      rows > 1 && rows * inner > SP_PAR_MIN, for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / len, j = r % len;
        const float *s = src + (o * src_n + src_off + j) * inner;
        float *d = dst + (o * dst_n + dst_off + j) * inner;
        if (accumulate)
          for (int64_t i = 0; i < inner; i++) d[i] += s[i];
        else
          memcpy(d, s, (size_t)inner * sizeof(float));
      });
}

/* out (b, d) = x (b, l, d) [r, pos[r], :]; pos already checked to lie in [0, l). */
void sp_cpu_take_positions_forward(float *out, const float *x, const int32_t *pos, int b, int l,
                                   int d) {
  SP_PARALLEL_FOR((int64_t)b * d > SP_PAR_MIN,
                  for (int r = 0; r < b; r++)
                      memcpy(out + (int64_t)r * d, x + ((int64_t)r * l + pos[r]) * d,
                             (size_t)d * sizeof(float)););
}

/* dx (b, l, d) [r, pos[r], :] += dout (b, d) [r, :]; rows r write disjoint slices of dx. */
void sp_cpu_take_positions_backward(float *dx, const float *dout, const int32_t *pos, int b, int l,
                                    int d) {
  SP_PARALLEL_FOR((int64_t)b * d > SP_PAR_MIN, for (int r = 0; r < b; r++) {
    float *g = dx + ((int64_t)r * l + pos[r]) * d;
    const float *s = dout + (int64_t)r * d;
    for (int i = 0; i < d; i++) g[i] += s[i];
  });
}
