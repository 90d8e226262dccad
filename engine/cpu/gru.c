/* gru.c (CPU) — PyTorch's GRU (gates r, z, n) over (b, l, din) sequences with h0 = 0, and its
 * backward through time. All input projections are one GEMM; each step is one GEMM against
 * w_hh plus elementwise gate math. A masked step (mask == 0) carries the state over. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"
#include "vmath.h"

/* The gates through sp_vexpf and sp_vtanhf (libm's expf and tanhf are calls, which kept the
 * gate loop scalar and made it most of a GRU4Rec step). */
static inline float sigmoidf(float x) {
  return 1.0f / (1.0f + sp_vexpf(-x));
}

/* One row's gates and new state (see sp_cpu_gru_forward); hp NULL: h_{t-1} = 0. Separate
 * loops for the two cases and restrict pointers, so each loop vectorises. */
SP_VECTOR_CLONES static void gate_row(float *restrict g, float *restrict ht, const float *restrict hr,
                            const float *restrict hp, int h) {
  float *restrict gr = g, *restrict gz = g + h, *restrict gn = g + 2 * h, *restrict gh = g + 3 * h;
  if (hp) {
    for (int j = 0; j < h; j++) {
      const float r = sigmoidf(gr[j] + hr[j]), z = sigmoidf(gz[j] + hr[h + j]), hn = hr[2 * h + j];
      const float n = sp_vtanhf(gn[j] + r * hn);
      gr[j] = r, gz[j] = z, gn[j] = n, gh[j] = hn;
      ht[j] = (1.0f - z) * n + z * hp[j];
    }
  } else {
    for (int j = 0; j < h; j++) {
      const float r = sigmoidf(gr[j] + hr[j]), z = sigmoidf(gz[j] + hr[h + j]), hn = hr[2 * h + j];
      const float n = sp_vtanhf(gn[j] + r * hn);
      gr[j] = r, gz[j] = z, gn[j] = n, gh[j] = hn;
      ht[j] = (1.0f - z) * n + z * 0.0f;
    }
  }
}

/* One row's gate gradients for a step of the backward pass (see sp_cpu_gru_backward); hp NULL:
 * h_{t-1} = 0. As gate_row: a loop per case, in clones per instruction set. */
SP_VECTOR_CLONES static void gate_grad_row(float *restrict gi, float *restrict gh, float *restrict d,
                                           const float *restrict go, const float *restrict g,
                                           const float *restrict hp, int h) {
  const float *restrict gr = g, *restrict gz = g + h, *restrict gn = g + 2 * h, *restrict ghn = g + 3 * h;
  for (int j = 0; j < h; j++) {
    const float dht = d[j] + go[j];
    const float r = gr[j], z = gz[j], n = gn[j], hn = ghn[j];
    const float dn = dht * (1.0f - z) * (1.0f - n * n);
    const float dz = dht * ((hp ? hp[j] : 0.0f) - n) * z * (1.0f - z);
    const float dr = dn * hn * r * (1.0f - r);
    gi[j] = dr, gi[h + j] = dz, gi[2 * h + j] = dn;
    gh[j] = dr, gh[h + j] = dz, gh[2 * h + j] = dn * r;
    d[j] = dht * z;
  }
}

/* gates (b, l, 4h) per step: [r | z | n | hn], hn = w_hn h_{t-1} + b_hn; all zero where masked.
 * The input projections x w_ih^T + b_ih are first written into the r, z, n slots (ldc = 4h)
 * and replaced by the activations step by step. */
int64_t sp_cpu_gru_forward_work_floats(int b, int h) {
  return (int64_t)b * 3 * h + 1;
}

/* rows * 3h twice (input- and hidden-side gate gradients), b * h for dL/dh_t, rows * h for
 * the shifted h_{t-1}. */
int64_t sp_cpu_gru_backward_work_floats(int b, int l, int h) {
  int64_t rows = (int64_t)b * l;
  return 2 * rows * 3 * h + (int64_t)b * h + rows * h + 1;
}

