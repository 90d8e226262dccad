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

/* ---- devices: the CUDA backend (kernels/, built when CMake finds nvcc and cuBLAS) ---------
 * A context computes on one device (sp_ctx_set_device): its arena tensors live there and its
 * ops run that device's kernels; every tensor an op takes must be on the context's device.
 * Heap tensors (parameters) move with sp_tensor_to_device or sp_params_to_device. A GPU
 * tensor's data is not host memory: sp_tensor_data, _f32 and _i32 return NULL for it; read it
 * with sp_tensor_copy into a CPU tensor (which waits for the GPU and reports kernel errors). */
int sp_cuda_built(void);         /* 1 when this libsprint has the CUDA backend */
int sp_cuda_init(void);          /* SP_EDEVICE with the reason when no GPU can be used */
const char *sp_cuda_info(void);  /* "NVIDIA H200 (sm_90, 139.8 GiB)", or why there is none */
typedef struct {
  int64_t in_use;          /* bytes handed out by the caching allocator */
  int64_t cached;          /* bytes held in its free lists */
  int64_t peak;            /* largest in_use + cached so far */
  int64_t device_mallocs;  /* cudaMalloc calls ever made: flat across steady-state steps */
} sp_cuda_memory;
int sp_cuda_memory_stats(sp_cuda_memory *out);
int sp_cuda_release_cache(void);  /* frees the cached blocks (cudaFree) */
int sp_cuda_synchronize(void);    /* waits for queued work; reports kernel errors */
/* How many of a device's kernels this build has (of total), and the first one missing. */
int sp_device_kernels(sp_device device, int *have, int *total, const char **first_missing);
int sp_tensor_new_on(sp_tensor **out, sp_dtype dtype, int ndim, const int *shape, sp_device device);
/* Moves a heap tensor's data (and its gradient) to device; a no-op when already there. */
int sp_tensor_to_device(sp_tensor *t, sp_device device);
/* Data-parallel training over NCCL, one process per GPU (SPRINT_CUDA_DEVICE picks the GPU):
 * rank 0 makes an id (hex text, n >= 257 bytes) and hands it to the others (a file, the
 * environment); each calls sp_dist_init with it; after every backward, each averages its
 * gradients with sp_params_allreduce_grads, then steps its optimiser. */
int sp_dist_unique_id(char *hex, int n);
int sp_dist_init(int rank, int world, const char *hex);
void sp_dist_free(void);

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
/* Per-op profile of a context's steps (tools/bench profile). While on, each recorded op is
 * charged the wall time since the previous record (or reset, or backward's end): its kernel
 * plus the caller's glue before it; backward times each node's backward function. Flops are
 * counted for the GEMM-like ops (linear, matmul, attention, GRU), bytes (inputs + output,
 * forward) for all. Rows are per op name, in order of first appearance. */
typedef struct {
  const char *op;      /* the op's name, e.g. "sp_linear" (static storage) */
  int64_t calls;       /* forward records */
  int64_t backwards;   /* backward calls */
  double forward_s, backward_s;
  double flops;        /* forward floating-point operations; backward counts twice this */
  double bytes;        /* forward memory traffic: inputs and output */
} sp_profile_row;
/* on != 0: clear the rows and start; 0: stop (the rows stay readable). */
int sp_ctx_profile(sp_ctx *ctx, int on);
/* Copies up to cap rows; returns how many there are. */
int sp_ctx_profile_rows(const sp_ctx *ctx, sp_profile_row *rows, int cap);
/* A scratch tensor in the arena (zero-filled), e.g. a batch built from Lua; always in host
 * memory, also on a GPU context (whose ops upload such inputs themselves). */
int sp_ctx_tensor(sp_ctx *ctx, sp_tensor **out, sp_dtype dtype, int ndim, const int *shape);
/* Where the context computes (SP_CPU by default). Changing it needs an empty tape (a new or
 * reset context); SP_CUDA fails with SP_EDEVICE and the reason when no GPU can be used. */
int sp_ctx_set_device(sp_ctx *ctx, sp_device device);
sp_device sp_ctx_device(const sp_ctx *ctx);
/* *out = an arena copy of t on the context's device (e.g. a batch filled on the host). */
int sp_ctx_upload(sp_ctx *ctx, sp_tensor **out, sp_tensor *t);
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
/* Threshold filter, SPRINT's phi (Eq. 15): out = x where x > tau, else 0 (x any shape; tau
 * finite). Backward passes dout where x > tau and 0 elsewhere: the jump at tau is not
 * differentiated (its Dirac term tau * delta(x - tau) is dropped, as ReLU drops its kink). */
