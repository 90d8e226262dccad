/* backbone.c — SASRec (Kang & McAuley 2018), BERT4Rec (Sun et al. 2019) and GRU4Rec (Hidasi et
 * al. 2016) built from ops and nn layers. One struct holds all three so a recipe switches by a
 * setting; encode returns h_S and the hidden states, the loss is the recipe's choice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct sp_backbone {
  sp_backbone_config cfg;
  sp_embedding_layer item;       /* (n_items + 2, d), row 0 padding, last row [MASK] */
  sp_embedding_layer pos;        /* (max_len, d): SASRec, BERT4Rec */
  sp_transformer_block *blocks;  /* (layers): SASRec, BERT4Rec */
  sp_layernorm_layer ln;         /* SASRec: after the blocks; BERT4Rec: after the embeddings */
  sp_tensor **gru;               /* (layers * 4): w_ih, w_hh, b_ih, b_hh per layer: GRU4Rec */
  sp_tensor *positions;          /* (max_len) 0..L-1 */
  /* BERT4Rec's output head (cfg.output_head): h -> LN(GELU(dense(h))), then the tied item
   * table and a bias per item, as its code's get_masked_lm_output */
  sp_linear_layer head_dense;    /* (d, d) + (d) */
  sp_layernorm_layer head_ln;    /* (d) */
  sp_tensor *out_bias;           /* (n_items + 2), zero at first; NULL without the head */
};

void sp_backbone_config_default(sp_backbone_config *c, int kind, int n_items) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->n_items = n_items;
  c->max_len = 50;
  c->dim = 64;
  c->layers = 2;
  c->heads = 2;
  c->ffn_hidden = 64 * (kind == SP_BERT4REC ? 4 : 1);
  c->dropout = 0.2f;
  c->output_head = kind == SP_BERT4REC;
}

void sp_backbone_free(sp_backbone *m) {
  if (!m) return;
  free(m->blocks);
  free(m->gru);
  sp_tensor_free(m->positions);
  free(m);
}

