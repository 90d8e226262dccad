/* adam.c — Adam over a parameter store. weight_decay is the paper's "L2 regularization for
 * Adam" (added to the gradient, coupled) unless decoupled = 1 (AdamW). Moments live here,
 * one pair per parameter, in the store's order. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "device.h"
#include "internal.h"
#include "vmath.h"
#include "file_io.h"

struct sp_adam {
  sp_params *params;
  sp_adam_config cfg;
  float **m, **v;
  int count;
  int64_t steps;
  float last_norm;
  sp_device device;      /* the store's device when the optimiser was made: the moments live there */
  const float *norm_dev; /* GPU: the last clip's norm, read back only when asked */
};

void sp_adam_config_default(sp_adam_config *cfg) {
  if (!cfg) return;
  cfg->lr = 1e-3f;
  cfg->beta1 = 0.9f;
  cfg->beta2 = 0.999f;
  cfg->eps = 1e-8f;
  cfg->weight_decay = 0.0f;
  cfg->decoupled = 0;
  cfg->clip_norm = 0.0f;
}

static int check_config(const sp_adam_config *c) {
  /* an infinite lr (e.g. "1e999" read as a float) would turn every weight into inf or NaN */
  if (!(c->lr >= 0.0f && isfinite(c->lr)))
    return SP_FAIL(SP_EINVAL, "sp_adam: lr must be finite and >= 0, got %g", (double)c->lr);
  if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f && c->beta2 >= 0.0f && c->beta2 < 1.0f))
    return SP_FAIL(SP_EINVAL, "sp_adam: betas must be in [0, 1), got (%g, %g)", (double)c->beta1,
                   (double)c->beta2);
  if (!(c->eps > 0.0f))
    return SP_FAIL(SP_EINVAL, "sp_adam: eps must be > 0, got %g", (double)c->eps);
  if (!(c->weight_decay >= 0.0f && isfinite(c->weight_decay)))
    return SP_FAIL(SP_EINVAL, "sp_adam: weight_decay must be finite and >= 0, got %g",
                   (double)c->weight_decay);
  if (!(c->clip_norm >= 0.0f)) return SP_FAIL(SP_EINVAL, "sp_adam: clip_norm must be >= 0");
  return SP_OK;
}

void sp_adam_free(sp_adam *opt) {
  if (!opt) return;
  for (int i = 0; i < opt->count; i++) {
    if (opt->device == SP_CPU) {
      free(opt->m ? opt->m[i] : NULL);
      free(opt->v ? opt->v[i] : NULL);
    } else {
      sp_dev_release(opt->m ? opt->m[i] : NULL);
      sp_dev_release(opt->v ? opt->v[i] : NULL);
    }
  }
  free(opt->m);
  free(opt->v);
  free(opt);
}

int sp_adam_new(sp_adam **out, sp_params *p, const sp_adam_config *cfg) {
  if (!out || !p) return SP_FAIL(SP_EINVAL, "sp_adam_new: NULL argument");
  *out = NULL;
  sp_adam_config c;
  if (cfg)
    c = *cfg;
  else
    sp_adam_config_default(&c);
  SP_TRY(check_config(&c));
  sp_adam *opt = calloc(1, sizeof *opt);
  if (!opt) return SP_FAIL(SP_ENOMEM, "sp_adam_new: out of memory");
  opt->params = p;
  opt->cfg = c;
  opt->device = sp_params_device(p);
  opt->count = sp_params_count(p);
  opt->m = calloc((size_t)opt->count + 1, sizeof *opt->m);
  opt->v = calloc((size_t)opt->count + 1, sizeof *opt->v);
  if (!opt->m || !opt->v) {
    sp_adam_free(opt);
    return SP_FAIL(SP_ENOMEM, "sp_adam_new: out of memory");
  }
  for (int i = 0; i < opt->count; i++) {
    sp_tensor *t;
    sp_params_get(p, i, NULL, &t);
    int64_t n = sp_tensor_numel(t) + 1;
    if (opt->device != SP_CPU) { /* zeroed moments on the GPU */
      int rc = sp_dev_alloc((void **)&opt->m[i], n * 4, "sp_adam_new");
      if (rc == SP_OK) rc = sp_dev_alloc((void **)&opt->v[i], n * 4, "sp_adam_new");
      if (rc == SP_OK) rc = sp_dev_zero(opt->m[i], n * 4);
      if (rc == SP_OK) rc = sp_dev_zero(opt->v[i], n * 4);
      if (rc != SP_OK) {
        sp_adam_free(opt);
        return rc;
      }
      continue;
    }
    opt->m[i] = calloc((size_t)n, sizeof(float));
    opt->v[i] = calloc((size_t)n, sizeof(float));
    if (!opt->m[i] || !opt->v[i]) {
      sp_adam_free(opt);
      return SP_FAIL(SP_ENOMEM, "sp_adam_new: out of memory");
    }
  }
  *out = opt;
  return SP_OK;
}

