-- test_llm_client.lua — the LLM client against the loopback server: requests and answers,
-- retries (429 with Retry-After, 5xx, resets, truncated bodies), no retry on other 4xx,
-- timeouts, oversized answers, response_format fallback, the cache and ledger, budgets,
-- configuration and `sprint llm check`.
local h = require "helpers"
local S = require "llm_support"
local llm = require "sprint.llm"

local tests = {}

local function msgs(text) return { { role = "user", content = text } } end
local tag_schema = { type = "object", properties = { tag = { type = "string" } }, required = { "tag" } }

local function with_server(opts, fn)
  local srv = S.server(opts)
  local ok, err = pcall(fn, srv)
  srv:stop()
  if not ok then error(err, 0) end
end

function tests.answer_parsed_and_schema_checked()
  with_server({}, function(srv)
    local c = srv:client()
    local ans, why = c:chat(msgs("tag=a1 hello"), { schema = tag_schema, task = "t" })
    h.truthy(ans, why)
    h.eq(ans.json.tag, "a1")
    h.eq(ans.finish_reason, "stop")
    h.eq(ans.attempts, 1)
    h.eq(ans.response_format, "json_schema")
    h.truthy(ans.usage.prompt_tokens > 0 and ans.usage.completion_tokens > 0)
    h.eq(ans.model, "test-model")
    -- prose around the JSON is fine
    ans, why = c:chat(msgs("tag=a2 content=prose"), { schema = tag_schema })
    h.truthy(ans, why)
    h.eq(ans.json.tag, "a2")
    -- plain text: a failed answer with the reason, asked again once with another seed
    local none, reason, info = c:chat(msgs("tag=a3 content=text"), { schema = tag_schema })
    h.eq(none, nil)
    h.eq(info.kind, "malformed")
    h.truthy(reason:find("no JSON object") and reason:find("weather"), reason)
    h.eq(#srv:hits("a3"), 2)
    -- JSON of the wrong shape
    none, reason, info = c:chat(msgs("tag=a4"), { schema = { type = "object", required = { "intents" } } })
    h.eq(info.kind, "invalid")
    h.truthy(reason:find("missing 'intents'"), reason)
    c:close()
  end)
end

function tests.retries_429_5xx_resets_and_truncation_then_succeeds()
  with_server({}, function(srv)
    local cases = {
      { "r1", "fault=429*2", 3 },
      { "r2", "fault=500*1,503*1", 3 },
      { "r3", "fault=reset*1", 2 },
      { "r4", "fault=close*1", 2 },
      { "r5", "fault=truncate*1", 2 },
      { "r6", "fault=reset*1,429*1,500*1,truncate*1", 5 },
    }
    for _, case in ipairs(cases) do
      -- a fresh client, so a fresh connection: on a reused one curl itself resends a request
      -- whose connection died before any answer, which would hide the attempt from the count
      local c = srv:client()
      local ans, why = c:chat(msgs("tag=" .. case[1] .. " " .. case[2]), { schema = tag_schema })
      h.truthy(ans, case[1] .. ": " .. tostring(why))
      h.eq(ans.json.tag, case[1])
      h.eq(ans.attempts, case[3], case[1] .. " attempts")
      h.eq(#srv:hits(case[1]), case[3], case[1] .. " server arrivals")
      c:close()
    end
  end)
end

function tests.retry_after_is_honoured()
  with_server({}, function(srv)
    -- backoff would say ~20 ms; the server says 1 s
    local c = srv:client { backoff_ms = 20, max_retries = 2 }
    local ans, why = c:chat(msgs("tag=ra fault=429*1 retry_after=1"), { schema = tag_schema })
    h.truthy(ans, why)
    h.eq(ans.attempts, 2)
    local e = c.store -- no cache here; read the transport's log through a failure instead
    h.eq(e, nil)
    local none, reason, info = c:chat(msgs("tag=ra2 fault=429 retry_after=1"), { schema = tag_schema })
    h.eq(none, nil)
    h.eq(info.kind, "network")
    h.truthy(reason:find("HTTP 429") and reason:find("gave up after 3 attempts"), reason)
    for ms in info.log:gmatch("retry in (%d+) ms") do
      h.truthy(tonumber(ms) >= 1000 and tonumber(ms) <= 1100, "delay " .. ms .. " ms, Retry-After 1 s: " .. info.log)
    end
    h.truthy(info.log:find("attempt 3: HTTP 429"), info.log)
    c:close()
  end)
end

function tests.other_4xx_fail_at_once_with_the_reason()
  with_server({}, function(srv)
    local c = srv:client()
    for _, code in ipairs { "400", "404" } do
      local ans, why, info = c:chat(msgs("tag=e" .. code .. " fault=" .. code), { schema = tag_schema })
      h.eq(ans, nil)
      h.eq(info.kind, "http")
      h.eq(info.status, tonumber(code))
      h.eq(info.attempts, 1)
      h.truthy(why:find("HTTP " .. code), why)
      h.eq(#srv:hits("e" .. code), 1)
    end
    c:close()
  end)
end

function tests.exhausted_retries_timeouts_and_huge_answers_fail_cleanly()
  with_server({}, function(srv)
    local c = srv:client { max_retries = 2, timeout_ms = 400, max_response_bytes = 1048576 }
    local ans, why, info = c:chat(msgs("tag=x1 fault=503"), { schema = tag_schema })
    h.eq(ans, nil)
    h.eq(info.kind, "network")
    h.eq(info.attempts, 3)
    h.truthy(why:find("HTTP 503") and why:find("gave up after 3 attempts"), why)
    -- a body that never ends: the total timeout, retried, then reported
    ans, why, info = c:chat(msgs("tag=x2 fault=hang"), { schema = tag_schema })
    h.eq(ans, nil)
    h.eq(info.kind, "network")
    h.truthy(why:find("Timeout") or why:find("timed out"), why)
    -- a huge body: stopped at the limit, not retried
    ans, why, info = c:chat(msgs("tag=x3 fault=huge"), { schema = tag_schema })
    h.eq(ans, nil)
    h.eq(info.kind, "http")
    h.eq(info.attempts, 1)
    h.truthy(why:find("larger than 1048576 bytes"), why)
    -- broken JSON from the server: asked again as it was, then reported
    ans, why, info = c:chat(msgs("tag=x4 fault=badjson"), { schema = tag_schema })
    h.eq(ans, nil)
    h.eq(info.kind, "bad_response")
    h.truthy(why:find("not JSON"), why)
    h.eq(#srv:hits("x4"), 2)
    -- a truncated answer (finish_reason length) is a failure, not asked again
    ans, why, info = c:chat(msgs("tag=x5 finish=length"), { schema = tag_schema })
    h.eq(ans, nil)
    h.eq(info.kind, "truncated")
    h.truthy(why:find("truncated") and why:find("max_tokens"), why)
    h.eq(#srv:hits("x5"), 1)
    c:close()
  end)
  -- nobody listening: connection refused, retried, reported
  local srv = S.server()
  local url = srv.base_url
  srv:stop()
  local c = S.with_env(S.clean_env, llm.new, { base_url = url, model = "m", max_retries = 1, backoff_ms = 10 })
  local ans, why, info = c:chat(msgs("x"), { json = true })
  h.eq(ans, nil)
  h.eq(info.kind, "network")
  h.truthy(why:find("onnect"), why)
  c:close()
end

function tests.response_format_falls_back_to_json_object_then_text()
  with_server({}, function(srv)
    local c = srv:client()
    local ans, why = c:chat(msgs("tag=f1 refuse=json_schema"), { schema = tag_schema })
    h.truthy(ans, why)
    h.eq(ans.response_format, "json_object")
    h.eq(c.format, "json_object")
    h.eq(table.concat(srv:hits("f1"), ","), "refused,ok")
    c:close()
    c = srv:client()
    ans, why = c:chat(msgs("tag=f2 refuse=json_schema,json_object"), { schema = tag_schema })
    h.truthy(ans, why)
    h.eq(ans.response_format, "text")
    h.eq(table.concat(srv:hits("f2"), ","), "refused,refused,ok")
    c:close()
  end)
end

function tests.cache_answers_reruns_and_modes()
  with_server({}, function(srv)
    local dir = S.tmpdir()
    local path = dir .. "/llm.sqlite"
    local c = srv:client { cache = path, run = "r" }
    local a1 = c:chat(msgs("tag=c1"), { schema = tag_schema, stage = "s", session = 7, try = 1 })
    h.eq(a1.cached, false)
    local a2 = c:chat(msgs("tag=c1"), { schema = tag_schema, stage = "s", session = 7, try = 1 })
    h.eq(a2.cached, true)
    h.eq(a2.content, a1.content)
    h.eq(a2.key, a1.key)
    h.eq(#srv:hits("c1"), 1)
    -- any change to the request is another key: parameters, schema, messages
    local a3 = c:chat(msgs("tag=c1"), { schema = tag_schema, temperature = 0.5 })
    h.eq(a3.cached, false)
    h.truthy(a3.key ~= a1.key)
    -- a failed call is not cached: the rerun asks again
    c:chat(msgs("tag=c2 fault=400"), { schema = tag_schema })
    c:chat(msgs("tag=c2 fault=400"), { schema = tag_schema })
    h.eq(#srv:hits("c2"), 2)
    c:close()
    -- a new process (a new client) finds the answers
    c = srv:client { cache = path, run = "r", cache_mode = "read-only" }
    h.eq(c:chat(msgs("tag=c1"), { schema = tag_schema }).cached, true)
    h.eq(c:chat(msgs("tag=c3"), { schema = tag_schema }).cached, false)
    h.eq(c:chat(msgs("tag=c3"), { schema = tag_schema }).cached, false) -- read-only: not stored
    c:close()
    c = srv:client { cache = path, run = "r", cache_mode = "off" }
    h.eq(c:chat(msgs("tag=c1"), { schema = tag_schema }).cached, false)
    c:close()
    h.eq(#srv:hits("c1"), 3) -- the first call, the temperature variant, cache off
    h.eq(#srv:hits("c3"), 2)
    -- the ledger: every call, cached or not, failed or not
    local st = require("sprint.llm.store").open(path, "read-only")
    local t = st:totals("r")
    h.eq(t.calls, 9)
    h.eq(t.cached, 2)
    h.eq(t.failed, 2)
    h.truthy(t.prompt_tokens > 0)
    h.eq(st:entries(), 2)
    h.eq(table.concat(st:stages("r"), ","), ",s")
    st:close()
    os.execute("rm -rf " .. S.q(dir))
  end)
end

function tests.costs_and_budget_stop_the_stage_cleanly()
  with_server({ latency_ms = 20 }, function(srv)
    local dir = S.tmpdir()
    local path = dir .. "/llm.sqlite"
    local c = srv:client { cache = path, run = "b", budget_calls = 5, concurrency = 2,
                           prices = { ["test-model"] = { prompt = 1000, completion = 2000 } } }
    local tasks = {}
    for i = 1, 12 do
      tasks[i] = function()
        local ans, why, info = c:chat(msgs("tag=b" .. i), { schema = tag_schema, stage = "pc", session = i })
        if not ans then return { why = why, kind = info.kind } end
        return { tag = ans.json.tag }
      end
    end
    local results, errors, summary = llm.gather(tasks, { concurrency = 4 })
    h.truthy(summary.stopped and summary.stopped:find("budget reached: 5 paid calls of 5", 1, true), tostring(summary.stopped))
    local answered, refused = 0, 0
    for i = 1, 12 do
      local r = results[i]
      if r and r.tag then
        answered = answered + 1
        h.eq(r.tag, "b" .. i)
      elseif r and r.kind == "budget" then
        refused = refused + 1
      else
        h.truthy(errors[i] and errors[i]:find("not started: budget reached"), tostring(errors[i]))
      end
    end
    h.eq(answered, 5)
    h.eq(summary.done + summary.not_started, 12)
    h.truthy(summary.not_started >= 1)
    local rep = c:report()
    h.eq(rep.http_calls, 5)
    h.truthy(rep.cost > 0)
    c:close()
    -- the rerun of the same run: cached answers are free, the budget is already spent
    c = srv:client { cache = path, run = "b", budget_calls = 5 }
    local ans = c:chat(msgs("tag=b1"), { schema = tag_schema })
    h.eq(ans.cached, true)
    local none, why = c:chat(msgs("tag=b12"), { schema = tag_schema })
    h.eq(none, nil)
    h.truthy(why:find("budget reached"), why)
    c:close()
    local text = llm.report(path, "b")
    h.truthy(text:find("pc ") and text:find("total"), text)
    local cost = tonumber(text:match("total%s+%d+%s+%d+%s+%d+%s+%d+%s+%d+%s+([%d.]+)"))
    h.truthy(cost and cost > 0, text)
    os.execute("rm -rf " .. S.q(dir))
  end)
end

function tests.settings_layers_and_api_key_rules()
  local dir = S.tmpdir()
  local cfg = dir .. "/llm.lua"
  S.write(cfg, 'return { base_url = "http://127.0.0.1:9/v1", model = "from-file", api_key = "sk-file-0123456789", temperature = 0.3 }')
  local env = {}
  for k, v in pairs(S.clean_env) do env[k] = v end
  env.SPRINT_LLM_CONFIG = cfg
  S.with_env(env, function()
    local s, origin = llm.settings { defaults = { model = "recipe-default", seed = 5 } }
    h.eq(s.model, "from-file")
    h.eq(origin.model, "config file " .. cfg)
    h.eq(s.seed, 5)
    h.eq(s.temperature, 0.3)
    h.eq(s.api_key, "sk-file-0123456789")
    S.with_env({ SPRINT_LLM_MODEL = "from-env", OPENAI_API_KEY = "sk-env-abcdefghijkl" }, function()
      s, origin = llm.settings { temperature = 0.9 }
      h.eq(s.model, "from-env")
      h.eq(origin.model, "SPRINT_LLM_MODEL")
      h.eq(s.api_key, "sk-env-abcdefghijkl")
      h.eq(origin.api_key, "OPENAI_API_KEY")
      h.eq(s.temperature, 0.9) -- explicit settings win
    end)
    h.raises("never from a recipe", llm.settings, { api_key = "sk-in-a-recipe" })
    h.raises("unknown setting 'modle'", llm.settings, { modle = "x" })
    h.raises("must be a number", llm.settings, { seed = "x" })
  end)
  h.eq(llm.mask("sk-abcdefghijkl1234"), "sk-…1234")
  h.eq(llm.mask("short"), "****")
  h.eq(llm.mask(""), "(none)")
  -- from_env: sprint.config llm_* keys are recipe defaults unless set on the command line
  local config = require "sprint.config"
  local rc = config({ llm_model = "cfg-default", llm_seed = 3, other = 1 }, { set = { llm_seed = "9" }, file = false })
  S.with_env({ SPRINT_LLM_MODEL = "env-model", SPRINT_LLM_BASE_URL = "http://127.0.0.1:9/v1" }, function()
    local c = llm.from_env(rc)
    h.eq(c.model, "env-model")
    h.eq(c.settings.seed, 9)
    c:close()
  end)
  os.execute("rm -rf " .. S.q(dir))
end

function tests.misuse_raises()
  local c = S.with_env(S.clean_env, llm.new, {})
  h.raises("messages must be a non-empty list", c.chat, c, {})
  h.raises("message 1 must be", c.chat, c, { { role = "user" } })
  h.raises("tasks must be a list", llm.gather, 3)
  h.raises("task 2 is not a function", llm.gather, { function() end, 5 })
  h.raises("unknown provider", S.with_env, S.clean_env, llm.new, { provider = "bard" })
  h.raises("no model", S.with_env, S.clean_env, llm.new, { base_url = "http://127.0.0.1:9/v1" })
end

function tests.sprint_llm_check_loopback_offline_and_dead()
  local sprint = S.exe("sprint")
  with_server({ require_key = "sk-test-SECRET-1234567890" }, function(srv)
    local env = "env -u OPENAI_API_KEY -u SPRINT_LLM_CONFIG SPRINT_LLM_BASE_URL=" .. srv.base_url
                .. " SPRINT_LLM_MODEL=test-model SPRINT_LLM_API_KEY=sk-test-SECRET-1234567890 "
    local rc, out, err = S.run(env .. S.q(sprint) .. " llm check")
    h.eq(rc, 0, out .. err)
    h.truthy(out:find("endpoint  " .. srv.base_url .. "/chat/completions", 1, true), out)
    h.truthy(out:find("model     test-model", 1, true), out)
    h.truthy(out:find("api key   sk-…7890  (SPRINT_LLM_API_KEY)", 1, true), out)
    h.truthy(out:find("latency   [%d.]+ ms %(1 attempt"), out)
    h.truthy(out:find("tokens    prompt %d+, completion %d+, total %d+"), out)
    h.truthy(not (out .. err):find("SECRET", 1, true), "the key was printed")
    -- a wrong key: 401 reported at once, and still never printed
    rc, out, err = S.run(env:gsub("SECRET", "WRONG") .. S.q(sprint) .. " llm check")
    h.eq(rc, 1)
    h.truthy(out:find("FAILED: authentication failed: ", 1, true) and out:find("HTTP 401") and out:find("Incorrect API key"), out)
    h.truthy(not (out .. err):find("WRONG", 1, true), "the key was printed")
  end)
  local rc, out, err = S.run("env -u SPRINT_LLM_BASE_URL -u SPRINT_LLM_CONFIG -u SPRINT_LLM_PROVIDER " .. S.q(sprint) .. " llm check")
  h.eq(rc, 0, out .. err)
  h.truthy(out:find("offline stand-in (not an LLM", 1, true), out)
  h.truthy(out:find('answer    {"intents":[', 1, true), out)
  rc, out = S.run("env -u SPRINT_LLM_CONFIG " .. S.q(sprint) .. " llm check --base-url http://127.0.0.1:9/v1 --model m --retries 0")
  h.eq(rc, 1)
  h.truthy(out:find("FAILED: ") and out:find("onnect"), out)
  rc, _, err = S.run(S.q(sprint) .. " llm frobnicate")
  h.eq(rc, 2)
  h.truthy(err:find("usage: sprint llm check"), err)
end

return tests
