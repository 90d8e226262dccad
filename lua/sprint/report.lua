-- report.lua — a results table over methods and seeds, laid out like the paper's Table 2: one
-- row per method, one column per metric (H@5 N@5 H@10 N@10 H@20 N@20 by default), mean ± sample
-- std over seeds, `*` where a paired t-test over the test sessions against the baseline gives
-- p < 0.05. Written to a run directory as JSON (every run's metrics, ranks and sessions, so runs
-- can be compared later) and as Markdown.
--   local rep = report.new { title = "Beauty, SASRec", baseline = "SASRec" }
--   rep:add("SASRec", res, { seed = 1 })            -- res from eval.rank
--   rep:reference("paper SASRec", { ["HR@10"] = 0.0297, ["NDCG@10"] = 0.0164 })
--   rep:write(run_dir)                              -- results.json, results.md
local cjson = require "cjson"
local eval = require "sprint.eval"
local stats = require "sprint.stats"

local M = {}
local Report = {}
Report.__index = Report
M.Report = Report

M.PAPER_COLUMNS = { "HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20" }
-- Settings that must agree between runs of one table (else the numbers are not comparable).
local PROTOCOL = { "split", "ties", "mask_session_items", "candidates", "n_candidates", "n_items", "prefixes" }

-- report.new{title, baseline, columns, digits, alpha, pair}: an empty table.
--   baseline     method the t-test compares every other method against (nil: no test)
--   pair         what the paired t-test pairs: "sessions" (default: each test session's value,
--                averaged over seeds) or "seeds" (each seed's metric, runs matched by seed)
--   columns      metric names (eval.parse_metric), default the paper's six
--   digits       decimals printed (4), alpha the significance level (0.05)
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("report.new: options must be a table", 2) end
  local known = { title = true, baseline = true, columns = true, digits = true, alpha = true, pair = true }
  for k in pairs(opts) do
    if not known[k] then error("report.new: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local pair = opts.pair or "sessions"
  if pair ~= "sessions" and pair ~= "seeds" then error("report.new: pair must be 'sessions' or 'seeds', got " .. tostring(pair), 2) end
  local columns = opts.columns or M.PAPER_COLUMNS
  for _, c in ipairs(columns) do eval.parse_metric(c) end
  return setmetatable({ title = opts.title or "Results", baseline = opts.baseline, columns = columns,
                        digits = opts.digits or 4, alpha = opts.alpha or 0.05, pair = pair, methods = {}, order = {} },
                      Report)
end

local function method(self, name)
  if type(name) ~= "string" or name == "" then error("report: a method needs a name", 3) end
  local m = self.methods[name]
  if not m then
    m = { name = name, runs = {} }
    self.methods[name] = m
    self.order[#self.order + 1] = name
  end
  return m
end

-- Adds one run (a result of eval.rank) of a method; info.seed names the run.
function Report:add(name, res, info)
  if type(res) ~= "table" or type(res.metrics) ~= "table" or type(res.ranks) ~= "table"
      or type(res.sessions) ~= "table" then
    error("report:add: expected a result of eval.rank (metrics, ranks, sessions)", 2)
  end
  local known = self.methods[name]
  if known and known.reference then error("report:add: '" .. name .. "' is a reference row", 2) end
  local set = res.settings or {}
  if self.settings then
    for _, k in ipairs(PROTOCOL) do
      if set[k] ~= self.settings[k] then
        error(string.format("report:add: %s's run has %s = %s, the table's runs %s: not comparable", name, k,
          tostring(set[k]), tostring(self.settings[k])), 2)
      end
    end
  else
    self.settings = set
  end
  local m = method(self, name)
  m.runs[#m.runs + 1] = { seed = info and info.seed or #m.runs + 1, metrics = res.metrics, ranks = res.ranks,
                          sessions = res.sessions, n = res.n or #res.ranks, settings = set }
  return self
end

-- A row of given numbers (e.g. the paper's), printed without std or test.
function Report:reference(name, metrics, note)
  if type(metrics) ~= "table" then error("report:reference: metrics must be a table", 2) end
  local m = method(self, name)
  if #m.runs > 0 then error("report:reference: '" .. name .. "' already has runs", 2) end
  m.reference, m.metrics, m.note = true, metrics, note
  return self
end

-- Per-session values of metric over a method's runs, averaged over seeds, keyed by session.
local function session_means(m, metric)
  local sum, first = {}, m.runs[1].sessions
  for _, run in ipairs(m.runs) do
    if #run.sessions ~= #first then
      error(string.format("report: %s's runs evaluated different sessions (%d and %d)", m.name, #first, #run.sessions), 4)
    end
    local v = eval.per_session(run.ranks, metric)
    for i, s in ipairs(run.sessions) do sum[s] = (sum[s] or 0) + v[i] end
  end
  local out = {}
  for i, s in ipairs(first) do out[i] = sum[s] / #m.runs end
  return out, first
end

-- Paired t-test of method m against the baseline on one metric, sessions matched by index.
local function test_against(self, m, base, metric)
  local a, sessions = session_means(m, metric)
  local b_vals, b_sessions = session_means(base, metric)
  local at = {}
  for i, s in ipairs(b_sessions) do at[s] = i end
  local b = {}
  for i, s in ipairs(sessions) do
    local j = at[s]
    if not j then
      error(string.format("report: session %d of %s is not among %s's", s, m.name, base.name), 3)
    end
    b[i] = b_vals[j]
  end
  if #sessions ~= #b_sessions then
    error(string.format("report: %s has %d sessions, %s %d", m.name, #sessions, base.name, #b_sessions), 3)
  end
  if #a < 2 then return nil end
  return stats.paired_t(a, b)
end

-- Paired t-test of method m against the baseline on one metric over seeds: runs matched by
-- seed (the seeds both have; nil with fewer than 2).
local function test_seeds(m, base, metric)
  local by_seed = {}
  for _, run in ipairs(base.runs) do by_seed[run.seed] = run.metrics[metric] end
  local a, b = {}, {}
  for _, run in ipairs(m.runs) do
    local v = by_seed[run.seed]
    if v ~= nil and run.metrics[metric] ~= nil then a[#a + 1], b[#b + 1] = run.metrics[metric], v end
  end
  if #a < 2 then return nil end
  return stats.paired_t(a, b)
end

-- Every metric's summary per method: { name, seeds, n, metrics = {[m] = {mean, std, n, p, t}} }.
function Report:summary()
  local base = self.baseline and self.methods[self.baseline]
  if self.baseline and (not base or base.reference) then
    error("report: the baseline '" .. tostring(self.baseline) .. "' has no runs", 2)
  end
  local rows = {}
  for _, name in ipairs(self.order) do
    local m = self.methods[name]
    local row = { name = name, metrics = {} }
    if m.reference then
      row.reference, row.note = true, m.note
      for k, v in pairs(m.metrics) do row.metrics[k] = { mean = v } end
    else
      row.seeds = {}
      for i, run in ipairs(m.runs) do row.seeds[i] = run.seed end
      row.n = m.runs[1].n
      for metric in pairs(m.runs[1].metrics) do
        local xs = {}
        for i, run in ipairs(m.runs) do xs[i] = run.metrics[metric] end
        local s = stats.summary(xs)
        if base and m ~= base then
          local ts, tn = test_against(self, m, base, metric), test_seeds(m, base, metric)
          if ts then s.p_sessions, s.t_sessions = ts.p, ts.t end
          if tn then s.p_seeds, s.t_seeds = tn.p, tn.t end
          local t = self.pair == "seeds" and tn or ts
          if t then s.p, s.t = t.p, t.t end
        end
        row.metrics[metric] = s
      end
    end
    rows[#rows + 1] = row
  end
  return rows
end

-- ---- Markdown -----------------------------------------------------------------------------------

local function short(metric)
  local kind, k = eval.parse_metric(metric)
  if not k then return metric end
  return ({ HR = "H", NDCG = "N", MRR = "MRR" })[kind] .. "@" .. k
end

-- The metric's summary for a column (aliases such as "H@10" resolve to "HR@10").
local function cell_of(row, col)
  local kind, k = eval.parse_metric(col)
  return row.metrics[k and (kind .. "@" .. k) or kind] or row.metrics[col]
end

local function fmt(x, digits) return string.format("%." .. digits .. "f", x) end

function Report:markdown()
  local rows = self:summary()
  local lines = { "## " .. self.title, "" }
  local head, rule = { "Method" }, { "---" }
  for _, c in ipairs(self.columns) do
    head[#head + 1] = short(c)
    rule[#rule + 1] = "---:"
  end
  lines[#lines + 1] = "| " .. table.concat(head, " | ") .. " |"
  lines[#lines + 1] = "|" .. table.concat(rule, "|") .. "|"
  local seeds, n_sessions
  for _, row in ipairs(rows) do
    local cells = { row.name }
    for _, c in ipairs(self.columns) do
      local s = cell_of(row, c)
      if not s or s.mean == nil then
        cells[#cells + 1] = "–"
      else
        local text = fmt(s.mean, self.digits) .. stats.mark(s.p, self.alpha)
        if s.std then text = text .. " ± " .. fmt(s.std, self.digits) end
        cells[#cells + 1] = text
      end
    end
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
    if not row.reference then
      seeds = seeds or row.seeds
      n_sessions = n_sessions or row.n
    end
  end
  lines[#lines + 1] = ""
  local notes = {}
  if seeds then
    notes[#notes + 1] = string.format("Mean ± sample standard deviation over %d seed%s (%s).", #seeds,
      #seeds == 1 and "" or "s", table.concat(seeds, ", "))
  end
  if self.baseline and self.pair == "seeds" then
    notes[#notes + 1] = string.format("* p < %g, two-sided paired t-test over the seeds (each seed's metric, "
      .. "runs matched by seed) against %s.", self.alpha, self.baseline)
  elseif self.baseline then
    notes[#notes + 1] = string.format("* p < %g, two-sided paired t-test over the %s %s sessions (per-session "
      .. "values averaged over seeds) against %s.", self.alpha, tostring(n_sessions),
      (self.settings and self.settings.split) or "test", self.baseline)
  end
  local set = self.settings
  if set then
    local how = set.candidates == "full" and string.format("Full ranking over all %s items", tostring(set.n_items))
      or string.format("Ranking among %s candidates (%s)", tostring(set.n_candidates),
        set.candidates == "uniform" and "the target and uniform negatives from outside the session"
        or "the target and given negatives")
    notes[#notes + 1] = string.format("%s; ties: %s; the session's own items %s.", how, tostring(set.ties),
      set.mask_session_items and "masked" or "not masked")
  end
  for _, row in ipairs(rows) do
    if row.reference and row.note then notes[#notes + 1] = row.name .. ": " .. row.note end
  end
  lines[#lines + 1] = table.concat(notes, " ")
  return table.concat(lines, "\n") .. "\n"
end

-- ---- CSV: one row per method and metric ------------------------------------------------------

local function csv_field(v)
  if v == nil then return "" end
  if type(v) == "number" then return string.format("%.17g", v) end
  v = tostring(v)
  if v:find('[",\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- method, metric, mean, std, n (seeds), p and t of the table's test, and both tests' p.
function Report:csv()
  local lines = { "method,metric,mean,std,seeds,p,t,p_seeds,p_sessions,reference" }
  for _, row in ipairs(self:summary()) do
    for _, c in ipairs(self.columns) do
      local s = cell_of(row, c)
      if s then
        local kind, k = eval.parse_metric(c)
        local fields = { row.name, k and (kind .. "@" .. k) or kind, s.mean, s.std, s.n, s.p, s.t, s.p_seeds,
                         s.p_sessions, row.reference and "true" or "false" }
        local out = {}
        for i = 1, 10 do out[i] = csv_field(fields[i]) end
        lines[#lines + 1] = table.concat(out, ",")
      end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- ---- JSON -----------------------------------------------------------------------------------------

-- Shortest decimal text that reads back as the same double.
local function number_text(v)
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
  for _, p in ipairs({ 15, 16, 17 }) do
    local s = string.format("%." .. p .. "g", v)
    if tonumber(s) == v then return s end
  end
end

local function is_array(t)
  local n = #t
  if n == 0 then return next(t) == nil end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

-- Canonical, indented JSON: sorted keys, arrays of scalars on one line.
local function encode(v, indent, out)
  local ty = type(v)
  if ty == "table" then
    local pad, inner = string.rep("  ", indent), string.rep("  ", indent + 1)
    if is_array(v) then
      if #v == 0 then out[#out + 1] = "[]" return end
      local flat = true
      for i = 1, #v do flat = flat and type(v[i]) ~= "table" end
      if flat then
        local parts = {}
        for i = 1, #v do
          local sub = {}
          encode(v[i], 0, sub)
          parts[i] = table.concat(sub)
        end
        out[#out + 1] = "[" .. table.concat(parts, ", ") .. "]"
        return
      end
      out[#out + 1] = "[\n"
      for i = 1, #v do
        out[#out + 1] = inner
        encode(v[i], indent + 1, out)
        out[#out + 1] = i < #v and ",\n" or "\n"
      end
      out[#out + 1] = pad .. "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("report: JSON object keys must be strings, got " .. type(k), 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{\n"
      for i, k in ipairs(keys) do
        out[#out + 1] = inner .. cjson.encode(k) .. ": "
        encode(v[k], indent + 1, out)
        out[#out + 1] = i < #keys and ",\n" or "\n"
      end
      out[#out + 1] = pad .. "}"
    end
  elseif ty == "number" then
    out[#out + 1] = number_text(v)
  elseif ty == "string" then
    out[#out + 1] = cjson.encode(v)
  elseif ty == "boolean" then
    out[#out + 1] = tostring(v)
  elseif v == nil or v == cjson.null then
    out[#out + 1] = "null"
  else
    error("report: cannot write a " .. ty .. " as JSON", 0)
  end
end

function M.json(v)
  local out = {}
  encode(v, 0, out)
  return table.concat(out) .. "\n"
end

-- Everything the table knows, as plain data: the summaries and every run.
function Report:data()
  local rows = self:summary()
  local methods = {}
  for i, row in ipairs(rows) do
    local m = self.methods[row.name]
    local entry = { name = row.name, summary = row.metrics }
    if row.reference then
      entry.reference, entry.note = true, row.note
    else
      entry.seeds, entry.runs = row.seeds, {}
      for j, run in ipairs(m.runs) do
        entry.runs[j] = { seed = run.seed, metrics = run.metrics, n = run.n, sessions = run.sessions,
                          ranks = run.ranks }
      end
    end
    methods[i] = entry
  end
  return { format = "sprint-results-v1", title = self.title, baseline = self.baseline, columns = self.columns,
           alpha = self.alpha, pair = self.pair, settings = self.settings, methods = methods }
end

-- a kill leaves the old file or the new one (sprint.files: temporary file, fsync, rename)
local function write_atomic(path, text) require("sprint.files").write_atomic(path, text) end

-- Writes dir/<name>.json, dir/<name>.md and dir/<name>.csv (name "results"); returns the paths.
function Report:write(dir, name)
  if type(dir) ~= "string" or dir == "" then error("report:write: a directory is needed", 2) end
  name = name or "results"
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local json_path, md_path = dir .. "/" .. name .. ".json", dir .. "/" .. name .. ".md"
  write_atomic(json_path, M.json(self:data()))
  write_atomic(md_path, self:markdown())
  write_atomic(dir .. "/" .. name .. ".csv", self:csv())
  return json_path, md_path, dir .. "/" .. name .. ".csv"
end

-- Reads a results file back as plain tables (a JSON null, e.g. a NaN written out, is cjson.null).
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then error("report.read: " .. tostring(err), 2) end
  local text = f:read("*a")
  f:close()
  local ok, v = pcall(cjson.decode, text)
  if not ok then error("report.read: " .. path .. " is not JSON: " .. tostring(v), 2) end
  return v
end

-- A report rebuilt from a results file, to add runs or compare against them.
function M.load(path)
  local d = M.read(path)
  if d.format ~= "sprint-results-v1" then error("report.load: " .. path .. " is not a sprint results file", 2) end
  local rep = M.new { title = d.title, baseline = d.baseline, columns = d.columns, alpha = d.alpha, pair = d.pair }
  for _, m in ipairs(d.methods) do
    if m.reference then
      local metrics = {}
      for k, s in pairs(m.summary) do metrics[k] = s.mean end
      rep:reference(m.name, metrics, m.note)
    else
      for _, run in ipairs(m.runs) do
        rep:add(m.name, { metrics = run.metrics, ranks = run.ranks, sessions = run.sessions, n = run.n,
                          settings = d.settings }, { seed = run.seed })
      end
    end
  end
  return rep
end

return M
