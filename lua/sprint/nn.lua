-- nn.lua — the parameter store (sprint.nn.params) and the layers of sprint.h from Lua: each
-- wrapper allocates its C struct with ffi.new, initialises it into the store, and keeps the
-- store alive; layer:forward(ctx, x, ...) (or layer(ctx, x, ...)) returns an arena tensor.
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local rng = require "sprint.rng"
local ctxmod = require "sprint.ctx"
local C = lib.C

local M = {}
local fail = lib.fail
local Ctx = ctxmod.Ctx
local wrap_arena, wrap_view, arg, optarg = tensor._wrap_arena, tensor._wrap_view, tensor._arg, tensor._optarg

-- ---- the parameter store ---------------------------------------------------------------------

local Params = {}
Params.__index = Params
M.Params = Params

-- sprint.nn.params([seed]): an empty store; layers made in it are initialised from its rng
-- (sprint.rng(seed)) unless given opts.rng.
function M.params(seed)
  if seed ~= nil and type(seed) ~= "number" then error("sprint.nn.params: seed must be a number", 2) end
  local out = ffi.new("sp_params*[1]")
  if C.sp_params_new(out) ~= 0 then fail("sprint.nn.params", 2) end
  return setmetatable({
    _p = ffi.gc(out[0], C.sp_params_free),
    _kind = "parameter store",
    _t = ffi.new("sp_tensor*[1]"),
    _name = ffi.new("const char*[1]"),
    _norm = ffi.new("float[1]"),
    rng = rng.new(seed or 0),
  }, Params)
end

local function pp(self, what)
  if getmetatable(self) ~= Params then error(what .. ": called on a non-store (use ':')", 3) end
  local p = self._p
  if p == nil then error(what .. ": the parameter store was freed", 3) end
  return p
end

local function str(v, name, what)
  if type(v) ~= "string" or v == "" then
    error(what .. ": argument '" .. name .. "' must be a non-empty string, got " .. tostring(v), 3)
  end
  return v
end

-- P:create(name, shape): a zero-filled float32 parameter that requires grad, owned by P.
function Params:create(name, shape)
  local p = pp(self, "params:create")
  str(name, "name", "params:create")
  local nd = tensor._parse_shape(shape, 2)
  if C.sp_params_create(p, self._t, name, nd, tensor._shape_buf) ~= 0 then fail("params:create", 2) end
  return wrap_view(self, self._t[0])
end

-- P:get(name): the parameter, or nil when there is none of that name.
function Params:get(name)
  local p = pp(self, "params:get")
  str(name, "name", "params:get")
  if C.sp_params_find(p, name, self._t) ~= 0 or self._t[0] == nil then
    C.sp_clear_error()
    return nil
  end
  return wrap_view(self, self._t[0])
end

function Params:count() return C.sp_params_count(pp(self, "params:count")) end
function Params:numel() return tonumber(C.sp_params_numel(pp(self, "params:numel"))) end

-- for name, t in P:iter() do ... end, in creation order.
function Params:iter()
  local p = pp(self, "params:iter")
  local n, i = C.sp_params_count(p), -1
  return function()
    i = i + 1
    if i >= n then return nil end
    if self._p == nil then error("params:iter: the parameter store was freed", 2) end
    if C.sp_params_get(self._p, i, self._name, self._t) ~= 0 then fail("params:iter", 2) end
    return ffi.string(self._name[0]), wrap_view(self, self._t[0])
  end
end

