-- le_model.lua — a backbone with LLM item embeddings (SPRINT+LE, paper §5.1.3): each item has a
-- trainable base embedding (d/2) and a frozen LLM vector (sprint.item_vectors) projected to d/2
-- by a two-layer MLP; each branch is encoded by its own copy of the backbone (same kind and
-- settings, width d/2), and the two session representations are concatenated to d. Items are
-- scored by the same concatenation of their two embeddings, so the model offers what a backbone
-- offers (encode, encode_next, ranking, encode_last, rec_loss, loss, config.dim, params), and
-- SPRINT's intent predictor and the training loop take it unchanged.
--   local m = le_model.new(P, { kind = "sasrec", n_items = n, dim = 64, vectors = t })
local nn = require "sprint.nn"
local model = require "sprint.model"

local M = {}
local LE = {}
LE.__index = LE
M.LE = LE

-- le_model.new(P, opts): opts as sprint.model.backbone's (dim the total width, even), plus
-- vectors (a float32 tensor (n_items + 2, D), not in P: frozen) and hidden (the MLP's hidden
-- width, default dim).
function M.new(P, opts)
  local w = "le_model.new"
  if type(opts) ~= "table" then error(w .. ": opts must be a table", 2) end
  local kind = opts.kind or "sasrec"
  if kind == "bert4rec" then
    error(w .. ": SPRINT+LE is built for the causal backbones (sasrec, gru4rec); BERT4Rec's [MASK] token has no "
      .. "LLM vector yet", 2)
  end
  local dim = opts.dim or 64
  if dim % 2 ~= 0 then error(w .. ": dim must be even (two halves), got " .. tostring(dim), 2) end
  local v = opts.vectors
  if type(v) ~= "table" or not v.shape or v:shape()[1] ~= opts.n_items + 2 then
    error(w .. ": vectors must be a tensor (n_items + 2, D) = (" .. tostring(opts.n_items + 2) .. ", D)", 2)
  end
  local half = {}
  for k, x in pairs(opts) do if k ~= "vectors" and k ~= "hidden" then half[k] = x end end
  half.dim, half.kind = dim / 2, kind
  if opts.ffn_hidden then half.ffn_hidden = opts.ffn_hidden / 2 end
  local function branch(name)
    local o = {}
    for k, x in pairs(half) do o[k] = x end
    o.name = name
    return model.backbone(P, o)
  end
  local hidden = opts.hidden or dim
  local self = setmetatable({
    params = P, kind = kind, config = { dim = dim }, loss_kind = "bce", n_items = opts.n_items, whole_sessions = false,
    base = branch("le_base"), llm = branch("le_llm"), vectors = v, hidden = hidden,
    mlp1 = nn.Linear(P, "le_mlp1", v:shape()[2], hidden), mlp2 = nn.Linear(P, "le_mlp2", hidden, dim / 2),
  }, LE)
  return self
end

-- The projected LLM table (n_items + 2, d/2): MLP(vectors), rows 0 and n_items + 1 as the MLP
-- maps a zero vector (row 0 is never looked up: padding).
function LE:projected(ctx)
  return self.mlp2:forward(ctx, ctx:gelu(self.mlp1:forward(ctx, self.vectors)))
end

-- The item table (n_items + 2, d): base embeddings beside projected LLM vectors.
function LE:items(ctx, proj)
  return ctx:concat({ self.base.items, proj or self:projected(ctx) }, 1)
end

-- h_S (B, d) and h_seq (B, L, d): the two branches' concatenated.
function LE:encode(ctx, seq, last)
  seq, last = model.trim(ctx, seq, last)
  local hs_a, hseq_a = self.base:encode(ctx, seq, last)
  local e = ctx:embedding(self:projected(ctx), seq, 0)
  local hs_b, hseq_b = self.llm:encode_embedded(ctx, seq, e, last)
  return ctx:concat({ hs_a, hs_b }, 1), ctx:concat({ hseq_a, hseq_b }, 2)
end

function LE:encode_next(ctx, seq, last) return (self:encode(ctx, seq, last)) end

function LE:ranking(ctx, h) return h, self:items(ctx) end

function LE:encode_last(ctx, seq, last) return self:ranking(ctx, self:encode_next(ctx, seq, last)) end

-- Eq. 16's BCE of h (B, d) against the batch's target and negatives, over the LE item table.
function LE:rec_loss(ctx, h, b, rows, level)
  rows = rows or b.seq:shape()[1]
  if not b.neg then error("le_model:loss: the bce loss needs negatives in the batches (n_uniform_neg >= 1)", level or 2) end
  return model.bce_loss(self:items(ctx), ctx, h, b.target, b.neg, rows)
end

function LE:loss(ctx, b, rows) return self:rec_loss(ctx, (self:encode(ctx, b.seq, b.last)), b, rows, 3) end

function LE:__tostring()
  return string.format("sprint.le_model(%s x 2 at d/2 = %d; LLM vectors %d x %d -> MLP %d -> %d)", self.kind,
    self.config.dim / 2, self.vectors:shape()[1], self.vectors:shape()[2], self.hidden, self.config.dim / 2)
end

return M
