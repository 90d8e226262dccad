-- intent_model.lua — SPRINT's Stage 2 intent predictor from Lua (C: engine/models/intent.c).
-- The intent embeddings E_G, W_q, W_k, W_v and the fusion's layer norm live in a parameter
-- store; each piece of §4.2-4.3 is its own method, so a recipe (an ablation) leaves any out:
--   local im = intent_model.new(P, { dim = 64, n_intents = C, tau = 0.5, dropout = 0.2 })
--   local yhat, logits = im:relevance(ctx, h)                 -- Eq. 9: (B, C)
--   local l_int = im:loss(ctx, logits, labels, weights)       -- Eq. 10 over labelled sessions
--   local h_tilde = im:fuse(ctx, h, yhat)                     -- Eq. 15: h + g
--   local l_orth = im:ortho(ctx)                              -- §4.3
--   local y = im:enrich(yhat, h, { k = 5, rows = rows })      -- Eq. 12-14, no gradient
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local ctxmod = require "sprint.ctx"
local nn = require "sprint.nn"
local C = lib.C

local M = {}
local IntentModel = {}
IntentModel.__index = IntentModel
M.IntentModel = IntentModel

local Ctx, Tensor = ctxmod.Ctx, tensor.Tensor
local fail, arg, wrap_arena, wrap_view = lib.fail, tensor._arg, tensor._wrap_arena, tensor._wrap_view

local KNOWN = { dim = true, n_intents = true, tau = true, dropout = true, name = true, rng = true }
local MODES = { both = 0, self = 1, neighbours = 2 }

local int_at_least = require("sprint.spec").int_at_least -- errors at the caller's caller

