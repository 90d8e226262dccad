-- thread_tuner.lua — runs a training loop's steps at the faster of its thread count and one
-- thread. Under a competing load (another process busy on the cores) the engine's OpenMP
-- threads keep waiting for each other while the scheduler runs the other process, and a
-- 2-thread step can take twice as long as a 1-thread one (tools/bench contended); on a quiet
-- machine more threads win. The engine's results do not depend on the thread count (it sums
-- in a fixed order), so switching changes nothing but the time.
--   local tune = thread_tuner.new()            -- uses sprint.num_threads() as the most
--   for rows in batches:epoch(e) do
--     tune:before()  ... the step ...  tune:after(work)   -- work: e.g. the batch's tokens
--   end
--   tune:finish()                              -- back to the most threads
-- Every `window` steps it measures again: `probe` steps at each count, interleaved, then the
-- rest of the window at the count with the lower median time per unit of work; every
-- `recheck` steps in between, it switches when the chosen count's recent median is slower
-- than the other's probes. opts: window (100), probe (3), recheck (8), enabled (true), clock
-- (a function giving seconds; for tests).
local lib = require "sprint.lib"
local clock = require "sprint.clock"
local C = lib.C

local M = {}
local Tuner = {}
Tuner.__index = Tuner

function M.new(opts)
  opts = opts or {}
  local most = C.sp_get_num_threads()
  local self = setmetatable({ now = opts.clock or clock.now, most = most, window = opts.window or 100,
                              probe = opts.probe or 3, recheck = opts.recheck or 8, recent = {}, step = 0,
                              chosen = most, times = { [1] = {}, [most] = {} }, t0 = 0, current = most,
                              enabled = most > 1 and opts.enabled ~= false }, Tuner)
  return self
end

-- The thread count for the coming step, set in the engine.
function Tuner:before()
  if not self.enabled then return end
  local k = self.step % self.window
  local n
  if k < 2 * self.probe then
    if k == 0 then self.times[1], self.times[self.most] = {}, {} end
    n = (k % 2 == 0) and self.most or 1 -- interleaved: load changes hit both alike
  else
    n = self.chosen
  end
  if n ~= self.current then
    C.sp_set_num_threads(n)
    self.current = n
  end
  self.t0 = self.now()
end

-- After the step: work is its size (e.g. tokens), so steps of different batches compare.
function Tuner:after(work)
  if not self.enabled then return end
  local k = self.step % self.window
  local per = (self.now() - self.t0) / math.max(work or 1, 1)
  if k < 2 * self.probe then
    local list = self.times[self.current]
    list[#list + 1] = per
    if k == 2 * self.probe - 1 then
      self.chosen = clock.median(self.times[1]) < clock.median(self.times[self.most]) and 1 or self.most
      self.recent = {}
    end
  else
    -- a load that comes (or goes) within the window: when the last `recheck` steps at the
    -- chosen count are slower than the other count's probes, switch at once
    local recent = self.recent
    recent[#recent + 1] = per
    if #recent == self.recheck then
      local other = self.chosen == 1 and self.most or 1
      self.times[self.chosen] = recent -- the chosen count's fresh measure replaces its probes
      if clock.median(recent) > clock.median(self.times[other]) then self.chosen = other end
      self.recent = {}
    end
  end
  self.step = self.step + 1
end

function Tuner:finish()
  if self.enabled and self.current ~= self.most then C.sp_set_num_threads(self.most) end
  self.current = self.most
end

-- Real (non-zero) entries of an int32 tensor's first `rows` rows: a batch's tokens.
function M.tokens(seq, rows)
  local shape = seq:shape()
  local L = shape[2]
  local d = seq:data()
  local n = 0
  for i = 0, rows * L - 1 do if d[i] ~= 0 then n = n + 1 end end
  return n
end

return M
