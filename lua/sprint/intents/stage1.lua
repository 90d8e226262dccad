-- intents/stage1.lua — Stage 1 after the selection (paper §4.1.2): the global intent pool
-- from the domain (Eq. 5), then a predict-and-correct conversation per hard session as
-- concurrent coroutines over the LLM client, accepted intents joining the pool (Algorithm 1,
-- line 12), every finished session journalled, and the stage's report.
--
--   local result = stage1.run { ds = ds, hard = {12, 40, ...}, dir = "runs/x/stage1", client = client,
--                               domain = "Beauty", templates = templates.load(), concurrency = 16 }
--
-- Files in dir (Stage 2 reads them through sprint.intents.load):
--   pool.json        the pool, saved after every change (pool.lua)
--   intents.jsonl    one line per finished hard session: its intents, tries, predictions, hard
--                    negatives (appended as each finishes: a kill loses none; after a power
--                    loss the last few are asked again, from the cache)
--   pc_started.jsonl the pool size each conversation started with: the pool only grows, so a
--                    conversation interrupted by a kill is asked again with the very same
--                    prompt, and its finished tries come back from the cache, unpaid
--   stage1.md, stage1.json   the report
--   batch/           in batch mode: the requests due, as OpenAI Batch API files
-- Order: a new intent is visible to conversations that start after its session was accepted.
-- With concurrency 1 this is exactly the paper's sequential loop; the report says which ran.
local json = require "sprint.llm.json"
local cjson = require "cjson.safe"
local llm = require "sprint.llm"
local files = require "sprint.files"
local clock = require "sprint.clock"
local Pool = require "sprint.intents.pool"
local pc = require "sprint.intents.pc"
local progress_mod = require "sprint.intents.progress"
local report = require "sprint.intents.stage1_report"

local M = {}

-- What each dataset's domain is called in the prompts (a setting overrides it).
M.DOMAINS = { beauty = "Beauty", yelp = "Yelp businesses (restaurants, shops and local services)",
              planted = "Beauty" }

local DEFAULTS = { max_tries = 3, candidates = 5, seed = 1, concurrency = 16, pool_cap = 1000,
                   gip_max_intents = 40, progress = true, batch = false, batch_results = "",
                   max_failures_in_a_row = 3 }

