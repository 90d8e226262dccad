-- tensor.lua — Lua objects over sp_tensor*: heap tensors (owned, ffi.gc finaliser plus an
-- idempotent :free()), arena tensors (made by ops; dead after ctx:reset(), which Lua checks
-- before touching them) and views (tensors another object owns: parameters, gradients).
-- Element access (get/set/totable/shape/size) is 1-based like Lua tables; ctx ops take the
-- C arguments of sprint.h unchanged (0-based axes and offsets, negative axes from the end).
local ffi = require "ffi"
local lib = require "sprint.lib"
local C = lib.C

local M = {}
local Tensor = {}
Tensor.__index = Tensor
M.Tensor = Tensor

local F32, I32 = 0, 1
local shape_buf = ffi.new("int[4]")
local floatp, intp = ffi.typeof("float*"), ffi.typeof("int32_t*")

-- ---- internal: wrapping and liveness --------------------------------------------------------

-- A heap tensor that Lua owns.
local function wrap_heap(p)
  return setmetatable({ _p = ffi.gc(p, C.sp_tensor_free), _heap = true }, Tensor)
end
-- An arena tensor of context object ctx, valid while ctx._gen is unchanged.
local function wrap_arena(ctx, p)
  return setmetatable({ _p = p, _ctx = ctx, _gen = ctx._gen }, Tensor)
