-- intents/labels.lua — the per-session intent labels Stage 2 trains on (paper §4.2, Eq. 10-14):
-- an (n_sessions, C) float32 table of labels y_S in [0, 1] and a weight per session (1: the
-- session's labels count in L_intent; 0: unlabelled, no LLM intents and not yet enriched).
--   local store = labels.from_stage1(sprint.intents.load(dir), ds:n_sessions(), loaded.pool:size())
--   local y, w = store:batch(ctx, batches.session, rows)     -- (B, C) and (B), arena tensors
--   store:set_rows(batches.session, y_enriched, rows)        -- y^(t) for those sessions, weight 1
--   store:save(path); local again = labels.load(path)
-- Sessions are 1-based in the Lua API (as sprint.intents.load keys them); a batch's `session`
-- tensor holds the batcher's 0-based dataset indices, which batch/set_rows take as they are.
-- With prefix augmentation a session yields several examples (its prefixes): they all share
-- the session's one label row (the paper's y_S is per session, not per prefix).
local ffi = require "ffi"
local files = require "sprint.files"

local M = {}
local Store = {}
Store.__index = Store
M.Store = Store

local MAGIC = "SPRINT-LABELS 1\n"

local int_at_least = require("sprint.spec").int_at_least -- errors at the caller's caller

-- labels.new(n_sessions, C): all labels 0, all weights 0.
function M.new(n_sessions, C)
  int_at_least(n_sessions, "n_sessions", "labels.new", 0)
  int_at_least(C, "C", "labels.new", 1)
  local y = ffi.new("float[?]", math.max(n_sessions * C, 1))
  local w = ffi.new("float[?]", math.max(n_sessions, 1))
  return setmetatable({ n_sessions = n_sessions, n_intents = C, _y = y, _w = w }, Store)
end

-- Eq. 11: y^(0)_{S,c} = 1 for the intents Stage 1 accepted for hard session S, 0 otherwise;
-- weight 1 on those sessions, 0 elsewhere. loaded: sprint.intents.load(dir)'s result
-- (labels = {session index (1-based) -> {pool ids (1-based)}}).
function M.from_stage1(loaded, n_sessions, C)
  local w = "labels.from_stage1"
  if type(loaded) ~= "table" or type(loaded.labels) ~= "table" then
    error(w .. ": first argument must be sprint.intents.load's result (with .labels)", 2)
  end
  local s = M.new(n_sessions, C)
  for session, ids in pairs(loaded.labels) do
    if type(session) ~= "number" or session % 1 ~= 0 or session < 1 or session > n_sessions then
      error(w .. ": session index " .. tostring(session) .. " is not in [1, " .. n_sessions .. "]", 2)
    end
    local base = (session - 1) * C
    for _, id in ipairs(ids) do
      if type(id) ~= "number" or id % 1 ~= 0 or id < 1 or id > C then
        error(w .. ": session " .. session .. " has intent id " .. tostring(id) .. ", not in [1, " .. C .. "]", 2)
      end
      s._y[base + id - 1] = 1
    end
    s._w[session - 1] = 1
  end
  return s
end

local function check(self, what)
  if getmetatable(self) ~= Store then error(what .. ": called on a non-label store (use ':')", 3) end
end

-- Session i's labels (1-based) as a Lua list of C numbers, and its weight.
function Store:get(i)
  check(self, "labels:get")
  int_at_least(i, "i", "labels:get", 1)
  if i > self.n_sessions then error("labels:get: session " .. i .. " is not in [1, " .. self.n_sessions .. "]", 2) end
  local out, base = {}, (i - 1) * self.n_intents
  for c = 1, self.n_intents do out[c] = self._y[base + c - 1] end
  return out, self._w[i - 1]
end

-- Sets session i's labels (a list of C numbers in [0, 1]) and weight (default 1).
function Store:set(i, y, weight)
  check(self, "labels:set")
  int_at_least(i, "i", "labels:set", 1)
  if i > self.n_sessions then error("labels:set: session " .. i .. " is not in [1, " .. self.n_sessions .. "]", 2) end
  if type(y) ~= "table" or #y ~= self.n_intents then error("labels:set: y must be a list of " .. self.n_intents .. " numbers", 2) end
  local base = (i - 1) * self.n_intents
  for c = 1, self.n_intents do self._y[base + c - 1] = y[c] end
  self._w[i - 1] = weight == nil and 1 or weight
end

-- The number of sessions with weight > 0.
function Store:n_labelled()
  local n = 0
  for i = 0, self.n_sessions - 1 do if self._w[i] > 0 then n = n + 1 end end
  return n
end