int sp_threshold(sp_ctx *ctx, sp_tensor **out, sp_tensor *x, float tau);
/* Intent-orthogonality loss of SPRINT (section 4.3) over the rows of e (C, D):
 * out (1) = -1 / (C (C - 1)) * sum_{i != j} |n_i - n_j|^2 with n_i = e_i / max(|e_i|, eps),
 * the mean squared distance between the L2-normalised rows, negated (minimising it spreads
 * the rows apart). C < 2 has no pair: out is 0 and e gets a zero gradient. */
int sp_ortho_loss(sp_ctx *ctx, sp_tensor **out, sp_tensor *e, float eps);

/* ---- datasets: sessions with item text, prepared the paper's way --------------------------
 * A loader reads raw events (user or session, item, time) and item text; preparation turns
 * them into sessions, filters them, splits them by the time of their last event, and numbers
 * the items 1..n (0 is padding). Every filter's removals are kept in the report. */
typedef enum { SP_SESSION_DAY = 0, SP_SESSION_GAP = 1, SP_SESSION_GIVEN = 2 } sp_session_rule;
typedef enum { SP_SPLIT_TRAIN = 0, SP_SPLIT_VALID = 1, SP_SPLIT_TEST = 2 } sp_split;
typedef struct {
  int session_rule;           /* one user's events on one calendar day / split at a gap / given */
  int64_t gap_seconds;        /* SP_SESSION_GAP: a gap longer than this starts a new session */
  int64_t day_offset_seconds; /* SP_SESSION_DAY: added to UTC times before taking the day */
  int user_core, item_core;   /* k-core on the raw events first (0: off) */
  int min_session_len;        /* sessions shorter than this are dropped ... */
  int min_item_support;       /* ... and items seen fewer times, repeated until stable */
  int max_session_len;        /* longer sessions keep their last items (0: no limit) */
  double valid_quantile;      /* sessions ordered by last event: train below, valid ... */
  double test_quantile;       /* ... up to here, test after */
  int filter_unseen_eval;     /* drop items never seen in training from valid/test sessions */
  int min_eval_len;           /* then drop valid/test sessions shorter than this */
  int skip_bad_lines;         /* count malformed input lines by cause instead of failing */
  int tie_order;              /* events with equal times (day-resolution reviews): 0 keep the
                                 input's order, 1 a seeded shuffle, 2 reversed */
} sp_prep_config;
void sp_prep_config_default(sp_prep_config *cfg); /* the paper's Beauty settings */

typedef struct sp_dataset sp_dataset;
typedef struct {
  int64_t sessions, interactions, items;
  double avg_len;
} sp_split_stats;
typedef struct {
  sp_split_stats total, split[3]; /* indexed by sp_split */
  int32_t n_items;                /* item ids are 1..n_items */
  int64_t bad_lines[4];           /* skipped input lines by cause: syntax, missing, time, id */
  int64_t items_without_title, items_without_text;
} sp_dataset_stats;
typedef struct {
  const int32_t *items; /* (len) item ids in time order */
  const int64_t *times; /* (len) UTC seconds */
  int32_t len;
  int32_t split;        /* sp_split */
  const char *key;      /* user key and day, or the given session id */
  const int32_t *labels; /* (n_labels) hidden intents of generated data, else NULL */
  int32_t n_labels;
} sp_session_view;
typedef struct {
  const char *key, *title, *brand; /* "" when absent */
  int32_t n_categories;
} sp_item_view;

/* loader: "beauty-shared", "yelp-shared" (paths[0] = the dataset folder), "amazon2014",
 * "amazon-jsonl", "yelp-open", "recbole", "plain" (paths = the files, see datasets/README.md). */
int sp_dataset_prepare(sp_dataset **out, const char *loader, const char *const *paths, int n_paths,
                       const sp_prep_config *cfg);
void sp_dataset_free(sp_dataset *d);
/* The prepared format (atomic, checksummed) carries an identity: the dataset's name and a hash
 * of everything it was prepared from (the Lua side hashes loader, settings and raw files). A
 * load given a name refuses (SP_EFORMAT) a file of another name or hash, so a file copied or
 * renamed under another dataset's cache name never passes for it; name NULL accepts any. */
int sp_dataset_save(const sp_dataset *d, const char *path, const char *name,
                    uint64_t settings_hash);
