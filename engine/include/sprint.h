/* sprint.h — the one public header of libsprint: tensors, the autograd context, every op,
 * the nn layers and the optimiser. The LuaJIT binding is generated from the text between the
 * SP_CDEF markers (tools/gen_cdef.lua), so that block must stay plain C: no macros, no
 * inline functions, no preprocessor lines.
 *
 * Conventions: every call that can fail returns an sp_status (0 = SP_OK); on failure
 * sp_last_error() holds "file:line: message" for the calling thread. Results come back
 * through out-parameters, outputs before inputs. Shapes are given in comments as (rows, cols). */
#ifndef SPRINT_H
#define SPRINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SP_CDEF_BEGIN */

/* ---- status, errors, version ----------------------------------------------------------- */
typedef enum {
  SP_OK = 0,
  SP_EINVAL = 1,       /* bad argument (NULL, out of range) */
  SP_ESHAPE = 2,       /* shapes do not fit the op */
  SP_EDTYPE = 3,       /* wrong element type */
  SP_EDEVICE = 4,      /* op not supported on that device */
  SP_ENOMEM = 5,       /* allocation failed */
  SP_EIO = 6,          /* file could not be read or written */
  SP_EFORMAT = 7,      /* file or data is malformed */
  SP_ESTATE = 8,       /* call not valid in the current state (e.g. backward twice) */
  SP_EBLAS = 9         /* no usable BLAS library could be loaded */
} sp_status;

const char *sp_last_error(void);  /* message of the last failure on this thread, "" if none */
int sp_last_status(void);
void sp_clear_error(void);
const char *sp_version(void);

/* ---- runtime: threads and the BLAS backend ---------------------------------------------- */
int sp_set_num_threads(int n);  /* OpenMP loops and BLAS; n <= 0 means all cores */
int sp_get_num_threads(void);
/* Loads the BLAS (OpenBLAS, forcing its fastest core for this CPU; see engine/core/blas.c).
 * Called lazily by the first GEMM; call it early to learn about a failure. */
int sp_blas_init(void);
const char *sp_blas_info(void);  /* "library=... core=... coretype_source=..." */

/* ---- counter-based random numbers (Philox4x32-10) ---------------------------------------
 * Value i of a draw is a pure function of (seed, counter, i): the same numbers whatever the
 * thread count or device. Each draw advances `counter` past what it used. */
typedef struct {
  uint64_t seed;
  uint64_t counter;
} sp_rng;

void sp_rng_init(sp_rng *rng, uint64_t seed);
void sp_rng_uniform(sp_rng *rng, float *out, int64_t n);  /* [0, 1) */
void sp_rng_normal(sp_rng *rng, float *out, int64_t n, float mean, float std);
uint32_t sp_rng_u32(sp_rng *rng);
uint32_t sp_rng_below(sp_rng *rng, uint32_t n);  /* uniform in [0, n), unbiased */

/* ---- tensors ----------------------------------------------------------------------------
 * float32 or int32, 1-D to 4-D, contiguous. A tensor made with sp_tensor_new owns its
 * storage and lives until sp_tensor_free; tensors made by ops live in the context's arena
 * until sp_ctx_reset. */
typedef enum { SP_F32 = 0, SP_I32 = 1 } sp_dtype;
typedef enum { SP_CPU = 0, SP_CUDA = 1 } sp_device;
typedef struct sp_tensor sp_tensor;

