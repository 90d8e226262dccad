-- bench_eval.lua — full-ranking evaluation speed on the Beauty and Yelp test splits (d = 64, a
-- random item table, h = the last input item's embedding): eval.rank end to end (batching, the
-- encoder callback, one GEMM over the item table per batch, the rank counts, metrics) and the
-- engine calls alone (sp_rank_full on prepared batches of 256, sp_rank_metrics). Medians, wall
-- time, with the machine and thread count; sampled ranking (20 uniform candidates) for scale.
-- Run: build/sprint run tools/bench_eval.lua [REPEATS]
local ffi = require "ffi"
local sprint = require "sprint"
local eval = require "sprint.eval"
local C = sprint.lib.C

local clock = require "sprint.clock"
local now, median, peak_rss_mib, cpu_model = clock.now, clock.median, clock.peak_mib, clock.cpu_model

local args = (rawget(_G, "SPRINT_CLI") and SPRINT_CLI.args) or arg or {}
local reps = tonumber(args[1] or "21")
local D = 64
print(string.format("machine: %s; %d threads; sprint %s; %s", cpu_model(), sprint.num_threads(), sprint.version(),
  sprint.blas_info()))

local function time(fn)
  fn() -- warm-up
  local t = {}
  for i = 1, reps do
    local t0 = now()
    fn()
    t[i] = now() - t0
  end
  return median(t) * 1e3
end

local function bench(name)
  local ds = sprint.data.load(name)
  local n = ds:n_items()
  local items = sprint.tensor.new({ n + 1, D })
  items:fill_normal(sprint.rng(1), 0, 0.1)
  local ip = items:data()
  local function encode(ctx, batch)
    local h = ctx:tensor({ batch.size, D })
    local hp, sq, last = h:data(), batch.seq:data(), batch.last:data()
    for r = 0, batch.rows - 1 do
      ffi.copy(hp + r * D, ip + sq[r * batch.max_len + last[r]] * D, D * 4)
    end
    return h, items
  end
  local ctx = sprint.ctx(1)
  local res
  local t_full = time(function() res = eval.rank(encode, ds, { ctx = ctx }) end)
  local t_mask = time(function() eval.rank(encode, ds, { ctx = ctx, mask_session_items = true }) end)
  local t_uni = time(function() eval.rank(encode, ds, { ctx = ctx, candidates = "uniform" }) end)

  -- the engine alone: the same batches of 256 prepared beforehand, sp_rank_full on each, metrics
  local batches = {}
  local b = ds:batches { split = "test", batch_size = 256, max_len = 50, prefix_augment = false, shuffle = false,
                         n_uniform_neg = 0, n_hard_neg = 0 }
  for rows in b:epoch(0) do
    local h = sprint.tensor.new({ 256, D })
    local hp, sq, last = h:data(), b.seq:data(), b.last:data()
    for r = 0, rows - 1 do ffi.copy(hp + r * D, ip + sq[r * 50 + last[r]] * D, D * 4) end
    batches[#batches + 1] = { h = h, target = b.target:clone(), rows = rows }
  end
  local rank, all = sprint.tensor.new({ 256 }), ffi.new("float[?]", res.n)
  local cfg = ffi.new("sp_rank_config")
  C.sp_rank_config_default(cfg)
  local ks, out = ffi.new("int[3]", { 5, 10, 20 }), ffi.new("double[10]")
  local t_c = time(function()
    local at = 0
    for _, x in ipairs(batches) do
      ctx:reset()
      assert(C.sp_rank_full(ctx._p, rank._p, x.h._p, items._p, x.target._p, nil, cfg) == 0, sprint.lib.last_error())
      ffi.copy(all + at, rank:data(), x.rows * 4)
      at = at + x.rows
    end
    assert(C.sp_rank_metrics(out, all, at, ks, 3) == 0)
  end)
  local B = res.n
  print(string.format("%-7s %5d test sessions, %6d items: eval.rank %7.2f ms (masked %.2f, 20 uniform candidates %.2f); "
    .. "engine alone (a GEMM + rank counts per batch, metrics) %.2f ms", name, B, n, t_full, t_mask, t_uni, t_c))
  ctx:free()
end

for _, name in ipairs({ "beauty", "yelp" }) do
  local ok, err = pcall(bench, name)
  if not ok then print(name .. ": " .. tostring(err)) end
end
print(string.format("peak memory %.0f MiB (medians of %d runs; batch 256, d = %d)", peak_rss_mib(), reps, D))