function Params:names()
  local r = {}
  for name in self:iter() do r[#r + 1] = name end
  return r
end

-- Moves every parameter (and its gradient) to "cpu" or "cuda"; make the optimiser after.
function Params:to_device(name)
  local p = pp(self, "params:to_device")
  local d = name == "cpu" and 0 or name == "cuda" and 1 or nil
  if not d then error("params:to_device: 'cpu' or 'cuda', got " .. tostring(name), 2) end
  if C.sp_params_to_device(p, d) ~= 0 then fail("params:to_device", 2) end
  return self
end
function Params:device() return C.sp_params_device(pp(self, "params:device")) == 1 and "cuda" or "cpu" end

function Params:zero_grad()
  if C.sp_params_zero_grad(pp(self, "params:zero_grad")) ~= 0 then fail("params:zero_grad", 2) end
  return self
end

-- Scales the gradients to a global L2 norm of at most max_norm; returns the norm before.
function Params:clip_grad_norm(max_norm)
  local p = pp(self, "params:clip_grad_norm")
  if type(max_norm) ~= "number" then error("params:clip_grad_norm: max_norm must be a number", 2) end
  if C.sp_params_clip_grad_norm(p, max_norm, self._norm) ~= 0 then fail("params:clip_grad_norm", 2) end
  return self._norm[0]
end

function Params:save(path)
  local p = pp(self, "params:save")
  str(path, "path", "params:save")
  if C.sp_params_save(p, path) ~= 0 then fail("params:save", 2) end
  return self
end

-- Loads values matched by name and shape; on a mismatch nothing changes and it errors.
function Params:load(path)
  local p = pp(self, "params:load")
  str(path, "path", "params:load")
  if C.sp_params_load(p, path) ~= 0 then fail("params:load", 2) end
  return self
end

-- Frees the store and every tensor in it now (idempotent); its tensors and layers go dead.
function Params:free()
  local p = self._p
  if p == nil then return end
  self._p = nil
  ffi.gc(p, nil)
  C.sp_params_free(p)
end

function Params:__tostring()
  if self._p == nil then return "sprint.nn.params(freed)" end
  return "sprint.nn.params(" .. self:count() .. " tensors, " .. self:numel() .. " values)"
end

-- ---- layers ----------------------------------------------------------------------------------

local function check_store(P, what)
  if getmetatable(P) ~= Params then error(what .. ": argument 'params' must be a sprint.nn.params store", 3) end
  if P._p == nil then error(what .. ": the parameter store was freed", 3) end
  return P._p
end

local function check_int(v, name, what, min)
  if type(v) ~= "number" or v % 1 ~= 0 or v < (min or 1) then
    error(what .. ": argument '" .. name .. "' must be an integer >= " .. (min or 1) .. ", got " .. tostring(v), 3)
  end
  return v
end

local function opts_of(opts, known, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(what .. ": opts must be a table", 3) end
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      error(what .. ": unknown option '" .. tostring(k) .. "' (known: " .. table.concat(names, ", ") .. ")", 3)
    end
  end
  return opts
end

local function rng_of(P, opts, what)
  return tensor._rng_ptr(opts.rng or P.rng, what, 3)
end

-- The context pointer for a forward (errors at the caller of forward).
local function fwd_ctx(self, ctx, what)
  if getmetatable(ctx) ~= Ctx then error(what .. ": argument 'ctx' must be a sprint context", 3) end
  local c = ctx._p
  if c == nil then error(what .. ": the context was freed", 3) end
  if self.params._p == nil then error(what .. ": the layer's parameter store was freed", 3) end
  return c
end

local function activation(act, what)
  if act == nil or act == "gelu" then return 1 end
  if act == "relu" then return 0 end
  error(what .. ": act must be 'gelu' or 'relu', got " .. tostring(act), 3)
end

local function layer_class(name)
  local cls = { _name = name }
  cls.__index = cls
  cls.__call = function(self, ...) return self:forward(...) end
  cls.__tostring = function(self) return "sprint.nn." .. name .. "(" .. self.name .. ")" end
  return cls
end

-- layer:forward(ctx, x) for a layer whose C forward takes one tensor.
local function forward_one(cname, what, argname)
  return function(self, ctx, x)
    local c = fwd_ctx(self, ctx, what)
    local out = ctx._out
    if C[cname](c, out, self._s, arg(ctx, x, argname, what)) ~= 0 then fail(what, 2) end
    return wrap_arena(ctx, out[0])
  end
end

-- layer:forward(ctx, x, causal, key_mask) for attention and Transformer blocks.
local function forward_masked(cname, what)
  return function(self, ctx, x, causal, key_mask)
    local c = fwd_ctx(self, ctx, what)
    local out = ctx._out
    if C[cname](c, out, self._s, arg(ctx, x, "x", what), causal and 1 or 0,
        optarg(ctx, key_mask, "key_mask", what)) ~= 0 then
      fail(what, 2)
    end
    return wrap_arena(ctx, out[0])
  end
end

-- Linear(P, name, d_in, d_out [, {bias = true, rng = ...}]): y = x W^T + b.
local Linear = layer_class("Linear")
M.Linear = setmetatable({}, { __call = function(_, P, name, d_in, d_out, opts)
  local w = "nn.Linear"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { bias = true, rng = true }, w)
  local s = ffi.new("sp_linear_layer")
  if C.sp_linear_layer_init(s, p, name, check_int(d_in, "d_in", w), check_int(d_out, "d_out", w),
      opts.bias == false and 0 or 1, rng_of(P, opts, w)) ~= 0 then fail(w, 2) end
  local self = setmetatable({ _s = s, params = P, name = name, d_in = d_in, d_out = d_out }, Linear)
  self.weight = wrap_view(P, s.weight)
  self.bias = s.bias ~= nil and wrap_view(P, s.bias) or nil
  return self
end })
M.Linear.class = Linear

Linear.forward = forward_one("sp_linear_layer_forward", "Linear:forward", "x")

-- Embedding(P, name, n, d [, {padding_idx = -1, rng = ...}]): rows of an (n, d) table.
local Embedding = layer_class("Embedding")
M.Embedding = setmetatable({}, { __call = function(_, P, name, n, d, opts)
  local w = "nn.Embedding"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { padding_idx = true, rng = true }, w)
  local pad = opts.padding_idx or -1
  if type(pad) ~= "number" or pad % 1 ~= 0 then error(w .. ": padding_idx must be an integer", 2) end
  local s = ffi.new("sp_embedding_layer")
  if C.sp_embedding_layer_init(s, p, name, check_int(n, "n", w), check_int(d, "d", w), pad,
      rng_of(P, opts, w)) ~= 0 then fail(w, 2) end
  local self = setmetatable({ _s = s, params = P, name = name, n = n, d = d, padding_idx = pad }, Embedding)
  self.weight = wrap_view(P, s.weight)
  return self
end })
M.Embedding.class = Embedding

