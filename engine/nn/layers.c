/* layers.c — Linear, Embedding, LayerNorm, multi-head attention, the point-wise feed-forward
 * network and a Transformer block, composed from ops. Their tensors live in a parameter store
 * under "<name>.<part>" names; the structs only point at them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"

#define NAME_MAX_LEN 200

static int child(char *buf, const char *name, const char *part) {
  if (!name || !*name) return SP_FAIL(SP_EINVAL, "layer name is empty");
  if (snprintf(buf, NAME_MAX_LEN, "%s.%s", name, part) >= NAME_MAX_LEN)
    return SP_FAIL(SP_EINVAL, "layer name '%s' is too long", name);
  return SP_OK;
}

/* ---- Linear ---- */
int sp_linear_layer_init(sp_linear_layer *l, sp_params *p, const char *name, int d_in, int d_out,
                         int bias, sp_rng *rng) {
  if (!l || !p || !rng) return SP_FAIL(SP_EINVAL, "sp_linear_layer_init: NULL argument");
  if (d_in <= 0 || d_out <= 0)
    return SP_FAIL(SP_EINVAL, "sp_linear_layer_init: '%s' needs positive sizes, got %d -> %d", name ? name : "", d_in, d_out);
  char buf[NAME_MAX_LEN];
  memset(l, 0, sizeof *l);
  SP_TRY(child(buf, name, "weight"));
  SP_TRY(sp_params_create(p, &l->weight, buf, 2, (int[]){d_out, d_in}));
  float bound = sqrtf(6.0f / (float)(d_in + d_out)); /* Xavier/Glorot uniform */
  SP_TRY(sp_tensor_fill_uniform(l->weight, rng, -bound, bound));
  if (bias) {
    SP_TRY(child(buf, name, "bias"));
    SP_TRY(sp_params_create(p, &l->bias, buf, 1, (int[]){d_out}));
  }
  return SP_OK;
}

int sp_linear_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_linear_layer *l, sp_tensor *x) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_linear_layer_forward: NULL layer");
  return sp_linear(ctx, out, x, l->weight, l->bias);
}

/* ---- Embedding ---- */
int sp_embedding_layer_init(sp_embedding_layer *l, sp_params *p, const char *name, int n, int d,
                            int padding_idx, sp_rng *rng) {
  if (!l || !p || !rng) return SP_FAIL(SP_EINVAL, "sp_embedding_layer_init: NULL argument");
  if (n <= 0 || d <= 0) return SP_FAIL(SP_EINVAL, "sp_embedding_layer_init: sizes must be positive, got (%d, %d)", n, d);
  if (padding_idx >= n)
    return SP_FAIL(SP_EINVAL, "sp_embedding_layer_init: padding_idx %d outside [0, %d)", padding_idx, n);
  char buf[NAME_MAX_LEN];
  SP_TRY(child(buf, name, "weight"));
  SP_TRY(sp_params_create(p, &l->weight, buf, 2, (int[]){n, d}));
  SP_TRY(sp_tensor_fill_normal(l->weight, rng, 0.0f, 0.02f));
  l->padding_idx = padding_idx < 0 ? -1 : padding_idx;
  if (l->padding_idx >= 0) memset(sp_tensor_f32(l->weight) + (int64_t)padding_idx * d, 0, sizeof(float) * (size_t)d);
  return SP_OK;
}

int sp_embedding_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_embedding_layer *l,
                               sp_tensor *idx) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_embedding_layer_forward: NULL layer");
  return sp_embedding(ctx, out, l->weight, idx, l->padding_idx);
}

/* ---- LayerNorm ---- */
int sp_layernorm_layer_init(sp_layernorm_layer *l, sp_params *p, const char *name, int d, float eps) {
  if (!l || !p) return SP_FAIL(SP_EINVAL, "sp_layernorm_layer_init: NULL argument");
  if (d <= 0) return SP_FAIL(SP_EINVAL, "sp_layernorm_layer_init: d must be positive, got %d", d);
  char buf[NAME_MAX_LEN];
  SP_TRY(child(buf, name, "weight"));
  SP_TRY(sp_params_create(p, &l->weight, buf, 1, (int[]){d}));
  SP_TRY(sp_tensor_fill(l->weight, 1.0f));
  SP_TRY(child(buf, name, "bias"));
  SP_TRY(sp_params_create(p, &l->bias, buf, 1, (int[]){d}));
  l->eps = eps > 0.0f ? eps : 1e-5f;
  return SP_OK;
}

int sp_layernorm_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_layernorm_layer *l,
                               sp_tensor *x) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_layernorm_layer_forward: NULL layer");
  return sp_layernorm(ctx, out, x, l->weight, l->bias, l->eps);
}