end
-- A tensor owned by another object (a parameter store, a tensor's gradient): valid while the
-- owner is alive, and never freed from Lua.
local function wrap_view(owner, p)
  return setmetatable({ _p = p, _owner = owner }, Tensor)
end
M._wrap_heap, M._wrap_arena, M._wrap_view = wrap_heap, wrap_arena, wrap_view

-- Why t cannot be used, or nil when it can.
local function why_dead(t)
  if t._p == nil then
    return t._heap and "it was freed with :free()" or "it was released"
  end
  local c = t._ctx
  if c ~= nil and t._gen ~= c._gen then
    if c._p == nil then return "its context was freed" end
    return "it is an arena tensor from generation " .. tostring(t._gen)
      .. ", used after ctx:reset() (the context is at generation " .. tostring(c._gen)
      .. "); keep results past a reset with :clone()"
  end
  local o = t._owner
  while o ~= nil do
    if o._p == nil then return "its owner (" .. tostring(o._kind or "tensor") .. ") was freed" end
    local oc = o._ctx
    if oc ~= nil and o._gen ~= oc._gen then return "its owner is an arena tensor used after ctx:reset()" end
    o = o._owner
  end
  return nil
end
M._why_dead = why_dead

-- The pointer of tensor argument t of method `what` for context object ctx (nil: any
-- context); errors name the argument and blame the caller of the public method.
local function checked(ctx, t, name, what, level)
  if getmetatable(t) ~= Tensor then
    error(what .. ": argument '" .. name .. "' must be a sprint tensor, got " .. type(t), level)
  end
  local p = t._p
  local c = t._ctx
  if p == nil or (c ~= nil and t._gen ~= c._gen) or t._owner ~= nil then
    local why = why_dead(t)
    if why then error(what .. ": argument '" .. name .. "' cannot be used: " .. why, level) end
  end
  if c ~= nil and ctx ~= nil and c ~= ctx then
    error(what .. ": argument '" .. name .. "' is an arena tensor of another context; "
      .. ":clone() it into a heap tensor first", level)
  end
  return p
end
-- Both call `checked` as a tail call, so level 3 is the caller of the public method.
local function arg(ctx, t, name, what) return checked(ctx, t, name, what, 3) end
-- Same for an optional argument: nil passes through (NULL in C).
local function optarg(ctx, t, name, what)
  if t == nil then return nil end
  return checked(ctx, t, name, what, 3)
end
M._arg, M._optarg = arg, optarg

-- The pointer of self for a tensor method (errors at the method's caller).
local function self_ptr(t, what)
  if getmetatable(t) ~= Tensor then error("tensor:" .. what .. ": called on a non-tensor (use ':')", 3) end
  local p = t._p
  local c = t._ctx
  if p == nil or (c ~= nil and t._gen ~= c._gen) or t._owner ~= nil then
    local why = why_dead(t)
    if why then error("tensor:" .. what .. ": this tensor cannot be used: " .. why, 3) end
  end
  return p
end

-- ---- internal: shapes and dtypes --------------------------------------------------------------

local function parse_dtype(d, level)
  if d == nil or d == "f32" or d == "float32" or d == "float" then return F32 end
  if d == "i32" or d == "int32" or d == "int" then return I32 end
  error("dtype must be 'f32' or 'i32', got " .. tostring(d), level + 1)
end
M._parse_dtype = parse_dtype

-- Fills shape_buf from a Lua list of 1..4 non-negative integers; returns ndim and numel.
local function parse_shape(shape, level)
  if type(shape) ~= "table" then
    error("shape must be a table of 1 to 4 dimensions, got " .. type(shape), level + 1)
  end
  local nd = #shape
  if nd < 1 or nd > 4 then error("shape must have 1 to 4 dimensions, got " .. nd, level + 1) end
  local n = 1
  for i = 1, nd do
    local d = shape[i]
    if type(d) ~= "number" or d < 0 or d % 1 ~= 0 then
      error("shape[" .. i .. "] must be a non-negative integer, got " .. tostring(d), level + 1)
    end
    shape_buf[i - 1] = d
    n = n * d
  end
  return nd, n
end
M._parse_shape = parse_shape
M._shape_buf = shape_buf

-- Caches shape, numel, dtype and the typed data pointer (none of them change for a tensor).
local function meta(t, p)
  local nd = C.sp_tensor_ndim(p)
  local s = {}
  for i = 1, nd do s[i] = C.sp_tensor_dim(p, i - 1) end
  t._shape = s
  t._numel = tonumber(C.sp_tensor_numel(p))
  t._i32 = C.sp_tensor_dtype(p) == I32
  t._data = t._i32 and C.sp_tensor_i32(p) or C.sp_tensor_f32(p)
  return s
end

-- The data pointer for reading. A GPU tensor (C.sp_tensor_device ~= 0) is read through a host
-- copy refreshed on every call (it waits for the GPU); the pointer is re-read each time, since a
-- parameter store may move its tensors between devices.
local host_copy_of
local scalar_host = {} -- tensor:item()'s host scalars for GPU tensors, by dtype
local function read_ptr(t, p, what)
  if not t._shape then meta(t, p) end
  if C.sp_tensor_device(p) ~= 0 then return host_copy_of(t, p, what) end
  return t._i32 and C.sp_tensor_i32(p) or C.sp_tensor_f32(p)
end
local function write_ptr(t, p, what)
  if C.sp_tensor_device(p) ~= 0 then
    error("tensor:" .. what .. ": the tensor is on the GPU; write it on the host, then move it", 3)
  end
  return read_ptr(t, p, what)
end

-- Flattens nested Lua tables (row-major) into out; returns the count.
local function flatten(v, out, n, level)
  for i = 1, #v do
    local x = v[i]
    if type(x) == "table" then
      n = flatten(x, out, n, level + 1)
    else
      n = n + 1
      out[n] = x
    end
  end
  return n
end

local function infer_shape(values)
  local s, v = {}, values
  while type(v) == "table" do
    s[#s + 1] = #v
    v = v[1]
  end
  return s
end

-- Writes a Lua list (flat or nested) into tensor data of n elements.
local function store(data, is_i32, values, n, level)
  local flat = values
  if type(values[1]) == "table" then
    flat = {}
    flatten(values, flat, 0, level)
  end
  if #flat ~= n then
    error("expected " .. n .. " values, got " .. #flat, level + 1)
  end
  for i = 1, n do
    local x = flat[i]
    if type(x) ~= "number" then
      error("value " .. i .. " is a " .. type(x) .. ", not a number", level + 1)
    end
    if is_i32 and x % 1 ~= 0 then
      error("value " .. i .. " (" .. x .. ") is not an integer for an int32 tensor", level + 1)
    end
    data[i - 1] = x
  end
end
M._store = store

-- ---- construction ---------------------------------------------------------------------------

local out_buf = ffi.new("sp_tensor*[1]")

-- sprint.tensor.new({2, 3} [, "f32"|"i32"]): a zero-filled heap tensor.
function M.new(shape, dtype)
  local dt = parse_dtype(dtype, 2)
  local nd = parse_shape(shape, 2)
  if C.sp_tensor_new(out_buf, dt, nd, shape_buf) ~= 0 then lib.fail("tensor.new", 2) end
  return wrap_heap(out_buf[0])
end
M.zeros = M.new

-- sprint.tensor.from(values [, shape] [, dtype]): a heap tensor holding values, a flat list
-- (shape required... or taken as 1-D) or nested lists (shape inferred).
function M.from(values, shape, dtype)
  if type(values) ~= "table" then error("tensor.from: values must be a table, got " .. type(values), 2) end
  if type(shape) == "string" then shape, dtype = nil, shape end
  shape = shape or infer_shape(values)
  local dt = parse_dtype(dtype, 2)
  local nd, n = parse_shape(shape, 2)
  if C.sp_tensor_new(out_buf, dt, nd, shape_buf) ~= 0 then lib.fail("tensor.from", 2) end
  local t = wrap_heap(out_buf[0])
  meta(t, t._p)
  store(t._data, t._i32, values, n, 2)
  return t
end

function M.new_i32(shape) return M.new(shape, "i32") end
function M.from_i32(values, shape) return M.from(values, shape, "i32") end

-- sprint.tensor.full(shape, value [, dtype])
function M.full(shape, value, dtype)
  local t = M.new(shape, dtype)
  C.sp_tensor_fill(t._p, value)
  return t
end

function M.is(x) return getmetatable(x) == Tensor end

-- ---- methods ---------------------------------------------------------------------------------

function Tensor:shape()
  local p = self_ptr(self, "shape")
  local s = self._shape or meta(self, p)
  local r = {}
  for i = 1, #s do r[i] = s[i] end
  return r
end

-- t:size(i): dimension i (1-based; negative counts from the end).
function Tensor:size(i)
  local p = self_ptr(self, "size")
  local s = self._shape or meta(self, p)
  local nd = #s
  if i == nil then error("tensor:size: give a dimension (1.." .. nd .. ")", 2) end
  if i < 0 then i = nd + 1 + i end
  local d = s[i]
  if d == nil then error("tensor:size: dimension out of range for a " .. nd .. "-D tensor", 2) end
  return d
end

function Tensor:ndim()
  local p = self_ptr(self, "ndim")
  return #(self._shape or meta(self, p))
end

function Tensor:numel()
  local p = self_ptr(self, "numel")
  if not self._shape then meta(self, p) end
  return self._numel
end

function Tensor:dtype()
  local p = self_ptr(self, "dtype")
  if not self._shape then meta(self, p) end
  return self._i32 and "i32" or "f32"
end

function Tensor:is_arena() return self._ctx ~= nil end
function Tensor:is_alive() return why_dead(self) == nil end

-- The raw float* (or int32_t*) data, 0-based. The pointer does not keep the tensor alive:
-- hold on to the tensor while using it, and not across ctx:reset() for arena tensors.
-- On a GPU tensor: a host copy made now (writes to it do not reach the GPU).
function Tensor:data()
  local p = self_ptr(self, "data")
  return read_ptr(self, p, "data")
end

-- Flat offset of 1-based indices (exactly ndim of them).
local function offset(t, s, i, j, k, l, what)
  local nd = #s
  local idx1, idx2, idx3, idx4 = i, j, k, l
  local given = (i ~= nil and 1 or 0) + (j ~= nil and 1 or 0) + (k ~= nil and 1 or 0) + (l ~= nil and 1 or 0)
  if given ~= nd then
    error("tensor:" .. what .. ": a " .. nd .. "-D tensor needs " .. nd .. " indices, got " .. given, 3)
  end
  local off = 0
  for a = 1, nd do
    local x = a == 1 and idx1 or a == 2 and idx2 or a == 3 and idx3 or idx4
    local n = s[a]
    if type(x) ~= "number" or x < 1 or x > n or x % 1 ~= 0 then
      error("tensor:" .. what .. ": index " .. a .. " is " .. tostring(x) .. ", outside 1.." .. n, 3)
    end
    off = off * n + (x - 1)
  end
  return off
end

-- t:get(i [, j [, k [, l]]]), 1-based.
function Tensor:get(i, j, k, l)
  local p = self_ptr(self, "get")
  local s = self._shape or meta(self, p)
  return read_ptr(self, p, "get")[offset(self, s, i, j, k, l, "get")]
end

-- t:set(i [, j ...], value), 1-based; returns t.
function Tensor:set(a, b, c, d, e)
  local p = self_ptr(self, "set")
  local s = self._shape or meta(self, p)
  local nd = #s
  local v
  if nd == 1 then v, b, c, d = b, nil, nil, nil
  elseif nd == 2 then v, c, d = c, nil, nil
  elseif nd == 3 then v, d = d, nil
  else v = e end
  if type(v) ~= "number" then error("tensor:set: the value (argument " .. (nd + 1) .. ") must be a number", 2) end
  write_ptr(self, p, "set")[offset(self, s, a, b, c, d, "set")] = v
  return self
end

-- The single value of a one-element tensor (e.g. a loss).
function Tensor:item()
  local p = self_ptr(self, "item")
  if not self._shape then meta(self, p) end
  if self._numel ~= 1 then error("tensor:item: tensor has " .. self._numel .. " elements, not 1", 2) end
  if C.sp_tensor_device(p) ~= 0 then -- a GPU loss each step: one shared host scalar, no allocation
    local key = self._i32 and "i32" or "f32"
    local h = scalar_host[key]
    if not h then
      shape_buf[0] = 1
      if C.sp_tensor_new(out_buf, C.sp_tensor_dtype(p), 1, shape_buf) ~= 0 then lib.fail("tensor:item", 2) end
      h = wrap_heap(out_buf[0])
      scalar_host[key] = h
    end
    if C.sp_tensor_copy(h._p, p) ~= 0 then lib.fail("tensor:item (reading from the GPU)", 2) end
    return self._i32 and C.sp_tensor_i32(h._p)[0] or C.sp_tensor_f32(h._p)[0]
  end
  return read_ptr(self, p, "item")[0]
end

-- Nested Lua tables following the shape (or one flat list with flat = true).
function Tensor:totable(flat)
  local p = self_ptr(self, "totable")
  local s = self._shape or meta(self, p)
  local data, n = read_ptr(self, p, "totable"), self._numel
  if flat or #s == 1 then
    local r = {}
    for i = 1, n do r[i] = data[i - 1] end
    return r
  end
  local pos = 0
  local function build(axis)
    local r = {}
    if axis == #s then
      for i = 1, s[axis] do r[i] = data[pos]; pos = pos + 1 end
    else
      for i = 1, s[axis] do r[i] = build(axis + 1) end
    end
    return r
  end
  return build(1)
end

-- The gradient as a tensor, or nil when none exists yet.
function Tensor:grad()
  local p = self_ptr(self, "grad")
  local g = C.sp_tensor_grad(p)
  if g == nil then return nil end
  if self._ctx ~= nil then
    local t = wrap_arena(self._ctx, g)
    t._gen = self._gen
    return t
  end
  return wrap_view(self, g)
end

-- t:requires_grad() -> boolean; t:requires_grad(flag) sets it and returns t.
function Tensor:requires_grad(flag)
  local p = self_ptr(self, "requires_grad")
  if flag == nil then return C.sp_tensor_requires_grad(p) ~= 0 end
  if C.sp_tensor_set_requires_grad(p, flag and 1 or 0) ~= 0 then lib.fail("tensor:requires_grad", 2) end
  return self
end

function Tensor:zero_grad()
  local p = self_ptr(self, "zero_grad")
  if C.sp_tensor_zero_grad(p) ~= 0 then lib.fail("tensor:zero_grad", 2) end
  return self
end

function Tensor:fill(value)
  local p = self_ptr(self, "fill")
  if type(value) ~= "number" then error("tensor:fill: value must be a number", 2) end
  if C.sp_tensor_fill(p, value) ~= 0 then lib.fail("tensor:fill", 2) end
  return self
end

-- t:copy(src): src is a tensor of the same dtype and numel, or a Lua list (flat or nested).
function Tensor:copy(src)
  local p = self_ptr(self, "copy")
  if type(src) == "table" and getmetatable(src) ~= Tensor then
    if not self._shape then meta(self, p) end
    store(write_ptr(self, p, "copy"), self._i32, src, self._numel, 2)
    return self
  end
  local q = arg(nil, src, "src", "tensor:copy")
  if C.sp_tensor_copy(p, q) ~= 0 then lib.fail("tensor:copy", 2) end
  return self
end

-- The host copy that reads of a GPU tensor go through: one heap tensor per Lua tensor,
-- refreshed by each read.
host_copy_of = function(t, p, what)
  local h = t._host
  if not h then
    local s = t._shape
    for i = 1, #s do shape_buf[i - 1] = s[i] end
    if C.sp_tensor_new(out_buf, C.sp_tensor_dtype(p), #s, shape_buf) ~= 0 then lib.fail("tensor:" .. what, 3) end
    h = wrap_heap(out_buf[0])
    t._host = h
  end
  if C.sp_tensor_copy(h._p, p) ~= 0 then lib.fail("tensor:" .. what .. " (reading from the GPU)", 3) end
  return t._i32 and C.sp_tensor_i32(h._p) or C.sp_tensor_f32(h._p)
end

-- A heap copy (same shape, dtype and values; no gradient), e.g. to keep a result past a reset.
function Tensor:clone()
  local p = self_ptr(self, "clone")
  local s = self._shape or meta(self, p)
  for i = 1, #s do shape_buf[i - 1] = s[i] end
  if C.sp_tensor_new(out_buf, C.sp_tensor_dtype(p), #s, shape_buf) ~= 0 then lib.fail("tensor:clone", 2) end
  local t = wrap_heap(out_buf[0])
  if C.sp_tensor_copy(t._p, p) ~= 0 then lib.fail("tensor:clone", 2) end
  return t
end

-- The sp_rng* of a sprint.rng / ctx:rng() object (level: as for error, from the caller).
local function rng_ptr(rng, what, level)
  if type(rng) == "table" and rng._rng ~= nil then return rng._rng end
  if type(rng) == "cdata" then return rng end
  error(what .. ": rng must be a sprint rng (sprint.rng(seed) or ctx:rng()), got " .. type(rng), (level or 2) + 1)
end
M._rng_ptr = rng_ptr

function Tensor:fill_uniform(rng, lo, hi)
  local p = self_ptr(self, "fill_uniform")
  if C.sp_tensor_fill_uniform(p, rng_ptr(rng, "tensor:fill_uniform"), lo or 0, hi or 1) ~= 0 then
    lib.fail("tensor:fill_uniform", 2)
  end
  return self
end

function Tensor:fill_normal(rng, mean, std)
  local p = self_ptr(self, "fill_normal")
  if C.sp_tensor_fill_normal(p, rng_ptr(rng, "tensor:fill_normal"), mean or 0, std or 1) ~= 0 then
    lib.fail("tensor:fill_normal", 2)
  end
  return self
end

-- Frees a heap tensor now (idempotent). Arena tensors are only detached (the context recycles
-- their memory); tensors owned by a parameter store or another tensor cannot be freed.
function Tensor:free()
  if getmetatable(self) ~= Tensor then error("tensor:free: called on a non-tensor (use ':')", 2) end
  if self._owner ~= nil then
    error("tensor:free: this tensor is owned by " .. tostring(self._owner._kind or "another tensor")
      .. " and is freed with it", 2)
  end
  local p = self._p
  if p == nil then return end
  self._p, self._data = nil, nil
  if self._heap then
    ffi.gc(p, nil)
    C.sp_tensor_free(p)
  end
end

function Tensor:__tostring()
  local why = why_dead(self)
  if why then return "sprint.tensor(dead: " .. why .. ")" end
  local s = self._shape or meta(self, self._p)
  local kind = self._heap and "heap" or self._ctx and "arena" or "owned"
  return "sprint.tensor(" .. (self._i32 and "i32" or "f32") .. " (" .. table.concat(s, ", ") .. "), " .. kind .. ")"
end

return M
