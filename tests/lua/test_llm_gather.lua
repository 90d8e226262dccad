-- test_llm_gather.lua — many conversations at once: each task is a coroutine that reads
-- sequentially and yields inside client:chat; one failing or raising conversation is reported
-- without losing the others; blocking calls outside gather; the API key never written.
local h = require "helpers"
local S = require "llm_support"
local llm = require "sprint.llm"

local tests = {}

local function user(text) return { role = "user", content = text } end

function tests.conversations_interleave_and_one_error_loses_nothing()
  local srv = S.server { latency_ms = 30, jitter_ms = 30 }
  local ok, err = pcall(function()
    local c = srv:client { concurrency = 8 }
    local order = {}
    local tasks = {}
    for i = 1, 30 do
      tasks[i] = function(idx)
        h.eq(idx, i)
        local convo = { user("tag=g" .. i .. "a") }
        local a1, why = c:chat(convo, { json = true, session = i, try = 1 })
        if not a1 then return { failed = why } end
        order[#order + 1] = i
        if i == 7 then error("deliberate failure in conversation 7") end
        convo[2] = { role = "assistant", content = a1.content }
        convo[3] = user("tag=g" .. i .. "b" .. (i == 11 and " fault=404" or ""))
        local a2, why2, info2 = c:chat(convo, { json = true, session = i, try = 2 })
        if not a2 then return { failed = why2, kind = info2.kind } end
        return { a1.json.tag, a2.json.tag }
      end
    end
    local seen = 0
    local results, errors, summary = llm.gather(tasks, { concurrency = 12, on_done = function() seen = seen + 1 end })
    h.eq(seen, 30)
    h.eq(summary.done, 29)
    h.eq(summary.failed, 1)
    h.truthy(errors[7]:find("deliberate failure in conversation 7", 1, true) and errors[7]:find("traceback"), errors[7])
    h.eq(results[7], nil)
    h.eq(results[11].kind, "http")
    h.truthy(results[11].failed:find("HTTP 404"), results[11].failed)
    for i = 1, 30 do
      if i ~= 7 and i ~= 11 then
        h.eq(results[i][1], "g" .. i .. "a")
        h.eq(results[i][2], "g" .. i .. "b")
        h.eq(errors[i], nil)
      end
    end
    -- they really ran at once: the first turns finished in an order other than 1..30 is not
    -- guaranteed, but all 12 first requests were in flight together before any second turn
    local log = srv:log()
    local first_b
    for k, e in ipairs(log) do
      if e.tag:match("b$") then first_b = first_b or k end
    end
    h.truthy(first_b and first_b > 8, "second turns started only after " .. tostring(first_b) .. " requests")
    h.eq(#order, 30)
    c:close()
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

function tests.blocking_calls_and_misbehaving_tasks()
  local srv = S.server()
  local ok, err = pcall(function()
    local c = srv:client()
    -- outside gather: chat blocks until its answer is there
    local a = c:chat({ user("tag=solo") }, { json = true })
    h.eq(a.json.tag, "solo")
    -- inside a coroutine of the caller's own: also blocking, no yield leaks out
    local co = coroutine.wrap(function() return c:chat({ user("tag=own") }, { json = true }).json.tag end)
    h.eq(co(), "own")
    -- a task that yields by itself is reported, not resumed with nonsense
    local results, errors = llm.gather({ function() coroutine.yield(1) end, function() return 5 end })
    h.truthy(errors[1]:find("yielded by itself"), errors[1])
    h.eq(results[2], 5)
    -- gather inside a gathered task is refused, reported as that task's error
    results, errors = llm.gather({ function() return llm.gather({ function() end }) end })
    h.truthy(errors[1]:find("already running"), errors[1])
    -- gather with no tasks, and tasks that never call the LLM
    local r, e, s = llm.gather({})
    h.eq(#r, 0)
    h.eq(next(e), nil)
    h.eq(s.done, 0)
    c:close()
  end)
  srv:stop()
  if not ok then error(err, 0) end
end

-- The API key goes out in the Authorization header and nowhere else: not the cache, the
-- ledger, the WAL, the log, error messages or reports.
function tests.api_key_never_written()
  local key = "sk-test-NEVER-WRITE-ME-0123456789"
  local srv = S.server { require_key = key }
  local dir = S.tmpdir()
  local ok, err = pcall(function()
    local conf = os.tmpname()
    S.write(conf, string.format("return { api_key = %q }", key))
    local env = {}
    for k, v in pairs(S.clean_env) do env[k] = v end
    env.SPRINT_LLM_CONFIG = conf
    local c = S.with_env(env, llm.new, { base_url = srv.base_url, model = "m", cache = dir .. "/llm.sqlite",
                                          log = dir .. "/calls.log", run = "secret", backoff_ms = 10 })
    local a = c:chat({ user("tag=s1") }, { json = true, stage = "pc" })
    h.eq(a.json.tag, "s1") -- the server accepted the key
    local none, why = c:chat({ user("tag=s2 fault=503") }, { json = true, stage = "pc" })
    h.eq(none, nil)
    -- an error text that carries the key (as some servers echo it) is masked
    h.eq(c:_scrub("bad key " .. key .. "!"), "bad key " .. llm.mask(key) .. "!")
    local text = llm.report(dir .. "/llm.sqlite", "secret")
    local function scan(when)
      local files = 0
      local ls = io.popen("find " .. S.q(dir) .. " -type f")
      for path in ls:lines() do
        files = files + 1
        local bytes = S.read(path) or ""
        h.truthy(not bytes:find(key, 1, true), "the API key is in " .. path .. " " .. when)
        h.truthy(not bytes:find("NEVER-WRITE", 1, true), "part of the API key is in " .. path .. " " .. when)
      end
      ls:close()
      h.truthy(files >= 2, "expected the cache and the log in " .. dir)
    end
    scan("while the client is open (WAL included)")
    c:close()
    os.remove(conf)
    -- a wrong key fails with 401 and the message does not carry either key
    local c2 = S.with_env(S.clean_env, llm.new, { base_url = srv.base_url, model = "m" })
    none, why = c2:chat({ user("tag=s3") }, { json = true })
    h.truthy(why:find("HTTP 401"), why)
    c2:close()
    scan("after closing")
    h.truthy(not text:find(key, 1, true) and not why:find(key, 1, true))
    h.truthy((S.read(dir .. "/calls.log") or ""):find("via=http ok"), "the log has the call")
  end)
  srv:stop()
  os.execute("rm -rf " .. S.q(dir))
  if not ok then error(err, 0) end
end

return tests