int sp_backbone_new(sp_backbone **out, sp_params *p, const char *name, const sp_backbone_config *cfg,
                    sp_rng *rng) {
  if (!out || !p || !name || !cfg || !rng) return SP_FAIL(SP_EINVAL, "sp_backbone_new: NULL argument");
  *out = NULL;
  const sp_backbone_config c = *cfg;
  if (c.kind < SP_SASREC || c.kind > SP_GRU4REC) return SP_FAIL(SP_EINVAL, "sp_backbone_new: unknown kind %d", c.kind);
  if (c.n_items < 1 || c.max_len < 1 || c.dim < 1 || c.layers < 1 || !(c.dropout >= 0 && c.dropout < 1))
    return SP_FAIL(SP_EINVAL, "sp_backbone_new: need n_items, max_len, dim, layers >= 1 and dropout in [0, 1)");
  if (c.kind != SP_GRU4REC && (c.heads < 1 || c.dim % c.heads || c.ffn_hidden < 1))
    return SP_FAIL(SP_EINVAL, "sp_backbone_new: dim %d must be divisible by heads %d, ffn_hidden >= 1", c.dim, c.heads);
  if (c.output_head != 0 && (c.output_head != 1 || c.kind != SP_BERT4REC))
    return SP_FAIL(SP_EINVAL, "sp_backbone_new: output_head is 0 or 1, and 1 only for BERT4Rec (got %d)", c.output_head);
  sp_backbone *m = calloc(1, sizeof *m);
  if (!m) return SP_FAIL(SP_ENOMEM, "sp_backbone_new: out of memory");
  m->cfg = c;
  char buf[256];
  int rc = SP_OK;
#define STEP(x)                                                                                    \
  do {                                                                                             \
    if (rc == SP_OK) rc = (x);                                                                     \
  } while (0)
  snprintf(buf, sizeof buf, "%s.item", name);
  STEP(sp_embedding_layer_init(&m->item, p, buf, c.n_items + 2, c.dim, 0, rng));
  if (c.kind != SP_GRU4REC) {
    snprintf(buf, sizeof buf, "%s.pos", name);
    STEP(sp_embedding_layer_init(&m->pos, p, buf, c.max_len, c.dim, -1, rng));
    snprintf(buf, sizeof buf, "%s.ln", name);
    STEP(sp_layernorm_layer_init(&m->ln, p, buf, c.dim, 1e-5f));
    m->blocks = calloc((size_t)c.layers, sizeof *m->blocks);
    if (!m->blocks && rc == SP_OK) rc = SP_FAIL(SP_ENOMEM, "sp_backbone_new: out of memory");
    for (int l = 0; l < c.layers && rc == SP_OK; l++) {
      snprintf(buf, sizeof buf, "%s.block%d", name, l);
      /* SASRec's code normalises before each sublayer; BERT4Rec after (as in BERT) */
      STEP(sp_transformer_block_init(&m->blocks[l], p, buf, c.dim, c.heads, c.ffn_hidden,
                                     c.kind == SP_BERT4REC ? SP_ACT_GELU : SP_ACT_RELU, c.dropout,
                                     c.kind == SP_SASREC, rng));
    }
  } else {
    m->gru = calloc((size_t)c.layers * 4, sizeof *m->gru);
    if (!m->gru && rc == SP_OK) rc = SP_FAIL(SP_ENOMEM, "sp_backbone_new: out of memory");
    float bound = 1.0f / sqrtf((float)c.dim); /* PyTorch's GRU initialisation */
    static const char *parts[4] = {"w_ih", "w_hh", "b_ih", "b_hh"};
    for (int l = 0; l < c.layers && rc == SP_OK; l++)
      for (int k = 0; k < 4 && rc == SP_OK; k++) {
        snprintf(buf, sizeof buf, "%s.gru%d.%s", name, l, parts[k]);
        int shape[2] = {3 * c.dim, c.dim};
        STEP(sp_params_create(p, &m->gru[l * 4 + k], buf, k < 2 ? 2 : 1, shape));
        STEP(sp_tensor_fill_uniform(m->gru[l * 4 + k], rng, -bound, bound));
      }
  }
  if (c.output_head) { /* made last, so the other parameters draw the same numbers without it */
    snprintf(buf, sizeof buf, "%s.head.dense", name);
    STEP(sp_linear_layer_init(&m->head_dense, p, buf, c.dim, c.dim, 1, rng));
    snprintf(buf, sizeof buf, "%s.head.ln", name);
    STEP(sp_layernorm_layer_init(&m->head_ln, p, buf, c.dim, 1e-5f));
    snprintf(buf, sizeof buf, "%s.head.bias", name);
    STEP(sp_params_create(p, &m->out_bias, buf, 1, (int[]){c.n_items + 2}));
  }
  STEP(sp_tensor_new(&m->positions, SP_I32, 1, &m->cfg.max_len));
  if (rc != SP_OK) {
    sp_backbone_free(m);
    return rc;
  }
  for (int i = 0; i < c.max_len; i++) sp_tensor_i32(m->positions)[i] = i;
  *out = m;
  return SP_OK;
#undef STEP
}

sp_tensor *sp_backbone_item_table(const sp_backbone *m) { return m ? m->item.weight : NULL; }
sp_tensor *sp_backbone_output_bias(const sp_backbone *m) { return m ? m->out_bias : NULL; }
int32_t sp_backbone_mask_token(const sp_backbone *m) { return m ? m->cfg.n_items + 1 : -1; }

/* mask (B, L) int32: 1 where seq holds an item. */
static int key_mask(sp_ctx *ctx, sp_tensor **out, sp_tensor *seq) {
  SP_TRY(sp_ctx_tensor(ctx, out, SP_I32, 2, seq->shape));
  const int32_t *s = seq->data;
  int32_t *m = (*out)->data;
  for (int64_t i = 0; i < seq->numel; i++) m[i] = s[i] != 0;
  return SP_OK;
}