-- intent_model.new(P, opts): opts.dim and opts.n_intents (the pool's size) are required;
-- tau (phi's threshold, default 0.5 as in the paper), dropout on g_S (default 0.2, the
-- backbones' rate: the paper gives none), name (default "intent"), rng (default P.rng).
function M.new(P, opts)
  local w = "intent_model.new"
  if getmetatable(P) ~= nn.Params then error(w .. ": first argument must be a sprint.nn.params store", 2) end
  if P._p == nil then error(w .. ": the parameter store was freed", 2) end
  if type(opts) ~= "table" then error(w .. ": opts must be a table", 2) end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(w .. ": unknown option '" .. tostring(k) .. "' (known: dim, dropout, n_intents, name, rng, tau)", 2)
    end
  end
  local dim = int_at_least(opts.dim, "dim", w, 1)
  local n = int_at_least(opts.n_intents, "n_intents", w, 1)
  local tau, dropout = opts.tau or 0.5, opts.dropout or 0.2
  if type(tau) ~= "number" then error(w .. ": 'tau' must be a number", 2) end
  if type(dropout) ~= "number" then error(w .. ": 'dropout' must be a number", 2) end
  local name = opts.name or "intent"
  if type(name) ~= "string" or name == "" then error(w .. ": 'name' must be a non-empty string", 2) end
  local s = ffi.new("sp_intent_predictor")
  if C.sp_intent_predictor_init(s, P._p, name, dim, n, tau, dropout, tensor._rng_ptr(opts.rng or P.rng, w, 2)) ~= 0 then
    fail(w, 2)
  end
  return setmetatable({
    _s = s, params = P, name = name, dim = dim, n_intents = n, tau = tau, dropout = dropout,
    intents = wrap_view(P, s.intents),             -- E_G (C, d)
    w_q = wrap_view(P, s.q.weight), w_k = wrap_view(P, s.k.weight), w_v = wrap_view(P, s.v.weight),
    ln_weight = wrap_view(P, s.ln.weight), ln_bias = wrap_view(P, s.ln.bias),
    _out = ffi.new("sp_tensor*[1]"), _out2 = ffi.new("sp_tensor*[1]"),
  }, IntentModel)
end

-- The context pointer of a forward (errors at the caller of the public method).
local function fwd_ctx(self, ctx, what)
  if getmetatable(self) ~= IntentModel then error(what .. ": called on a non-intent model (use ':')", 3) end
  if getmetatable(ctx) ~= Ctx then error(what .. ": argument 'ctx' must be a sprint context", 3) end
  if ctx._p == nil then error(what .. ": the context was freed", 3) end
  if self.params._p == nil then error(what .. ": the model's parameter store was freed", 3) end
  return ctx._p
end

local function shape_of(t, name, what)
  if getmetatable(t) ~= Tensor then error(what .. ": argument '" .. name .. "' must be a sprint tensor", 3) end
  return t:shape()
end

-- yhat (B, C) = sigmoid(q_S . k_c) for h (B, d), and the logits (B, C) the loss takes.
function IntentModel:relevance(ctx, h)
  local w = "intent_model:relevance"
  local c = fwd_ctx(self, ctx, w)
  if C.sp_intent_relevance(c, self._out, self._out2, self._s, arg(ctx, h, "h", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(ctx, self._out2[0]), wrap_arena(ctx, self._out[0])
end

-- L_intent (Eq. 10): BCE of the LOGITS (the second result of relevance: the loss is computed
-- from logits, stable at any magnitude) against soft labels (B, C) in [0, 1]. The paper's
-- loss is per session, over the intents; sessions without labels (no LLM intents and not yet
-- enriched) must not count, so weights (B) marks the labelled sessions (1) and the others (0),
-- and the result is the mean of Eq. 10 over the labelled sessions (0 when there are none).
-- weights may also be (B, C) (any per-element weighting: sum(w l) / sum(w)) or nil (all rows).
function IntentModel:loss(ctx, logits, labels, weights)
  local w = "intent_model:loss"
  fwd_ctx(self, ctx, w)
  local ls = shape_of(logits, "logits", w)
  if #ls ~= 2 or ls[2] ~= self.n_intents then
    error(w .. ": logits must be (B, " .. self.n_intents .. "), got (" .. table.concat(ls, ", ") .. ")", 2)
  end
  local B, Cn = ls[1], ls[2]
  if weights ~= nil then
    local ws = shape_of(weights, "weights", w)
    if #ws == 1 then
      if ws[1] ~= B then error(w .. ": weights (" .. ws[1] .. ") must have one value per session (B = " .. B .. ")", 2) end
      if weights:dtype() ~= "f32" then error(w .. ": weights must be float32", 2) end
      local full = ctx:tensor({ B, Cn })
      local src, dst = weights:data(), full:data()
      for r = 0, B - 1 do
        local v = src[r]
        for j = r * Cn, r * Cn + Cn - 1 do dst[j] = v end
      end
      weights = full
    end
  end
  return ctx:bce_logits(logits, labels, weights)
end

-- h_tilde (B, d) = h + Dropout(LayerNorm(h + phi(yhat) V)), V = E_G W_v^T (Eq. 15); yhat
-- (B, C) from relevance (gradients flow into it through phi where yhat > tau; compute it under
-- ctx:no_grad or pass labels to stop them). Dropout runs only in training mode.
function IntentModel:fuse(ctx, h, yhat)
  local w = "intent_model:fuse"
  local c = fwd_ctx(self, ctx, w)
  if C.sp_intent_fuse(c, self._out, self._s, arg(ctx, h, "h", w), arg(ctx, yhat, "yhat", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(ctx, self._out[0])
end

-- L_ortho (§4.3) over the intent embeddings: -mean_{i != j} |e^_i - e^_j|^2 of the
-- L2-normalised rows (a scalar; 0 with one intent).
function IntentModel:ortho(ctx, eps)
  fwd_ctx(self, ctx, "intent_model:ortho")
  return ctx:ortho_loss(self.intents, eps)
end

-- Collaborative enrichment (Eq. 12-14), no gradient. yhat (B, C) predictions in [0, 1] and h
-- (B, d) session representations of one mini-batch; opts: k (neighbours, default 5 as in the
-- paper; 0: none, y = yhat), mode ("both": (yhat + yhat_nbr) / 2, Eq. 14, the default; "self":
-- yhat; "neighbours": yhat_nbr), rows (the batch's real rows, default B: the others are
-- padding, nobody's neighbour, labels 0), out (a float32 (B, C) tensor to write), ctx (the
-- context whose arena gives the scratch; default the one yhat or h belongs to).
-- Returns the labels: out, else an arena tensor of that context, else (heap inputs and no
-- ctx) a new heap tensor.
local ENRICH_KNOWN = { k = true, mode = true, rows = true, out = true, ctx = true }
function IntentModel:enrich(yhat, h, opts)
  local w = "intent_model:enrich"
  if getmetatable(self) ~= IntentModel then error(w .. ": called on a non-intent model (use ':')", 2) end
  opts = opts or {}
  if type(opts) ~= "table" then error(w .. ": opts must be a table", 2) end
  for key in pairs(opts) do
    if not ENRICH_KNOWN[key] then error(w .. ": unknown option '" .. tostring(key) .. "' (known: ctx, k, mode, out, rows)", 2) end
  end
  local ys = shape_of(yhat, "yhat", w)
  shape_of(h, "h", w)
  local k = opts.k == nil and 5 or opts.k
  int_at_least(k, "k", w, 0)
  local mode = MODES[opts.mode or "both"]
  if not mode then error(w .. ": mode must be 'both', 'self' or 'neighbours', got " .. tostring(opts.mode), 2) end
  local rows = opts.rows == nil and ys[1] or opts.rows
  int_at_least(rows, "rows", w, 0)
  local ctx = opts.ctx or yhat._ctx or h._ctx
  if ctx ~= nil then
    if getmetatable(ctx) ~= Ctx then error(w .. ": 'ctx' must be a sprint context", 2) end
    if ctx._p == nil then error(w .. ": the context was freed", 2) end
  end
  local scratch = ctx
  if scratch == nil then -- heap inputs: a private context gives the scratch, recycled per call
    self._scratch = self._scratch or ctxmod.new(0)
    scratch = self._scratch:reset()
  end
  local out = opts.out
  if out == nil then
    out = ctx and ctx:tensor({ ys[1], ys[2] or 0 }) or tensor.new({ ys[1], ys[2] or 0 })
  end
  if C.sp_intent_enrich(scratch._p, arg(scratch, out, "out", w), arg(scratch, yhat, "yhat", w),
      arg(scratch, h, "h", w), rows, k, mode) ~= 0 then
    fail(w, 2)
  end
  return out
end

-- The parameters' names in the store (for optimisers over a subset, reports, checkpoints).
function IntentModel:param_names()
  local n = self.name
  return { n .. ".intents", n .. ".q.weight", n .. ".k.weight", n .. ".v.weight", n .. ".ln.weight", n .. ".ln.bias" }
end

function IntentModel:__tostring()
  return string.format("sprint.intent_model(%s: %d intents, d %d, tau %g, dropout %g)", self.name,
    self.n_intents, self.dim, self.tau, self.dropout)
end

return M