local function session_rows(self, sessions, rows, what)
  local shape = sessions:shape()
  if #shape ~= 1 or sessions:dtype() ~= "i32" then error(what .. ": sessions must be an int32 (B) tensor", 3) end
  local B = shape[1]
  rows = rows or B
  if rows < 0 or rows > B then error(what .. ": rows = " .. tostring(rows) .. " must be in [0, " .. B .. "]", 3) end
  local s = sessions:data()
  for r = 0, rows - 1 do
    if s[r] < 0 or s[r] >= self.n_sessions then
      error(what .. ": row " .. r .. " has session " .. s[r] .. ", not in [0, " .. self.n_sessions .. ")", 3)
    end
  end
  return B, rows, s
end

-- The labels (B, C) and weights (B) of a batch as arena tensors of ctx: sessions is the
-- batch's int32 (B) tensor of 0-based dataset session indices (batches.session); rows past
-- `rows` (padding) get labels 0 and weight 0.
function Store:batch(ctx, sessions, rows)
  check(self, "labels:batch")
  local B, n, s = session_rows(self, sessions, rows, "labels:batch")
  local Cn = self.n_intents
  local y, w = ctx:tensor({ B, Cn }), ctx:tensor({ B })
  local yd, wd = y:data(), w:data()
  ffi.fill(yd, B * Cn * 4)
  ffi.fill(wd, B * 4)
  for r = 0, n - 1 do
    ffi.copy(yd + r * Cn, self._y + s[r] * Cn, Cn * 4)
    wd[r] = self._w[s[r]]
  end
  return y, w
end

-- Writes labels y (B, C) (e.g. intent_model:enrich's y^(t)) for the sessions of a batch's
-- first `rows` rows; their weight becomes 1. A session on several rows keeps its last row's.
function Store:set_rows(sessions, y, rows)
  check(self, "labels:set_rows")
  local B, n, s = session_rows(self, sessions, rows, "labels:set_rows")
  local ys = y:shape()
  if #ys ~= 2 or ys[1] ~= B or ys[2] ~= self.n_intents or y:dtype() ~= "f32" then
    error("labels:set_rows: y must be float32 (" .. B .. ", " .. self.n_intents .. ")", 2)
  end
  local Cn, yd = self.n_intents, y:data()
  for r = 0, n - 1 do
    ffi.copy(self._y + s[r] * Cn, yd + r * Cn, Cn * 4)
    self._w[s[r]] = 1
  end
end

-- Enrichment over a set of batches (Eq. 12-14): for each batch, model:enrich_batch(ctx, batches,
-- rows, opts) gives y^(t) (B, C) (sprint_model does: yhat and h of the batch, then
-- intent_model:enrich with k and mode), written with set_rows. batches: a batcher over the
-- sessions to relabel (one example per session: prefix_augment = false); epoch: its order.
function Store:refresh(model, ctx, batches, opts)
  check(self, "labels:refresh")
  opts = opts or {}
  local n = 0
  for rows in batches:epoch(opts.epoch or 0) do
    ctx:reset()
    local y = model:enrich_batch(ctx, batches, rows, opts)
    self:set_rows(batches.session, y, rows)
    n = n + rows
  end
  return n
end

-- Copies another store's labels and weights (same sizes) into this one.
function Store:copy_from(other)
  check(self, "labels:copy_from")
  if getmetatable(other) ~= Store or other.n_sessions ~= self.n_sessions or other.n_intents ~= self.n_intents then
    error("labels:copy_from: needs a label store of " .. self.n_sessions .. " x " .. self.n_intents, 2)
  end
  ffi.copy(self._y, other._y, self.n_sessions * self.n_intents * 4)
  ffi.copy(self._w, other._w, self.n_sessions * 4)
end

-- Binary: a magic line, "n_sessions C\n", then the labels and weights as raw float32 (exact).
function Store:save(path)
  check(self, "labels:save")
  local head = MAGIC .. self.n_sessions .. " " .. self.n_intents .. "\n"
  files.write_atomic(path, head .. ffi.string(self._y, self.n_sessions * self.n_intents * 4)
    .. ffi.string(self._w, self.n_sessions * 4))
end

function M.load(path)
  local text, err = files.read(path)
  if not text then error("labels.load: " .. tostring(err), 2) end
  if text:sub(1, #MAGIC) ~= MAGIC then error("labels.load: " .. path .. " is not a label file", 2) end
  local n, Cn, rest = text:match("^(%d+) (%d+)\n()", #MAGIC + 1)
  if not n then error("labels.load: " .. path .. ": bad header", 2) end
  n, Cn = tonumber(n), tonumber(Cn)
  local s = M.new(n, Cn)
  local want = (n * Cn + n) * 4
  if #text - rest + 1 ~= want then
    error("labels.load: " .. path .. ": " .. (#text - rest + 1) .. " bytes of data, expected " .. want, 2)
  end
  ffi.copy(s._y, text:sub(rest, rest + n * Cn * 4 - 1), n * Cn * 4)
  ffi.copy(s._w, text:sub(rest + n * Cn * 4), n * 4)
  return s
end

function Store:__tostring()
  return string.format("sprint.intents.labels(%d sessions x %d intents, %d labelled)", self.n_sessions,
    self.n_intents, self:n_labelled())
end

return M