int sp_dataset_load(sp_dataset **out, const char *path, const char *name, uint64_t settings_hash);
/* The identity a loaded dataset's file carried ("" and 0 for one prepared in this process). */
int sp_dataset_identity(const sp_dataset *d, const char **name, uint64_t *settings_hash);
int sp_dataset_get_stats(const sp_dataset *d, sp_dataset_stats *out);
int64_t sp_dataset_n_sessions(const sp_dataset *d);
int sp_dataset_session(const sp_dataset *d, int64_t i, sp_session_view *out);
int sp_dataset_find_session(const sp_dataset *d, const char *key, int64_t *index);
int sp_dataset_item(const sp_dataset *d, int32_t item, sp_item_view *out);
const char *sp_dataset_item_category(const sp_dataset *d, int32_t item, int32_t k);
int32_t sp_dataset_n_labels(const sp_dataset *d); /* distinct hidden intents (generated data) */
const char *sp_dataset_label_name(const sp_dataset *d, int32_t label);
/* A seeded synthetic dataset whose sessions mix 1..max_intents hidden intents: items belong to
 * one intent each, with titles and categories from that intent's vocabulary; within an intent a
 * session tends to walk the items in order (a pattern models can learn); noise items are drawn
 * from anywhere. The hidden intents come back as session labels. */
typedef struct {
  int n_intents, items_per_intent, n_sessions;
  int min_len, max_len, max_intents;
  float noise;       /* probability that an event is a random item of any intent */
  float follow;      /* probability that the next item of an intent is the one after the last */
  uint64_t seed;
} sp_planted_config;
void sp_planted_config_default(sp_planted_config *cfg);
int sp_dataset_generate_planted(sp_dataset **out, const sp_planted_config *gen,
                                const sp_prep_config *prep);
/* FNV-1a 64 of a file's bytes, and its size: the dataset cache's key for raw inputs. */
int sp_file_fingerprint(const char *path, uint64_t *hash, int64_t *size);
/* Hex SHA-256 of a file's bytes (what the registry lists): out holds 65 bytes. */
int sp_file_sha256_hex(char *out, const char *path);
/* Writes n bytes to path atomically: a temporary file, fsync, then rename over path (and an
 * fsync of its folder). Test-only: SPRINT_FAULT_KILL_BEFORE_RENAME=N or ..._AFTER_RENAME=N in
 * the environment kills the process (SIGKILL) at the N-th such rename of any engine file. */
int sp_file_write_atomic(const char *path, const void *data, int64_t n);
/* The preparation log: what each step removed ("k-core: 12 interactions"), in order. */
int sp_dataset_report_count(const sp_dataset *d);
const char *sp_dataset_report_line(const sp_dataset *d, int i);

/* ---- batches for the backbones ------------------------------------------------------------
 * Examples are (session prefix -> next item): with prefix_augment every prefix of a session is
 * one, else only the full session minus its last item. Sequences keep their last max_len items,
 * right-aligned (pad_left = 1, SASRec's layout) or left-aligned; 0 is padding. Negatives are
 * drawn uniformly from items outside the session, and from the session's hard-negative list
 * when one was set. Everything is a function of (seed, epoch, example): deterministic, and no
 * allocation happens after sp_batcher_new. */
typedef struct {
  int split;          /* sp_split the examples come from */
  int batch_size, max_len;
  int prefix_augment; /* 1: every prefix is an example */
  int shuffle;        /* 1: a new order every epoch */
  int pad_left;       /* 1: right-aligned sequences */
  int n_uniform_neg, n_hard_neg;
  int bucket;         /* 1: batches of similar lengths (sorted within windows of 64 batches,
                         then the batches shuffled), so padding costs almost nothing */
  uint64_t seed;
} sp_batch_config;
typedef struct sp_batcher sp_batcher;
void sp_batch_config_default(sp_batch_config *cfg); /* train, 256, 50, augment, shuffle, left pad,
                                                      1 + 1 negatives, bucket */
int sp_batcher_new(sp_batcher **out, const sp_dataset *d, const sp_batch_config *cfg);
void sp_batcher_free(sp_batcher *b);
int64_t sp_batcher_n_examples(const sp_batcher *b);
int64_t sp_batcher_n_batches(const sp_batcher *b);
int sp_batcher_start_epoch(sp_batcher *b, int64_t epoch); /* order for this epoch; rewinds */
/* Fills the next batch into caller-owned int32 tensors: seq (B, max_len), last (B) the position
 * of the last real item, target (B), neg (B, n_uniform_neg + n_hard_neg), session (B) the
 * dataset's session index; any but seq may be NULL. *rows is the number of real rows (0 at the
 * end of the epoch); rows past it are zero. */
int sp_batcher_next(sp_batcher *b, sp_tensor *seq, sp_tensor *last, sp_tensor *target, sp_tensor *neg,
                    sp_tensor *session, int *rows);
/* For the batch sp_batcher_next just filled, every input position's own example (one causal
 * pass scores them all): next (B, max_len) the item that follows each real item of seq (0 on
 * padding), neg (B, max_len * K) K = n_uniform_neg + n_hard_neg negatives per position (drawn
 * like sp_batcher_next's, keyed by example and position; zeros on padding), or NULL. */
