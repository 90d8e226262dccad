-- ctx.lua — the autograd context from Lua: every op of sprint.h as a method (outputs are arena
-- tensors valid until ctx:reset()), backward, reset, no-grad and training modes. Arguments are
-- checked here (misuse -> error(msg, 2) naming the argument); a C failure raises a Lua error
-- carrying sp_last_error(). One out-parameter buffer per context, reused by every call.
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local rng = require "sprint.rng"
local C = lib.C

local M = {}
local Ctx = {}
Ctx.__index = Ctx
M.Ctx = Ctx

local wrap_arena, arg, optarg = tensor._wrap_arena, tensor._arg, tensor._optarg
local parse_shape, parse_dtype, shape_buf = tensor._parse_shape, tensor._parse_dtype, tensor._shape_buf
local fail = lib.fail

-- The device new contexts compute on: 0 (the CPU) or 1 (CUDA), set by sprint.set_device.
M.default_device = 0

-- sprint.ctx([seed]): a new context; its rng (dropout) starts from seed. It computes on the
-- default device (sprint.set_device).
function M.new(seed)
  if seed ~= nil and type(seed) ~= "number" then error("sprint.ctx: seed must be a number", 2) end
  local out = ffi.new("sp_ctx*[1]")
  if C.sp_ctx_new(out, seed or 0) ~= 0 then fail("sprint.ctx", 2) end
  local self = setmetatable({
    _p = ffi.gc(out[0], C.sp_ctx_free),
    _kind = "context",
    _out = ffi.new("sp_tensor*[1]"),
    _out2 = ffi.new("sp_tensor*[1]"),
    _stats = ffi.new("sp_ctx_stats"),
    _xs = ffi.new("sp_tensor*[16]"), _xs_cap = 16,
  }, Ctx)
  if M.default_device ~= 0 and C.sp_ctx_set_device(self._p, M.default_device) ~= 0 then fail("sprint.ctx", 2) end
  C.sp_ctx_get_stats(self._p, self._stats)
  self._gen = tonumber(self._stats.generation)
  return self
end

-- The context pointer (errors at the caller of the public method).
local function cp(self, what)
  if getmetatable(self) ~= Ctx then error(what .. ": called on a non-context (use ':')", 3) end
  local p = self._p
  if p == nil then error(what .. ": the context was freed", 3) end
  return p
end

local function flag(v, name, what)
  if v == nil or v == false or v == 0 then return 0 end
  if v == true or v == 1 then return 1 end
  error(what .. ": argument '" .. name .. "' must be a boolean, got " .. tostring(v), 3)
end

local function num(v, name, what)
  if type(v) ~= "number" then error(what .. ": argument '" .. name .. "' must be a number, got " .. type(v), 3) end
  return v
end

local function int(v, name, what)
  if type(v) ~= "number" or v % 1 ~= 0 then
    error(what .. ": argument '" .. name .. "' must be an integer, got " .. tostring(v), 3)
  end
  return v
end

-- ---- state -----------------------------------------------------------------------------------

-- Forgets the tape and recycles the arena: every arena tensor made so far becomes dead.
function Ctx:reset()
  local p = cp(self, "ctx:reset")
  if C.sp_ctx_reset(p) ~= 0 then fail("ctx:reset", 2) end
  C.sp_ctx_get_stats(p, self._stats)
  self._gen = tonumber(self._stats.generation)
  return self
end

function Ctx:generation() cp(self, "ctx:generation"); return self._gen end

-- {generation, tape_len, arena_used, arena_capacity, arena_mallocs}
function Ctx:stats()
  local p = cp(self, "ctx:stats")
  local s = self._stats
  C.sp_ctx_get_stats(p, s)
  return {
    generation = tonumber(s.generation), tape_len = tonumber(s.tape_len),
    arena_used = tonumber(s.arena_used), arena_capacity = tonumber(s.arena_capacity),
    arena_mallocs = tonumber(s.arena_mallocs),
  }
end

-- ctx:profile(true) clears the per-op profile and starts it, ctx:profile(false) stops it;
-- ctx:profile_rows() -> { {op, calls, backwards, forward_s, backward_s, flops, bytes}, ... }
-- in order of first appearance (see sp_ctx_profile in sprint.h for what each op is charged).
function Ctx:profile(on)
  local p = cp(self, "ctx:profile")
  if C.sp_ctx_profile(p, flag(on, "on", "ctx:profile")) ~= 0 then fail("ctx:profile", 2) end
  return self