/* Elements [j0, j1) of one parameter: vectorised, in clones per instruction set (vmath.h),
 * each giving the same bits. */
SP_VECTOR_CLONES static void adam_range(float *restrict w, const float *restrict g, float *restrict m,
                                        float *restrict v, int64_t j0, int64_t j1, const sp_adam_config *c,
                                        float step_size, float bc2_sqrt) {
  const float b1 = c->beta1, b2 = c->beta2, wd = c->weight_decay, lr = c->lr, eps = c->eps;
  if (c->decoupled) {
    for (int64_t j = j0; j < j1; j++) {
      const float gj = g[j];
      m[j] = b1 * m[j] + (1.0f - b1) * gj;
      v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
      w[j] -= lr * wd * w[j];
      w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
    }
  } else {
    for (int64_t j = j0; j < j1; j++) {
      const float gj = g[j] + wd * w[j];
      m[j] = b1 * m[j] + (1.0f - b1) * gj;
      v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
      w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
    }
  }
}

int sp_adam_step(sp_adam *opt) {
  if (!opt) return SP_FAIL(SP_EINVAL, "sp_adam_step: NULL optimiser");
  if (sp_params_count(opt->params) != opt->count)
    return SP_FAIL(SP_ESTATE,
                   "sp_adam_step: the store has %d parameters, the optimiser was made for %d",
                   sp_params_count(opt->params), opt->count);
  if (sp_params_device(opt->params) != opt->device)
    return SP_FAIL(SP_ESTATE, "sp_adam_step: the parameters moved to another device after the "
                              "optimiser was made; move them first, then make the optimiser");
  const sp_adam_config *c = &opt->cfg;
  opt->last_norm = 0.0f;
  opt->norm_dev = NULL;
  if (c->clip_norm > 0.0f && opt->device != SP_CPU) {
    float *norm_dev; /* stays on the device: no wait per step */
    SP_TRY(sp_params_clip_grad_norm_device(opt->params, c->clip_norm, &norm_dev));
    opt->norm_dev = norm_dev;
  } else if (c->clip_norm > 0.0f) {
    SP_TRY(sp_params_clip_grad_norm(opt->params, c->clip_norm, &opt->last_norm));
  }
  opt->steps++;
  float bc1 = 1.0f - powf(c->beta1, (float)opt->steps);
  float bc2 = 1.0f - powf(c->beta2, (float)opt->steps);
  float step_size = c->lr / bc1;
  float bc2_sqrt = sqrtf(bc2);
  for (int i = 0; i < opt->count; i++) {
    sp_tensor *t;
    sp_params_get(opt->params, i, NULL, &t);
    float *w = sp_tensor_f32(t), *g = sp_tensor_f32(sp_tensor_grad(t)), *m = opt->m[i],
          *v = opt->v[i];
    int64_t n = sp_tensor_numel(t);
    if (opt->device != SP_CPU) { /* one fused kernel per parameter, queued */
      SP_TRY(sp_dev_adam_update(t->data, t->grad->data, m, v, n, c->lr, c->beta1, c->beta2, c->eps,
                                c->weight_decay, c->decoupled, step_size, bc2_sqrt));
      continue;
    }
    enum { RANGE = 8192 };
    const int64_t tasks = (n + RANGE - 1) / RANGE;
    SP_PARALLEL_FOR(
        n > SP_PAR_MIN && tasks > 1, for (int64_t t = 0; t < tasks; t++) {
          adam_range(w, g, m, v, t * RANGE, (t + 1) * RANGE < n ? (t + 1) * RANGE : n, c, step_size, bc2_sqrt);
        });
  }
  return SP_OK;
}

int sp_adam_set_lr(sp_adam *opt, float lr) {
  if (!opt) return SP_FAIL(SP_EINVAL, "sp_adam_set_lr: NULL optimiser");
  if (!(lr >= 0.0f && isfinite(lr)))
    return SP_FAIL(SP_EINVAL, "sp_adam_set_lr: lr must be finite and >= 0, got %g", (double)lr);
  opt->cfg.lr = lr;
  return SP_OK;
}