int sp_batcher_positions(sp_batcher *b, sp_tensor *next, sp_tensor *neg);
/* The hard negatives of one session (e.g. items an LLM wrongly predicted); copied. */
int sp_batcher_set_hard_negatives(sp_batcher *b, int64_t session, const int32_t *items, int n);

/* ---- evaluation: ranking each session's target item (engine/eval) -------------------------
 * Full ranking scores every item 1..n for each session, s = h E^T (one GEMM over the item
 * table; row 0 is padding and never ranked), and the target's rank is 1 + the number of other
 * ranked items that beat it. Tie rule: pessimistic (the default) counts the items scoring
 * >= the target, so a model with constant scores gets rank n, never 1; optimistic counts only
 * those scoring >; average is the mean of the two (the mid-rank, a half-integer at times).
 * With mask_session_items, the session's own input items (seq) other than the target are not
 * ranked at all, so the worst rank is n minus their number. A row with any NaN score among its
 * ranked items gets the worst rank. Ranks are float32 (exact up to 2^23 items). A row whose
 * target is 0 is padding: its rank is 0. Rows are independent and counted in integers, so a
 * rank depends neither on the batch it came in nor on the thread count. */
typedef enum { SP_TIES_PESSIMISTIC = 0, SP_TIES_OPTIMISTIC = 1, SP_TIES_AVERAGE = 2 } sp_tie_rule;
typedef struct {
  int ties;               /* sp_tie_rule */
  int mask_session_items; /* 1: seq's items other than the target are left out of the ranking */
  int n_items;            /* items 1..n_items are ranked; 0: every table row but row 0 */
} sp_rank_config;
void sp_rank_config_default(sp_rank_config *cfg); /* pessimistic, no masking, n_items 0 */
/* rank (B) float32, caller-owned; h (B, d); items (V, d), V >= n_items + 1 (rows past n_items,
 * e.g. a mask token, are ignored); target (B) int32 in 1..n_items, 0 for padding; seq (B, L)
 * int32 input items (0 = padding) or NULL (required when masking); cfg NULL: the defaults.
 * The scores take B * n_items floats of the context's arena. */
int sp_rank_full(sp_ctx *ctx, sp_tensor *rank, sp_tensor *h, sp_tensor *items, sp_tensor *target,
                 sp_tensor *seq, const sp_rank_config *cfg);
/* Sampled ranking: the same over each row's candidates (B, C) int32, column 0 the target (0:
 * a padding row), the others in 1..n_items and not the target (a repeated negative counts
 * twice). Scores are k-ordered dot products; no arena memory. */
int sp_rank_sampled(sp_ctx *ctx, sp_tensor *rank, sp_tensor *h, sp_tensor *items,
                    sp_tensor *candidates, sp_tensor *seq, const sp_rank_config *cfg);
/* candidates (B, C) int32: column 0 the target, then C - 1 distinct items drawn uniformly from
 * 1..n_items outside the session (seq, may be NULL) and other than the target. Row b's draws
 * are a function of (seed, key[b]) alone (key (B) int32, e.g. the dataset's session index),
 * so a session gets the same candidates in any batch. Padding rows (target 0) are all 0. */
int sp_rank_uniform_candidates(sp_tensor *candidates, sp_tensor *target, sp_tensor *seq,
                               sp_tensor *key, int n_items, uint64_t seed);
/* candidates (B, C) int32: column 0 the target, then the C - 1 items the model (h, items)
 * scores highest, leaving out the target and the session's items (seq, may be NULL), in
 * descending score, ties to the lower id: a pretrained model's hard negatives (the paper's
 * Table 4 uses 19 from SASRec). n_items 0: every table row but row 0. */
int sp_rank_topk_candidates(sp_ctx *ctx, sp_tensor *candidates, sp_tensor *h, sp_tensor *items,
                            sp_tensor *target, sp_tensor *seq, int n_items);
/* Metrics of n ranks (each >= 1): out (3 * n_ks + 1) holds, for each k of ks (k >= 1), HR@k,
 * NDCG@k (1 / log2(rank + 1) when rank <= k, else 0) and MRR@k (1 / rank when rank <= k), then
 * the MRR over all ranks. Means in double, summed in index order. */
int sp_rank_metrics(double *out, const float *rank, int64_t n, const int *ks, int n_ks);