/* ---- multi-head self-attention: out = Dropout(W_o Attention(W_q x, W_k x, W_v x)) ---- */
int sp_mha_layer_init(sp_mha_layer *l, sp_params *p, const char *name, int d, int heads,
                      float dropout, sp_rng *rng) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_mha_layer_init: NULL layer");
  if (heads <= 0 || d % heads != 0)
    return SP_FAIL(SP_EINVAL, "sp_mha_layer_init: d = %d is not divisible by heads = %d", d, heads);
  char buf[NAME_MAX_LEN];
  SP_TRY(child(buf, name, "q"));
  SP_TRY(sp_linear_layer_init(&l->q, p, buf, d, d, 1, rng));
  SP_TRY(child(buf, name, "k"));
  SP_TRY(sp_linear_layer_init(&l->k, p, buf, d, d, 1, rng));
  SP_TRY(child(buf, name, "v"));
  SP_TRY(sp_linear_layer_init(&l->v, p, buf, d, d, 1, rng));
  SP_TRY(child(buf, name, "o"));
  SP_TRY(sp_linear_layer_init(&l->o, p, buf, d, d, 1, rng));
  l->heads = heads;
  l->dropout = dropout;
  return SP_OK;
}

int sp_mha_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_mha_layer *l, sp_tensor *x,
                         int causal, sp_tensor *key_mask) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_mha_layer_forward: NULL layer");
  sp_tensor *q, *k, *v, *a, *o;
  SP_TRY(sp_linear_layer_forward(ctx, &q, &l->q, x));
  SP_TRY(sp_linear_layer_forward(ctx, &k, &l->k, x));
  SP_TRY(sp_linear_layer_forward(ctx, &v, &l->v, x));
  SP_TRY(sp_attention(ctx, &a, q, k, v, l->heads, causal, key_mask));
  SP_TRY(sp_linear_layer_forward(ctx, &o, &l->o, a));
  return sp_dropout_if_active(ctx, out, o, l->dropout);
}

/* ---- point-wise feed-forward: down(Dropout(act(up(x)))) ---- */
int sp_ffn_layer_init(sp_ffn_layer *l, sp_params *p, const char *name, int d, int hidden,
                      sp_activation act, float dropout, sp_rng *rng) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_ffn_layer_init: NULL layer");
  if (act != SP_ACT_RELU && act != SP_ACT_GELU)
    return SP_FAIL(SP_EINVAL, "sp_ffn_layer_init: unknown activation %d", (int)act);
  char buf[NAME_MAX_LEN];
  SP_TRY(child(buf, name, "up"));
  SP_TRY(sp_linear_layer_init(&l->up, p, buf, d, hidden, 1, rng));
  SP_TRY(child(buf, name, "down"));
  SP_TRY(sp_linear_layer_init(&l->down, p, buf, hidden, d, 1, rng));
  l->act = act;
  l->dropout = dropout;
  return SP_OK;
}

int sp_ffn_layer_forward(sp_ctx *ctx, sp_tensor **out, const sp_ffn_layer *l, sp_tensor *x) {
  if (!l) return SP_FAIL(SP_EINVAL, "sp_ffn_layer_forward: NULL layer");
  sp_tensor *h, *a, *d;
  SP_TRY(sp_linear_layer_forward(ctx, &h, &l->up, x));
  SP_TRY(l->act == SP_ACT_GELU ? sp_gelu(ctx, &a, h) : sp_relu(ctx, &a, h));
  SP_TRY(sp_dropout_if_active(ctx, &d, a, l->dropout));
  return sp_linear_layer_forward(ctx, out, &l->down, d);
}

/* ---- Transformer block ---- */
int sp_transformer_block_init(sp_transformer_block *b, sp_params *p, const char *name, int d,
                              int heads, int hidden, sp_activation act, float dropout,
                              int pre_norm, sp_rng *rng) {
  if (!b) return SP_FAIL(SP_EINVAL, "sp_transformer_block_init: NULL block");
  if (!(dropout >= 0.0f && dropout < 1.0f))
    return SP_FAIL(SP_EINVAL, "sp_transformer_block_init: dropout must be in [0, 1), got %g", (double)dropout);
  char buf[NAME_MAX_LEN];
  SP_TRY(child(buf, name, "attn"));
  SP_TRY(sp_mha_layer_init(&b->attn, p, buf, d, heads, 0.0f, rng));
  SP_TRY(child(buf, name, "ffn"));
  SP_TRY(sp_ffn_layer_init(&b->ffn, p, buf, d, hidden, act, dropout, rng));
  SP_TRY(child(buf, name, "ln1"));
  SP_TRY(sp_layernorm_layer_init(&b->ln1, p, buf, d, 1e-5f));
  SP_TRY(child(buf, name, "ln2"));
  SP_TRY(sp_layernorm_layer_init(&b->ln2, p, buf, d, 1e-5f));
  b->pre_norm = pre_norm != 0;
  b->dropout = dropout;
  return SP_OK;
}

/* x + Dropout(f(x)) where f is attention or the FFN, with layer norm before f (pre-norm) or
 * after the sum (post-norm). */
