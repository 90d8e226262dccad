-- checkpoint.lua — the training loop's checkpoint, committed as one unit. Each epoch's files
-- carry its number (model-0003.params, adam-0003.state, and best-0002.params for the best
-- model so far); state.json, written last and atomically, names them and holds the epoch, the
-- rng and the loop state. Its rename is the commit point: a kill at any moment leaves the old
-- checkpoint or the new one, never a mix, and files it no longer names go only after it.
-- The state is JSON, read as data (never run as code); every load error names the file.
--   local ck = checkpoint.open(dir)   -- makes the folder; ck:discard() starts afresh
--   local saved = ck:load()           -- nil when there is no checkpoint
--   local best = ck:save_best(params, epoch)
--   ck:commit { epoch =, params =, optimiser =, rng = sp_rng*, best = best or nil, loop =,
--               extra = function(path) ... end or nil,   -- the model's own state (extra-NNNN.bin)
--               identity = "what was trained" or nil }   -- a resume under another identity is refused
local ffi = require "ffi"
local cjson = require "cjson.safe"
local lib = require "sprint.lib"
local C = lib.C

local M = {}
M.FORMAT, M.VERSION = "sprint training checkpoint", 1

local NULL = cjson.null

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- ---- JSON out: cjson's encoder keeps at most 14 significant digits, so numbers are written
-- with %.17g here, which reads back as the same double; keys are sorted, so a state always
-- gives the same bytes.
local function encode(v, where, out)
  local t = type(v)
  if v == NULL then
    out[#out + 1] = "null"
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("checkpoint: cannot store " .. where .. " = " .. tostring(v) .. " (not a finite number)", 0)
    end
    out[#out + 1] = string.format("%.17g", v)
  elseif t == "string" then
    out[#out + 1] = cjson.encode(v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" then
    local keys, n = {}, #v
    for k in pairs(v) do keys[#keys + 1] = k end
    if #keys == n then -- a list (an empty table too)
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], where .. "[" .. i .. "]", out)
      end
      out[#out + 1] = "]"
    else
      for _, k in ipairs(keys) do
        if type(k) ~= "string" then
          error("checkpoint: cannot store " .. where .. ": a table mixing list items and keys", 0)
        end
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = cjson.encode(k) .. ":"
        encode(v[k], where .. "." .. k, out)
      end
      out[#out + 1] = "}"
    end
  else
    error("checkpoint: cannot store " .. where .. " (a " .. t .. ")", 0)
  end
  return out
end
function M.encode(v) return table.concat(encode(v, "state", {})) end

-- ---- 64-bit rng words as decimal strings: a JSON number (a double) would round them.
local U64_MAX = 0xffffffffffffffffULL
local function u64_string(x) return (tostring(ffi.cast("uint64_t", x)):gsub("ULL$", "")) end
local function parse_u64(s)
  if type(s) ~= "string" or not s:match("^%d+$") or #s > 20 then return nil end
  local v = 0ULL
  for i = 1, #s do
    local d = s:byte(i) - 48
    if v > (U64_MAX - d) / 10 then return nil end
    v = v * 10 + d
  end
  return v
end
M.u64_string, M.parse_u64 = u64_string, parse_u64

-- The names this module writes; anything else in the folder is left alone.
-- extra: state a model keeps outside its parameters (SPRINT's intent labels), written by the
-- commit's `extra` function and read back by the caller from ck:path(saved.files.extra).
local NAME = { model = "^model%-%d+%.params$", adam = "^adam%-%d+%.state$", best = "^best%-%d+%.params$",
               extra = "^extra%-%d+%.bin$" }
local SHOWN = { model = "model-NNNN.params", adam = "adam-NNNN.state", best = "best-NNNN.params",
                extra = "extra-NNNN.bin" }
local LEGACY = { ["state.lua"] = true, ["model.params"] = true, ["adam.state"] = true }
local function ours(name)
  local base = name:match("^(.+)%.tmp%.%d+$") or name -- a temporary file left by a kill
  if base == "state.json" or LEGACY[base] then return true end
  for _, pat in pairs(NAME) do
    if base:match(pat) then return true end
  end
  return false
end

local Checkpoint = {}
Checkpoint.__index = Checkpoint

function M.open(dir)
  os.execute("mkdir -p " .. quote(dir))
  return setmetatable({ dir = dir, state_path = dir .. "/state.json", files = nil }, Checkpoint)
end

local function is_int(v, lo) return type(v) == "number" and v == math.floor(v) and v >= lo and v < 2 ^ 53 end

-- The committed checkpoint, checked field by field, or nil when there is none.
function Checkpoint:load()
  local path = self.state_path
  local hint = " (to start afresh: delete " .. self.dir .. ", or rerun with resume=false)"
  local function bad(msg) error(path .. ": " .. msg .. hint, 0) end
  local f = io.open(path, "rb")
  if not f then
    if exists(self.dir .. "/state.lua") then
      error(self.dir .. "/state.lua: a checkpoint from an older sprint, whose state was Lua code; it is not "
        .. "run any more and cannot be resumed" .. hint, 0)
    end
    return nil
  end
  local text = f:read("*a")
  f:close()
  local doc, err = cjson.decode(text)
  if doc == nil then bad("not valid JSON: " .. tostring(err)) end
  if type(doc) ~= "table" then bad("not a JSON object") end
  if doc.format ~= M.FORMAT then bad("not a sprint training checkpoint (format " .. tostring(doc.format) .. ")") end
  if doc.version ~= M.VERSION then
    bad("checkpoint version " .. tostring(doc.version) .. ", this sprint reads version " .. M.VERSION)
  end
  local epoch = doc.epoch
  if not is_int(epoch, 1) then bad("'epoch' must be a whole number >= 1, got " .. tostring(epoch)) end
  local files = doc.files
  if type(files) ~= "table" then bad("'files' is missing") end
  if files.best == NULL then files.best = nil end
  if files.extra == NULL then files.extra = nil end
  for _, key in ipairs({ "model", "adam", "best", "extra" }) do
    local name = files[key]
    if name ~= nil or (key ~= "best" and key ~= "extra") then
      -- a bare file name of the expected form: the state cannot point outside its folder
      if type(name) ~= "string" or not name:match(NAME[key]) then
        bad("'files." .. key .. "' must name a " .. SHOWN[key] .. " file in the folder, got " .. tostring(name))
      end
      if not exists(self.dir .. "/" .. name) then
        bad("names " .. name .. ", which is missing (" .. self.dir .. "/" .. name .. ")")
      end
    end
  end
  local rng = doc.rng
  local seed = type(rng) == "table" and parse_u64(rng.seed)
  local counter = type(rng) == "table" and parse_u64(rng.counter)
  if not seed or not counter then bad("'rng' must hold 'seed' and 'counter' as decimal strings of 64-bit values") end
  local loop = doc.loop
  if type(loop) ~= "table" then bad("'loop' is missing") end
  if loop.epoch ~= epoch then bad("'loop.epoch' (" .. tostring(loop.epoch) .. ") differs from 'epoch' (" .. epoch .. ")") end
  if not is_int(loop.best_epoch, 0) or loop.best_epoch > epoch then bad("'loop.best_epoch' is not an epoch up to " .. epoch) end
  if loop.best == NULL then loop.best = -math.huge end -- no evaluation yet
  if type(loop.best) ~= "number" then bad("'loop.best' must be a number or null") end
  if (loop.best_epoch > 0) ~= (files.best ~= nil) then bad("'files.best' and 'loop.best_epoch' disagree") end
  if not is_int(loop.bad_evals, 0) then bad("'loop.bad_evals' must be a whole number >= 0") end
  if type(loop.stopped) ~= "boolean" then bad("'loop.stopped' must be true or false") end
  if type(loop.history) ~= "table" or #loop.history ~= epoch then bad("'loop.history' must list " .. epoch .. " epochs") end
  for i, rec in ipairs(loop.history) do
    if type(rec) ~= "table" or rec.epoch ~= i then bad("'loop.history[" .. i .. "]' is not epoch " .. i .. "'s record") end
  end
  if doc.identity ~= nil and type(doc.identity) ~= "string" then bad("'identity' must be a string") end
  self.files = files
  return { epoch = epoch, files = files, rng_seed = seed, rng_counter = counter, loop = loop, path = path,
           identity = doc.identity }
end

-- The full path of a file the checkpoint names.
function Checkpoint:path(name) return self.dir .. "/" .. name end

-- Saves the best model of `epoch`; it counts once a commit names it.
function Checkpoint:save_best(params, epoch)
  local name = string.format("best-%04d.params", epoch)
  params:save(self:path(name))
  return name
end

-- Writes epoch c.epoch's model and optimiser, then commits state.json naming them (and c.best,
-- the best model's file or nil), then removes the files of the checkpoint it replaces.
function Checkpoint:commit(c)
  local tag = string.format("%04d", c.epoch)
  local files = { model = "model-" .. tag .. ".params", adam = "adam-" .. tag .. ".state", best = c.best,
                  extra = c.extra and ("extra-" .. tag .. ".bin") or nil }
  c.params:save(self:path(files.model))
  c.optimiser:save(self:path(files.adam))
  if c.extra then c.extra(self:path(files.extra)) end
  local loop = {}
  for k, v in pairs(c.loop) do loop[k] = v end
  if loop.best == -math.huge then loop.best = NULL end
  local text = M.encode({
    format = M.FORMAT, version = M.VERSION, epoch = c.epoch,
    files = { model = files.model, adam = files.adam, best = files.best or NULL, extra = files.extra or NULL },
    rng = { seed = u64_string(c.rng.seed), counter = u64_string(c.rng.counter) },
    loop = loop, identity = c.identity,
  }) .. "\n"
  if C.sp_file_write_atomic(self.state_path, text, #text) ~= 0 then lib.fail("checkpoint: writing " .. self.state_path, 2) end
  local keep = {}
  for _, name in pairs(files) do keep[name] = true end
  for _, name in pairs(self.files or {}) do
    if not keep[name] then os.remove(self:path(name)) end
  end
  self.files = files
end

-- Removes every checkpoint file the committed state does not name: leftovers of a kill
-- (temporary files, an uncommitted epoch, files a kill kept from being removed).
function Checkpoint:sweep()
  local keep = { ["state.json"] = self.files ~= nil }
  for _, name in pairs(self.files or {}) do keep[name] = true end
  local ls = io.popen("ls -1A -- " .. quote(self.dir) .. " 2>/dev/null")
  local names = {}
  for name in ls:lines() do names[#names + 1] = name end
  ls:close()
  for _, name in ipairs(names) do
    if ours(name) and not keep[name] then os.remove(self:path(name)) end
  end
end

-- Forgets the checkpoint (resume = false): its state first, so a kill midway leaves none.
function Checkpoint:discard()
  os.remove(self.state_path)
  self.files = nil
  self:sweep()
end

return M