/* ---- uncertainty of a session under a model (engine/eval/uncertainty.c) -------------------
 * SPRINT's hard-session selection (§4.1.1) scores each session with the softmax of the model's
 * logits h_S . e_i restricted to the session's own items: P(i | S) = exp(h_S . e_i) /
 * sum_{j in S} exp(h_S . e_j), S the SET of the session's distinct items. No gradients, nothing
 * on the tape; float inputs, double dot products and sums; rows are independent (the same
 * numbers in any batch, on any thread count). Common arguments: out (B) float32 caller-owned;
 * h (B, d); items (V, d) with items 1..n_items ranked (n_items 0: every row but row 0, so
 * V >= n_items + 1 and extra rows such as a mask token are never used); sess (B, L) int32, each
 * row's items in any order, 0 = padding, an item repeated counts once, ids in 1..n_items. A row
 * with a NaN or infinite logit gets NaN. */
/* H_sess (Eq. 3): out[b] = -sum_{i in S_b} P(i | S_b) log P(i | S_b) with S_b the distinct
 * items of sess row b and h row b; 0 for one item or for an all-padding row. */
int sp_session_entropy(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items, sp_tensor *sess,
                       int n_items);
/* H_pred: out[b] = -log P(target[b] | S_b), the softmax over S_b = {target[b]} and the distinct
 * items of sess row b (whether sess holds the target or not: the paper's S, with h = h of the
 * session without its last item). target (B) int32 in 1..n_items, 0 = a padding row (out 0). */
int sp_session_target_nll(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items,
                          sp_tensor *sess, sp_tensor *target, int n_items);
/* H_pred over the whole catalogue: out[b] = -log softmax(h E^T)[target[b]] over items
 * 1..n_items (one GEMM into B * n_items floats of the context's arena, then per row a
 * log-sum-exp of float exponents summed in double). target as above. */
int sp_session_target_nll_full(sp_ctx *ctx, sp_tensor *out, sp_tensor *h, sp_tensor *items,
                               sp_tensor *target, int n_items);

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
/* Moves every parameter to device. On a GPU the gradients become views into one contiguous
 * buffer (data-parallel training all-reduces it in one call); create all parameters first. */
int sp_params_to_device(sp_params *p, sp_device device);
sp_device sp_params_device(const sp_params *p);
/* Averages a GPU store's gradients over the ranks of sp_dist_init: one all-reduce, queued. */
int sp_params_allreduce_grads(sp_params *p);
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

/* ---- session-based backbones: SASRec, BERT4Rec, GRU4Rec ----------------------------------
 * Each encodes a batch of right-aligned sequences seq (B, L) int32 (0 = padding, L <= max_len,
 * the last column being position max_len - 1) into hidden states h_seq (B, L, d) and the
 * session representation h_S (B, d) = h_seq at position last (B).
 * The item table (n_items + 2, d) scores items: row 0 is padding, rows 1..n_items the items,
 * row n_items + 1 BERT4Rec's [MASK] token. The intent predictor attaches to h_S and the
 * item table without touching the backbone. */
typedef enum { SP_SASREC = 0, SP_BERT4REC = 1, SP_GRU4REC = 2 } sp_backbone_kind;
typedef struct {
  int kind;                     /* sp_backbone_kind */
  int n_items, max_len, dim;
  int layers, heads, ffn_hidden; /* Transformers (GRU4Rec: layers of GRU, stacked) */
  float dropout;
  int output_head; /* BERT4Rec only (default 1): its code's prediction head, a dense layer +
                      GELU + LayerNorm before the tied item table and a bias per item */
} sp_backbone_config;
typedef struct sp_backbone sp_backbone;
void sp_backbone_config_default(sp_backbone_config *cfg, int kind, int n_items); /* paper: 2, 2, 64 */
int sp_backbone_new(sp_backbone **out, sp_params *p, const char *name, const sp_backbone_config *cfg,
                    sp_rng *rng);
void sp_backbone_free(sp_backbone *m); /* its tensors belong to the parameter store */
int sp_backbone_encode(sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m, sp_tensor *seq,
                       sp_tensor *last);
/* The same from item vectors e (B, L, d) given for seq's positions instead of the item table's
 * rows (seq still gives the padding mask): SPRINT+LE's branch over projected LLM embeddings.
 * sp_backbone_encode is this with e = item_table[seq]. */
int sp_backbone_encode_embedded(sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m,
                                sp_tensor *seq, sp_tensor *e, sp_tensor *last);
/* h_S (B, d) alone, for evaluation: with grad recording off and the context not training, on
 * the CPU, SASRec and BERT4Rec run their last block at the last positions only (keys and
 * values from every position); h_S then equals sp_backbone_encode's up to the last bits (the
 * GEMMs see other row counts). Elsewhere (GRU4Rec, a GPU, training) it is sp_backbone_encode. */