/* seq (B, L <= max_len) and last (B) in range; op names the caller in the message. */
static int check_input(sp_ctx *ctx, const char *op, const sp_backbone *m, sp_tensor *seq, sp_tensor *last) {
  SP_CHECK_I32(ctx, op, seq);
  SP_CHECK_I32(ctx, op, last);
  char s1[64];
  const sp_backbone_config *c = &m->cfg;
  if (seq->ndim != 2 || seq->shape[1] > c->max_len)
    return SP_FAIL(SP_ESHAPE, "%s: seq %s must be (B, L) with L <= max_len %d", op, sp_shape_str(seq, s1), c->max_len);
  const int B = seq->shape[0], L = seq->shape[1];
  if (last->ndim != 1 || last->shape[0] != B)
    return SP_FAIL(SP_ESHAPE, "%s: last %s must be (%d)", op, sp_shape_str(last, s1), B);
  for (int b = 0; b < B; b++)
    if (sp_tensor_i32(last)[b] < 0 || sp_tensor_i32(last)[b] >= L)
      return SP_FAIL(SP_EINVAL, "%s: last[%d] = %d is outside [0, %d)", op, b, sp_tensor_i32(last)[b], L);
  return SP_OK;
}

static int encode(const char *op, sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m,
                  sp_tensor *seq, sp_tensor *e, sp_tensor *last, int last_only);

/* sp_backbone_encode and sp_backbone_encode_last: the item table's rows for seq, then encode. */
static int encode_items(const char *op, sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m,
                        sp_tensor *seq, sp_tensor *last, int last_only) {
  if (!ctx || !h_S || !m) return SP_FAIL(SP_EINVAL, "%s: NULL argument", op);
  SP_TRY(check_input(ctx, op, m, seq, last));
  sp_tensor *e;
  SP_TRY(sp_embedding_layer_forward(ctx, &e, &m->item, seq)); /* checks ids: 0..n_items + 1 */
  return encode(op, ctx, h_S, h_seq, m, seq, e, last, last_only);
}

int sp_backbone_encode(sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m, sp_tensor *seq,
                       sp_tensor *last) {
  return encode_items("sp_backbone_encode", ctx, h_S, h_seq, m, seq, last, 0);
}

static int encode(const char *op, sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m,
                  sp_tensor *seq, sp_tensor *e, sp_tensor *last, int last_only) {
  if (!ctx || !h_S || !m || !e) return SP_FAIL(SP_EINVAL, "%s: NULL argument", op);
  SP_TRY(check_input(ctx, op, m, seq, last));
  SP_OP_F32(ctx, op, e); /* on the context's device (batches, masks and positions stay on the host) */
  char s1[64];
  const sp_backbone_config *c = &m->cfg;
  const int L = seq->shape[1];
  if (e->ndim != 3 || e->shape[0] != seq->shape[0] || e->shape[1] != L || e->shape[2] != c->dim)
    return SP_FAIL(SP_ESHAPE, "%s: e %s must be (%d, %d, %d)", op, sp_shape_str(e, s1), seq->shape[0], L, c->dim);
  sp_tensor *mask, *x, *pe, *h;
  SP_TRY(key_mask(ctx, &mask, seq));
  if (c->kind == SP_GRU4REC) {
    SP_TRY(sp_dropout_if_active(ctx, &x, e, c->dropout));
    for (int l = 0; l < c->layers; l++) {
      sp_tensor *const *w = m->gru + l * 4;
      SP_TRY(sp_gru(ctx, &h, x, w[0], w[1], w[2], w[3], mask));
      x = h;
    }
  } else {
    sp_tensor *posi;
    /* Sequences are right-aligned: the last column is position max_len - 1, so a batch
     * trimmed to its longest session keeps the positions an untrimmed one would have. */
    SP_TRY(sp_ctx_tensor(ctx, &posi, SP_I32, 1, &(int){L}));
    memcpy(posi->data, sp_tensor_i32(m->positions) + (c->max_len - L), sizeof(int32_t) * (size_t)L);
    SP_TRY(sp_embedding_layer_forward(ctx, &pe, &m->pos, posi));
    if (c->kind == SP_SASREC) {
      sp_tensor *es;
      SP_TRY(sp_scale(ctx, &es, e, sqrtf((float)c->dim))); /* as in SASRec's code */
      SP_TRY(sp_add(ctx, &h, es, pe));
      SP_TRY(sp_dropout_if_active(ctx, &x, h, c->dropout));
    } else {
      sp_tensor *n;
      SP_TRY(sp_add(ctx, &h, e, pe));
      SP_TRY(sp_layernorm_layer_forward(ctx, &n, &m->ln, h));
      SP_TRY(sp_dropout_if_active(ctx, &x, n, c->dropout));
    }
    /* last_only: the last block at the last positions only (sp_backbone_encode_last) */
    const int blocks = last_only ? c->layers - 1 : c->layers;
    for (int l = 0; l < blocks; l++) {
      SP_TRY(sp_transformer_block_forward(ctx, &h, &m->blocks[l], x, c->kind == SP_SASREC, mask));
      x = h;
    }
    if (last_only) {
      SP_TRY(sp_transformer_block_forward_last(ctx, &h, &m->blocks[c->layers - 1], x, c->kind == SP_SASREC,
                                               mask, last));
      if (c->kind == SP_SASREC) return sp_layernorm_layer_forward(ctx, h_S, &m->ln, h);
      *h_S = h;
      return SP_OK;
    }
    if (c->kind == SP_SASREC) SP_TRY(sp_layernorm_layer_forward(ctx, &x, &m->ln, x));
  }
  if (h_seq) *h_seq = x;
  return sp_take_positions(ctx, h_S, x, last);
}

