/* fake_gpu.c — a stand-in for the CUDA plugin (libsprint_cuda.so) that runs on the host: its
 * "device memory" is host memory, copies are memcpy, and its kernel table is the CPU's. Loaded
 * with SPRINT_CUDA_PLUGIN=build/libsprint_fake_gpu.so, it puts everything around the kernels
 * through the GPU code paths on a machine without a GPU: contexts on SP_CUDA, the device arena,
 * uploads of host batches, parameters and Adam on the device (one gradient buffer, the clip's
 * norm left on the device), copies between devices, the kernels' error flag, GPU ranking, and
 * the Lua side (sprint.set_device, train.fit). tests/c/test_cuda.c and tests/lua/test_cuda.lua
 * then compare CPU kernels with themselves: what they check is the plumbing, not CUDA. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "kernels.h"

static int64_t in_use, peak, mallocs;
static int flag[4]; /* the kernels' error flag, as runtime.cu keeps it */

static int fake_init(void) { return SP_OK; }
static const char *fake_info(void) { return "fake GPU (host memory; tests/fake_gpu)"; }

static int fake_alloc(void **p, int64_t bytes, const char *what) {
  /* a size header in front, so release can count */
  int64_t *b = aligned_alloc(256, (size_t)((bytes + 256 + 255) / 256 * 256));
  if (!b) return SP_FAIL(SP_ENOMEM, "%s: fake GPU out of memory", what);
  b[0] = bytes;
  in_use += bytes, mallocs++;
  if (in_use > peak) peak = in_use;
  *p = (char *)b + 256;
  return SP_OK;
}

static void fake_release(void *p) {
  if (!p) return;
  int64_t *b = (int64_t *)((char *)p - 256);
  in_use -= b[0];
  free(b);
}

static int fake_copy(void *dst, const void *src, int64_t bytes, sp_copy_kind kind) {
  if (bytes > 0) memmove(dst, src, (size_t)bytes);
  return SP_OK;
}

static int fake_zero(void *p, int64_t bytes) {
  if (bytes > 0) memset(p, 0, (size_t)bytes);
  return SP_OK;
}

static int fake_sync(const char *what) {
  if (flag[0] == 0) return SP_OK;
  int i = flag[1], ix = flag[2], v = flag[3];
  memset(flag, 0, sizeof flag);
  return SP_FAIL(SP_EINVAL, "%s: sp_embedding: index %d at position %d is outside [0, %d)", what, ix,
                 i, v);
}

static int fake_pending(const char *what) { return SP_OK; }

static int fake_memory_stats(sp_cuda_memory *out) {
  out->in_use = in_use, out->cached = 0, out->peak = peak, out->device_mallocs = mallocs;
  return SP_OK;
}

static int fake_release_cache(void) { return SP_OK; }

static int64_t fake_clip_work(int64_t n) { return 2; }

