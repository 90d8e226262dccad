/* params.c — the parameter store: it owns a model's tensors by name, zeroes and clips their
 * gradients, and saves/loads them atomically.
 * File format (little-endian): "SPRINTP1", u32 count, then per tensor: u32 name length, name,
 * u32 ndim, ndim x i32 shape, numel x f32; last a u64 FNV-1a hash of everything before it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "internal.h"
#include "file_io.h"

struct sp_params {
  char **names;
  sp_tensor **tensors;
  int count, cap;
  sp_device device;
  /* on a GPU: every gradient is a view into this one buffer (each starts at a multiple of 64
   * floats, the gaps zero), so zeroing, clipping and a data-parallel all-reduce are one call */
  float *grad_block;
  int64_t grad_floats;
  float *scratch; /* device: the clip's norm (1) and partial sums */
};

int sp_params_new(sp_params **out) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_params_new: NULL output");
  *out = calloc(1, sizeof **out);
  if (!*out) return SP_FAIL(SP_ENOMEM, "sp_params_new: out of memory");
  return SP_OK;
}

void sp_params_free(sp_params *p) {
  if (!p) return;
  for (int i = 0; i < p->count; i++) {
    free(p->names[i]);
    sp_tensor_free(p->tensors[i]);
  }
  free(p->names);
  free(p->tensors);
  sp_dev_release(p->grad_block);
  sp_dev_release(p->scratch);
  free(p);
}

sp_device sp_params_device(const sp_params *p) { return p ? p->device : SP_CPU; }

static int64_t grad_offset_round(int64_t n) { return (n + 63) / 64 * 64; }

/* A heap tensor header for a view of data on device (owns nothing). */
static sp_tensor *view_tensor(const sp_tensor *like, float *data, sp_device device) {
  sp_tensor *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->data = data;
  v->numel = like->numel;
  v->ndim = like->ndim;
  for (int i = 0; i < like->ndim; i++) v->shape[i] = like->shape[i];
  v->dtype = SP_F32;
  v->device = device;
  return v;
}

int sp_params_to_device(sp_params *p, sp_device device) {
  const char *op = "sp_params_to_device";
  if (!p) return SP_FAIL(SP_EINVAL, "%s: NULL store", op);
  if (device != SP_CPU && device != SP_CUDA) return SP_FAIL(SP_EDEVICE, "%s: unknown device %d", op, (int)device);
  if (device == p->device) return SP_OK;
  if (device == SP_CUDA) {
    SP_TRY(sp_dev_init());
    int64_t total = 0;
    for (int i = 0; i < p->count; i++) total += grad_offset_round(p->tensors[i]->numel);
    float *block = NULL, *scratch = NULL;
    SP_TRY(sp_dev_alloc((void **)&block, (total > 0 ? total : 1) * 4, op));
    int rc = sp_dev_zero(block, (total > 0 ? total : 1) * 4);
    int64_t scratch_floats = 2 + sp_dev_clip_grad_norm_work_floats(total);
    if (rc == SP_OK) rc = sp_dev_alloc((void **)&scratch, scratch_floats * 4, op);
    if (rc != SP_OK) {
      sp_dev_release(block);
      return rc;
    }
    int64_t off = 0;
    for (int i = 0; i < p->count && rc == SP_OK; i++) {
      sp_tensor *t = p->tensors[i], *g = t->grad;
      sp_tensor *view = view_tensor(t, block + off, SP_CUDA);
      if (!view) rc = SP_FAIL(SP_ENOMEM, "%s: out of memory", op);
      if (rc == SP_OK && g) rc = sp_dev_copy(view->data, g->data, t->numel * 4, SP_COPY_H2D);
      if (rc == SP_OK) {
        t->grad = NULL;
        rc = sp_tensor_to_device(t, SP_CUDA);
        t->grad = rc == SP_OK ? view : g;
      }
      if (rc == SP_OK) {
        sp_tensor_free(g);
      } else {
        free(view);
      }
      off += grad_offset_round(t->numel);
    }
    if (rc != SP_OK) return rc; /* the tensors moved so far stay moved; the store stays usable on neither: rare (OOM) */
    p->grad_block = block, p->grad_floats = total, p->scratch = scratch;
    p->device = SP_CUDA;
    return sp_dev_sync(op);
  }
  /* back to the host: each tensor and gradient owns its memory again */
  for (int i = 0; i < p->count; i++) {
    sp_tensor *t = p->tensors[i], *view = t->grad, *g = NULL;
    t->grad = NULL;
    SP_TRY(sp_tensor_to_device(t, SP_CPU));
    SP_TRY(sp_tensor_new(&g, SP_F32, t->ndim, t->shape));
    int rc = view ? sp_dev_copy(g->data, view->data, t->numel * 4, SP_COPY_D2H) : SP_OK;
    free(view);
    t->grad = g;
    SP_TRY(rc);
  }
  sp_dev_release(p->grad_block);
  sp_dev_release(p->scratch);
  p->grad_block = NULL, p->scratch = NULL, p->grad_floats = 0;
  p->device = SP_CPU;
  return SP_OK;
}