-- The records of a journal file (torn last line dropped and cut off, so appends stay whole).
local function read_journal(path)
  local text = files.read(path)
  if not text then return {} end
  if #text > 0 and text:sub(-1) ~= "\n" then
    text = text:match("^(.*\n)") or ""
    files.write_atomic(path, text) -- a kill tore the last record: it was not finished
  end
  local out = {}
  local n = 0
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    if line ~= "" then
      local v = cjson.decode(line)
      if type(v) ~= "table" then error("stage 1: " .. path .. ", line " .. n .. ": not a JSON record", 0) end
      out[#out + 1] = v
    end
  end
  return out
end
M.read_journal = read_journal

-- The pool: the saved one, or initialised from the domain with gip_init.txt.
local function open_pool(o, client)
  local path = o.dir .. "/pool.json"
  if files.exists(path) then return Pool.load(path, { cap = o.pool_cap }), false end
  local msgs = o.templates:messages("gip_init", { domain = o.domain, max_intents = o.gip_max_intents })
  local ans, why, info = client:chat(msgs, { schema = llm.schemas.gip_init, task = "gip_init", stage = "gip" })
  if not ans and info.kind == "deferred" then return nil, false end -- batch mode: the first round asks for it
  if not ans then error("stage 1: the intent pool could not be initialised (" .. o.templates.path.gip_init .. "): " .. why, 0) end
  local pool = Pool.new { path = path, cap = o.pool_cap }
  local _, new = pool:add_all(ans.json.intents, { source = "initial" })
  if #new == 0 then
    error("stage 1: the intent-pool answer named no usable intent (" .. o.templates.path.gip_init .. "): "
      .. ans.content:sub(1, 200), 0)
  end
  pool:mark(0)
  pool:save()
  return pool, true
end

-- Runs the stage; returns { records = {session index -> record}, pool, report = table,
-- complete = bool, stopped = why or nil, deferred = n }.
function M.run(opts)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  for _, k in ipairs { "ds", "hard", "dir", "client", "templates", "domain" } do
    if o[k] == nil then error("stage1.run: missing " .. k, 2) end
  end
  local ds, client = o.ds, o.client
  files.mkdir(o.dir)
  local t0 = clock.now()
  local before = client:report()

  -- batch mode: answers from a results file join the cache first; calls not in the cache are
  -- written to a batch file instead of being sent
  local batch_info
  if o.batch_results ~= "" then
    batch_info = require("sprint.llm.batch").import(client, o.batch_results, o.dir .. "/batch")
  end
  if o.batch then client:defer_misses(true) end

  local pool, fresh_pool = open_pool(o, client)
  if not pool then
    client:defer_misses(false)
    local file, n = require("sprint.llm.batch").write_round(client, o.dir .. "/batch")
    return { records = {}, complete = false, deferred = n, batch_file = file, batch_import = batch_info,
             stopped = "batch mode: the intent-pool request is in " .. file .. "; submit it, then rerun with batch_results" }
  end
  local journal, started_path = o.dir .. "/intents.jsonl", o.dir .. "/pc_started.jsonl"
  local records, finished = {}, {}
  for _, r in ipairs(read_journal(journal)) do
    records[r.session], finished[r.key] = r, true
  end
  local started = {}
  for _, r in ipairs(read_journal(started_path)) do started[r.key] = r.pool end

  local env = { client = client, ds = ds, domain = o.domain, templates = o.templates, max_tries = o.max_tries }
  local todo = {}
  for _, i in ipairs(o.hard) do
    local key = ds:session(i).key
    if not finished[key] then todo[#todo + 1] = i end
  end
  local n_done_before = 0
  for _ in pairs(records) do n_done_before = n_done_before + 1 end
  local show = progress_mod.new { total = #o.hard, done = n_done_before, client = client, enabled = o.progress }
  local stop_reason
  local unfinished = {}
  local failures_in_a_row = 0

  local tasks = {}
  for t, i in ipairs(todo) do
    tasks[t] = function()
      local case = pc.case(ds, i, { candidates = o.candidates, seed = o.seed })
      local n = started[case.key]
      if not n then
        n = pool:size()
        started[case.key] = n
        files.append_line(started_path, json.encode { key = case.key, session = i, pool = n })
      end
      local rec, why, kind = pc.converse(env, case, pool:names(n))
      if not rec then
        unfinished[#unfinished + 1] = { session = i, key = case.key, why = why, kind = kind }
        if kind == "network" or kind == "http" or kind == "bad_response" then
          -- an endpoint that is down, or refuses every request the same way, fails them all
          -- after their retries: stop after a few in a row rather than wait out every session
          failures_in_a_row = failures_in_a_row + 1
          if failures_in_a_row >= o.max_failures_in_a_row and not stop_reason then
            stop_reason = string.format("%d sessions in a row could not reach the endpoint; the last: %s",
              failures_in_a_row, why)
          end
        end
        return nil
      end
      failures_in_a_row = 0
      if rec.status == "accepted" then
        local ok, err = pcall(function()
          local got, new = pool:add_all(rec.intents, { source = "pc", session = case.key, try = rec.accepted_try })
          rec.intents, rec.novel = json.array {}, json.array {}
          for k, e in ipairs(got) do rec.intents[k] = e.name end
          for k, e in ipairs(new) do rec.novel[k] = e.name end
        end)
        if not ok then -- the pool's cap: stop the stage; this session stays unfinished
          stop_reason = tostring(err)
          unfinished[#unfinished + 1] = { session = i, key = case.key, why = stop_reason, kind = "pool_cap" }
          return nil
        end
      end
      files.append_line(journal, json.encode(rec))
      records[i] = rec
      show:finished(rec)
      pool:mark(show.done)
      return rec
    end
  end
  local _, errors, summary = llm.gather(tasks, { concurrency = o.concurrency, stop = function() return stop_reason end })
  pool:save()
  show:close()
  client:flush()
  local task_errors = {}
  for t, e in pairs(errors) do
    if not e:match("^not started") then task_errors[#task_errors + 1] = "session " .. todo[t] .. ": " .. e end
  end
  stop_reason = stop_reason or summary.stopped
  if #task_errors > 0 and not stop_reason then stop_reason = task_errors[1] end

  local deferred = 0
  local batch_file
  if o.batch then
    client:defer_misses(false)
    batch_file, deferred = require("sprint.llm.batch").write_round(client, o.dir .. "/batch")
  end
  local n_finished = 0
  for _ in pairs(records) do n_finished = n_finished + 1 end
  local result = {
    records = records, pool = pool, complete = n_finished == #o.hard, stopped = stop_reason,
    deferred = deferred, batch_file = batch_file, batch_import = batch_info, unfinished = unfinished,
    task_errors = task_errors, fresh_pool = fresh_pool,
  }
  result.report = report.write(o, result, {
    hard = o.hard, wall_seconds = clock.now() - t0, calls_before = before, calls_after = client:report(),
    mode = o.concurrency == 1 and "sequential (the paper's loop)" or ("concurrent, " .. o.concurrency .. " conversations in flight"),
  })
  return result
end

-- sprint.intents.load(dir): what a finished Stage 1 left in dir: { pool = Pool, records =
-- {session index -> record}, intents = {session index -> {names}}, hard_negatives =
-- {session index -> {items}}, labels = {session index -> {pool ids}} }.
function M.load(dir)
  local pool = Pool.load(dir .. "/pool.json")
  local out = { pool = pool, records = {}, intents = {}, hard_negatives = {}, labels = {} }
  for _, r in ipairs(read_journal(dir .. "/intents.jsonl")) do
    out.records[r.session] = r
    if r.status == "accepted" then
      out.intents[r.session] = r.intents
      local ids = {}
      for k, name in ipairs(r.intents) do
        local e = pool:find(name)
        if not e then error("stage 1: " .. dir .. "/intents.jsonl: session " .. r.key .. " has intent '" .. name
          .. "', which is not in " .. dir .. "/pool.json", 0) end
        ids[k] = e.id
      end
      out.labels[r.session] = ids
    end
    if #r.hard_negatives > 0 then out.hard_negatives[r.session] = r.hard_negatives end
  end
  return out
end

return M
