-- intents/pool.lua — the global intent pool G (paper §4.1.2, Eq. 5, Algorithm 1 line 12): an
-- ordered, append-only list of intents, each with its provenance, where two spellings of one
-- intent are one entry. It is saved as JSON after every change (atomically), so a killed run
-- resumes with the same pool; because it only grows, "the pool a conversation saw" is just its
-- first n entries, which is how Stage 1 replays an interrupted conversation from the cache.
--
--   local pool = Pool.new { path = dir .. "/pool.json", cap = 500 }   -- or Pool.load(path)
--   pool:add("Anti-aging", { source = "initial" })
--   pool:add("fragrance free products", { source = "pc", session = "s12", try = 2 })
--   pool:names(n)        -- display names of the first n entries (all when n is nil)
--
-- Normalisation (M.normalize), the rule that decides when two spellings are one intent:
--   1. lower case; 2. every character that is not a letter or a digit (punctuation, hyphens,
--   underscores, slashes, quotes) becomes a space; 3. runs of white space become one space,
--   trimmed; 4. a plural ending on each word of four or more letters is dropped: "ies" -> "y"
--   ("accessories" -> "accessory"), "sses" -> "ss", "xes"/"ches"/"shes" -> drop "es", else a
--   final "s" that does not follow "s", "u" or "i" ("products" -> "product"; "gloss", "virus",
--   "bikinis"... stay).
-- So "Fragrance-Free Products", "fragrance free product" and " fragrance_free  products. " are
-- one intent. The first spelling seen is the one shown (and sent to the model).
local json = require "sprint.llm.json"
local files = require "sprint.files"

local M = {}
M.FORMAT, M.VERSION = "sprint intent pool", 1

local Pool = {}
Pool.__index = Pool
M.Pool = Pool

local function singular(w)
  if #w < 4 then return w end
  if w:sub(-3) == "ies" and #w > 4 then return w:sub(1, -4) .. "y" end
  if w:sub(-4) == "sses" then return w:sub(1, -3) end
  if w:sub(-3) == "xes" or w:sub(-4) == "ches" or w:sub(-4) == "shes" then return w:sub(1, -3) end
  local last, before = w:sub(-1), w:sub(-2, -2)
  if last == "s" and before ~= "s" and before ~= "u" and before ~= "i" then return w:sub(1, -2) end
  return w
end

-- The key two spellings of one intent share (see the rule above); "" for an empty name.
function M.normalize(name)
  local s = tostring(name):lower():gsub("[^%w]+", " ")
  local words = {}
  for w in s:gmatch("%S+") do words[#words + 1] = singular(w) end
  return table.concat(words, " ")
end

-- Pool.new{path = file or nil, cap = max entries (0: none)}: an empty pool.
function M.new(opts)
  opts = opts or {}
  if opts.cap ~= nil and (type(opts.cap) ~= "number" or opts.cap < 0 or opts.cap % 1 ~= 0) then
    error("intent pool: cap must be a whole number >= 0, got " .. tostring(opts.cap), 2)
  end
  return setmetatable({ path = opts.path, cap = opts.cap or 0, entries = {}, by_key = {}, history = {} }, Pool)
end

function Pool:size() return #self.entries end

-- The entry of name's intent, or nil.
function Pool:find(name) return self.by_key[M.normalize(name)] end

-- Display names of the first n entries (all when n is nil), in pool order.
function Pool:names(n)
  local out = {}
  for i = 1, math.min(n or #self.entries, #self.entries) do out[i] = self.entries[i].name end
  return out
end

-- Adds name unless its intent is already in the pool. prov: {source = "initial" | "pc" | ...,
-- session = key, try = n, ...} (copied). Returns the entry and whether it is new. An empty
-- name is refused; a pool at its cap raises a clear error (nothing is lost: the pool on disk
-- is the one before this call).
function Pool:add(name, prov)
  if type(name) ~= "string" then error("intent pool: an intent must be a string, got " .. type(name), 2) end
  local key = M.normalize(name)
  if key == "" then return nil, false end
  local e = self.by_key[key]
  if e then return e, false end
  if self.cap > 0 and #self.entries >= self.cap then
    error(string.format("intent pool: adding '%s' would pass the cap of %d intents (setting pool_cap)%s; the pool "
      .. "so far is kept. A model that coins a new intent for most sessions is not using the pool: check the "
      .. "prompts, or raise pool_cap", name, self.cap, self.path and (" in " .. self.path) or ""), 0)
  end
  e = { id = #self.entries + 1, name = name:match("^%s*(.-)%s*$"), key = key }
  for k, v in pairs(prov or {}) do if e[k] == nil then e[k] = v end end
  e.source = e.source or "unknown"
  self.entries[#self.entries + 1] = e
  self.by_key[key] = e
  return e, true
end

-- Adds a list of names with one provenance and saves once. Returns the entries (pool order of
-- the given names, duplicates merged) and the list of the new ones.
function Pool:add_all(names, prov)
  local got, new, seen = {}, {}, {}
  for _, n in ipairs(names) do
    local e, is_new = self:add(n, prov)
    if e and not seen[e] then
      seen[e] = true
      got[#got + 1] = e
      if is_new then new[#new + 1] = e end
    end
  end
  if #new > 0 then self:save() end
  return got, new
end

-- Records the pool size at a point of the stage (for the report's pool-over-time curve).
function Pool:mark(sessions_done)
  self.history[#self.history + 1] = { sessions = sessions_done, size = #self.entries }
end

function Pool:to_json()
  local entries = json.array {}
  for i, e in ipairs(self.entries) do entries[i] = e end
  return json.encode { format = M.FORMAT, version = M.VERSION, cap = self.cap, entries = entries,
                       history = json.array(self.history) }
end

-- Writes the pool to its file (atomically: a kill leaves the old file or the new one).
function Pool:save()
  if self.path then files.write_atomic(self.path, self:to_json() .. "\n") end
end

-- The pool saved at path; every error names the file. opts.cap overrides the saved cap.
function M.load(path, opts)
  local text, err = files.read(path)
  if not text then error("intent pool: cannot read " .. path .. ": " .. tostring(err), 2) end
  local doc = json.decode(text)
  if type(doc) ~= "table" or doc.format ~= M.FORMAT or type(doc.entries) ~= "table" then
    error("intent pool: " .. path .. " is not an intent pool file (format '" .. M.FORMAT .. "')", 2)
  end
  if doc.version ~= M.VERSION then
    error("intent pool: " .. path .. " has version " .. tostring(doc.version) .. ", this build reads " .. M.VERSION, 2)
  end
  local cap = opts and opts.cap or doc.cap
  local pool = M.new { path = path, cap = cap }
  for i, e in ipairs(doc.entries) do
    if type(e) ~= "table" or type(e.name) ~= "string" then
      error("intent pool: " .. path .. ": entry " .. i .. " has no name", 2)
    end
    local key = M.normalize(e.name)
    if pool.by_key[key] then error("intent pool: " .. path .. ": entry " .. i .. " repeats '" .. e.name .. "'", 2) end
    e.id, e.key = i, key
    pool.entries[i] = e
    pool.by_key[key] = e
  end
  for i, h in ipairs(type(doc.history) == "table" and doc.history or {}) do pool.history[i] = h end
  return pool
end

return M