int sp_params_allreduce_grads(sp_params *p) {
  if (!p) return SP_FAIL(SP_EINVAL, "sp_params_allreduce_grads: NULL store");
  if (p->device == SP_CPU)
    return SP_FAIL(SP_EDEVICE, "sp_params_allreduce_grads: the store is on the CPU; data-parallel "
                               "training runs on GPUs (sp_params_to_device)");
  return sp_dev_allreduce_mean(p->grad_block, p->grad_floats);
}

/* The contiguous gradient buffer of a GPU store (NULL on the CPU): for all-reduce. */
float *sp_params_grad_block(sp_params *p, int64_t *floats) {
  if (floats) *floats = p ? p->grad_floats : 0;
  return p ? p->grad_block : NULL;
}

/* The clip over a GPU store with the norm left on the device (norm_dev, 1 float); no wait. */
int sp_params_clip_grad_norm_device(sp_params *p, float max_norm, float **norm_dev) {
  *norm_dev = p->scratch;
  return sp_dev_clip_grad_norm(p->grad_block, p->grad_floats, max_norm, p->scratch, p->scratch + 2);
}

int sp_params_find(sp_params *p, const char *name, sp_tensor **t) {
  if (!p || !name) return SP_FAIL(SP_EINVAL, "sp_params_find: NULL argument");
  for (int i = 0; i < p->count; i++)
    if (strcmp(p->names[i], name) == 0) {
      if (t) *t = p->tensors[i];
      return SP_OK;
    }
  return SP_FAIL(SP_EINVAL, "sp_params_find: no parameter named '%s'", name);
}

int sp_params_create(sp_params *p, sp_tensor **out, const char *name, int ndim, const int *shape) {
  if (!p || !out || !name || !*name) return SP_FAIL(SP_EINVAL, "sp_params_create: NULL argument or empty name");
  *out = NULL;
  for (int i = 0; i < p->count; i++)
    if (strcmp(p->names[i], name) == 0)
      return SP_FAIL(SP_EINVAL, "sp_params_create: a parameter named '%s' already exists", name);
  if (p->count == p->cap) {
    int cap = p->cap ? p->cap * 2 : 16;
    char **names = realloc(p->names, (size_t)cap * sizeof *names);
    if (!names) return SP_FAIL(SP_ENOMEM, "sp_params_create: out of memory");
    p->names = names;
    sp_tensor **tensors = realloc(p->tensors, (size_t)cap * sizeof *tensors);
    if (!tensors) return SP_FAIL(SP_ENOMEM, "sp_params_create: out of memory");
    p->tensors = tensors;
    p->cap = cap;
  }
  if (p->device != SP_CPU)
    return SP_FAIL(SP_ESTATE, "sp_params_create: '%s': the store is on the GPU; create every "
                              "parameter before sp_params_to_device", name);
  sp_tensor *t;
  SP_TRY(sp_tensor_new(&t, SP_F32, ndim, shape));
  int rc = sp_tensor_set_requires_grad(t, 1);
  char *copy = strdup(name);
  if (rc != SP_OK || !copy) {
    free(copy);
    sp_tensor_free(t);
    return rc != SP_OK ? rc : SP_FAIL(SP_ENOMEM, "sp_params_create: out of memory");
  }
  p->names[p->count] = copy;
  p->tensors[p->count++] = t;
  *out = t;
  return SP_OK;
}

