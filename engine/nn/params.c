/* params.c — the parameter store: it owns a model's tensors by name, zeroes and clips their
 * gradients, and saves/loads them atomically.
 * File format (little-endian): "SPRINTP1", u32 count, then per tensor: u32 name length, name,
 * u32 ndim, ndim x i32 shape, numel x f32; last a u64 FNV-1a hash of everything before it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "file_io.h"

struct sp_params {
  char **names;
  sp_tensor **tensors;
  int count, cap;
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
  free(p);
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
  for (int i = 0; i < p->count; i++) sp_tensor_zero_grad(p->tensors[i]);
  return SP_OK;
}

int sp_params_clip_grad_norm(sp_params *p, float max_norm, float *norm_out) {
  if (!p) return SP_FAIL(SP_EINVAL, "sp_params_clip_grad_norm: NULL store");
  if (!(max_norm > 0.0f)) return SP_FAIL(SP_EINVAL, "sp_params_clip_grad_norm: max_norm must be > 0, got %g", (double)max_norm);
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
    sp_writer_bytes(&w, t->data, sizeof(float) * (size_t)t->numel);
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
      if (pass == 0) rc = sp_reader_skip(&r, sizeof(float) * (size_t)t->numel);
      else rc = sp_reader_bytes(&r, t->data, sizeof(float) * (size_t)t->numel);
    }
  }
  sp_reader_close(&r);
  return rc;
}