int sp_transformer_block_forward(sp_ctx *ctx, sp_tensor **out, const sp_transformer_block *b,
                                 sp_tensor *x, int causal, sp_tensor *key_mask) {
  if (!b) return SP_FAIL(SP_EINVAL, "sp_transformer_block_forward: NULL block");
  if (!x || sp_tensor_ndim(x) != 3)
    return SP_FAIL(SP_ESHAPE, "sp_transformer_block_forward: x must be (B, L, d)");
  sp_tensor *n1, *a, *ad, *h, *n2, *f, *fd, *y;
  if (b->pre_norm) {
    SP_TRY(sp_layernorm_layer_forward(ctx, &n1, &b->ln1, x));
    SP_TRY(sp_mha_layer_forward(ctx, &a, &b->attn, n1, causal, key_mask));
    SP_TRY(sp_dropout_if_active(ctx, &ad, a, b->dropout));
    SP_TRY(sp_add(ctx, &h, x, ad));
    SP_TRY(sp_layernorm_layer_forward(ctx, &n2, &b->ln2, h));
    SP_TRY(sp_ffn_layer_forward(ctx, &f, &b->ffn, n2));
    SP_TRY(sp_dropout_if_active(ctx, &fd, f, b->dropout));
    return sp_add(ctx, out, h, fd);
  }
  SP_TRY(sp_mha_layer_forward(ctx, &a, &b->attn, x, causal, key_mask));
  SP_TRY(sp_dropout_if_active(ctx, &ad, a, b->dropout));
  SP_TRY(sp_add(ctx, &h, x, ad));
  SP_TRY(sp_layernorm_layer_forward(ctx, &n1, &b->ln1, h));
  SP_TRY(sp_ffn_layer_forward(ctx, &f, &b->ffn, n1));
  SP_TRY(sp_dropout_if_active(ctx, &fd, f, b->dropout));
  SP_TRY(sp_add(ctx, &y, n1, fd));
  return sp_layernorm_layer_forward(ctx, out, &b->ln2, y);
}

/* The block's output at each row's last position only, (B, d), for evaluation (CPU, no grad
 * recording, no dropout): keys and values from every position, the query, the residuals, the
 * norms and the FFN at last[b] alone. Equals row last[b] of sp_transformer_block_forward up to
 * the last bits (the GEMMs see other row counts). */
int sp_transformer_block_forward_last(sp_ctx *ctx, sp_tensor **out, const sp_transformer_block *b,
                                      sp_tensor *x, int causal, sp_tensor *key_mask, sp_tensor *last) {
  const char *op = "sp_transformer_block_forward_last";
  if (!ctx || !out || !b || !x || !last) return SP_FAIL(SP_EINVAL, "%s: NULL argument", op);
  if (sp_ctx_grad_enabled(ctx) || sp_ctx_training(ctx) || sp_ctx_device(ctx) != SP_CPU)
    return SP_FAIL(SP_ESTATE, "%s: for evaluation on the CPU: no grad recording, no training mode", op);
  if (sp_tensor_ndim(x) != 3) return SP_FAIL(SP_ESHAPE, "%s: x must be (B, L, d)", op);
  const int B = x->shape[0], L = x->shape[1], d = x->shape[2], heads = b->attn.heads;
  sp_tensor *src = x, *k, *v, *src_last, *x_last, *q, *a, *o, *h;
  if (b->pre_norm) SP_TRY(sp_layernorm_layer_forward(ctx, &src, &b->ln1, x));
  SP_TRY(sp_linear_layer_forward(ctx, &k, &b->attn.k, src));
  SP_TRY(sp_linear_layer_forward(ctx, &v, &b->attn.v, src));
  SP_TRY(sp_take_positions(ctx, &src_last, src, last));
  SP_TRY(sp_take_positions(ctx, &x_last, x, last));
  SP_TRY(sp_linear_layer_forward(ctx, &q, &b->attn.q, src_last));
  SP_TRY(sp_arena_tensor_uninit(ctx, &a, SP_F32, 2, (const int[]){B, d}));
  float *work = sp_work(ctx, (int64_t)B * heads * L, op);
  if (!work) return SP_ENOMEM;
  SP_TRY(sp_cpu_attention_last_forward(a->data, work, q->data, k->data, v->data,
                                       key_mask ? key_mask->data : NULL, last->data, B, L, d, heads, causal));
  SP_TRY(sp_linear_layer_forward(ctx, &o, &b->attn.o, a));
  SP_TRY(sp_add(ctx, &h, x_last, o));
  sp_tensor *n, *f, *y;
  if (b->pre_norm) {
    SP_TRY(sp_layernorm_layer_forward(ctx, &n, &b->ln2, h));
    SP_TRY(sp_ffn_layer_forward(ctx, &f, &b->ffn, n));
    return sp_add(ctx, out, h, f);
  }
  SP_TRY(sp_layernorm_layer_forward(ctx, &n, &b->ln1, h));
  SP_TRY(sp_ffn_layer_forward(ctx, &f, &b->ffn, n));
  SP_TRY(sp_add(ctx, &y, n, f));
  return sp_layernorm_layer_forward(ctx, out, &b->ln2, y);
}