int sp_backbone_encode_embedded(sp_ctx *ctx, sp_tensor **h_S, sp_tensor **h_seq, const sp_backbone *m,
                                sp_tensor *seq, sp_tensor *e, sp_tensor *last) {
  return encode("sp_backbone_encode_embedded", ctx, h_S, h_seq, m, seq, e, last, 0);
}

int sp_backbone_encode_last(sp_ctx *ctx, sp_tensor **h_S, const sp_backbone *m, sp_tensor *seq, sp_tensor *last) {
  /* the full encode where the shortcut does not apply: GRU4Rec, a GPU, grad recording, training */
  const int last_only = ctx && m && m->cfg.kind != SP_GRU4REC && sp_ctx_device(ctx) == SP_CPU &&
                        !sp_ctx_grad_enabled(ctx) && !sp_ctx_training(ctx);
  return encode_items("sp_backbone_encode_last", ctx, h_S, NULL, m, seq, last, last_only);
}

int sp_backbone_head(sp_ctx *ctx, sp_tensor **out, const sp_backbone *m, sp_tensor *h) {
  if (!ctx || !out || !m || !h) return SP_FAIL(SP_EINVAL, "sp_backbone_head: NULL argument");
  char s1[64];
  if (h->dtype != SP_F32 || h->shape[h->ndim - 1] != m->cfg.dim)
    return SP_FAIL(SP_ESHAPE, "sp_backbone_head: h %s must be float32 (..., %d)", sp_shape_str(h, s1), m->cfg.dim);
  if (!m->cfg.output_head) {
    *out = h;
    return SP_OK;
  }
  sp_tensor *z, *g;
  SP_TRY(sp_linear_layer_forward(ctx, &z, &m->head_dense, h));
  SP_TRY(sp_gelu(ctx, &g, z));
  return sp_layernorm_layer_forward(ctx, out, &m->head_ln, g);
}

int sp_backbone_logits(sp_ctx *ctx, sp_tensor **out, const sp_backbone *m, sp_tensor *h) {
  if (!ctx || !out || !m || !h) return SP_FAIL(SP_EINVAL, "sp_backbone_logits: NULL argument");
  char s1[64];
  if (h->ndim != 2) return SP_FAIL(SP_ESHAPE, "sp_backbone_logits: h %s must be (N, d)", sp_shape_str(h, s1));
  sp_tensor *t, *items, *all;
  SP_TRY(sp_backbone_head(ctx, &t, m, h));
  /* the items' rows 1..n_items of the table (not padding, not [MASK]): slicing the table costs
   * n_items x d floats, slicing the logits afterwards N x n_items */
  SP_TRY(sp_slice(ctx, &items, m->item.weight, 0, 1, m->cfg.n_items));
  SP_TRY(sp_matmul(ctx, &all, t, items, 0, 1)); /* (N, n_items) */
  if (!m->out_bias) {
    *out = all;
    return SP_OK;
  }
  sp_tensor *bias;
  SP_TRY(sp_slice(ctx, &bias, m->out_bias, 0, 1, m->cfg.n_items));
  return sp_add(ctx, out, all, bias); /* the bias row added to every row */
}