static int fake_clip(float *g, int64_t n, float max_norm, float *norm_dev, float *work) {
  double sq = 0.0;
  for (int64_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
  float norm = (float)sqrt(sq);
  *norm_dev = norm;
  if (max_norm > 0.0f && norm > max_norm) {
    float s = max_norm / (norm + 1e-6f);
    for (int64_t i = 0; i < n; i++) g[i] *= s;
  }
  return SP_OK;
}

static int fake_adam(float *w, const float *g, float *m, float *v, int64_t n, float lr, float beta1,
                     float beta2, float eps, float weight_decay, int decoupled, float step_size,
                     float bc2_sqrt) {
  for (int64_t j = 0; j < n; j++) {
    float gj = g[j];
    if (!decoupled) gj += weight_decay * w[j];
    m[j] = beta1 * m[j] + (1.0f - beta1) * gj;
    v[j] = beta2 * v[j] + (1.0f - beta2) * gj * gj;
    if (decoupled) w[j] -= lr * weight_decay * w[j];
    w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
  }
  return SP_OK;
}

static int fake_nonzero(int32_t *mask, const int32_t *seq, int64_t n) {
  for (int64_t i = 0; i < n; i++) mask[i] = seq[i] != 0;
  return SP_OK;
}

/* kernels/topk.cu's rank_full_kernel, on the host */
static int fake_rank_full(float *rank, float *scores, const float *h, const float *items,
                          const int32_t *target, const int32_t *seq, int B, int n, int d, int L,
                          int ties) {
  for (int b = 0; b < B; b++) {
    const int32_t t = target[b];
    if (t == 0) {
      rank[b] = 0.0f;
      continue;
    }
    float *s = scores + (int64_t)b * n;
    for (int j = 0; j < n; j++) {
      float acc = 0.0f;
      for (int k = 0; k < d; k++) acc += h[(int64_t)b * d + k] * items[(int64_t)(j + 1) * d + k];
      s[j] = acc;
    }
    const float st = s[t - 1];
    long long ge = 0, gt = 0, lt = 0;
    for (int j = 0; j < n; j++) ge += s[j] >= st, gt += s[j] > st, lt += s[j] < st;
    long long ranked = n, nan = (long long)n - ge - lt;
    const int32_t *row = seq ? seq + (int64_t)b * L : NULL;
    for (int p = 0; row && p < L; p++) {
      int32_t vv = row[p];
      int first = vv != 0 && vv != t;
      for (int k = 0; first && k < p; k++) first = row[k] != vv;
      if (!first) continue;
      float x = s[vv - 1];
      ranked--;
      ge -= x >= st, gt -= x > st;
      nan -= !(x >= st) && !(x < st);
    }
    rank[b] = st != st || nan > 0 ? (float)ranked
              : ties == 1         ? (float)(gt + 1)
              : ties == 2         ? (float)(0.5 * (double)(ge + gt + 1))
                                  : (float)ge;
  }
  return SP_OK;
}

/* The CPU table, but the gather checks its indices and raises the flag, as the GPU's does. */
static void fake_embedding_forward(float *out, const float *weight, const int32_t *idx, int64_t n,
                                   int d, int padding_idx, int v) {
  for (int64_t i = 0; i < n; i++)
    if (idx[i] != padding_idx && (idx[i] < 0 || idx[i] >= v)) {
      if (flag[0] == 0) flag[0] = 1, flag[1] = (int)i, flag[2] = idx[i], flag[3] = v;
      memset(out, 0, (size_t)(n * d) * sizeof(float));
      return;
    }
  sp_kernels_cpu.embedding_forward(out, weight, idx, n, d, padding_idx, v);
}

/* one process: a world of 1, where the mean is the buffer itself */
static int fake_world;
static int fake_unique_id(char *hex, int n) {
  if (n < 257) return SP_FAIL(SP_EINVAL, "sp_dist_unique_id: the buffer needs 257 bytes");
  memset(hex, '0', 256);
  hex[256] = '\0';
  return SP_OK;
}
static int fake_dist_init(int rank, int world, const char *hex) {
  if (world != 1 || rank != 0) return SP_FAIL(SP_EINVAL, "fake GPU: a world of 1 only");
  fake_world = 1;
  return SP_OK;
}
static int fake_allreduce(float *buf, int64_t n) {
  return fake_world ? SP_OK : SP_FAIL(SP_ESTATE, "all-reduce: no communicator (sp_dist_init)");
}
static void fake_dist_free(void) { fake_world = 0; }

static sp_kernels fake_kernels;

__attribute__((constructor)) static void fake_setup(void) {
  fake_kernels = sp_kernels_cpu;
  fake_kernels.name = "fake-gpu";
  fake_kernels.device = SP_CUDA;
  fake_kernels.embedding_forward = fake_embedding_forward;
}

__attribute__((visibility("default"))) const sp_cuda_plugin sp_cuda_plugin_v1 = {
    SP_CUDA_PLUGIN_ABI, &fake_kernels, fake_init,  fake_info,       fake_alloc,
    fake_release,       fake_copy,     fake_zero,  fake_sync,       fake_pending,
    fake_memory_stats,  fake_release_cache, fake_clip_work, fake_clip, fake_adam,
    fake_nonzero,       fake_rank_full,     fake_unique_id, fake_dist_init, fake_allreduce,
    fake_dist_free,
};