int sp_tensor_new(sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
void sp_tensor_free(sp_tensor *t);  /* NULL is fine; arena tensors are ignored */
int sp_tensor_ndim(const sp_tensor *t);
int sp_tensor_dim(const sp_tensor *t, int axis);  /* negative axis counts from the end */
int64_t sp_tensor_numel(const sp_tensor *t);
sp_dtype sp_tensor_dtype(const sp_tensor *t);
sp_device sp_tensor_device(const sp_tensor *t);
void *sp_tensor_data(sp_tensor *t);
float *sp_tensor_f32(sp_tensor *t);    /* NULL unless float32 */
int32_t *sp_tensor_i32(sp_tensor *t);  /* NULL unless int32 */
int sp_tensor_is_arena(const sp_tensor *t);
/* Gradients: a leaf gets a zeroed gradient buffer when it starts requiring grad. */
int sp_tensor_set_requires_grad(sp_tensor *t, int requires_grad);
int sp_tensor_requires_grad(const sp_tensor *t);
sp_tensor *sp_tensor_grad(sp_tensor *t);  /* NULL until a gradient exists */
int sp_tensor_zero_grad(sp_tensor *t);
int sp_tensor_fill(sp_tensor *t, float value);
int sp_tensor_copy(sp_tensor *dst, const sp_tensor *src);  /* same dtype and numel */
int sp_tensor_fill_uniform(sp_tensor *t, sp_rng *rng, float lo, float hi);
int sp_tensor_fill_normal(sp_tensor *t, sp_rng *rng, float mean, float std);

/* ---- the context: arena, tape, rng, modes ----------------------------------------------- */
typedef struct sp_ctx sp_ctx;
typedef struct {
  uint64_t generation;   /* bumped by every reset: arena tensors of older generations are dead */
  int64_t tape_len;      /* ops recorded since the last reset */
  int64_t arena_used;    /* bytes in use */
  int64_t arena_capacity;
  int64_t arena_mallocs; /* chunk allocations ever made: flat across steady-state steps */
} sp_ctx_stats;

int sp_ctx_new(sp_ctx **out, uint64_t seed);
void sp_ctx_free(sp_ctx *ctx);
int sp_ctx_reset(sp_ctx *ctx);  /* forget the tape, recycle the arena */
void sp_ctx_set_grad_enabled(sp_ctx *ctx, int enabled);  /* 0: no-grad mode, nothing recorded */
int sp_ctx_grad_enabled(const sp_ctx *ctx);
void sp_ctx_set_training(sp_ctx *ctx, int training);  /* dropout is active only in training */
int sp_ctx_training(const sp_ctx *ctx);
sp_rng *sp_ctx_rng(sp_ctx *ctx);
void sp_ctx_get_stats(const sp_ctx *ctx, sp_ctx_stats *out);
/* A scratch tensor in the arena (zero-filled), e.g. a batch built from Lua. */
int sp_ctx_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
/* Reverse-mode pass from a scalar: gradients accumulate into every tensor that requires grad. */
int sp_backward(sp_ctx *ctx, sp_tensor *loss);

/* ---- ops ---------------------------------------------------------------------------------
 * All take the context first and write a new arena tensor to *out. Broadcasting is over
 * leading dimensions only: b's shape must equal a's shape or a suffix of it. */

/* out (..., M, N) = op(a) op(b). a (..., M, K) [or (..., K, M) if trans_a];
 * b (K, N) shared by the batch, or (..., K, N) with the same leading dims [or transposed]. */
int sp_matmul(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b, int trans_a, int trans_b);
/* out (..., Dout) = x (..., Din) w^T + b; w (Dout, Din), b (Dout) or NULL. */
int sp_linear(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *w, sp_tensor *b);

int sp_add(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b);  /* bias-add: b (N) */
int sp_sub(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b);
int sp_mul(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b);
int sp_scale(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, float s);

int sp_relu(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);
int sp_gelu(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);  /* tanh approximation */
int sp_sigmoid(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);
int sp_tanh(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);

/* Softmax over the last axis of x (B, ..., Q, N). key_mask: int32 (B, N), 0 = masked key,
 * or NULL. causal: row q sees keys n <= q + (N - Q). Masked entries come out as 0 in both
 * softmax and log_softmax and carry no gradient, so a fully masked row is all zero, not NaN. */
int sp_softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *key_mask, int causal);
int sp_log_softmax(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *key_mask, int causal);

/* Layer norm over the last axis: x (..., D), weight (D), bias (D). */
int sp_layernorm(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *weight, sp_tensor *bias,
                 float eps);
/* out (..., D) = weight (V, D) [idx (...)]; rows where idx == padding_idx are zero and get no
 * gradient (padding_idx < 0: none). An index outside [0, V) is an error. */
int sp_embedding(sp_ctx *ctx, sp_tensor **out, sp_tensor *weight, sp_tensor *idx, int padding_idx);
/* Inverted dropout, active only in training mode; the mask is regenerated from the
 * context's counter-based rng in backward, never stored. */
