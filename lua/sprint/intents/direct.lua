-- intents/direct.lua — Stage 1 without the pool and without predict-and-correct: the ablation's
-- row (B) (paper Table 5, "LLM-generated intents"). One prompt per hard session
-- (recipes/prompts/direct.txt: the session's items without its last, as P&C shows them, and no
-- pool, candidates or prediction); its intents are taken as given, never checked against a
-- prediction, and give no hard negatives. The pool Stage 2 needs is then every distinct intent
-- (normalised as sprint.intents.pool does), in the order of the hard sessions.
--   local result = direct.run { ds = ds, hard = hard, dir = dir, client = client, domain = "Beauty",
--                               templates = templates.load(), concurrency = 16 }
-- Files in dir, read by sprint.intents.load like Stage 1's: intents.jsonl (one record per
-- answered session, appended as each finishes: a rerun asks only the others) and pool.json.
local json = require "sprint.llm.json"
local llm = require "sprint.llm"
local files = require "sprint.files"
local Pool = require "sprint.intents.pool"
local read_journal = require("sprint.intents.stage1").read_journal

local M = {}

function M.run(o)
  for _, k in ipairs { "ds", "hard", "dir", "client", "templates", "domain" } do
    if o[k] == nil then error("direct.run: missing " .. k, 2) end
  end
  local ds, client = o.ds, o.client
  files.mkdir(o.dir)
  local journal = o.dir .. "/intents.jsonl"
  local records = {}
  for _, r in ipairs(read_journal(journal)) do records[r.session] = r end
  local todo = {}
  for _, i in ipairs(o.hard) do if not records[i] then todo[#todo + 1] = i end end

  local unfinished = {}
  local tasks = {}
  for t, i in ipairs(todo) do
    tasks[t] = function()
      local s = ds:session(i)
      local shown = {}
      for k = 1, #s.items - 1 do
        local it = ds:item(s.items[k])
        shown[k] = { title = it.title ~= "" and it.title or ("item " .. it.key), brand = it.brand,
                     categories = it.categories }
      end
      local msgs = o.templates:messages("direct", { domain = o.domain, session_items = shown })
      local ans, why, info = client:chat(msgs, { schema = llm.schemas.gip_init, task = "direct", stage = "direct" })
      if not ans then
        unfinished[#unfinished + 1] = { session = i, key = s.key, why = why, kind = info and info.kind }
        return nil
      end
      local rec = { session = i, key = s.key, status = "accepted", tries = 1, intents = json.array {},
                    hard_negatives = json.array {}, problems = json.array {} }
      for _, name in ipairs(ans.json.intents) do
        if Pool.normalize(name) ~= "" then rec.intents[#rec.intents + 1] = name end
      end
      if #rec.intents == 0 then rec.status = "rejected" end
      files.append_line(journal, json.encode(rec))
      records[i] = rec
      return rec
    end
  end
  local _, errors = llm.gather(tasks, { concurrency = o.concurrency or 16 })
  client:flush()
  for t, e in pairs(errors) do unfinished[#unfinished + 1] = { session = todo[t], why = e } end

  -- the pool: every distinct intent, in the order of the hard sessions (whatever order the
  -- answers came in); each record names its intents as the pool spells them
  local pool = Pool.new { cap = o.pool_cap or 0 } -- no path while it grows: saved once, atomically
  for _, i in ipairs(o.hard) do
    local r = records[i]
    if r and r.status == "accepted" then pool:add_all(r.intents, { source = "direct", session = r.key }) end
  end
  pool.path = o.dir .. "/pool.json"
  pool:save()
  local n = 0
  for _ in pairs(records) do n = n + 1 end
  return { records = records, pool = pool, complete = n == #o.hard, unfinished = unfinished,
           stopped = #unfinished > 0 and unfinished[1].why or nil }
end

return M
