-- model.lua — the session-based backbones from Lua (SASRec, BERT4Rec, GRU4Rec; the C side is
-- engine/models/backbone.c) and their losses. A model object offers what the training loop and
-- the evaluator need: encode (h_S and the item table), loss on a batch, and its parameters.
--   local m = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items() })
--   local loss = m:loss(ctx, batch)         -- batch from ds:batches{...}
--   local h, table = m:encode_last(ctx, seq, last)
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local C = lib.C

local M = {}
local Backbone = {}
Backbone.__index = Backbone
M.Backbone = Backbone

local KINDS = { sasrec = 0, bert4rec = 1, gru4rec = 2 }
local LOSSES = { bce = true, ce = true }

-- sprint.model.backbone(P, opts): opts.kind ("sasrec" | "bert4rec" | "gru4rec"), n_items,
-- and optionally max_len, dim, layers, heads, ffn_hidden, dropout, loss ("bce": Eq. 16 with
-- sampled negatives, "ce": softmax over all items), name, rng, one_pass (SASRec, GRU4Rec:
-- train with one causal pass per session that scores every position); for BERT4Rec mask_prob (share of
-- a session's items masked, 0.2), mask_last_prob (share of sessions masked at their last item
-- only, 1/11 as in the original: 10 randomly masked copies and 1 last-only per sequence) and
-- output_head (true: the original's dense + GELU + LayerNorm and per-item bias before the
-- tied item table; false: h_S scores against the item table directly).
function M.backbone(P, opts)
  if type(P) ~= "table" or P._p == nil then error("sprint.model.backbone: first argument must be a parameter store", 2) end
  if type(opts) ~= "table" then error("sprint.model.backbone: opts must be a table", 2) end
  local kind = KINDS[opts.kind or "sasrec"]
  if not kind then error("sprint.model.backbone: kind must be sasrec, bert4rec or gru4rec, got " .. tostring(opts.kind), 2) end
  if type(opts.n_items) ~= "number" or opts.n_items < 1 then error("sprint.model.backbone: n_items must be >= 1", 2) end
  local cfg = ffi.new("sp_backbone_config")
  C.sp_backbone_config_default(cfg, kind, opts.n_items)
  for _, k in ipairs({ "max_len", "dim", "layers", "heads", "ffn_hidden", "dropout" }) do
    if opts[k] ~= nil then cfg[k] = opts[k] end
  end
  if opts.output_head ~= nil then cfg.output_head = opts.output_head and 1 or 0 end
  if opts.ffn_hidden == nil and opts.dim ~= nil then cfg.ffn_hidden = opts.dim * (kind == 1 and 4 or 1) end
  local loss = opts.loss or (kind == 1 and "ce" or "bce")
  if not LOSSES[loss] then error("sprint.model.backbone: loss must be bce or ce, got " .. tostring(loss), 2) end
  local out = ffi.new("sp_backbone*[1]")
  local rng = tensor._rng_ptr(opts.rng or P.rng, "sprint.model.backbone", 2)
  if C.sp_backbone_new(out, P._p, opts.name or "backbone", cfg, rng) ~= 0 then lib.fail("sprint.model.backbone", 2) end
  local self = setmetatable({
    _p = ffi.gc(out[0], C.sp_backbone_free), params = P, kind = opts.kind or "sasrec", config = cfg,
    loss_kind = loss, mask_prob = opts.mask_prob or 0.2, mask_last_prob = opts.mask_last_prob or 1 / 11,
    n_items = opts.n_items, _hs = ffi.new("sp_tensor*[1]"), _hseq = ffi.new("sp_tensor*[1]"),
    _out = ffi.new("sp_tensor*[1]"),
    -- BERT4Rec's cloze task trains on whole sessions: one batch row per session (its input and
    -- target, which the loss joins again), not one per prefix; train.fit asks the batches for that
    whole_sessions = kind == 1,
    -- one causal pass per session scores every input position (the original SASRec's
    -- training) instead of one example per prefix; train.fit then asks for one example per
    -- session. Not for BERT4Rec, whose cloze task sees both sides.
    one_pass = opts.one_pass == true,
  }, Backbone)
  if self.one_pass and kind == 1 then error("sprint.model.backbone: one_pass is for causal models (SASRec, GRU4Rec), not BERT4Rec", 2) end
  self.items = tensor._wrap_view(P, C.sp_backbone_item_table(self._p))
  local bias = C.sp_backbone_output_bias(self._p)
  if bias ~= nil then self.output_bias = tensor._wrap_view(P, bias) end
  return self