int sp_backbone_encode_last(sp_ctx *ctx, sp_tensor **h_S, const sp_backbone *m, sp_tensor *seq, sp_tensor *last);
sp_tensor *sp_backbone_item_table(const sp_backbone *m);
sp_tensor *sp_backbone_output_bias(const sp_backbone *m); /* (n_items + 2), NULL without a head */
int32_t sp_backbone_mask_token(const sp_backbone *m); /* n_items + 1 */
/* The output head on h (N, d) -> out (N, d): dense + GELU + LayerNorm when the model has one,
 * else out = h. */
int sp_backbone_head(sp_ctx *ctx, sp_tensor **out, const sp_backbone *m, sp_tensor *h);
/* The scores of items 1..n_items for h (N, d): out (N, n_items) = head(h) item_table^T (+ the
 * output bias), column j - 1 scoring item j. */
int sp_backbone_logits(sp_ctx *ctx, sp_tensor **out, const sp_backbone *m, sp_tensor *h);
/* BERT4Rec's cloze task on whole right-aligned sequences seq_in (B, L) (0 = padding), as the
 * original's data generator does it: a row is, with probability last_prob, masked at its last
 * item only; otherwise max(1, round(n * mask_prob)) of its n items, drawn uniformly without
 * replacement, become the mask token. Writes seq_out (B, L) and labels (B, L): the original
 * item where masked, -1 elsewhere. Draws are Philox numbers of (rng seed, one counter, row). */
int sp_bert4rec_mask(sp_tensor *seq_out, sp_tensor *labels, sp_tensor *seq_in, float mask_prob,
                     float last_prob, int32_t mask_token, sp_rng *rng);
/* For BERT4Rec's inference: in each right-aligned row, drops the first position, shifts left
 * and appends the mask token; sets last (B) to L - 1. */
int sp_bert4rec_append_mask(sp_tensor *seq, sp_tensor *last, int32_t mask_token);

/* ---- SPRINT's intent predictor (Stage 2, section 4.2; engine/models/intent.c) -------------
 * The pieces are separate calls, so a recipe (an ablation) switches any of them off:
 *   relevance (Eq. 8-9)   sp_intent_relevance: logits q_S . k_c and yhat = sigmoid(logits);
 *   L_intent (Eq. 10)     sp_bce_logits(logits, labels, weight): mean BCE over the intents of
 *                         the labelled sessions (weight 1 on their rows, 0 on the others);
 *   fusion (Eq. 15)       sp_intent_fuse: h~ = h + Dropout(LayerNorm(h + phi(yhat) V));
 *   L_ortho (section 4.3) sp_ortho_loss(intents);
 *   enrichment (Eq. 12-14) sp_intent_enrich: soft labels from the batch's neighbours, no grad.
 * q_S = W_q h_S is computed row-wise as h W_q^T (weights stored (d_out, d_in), as in Linear). */
typedef struct {
  sp_tensor *intents;      /* E_G (C, d): one embedding per intent of the pool */
  sp_linear_layer q, k, v; /* W_q, W_k, W_v: weights (d, d), no bias */
  sp_layernorm_layer ln;   /* (d): the fusion's layer norm */
  float tau;               /* phi's threshold (the paper: 0.5) */
  float dropout;           /* on g_S (Eq. 15) */
} sp_intent_predictor;
/* Parameters "<name>.intents" (Xavier-uniform), "<name>.q.weight", ".k.weight", ".v.weight"
 * (Xavier-uniform) and "<name>.ln.weight", ".ln.bias" (1, 0). */
int sp_intent_predictor_init(sp_intent_predictor *m, sp_params *p, const char *name, int d,
                             int n_intents, float tau, float dropout, sp_rng *rng);
/* logits (B, C) = (h W_q^T) (E W_k^T)^T for h (B, d): every session against every intent in
 * one GEMM; yhat (B, C) = sigmoid(logits), or pass NULL for yhat. */
int sp_intent_relevance(sp_ctx *ctx, sp_tensor **logits, sp_tensor **yhat,
                        const sp_intent_predictor *m, sp_tensor *h);
/* h_tilde (B, d) = h + g, g = Dropout(LayerNorm(h + phi(yhat) V)), V = E W_v^T (C, d),
 * phi = sp_threshold at m->tau; yhat (B, C) (e.g. from sp_intent_relevance, or labels).
 * Dropout is active only in training mode. */
int sp_intent_fuse(sp_ctx *ctx, sp_tensor **h_tilde, const sp_intent_predictor *m, sp_tensor *h,
                   sp_tensor *yhat);
