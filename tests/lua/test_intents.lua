-- test_intents.lua — Stage 1's pieces: the intent pool (normalisation, provenance, saving,
-- the cap), the P&C question (candidates), the template set and its errors, the P&C state
-- machine against a scripted model, and the whole stage on planted data with the stand-in
-- (records, pool growth, resume, the batch-file round trip).
local h = require "helpers"
local S = require "llm_support"
local sprint = require "sprint"
local llm = require "sprint.llm"
local json = require "sprint.llm.json"
local cjson = require "cjson.safe"
local Pool = require "sprint.intents.pool"
local pc = require "sprint.intents.pc"
local templates = require "sprint.intents.templates"
local stage1 = require "sprint.intents.stage1"
local files = require "sprint.files"

local tests = {}

-- ---- the pool ---------------------------------------------------------------------------------

function tests.pool_normalisation_merges_spellings_of_one_intent()
  local N = Pool.normalize
  h.eq(N("Fragrance-Free Products"), "fragrance free product")
  h.eq(N(" fragrance_free  products. "), "fragrance free product")
  h.eq(N("fragrance free product"), "fragrance free product")
  h.eq(N("Accessories"), "accessory")
  h.eq(N("glasses"), "glass")
  h.eq(N("brushes"), "brush")
  h.eq(N("gloss"), "gloss")     -- ss stays
  h.eq(N("gas"), "gas")         -- short words stay
  h.eq(N("Men's grooming"), "men s grooming")
  h.eq(N("ANTI-AGING!!"), "anti aging")
  h.eq(N("  "), "")
  h.truthy(N("eco-friendly") ~= N("environmentally friendly"), "synonyms are the model's job, not the rule's")
end