int sp_cpu_gru_forward(float *out, float *gates, float *work, const float *x, const float *w_ih,
                       const float *w_hh, const float *b_ih, const float *b_hh, const int32_t *mask,
                       int b, int l, int din, int h) {
  const int g3 = 3 * h, g4 = 4 * h;
  const int64_t rows = (int64_t)b * l;
  for (int64_t r = 0; r < rows; r++) memcpy(gates + r * g4, b_ih, (size_t)g3 * sizeof(float));
  SP_TRY(sp_sgemm(0, 1, (int)rows, g3, din, 1.0f, x, din, w_ih, din, 1.0f, gates, g4));
  float *hh = work; /* (b, 3h): h_{t-1} w_hh^T + b_hh */
  for (int t = 0; t < l; t++) {
    for (int bi = 0; bi < b; bi++) memcpy(hh + (int64_t)bi * g3, b_hh, (size_t)g3 * sizeof(float));
    if (t > 0) { /* h_{t-1} rows are out[:, t-1, :], stride l*h */
      int rc =
          sp_sgemm(0, 1, b, g3, h, 1.0f, out + (int64_t)(t - 1) * h, l * h, w_hh, h, 1.0f, hh, g3);
      if (rc != SP_OK) return rc;
    }
    SP_PARALLEL_FOR((int64_t)b * h > SP_PAR_MIN, for (int bi = 0; bi < b; bi++) {
      const int64_t row = (int64_t)bi * l + t;
      float *g = gates + row * g4;
      float *ht = out + row * h;
      const float *hp = t > 0 ? ht - h : NULL; /* h_{t-1}, or h0 = 0 */
      const float *hr = hh + (int64_t)bi * g3;
      if (mask && !mask[row]) {
        memset(g, 0, (size_t)g4 * sizeof(float));
        for (int j = 0; j < h; j++) ht[j] = hp ? hp[j] : 0.0f;
        continue;
      }
      gate_row(g, ht, hr, hp, h);
    });
  }
  return SP_OK;
}

/* Backward through time. dh carries dL/dh_t from step t+1 back; per unmasked step, with
 * h_t = (1 - z) n + z h_{t-1}:
 *   dn~ = dh (1 - z)(1 - n^2)      (pre-activation of n)
 *   dz~ = dh (h_{t-1} - n) z (1 - z)
 *   dr~ = dn~ hn r (1 - r)
 *   d(x w_ih^T + b_ih) = [dr~, dz~, dn~],  d(h_{t-1} w_hh^T + b_hh) = [dr~, dz~, dn~ r]
 *   dh_{t-1} = dh z + d(h w_hh^T) w_hh
 * A masked step hands dh to h_{t-1} unchanged. The weight gradients are one GEMM each after
 * the loop, over all (b, t) rows at once. */
int sp_cpu_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                        float *work, const float *dout, const float *out, const float *gates,
                        const float *x, const float *w_ih, const float *w_hh, const int32_t *mask,
                        int b, int l, int din, int h) {
  const int g3 = 3 * h, g4 = 4 * h;
  const int64_t rows = (int64_t)b * l;
  int rc = SP_OK;
  /* work is zeroed by the caller (arena memory) */
  float *dgi = work;                  /* (b, l, 3h) input side */
  float *dgh = dgi + rows * g3;       /* (b, l, 3h) hidden side */
  float *dh = dgh + rows * g3;        /* (b, h) dL/dh_t */
  float *hprev = dh + (int64_t)b * h; /* (b, l, h) h_{t-1} per row */
  for (int t = l - 1; t >= 0; t--) {
    SP_PARALLEL_FOR((int64_t)b * h > SP_PAR_MIN, for (int bi = 0; bi < b; bi++) {
      const int64_t row = (int64_t)bi * l + t;
      float *d = dh + (int64_t)bi * h;
      const float *go = dout + row * h;
      if (mask && !mask[row]) { /* h_t = h_{t-1}: everything flows straight through */
        for (int j = 0; j < h; j++) d[j] += go[j];
        continue;
      }
      gate_grad_row(dgi + row * g3, dgh + row * g3, d, go, gates + row * g4, t > 0 ? out + (row - 1) * h : NULL, h);
    });
    if (t > 0) { /* dh_{t-1} += d(h w_hh^T) (b, 3h) w_hh (3h, h); rows strided by l*3h */
      rc = sp_sgemm(0, 0, b, h, g3, 1.0f, dgh + (int64_t)t * g3, l * g3, w_hh, h, 1.0f, dh, h);
      if (rc != SP_OK) goto done;
    }
  }
  if (dw_hh) {
    for (int bi = 0; bi < b; bi++)
      if (l > 1)
        memcpy(hprev + ((int64_t)bi * l + 1) * h, out + (int64_t)bi * l * h,
               (size_t)(l - 1) * h * sizeof(float));
    rc = sp_sgemm(1, 0, g3, h, (int)rows, 1.0f, dgh, g3, hprev, h, 1.0f, dw_hh, h);
    if (rc != SP_OK) goto done;
  }
  if (dx) {
    rc = sp_sgemm(0, 0, (int)rows, din, g3, 1.0f, dgi, g3, w_ih, din, 1.0f, dx, din);
    if (rc != SP_OK) goto done;
  }
  if (dw_ih) {
    rc = sp_sgemm(1, 0, g3, din, (int)rows, 1.0f, dgi, g3, x, din, 1.0f, dw_ih, din);
    if (rc != SP_OK) goto done;
  }
  for (int64_t r = 0; r < rows && (db_ih || db_hh); r++) {
    for (int j = 0; j < g3; j++) {
      if (db_ih) db_ih[j] += dgi[r * g3 + j];
      if (db_hh) db_hh[j] += dgh[r * g3 + j];
    }
  }
done:
  return rc;
}