int sp_params_count(const sp_params *p) { return p ? p->count : 0; }

int sp_params_get(sp_params *p, int i, const char **name, sp_tensor **t) {
  if (!p || i < 0 || i >= p->count)
    return SP_FAIL(SP_EINVAL, "sp_params_get: index %d out of range [0, %d)", i, p ? p->count : 0);
  if (name) *name = p->names[i];
  if (t) *t = p->tensors[i];
  return SP_OK;
}

int64_t sp_params_numel(const sp_params *p) {
  int64_t n = 0;
  for (int i = 0; p && i < p->count; i++) n += p->tensors[i]->numel;
  return n;
}

int sp_params_zero_grad(sp_params *p) {
  if (!p) return SP_FAIL(SP_EINVAL, "sp_params_zero_grad: NULL store");
  if (p->device != SP_CPU) return sp_dev_zero(p->grad_block, p->grad_floats * 4); /* one memset */
  for (int i = 0; i < p->count; i++) sp_tensor_zero_grad(p->tensors[i]);
  return SP_OK;
}

int sp_params_clip_grad_norm(sp_params *p, float max_norm, float *norm_out) {
  if (!p) return SP_FAIL(SP_EINVAL, "sp_params_clip_grad_norm: NULL store");
  if (!(max_norm > 0.0f)) return SP_FAIL(SP_EINVAL, "sp_params_clip_grad_norm: max_norm must be > 0, got %g", (double)max_norm);
  if (p->device != SP_CPU) { /* on the device; reading the norm back waits for it */
    float *norm_dev;
    SP_TRY(sp_params_clip_grad_norm_device(p, max_norm, &norm_dev));
    return norm_out ? sp_dev_copy(norm_out, norm_dev, sizeof(float), SP_COPY_D2H) : SP_OK;
  }
  double sq = 0.0;
  for (int i = 0; i < p->count; i++) {
    const float *g = p->tensors[i]->grad->data;
    for (int64_t j = 0; j < p->tensors[i]->numel; j++) sq += (double)g[j] * g[j];
  }
  float norm = (float)sqrt(sq);
  if (norm_out) *norm_out = norm;
  if (norm > max_norm) {
    float s = max_norm / (norm + 1e-6f);
    for (int i = 0; i < p->count; i++) {
      float *g = p->tensors[i]->grad->data;
      for (int64_t j = 0; j < p->tensors[i]->numel; j++) g[j] *= s;
    }
  }
  return SP_OK;
}

/* ---- files ---- */

static const char PARAMS_MAGIC[8] = {'S', 'P', 'R', 'I', 'N', 'T', 'P', '1'};

int sp_params_save(sp_params *p, const char *path) {
  if (!p || !path) return SP_FAIL(SP_EINVAL, "sp_params_save: NULL argument");
  sp_writer w;
  SP_TRY(sp_writer_open(&w, path, PARAMS_MAGIC));
  sp_writer_u32(&w, (uint32_t)p->count);
  for (int i = 0; i < p->count; i++) {
    sp_tensor *t = p->tensors[i];
    uint32_t len = (uint32_t)strlen(p->names[i]);
    sp_writer_u32(&w, len);
    sp_writer_bytes(&w, p->names[i], len);
    sp_writer_u32(&w, (uint32_t)t->ndim);
    sp_writer_bytes(&w, t->shape, sizeof(int) * (size_t)t->ndim);
    if (t->device == SP_CPU) {
      sp_writer_bytes(&w, t->data, sizeof(float) * (size_t)t->numel);
    } else { /* through a host copy */
      float *host = malloc(sizeof(float) * (size_t)(t->numel + 1));
      int rc = host ? sp_dev_copy(host, t->data, t->numel * 4, SP_COPY_D2H)
                    : SP_FAIL(SP_ENOMEM, "sp_params_save: out of memory");
      if (rc == SP_OK) sp_writer_bytes(&w, host, sizeof(float) * (size_t)t->numel);
      free(host);
      if (rc != SP_OK) { /* drop the temp file; the GPU's reason was logged above */
        w.failed = EIO;
        (void)sp_writer_commit(&w);
        return SP_FAIL(rc, "sp_params_save: reading '%s' back from the GPU failed", p->names[i]);
      }
    }
  }
  return sp_writer_commit(&w);
}