Embedding.forward = forward_one("sp_embedding_layer_forward", "Embedding:forward", "idx")

-- LayerNorm(P, name, d [, {eps = 1e-5}])
local LayerNorm = layer_class("LayerNorm")
M.LayerNorm = setmetatable({}, { __call = function(_, P, name, d, opts)
  local w = "nn.LayerNorm"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { eps = true }, w)
  local s = ffi.new("sp_layernorm_layer")
  if C.sp_layernorm_layer_init(s, p, name, check_int(d, "d", w), opts.eps or 1e-5) ~= 0 then fail(w, 2) end
  local self = setmetatable({ _s = s, params = P, name = name, d = d }, LayerNorm)
  self.weight, self.bias = wrap_view(P, s.weight), wrap_view(P, s.bias)
  return self
end })
M.LayerNorm.class = LayerNorm

LayerNorm.forward = forward_one("sp_layernorm_layer_forward", "LayerNorm:forward", "x")

-- MultiHeadAttention(P, name, d, heads [, {dropout = 0, rng = ...}])
local MHA = layer_class("MultiHeadAttention")
M.MultiHeadAttention = setmetatable({}, { __call = function(_, P, name, d, heads, opts)
  local w = "nn.MultiHeadAttention"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { dropout = true, rng = true }, w)
  local s = ffi.new("sp_mha_layer")
  if C.sp_mha_layer_init(s, p, name, check_int(d, "d", w), check_int(heads, "heads", w), opts.dropout or 0,
      rng_of(P, opts, w)) ~= 0 then fail(w, 2) end
  return setmetatable({ _s = s, params = P, name = name, d = d, heads = heads }, MHA)
end })
M.MultiHeadAttention.class = MHA

-- x (B, L, d); causal boolean; key_mask int32 (B, L) or nil.
MHA.forward = forward_masked("sp_mha_layer_forward", "MultiHeadAttention:forward")

-- FeedForward(P, name, d, hidden [, {act = "gelu"|"relu", dropout = 0, rng = ...}])
local FFN = layer_class("FeedForward")
M.FeedForward = setmetatable({}, { __call = function(_, P, name, d, hidden, opts)
  local w = "nn.FeedForward"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { act = true, dropout = true, rng = true }, w)
  local s = ffi.new("sp_ffn_layer")
  if C.sp_ffn_layer_init(s, p, name, check_int(d, "d", w), check_int(hidden, "hidden", w),
      activation(opts.act, w), opts.dropout or 0, rng_of(P, opts, w)) ~= 0 then fail(w, 2) end
  return setmetatable({ _s = s, params = P, name = name, d = d, hidden = hidden }, FFN)
end })
M.FeedForward.class = FFN

FFN.forward = forward_one("sp_ffn_layer_forward", "FeedForward:forward", "x")

-- TransformerBlock(P, name, d, heads [, {hidden = 4d, act = "gelu", dropout = 0,
-- pre_norm = true, rng = ...}])
local Block = layer_class("TransformerBlock")
M.TransformerBlock = setmetatable({}, { __call = function(_, P, name, d, heads, opts)
  local w = "nn.TransformerBlock"
  local p = check_store(P, w)
  str(name, "name", w)
  opts = opts_of(opts, { hidden = true, act = true, dropout = true, pre_norm = true, rng = true }, w)
  check_int(d, "d", w)
  check_int(heads, "heads", w)
  local hidden = opts.hidden or 4 * d
  check_int(hidden, "hidden", w)
  local s = ffi.new("sp_transformer_block")
  if C.sp_transformer_block_init(s, p, name, d, heads, hidden, activation(opts.act, w), opts.dropout or 0,
      opts.pre_norm == false and 0 or 1, rng_of(P, opts, w)) ~= 0 then fail(w, 2) end
  return setmetatable({ _s = s, params = P, name = name, d = d, heads = heads, hidden = hidden }, Block)
end })
M.TransformerBlock.class = Block

-- x (B, L, d) -> (B, L, d); causal boolean; key_mask int32 (B, L) or nil.
Block.forward = forward_masked("sp_transformer_block_forward", "TransformerBlock:forward")

return M
