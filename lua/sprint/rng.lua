-- rng.lua — the engine's counter-based Philox generator from Lua: sprint.rng(seed) for data
-- generation and layer initialisation, ctx:rng() for the context's own stream.
local ffi = require "ffi"
local C = require("sprint.lib").C

local M = {}
local Rng = {}
Rng.__index = Rng
M.Rng = Rng

-- sprint.rng(seed): a standalone generator (its state lives in Lua-managed memory).
function M.new(seed)
  if seed ~= nil and type(seed) ~= "number" then error("sprint.rng: seed must be a number", 2) end
  local r = ffi.new("sp_rng[1]")
  C.sp_rng_init(r, seed or 0)
  return setmetatable({ _rng = r, _keep = r }, Rng)
end

-- A generator object over a context's sp_rng* (keeps the context object alive).
function M._of_ctx(ctx, p)
  return setmetatable({ _rng = p, _keep = ctx }, Rng)
end

function Rng:u32() return C.sp_rng_u32(self._rng) end
-- An integer uniform in [0, n).
function Rng:below(n)
  if type(n) ~= "number" or n < 1 or n > 4294967295 then error("rng:below: n must be in 1..2^32-1", 2) end
  return C.sp_rng_below(self._rng, n)
end
-- An integer uniform in [lo, hi] (Lua's math.random(lo, hi) convention).
function Rng:int(lo, hi)
  if hi == nil then lo, hi = 1, lo end
  return lo + C.sp_rng_below(self._rng, hi - lo + 1)
end
-- A float uniform in [0, 1).
function Rng:uniform() return C.sp_rng_u32(self._rng) * 2.3283064365386963e-10 end
function Rng:seed() return tonumber(self._rng[0].seed) end
function Rng:counter() return tonumber(self._rng[0].counter) end

return M