int sp_dropout(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, float p);
/* Multi-head scaled dot-product attention. q, k, v (B, L, D) with D = heads * Dh, already
 * projected; out (B, L, D). key_mask int32 (B, L) or NULL; causal: query t sees keys <= t. */
int sp_attention(sp_ctx *ctx, sp_tensor **out, sp_tensor *q, sp_tensor *k, sp_tensor *v,
                 int heads, int causal, sp_tensor *key_mask);
/* GRU over a sequence, PyTorch's gate layout (r, z, n), h0 = 0. x (B, L, Din),
 * w_ih (3H, Din), w_hh (3H, H), b_ih (3H), b_hh (3H); out (B, L, H) holds every h_t.
 * mask int32 (B, L) or NULL: where 0, the state is carried over unchanged. */
int sp_gru(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *w_ih, sp_tensor *w_hh,
           sp_tensor *b_ih, sp_tensor *b_hh, sp_tensor *mask);

/* Reductions: to a scalar (shape (1)), or over one axis (that axis removed). */
int sp_sum(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);
int sp_mean(sp_ctx *ctx, sp_tensor **out, sp_tensor *x);
int sp_sum_axis(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis);
int sp_mean_axis(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis);

/* Shape ops. reshape keeps the data (a view); concat/slice copy. */
int sp_reshape(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int ndim, const int *shape);
int sp_concat(sp_ctx *ctx, sp_tensor **out, sp_tensor **xs, int n, int axis);
int sp_slice(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, int axis, int start, int len);
/* out (B, D) = x (B, L, D) [b, pos[b], :]; pos int32 (B). The "last valid position" pick. */
int sp_take_positions(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, sp_tensor *pos);

/* Losses (scalar outputs). cross_entropy: logits (N, C) against int32 targets (N), mean over
 * rows whose target != ignore_index. bce_logits: mean of BCE(sigmoid(logits), targets) with
 * soft float targets of the same shape; with weight (same shape) it is sum(w*l) / sum(w). */
int sp_cross_entropy(sp_ctx *ctx, sp_tensor **out, sp_tensor *logits, sp_tensor *targets,
                     int ignore_index);
int sp_bce_logits(sp_ctx *ctx, sp_tensor **out, sp_tensor *logits, sp_tensor *targets,
                  sp_tensor *weight);
/* out (N, M) = cos(a_i, b_j); a (N, D), b (M, D); norms clamped below by eps. */
int sp_cosine_matrix(sp_ctx *ctx, sp_tensor **out, sp_tensor *a, sp_tensor *b, float eps);
/* Row-wise top-k of x (N, C): values (N, k) float32, indices (N, k) int32, descending,
 * ties broken by the lower index. No gradient. */
int sp_topk(sp_ctx *ctx, sp_tensor **values, sp_tensor **indices, sp_tensor *x, int k);

/* ---- parameters: a named store that owns the model's tensors ----------------------------- */
typedef struct sp_params sp_params;
int sp_params_new(sp_params **out);
void sp_params_free(sp_params *p);  /* frees every tensor it owns */
/* Creates a float32 leaf that requires grad, owned by the store; names must be unique. */
int sp_params_create(sp_params *p, sp_tensor **out, const char *name, int ndim, const int *shape);
int sp_params_count(const sp_params *p);
int sp_params_get(sp_params *p, int i, const char **name, sp_tensor **t);
int sp_params_find(sp_params *p, const char *name, sp_tensor **t);
int64_t sp_params_numel(const sp_params *p);
int sp_params_zero_grad(sp_params *p);
/* Scales all gradients so that their global L2 norm is at most max_norm (> 0); writes the norm
 * before clipping to *norm_out if not NULL. */
int sp_params_clip_grad_norm(sp_params *p, float max_norm, float *norm_out);
/* Binary file with names, shapes and a checksum; written atomically (temp, fsync, rename).
 * load matches by name and shape and fails naming the first mismatch, changing nothing. */
int sp_params_save(sp_params *p, const char *path);
int sp_params_load(sp_params *p, const char *path);

