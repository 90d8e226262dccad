-- intents/progress.lua — Stage 1's live progress line: sessions done / total, accepted so
-- far, calls per second, tokens, estimated cost and the time left. On a terminal it redraws
-- one line (stderr); otherwise it prints a line at every tenth of the way.
local ffi = require "ffi"
local clock = require "sprint.clock"

pcall(ffi.cdef, "int isatty(int fd);")

local M = {}
local P = {}
P.__index = P

-- M.new{total, done (already finished before this run), client, enabled}
function M.new(o)
  local self = setmetatable({ total = o.total, done = o.done or 0, start_done = o.done or 0, accepted = 0,
                              client = o.client, enabled = o.enabled ~= false, t0 = clock.now(), last = -1,
                              tty = ffi.C.isatty(2) == 1 }, P)
  return self
end

local function duration(s)
  if s ~= s or s == math.huge then return "?" end
  if s < 60 then return string.format("%.0fs", s) end
  if s < 3600 then return string.format("%dm%02ds", math.floor(s / 60), math.floor(s % 60)) end
  return string.format("%dh%02dm", math.floor(s / 3600), math.floor(s % 3600 / 60))
end

function P:line()
  local r = self.client:report()
  local dt = math.max(clock.now() - self.t0, 1e-9)
  local new = self.done - self.start_done
  local left = self.total - self.done
  local eta = new > 0 and left * dt / new or math.huge
  return string.format("stage 1: %d/%d sessions, %d accepted, %.1f calls/s, %d tokens, $%.4f, ETA %s",
    self.done, self.total, self.accepted, (r.http_calls + r.cached) / dt, r.prompt_tokens + r.completion_tokens,
    r.cost, duration(eta))
end

function P:finished(rec)
  self.done = self.done + 1
  if rec.status == "accepted" then self.accepted = self.accepted + 1 end
  if not self.enabled then return end
  if self.tty then
    io.stderr:write("\r", self:line(), "\27[K")
  else
    local tenth = math.floor(10 * self.done / math.max(self.total, 1))
    if tenth > self.last then
      self.last = tenth
      io.stderr:write(self:line(), "\n")
    end
  end
end

function P:close()
  if self.enabled and self.tty then io.stderr:write("\r", self:line(), "\27[K\n") end
end

return M
