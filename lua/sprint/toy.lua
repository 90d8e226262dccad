-- toy.lua — a toy next-token task and a tiny causal Transformer for it, shared by the demo
-- recipe (recipes/demo_toy.lua), the end-to-end test and the binding benchmark.
-- Task: x0, x1 uniform over V tokens, then x_t = (x_{t-1} + x_{t-2}) mod V. Every target but
-- the first (x1, pure chance) is a function of the two tokens before it, and every token is
-- uniform, so the best unigram predictor scores log V while a model that learned the rule
-- approaches 0.
local nn = require "sprint.nn"
local tensor = require "sprint.tensor"

local M = {}
M.IGNORE = -100

-- Fills int32 arena tensors tokens (B, L) and targets (B*L) with fresh sequences from rng.
function M.fill_batch(rng, tokens, targets, V)
  local B, L = tokens:size(1), tokens:size(2)
  local tok, tgt = tokens:data(), targets:data()
  for b = 0, B - 1 do
    local row = b * L
    local prev2, prev1 = rng:below(V), rng:below(V)
    tok[row] = prev2
    for t = 1, L do -- token t of the sequence; position t-1 predicts it
      local x = t == 1 and prev1 or (prev1 + prev2) % V
      if t > 1 then prev2, prev1 = prev1, x end
      if t < L then tok[row + t] = x end
      tgt[row + t - 1] = t == 1 and M.IGNORE or x
    end
  end
end

-- A batch in ctx's arena: tokens (B, L) and targets (B*L), int32.
function M.batch(ctx, rng, B, L, V)
  local tokens = ctx:tensor({ B, L }, "i32")
  local targets = ctx:tensor({ B * L }, "i32")
  M.fill_batch(rng, tokens, targets, V)
  return tokens, targets
end

local Model = {}
Model.__index = Model

-- M.model(params, {vocab=, len=, dim=, layers=, heads=, dropout=}): token and position
-- embeddings, `layers` pre-norm causal blocks, a final layer norm and a linear head.
function M.model(P, cfg)
  local self = setmetatable({ cfg = cfg, params = P }, Model)
  self.tok = nn.Embedding(P, "tok", cfg.vocab, cfg.dim)
  self.pos = nn.Embedding(P, "pos", cfg.len, cfg.dim)
  self.blocks = {}
  for i = 1, cfg.layers do
    self.blocks[i] = nn.TransformerBlock(P, "block" .. i, cfg.dim, cfg.heads,
      { hidden = 4 * cfg.dim, dropout = cfg.dropout or 0, pre_norm = true })
  end
  self.ln = nn.LayerNorm(P, "ln_f", cfg.dim)
  self.head = nn.Linear(P, "head", cfg.dim, cfg.vocab)
  local positions = {}
  for i = 1, cfg.len do positions[i] = i - 1 end
  self.positions = tensor.from(positions, { cfg.len }, "i32")
  return self
end

-- tokens int32 (B, L) -> logits (B*L, V)
function Model:forward(ctx, tokens)
  local x = ctx:add(self.tok:forward(ctx, tokens), self.pos:forward(ctx, self.positions))
  for i = 1, #self.blocks do x = self.blocks[i]:forward(ctx, x, true) end
  local logits = self.head:forward(ctx, self.ln:forward(ctx, x))
  return ctx:reshape(logits, { -1, self.cfg.vocab })
end

-- Loss and the accuracy over the predictable targets of one batch.
function Model:loss(ctx, tokens, targets)
  local logits = self:forward(ctx, tokens)
  return ctx:cross_entropy(logits, targets, M.IGNORE), logits
end

-- Fraction of targets (not ignored) where the arg-max logit is right.
function M.accuracy(logits, targets)
  local N, V = logits:size(1), logits:size(2)
  local lg, tg = logits:data(), targets:data()
  local right, total = 0, 0
  for i = 0, N - 1 do
    local want = tg[i]
    if want ~= M.IGNORE then
      local best, arg = lg[i * V], 0
      for j = 1, V - 1 do
        if lg[i * V + j] > best then best, arg = lg[i * V + j], j end
      end
      total = total + 1
      if arg == want then right = right + 1 end
    end
  end
  return total > 0 and right / total or 0
end

return M
