-- test_llm_reliability.lua — the guarantees Stage 1 stands on, at real volumes: every answer
-- belongs to its own request (500 gathered requests, fresh and then all from the cache, and
-- with every cache key forced to collide); a request text that lost its content is refused,
-- never keyed; budgets bound what is paid (attempts, retries included; cache hits are free);
-- a rejected API key stops the stage at once.
local h = require "helpers"
local S = require "llm_support"
local llm = require "sprint.llm"
local store_mod = require "sprint.llm.store"
local json = require "sprint.llm.json"

local tests = {}

-- Shaped like the P&C schema (nested properties, lists), so the request encoder walks nested
-- tables as it does in Stage 1; the loopback server's answers ({"tag": ..., "echo": ...}) fit it.
local tag_schema = {
  type = "object",
  properties = {
    tag = { type = "string", minLength = 1 },
    echo = { type = "string" },
    intents = { type = "array", items = { type = "string", minLength = 1 } },
    prediction = { type = "string", minLength = 1 },
  },
  required = json.array { "tag" },
}

local function with_server(opts, fn)
  local srv = S.server(opts)
  local ok, err = pcall(fn, srv)
  srv:stop()
  if not ok then error(err, 0) end
end

-- A P&C-shaped conversation for request i: a system turn, a user turn naming the request.
local function convo(i)
  return {
    { role = "system", content = "You infer shopping intents. Answer in JSON." },
    { role = "user", content = "Session " .. i .. ": items a, b, c. Candidates: (A) x (B) y. tag=r" .. i },
  }
end

-- Runs n gathered requests; returns results (tag or failure per request) and the summary.
local function gather_tags(c, n, concurrency)
  local tasks = {}
  for i = 1, n do
    tasks[i] = function()
      local ans, why, info = c:chat(convo(i), { schema = tag_schema, task = "tag", stage = "pc", session = i, try = 1 })
      if not ans then return { why = why, kind = info.kind } end
      return { tag = ans.json.tag, cached = ans.cached }
    end
  end
  local results, errors, summary = llm.gather(tasks, { concurrency = concurrency })
  return results, errors, summary
end

local function all_own(results, errors, n, want_cached)
  local wrong, hits = 0, 0
  for i = 1, n do
    local r = results[i]
    h.truthy(r and r.tag, "request " .. i .. " failed: " .. tostring(r and r.why or errors[i]))
    if r.tag ~= "r" .. i then wrong = wrong + 1 end
    if r.cached then hits = hits + 1 end
  end
  h.eq(wrong, 0, "answers that belong to another request")
  h.eq(hits, want_cached and n or 0, "answers from the cache")
end

