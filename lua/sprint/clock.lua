-- clock.lua — wall-clock time and machine facts for progress lines and benchmarks: one
-- definition instead of one per script. now() is CLOCK_MONOTONIC seconds (os.clock would add
-- up every thread's CPU time); median of a list; the CPU model; the process's peak memory.
local ffi = require "ffi"

-- Declared under a private name (an asm label), so a recipe may declare libc's
-- clock_gettime itself without a conflicting declaration.
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } sp_clock_timespec;
  int sp_clock_gettime(int clk, sp_clock_timespec *ts) __asm__("clock_gettime");
]]

local M = {}
local ts = ffi.new("sp_clock_timespec")

function M.now()
  ffi.C.sp_clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- The median of a list of numbers (the list is sorted in place).
function M.median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return nil end
  return n % 2 == 1 and xs[(n + 1) / 2] or 0.5 * (xs[n / 2] + xs[n / 2 + 1])
end

local function slurp(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

function M.cpu_model()
  return slurp("/proc/cpuinfo"):match("model name%s*:%s*([^\n]+)") or "unknown"
end

-- Peak resident memory of this process (VmHWM), in MiB.
function M.peak_mib()
  return (tonumber(slurp("/proc/self/status"):match("VmHWM:%s*(%d+)")) or 0) / 1024
end

return M