end

function Ctx:profile_rows()
  local p = cp(self, "ctx:profile_rows")
  local buf = ffi.new("sp_profile_row[64]")
  local n = C.sp_ctx_profile_rows(p, buf, 64)
  local rows = {}
  for i = 0, math.min(n, 64) - 1 do
    local r = buf[i]
    rows[#rows + 1] = {
      op = ffi.string(r.op), calls = tonumber(r.calls), backwards = tonumber(r.backwards),
      forward_s = r.forward_s, backward_s = r.backward_s, flops = r.flops, bytes = r.bytes,
    }
  end
  return rows
end

-- ctx:train(true|false) sets training mode (dropout on/off); ctx:train() reads it.
function Ctx:train(on)
  local p = cp(self, "ctx:train")
  if on == nil then return C.sp_ctx_training(p) ~= 0 end
  C.sp_ctx_set_training(p, on and 1 or 0)
  return self
end
function Ctx:eval() C.sp_ctx_set_training(cp(self, "ctx:eval"), 0); return self end
function Ctx:training() return C.sp_ctx_training(cp(self, "ctx:training")) ~= 0 end

function Ctx:grad_enabled() return C.sp_ctx_grad_enabled(cp(self, "ctx:grad_enabled")) ~= 0 end
function Ctx:set_grad_enabled(on)
  C.sp_ctx_set_grad_enabled(cp(self, "ctx:set_grad_enabled"), on and 1 or 0)
  return self
end

-- ctx:no_grad(fn, ...): runs fn(...) with recording off (restored even if fn errors) and
-- returns its results.
function Ctx:no_grad(fn, ...)
  local p = cp(self, "ctx:no_grad")
  if type(fn) ~= "function" then error("ctx:no_grad: argument 'fn' must be a function", 2) end
  local was = C.sp_ctx_grad_enabled(p)
  C.sp_ctx_set_grad_enabled(p, 0)
  local res = { pcall(fn, ...) }
  if self._p ~= nil then C.sp_ctx_set_grad_enabled(p, was) end
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, table.maxn(res))
end

-- The context's generator (dropout masks come from it).
function Ctx:rng() return rng._of_ctx(self, C.sp_ctx_rng(cp(self, "ctx:rng"))) end

-- Frees the context now (idempotent); its arena tensors become dead.
function Ctx:free()
  local p = self._p
  if p == nil then return end
  self._p = nil
  self._gen = -1
  ffi.gc(p, nil)
  C.sp_ctx_free(p)
end

function Ctx:__tostring()
  if self._p == nil then return "sprint.ctx(freed)" end
  return "sprint.ctx(generation " .. tostring(self._gen) .. ")"
end

-- ---- arena tensors made from Lua -------------------------------------------------------------

-- ctx:tensor(shape [, dtype]): a zero-filled arena tensor (no malloc in steady state).
function Ctx:tensor(shape, dtype)
  local p = cp(self, "ctx:tensor")
  local dt = parse_dtype(dtype, 2)
  local nd = parse_shape(shape, 2)
  local out = self._out
  if C.sp_ctx_tensor(p, out, dt, nd, shape_buf) ~= 0 then fail("ctx:tensor", 2) end
  return wrap_arena(self, out[0])
end

