-- bench_binding.lua — what the Lua binding costs per call: a tiny op (ctx:add on 1-element
-- tensors), ctx:reset and element reads through the wrappers versus the same C functions
-- called directly through the FFI namespace (a JIT-compiled FFI call costs what a C call
-- costs, so that is the C-loop baseline), with the JIT on and off; then one training step of
-- the toy Transformer split into batch building, the estimated wrapper overhead and the rest.
-- Median of several repeats. Usage: build/sprint run tools/bench_binding.lua [repeats]
local ffi = require "ffi"
local sprint = require "sprint"
local toy = require "sprint.toy"
local C = sprint.lib.C
local T = sprint.tensor

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } sprint_bench_timespec;
int clock_gettime(int clk, sprint_bench_timespec *ts);
]]
local ts = ffi.new("sprint_bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local REPEATS = tonumber(arg and arg[1]) or 7
sprint.set_num_threads(1)

local function median(xs)
  table.sort(xs)
  return xs[math.floor((#xs + 1) / 2)]
end

-- ns per iteration of raw(n) and wrapped(n), and of their difference: medians over REPEATS
-- interleaved runs (after a warm-up), so slow drift of the machine cancels in the difference.
local function bench(raw, wrapped, n)
  raw(n)
  wrapped(n)
  local rs, ws, ds = {}, {}, {}
  for r = 1, REPEATS do
    collectgarbage()
    local t0 = now()
    raw(n)
    local t1 = now()
    wrapped(n)
    local t2 = now()
    rs[r], ws[r] = (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9
    ds[r] = ws[r] - rs[r]
  end
  return median(rs), median(ws), median(ds)
end

local ctx = sprint.ctx()
local a, b = T.from({ 1 }, { 1 }), T.from({ 2 }, { 1 })
local N = 200000
local CHUNK = 1000 -- ops between resets, so the arena stays small

-- Both loops keep their last 8 results, as real code keeps what ops return (otherwise the JIT
-- sinks the wrapper's allocation and the comparison flatters the wrapper).
local keep = {}
local function raw_add(n)
  local cp, out, pa, pb = ctx._p, ffi.new("sp_tensor*[1]"), a._p, b._p
  for i = 1, n do
    if i % CHUNK == 0 then C.sp_ctx_reset(cp) end
    if C.sp_add(cp, out, pa, pb) ~= 0 then error("sp_add failed") end
    keep[i % 8] = out[0]
  end
  C.sp_ctx_reset(cp)
  ctx:reset() -- resync the Lua generation mirror
end
local function wrapped_add(n)
  local c = ctx
  for i = 1, n do
    if i % CHUNK == 0 then c:reset() end
    keep[i % 8] = c:add(a, b)
  end
  c:reset()
end
local function raw_reset(n)
  local cp = ctx._p
  for _ = 1, n do C.sp_ctx_reset(cp) end
  ctx:reset()
end
local function wrapped_reset(n)
  local c = ctx
  for _ = 1, n do c:reset() end
end
local t2 = T.from({ 1, 2, 3, 4 }, { 2, 2 })
local sink = 0
local function raw_get(n)
  local d = t2:data()
  local s = 0
  for i = 1, n do s = s + d[2 + i % 2] end
  sink = sink + s
end
local function wrapped_get(n)
  local t = t2
  local s = 0
  for i = 1, n do s = s + t:get(2, 1 + i % 2) end
  sink = sink + s
end

local rows = {}
local function row(name, raw, wrapped, diff)
  rows[#rows + 1] = string.format("%-34s %10.1f %10.1f %10.1f", name, raw, wrapped, diff)
  return diff
end

print(string.format("sprint %s, %s, %d repeats, median ns per call", sprint.version(), jit.version, REPEATS))
print(string.format("%-34s %10s %10s %10s", "call", "C via FFI", "wrapper", "overhead"))
local add_over = row("ctx:add 1-element (JIT on)", bench(raw_add, wrapped_add, N))
row("ctx:reset (JIT on)", bench(raw_reset, wrapped_reset, N))
row("tensor:get 2-D (JIT on)", bench(raw_get, wrapped_get, N * 10))
jit.off()
jit.flush()
row("ctx:add 1-element (interpreter)", bench(raw_add, wrapped_add, N / 4))
row("ctx:reset (interpreter)", bench(raw_reset, wrapped_reset, N / 4))
jit.on()
for _, r in ipairs(rows) do print(r) end

-- ---- one training step of the toy Transformer -------------------------------------------------
local cfg = { vocab = 16, len = 8, dim = 32, layers = 2, heads = 2, batch = 32, lr = 3e-3 }
local P = sprint.nn.params(1)
local model = toy.model(P, cfg)
local opt = sprint.optim.adam(P, { lr = cfg.lr })
local tctx = sprint.ctx(1)
local data = sprint.rng(2)

local batch_time = 0
local function step()
  tctx:reset()
  local t0 = now()
  local tokens, targets = toy.batch(tctx, data, cfg.batch, cfg.len, cfg.vocab)
  batch_time = batch_time + (now() - t0)
  local loss = model:loss(tctx, tokens, targets)
  opt:zero_grad()
  tctx:backward(loss)
  opt:step()
end

-- Binding calls per step: count every call of a wrapper method during one step.
local counted = 0
local patched = {}
local function patch(tbl)
  for k, f in pairs(tbl) do
    if type(f) == "function" and k:sub(1, 1) ~= "_" then
      patched[#patched + 1] = { tbl, k, f }
      tbl[k] = function(...) counted = counted + 1; return f(...) end
    end
  end
end
patch(sprint.ctx.Ctx)
for _, cls in ipairs { sprint.nn.Linear.class, sprint.nn.Embedding.class, sprint.nn.LayerNorm.class,
                       sprint.nn.TransformerBlock.class } do patch(cls) end
patch(sprint.optim.Adam)
patch(sprint.nn.Params)
step()
local calls = counted
for _, p in ipairs(patched) do p[1][p[2]] = p[3] end

local STEPS = 50
local xs, bs = {}, {}
for _ = 1, 20 do step() end
for r = 1, REPEATS do
  batch_time = 0
  local t0 = now()
  for _ = 1, STEPS do step() end
  xs[r] = (now() - t0) / STEPS * 1e6
  bs[r] = batch_time / STEPS * 1e6
end
local total, batch = median(xs), median(bs)
local overhead = calls * math.max(add_over, 0) / 1e3
print(string.format("toy step (B=%d L=%d d=%d, %d blocks, %d params): %.1f us total", cfg.batch, cfg.len, cfg.dim,
  cfg.layers, P:numel(), total))
print(string.format("  batch building in Lua:              %8.1f us (%4.1f%%)", batch, 100 * batch / total))
print(string.format("  binding calls per step:             %8d", calls))
print(string.format("  estimated wrapper overhead:         %8.1f us (%4.1f%%) = calls x ctx:add overhead", overhead,
  100 * overhead / total))
print(string.format("  C (forward, backward, adam):        %8.1f us (%4.1f%%)", total - batch - overhead,
  100 * (total - batch - overhead) / total))
if sink < 0 then print(sink) end
