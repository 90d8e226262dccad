-- bench_data.lua — dataset speed: preparing Beauty and Yelp from the raw files, loading the
-- prepared cache, and producing one training epoch's batches (Beauty, B = 256, L = 50, every
-- prefix an example, one uniform and one hard negative). Medians of repeated runs, wall time,
-- plus the process's peak memory. Run: build/sprint run tools/bench_data.lua
local ffi = require "ffi"
local sprint = require "sprint"
local data = sprint.data
local C = sprint.lib.C

local clock = require "sprint.clock"
local now, median, peak_rss_mib, cpu_model = clock.now, clock.median, clock.peak_mib, clock.cpu_model

print(string.format("machine: %s; sprint %s", cpu_model(), sprint.version()))
local reps = tonumber((SPRINT_CLI and SPRINT_CLI.args and SPRINT_CLI.args[1]) or "5")

local function time_prepare(name)
  local ts_ = {}
  local ds
  for _ = 1, reps do
    local t0 = now()
    ds = data.prepare(name)
    ts_[#ts_ + 1] = now() - t0
  end
  return median(ts_), ds
end

for _, name in ipairs({ "beauty", "yelp" }) do
  local ok, t, ds = pcall(time_prepare, name)
  if not ok then
    print(name .. ": " .. tostring(t))
  else
    local loads = {}
    for _ = 1, 20 do
      local t0 = now()
      local again = data.load(name)
      loads[#loads + 1] = now() - t0
      assert(again.from_cache)
      again:free()
    end
    print(string.format("%-7s prepare from raw files %7.1f ms   load prepared %6.2f ms   (%d sessions, %d items)",
      name, t * 1e3, median(loads) * 1e3, ds:n_sessions(), ds:n_items()))
  end
end

-- one epoch of training batches on Beauty
local ok, ds = pcall(data.load, "beauty")
if ok then
  local cfg = ffi.new("sp_batch_config")
  C.sp_batch_config_default(cfg)
  local b = ffi.new("sp_batcher*[1]")
  assert(C.sp_batcher_new(b, ds._p, cfg) == 0, sprint.lib.last_error())
  local batcher = ffi.gc(b[0], C.sp_batcher_free)
  local B, L = cfg.batch_size, cfg.max_len
  local seq, last, tg, neg = sprint.tensor.new({ B, L }, "i32"), sprint.tensor.new({ B }, "i32"),
    sprint.tensor.new({ B }, "i32"), sprint.tensor.new({ B, 2 }, "i32")
  local rows = ffi.new("int[1]")
  local times = {}
  for epoch = 1, 15 do
    local t0 = now()
    C.sp_batcher_start_epoch(batcher, epoch)
    repeat
      assert(C.sp_batcher_next(batcher, seq._p, last._p, tg._p, neg._p, nil, rows) == 0)
    until rows[0] == 0
    times[#times + 1] = now() - t0
  end
  print(string.format("beauty  one training epoch of batches: %.2f ms (%d examples, %d batches of %d x %d)",
    median(times) * 1e3, tonumber(C.sp_batcher_n_examples(batcher)), tonumber(C.sp_batcher_n_batches(batcher)), B, L))
end
print(string.format("peak memory (VmHWM): %.1f MiB", peak_rss_mib()))