function tests.pool_provenance_order_save_load_and_cap()
  local dir = S.tmpdir()
  local pool = Pool.new { path = dir .. "/pool.json", cap = 4 }
  local got, new = pool:add_all({ "Anti-aging", "skin care", "Skin-Care", "" }, { source = "initial" })
  h.eq(#got, 2)
  h.eq(#new, 2)
  h.eq(table.concat(pool:names(), "|"), "Anti-aging|skin care")
  local e, is_new = pool:add("anti aging", { source = "pc", session = "s9", try = 2 })
  h.eq(is_new, false)
  h.eq(e.source, "initial") -- the first provenance stays
  pool:add_all({ "fragrance free products" }, { source = "pc", session = "s12", try = 2 })
  local f = pool:find("Fragrance-Free Product")
  h.eq(f.session, "s12")
  h.eq(f.try, 2)
  h.eq(f.id, 3)
  -- saved after every change: a fresh load has the same pool
  local back = Pool.load(dir .. "/pool.json")
  h.eq(table.concat(back:names(), "|"), "Anti-aging|skin care|fragrance free products")
  h.eq(back:find("fragrance free product").session, "s12")
  h.eq(table.concat(back:names(2), "|"), "Anti-aging|skin care")
  -- the cap: a clear error, and the pool on disk is the one before
  pool:add("lip care", { source = "pc" })
  h.raises({ "would pass the cap of 4", "pool_cap", dir .. "/pool.json" }, pool.add, pool, "nail art", { source = "pc" })
  h.eq(Pool.load(dir .. "/pool.json"):size(), 3)
  -- a broken file names itself
  S.write(dir .. "/bad.json", '{"format":"something else"}')
  h.raises({ dir .. "/bad.json", "not an intent pool file" }, Pool.load, dir .. "/bad.json")
  h.raises({ "cannot read", dir .. "/missing.json" }, Pool.load, dir .. "/missing.json")
  os.execute("rm -rf " .. S.q(dir))
end

-- ---- the question ------------------------------------------------------------------------------

local function planted()
  return sprint.data.load("planted")
end

local function train_sessions(ds, n, min_len)
  local out = {}
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" and #s.items >= (min_len or 2) then
      out[#out + 1] = i
      if #out == n then break end
    end
  end
  return out
end

function tests.candidates_hold_the_target_no_session_item_and_are_deterministic()
  local ds = planted()
  local seen_pos = {}
  for _, i in ipairs(train_sessions(ds, 200)) do
    local s = ds:session(i)
    local c = pc.case(ds, i, { candidates = 5, seed = 3 })
    h.eq(#c.items, 6)
    h.eq(c.target, s.items[#s.items])
    h.eq(c.by_label[c.answer], c.target)
    h.eq(#c.shown, #s.items - 1)
    local in_s, distinct = {}, {}
    for _, it in ipairs(s.items) do in_s[it] = true end
    for k, it in ipairs(c.items) do
      h.eq(c.labels[k], "C" .. k)
      if it ~= c.target then h.truthy(not in_s[it], "a session item among the candidates of session " .. i) end
      h.truthy(not distinct[it], "a repeated candidate")
      distinct[it] = true
    end
    for k, it in ipairs(c.items) do if it == c.target then seen_pos[k] = (seen_pos[k] or 0) + 1 end end
    -- the same question on a rerun, another with another seed
    local again = pc.case(ds, i, { candidates = 5, seed = 3 })
    h.eq(table.concat(again.items, ","), table.concat(c.items, ","))
  end
  for k = 1, 6 do h.truthy((seen_pos[k] or 0) > 15, "i_N at position " .. k .. " only " .. tostring(seen_pos[k]) .. " times of 200") end
  local i = train_sessions(ds, 1)[1]
  h.truthy(table.concat(pc.case(ds, i, { seed = 3 }).items, ",") ~= table.concat(pc.case(ds, i, { seed = 4 }).items, ","))
end

function tests.prediction_labels_are_read_leniently_but_exactly()
  h.eq(pc.label_of("C3"), "C3")
  h.eq(pc.label_of("[C3]"), "C3")
  h.eq(pc.label_of(" c3. "), "C3")
  h.eq(pc.label_of("C03"), "C3")
  h.eq(pc.label_of("the lipstick"), "the lipstick")
  h.eq(pc.label_of("C3 or C4"), "C3 or C4")
end

-- ---- templates -----------------------------------------------------------------------------------

local function template_dir(overrides)
  local dir = S.tmpdir()
  for _, name in ipairs { "gip_init", "pc", "feedback", "feedback_invalid" } do
    if overrides[name] ~= false then
      S.write(dir .. "/" .. name .. ".txt", overrides[name] or select(1, llm.prompt.load(name)))
    end
  end
  return dir
end

function tests.template_set_checks_placeholders_and_names_the_file()
  local set = templates.load()
  h.eq(#set.sha256.pc, 64)
  local msgs = set:messages("feedback", { prediction = "C2", intents = { "skin care" } })
  h.truthy(msgs[1].content:find("<prediction>C2</prediction>", 1, true), msgs[1].content)
  -- a template that lost a placeholder the model needs
  local dir = template_dir { pc = (select(1, llm.prompt.load("pc")):gsub("{{candidates}}", "the candidates")) }
  h.raises({ dir .. "/pc.txt", "{{candidates}} is missing" }, templates.load, dir)
  os.execute("rm -rf " .. S.q(dir))
  -- one with a placeholder nobody fills
  dir = template_dir { feedback = "The prediction {{prediction}} failed for {{session}}." }
  h.raises({ dir .. "/feedback.txt", "unknown placeholder {{session}}" }, templates.load, dir)
  os.execute("rm -rf " .. S.q(dir))
  -- a missing file
  dir = template_dir { feedback_invalid = false }
  h.raises({ dir .. "/feedback_invalid.txt", "no such file" }, templates.load, dir)
  os.execute("rm -rf " .. S.q(dir))
end

-- ---- the P&C state machine against a scripted model ----------------------------------------------

-- A client whose answers are scripted per try: "right", "wrong", "unknown" (a label that is no
-- candidate), "garbage" (not JSON), "budget" (no call possible). Records what it was sent.
local function scripted(script, case)
  local c = { sent = {} }
  function c:chat(msgs, o)
    local copy = {}
    for k, m in ipairs(msgs) do copy[k] = m end
    self.sent[#self.sent + 1] = { msgs = copy, try = o.try }
    local what = script[o.try]
    if what == "budget" then return nil, "budget reached: 1 paid calls of 1", { kind = "budget" } end
    if what == "garbage" then return nil, "no JSON object in the answer", { kind = "malformed", content = "I think C2." } end
    local label = case.answer
    if what == "wrong" then label = case.answer == "C1" and "C2" or "C1" end
    if what == "unknown" then label = "C9" end
    local content = json.encode { intents = json.array { "Skin Care", "hydration" }, prediction = label }
    return { content = content, json = cjson.decode(content) }
  end
  return c
end

local function converse(script)
  local ds = planted()
  local i = train_sessions(ds, 1, 3)[1]
  local case = pc.case(ds, i, { seed = 1 })
  local client = scripted(script, case)
  local env = { client = client, ds = ds, domain = "Beauty", templates = templates.load(), max_tries = 3 }
  local rec, why, kind = pc.converse(env, case, { "skin care", "hair care" })
  return rec, why, kind, client, case
end

function tests.pc_accepts_on_try_one_two_or_three_and_records_hard_negatives()
  local rec, _, _, client, case = converse { "right" }
  h.eq(rec.status, "accepted")
  h.eq(rec.accepted_try, 1)
  h.eq(#rec.hard_negatives, 0)
  h.eq(table.concat(rec.intents, "|"), "Skin Care|hydration")
  h.eq(#client.sent, 1)
  -- the prompt shows the session without i_N, every candidate, the pool
  local text = client.sent[1].msgs[#client.sent[1].msgs].content
  h.truthy(text:find("<intent_pool>\n- skin care\n- hair care\n</intent_pool>", 1, true), text)
  for _, l in ipairs(case.labels) do h.truthy(text:find("[" .. l .. "]", 1, true), "candidate " .. l .. " not shown") end

  rec, _, _, client = converse { "wrong", "right" }
  h.eq(rec.accepted_try, 2)
  h.eq(#rec.hard_negatives, 1)
  h.eq(rec.hard_negatives[1], case.by_label[rec.predictions[1]])
  -- the second try is the same conversation plus the model's answer and the feedback turn
  local second = client.sent[2].msgs
  h.eq(#second, #client.sent[1].msgs + 2)
  h.eq(second[#second - 1].role, "assistant")
  h.truthy(second[#second].content:find("<prediction>" .. rec.predictions[1] .. "</prediction> failed", 1, true), second[#second].content)

  rec = converse { "wrong", "wrong", "right" }
  h.eq(rec.accepted_try, 3)
  h.eq(#rec.hard_negatives, 1) -- the same wrong item twice is one hard negative
end

function tests.pc_rejects_after_three_wrong_tries_and_keeps_no_intents()
  local rec, _, _, client = converse { "wrong", "wrong", "wrong" }
  h.eq(rec.status, "rejected")
  h.eq(rec.tries, 3)
  h.eq(#rec.intents, 0)
  h.eq(#client.sent, 3)
end

function tests.pc_malformed_answers_and_unknown_labels_are_failed_tries_with_feedback()
  local rec, _, _, client = converse { "garbage", "unknown", "right" }
  h.eq(rec.status, "accepted")
  h.eq(rec.accepted_try, 3)
  h.eq(#rec.hard_negatives, 0)
  h.truthy(rec.problems[1]:find("no JSON object", 1, true), tostring(rec.problems[1]))
  h.truthy(rec.problems[2]:find("'C9' is not one of the candidate labels", 1, true), tostring(rec.problems[2]))
  local fb = client.sent[2].msgs[#client.sent[2].msgs].content
  h.truthy(fb:find("could not be used: <problem>no JSON object", 1, true), fb)
  h.eq(client.sent[2].msgs[#client.sent[2].msgs - 1].content, "I think C2.")
end

function tests.pc_leaves_a_session_unfinished_when_no_call_can_be_made()
  local rec, why, kind = converse { "wrong", "budget" }
  h.eq(rec, nil)
  h.eq(kind, "budget")
  h.truthy(why:find("budget reached", 1, true))
end

-- ---- the whole stage on planted data with the stand-in --------------------------------------------

local function catalogue(ds)
  local cat = {}
  for j = 1, ds:n_items() do cat[j] = ds:item(j) end
  return cat
end

local function run_stage(ds, hard, dir, extra)
  local client = llm.new { catalogue = catalogue(ds) }
  local o = { ds = ds, hard = hard, dir = dir, client = client, domain = "Beauty", templates = templates.load(),
              progress = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  local res = stage1.run(o)
  client:close()
  return res
end

function tests.stage_on_planted_data_journals_every_session_and_resumes()
  local ds = planted()
  local hard = train_sessions(ds, 40)
  local dir = S.tmpdir()
  local full = run_stage(ds, hard, dir .. "/full")
  h.eq(full.complete, true)
  h.eq(full.report.finished, 40)
  h.truthy(full.report.accepted >= 20, "accepted " .. full.report.accepted)
  h.eq(full.report.accepted + full.report.rejected, 40)
  local lines = files.read_lines(dir .. "/full/intents.jsonl")
  h.eq(#lines, 40)
  local md = files.read(dir .. "/full/stage1.md")
  h.truthy(md:find("offline stand-in (not an LLM", 1, true) and md:find("Acceptance by try", 1, true), md)
  -- every accepted intent is in the pool; provenance of added ones names their session
  local loaded = stage1.load(dir .. "/full")
  for i, names in pairs(loaded.intents) do
    h.eq(#names, #loaded.labels[i])
    for k, name in ipairs(names) do h.eq(loaded.pool.entries[loaded.labels[i][k]].name, name) end
  end
  for _, e in ipairs(loaded.pool.entries) do
    h.truthy(e.source == "initial" or (e.source == "pc" and e.session and e.try), "provenance of " .. e.name)
  end
  -- a run that stopped half way (the first 15 sessions, then a torn record), then resumed:
  -- the same records as the uninterrupted run
  run_stage(ds, { unpack(hard, 1, 15) }, dir .. "/resumed")
  local f = io.open(dir .. "/resumed/intents.jsonl", "ab")
  f:write('{"session":99,"key":"torn')
  f:close()
  local resumed = run_stage(ds, hard, dir .. "/resumed")
  h.eq(resumed.complete, true)
  h.eq(files.read(dir .. "/resumed/intents.jsonl"):sub(-1), "\n")
  local a, b = stage1.load(dir .. "/full"), stage1.load(dir .. "/resumed")
  for _, i in ipairs(hard) do
    h.eq(json.encode(b.records[i]), json.encode(a.records[i]), "session " .. i)
  end
  h.eq(table.concat(b.pool:names(), "|"), table.concat(a.pool:names(), "|"))
  os.execute("rm -rf " .. S.q(dir))
end

-- A stand-in that also coins one new intent in every P&C answer (a model that ignores the pool).
local function coining_client(ds)
  local inner = llm.new { catalogue = catalogue(ds) }
  local c = setmetatable({}, { __index = inner })
  function c.chat(_, msgs, o)
    local ans, why, info = inner:chat(msgs, o)
    if ans and o.task == "pc" then ans.json.intents[#ans.json.intents + 1] = "coined for " .. o.session end
    return ans, why, info
  end
  return c, inner
end

function tests.stage_stops_cleanly_at_the_pool_cap_and_resumes_with_a_larger_one()
  local ds = planted()
  local hard = train_sessions(ds, 40)
  local dir = S.tmpdir()
  local o = { ds = ds, hard = hard, dir = dir, domain = "Beauty", templates = templates.load(), progress = false }
  o.client = coining_client(ds)
  local first_pool = stage1.run(o).pool:size() -- no cap: how big the pool grows
  h.truthy(first_pool > 25, "the coining model grew the pool to " .. first_pool)
  os.execute("rm -rf " .. S.q(dir))
  o.client, o.pool_cap = coining_client(ds), 20
  local res = stage1.run(o)
  h.eq(res.complete, false)
  h.truthy(res.stopped and res.stopped:find("would pass the cap of 20", 1, true), tostring(res.stopped))
  h.eq(res.pool:size(), 20)
  local kept = #files.read_lines(dir .. "/intents.jsonl")
  h.truthy(kept >= 1 and kept < 40, "sessions kept: " .. kept)
  h.truthy(files.read(dir .. "/stage1.md"):find("**stopped**", 1, true))
  -- a rerun with a larger cap finishes the rest; the pool is the one an uncapped run makes
  o.client, o.pool_cap = coining_client(ds), 1000
  res = stage1.run(o)
  h.eq(res.complete, true)
  h.eq(#files.read_lines(dir .. "/intents.jsonl"), 40)
  h.eq(res.pool:size(), first_pool)
  os.execute("rm -rf " .. S.q(dir))
end

-- The batch endpoint, played by the stand-in: every request line of a round file answered
-- as a chat completion in the Batch API's results format.
local function answer_round(round_file, results_file, cat, seen)
  local standin = require "sprint.llm.standin"
  local out = {}
  for line in files.read(round_file):gmatch("[^\n]+") do
    local r = cjson.decode(line)
    h.eq(r.method, "POST")
    h.eq(r.url, "/v1/chat/completions")
    h.truthy(not seen[r.custom_id], "request " .. r.custom_id .. " was due twice (paid twice)")
    seen[r.custom_id] = true
    local task = r.body.response_format and r.body.response_format.json_schema.name
    local content = standin.answer(r.body.messages, task, cat)
    out[#out + 1] = cjson.encode { custom_id = r.custom_id, error = cjson.null, response = { status_code = 200,
      body = { model = r.body.model, choices = { { index = 0, finish_reason = "stop",
               message = { role = "assistant", content = content } } },
               usage = { prompt_tokens = 100, completion_tokens = 20 } } } }
  end
  S.write(results_file, table.concat(out, "\n") .. "\n")
end

function tests.batch_mode_round_trip_gives_the_direct_runs_records()
  local ds = planted()
  local hard = train_sessions(ds, 25)
  local dir = S.tmpdir()
  local direct = run_stage(ds, hard, dir .. "/direct")
  local cat = catalogue(ds)
  local seen, rounds, results = {}, 0, ""
  local res
  repeat
    rounds = rounds + 1
    local client = S.with_env(S.clean_env, llm.new, { base_url = "http://127.0.0.1:9/v1", model = "batch-model",
                              cache = dir .. "/llm.sqlite", run = "batch" })
    res = stage1.run { ds = ds, hard = hard, dir = dir .. "/batch", client = client, domain = "Beauty",
                       templates = templates.load(), progress = false, batch = true, batch_results = results }
    client:close()
    if not res.complete then
      h.truthy(res.deferred > 0 and res.batch_file, "an unfinished round wrote no requests: " .. tostring(res.stopped))
      results = dir .. "/results-" .. rounds .. ".jsonl"
      answer_round(res.batch_file, results, cat, seen)
    end
  until res.complete or rounds > 6
  h.eq(res.complete, true)
  h.eq(rounds, 5) -- the pool, then one P&C try per round (3 tries), then the replay that finishes
  local a, b = stage1.load(dir .. "/direct"), stage1.load(dir .. "/batch")
  for _, i in ipairs(hard) do h.eq(json.encode(b.records[i]), json.encode(a.records[i]), "session " .. i) end
  h.eq(table.concat(b.pool:names(), "|"), table.concat(a.pool:names(), "|"))
  -- the ledger has every batch answer as a paid call at the batch price
  local st = require("sprint.llm.store").open(dir .. "/llm.sqlite", "read-only")
  local n = 0
  for _ in pairs(seen) do n = n + 1 end
  h.eq(st:totals("batch").attempts, n)
  st:close()
  os.execute("rm -rf " .. S.q(dir))
end

-- ---- a paid endpoint, killed mid-stage --------------------------------------------------------

local loopback_templates = S.pc_templates

local STAGE_SCRIPT = [[
local stage1 = require "sprint.intents.stage1"
local templates = require "sprint.intents.templates"
local sprint = require "sprint"
local base_url, dir, prompts, n, conc = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])
os.execute("mkdir -p '" .. dir .. "'")
local ds = sprint.data.load("planted")
local hard = {}
for i = 1, ds:n_sessions() do
  local s = ds:session(i)
  if s.split == "train" and #s.items >= 2 and #hard < n then hard[#hard + 1] = i end
end
local client = sprint.llm.new { base_url = base_url, model = "loop", cache = dir .. "/llm.sqlite", run = "kill",
                                backoff_ms = 5, concurrency = conc }
local res = stage1.run { ds = ds, hard = hard, dir = dir .. "/stage1", client = client, domain = "Beauty",
                         templates = templates.load(prompts), concurrency = conc, progress = false }
client:close()
assert(res.complete, tostring(res.stopped))
]]

-- Paid attempts in a stage's ledger, and the tries its records account for (+1: the pool).
local function paid_and_tries(dir, run)
  local st = require("sprint.llm.store").open(dir .. "/llm.sqlite", "read-only")
  local paid = st:totals(run or "kill").attempts
  st:close()
  local tries = 1
  for _, r in pairs(stage1.load(dir .. "/stage1").records) do tries = tries + r.tries end
  return paid, tries
end

-- Runs the stage whole, then killed (SIGKILL) after 8 and 25 finished sessions and rerun.
-- Returns the two run folders and the server's log split at the whole run's end.
local function whole_and_killed(srv, concurrency)
  local exe = S.exe("sprint")
  local dir = S.tmpdir()
  local prompts = loopback_templates()
  S.write(dir .. "/stage.lua", STAGE_SCRIPT)
  local env = "env -u SPRINT_LLM_BASE_URL -u SPRINT_LLM_CACHE -u SPRINT_LLM_MODEL -u SPRINT_LLM_CONFIG "
  local function cmd(run_dir)
    return env .. S.q(exe) .. " run " .. S.q(dir .. "/stage.lua") .. " -- " .. S.q(srv.base_url) .. " "
      .. S.q(run_dir) .. " " .. S.q(prompts) .. " 40 " .. concurrency
  end
  local rc, out, e = S.run(cmd(dir .. "/whole"))
  h.eq(rc, 0, out .. e)
  local paid_whole = #srv:log()
  local journal = dir .. "/killed/stage1/intents.jsonl"
  for _, at in ipairs { 8, 25 } do
    local p = io.popen(cmd(dir .. "/killed") .. " >/dev/null 2>&1 & echo $!")
    local pid = tonumber(p:read("*l"))
    p:close()
    local killed = false
    for _ = 1, 3000 do
      if #files.read_lines(journal) >= at then
        require("ffi").C.kill(pid, 9)
        killed = true
        break
      end
      S.sleep_ms(2)
    end
    h.truthy(killed, "the stage finished before the kill at " .. at)
    S.sleep_ms(50)
  end
  rc, out, e = S.run(cmd(dir .. "/killed"))
  h.eq(rc, 0, out .. e)
  local log, later = srv:log(), {}
  for k = paid_whole + 1, #log do later[#later + 1] = log[k] end
  return dir, prompts, paid_whole, later
end

function tests.stage_killed_twice_resumes_without_paying_a_finished_call_again()
  local srv = S.server { latency_ms = 3 }
  local ok, err = pcall(function()
    local dir, prompts, paid_whole, later = whole_and_killed(srv, 1)
    -- sequential: the same records and pool as the uninterrupted run
    local a, b = stage1.load(dir .. "/whole/stage1"), stage1.load(dir .. "/killed/stage1")
    local n = 0
    for i, r in pairs(a.records) do
      n = n + 1
      h.eq(json.encode(b.records[i]), json.encode(r), "session " .. i)
    end
    h.eq(n, 40)
    h.truthy(a.pool:size() > 4, "the pool grew to " .. a.pool:size())
    h.eq(table.concat(b.pool:names(), "|"), table.concat(a.pool:names(), "|"))
    -- every finished try was paid once: the ledger's paid attempts are the records' tries
    local paid, tries = paid_and_tries(dir .. "/killed")
    h.eq(paid, tries, "paid attempts vs tries in the records")
    -- the server saw the whole run's requests again, plus at most the one in flight per kill
    local arrivals, distinct, repeats = {}, 0, 0
    for _, e in ipairs(later) do arrivals[e.hash] = (arrivals[e.hash] or 0) + 1 end
    for _, c in pairs(arrivals) do distinct, repeats = distinct + 1, repeats + c - 1 end
    h.eq(distinct, paid_whole)
    h.truthy(repeats <= 2, "requests sent again after the kills: " .. repeats)
    os.execute("rm -rf " .. S.q(dir) .. " " .. S.q(prompts))
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

-- With 4 conversations in flight, a conversation cut by the kill is asked again with the pool
-- it started with (pc_started.jsonl), so its finished tries come back from the cache: every
-- paid attempt is still one of the records' tries.
function tests.concurrent_stage_killed_twice_pays_each_finished_try_once()
  local srv = S.server { latency_ms = 3, jitter_ms = 4 }
  local ok, err = pcall(function()
    local dir, prompts = whole_and_killed(srv, 4)
    local b = stage1.load(dir .. "/killed/stage1")
    local n = 0
    for _ in pairs(b.records) do n = n + 1 end
    h.eq(n, 40)
    local paid, tries = paid_and_tries(dir .. "/killed")
    h.eq(paid, tries, "paid attempts vs tries in the records")
    os.execute("rm -rf " .. S.q(dir) .. " " .. S.q(prompts))
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

-- ---- a budget that runs out, an endpoint that dies ------------------------------------------------

local function loopback_stage(srv, dir, prompts, hard, settings)
  local o = { base_url = srv.base_url, model = "loop", cache = dir .. "/llm.sqlite", run = "bad", backoff_ms = 5,
              backoff_max_ms = 20, connect_timeout_ms = 500, timeout_ms = 2000, concurrency = 4 }
  for k, v in pairs(settings or {}) do o[k] = v end
  local client = S.with_env(S.clean_env, llm.new, o)
  local res = stage1.run { ds = planted(), hard = hard, dir = dir .. "/stage1", client = client, domain = "Beauty",
                           templates = templates.load(prompts), concurrency = 4, progress = false }
  client:close()
  return res
end

function tests.stage_stops_at_the_budget_keeps_its_work_and_resumes()
  local srv = S.server { latency_ms = 2 }
  local ok, err = pcall(function()
    local dir, prompts = S.tmpdir(), loopback_templates()
    local hard = train_sessions(planted(), 30)
    local res = loopback_stage(srv, dir, prompts, hard, { budget_calls = 25 })
    h.eq(res.complete, false)
    h.truthy(res.stopped and res.stopped:find("budget reached: 25 paid calls of 25", 1, true), tostring(res.stopped))
    h.eq(#srv:log(), 25)
    local kept = #files.read_lines(dir .. "/stage1/intents.jsonl")
    h.truthy(kept >= 5 and kept < 30, "sessions kept: " .. kept)
    h.truthy(files.read(dir .. "/stage1/stage1.md"):find("budget reached", 1, true))
    h.raises({ "stage 1 stopped", "budget reached", "a rerun resumes" }, require("sprint.intents").finish, res)
    -- a larger budget finishes the rest, paying only for what was not done
    res = loopback_stage(srv, dir, prompts, hard, { budget_calls = 1000 })
    h.eq(res.complete, true)
    local paid, tries = paid_and_tries(dir, "bad")
    h.eq(paid, tries, "paid attempts vs the records' tries")
    h.eq(#srv:log(), tries, "requests the server saw vs the records' tries")
    os.execute("rm -rf " .. S.q(dir) .. " " .. S.q(prompts))
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

function tests.stage_stops_when_the_endpoint_dies_and_resumes_when_it_is_back()
  local srv = S.server { latency_ms = 40, max_seconds = 1 } -- it stops answering after a second
  local ok, err = pcall(function()
    local dir, prompts = S.tmpdir(), loopback_templates()
    local hard = train_sessions(planted(), 80)
    local res = loopback_stage(srv, dir, prompts, hard, { max_retries = 1 })
    h.eq(res.complete, false)
    h.truthy(res.stopped and res.stopped:find("sessions in a row could not reach the endpoint", 1, true), tostring(res.stopped))
    local kept = #files.read_lines(dir .. "/stage1/intents.jsonl")
    h.truthy(kept >= 1 and kept < 80, "sessions kept: " .. kept)
    local srv2 = S.server { latency_ms = 2 }
    local ok2, err2 = pcall(function()
      res = loopback_stage(srv2, dir, prompts, hard)
      h.eq(res.complete, true)
      h.eq(#files.read_lines(dir .. "/stage1/intents.jsonl"), 80)
    end)
    srv2:stop()
    if not ok2 then error(err2, 0) end
    os.execute("rm -rf " .. S.q(dir) .. " " .. S.q(prompts))
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

return tests