int64_t sp_adam_steps(const sp_adam *opt) {
  return opt ? opt->steps : 0;
}
float sp_adam_last_grad_norm(const sp_adam *opt) {
  if (opt && opt->norm_dev) { /* GPU: read back now (waits for the step) */
    float norm = 0.0f;
    if (sp_dev_copy(&norm, opt->norm_dev, sizeof norm, SP_COPY_D2H) == SP_OK) return norm;
    return NAN;
  }
  return opt ? opt->last_norm : 0.0f;
}

static const char ADAM_MAGIC[8] = {'S', 'P', 'R', 'I', 'N', 'T', 'A', '1'};

int sp_adam_save(sp_adam *opt, const char *path) {
  if (!opt || !path) return SP_FAIL(SP_EINVAL, "sp_adam_save: NULL argument");
  sp_writer w;
  SP_TRY(sp_writer_open(&w, path, ADAM_MAGIC));
  sp_writer_u32(&w, (uint32_t)opt->count);
  sp_writer_bytes(&w, &opt->steps, sizeof opt->steps);
  for (int i = 0; i < opt->count; i++) {
    sp_tensor *t;
    sp_params_get(opt->params, i, NULL, &t);
    uint32_t n = (uint32_t)sp_tensor_numel(t);
    sp_writer_u32(&w, n);
    if (opt->device == SP_CPU) {
      sp_writer_bytes(&w, opt->m[i], sizeof(float) * n);
      sp_writer_bytes(&w, opt->v[i], sizeof(float) * n);
      continue;
    }
    float *host = malloc(sizeof(float) * ((size_t)n + 1)); /* GPU moments through a host copy */
    int rc = host ? SP_OK : SP_FAIL(SP_ENOMEM, "sp_adam_save: out of memory");
    for (int k = 0; k < 2 && rc == SP_OK; k++) {
      rc = sp_dev_copy(host, k ? opt->v[i] : opt->m[i], (int64_t)n * 4, SP_COPY_D2H);
      if (rc == SP_OK) sp_writer_bytes(&w, host, sizeof(float) * n);
    }
    free(host);
    if (rc != SP_OK) {
      w.failed = EIO; /* drops the temp file */
      (void)sp_writer_commit(&w);
      return SP_FAIL(rc, "sp_adam_save: reading the moments back from the GPU failed");
    }
  }
  return sp_writer_commit(&w);
}

int sp_adam_load(sp_adam *opt, const char *path) {
  if (!opt || !path) return SP_FAIL(SP_EINVAL, "sp_adam_load: NULL argument");
  sp_reader r;
  SP_TRY(sp_reader_open(&r, path, ADAM_MAGIC));
  uint32_t count = 0;
  int64_t steps = 0;
  int rc = sp_reader_u32(&r, &count);
  if (rc == SP_OK) rc = sp_reader_bytes(&r, &steps, sizeof steps);
  if (rc == SP_OK && count != (uint32_t)opt->count)
    rc = SP_FAIL(SP_EFORMAT, "%s: state for %u parameters, the optimiser has %d", path, count,
                 opt->count);
  size_t start = r.pos;
  for (int pass = 0; pass < 2 && rc == SP_OK; pass++) { /* validate, then copy */
    r.pos = start;
    for (int i = 0; i < opt->count && rc == SP_OK; i++) {
      sp_tensor *t;
      sp_params_get(opt->params, i, NULL, &t);
      uint32_t n = 0;
      if ((rc = sp_reader_u32(&r, &n)) != SP_OK) break;
      if (n != (uint32_t)sp_tensor_numel(t)) {
        rc = SP_FAIL(SP_EFORMAT, "%s: parameter %d has %u moments, expected %lld", path, i, n,
                     (long long)sp_tensor_numel(t));
        break;
      }
      if (pass == 0) {
        rc = sp_reader_skip(&r, 2 * sizeof(float) * n);
      } else if (opt->device == SP_CPU) {
        if ((rc = sp_reader_bytes(&r, opt->m[i], sizeof(float) * n)) == SP_OK)
          rc = sp_reader_bytes(&r, opt->v[i], sizeof(float) * n);
      } else { /* the file's bytes are in r's buffer: copy them up from there */
        rc = sp_dev_copy(opt->m[i], r.buf + r.pos, (int64_t)n * 4, SP_COPY_H2D);
        if (rc == SP_OK) rc = sp_dev_copy(opt->v[i], r.buf + r.pos + 4 * (size_t)n, (int64_t)n * 4, SP_COPY_H2D);
        if (rc == SP_OK) rc = sp_reader_skip(&r, 2 * sizeof(float) * n);
      }
    }
  }
  if (rc == SP_OK) opt->steps = steps;
  sp_reader_close(&r);
  return rc;
}