-- ctx:from(values [, shape] [, dtype]): an arena tensor holding values (a flat or nested list).
function Ctx:from(values, shape, dtype)
  local p = cp(self, "ctx:from")
  if type(values) ~= "table" then error("ctx:from: values must be a table, got " .. type(values), 2) end
  if type(shape) == "string" then shape, dtype = nil, shape end
  if shape == nil then
    shape = {}
    local v = values
    while type(v) == "table" do shape[#shape + 1] = #v; v = v[1] end
  end
  local dt = parse_dtype(dtype, 2)
  local nd, n = parse_shape(shape, 2)
  local out = self._out
  if C.sp_ctx_tensor(p, out, dt, nd, shape_buf) ~= 0 then fail("ctx:from", 2) end
  local t = wrap_arena(self, out[0])
  tensor._store(t:data(), dt == 1, values, n, 2)
  return t
end

-- ---- autograd --------------------------------------------------------------------------------

-- Gradients of the scalar loss accumulate into every tensor that requires grad.
function Ctx:backward(loss)
  local p = cp(self, "ctx:backward")
  if C.sp_backward(p, arg(self, loss, "loss", "ctx:backward")) ~= 0 then fail("ctx:backward", 2) end
end

-- ---- ops (outputs before inputs in C; here the result is returned) -------------------------

function Ctx:matmul(a, b, trans_a, trans_b)
  local p, w = cp(self, "ctx:matmul"), "ctx:matmul"
  local out = self._out
  if C.sp_matmul(p, out, arg(self, a, "a", w), arg(self, b, "b", w), flag(trans_a, "trans_a", w),
      flag(trans_b, "trans_b", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- x (..., Din) w^T + b; b may be nil.
function Ctx:linear(x, w, b)
  local p, what = cp(self, "ctx:linear"), "ctx:linear"
  local out = self._out
  if C.sp_linear(p, out, arg(self, x, "x", what), arg(self, w, "w", what), optarg(self, b, "b", what)) ~= 0 then
    fail(what, 2)
  end
  return wrap_arena(self, out[0])
end

function Ctx:add(a, b)
  local p = cp(self, "ctx:add")
  local out = self._out
  if C.sp_add(p, out, arg(self, a, "a", "ctx:add"), arg(self, b, "b", "ctx:add")) ~= 0 then fail("ctx:add", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:sub(a, b)
  local p = cp(self, "ctx:sub")
  local out = self._out
  if C.sp_sub(p, out, arg(self, a, "a", "ctx:sub"), arg(self, b, "b", "ctx:sub")) ~= 0 then fail("ctx:sub", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:mul(a, b)
  local p = cp(self, "ctx:mul")
  local out = self._out
  if C.sp_mul(p, out, arg(self, a, "a", "ctx:mul"), arg(self, b, "b", "ctx:mul")) ~= 0 then fail("ctx:mul", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:scale(a, s)
  local p = cp(self, "ctx:scale")
  local out = self._out
  if C.sp_scale(p, out, arg(self, a, "a", "ctx:scale"), num(s, "s", "ctx:scale")) ~= 0 then fail("ctx:scale", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:relu(x)
  local p = cp(self, "ctx:relu")
  local out = self._out
  if C.sp_relu(p, out, arg(self, x, "x", "ctx:relu")) ~= 0 then fail("ctx:relu", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:gelu(x)
  local p = cp(self, "ctx:gelu")
  local out = self._out
  if C.sp_gelu(p, out, arg(self, x, "x", "ctx:gelu")) ~= 0 then fail("ctx:gelu", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:sigmoid(x)
  local p = cp(self, "ctx:sigmoid")
  local out = self._out
  if C.sp_sigmoid(p, out, arg(self, x, "x", "ctx:sigmoid")) ~= 0 then fail("ctx:sigmoid", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:tanh(x)
  local p = cp(self, "ctx:tanh")
  local out = self._out
  if C.sp_tanh(p, out, arg(self, x, "x", "ctx:tanh")) ~= 0 then fail("ctx:tanh", 2) end
  return wrap_arena(self, out[0])
end

-- Softmax over the last axis; key_mask int32 (B, N) or nil; causal boolean.
function Ctx:softmax(x, key_mask, causal)
  local p, w = cp(self, "ctx:softmax"), "ctx:softmax"
  local out = self._out
  if C.sp_softmax(p, out, arg(self, x, "x", w), optarg(self, key_mask, "key_mask", w), flag(causal, "causal", w)) ~= 0 then
    fail(w, 2)
  end
  return wrap_arena(self, out[0])
end

function Ctx:log_softmax(x, key_mask, causal)
  local p, w = cp(self, "ctx:log_softmax"), "ctx:log_softmax"
  local out = self._out
  if C.sp_log_softmax(p, out, arg(self, x, "x", w), optarg(self, key_mask, "key_mask", w), flag(causal, "causal", w)) ~= 0 then
    fail(w, 2)
  end
  return wrap_arena(self, out[0])
end

-- Layer norm over the last axis; eps defaults to 1e-5.
function Ctx:layernorm(x, weight, bias, eps)
  local p, w = cp(self, "ctx:layernorm"), "ctx:layernorm"
  local out = self._out
  if eps == nil then eps = 1e-5 end
  if C.sp_layernorm(p, out, arg(self, x, "x", w), arg(self, weight, "weight", w), arg(self, bias, "bias", w),
      num(eps, "eps", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- weight (V, D) rows picked by int32 idx; padding_idx defaults to -1 (none).
function Ctx:embedding(weight, idx, padding_idx)
  local p, w = cp(self, "ctx:embedding"), "ctx:embedding"
  local out = self._out
  if padding_idx == nil then padding_idx = -1 end
  if C.sp_embedding(p, out, arg(self, weight, "weight", w), arg(self, idx, "idx", w),
      int(padding_idx, "padding_idx", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- Inverted dropout with probability p_drop (active only in training mode).
function Ctx:dropout(x, p_drop)
  local p, w = cp(self, "ctx:dropout"), "ctx:dropout"
  local out = self._out
  if C.sp_dropout(p, out, arg(self, x, "x", w), num(p_drop, "p", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- q, k, v (B, L, D); heads; causal boolean; key_mask int32 (B, L) or nil.
function Ctx:attention(q, k, v, heads, causal, key_mask)
  local p, w = cp(self, "ctx:attention"), "ctx:attention"
  local out = self._out
  if C.sp_attention(p, out, arg(self, q, "q", w), arg(self, k, "k", w), arg(self, v, "v", w), int(heads, "heads", w),
      flag(causal, "causal", w), optarg(self, key_mask, "key_mask", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- GRU over x (B, L, Din); mask int32 (B, L) or nil.
function Ctx:gru(x, w_ih, w_hh, b_ih, b_hh, mask)
  local p, w = cp(self, "ctx:gru"), "ctx:gru"
  local out = self._out
  if C.sp_gru(p, out, arg(self, x, "x", w), arg(self, w_ih, "w_ih", w), arg(self, w_hh, "w_hh", w),
      arg(self, b_ih, "b_ih", w), arg(self, b_hh, "b_hh", w), optarg(self, mask, "mask", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

function Ctx:sum(x)
  local p = cp(self, "ctx:sum")
  local out = self._out
  if C.sp_sum(p, out, arg(self, x, "x", "ctx:sum")) ~= 0 then fail("ctx:sum", 2) end
  return wrap_arena(self, out[0])
end

function Ctx:mean(x)
  local p = cp(self, "ctx:mean")
  local out = self._out
  if C.sp_mean(p, out, arg(self, x, "x", "ctx:mean")) ~= 0 then fail("ctx:mean", 2) end
  return wrap_arena(self, out[0])
end

-- Reduction over one axis (0-based as in C; negative counts from the end).
function Ctx:sum_axis(x, axis)
  local p, w = cp(self, "ctx:sum_axis"), "ctx:sum_axis"
  local out = self._out
  if C.sp_sum_axis(p, out, arg(self, x, "x", w), int(axis, "axis", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

function Ctx:mean_axis(x, axis)
  local p, w = cp(self, "ctx:mean_axis"), "ctx:mean_axis"
  local out = self._out
  if C.sp_mean_axis(p, out, arg(self, x, "x", w), int(axis, "axis", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- ctx:reshape(x, {d1, ...}): a view with the same data; one dimension may be -1 (inferred).
function Ctx:reshape(x, shape)
  local p, w = cp(self, "ctx:reshape"), "ctx:reshape"
  local px = arg(self, x, "x", w)
  if type(shape) ~= "table" then error(w .. ": argument 'shape' must be a table", 2) end
  local infer
  for i = 1, #shape do
    if shape[i] == -1 then
      if infer then error(w .. ": at most one dimension may be -1", 2) end
      infer = i
    end
  end
  if infer then
    local known = 1
    for i = 1, #shape do if i ~= infer then known = known * shape[i] end end
    local n = tonumber(C.sp_tensor_numel(px))
    if known == 0 or n % known ~= 0 then
      error(w .. ": cannot infer the -1 dimension: " .. n .. " elements do not divide by " .. known, 2)
    end
    local s = {}
    for i = 1, #shape do s[i] = shape[i] end
    s[infer] = n / known
    shape = s
  end
  local nd = parse_shape(shape, 2)
  local out = self._out
  if C.sp_reshape(p, out, px, nd, shape_buf) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- ctx:concat({t1, t2, ...}, axis)
function Ctx:concat(list, axis)
  local p, w = cp(self, "ctx:concat"), "ctx:concat"
  if type(list) ~= "table" or getmetatable(list) == tensor.Tensor then
    error(w .. ": argument 'list' must be a list of tensors", 2)
  end
  local n = #list
  if n < 1 then error(w .. ": argument 'list' is empty", 2) end
  if n > self._xs_cap then
    self._xs = ffi.new("sp_tensor*[?]", n)
    self._xs_cap = n
  end
  local xs = self._xs
  for i = 1, n do xs[i - 1] = arg(self, list[i], "list[" .. i .. "]", w) end
  local out = self._out
  local rc = C.sp_concat(p, out, xs, n, int(axis, "axis", w))
  for i = 0, n - 1 do xs[i] = nil end
  if rc ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- ctx:slice(x, axis, start, len): 0-based start along a 0-based axis, as in C.
function Ctx:slice(x, axis, start, len)
  local p, w = cp(self, "ctx:slice"), "ctx:slice"
  local out = self._out
  if C.sp_slice(p, out, arg(self, x, "x", w), int(axis, "axis", w), int(start, "start", w), int(len, "len", w)) ~= 0 then
    fail(w, 2)
  end
  return wrap_arena(self, out[0])
end

-- x (B, L, D) at int32 positions pos (B) (0-based) -> (B, D).
function Ctx:take_positions(x, pos)
  local p, w = cp(self, "ctx:take_positions"), "ctx:take_positions"
  local out = self._out
  if C.sp_take_positions(p, out, arg(self, x, "x", w), arg(self, pos, "pos", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- logits (N, C), int32 targets (N); rows with target == ignore_index (default -100) are skipped.
function Ctx:cross_entropy(logits, targets, ignore_index)
  local p, w = cp(self, "ctx:cross_entropy"), "ctx:cross_entropy"
  local out = self._out
  if ignore_index == nil then ignore_index = -100 end
  if C.sp_cross_entropy(p, out, arg(self, logits, "logits", w), arg(self, targets, "targets", w),
      int(ignore_index, "ignore_index", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- Mean BCE-with-logits against soft targets; weight (same shape) or nil.
function Ctx:bce_logits(logits, targets, weight)
  local p, w = cp(self, "ctx:bce_logits"), "ctx:bce_logits"
  local out = self._out
  if C.sp_bce_logits(p, out, arg(self, logits, "logits", w), arg(self, targets, "targets", w),
      optarg(self, weight, "weight", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- cos(a_i, b_j): a (N, D), b (M, D) -> (N, M); eps defaults to 1e-8.
function Ctx:cosine_matrix(a, b, eps)
  local p, w = cp(self, "ctx:cosine_matrix"), "ctx:cosine_matrix"
  local out = self._out
  if eps == nil then eps = 1e-8 end
  if C.sp_cosine_matrix(p, out, arg(self, a, "a", w), arg(self, b, "b", w), num(eps, "eps", w)) ~= 0 then
    fail(w, 2)
  end
  return wrap_arena(self, out[0])
end

-- SPRINT's phi: x where x > tau, else 0 (gradient [x > tau]; the jump is not differentiated).
function Ctx:threshold(x, tau)
  local p, w = cp(self, "ctx:threshold"), "ctx:threshold"
  local out = self._out
  if C.sp_threshold(p, out, arg(self, x, "x", w), num(tau, "tau", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- SPRINT's L_ortho over the rows of e (C, D): -mean_{i != j} |n_i - n_j|^2 of the L2-normalised
-- rows (norms clamped below by eps, default 1e-8); 0 when C < 2.
function Ctx:ortho_loss(e, eps)
  local p, w = cp(self, "ctx:ortho_loss"), "ctx:ortho_loss"
  local out = self._out
  if eps == nil then eps = 1e-8 end
  if C.sp_ortho_loss(p, out, arg(self, e, "e", w), num(eps, "eps", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0])
end

-- Row-wise top-k of x (N, C): returns values (N, k) f32 and 0-based indices (N, k) i32.
function Ctx:topk(x, k)
  local p, w = cp(self, "ctx:topk"), "ctx:topk"
  local out, out2 = self._out, self._out2
  if C.sp_topk(p, out, out2, arg(self, x, "x", w), int(k, "k", w)) ~= 0 then fail(w, 2) end
  return wrap_arena(self, out[0]), wrap_arena(self, out2[0])
end

return M