/* ---- nn layers: plain structs whose tensors live in a parameter store -------------------- */
typedef struct {
  sp_tensor *weight; /* (d_out, d_in) */
  sp_tensor *bias;   /* (d_out) or NULL */
} sp_linear_layer;
typedef struct {
  sp_tensor *weight; /* (n, d) */
  int padding_idx;   /* row kept at zero with no gradient, or -1 */
} sp_embedding_layer;
typedef struct {
  sp_tensor *weight; /* (d) */
  sp_tensor *bias;   /* (d) */
  float eps;
} sp_layernorm_layer;
typedef struct {
  sp_linear_layer q, k, v, o; /* each (d, d) */
  int heads;
  float dropout;              /* on the attention output */
} sp_mha_layer;
typedef enum { SP_ACT_RELU = 0, SP_ACT_GELU = 1 } sp_activation;
typedef struct {
  sp_linear_layer up;   /* (hidden, d) */
  sp_linear_layer down; /* (d, hidden) */
  sp_activation act;
  float dropout;
} sp_ffn_layer;
typedef struct {
  sp_mha_layer attn;
  sp_ffn_layer ffn;
  sp_layernorm_layer ln1, ln2;
  int pre_norm; /* 1: x + f(LN(x)) (SASRec's code); 0: LN(x + f(x)) (BERT4Rec) */
  float dropout; /* on each residual branch */
} sp_transformer_block;

/* Initialisation: linear weights Xavier-uniform, biases zero; embeddings N(0, 0.02^2) (padding
 * row zero); layer norm weight 1, bias 0. Names are prefix + ".weight" etc. */
int sp_linear_layer_init(sp_linear_layer *l, sp_params *p, const char *name, int d_in, int d_out,
                         int bias, sp_rng *rng);
int sp_linear_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_linear_layer *l, sp_tensor *x);
int sp_embedding_layer_init(sp_embedding_layer *l, sp_params *p, const char *name, int n, int d,
                            int padding_idx, sp_rng *rng);
int sp_embedding_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_embedding_layer *l,
                               sp_tensor *idx);
int sp_layernorm_layer_init(sp_layernorm_layer *l, sp_params *p, const char *name, int d,
                            float eps);
int sp_layernorm_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_layernorm_layer *l,
                               sp_tensor *x);
int sp_mha_layer_init(sp_mha_layer *l, sp_params *p, const char *name, int d, int heads,
                      float dropout, sp_rng *rng);
int sp_mha_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_mha_layer *l, sp_tensor *x,
                         int causal, sp_tensor *key_mask);
int sp_ffn_layer_init(sp_ffn_layer *l, sp_params *p, const char *name, int d, int hidden,
                      sp_activation act, float dropout, sp_rng *rng);
int sp_ffn_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_ffn_layer *l, sp_tensor *x);
int sp_transformer_block_init(sp_transformer_block *b, sp_params *p, const char *name, int d,
                              int heads, int hidden, sp_activation act, float dropout,
                              int pre_norm, sp_rng *rng);
/* x (B, L, d) -> out (B, L, d) */
int sp_transformer_block_forward(sp_ctx *ctx, sp_tensor **out, const sp_transformer_block *b,
                                 sp_tensor *x, int causal, sp_tensor *key_mask);

/* ---- Adam with L2 regularisation ---------------------------------------------------------
 * decoupled = 0: the paper's "L2 regularization for Adam", weight_decay * w added to the
 * gradient before the moments; decoupled = 1: AdamW. clip_norm > 0 clips the global gradient
 * norm first. */
typedef struct {
  float lr, beta1, beta2, eps, weight_decay;
  int decoupled;
  float clip_norm;
} sp_adam_config;
typedef struct sp_adam sp_adam;
void sp_adam_config_default(sp_adam_config *cfg); /* lr 1e-3, betas (0.9, 0.999), eps 1e-8 */
int sp_adam_new(sp_adam **out, sp_params *p, const sp_adam_config *cfg);
void sp_adam_free(sp_adam *opt);
int sp_adam_step(sp_adam *opt);  /* applies the gradients; does not zero them */
int sp_adam_set_lr(sp_adam *opt, float lr);
int64_t sp_adam_steps(const sp_adam *opt);
float sp_adam_last_grad_norm(const sp_adam *opt); /* before clipping, when clip_norm > 0 */
int sp_adam_save(sp_adam *opt, const char *path);  /* moments and step count, atomically */
int sp_adam_load(sp_adam *opt, const char *path);

/* SP_CDEF_END */

#ifdef __cplusplus
}
#endif
#endif /* SPRINT_H */