int sp_params_load(sp_params *p, const char *path) {
  if (!p || !path) return SP_FAIL(SP_EINVAL, "sp_params_load: NULL argument");
  sp_reader r;
  SP_TRY(sp_reader_open(&r, path, PARAMS_MAGIC));
  int rc = SP_OK;
  uint32_t count = 0;
  rc = sp_reader_u32(&r, &count);
  if (rc == SP_OK && count != (uint32_t)p->count)
    rc = SP_FAIL(SP_EFORMAT, "%s: holds %u parameters, the model has %d", path, count, p->count);
  /* First pass validates every name and shape; only then is anything copied. */
  for (int pass = 0; pass < 2 && rc == SP_OK; pass++) {
    r.pos = r.header_end + 4;
    for (uint32_t i = 0; i < count && rc == SP_OK; i++) {
      uint32_t len = 0, ndim = 0;
      char name[256];
      int shape[SP_MAX_DIMS];
      if ((rc = sp_reader_u32(&r, &len)) != SP_OK) break;
      if (len >= sizeof name) {
        rc = SP_FAIL(SP_EFORMAT, "%s: parameter %u has a name of %u bytes", path, i, len);
        break;
      }
      if ((rc = sp_reader_bytes(&r, name, len)) != SP_OK) break;
      name[len] = '\0';
      if ((rc = sp_reader_u32(&r, &ndim)) != SP_OK) break;
      if (ndim < 1 || ndim > SP_MAX_DIMS) {
        rc = SP_FAIL(SP_EFORMAT, "%s: parameter '%s' has %u dimensions", path, name, ndim);
        break;
      }
      if ((rc = sp_reader_bytes(&r, shape, sizeof(int) * ndim)) != SP_OK) break;
      sp_tensor *t = NULL;
      for (int j = 0; j < p->count; j++)
        if (strcmp(p->names[j], name) == 0) t = p->tensors[j];
      if (!t) {
        rc = SP_FAIL(SP_EFORMAT, "%s: parameter '%s' is not in the model", path, name);
        break;
      }
      int same = (int)ndim == t->ndim;
      for (uint32_t d = 0; same && d < ndim; d++) same = shape[d] == t->shape[d];
      if (!same) {
        char s[64];
        rc = SP_FAIL(SP_EFORMAT, "%s: parameter '%s' has another shape than the model's %s", path,
                     name, sp_shape_str(t, s));
        break;
      }
      if (pass == 0) {
        rc = sp_reader_skip(&r, sizeof(float) * (size_t)t->numel);
      } else if (t->device == SP_CPU) {
        rc = sp_reader_bytes(&r, t->data, sizeof(float) * (size_t)t->numel);
      } else { /* through a host copy */
        float *host = malloc(sizeof(float) * (size_t)(t->numel + 1));
        rc = host ? sp_reader_bytes(&r, host, sizeof(float) * (size_t)t->numel)
                  : SP_FAIL(SP_ENOMEM, "sp_params_load: out of memory");
        if (rc == SP_OK) rc = sp_dev_copy(t->data, host, t->numel * 4, SP_COPY_H2D);
        if (rc == SP_OK) rc = sp_dev_sync("sp_params_load");
        free(host);
      }
    }
  }
  sp_reader_close(&r);
  return rc;
}