function tests.five_hundred_gathered_requests_each_get_their_own_answer_fresh_and_cached()
  with_server({ latency_ms = 2, jitter_ms = 6 }, function(srv)
    local dir = S.tmpdir()
    local n = 500
    local c = srv:client { cache = dir .. "/llm.sqlite", run = "volume", concurrency = 32 }
    local results, errors, summary = gather_tags(c, n, 32)
    h.eq(summary.done, n)
    all_own(results, errors, n, false)
    h.eq(c:report().http_calls, n)
    c:close()
    -- a second process over the same cache: every answer a hit, every one still its own
    c = srv:client { cache = dir .. "/llm.sqlite", run = "volume", concurrency = 32 }
    results, errors, summary = gather_tags(c, n, 32)
    h.eq(summary.done, n)
    all_own(results, errors, n, true)
    h.eq(c:report().http_calls, 0)
    h.eq(c:report().conflicts, 0)
    c:close()
    h.eq(#srv:log(), n, "requests the server saw over both passes")
    local st = store_mod.open(dir .. "/llm.sqlite", "read-only")
    h.eq(st:entries(), n, "distinct cache entries")
    st:close()
    os.execute("rm -rf " .. S.q(dir))
  end)
end

function tests.a_request_text_without_model_and_messages_is_never_keyed()
  -- what the miscompiled encoder produced: "{}" for a full request
  h.raises({ "refusing to key a request without its model and messages", "'{}'" }, store_mod.request_key, "{}")
  h.raises({ "refusing to key" }, store_mod.request_key, '{"model":"m","messages":[]}')
  h.raises({ "refusing to key" }, store_mod.request_key, '{"messages":[{"role":"user","content":"x"}]}')
  h.eq(#store_mod.request_key('{"messages":[{"content":"x","role":"user"}],"model":"m"}'), 64)
  -- and through the client: an encoder that loses the request raises, loudly, before any call
  with_server({}, function(srv)
    local c = srv:client {}
    local real = json.encode
    json.encode = function(v) return v.messages and "{}" or real(v) end
    local ok, err = pcall(c.chat, c, convo(1), { schema = tag_schema })
    json.encode = real
    h.eq(ok, false)
    h.truthy(tostring(err):find("refusing to key", 1, true), tostring(err))
    h.eq(#srv:log(), 0, "requests sent")
    c:close()
  end)
end

function tests.colliding_cache_keys_never_serve_another_requests_answer()
  with_server({ latency_ms = 1 }, function(srv)
    local dir = S.tmpdir()
    local real = store_mod.sha256
    store_mod.sha256 = function() return string.rep("ab", 32) end -- every request, one key
    local ok, err = pcall(function()
      local n = 40
      local c = srv:client { cache = dir .. "/llm.sqlite", run = "collide", concurrency = 8 }
      local results, errors = gather_tags(c, n, 8)
      all_own(results, errors, n, false)
      -- the same requests again: one key holds one request's answer; the others are asked
      -- again rather than served it
      results, errors = gather_tags(c, n, 8)
      for i = 1, n do h.eq(results[i].tag, "r" .. i) end
      local rep = c:report()
      h.truthy(rep.conflicts >= n - 1, "conflicts noticed: " .. rep.conflicts)
      c:close()
    end)
    store_mod.sha256 = real
    os.execute("rm -rf " .. S.q(dir))
    if not ok then error(err, 0) end
  end)
end

function tests.cache_hits_cost_no_budget_and_are_reported_apart()
  with_server({}, function(srv)
    local dir = S.tmpdir()
    local path = dir .. "/llm.sqlite"
    local c = srv:client { cache = path, run = "hits" }
    for i = 1, 3 do h.truthy(c:chat(convo(i), { schema = tag_schema, stage = "pc" })) end
    local paid = c.spent.tokens
    h.truthy(paid > 0)
    for i = 1, 3 do h.eq(c:chat(convo(i), { schema = tag_schema, stage = "pc" }).cached, true) end
    c:close()
    -- the ledger now holds 3 paid rows and 3 hits with the same tokens; a budget just above
    -- what was paid must still allow a new call
    c = srv:client { cache = path, run = "hits", budget_tokens = math.floor(paid * 1.5) }
    for i = 1, 3 do h.eq(c:chat(convo(i), { schema = tag_schema, stage = "pc" }).cached, true) end
    local ans, why = c:chat(convo(4), { schema = tag_schema, stage = "pc" })
    h.truthy(ans and ans.cached == false, "a new call within the budget was refused: " .. tostring(why))
    c:close()
    local st = store_mod.open(path, "read-only")
    local t = st:totals("hits")
    h.eq(t.calls, 10)
    h.eq(t.cached, 6)
    h.eq(t.attempts, 4)
    h.eq(t.prompt_tokens + t.completion_tokens, paid + paid / 3)
    h.eq(t.cached_tokens, 2 * paid)
    st:close()
    local text = llm.report(path, "hits")
    local cols = {}
    for v in text:match("\ntotal[^\n]*"):gmatch("[%d.]+") do cols[#cols + 1] = tonumber(v) end
    -- calls, cached, failed, attempts, prompt, completion, cost, saved
    h.eq(cols[1], 10, text)
    h.eq(cols[4], 4, text)
    h.eq(cols[5] + cols[6], paid + paid / 3, text)
    h.eq(cols[8], 2 * paid, text)
    os.execute("rm -rf " .. S.q(dir))
  end)
end

function tests.the_calls_budget_bounds_paid_attempts_retries_included()
  with_server({ latency_ms = 2 }, function(srv)
    local dir = S.tmpdir()
    -- every request fails twice before its answer: 3 attempts each
    local c = srv:client { cache = dir .. "/llm.sqlite", run = "att", budget_calls = 20, concurrency = 8,
                           backoff_ms = 1, backoff_max_ms = 5 }
    local tasks = {}
    for i = 1, 30 do
      tasks[i] = function()
        local m = convo(i)
        m[2].content = m[2].content .. " fault=503*2"
        local ans, why, info = c:chat(m, { schema = tag_schema, stage = "pc" })
        if not ans then return { kind = info.kind, why = why } end
        return { tag = ans.json.tag }
      end
    end
    local results, _, summary = llm.gather(tasks, { concurrency = 8 })
    h.eq(#srv:log(), 20, "attempts that reached the server with budget_calls = 20")
    h.truthy(summary.stopped and summary.stopped:find("budget reached", 1, true), tostring(summary.stopped))
    local answered = 0
    for i = 1, 30 do
      local r = results[i]
      if r and r.tag then
        answered = answered + 1
        h.eq(r.tag, "r" .. i)
      elseif r then
        h.eq(r.kind, "budget", tostring(r.why))
      end
    end
    h.truthy(answered >= 1 and answered <= 6, "answered " .. answered)
    h.eq(c:report().attempts, 20)
    c:close()
    -- the ledger holds the 20 attempts; a rerun of the run sends nothing more
    local st = store_mod.open(dir .. "/llm.sqlite", "read-only")
    h.eq(st:totals("att").attempts, 20)
    st:close()
    c = srv:client { cache = dir .. "/llm.sqlite", run = "att", budget_calls = 20 }
    local none, why, info = c:chat(convo(29), { schema = tag_schema })
    h.eq(none, nil)
    h.eq(info.kind, "budget", why)
    c:close()
    h.eq(#srv:log(), 20)
    os.execute("rm -rf " .. S.q(dir))
  end)
end

function tests.a_rejected_api_key_stops_the_stage_with_one_message()
  local key = "sk-test-WRONG-0987654321"
  with_server({ require_key = "sk-test-right-1234567890", latency_ms = 20 }, function(srv)
    local c = S.with_env(S.clean_env, function()
      return S.with_env({ SPRINT_LLM_API_KEY = key }, srv.client, srv, { concurrency = 8 })
    end)
    local tasks = {}
    for i = 1, 200 do
      tasks[i] = function()
        local ans, why, info = c:chat(convo(i), { schema = tag_schema })
        if not ans then return { kind = info.kind, why = why } end
        return { tag = ans.json.tag }
      end
    end
    local results, errors, summary = llm.gather(tasks, { concurrency = 8 })
    local sent = #srv:log()
    h.truthy(sent <= 8, "requests sent after the key was rejected: " .. sent)
    h.truthy(summary.stopped and summary.stopped:find("authentication failed", 1, true), tostring(summary.stopped))
    h.truthy(summary.stopped:find("SPRINT_LLM_API_KEY", 1, true), summary.stopped)
    h.truthy(not summary.stopped:find("WRONG", 1, true), "the key was printed: " .. summary.stopped)
    h.truthy(summary.not_started >= 190, "tasks started: " .. (200 - summary.not_started))
    for i = 1, 200 do
      local r = results[i]
      if r then h.eq(r.kind, "auth", tostring(r.why)) else h.truthy(errors[i]:find("authentication failed", 1, true)) end
    end
    c:close()
  end)
end

return tests