/* Collaborative enrichment (Eq. 12-14), no gradient: for each of the first `rows` sessions of
 * a batch, its top-k neighbours N(S) among the other real rows by cos(h_S, h_S') (norms
 * clamped below by 1e-8; ties to the lower row), weights w = softmax of those similarities,
 * yhat_nbr = sum_{S' in N(S)} w_S' yhat_S', and
 *   SP_ENRICH_BOTH:       labels = (yhat_S + yhat_nbr) / 2   (Eq. 14)
 *   SP_ENRICH_SELF:       labels = yhat_S                    (ablation: no neighbours)
 *   SP_ENRICH_NEIGHBOURS: labels = yhat_nbr                  (ablation: no self term)
 * k larger than rows - 1 takes every other row. k = 0 means no neighbours: labels = yhat_S
 * (the paper's K = 0); a session without any neighbour (rows = 1) keeps yhat_S in every
 * mode. SP_ENRICH_NEIGHBOURS with k = 0 is an error. Rows past `rows` (batch padding) get 0.
 * labels (B, C) float32 caller-owned, sharing no memory with yhat or h; yhat (B, C) in
 * [0, 1] and h (B, d) finite on the real rows; 0 <= rows <= B. Scratch: rows * (rows + 2k + 2)
 * floats of the context's arena (k at most rows - 1). Each row is computed on its own, in a
 * fixed order: the same bits on any thread count. */
typedef enum { SP_ENRICH_BOTH = 0, SP_ENRICH_SELF = 1, SP_ENRICH_NEIGHBOURS = 2 } sp_enrich_mode;
int sp_intent_enrich(sp_ctx *ctx, sp_tensor *labels, sp_tensor *yhat, sp_tensor *h, int rows,
                     int k, int mode);

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

/* ---- LLM transport: HTTP POSTs over libcurl's multi interface (engine/llm/http.c) --------
 * Pull-style: submit a request, poll for finished ones, read each result, release it. 429,
 * 5xx and connection failures are retried with exponential backoff and jitter (Retry-After
 * honoured); other 4xx finish at once. A bad answer or a dead endpoint is a failed result,
 * never an abort. TLS is verified; http(s)_proxy/no_proxy are respected, loopback is never
 * proxied. One thread drives a client; nothing calls back. */
typedef struct sp_http sp_http;
typedef struct {
  int max_in_flight;          /* transfers on the wire at once (default 16) */
  int connect_timeout_ms;     /* per attempt (default 10000) */
  int timeout_ms;             /* one whole attempt, first byte to last (default 120000) */
  int max_retries;            /* attempts after the first (default 5) */
  int backoff_ms;             /* first retry delay, doubled each retry, +-50% jitter (500) */
  int backoff_max_ms;         /* cap on one delay, Retry-After included (default 60000) */
  int64_t max_response_bytes; /* a longer answer fails, not retried (default 32 MiB) */
  uint64_t seed;              /* jitter */
} sp_http_config;

typedef enum {
  SP_HTTP_PENDING = 0, /* queued, on the wire, or waiting to retry */
  SP_HTTP_DONE = 1,    /* a 2xx answer */
  SP_HTTP_FAILED = 2   /* a non-retryable status, retries spent, or a local error */
} sp_http_state;

typedef struct {
  int state;              /* sp_http_state */
  int http_status;        /* status of the last attempt; 0 when no response came */
  int attempts;           /* attempts made */
  int retryable;          /* FAILED after spending the retries on retryable faults */
  int not_sent;           /* FAILED without (another) attempt: the attempt limit was reached */
  double elapsed_ms;      /* submit to finish, waits included */
  double last_attempt_ms; /* the final attempt alone */
  const char *error;      /* "" when DONE; else why, e.g. "HTTP 401" or curl's message */
  const char *body;       /* the last attempt's response body, NUL-terminated */
  int64_t body_len;
  const char *headers; /* the last attempt's response header lines */
  const char *log;     /* a line per failed attempt: "attempt 1: HTTP 503; retry in 512 ms" */
} sp_http_result;

void sp_http_config_default(sp_http_config *cfg);
int sp_http_new(sp_http **out, const sp_http_config *cfg);
void sp_http_free(sp_http *h); /* abandons transfers still running */
/* Queues a POST of body (body_len bytes) to url. headers: "Name: value" lines separated by
 * '\n'. Everything is copied. max_retries < 0: the client's setting. *id names the request
 * until sp_http_release. */
int sp_http_submit(sp_http *h, int64_t *id, const char *url, const char *headers, const char *body,
                   int64_t body_len, int max_retries);
/* Drives the transfers for at most timeout_ms (0: do what is ready, no wait), returning as
 * soon as something finished. Writes up to max finished ids to ids and their count to
 * *n_done; each finished request is reported once. */
