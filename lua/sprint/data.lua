-- data.lua — datasets from Lua: the registry (datasets/registry.lua), the data path, prepared
-- datasets cached on disk (keyed by the raw files' fingerprints and the settings, so a change
-- to either prepares again), and a dataset object to read sessions, items and statistics.
--   local ds = sprint.data.load("beauty")                 -- cached after the first time
--   local ds = sprint.data.load("beauty", { min_item_support = 5 })
--   for i = 1, ds:n_sessions() do local s = ds:session(i) ... end
local ffi = require "ffi"
local lib = require "sprint.lib"
local checksums = require "sprint.checksums"
local C = lib.C

local M = {}

local function here()
  local src = debug.getinfo(1, "S").source
  return src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
end

-- The repository root: the `sprint` command knows it; else two levels above this file.
function M.root()
  local cli = rawget(_G, "SPRINT_CLI")
  return (cli and cli.source_dir) or (here() .. "/../..")
end

function M.registry()
  local path = M.root() .. "/datasets/registry.lua"
  local chunk, err = loadfile(path)
  if not chunk then error("sprint.data: cannot read the registry: " .. tostring(err), 2) end
  return chunk()
end

-- Folders searched for dataset files: $SPRINT_DATA (colon-separated), then ../shared/datasets.
function M.search_path()
  local dirs = {}
  for d in (os.getenv("SPRINT_DATA") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  dirs[#dirs + 1] = M.root() .. "/../shared/datasets"
  return dirs
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.cache_dir()
  local cli = rawget(_G, "SPRINT_CLI")
  return os.getenv("SPRINT_CACHE") or ((cli and cli.build_dir or (M.root() .. "/build")) .. "/cache")
end

-- ---- settings --------------------------------------------------------------------------

local RULES = { day = 0, gap = 1, given = 2 }
local PREP_KEYS = {
  session_rule = "string", gap_seconds = "number", day_offset_seconds = "number",
  user_core = "number", item_core = "number", min_session_len = "number",
  min_item_support = "number", max_session_len = "number", valid_quantile = "number",
  test_quantile = "number", filter_unseen_eval = "boolean", min_eval_len = "number",
  skip_bad_lines = "boolean", tie_order = "string",
}
local GEN_KEYS = {
  n_intents = "number", items_per_intent = "number", n_sessions = "number", min_len = "number",
  max_len = "number", max_intents = "number", noise = "number", follow = "number", seed = "number",
}

local sorted_keys = require("sprint.lib").sorted_keys

-- Coerces a --set string to the type the setting has.
local function coerce(key, value, kind)
  if type(value) == kind then return value end
  if type(value) == "string" then
    if kind == "number" and tonumber(value) then return tonumber(value) end
    if kind == "boolean" and (value == "true" or value == "false") then return value == "true" end
  end
  error(string.format("setting %s must be a %s, got %s", key, kind, tostring(value)), 0)
end

-- defaults < overrides, each override known and of the right type.
local function merge(defaults, overrides, known, what)
  local out = {}
  for k, v in pairs(defaults or {}) do out[k] = v end
  for k, v in pairs(overrides or {}) do
    if not known[k] then
      error(string.format("sprint.data: unknown %s setting '%s'; known: %s", what, k,
        table.concat(sorted_keys(known), ", ")), 0)
    end
    out[k] = coerce(k, v, known[k])
  end
  return out
end

local function prep_config(s)
  local c = ffi.new("sp_prep_config")
  C.sp_prep_config_default(c)
  for k, v in pairs(s) do
    if k == "tie_order" then
      local t = ({ input = 0, shuffle = 1, reverse = 2 })[v]
      if not t then error("sprint.data: tie_order must be input, shuffle or reverse, got " .. tostring(v), 0) end
      c.tie_order = t
    elseif k == "session_rule" then
      local r = RULES[v]
      if not r then error("sprint.data: session_rule must be day, gap or given, got " .. tostring(v), 0) end
      c.session_rule = r
    elseif type(v) == "boolean" then
      c[k] = v and 1 or 0
    else
      c[k] = v
    end
  end
  return c
end

local function planted_config(s)
  local g = ffi.new("sp_planted_config")
  C.sp_planted_config_default(g)
  for k, v in pairs(s) do g[k] = v end
  return g
end

local function serialize(t)
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do parts[#parts + 1] = k .. "=" .. tostring(t[k]) end
  return table.concat(parts, ";")
end

-- FNV-1a over a string (uint64_t cdata): the cache file's name and its settings hash.
local function fnv(s)
  local h = ffi.new("uint64_t", 1469598103934665603ULL)
  for i = 1, #s do h = bit.bxor(h, s:byte(i)) * 1099511628211ULL end
  return h
end

-- ---- the dataset object ----------------------------------------------------------------

local Dataset = {}
Dataset.__index = Dataset
local SPLITS = { [0] = "train", "valid", "test" }
M.SPLITS = SPLITS

local function wrap(ptr, name, info)
  local self = setmetatable({ _p = ffi.gc(ptr, C.sp_dataset_free), name = name, info = info or {} }, Dataset)
  self._sv = ffi.new("sp_session_view")
  self._iv = ffi.new("sp_item_view")
  return self
end

local function dp(self, what)
  if type(self) ~= "table" or getmetatable(self) ~= Dataset then error(what .. ": not a dataset", 3) end
  if self._p == nil then error(what .. ": the dataset was freed", 3) end
  return self._p
end

function Dataset:free()
  if self._p ~= nil then
    C.sp_dataset_free(ffi.gc(self._p, nil))
    self._p = nil
  end
end

function Dataset:n_sessions() return tonumber(C.sp_dataset_n_sessions(dp(self, "dataset:n_sessions"))) end
function Dataset:n_items()
  local st = ffi.new("sp_dataset_stats")
  C.sp_dataset_get_stats(dp(self, "dataset:n_items"), st)
  return st.n_items
end

local function split_stats(s)
  return { sessions = tonumber(s.sessions), interactions = tonumber(s.interactions),
           items = tonumber(s.items), avg_len = s.avg_len }
end

function Dataset:stats()
  local st = ffi.new("sp_dataset_stats")
  C.sp_dataset_get_stats(dp(self, "dataset:stats"), st)
  local out = { total = split_stats(st.total), n_items = st.n_items,
                items_without_title = tonumber(st.items_without_title),
                items_without_text = tonumber(st.items_without_text), bad_lines = {} }
  for k = 0, 2 do out[SPLITS[k]] = split_stats(st.split[k]) end
  local causes = { "syntax", "missing field", "bad time", "bad id" }
  for k = 0, 3 do out.bad_lines[causes[k + 1]] = tonumber(st.bad_lines[k]) end
  return out
end

-- Session i (1-based): { index, key, split, items = {...}, times = {...}, labels = {...} }.
function Dataset:session(i)
  local p = dp(self, "dataset:session")
  if type(i) ~= "number" then error("dataset:session: index must be a number", 2) end
  if C.sp_dataset_session(p, i - 1, self._sv) ~= 0 then lib.fail("dataset:session", 2) end
  local v = self._sv
  local s = { index = i, key = ffi.string(v.key), split = SPLITS[v.split], items = {}, times = {} }
  for k = 0, v.len - 1 do
    s.items[k + 1] = v.items[k]
    s.times[k + 1] = tonumber(v.times[k])
  end
  if v.labels ~= nil then
    s.labels = {}
    for k = 0, v.n_labels - 1 do s.labels[k + 1] = ffi.string(C.sp_dataset_label_name(p, v.labels[k])) end
  end
  return s
end

-- The raw view (no copies) for hot loops: items/times pointers are valid while the dataset is.
function Dataset:session_view(i)
  if C.sp_dataset_session(dp(self, "dataset:session_view"), i - 1, self._sv) ~= 0 then
    lib.fail("dataset:session_view", 2)
  end
  return self._sv
end

function Dataset:find(key)
  local idx = ffi.new("int64_t[1]")
  if C.sp_dataset_find_session(dp(self, "dataset:find"), tostring(key), idx) ~= 0 then return nil end
  return tonumber(idx[0]) + 1
end

-- Item j (1..n_items): { id, key, title, brand, categories = {...} }.
function Dataset:item(j)
  local p = dp(self, "dataset:item")
  if C.sp_dataset_item(p, j, self._iv) ~= 0 then lib.fail("dataset:item", 2) end
  local v = self._iv
  local it = { id = j, key = ffi.string(v.key), title = ffi.string(v.title), brand = ffi.string(v.brand),
               categories = {} }
  for k = 0, v.n_categories - 1 do it.categories[k + 1] = ffi.string(C.sp_dataset_item_category(p, j, k)) end
  return it
end

function Dataset:report()
  local p = dp(self, "dataset:report")
  local lines = {}
  for i = 0, C.sp_dataset_report_count(p) - 1 do lines[#lines + 1] = ffi.string(C.sp_dataset_report_line(p, i)) end
  return lines
end

function Dataset:labels()
  local p = dp(self, "dataset:labels")
  local names = {}
  for l = 0, C.sp_dataset_n_labels(p) - 1 do names[l + 1] = ffi.string(C.sp_dataset_label_name(p, l)) end
  return names
end

-- Writes the prepared dataset to path, with its identity (name and settings hash, 0 for a
-- dataset that did not come through the registry).
function Dataset:save(path)
  if C.sp_dataset_save(dp(self, "dataset:save"), path, self.name or "", self.settings_hash or 0) ~= 0 then
    lib.fail("dataset:save", 2)
  end
end

-- A Table-1-style table: sessions, items, interactions, average length per split, with the
-- paper's row beside the total when the registry has one.
function Dataset:table1()
  local st = self:stats()
  local paper = self.info.paper
  local rows = {
    string.format("%-10s %10s %8s %13s %8s", "split", "sessions", "items", "interactions", "avg len"),
  }
  local function row(name, s)
    rows[#rows + 1] = string.format("%-10s %10d %8d %13d %8.2f", name, s.sessions, s.items, s.interactions, s.avg_len)
  end
  row("total", st.total)
  if paper then
    rows[#rows + 1] = string.format("%-10s %10d %8d %13d %8.2f", "paper", paper.sessions, paper.items,
      paper.interactions, paper.avg_len)
  end
  row("train", st.train)
  row("valid", st.valid)
  if paper and paper.valid_sessions then rows[#rows + 1] = string.format("%-10s %10d", "paper", paper.valid_sessions) end
  row("test", st.test)
  if paper and paper.test_sessions then rows[#rows + 1] = string.format("%-10s %10d", "paper", paper.test_sessions) end
  return table.concat(rows, "\n")
end

-- ---- batches ------------------------------------------------------------------------------

local Batcher = {}
Batcher.__index = Batcher
local SPLIT_IDS = { train = 0, valid = 1, test = 2 }
local BATCH_KEYS = { split = "string", batch_size = "number", max_len = "number", prefix_augment = "boolean",
                     shuffle = "boolean", pad_left = "boolean", n_uniform_neg = "number", n_hard_neg = "number",
                     bucket = "boolean", seed = "number" }

-- ds:batches{split = "train", batch_size = 256, max_len = 50, ...}: reusable int32 tensors
-- filled batch by batch (no allocation per batch). for rows in b:epoch(e) do ... b.seq ... end
-- Integer settings and their ranges: the C struct would silently truncate 2.5 to 2 (and wrap
-- 2^31 to a negative int).
local INT_MAX = 2 ^ 31 - 1
local BATCH_INTS = { batch_size = { 1, INT_MAX }, max_len = { 1, INT_MAX }, n_uniform_neg = { 0, INT_MAX },
                     n_hard_neg = { 0, INT_MAX }, seed = { 0, 2 ^ 53 } }

function Dataset:batches(opts)
  local p = dp(self, "dataset:batches")
  local ok, o = pcall(merge, {}, opts, BATCH_KEYS, "batch")
  if not ok then error(o, 2) end
  for _, k in ipairs(sorted_keys(BATCH_INTS)) do
    local v, r = o[k], BATCH_INTS[k]
    if v ~= nil and (v % 1 ~= 0 or v < r[1] or v > r[2]) then
      error(string.format("dataset:batches: %s must be an integer in [%d, %.0f], got %s", k, r[1], r[2], tostring(v)), 2)
    end
  end
  local cfg = ffi.new("sp_batch_config")
  C.sp_batch_config_default(cfg)
  for k, v in pairs(o) do
    if k == "split" then
      cfg.split = SPLIT_IDS[v] or error("dataset:batches: split must be train, valid or test", 2)
    elseif type(v) == "boolean" then
      cfg[k] = v and 1 or 0
    else
      cfg[k] = v
    end
  end
  local out = ffi.new("sp_batcher*[1]")
  if C.sp_batcher_new(out, p, cfg) ~= 0 then lib.fail("dataset:batches", 2) end
  local tensor = require "sprint.tensor"
  local B, L, K = cfg.batch_size, cfg.max_len, cfg.n_uniform_neg + cfg.n_hard_neg
  local b = setmetatable({ _p = ffi.gc(out[0], C.sp_batcher_free), dataset = self, config = cfg,
    seq = tensor.new({ B, L }, "i32"), last = tensor.new({ B }, "i32"), target = tensor.new({ B }, "i32"),
    neg = K > 0 and tensor.new({ B, K }, "i32") or nil, session = tensor.new({ B }, "i32"),
    _rows = ffi.new("int[1]") }, Batcher)
  return b
end

function Batcher:n_examples() return tonumber(C.sp_batcher_n_examples(self._p)) end
function Batcher:n_batches() return tonumber(C.sp_batcher_n_batches(self._p)) end

-- Iterates the batches of one epoch; yields the number of real rows (the rest is padding).
function Batcher:epoch(e)
  if C.sp_batcher_start_epoch(self._p, e or 0) ~= 0 then lib.fail("batcher:epoch", 2) end
  local neg = self.neg and self.neg._p or nil
  return function()
    if C.sp_batcher_next(self._p, self.seq._p, self.last._p, self.target._p, neg, self.session._p, self._rows) ~= 0 then
      lib.fail("batcher:next", 2)
    end
    local rows = self._rows[0]
    if rows > 0 then return rows end
  end
end

-- For the batch just yielded: every input position's next item and negatives, for training
-- with one causal pass per session. Returns next (B, max_len) (0 on padding) and negatives
-- (B, max_len * K) or nil when the batches draw none; tensors reused from batch to batch.
function Batcher:positions()
  local cfg = self.config
  local B, L, K = cfg.batch_size, cfg.max_len, cfg.n_uniform_neg + cfg.n_hard_neg
  local tensor = require "sprint.tensor"
  self.next = self.next or tensor.new({ B, L }, "i32")
  if K > 0 then self.neg_pos = self.neg_pos or tensor.new({ B, L * K }, "i32") end
  if C.sp_batcher_positions(self._p, self.next._p, self.neg_pos and self.neg_pos._p or nil) ~= 0 then
    lib.fail("batcher:positions", 2)
  end
  return self.next, self.neg_pos
end

-- Hard negatives of session i (1-based), e.g. items an LLM wrongly predicted.
function Batcher:set_hard_negatives(i, items)
  local arr = ffi.new("int32_t[?]", #items, items)
  if C.sp_batcher_set_hard_negatives(self._p, i - 1, arr, #items) ~= 0 then lib.fail("batcher:set_hard_negatives", 2) end
end

-- ---- preparing and loading ---------------------------------------------------------------

-- The folder of a registry entry on the data path, checking every listed file exists.
function M.locate(entry, name)
  local tried = {}
  for _, dir in ipairs(M.search_path()) do
    local folder = dir .. "/" .. entry.folder
    local ok = true
    for rel in pairs(entry.files or {}) do
      if not exists(folder .. "/" .. rel) then ok = false break end
    end
    if ok then return folder end
    tried[#tried + 1] = folder
  end
  error(string.format("sprint.data: the files of dataset '%s' are not on the data path (tried %s). "
    .. "Fetch them from %s and set SPRINT_DATA to the folder that holds %s/.", name,
    table.concat(tried, ", "), entry.upstream and entry.upstream.url or "upstream", entry.folder), 0)
end

local function fingerprint(path)
  local h, n = ffi.new("uint64_t[1]"), ffi.new("int64_t[1]")
  if C.sp_file_fingerprint(path, h, n) ~= 0 then lib.fail("sprint.data: fingerprint", 3) end
  return string.format("%s:%d", (tostring(h[0]):gsub("ULL", "")), tonumber(n[0]))
end

local function entry_of(name)
  local reg = M.registry()
  local entry = reg[name]
  if not entry then
    error(string.format("sprint.data: no dataset named '%s'; known: %s", tostring(name),
      table.concat(sorted_keys(reg), ", ")), 0)
  end
  return entry
end

-- Splits overrides into preparation and generation settings.
local function settings_of(entry, overrides)
  local prep_over, gen_over = {}, {}
  for k, v in pairs(overrides or {}) do
    if GEN_KEYS[k] and entry.loader == "planted" then gen_over[k] = v else prep_over[k] = v end
  end
  local prep = merge(entry.prepare, prep_over, PREP_KEYS, "preparation")
  local gen = entry.loader == "planted" and merge(entry.generate, gen_over, GEN_KEYS, "generator") or nil
  return prep, gen
end

-- The dataset from its raw files (folder: where they are) or from its generator.
local function make(entry, name, prep, gen, folder)
  local out = ffi.new("sp_dataset*[1]")
  local t0 = os.clock()
  if entry.loader == "planted" then
    if C.sp_dataset_generate_planted(out, planted_config(gen), prep_config(prep)) ~= 0 then
      lib.fail("sprint.data: generating " .. name, 3)
    end
  else
    -- the *-shared loaders read the folder; file loaders the entry's paths, in their order
    local list = { folder }
    if entry.paths then
      list = {}
      for i, rel in ipairs(entry.paths) do list[i] = folder .. "/" .. rel end
    end
    local paths = ffi.new("const char*[?]", #list, list)
    if C.sp_dataset_prepare(out, entry.loader, paths, #list, prep_config(prep)) ~= 0 then
      lib.fail("sprint.data: preparing " .. name, 3)
    end
  end
  local ds = wrap(out[0], name, entry)
  ds.prepare_seconds = os.clock() - t0
  return ds
end

-- The entry's raw files: their folder on the data path and { rel = fingerprint }; checked
-- against the registry's SHA-256 unless verify is off (see checksums.lua).
local function raw_files(entry, name, verify)
  if not entry.files then return nil, nil end
  local folder = M.locate(entry, name)
  local fps = {}
  for rel in pairs(entry.files) do fps[rel] = fingerprint(folder .. "/" .. rel) end
  if checksums.enabled(verify) then checksums.check(name, entry, folder, fps, M.cache_dir()) end
  return folder, fps
end

-- The cache file for (name, settings, inputs), and the hash of all of them, which the file
-- also carries inside (its identity).
local function cache_key(entry, name, prep, gen, fps)
  local parts = { "sprint-dataset-v2", name, entry.loader, serialize(prep), gen and serialize(gen) or "" }
  for _, rel in ipairs(sorted_keys(fps or {})) do parts[#parts + 1] = rel .. "=" .. fps[rel] end
  local hash = fnv(table.concat(parts, "\n"))
  return string.format("%s/%s-%016x.spd", M.cache_dir(), name, hash), hash
end

-- What load and prepare share: the entry, its settings, its raw files (checked) and the cache key.
local function resolve(name, overrides)
  local entry = entry_of(name)
  local settings, verify = {}, nil
  for k, v in pairs(overrides or {}) do
    if k == "verify" then verify = v else settings[k] = v end
  end
  if verify ~= nil and verify ~= true and verify ~= false and verify ~= "true" and verify ~= "false" then
    error("sprint.data: verify must be true or false, got " .. tostring(verify), 0)
  end
  local prep, gen = settings_of(entry, settings)
  local folder, fps = raw_files(entry, name, verify)
  local path, hash = cache_key(entry, name, prep, gen, fps)
  return { entry = entry, prep = prep, gen = gen, folder = folder, path = path, hash = hash }
end

local function prepare(name, r)
  local ds = make(r.entry, name, r.prep, r.gen, r.folder)
  ds.settings_hash = r.hash
  os.execute("mkdir -p '" .. M.cache_dir():gsub("'", "'\\''") .. "'")
  ds:save(r.path)
  ds.cache_path, ds.settings = r.path, r.prep
  return ds
end

-- Prepares from the raw files (ignoring any cache) and writes the cache. overrides: the
-- registry's settings to change, and verify = false to skip the raw files' SHA-256 check.
function M.prepare(name, overrides)
  return prepare(name, resolve(name, overrides))
end

-- The prepared dataset from the cache when its inputs and settings are unchanged, else prepared.
-- The raw files are checked against the registry's SHA-256 first (once per file content; see
-- checksums.lua), so a truncated or edited file is an error, not another dataset.
-- A cache file that is damaged, from another version, or not this dataset's (its identity
-- names another dataset or settings) is a cache miss: prepared again and replaced, and
-- ds.cache_replaced says why.
function M.load(name, overrides)
  local r = resolve(name, overrides)
  local why
  if exists(r.path) then
    local out = ffi.new("sp_dataset*[1]")
    if C.sp_dataset_load(out, r.path, name, r.hash) == 0 then
      local ds = wrap(out[0], name, r.entry)
      ds.cache_path, ds.settings, ds.settings_hash, ds.from_cache = r.path, r.prep, r.hash, true
      return ds
    end
    why = lib.last_error()
  end
  local ds = prepare(name, r)
  ds.cache_replaced = why
  return ds
end

-- Data people bring: a loader and its files, without the registry or the cache.
function M.from_files(loader, paths, settings)
  if type(loader) ~= "string" or type(paths) ~= "table" then
    error("sprint.data.from_files(loader, {paths...}, settings)", 2)
  end
  local prep = merge({}, settings, PREP_KEYS, "preparation")
  local out = ffi.new("sp_dataset*[1]")
  local cpaths = ffi.new("const char*[?]", #paths, paths)
  if C.sp_dataset_prepare(out, loader, cpaths, #paths, prep_config(prep)) ~= 0 then
    lib.fail("sprint.data.from_files(" .. loader .. ")", 2)
  end
  return wrap(out[0], loader, {})
end

M.Dataset = Dataset
return M