end

-- Drops the all-padding columns on the left of right-aligned seq (B, L): a batch of short
-- sessions then costs what its longest session needs, with the same results (padding is
-- masked, and positions count from the right). Returns seq, last (new arena tensors if trimmed).
local function trim(ctx, seq, last)
  local shape = seq:shape()
  local B, L = shape[1], shape[2]
  local s = seq:data()
  local first = L
  for r = 0, B - 1 do
    local row = r * L
    for c = 0, first - 1 do
      if s[row + c] ~= 0 then first = c break end
    end
    if first == 0 then return seq, last end
  end
  if first == L then first = L - 1 end -- an all-padding batch keeps one column
  local W = L - first
  local t, l = ctx:tensor({ B, W }, "i32"), ctx:tensor({ B }, "i32")
  local td, ld, sl = t:data(), l:data(), last:data()
  for r = 0, B - 1 do
    ffi.copy(td + r * W, s + r * L + first, W * 4)
    ld[r] = sl[r] >= first and sl[r] - first or 0
  end
  return t, l
end
M.trim = trim

-- h_S (B, d) and h_seq (B, L, d) from item vectors e (B, L, d) given for seq's positions
-- (SPRINT+LE's LLM branch); seq must be trimmed already (e matches its columns).
function Backbone:encode_embedded(ctx, seq, e, last)
  local w = "backbone:encode_embedded"
  if C.sp_backbone_encode_embedded(ctx._p, self._hs, self._hseq, self._p, tensor._arg(ctx, seq, "seq", w),
      tensor._arg(ctx, e, "e", w), tensor._arg(ctx, last, "last", w)) ~= 0 then
    lib.fail(w, 2)
  end
  return tensor._wrap_arena(ctx, self._hs[0]), tensor._wrap_arena(ctx, self._hseq[0])
end

-- h_S (B, d) and h_seq (B, L, d) for right-aligned seq (B, L) with its last positions (B).
function Backbone:encode(ctx, seq, last)
  seq, last = trim(ctx, seq, last)
  local w = "backbone:encode"
  if C.sp_backbone_encode(ctx._p, self._hs, self._hseq, self._p, tensor._arg(ctx, seq, "seq", w),
      tensor._arg(ctx, last, "last", w)) ~= 0 then
    lib.fail(w, 2)
  end
  return tensor._wrap_arena(ctx, self._hs[0]), tensor._wrap_arena(ctx, self._hseq[0])
end

-- BERT4Rec's next-item input: seq (B, L) with its [MASK] token appended after each session
-- (the oldest item drops out of a full row), and the new last positions; arena tensors.
function Backbone:with_mask(ctx, seq)
  local B, L = seq:shape()[1], seq:shape()[2]
  local s, l = ctx:tensor({ B, L }, "i32"), ctx:tensor({ B }, "i32")
  C.sp_tensor_copy(s._p, seq._p)
  if C.sp_bert4rec_append_mask(s._p, l._p, C.sp_backbone_mask_token(self._p)) ~= 0 then
    lib.fail("backbone:with_mask", 3)
  end
  return s, l
end

-- h_S (B, d) of the sessions for next-item ranking: BERT4Rec reads it at its appended [MASK].
function Backbone:encode_next(ctx, seq, last)
  if self.kind == "bert4rec" then seq, last = self:with_mask(ctx, seq) end
  return (self:encode(ctx, seq, last))
end

-- What scores items for session representations h (B, d): h' and a table such that h' . table^T
-- are the scores. Without an output head: h and the item table (rows 1..n are the items); with
-- BERT4Rec's head: the head's output with a trailing 1, (B, d + 1), and the table with the
-- output bias as its last column.
function Backbone:ranking(ctx, h)
  if not self.output_bias then return h, self.items end
  local B, V = h:shape()[1], self.items:shape()[1]
  if C.sp_backbone_head(ctx._p, self._out, self._p, tensor._arg(ctx, h, "h", "backbone:ranking")) ~= 0 then
    lib.fail("backbone:ranking", 2)
  end
  local ones = ctx:tensor({ B, 1 })
  local od = ones:data()
  for r = 0, B - 1 do od[r] = 1 end
  return ctx:concat({ tensor._wrap_arena(ctx, self._out[0]), ones }, 1),
         ctx:concat({ self.items, ctx:reshape(self.output_bias, { V, 1 }) }, 1)
end

-- Rows per chunk when a batch is encoded in chunks of similar length (encode_last).
M.ENCODE_CHUNK = 32
-- Short sessions share a chunk beyond ENCODE_CHUNK rows while rows x length stays within this
-- many tokens (Beauty's test split is mostly sessions of 1-3 items: fewer, fuller chunks;
-- SASRec's test ranking 5.5 -> 3.7 ms).
M.ENCODE_TOKENS = 1024

-- h_S (B, d) of right-aligned seq (B, L) encoded in chunks of M.ENCODE_CHUNK rows (more for
-- short sessions, up to M.ENCODE_TOKENS tokens) of similar length, each trimmed to its own
-- longest session: a few long sessions then do not make every row of the batch pay for their
-- length (Beauty's test split at batch 256: 4.8x the real tokens in one piece, about 1.5x
-- in chunks). Rows do not interact, so h_S is what one encode gives:
-- bitwise for GRU4Rec. SASRec and BERT4Rec run their last block at the last positions only
-- (sp_backbone_encode_last), and OpenBLAS's sums depend on the row count, so their last bits
-- may differ from one encode's (tests/lua/test_encode_chunks.lua).
local function encode_chunked(self, ctx, seq, last)
  local B, L = seq:shape()[1], seq:shape()[2]
  local sd = seq:data()
  local len, order = {}, {}
  for r = 0, B - 1 do
    local first = L
    for c = 0, L - 1 do if sd[r * L + c] ~= 0 then first = c break end end
    len[r], order[r + 1] = L - first, r
  end
  table.sort(order, function(a, b) if len[a] ~= len[b] then return len[a] < len[b] end return a < b end)
  local K, T = M.ENCODE_CHUNK, M.ENCODE_TOKENS
  local parts, at = {}, ctx:tensor({ B }, "i32") -- at[r]: row r's place among the chunks' rows
  local ad, ld = at:data(), last:data()
  local c0 = 1
  while c0 <= B do
    -- at least K rows; more while the chunk (rows x its longest, last row) stays within T tokens
    local n = math.min(K, B - c0 + 1)
    while c0 + n <= B and (n + 1) * math.max(len[order[c0 + n]], 1) <= T do n = n + 1 end
    -- the chunk already trimmed: its rows' last W columns, W its longest (last) row's length
    local W = math.max(len[order[c0 + n - 1]], 1)
    local cs, cl = ctx:tensor({ n, W }, "i32"), ctx:tensor({ n }, "i32")
    local csd, cld = cs:data(), cl:data()
    for i = 0, n - 1 do
      local r = order[c0 + i]
      ffi.copy(csd + i * W, sd + r * L + (L - W), W * 4)
      cld[i], ad[r] = math.max(ld[r] - (L - W), 0), c0 - 1 + i -- as trim re-bases last
    end
    if C.sp_backbone_encode_last(ctx._p, self._hs, self._p, tensor._arg(ctx, cs, "seq", "backbone:encode_last"),
        tensor._arg(ctx, cl, "last", "backbone:encode_last")) ~= 0 then
      lib.fail("backbone:encode_last", 3)
    end
    parts[#parts + 1] = tensor._wrap_arena(ctx, self._hs[0])
    c0 = c0 + n
  end
  return ctx:embedding(#parts > 1 and ctx:concat(parts, 0) or parts[1], at) -- back in row order
end

-- For evaluation: the session representation of each row and the item table whose product
-- gives the model's scores (encode_next, then ranking). Without grad recording (evaluation,
-- scoring) a batch of more than M.ENCODE_CHUNK rows is encoded in chunks of similar length.
function Backbone:encode_last(ctx, seq, last)
  if seq:shape()[1] <= M.ENCODE_CHUNK or ctx:grad_enabled() then
    return self:ranking(ctx, self:encode_next(ctx, seq, last))
  end
  if self.kind == "bert4rec" then seq, last = self:with_mask(ctx, seq) end
  return self:ranking(ctx, encode_chunked(self, ctx, seq, last))
end

-- Scores (B, n_items) of every item for h (B, d): item i is column i (1-based in Lua's get);
-- through BERT4Rec's output head when it has one.
function Backbone:scores(ctx, h)
  local w = "backbone:scores"
  if C.sp_backbone_logits(ctx._p, self._out, self._p, tensor._arg(ctx, h, "h", w)) ~= 0 then lib.fail(w, 2) end
  return tensor._wrap_arena(ctx, self._out[0])
end

-- targets - 1 as an arena int32 tensor (ignore rows, target 0, become -1).
local function shifted(ctx, target, rows)
  local B = target:shape()[1]
  local t = ctx:tensor({ B }, "i32")
  local src, dst = target:data(), t:data()
  for r = 0, B - 1 do dst[r] = r < rows and src[r] - 1 or -1 end
  return t
end

-- Full softmax cross-entropy of h (B, d) against target items.
local function ce_loss(self, ctx, h, target, rows)
  return ctx:cross_entropy(self:scores(ctx, h), shifted(ctx, target, rows), -1)
end

-- Eq. 16: BCE of the target against its sampled negatives (B, K), padding rows weighted 0;
-- items: the item table (n_items + 2, d) that scores them.
function M.bce_loss(items, ctx, h, target, neg, rows)
  local B, K = neg:shape()[1], neg:shape()[2]
  local pos_e = ctx:embedding(items, target)                     -- (B, d)
  local pos = ctx:reshape(ctx:sum_axis(ctx:mul(h, pos_e), 1), { B, 1 })
  local neg_e = ctx:embedding(items, neg)                        -- (B, K, d)
  local negs = ctx:reshape(ctx:matmul(neg_e, ctx:reshape(h, { B, h:shape()[2], 1 })), { B, K })
  local logits = ctx:concat({ pos, negs }, 1)                    -- (B, 1 + K)
  local y, w = ctx:tensor({ B, 1 + K }), ctx:tensor({ B, 1 + K })
  local yd, wd = y:data(), w:data()
  for r = 0, rows - 1 do
    yd[r * (1 + K)] = 1
    for k = 0, K do wd[r * (1 + K) + k] = 1 end
  end
  return ctx:bce_logits(logits, y, w)
end

-- The whole sessions of a batch of one example per session (prefix_augment = false): each row's
-- input (its last L items before the target, right-aligned) shifted left by one with the target
-- appended, i.e. the session's last L items. Returns seq (B, L) and last (B, all L - 1), arena
-- tensors; rows past `rows` (and padding rows, target 0) stay all padding.
function M.whole_sessions(ctx, b, rows)
  local B, L = b.seq:shape()[1], b.seq:shape()[2]
  local seq, last = ctx:tensor({ B, L }, "i32"), ctx:tensor({ B }, "i32")
  local sd, ld, src, tg = seq:data(), last:data(), b.seq:data(), b.target:data()
  for r = 0, B - 1 do
    ld[r] = L - 1
    if r < rows and tg[r] ~= 0 then
      ffi.copy(sd + r * L, src + r * L + 1, (L - 1) * 4)
      sd[r * L + L - 1] = tg[r]
    end
  end
  return seq, last
end

-- BERT4Rec's cloze examples for a batch: the whole sessions, trimmed of all-padding columns,
-- masked by the original's recipe (sp_bert4rec_mask). Returns masked (B, W) and labels (B, W):
-- the item where masked, -1 elsewhere.
function Backbone:cloze(ctx, b, rows)
  local seq = trim(ctx, M.whole_sessions(ctx, b, rows or b.seq:shape()[1]))
  local B, L = seq:shape()[1], seq:shape()[2]
  local masked, labels = ctx:tensor({ B, L }, "i32"), ctx:tensor({ B, L }, "i32")
  if C.sp_bert4rec_mask(masked._p, labels._p, seq._p, self.mask_prob, self.mask_last_prob,
      C.sp_backbone_mask_token(self._p), C.sp_ctx_rng(ctx._p)) ~= 0 then
    lib.fail("backbone:cloze", 2)
  end
  return masked, labels
end

-- BERT4Rec's cloze task on a batch, up to the hidden states: the whole sessions masked
-- (cloze), encoded, and the hidden state of every masked position. Returns h (n, d), the
-- masked items (n, int32) and each position's batch row (n, int32), arena tensors.
function Backbone:cloze_states(ctx, b, rows)
  local masked, labels = self:cloze(ctx, b, rows)
  local B, L = masked:shape()[1], masked:shape()[2]
  local last = ctx:tensor({ B }, "i32")
  local ld = last:data()
  for r = 0, B - 1 do ld[r] = L - 1 end
  local _, hseq = self:encode(ctx, masked, last) -- masked is trimmed already: positions index h_seq
  -- the masked positions and their items, gathered as rows of (B * L, d)
  local lab = labels:data()
  local n = 0
  for i = 0, B * L - 1 do if lab[i] >= 0 then n = n + 1 end end
  local pos, tgt, row = ctx:tensor({ n }, "i32"), ctx:tensor({ n }, "i32"), ctx:tensor({ n }, "i32")
  local pd, td, rd = pos:data(), tgt:data(), row:data()
  local k = 0
  for i = 0, B * L - 1 do
    if lab[i] >= 0 then pd[k], td[k], rd[k], k = i, lab[i], math.floor(i / L), k + 1 end
  end
  local flat = ctx:reshape(hseq, { B * L, hseq:shape()[3] })
  return ctx:embedding(flat, pos), tgt, row                      -- (n, d) rows of h_seq
end

-- Softmax cross-entropy of representations h (n, d) against items (n), through the output
-- head when there is one (BERT4Rec's cloze loss on its masked positions, or on SPRINT's h_tilde).
function Backbone:ce(ctx, h, items, n)
  return ce_loss(self, ctx, h, items, n or items:shape()[1])
end

-- BERT4Rec's cloze loss: predict the masked items of whole sessions over all items.
local function cloze_loss(self, ctx, b, rows)
  local h, tgt = self:cloze_states(ctx, b, rows)
  return ce_loss(self, ctx, h, tgt, tgt:shape()[1])
end

-- One causal pass per session: every real input position predicts the item after it, with
-- its own negatives (batcher:positions), in one encode of the batch (one example per session,
-- prefix_augment = false). Positions count from the right, so position t of a session is not
-- where the prefix example of the same length would put its last item: the two modes differ.
local function one_pass_loss(self, ctx, b, rows)
  if b.config and b.config.prefix_augment ~= 0 then
    error("backbone:loss: one_pass trains on whole sessions: make its batches with prefix_augment = false", 3)
  end
  local seq, last = trim(ctx, b.seq, b.last)
  local _, hseq = self:encode(ctx, seq, last)
  local B, W, d = hseq:shape()[1], hseq:shape()[2], hseq:shape()[3]
  local L = b.seq:shape()[2]
  local first = L - W -- trim dropped the first columns
  local nxt, negp = b:positions()
  local K = negp and negp:shape()[2] / L or 0
  local nd = nxt:data()
  local n = 0
  for r = 0, rows - 1 do
    for c = 0, W - 1 do if nd[r * L + first + c] ~= 0 then n = n + 1 end end
  end
  local pos, tgt = ctx:tensor({ n }, "i32"), ctx:tensor({ n }, "i32")
  local neg = K > 0 and ctx:tensor({ n, K }, "i32") or nil
  local pd, td = pos:data(), tgt:data()
  local gd, sd = neg and neg:data(), negp and negp:data()
  local k = 0
  for r = 0, rows - 1 do
    for c = 0, W - 1 do
      local cell = r * L + first + c
      if nd[cell] ~= 0 then
        pd[k], td[k] = r * W + c, nd[cell]
        if neg then ffi.copy(gd + k * K, sd + cell * K, K * 4) end
        k = k + 1
      end
    end
  end
  local h = ctx:embedding(ctx:reshape(hseq, { B * W, d }), pos) -- (n, d): the real positions' states
  if self.loss_kind == "ce" then return ce_loss(self, ctx, h, tgt, n) end
  if not neg then error("backbone:loss: the bce loss needs negatives in the batches (n_uniform_neg >= 1)", 3) end
  return M.bce_loss(self.items, ctx, h, tgt, neg, n)
end

-- The training loss on a batch from ds:batches{...} (rows: the real rows of the batch).
function Backbone:loss(ctx, b, rows)
  rows = rows or b.seq:shape()[1]
  if self.one_pass then return one_pass_loss(self, ctx, b, rows) end
  if self.kind == "bert4rec" then
    if b.config and b.config.prefix_augment ~= 0 then
      error("backbone:loss: BERT4Rec trains on whole sessions: make its batches with prefix_augment = false", 2)
    end
    return cloze_loss(self, ctx, b, rows)
  end
  return self:rec_loss(ctx, self:encode(ctx, b.seq, b.last), b, rows, 3)
end

-- L_rec of session representations h (B, d) against the batch's targets: Eq. 16's BCE with
-- the batch's negatives (loss "bce") or the softmax over all items ("ce"). SPRINT calls it
-- on h_tilde (the fused representation) instead of h. Not for BERT4Rec's cloze loss.
function Backbone:rec_loss(ctx, h, b, rows, level)
  rows = rows or b.seq:shape()[1]
  if self.loss_kind == "ce" then return ce_loss(self, ctx, h, b.target, rows) end
  if not b.neg then
    error("backbone:loss: the bce loss needs negatives in the batches (n_uniform_neg >= 1)", level or 2)
  end
  return M.bce_loss(self.items, ctx, h, b.target, b.neg, rows)
end

return M