int sp_http_poll(sp_http *h, int *n_done, int64_t *ids, int max, int timeout_ms);
/* A finished request's result; its pointers stay valid until sp_http_release. */
int sp_http_result_get(sp_http *h, sp_http_result *out, int64_t id);
int sp_http_release(sp_http *h, int64_t id);
int sp_http_unfinished(const sp_http *h); /* submitted, not yet finished */
int sp_http_on_wire(const sp_http *h);    /* transfers running now (<= max_in_flight) */
/* A hard bound on the attempts (first tries and retries) this client puts on the wire from
 * now on, counted since sp_http_new: once sp_http_attempts reaches limit, every queued or
 * retrying request fails with not_sent = 1 instead of going out. limit < 0: no bound. A
 * budget of paid calls is enforced here, where the retries happen; setting limit to the
 * current count stops all sending (e.g. after the server rejected the API key). */
int sp_http_set_attempt_limit(sp_http *h, int64_t limit);
int64_t sp_http_attempts(const sp_http *h); /* attempts started so far */

/* ---- LLM cache and ledger: one SQLite file in WAL mode (engine/llm/store.c) --------------
 * The cache maps the hash of a canonical request to its answer; the ledger has a row per
 * call. An entry and its ledger row are written in one transaction, so a killed process
 * leaves either both or neither. Nothing here ever sees an API key. */
typedef struct sp_llm_store sp_llm_store;
typedef enum {
  SP_LLM_CACHE_OFF = 0,  /* never read or write answers (the ledger is still kept) */
  SP_LLM_CACHE_READ = 1, /* answers are read, new ones not stored */
  SP_LLM_CACHE_RW = 2
} sp_llm_cache_mode;
typedef struct {
  const char *key;      /* hex SHA-256 of the canonical request */
  const char *request;  /* the canonical request text (messages, model, parameters) */
  const char *response; /* the raw response body */
  const char *provider;
  const char *model;
  int64_t prompt_tokens;
  int64_t completion_tokens;
  double latency_ms;
  int attempts;
  const char *errors; /* failed attempts before the answer, "" if none */
  double created;     /* unix time; 0 on put: now */
} sp_llm_entry;
typedef struct {
  const char *run;
  const char *stage;
  const char *session;
  int try_no;
  const char *key;
  const char *provider;
  const char *model;
  int cached; /* answered from the cache: no HTTP call, no cost */
  int ok;     /* 0: failed, error says why */
  int64_t prompt_tokens;
  int64_t completion_tokens;
  double cost;
  double latency_ms;
  int attempts;
  const char *error;
} sp_llm_ledger_row;
typedef struct {
  int64_t calls;  /* rows */
  int64_t cached; /* rows answered from the cache */
  int64_t failed;
  int64_t prompt_tokens;     /* paid: rows not answered from the cache */
  int64_t completion_tokens; /* paid */
  double cost;               /* paid */
  double latency_ms;
  int64_t attempts;      /* HTTP attempts that reached (or tried to reach) the server */
  int64_t cached_tokens; /* tokens the cache hits' answers once cost: saved, not spent */
} sp_llm_totals;

/* Opens (creating) the SQLite file at path. */
int sp_llm_store_open(sp_llm_store **out, const char *path, int cache_mode);
void sp_llm_store_close(sp_llm_store *s);
int sp_llm_store_cache_mode(const sp_llm_store *s);
/* *found = 1 and *out filled when key is cached (and the mode reads); the strings live until
 * the next call on s. */
int sp_llm_store_get(sp_llm_store *s, int *found, sp_llm_entry *out, const char *key);
/* Writes entry (unless NULL or the mode does not write) and row (unless NULL) atomically. */
int sp_llm_store_put(sp_llm_store *s, const sp_llm_entry *entry, const sp_llm_ledger_row *row);
/* Writes n ledger rows in one transaction (e.g. the buffered rows of cache hits). */
int sp_llm_store_put_rows(sp_llm_store *s, const sp_llm_ledger_row *rows, int n);
/* Sums over the ledger rows of run, stage and provider (each NULL or "": any). */
int sp_llm_store_totals(sp_llm_store *s, sp_llm_totals *out, const char *run, const char *stage,
                        const char *provider);
/* The i-th distinct stage name (sorted) of run's ledger rows; *out = NULL past the end. */
int sp_llm_store_stage(sp_llm_store *s, const char **out, const char *run, int i);
int sp_llm_store_entries(sp_llm_store *s, int64_t *out); /* cached answers */
/* Hex SHA-256 of data: out holds 65 bytes (64 digits and a NUL). */
void sp_sha256_hex(char *out, const void *data, int64_t len);
/* Appends n bytes to path (created if missing) in one write: a journal record that survives a
 * kill of the process once the call returns; sync = 1 also fsyncs, so it survives a power
 * loss too (engine/core/file_append.c). */
int sp_file_append(const char *path, const void *data, int64_t n, int sync);

/* SP_CDEF_END */

#ifdef __cplusplus
}
#endif
#endif /* SPRINT_H */