/* Row b's draws: index b * (L + 1) + j is position j's shuffle key, b * (L + 1) + L the
 * mask-the-last-only decision, so a row's mask does not depend on the batch's other rows. */
int sp_bert4rec_mask(sp_tensor *seq_out, sp_tensor *labels, sp_tensor *seq_in, float mask_prob, float last_prob,
                     int32_t mask_token, sp_rng *rng) {
  if (!seq_out || !labels || !seq_in || !rng) return SP_FAIL(SP_EINVAL, "sp_bert4rec_mask: NULL argument");
  if (seq_in->dtype != SP_I32 || seq_out->dtype != SP_I32 || labels->dtype != SP_I32 || seq_in->ndim != 2 ||
      !sp_same_shape(seq_in, seq_out) || !sp_same_shape(seq_in, labels))
    return SP_FAIL(SP_ESHAPE, "sp_bert4rec_mask: seq_in, seq_out and labels must be int32 (B, L) alike");
  if (labels->data == seq_in->data || labels->data == seq_out->data || seq_out->data == seq_in->data)
    return SP_FAIL(SP_EINVAL, "sp_bert4rec_mask: seq_in, seq_out and labels must be distinct tensors");
  if (!(mask_prob > 0 && mask_prob <= 1)) return SP_FAIL(SP_EINVAL, "sp_bert4rec_mask: mask_prob must be in (0, 1]");
  if (!(last_prob >= 0 && last_prob <= 1)) return SP_FAIL(SP_EINVAL, "sp_bert4rec_mask: last_prob must be in [0, 1]");
  const int B = seq_in->shape[0], L = seq_in->shape[1];
  const int32_t *in = seq_in->data;
  int32_t *out = seq_out->data, *lab = labels->data;
  const uint64_t seed = rng->seed, counter = rng->counter++;
  for (int b = 0; b < B; b++) {
    const int64_t row = (int64_t)b * L;
    const uint64_t key = (uint64_t)b * (uint64_t)(L + 1);
    memcpy(out + row, in + row, sizeof *out * (size_t)L);
    int32_t *pos = lab + row; /* scratch: the row's real positions, in order (labels come last) */
    int n = 0;
    for (int t = 0; t < L; t++)
      if (in[row + t] != 0) pos[n++] = t;
    int count = 1;
    if (n > 0 && sp_philox_uniform_at(seed, counter, key + (uint64_t)L) < last_prob) {
      pos[0] = pos[n - 1]; /* the last item only */
    } else if (n > 0) {
      count = (int)floorf((float)n * mask_prob + 0.5f);
      if (count < 1) count = 1;
      /* a partial Fisher-Yates shuffle: pos[0..count) become a uniform draw without replacement */
      for (int i = 0; i < count; i++) {
        int j = i + (int)(sp_philox_uniform_at(seed, counter, key + (uint64_t)i) * (float)(n - i));
        if (j >= n) j = n - 1; /* a uniform just below 1 rounding up */
        int32_t tmp = pos[i];
        pos[i] = pos[j], pos[j] = tmp;
      }
    }
    for (int i = 0; i < count && n > 0; i++) out[row + pos[i]] = mask_token;
    for (int t = 0; t < L; t++) lab[row + t] = out[row + t] != in[row + t] ? in[row + t] : -1;
  }
  return SP_OK;
}

int sp_bert4rec_append_mask(sp_tensor *seq, sp_tensor *last, int32_t mask_token) {
  if (!seq || !last || seq->dtype != SP_I32 || last->dtype != SP_I32 || seq->ndim != 2 || last->ndim != 1 ||
      last->shape[0] != seq->shape[0])
    return SP_FAIL(SP_ESHAPE, "sp_bert4rec_append_mask: seq (B, L) and last (B) int32");
  const int B = seq->shape[0], L = seq->shape[1];
  int32_t *s = seq->data, *l = last->data;
  for (int b = 0; b < B; b++) {
    int32_t *row = s + (int64_t)b * L;
    memmove(row, row + 1, sizeof *row * (size_t)(L - 1));
    row[L - 1] = mask_token;
    l[b] = L - 1;
  }
  return SP_OK;
}
