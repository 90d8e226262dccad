-- llm.lua — the LLM client of Stage 1: OpenAI-compatible chat completions over the C transport
-- (engine/llm/http.c), answers cached and every call in a ledger (engine/llm/store.c), many
-- conversations at once as Lua coroutines, and the offline stand-in when no endpoint is set.
--
--   local llm = require "sprint.llm"
--   local client = llm.new { cache = "runs/x/llm.sqlite", run = "x" }   -- or llm.from_env(cfg)
--   local results, errors = llm.gather(tasks, { concurrency = 32 })     -- tasks: functions(i)
--   -- inside a task (or anywhere): reads sequentially, yields while the answer is on its way
--   local ans, why, info = client:chat(messages, { schema = llm.schemas.pc, task = "pc",
--                                                 stage = "pc", session = sid, try = t })
--
-- chat returns the answer {content, json, finish_reason, usage, latency_ms, cached, attempts,
-- provider, model, key} or nil, a reason, and {kind = ...}: "http" (a status that is not
-- retried), "network" (retries spent), "truncated", "refused", "empty", "malformed" (no JSON),
-- "invalid" (JSON not of the schema), "bad_response" (not a chat completion), "budget" (a budget
-- is spent: nothing more is sent), "auth" (the endpoint rejected the API key: the whole client
-- stops sending, and gather starts no further task).
-- Misuse (bad arguments) raises.
local json = require "sprint.llm.json"
local http = require "sprint.llm.http"
local store_mod = require "sprint.llm.store"
local standin = require "sprint.llm.standin"
local prompt = require "sprint.llm.prompt"
local schemas = require "sprint.llm.schemas"
local cjson = require "cjson.safe"

local M = { json = json, prompt = prompt, schemas = schemas, standin = standin }
M.STANDIN_NAME = standin.NAME

-- ---- settings: defaults < recipe defaults < config file < environment < explicit ---------------

M.defaults = {
  provider = "",              -- "openai" (any OpenAI-compatible server) or "offline"; "" = by base_url
  base_url = "",              -- e.g. http://127.0.0.1:8080/v1; "" = offline stand-in
  model = "",
  api_key = "",               -- environment or config file only, never a recipe
  temperature = 0,
  seed = 1,
  max_tokens = 1024,
  max_tokens_field = "max_tokens", -- "max_completion_tokens" for newer OpenAI models
  response_format = "json_schema", -- first try; falls back to json_object, then text
  json_object_schema = false, -- also send the schema inside a json_object response_format
                              -- (llama-cpp-python's extension: it constrains the output)
  concurrency = 16,           -- requests in flight
  connect_timeout_ms = 10000,
  timeout_ms = 120000,
  max_retries = 5,
  backoff_ms = 500,
  backoff_max_ms = 60000,
  max_response_bytes = 32 * 1024 * 1024,
  answer_retries = 1,         -- re-asks (another seed) after an answer that is not the JSON asked for
  cache = "",                 -- SQLite file for the cache and ledger; "" = none
  cache_mode = "read-write",  -- off | read-only | read-write
  run = "default",            -- ledger run name; budgets count this run's earlier calls too
  budget_calls = 0,           -- paid HTTP attempts (retries included; cache hits are free); 0 = no limit
  budget_tokens = 0,
  budget_cost = 0,
  log = "",                   -- a file to append one line per call to
  prices = {},                -- model -> { prompt = USD per 1M tokens, completion = USD per 1M }
  batch_price_factor = 0.5,   -- batch-endpoint answers cost this share of the prices (OpenAI's: half)
}

local env_keys = {
  provider = "SPRINT_LLM_PROVIDER", base_url = "SPRINT_LLM_BASE_URL", model = "SPRINT_LLM_MODEL",
  cache = "SPRINT_LLM_CACHE", cache_mode = "SPRINT_LLM_CACHE_MODE", run = "SPRINT_RUN",
}

local function coerce(key, v, source)
  local d = M.defaults[key]
  if d == nil then
    local known = {}
    for k in pairs(M.defaults) do known[#known + 1] = k end
    table.sort(known)
    error("llm: unknown setting '" .. tostring(key) .. "' (from " .. source .. "); known: " .. table.concat(known, ", "), 0)
  end
  if type(d) == "number" and type(v) == "string" then
    local n = tonumber(v)
    if not n then error("llm: setting " .. key .. " (from " .. source .. ") must be a number, got '" .. v .. "'", 0) end
    return n
  end
  if type(v) ~= type(d) then
    error("llm: setting " .. key .. " (from " .. source .. ") must be a " .. type(d) .. ", got " .. type(v), 0)
  end
  return v
end

local function load_config_file(path)
  local chunk, err = loadfile(path)
  if not chunk then error("llm: cannot load config file: " .. err, 0) end
  local ok, t = pcall(chunk)
  if not ok or type(t) ~= "table" then error("llm: config file " .. path .. " must return a table", 0) end
  return t.llm or t
end

-- Resolves settings. opts: explicit settings (highest), plus opts.defaults (recipe defaults,
-- below the config file and the environment) and opts.config_file. Returns settings, origin.
function M.settings(opts)
  opts = opts or {}
  local s, origin = {}, {}
  for k, v in pairs(M.defaults) do s[k], origin[k] = v, "default" end
  local function layer(t, source, allow_key)
    for k, v in pairs(t or {}) do
      if k == "api_key" and not allow_key and v ~= "" then
        error("llm: the API key comes from SPRINT_LLM_API_KEY, OPENAI_API_KEY or the config file, never from a recipe", 0)
      end
      s[k], origin[k] = coerce(k, v, source), source
    end
  end
  layer(opts.defaults, "recipe defaults")
  local file = opts.config_file or os.getenv("SPRINT_LLM_CONFIG")
  if file and file ~= "" then layer(load_config_file(file), "config file " .. file, true) end
  for k, var in pairs(env_keys) do
    local v = os.getenv(var)
    if v and v ~= "" then s[k], origin[k] = coerce(k, v, var), var end
  end
  for _, var in ipairs { "SPRINT_LLM_API_KEY", "OPENAI_API_KEY" } do
    local v = os.getenv(var)
    if v and v ~= "" then
      s.api_key, origin.api_key = v, var
      break
    end
  end
  local explicit = {}
  for k, v in pairs(opts) do
    if k ~= "defaults" and k ~= "config_file" and k ~= "catalogue" then explicit[k] = v end
  end
  layer(explicit, "recipe")
  return s, origin
end

-- "sk-…7890": enough to tell keys apart, never enough to use one.
function M.mask(key)
  if not key or key == "" then return "(none)" end
  if #key < 12 then return "****" end
  return key:sub(1, 3) .. "…" .. key:sub(-4)
end

-- ---- the scheduler: coroutines waiting on requests ----------------------------------------------

local WAIT = setmetatable({}, { __tostring = function() return "llm wait" end })
local sched = {
  owned = setmetatable({}, { __mode = "k" }), -- coroutine -> task index (gather's own)
  clients = setmetatable({}, { __mode = "k" }), -- clients with requests in flight
  ready = {}, -- {co, result} to resume
  used = nil, -- clients touched by the running gather
}

-- Collects finished requests of client c: a coroutine's go to `ready`, a blocked caller's stay
-- on the client. Returns how many finished.
local function deliver(c, ids)
  for _, id in ipairs(ids) do
    local r = c.http:result(id, true)
    local co = c._waiters[id]
    c._waiters[id] = nil
    if co then
      sched.ready[#sched.ready + 1] = { co, r }
    else
      c._blocked[id] = r
    end
  end
  return #ids
end

-- Drives every client with requests in flight, waiting up to timeout_ms for one to finish.
-- Returns the number finished, or nil when nothing is in flight anywhere.
local function pump(timeout_ms)
  local active = {}
  for c in pairs(sched.clients) do
    if c.http and c.http:unfinished() > 0 then active[#active + 1] = c end
  end
  if #active == 0 then return nil end
  if #active == 1 then return deliver(active[1], active[1].http:poll(timeout_ms)) end
  local n = 0
  for _, c in ipairs(active) do n = n + deliver(c, c.http:poll(0)) end
  if n == 0 then n = deliver(active[1], active[1].http:poll(math.min(timeout_ms, 5))) end
  return n
end

-- ---- the client ----------------------------------------------------------------------------------

local Client = {}
Client.__index = Client
M.Client = Client

local provider_alias = { openai = "openai", ["openai-compatible"] = "openai", vllm = "openai",
                         llamacpp = "openai", ["llama.cpp"] = "openai", ollama = "openai",
                         offline = "offline", standin = "offline" }

-- llm.new(opts): a client from resolved settings (see M.settings); opts.catalogue (a list of
-- items) is what the offline stand-in may use in place of world knowledge.
function M.new(opts)
  local s, origin = M.settings(opts)
  local provider = s.base_url ~= "" and "openai" or "offline"
  if s.provider ~= "" then provider = provider_alias[s.provider:lower()] end
  if not provider then
    error("llm: unknown provider '" .. s.provider .. "' (openai, or any OpenAI-compatible server: vllm, llamacpp, ollama; or offline)", 2)
  end
  local self = setmetatable({ settings = s, origin = origin, provider = provider, catalogue = opts and opts.catalogue,
                              _waiters = {}, _blocked = {}, _hit_rows = {}, inflight = 0 }, Client)
  if provider == "offline" then
    self.standin = true
    self.model = standin.MODEL
    self.name = standin.NAME .. " (not an LLM: deterministic answers from the prompt's text)"
  else
    local base = s.base_url ~= "" and s.base_url or "https://api.openai.com/v1"
    if s.model == "" then error("llm: no model: set SPRINT_LLM_MODEL, the config file's model, or model = ...", 2) end
    self.base_url = base:gsub("/+$", "")
    self.url = self.base_url .. "/chat/completions"
    self.model = s.model
    self.name = "OpenAI-compatible endpoint " .. self.base_url .. ", model " .. s.model
    local h = { "Content-Type: application/json", "Accept: application/json" }
    if s.api_key ~= "" then h[#h + 1] = "Authorization: Bearer " .. s.api_key end
    self._headers = table.concat(h, "\n")
    self.format = s.response_format
    if self.format ~= "json_schema" and self.format ~= "json_object" and self.format ~= "text" then
      error("llm: response_format must be json_schema, json_object or text, got '" .. self.format .. "'", 2)
    end
    self.http = http.new {
      max_in_flight = s.concurrency, connect_timeout_ms = s.connect_timeout_ms, timeout_ms = s.timeout_ms,
      max_retries = s.max_retries, backoff_ms = s.backoff_ms, backoff_max_ms = s.backoff_max_ms,
      max_response_bytes = s.max_response_bytes, seed = s.seed,
    }
  end
  if s.cache ~= "" then self.store = store_mod.open(s.cache, s.cache_mode) end
  -- What the budgets bound is what the user pays for: HTTP attempts that went out (retries
  -- included) and their tokens and cost; cache hits are free. A resumed run's earlier calls
  -- count too. The transport enforces the attempt budget itself, where retries happen.
  self.spent = { calls = 0, tokens = 0, cost = 0 }
  if self.store then
    local t = self.store:totals(s.run)
    self.spent = { calls = t.attempts, tokens = t.prompt_tokens + t.completion_tokens, cost = t.cost }
  end
  if self.http and s.budget_calls > 0 then
    self.http:set_attempt_limit(math.max(0, s.budget_calls - self.spent.calls))
  end
  self.stats = { calls = 0, http_calls = 0, attempts = 0, cached = 0, failed = 0, prompt_tokens = 0,
                 completion_tokens = 0, cost = 0, conflicts = 0 }
  if s.log ~= "" then
    self._log = assert(io.open(s.log, "a"))
    self._log:setvbuf("line")
  end
  return self
end

-- llm.from_env(cfg): a client for a recipe. Keys llm_<setting> of a sprint.config table are
-- recipe defaults unless set on the command line (--set llm_model=...), which wins over all.
function M.from_env(cfg, extra)
  local opts = { defaults = {} }
  local config = require "sprint.config"
  for k, v in pairs(cfg or {}) do
    local key = type(k) == "string" and k:match("^llm_(.+)$")
    if key and M.defaults[key] ~= nil then
      local ok, origin = pcall(config.origin, cfg, k)
      if ok and origin ~= "default" then opts[key] = v else opts.defaults[key] = v end
    end
  end
  for k, v in pairs(extra or {}) do opts[k] = v end
  return M.new(opts)
end

-- Batch mode on or off: while on, a request that misses the cache is not sent but collected
-- (client:deferred()), and chat answers nil with kind "deferred".
function Client:defer_misses(on)
  if self.standin then error("llm: the offline stand-in has no batch mode (it answers at once)", 2) end
  if on and not self.store then error("llm: batch mode needs a cache file (setting cache): answers come back through it", 2) end
  self._defer = on and true or false
  self._deferred = self._deferred or {}
  self._deferred_list = self._deferred_list or {}
end

-- The requests collected in batch mode, {key, request (canonical), body (what the endpoint
-- gets), stage, session, try} each, in the order they were due; clears the list.
function Client:take_deferred()
  local list = self._deferred_list or {}
  self._deferred, self._deferred_list = {}, {}
  return list
end

-- Writes the buffered ledger rows of cache hits.
function Client:flush()
  if self.store and #self._hit_rows > 0 then
    local rows = self._hit_rows
    self._hit_rows = {}
    self.store:put_rows(rows)
  end
end

function Client:close()
  self:flush()
  if self.http then self.http:free() end
  if self.store then self.store:close() end
  if self._log then self._log:close() end
  self.http, self.store, self._log = nil, nil, nil
end

-- An error text with the API key masked, whatever put it there.
function Client:_scrub(s)
  s = tostring(s or "")
  local key = self.settings.api_key
  if key ~= "" and #key >= 4 then
    local i = s:find(key, 1, true)
    while i do
      s = s:sub(1, i - 1) .. M.mask(key) .. s:sub(i + #key)
      i = s:find(key, 1, true)
    end
  end
  return s
end

function Client:_note(meta, key, source, ok, latency, usage, err)
  if not self._log then return end
  self._log:write(string.format("%s stage=%s session=%s try=%s key=%s via=%s %s %.1fms tokens=%d+%d%s\n",
    os.date("!%Y-%m-%dT%H:%M:%SZ"), meta.stage, meta.session, meta.try, (key or ""):sub(1, 12), source,
    ok and "ok" or "FAILED", latency or 0, usage and usage.prompt_tokens or 0, usage and usage.completion_tokens or 0,
    err and (" error=" .. self:_scrub(err):gsub("\n", " ")) or ""))
end

function Client:_cost(usage)
  local p = self.settings.prices[self.model]
  if type(p) ~= "table" or not usage then return 0 end
  return (usage.prompt_tokens * (p.prompt or 0) + usage.completion_tokens * (p.completion or 0)) / 1e6
end

function Client:_calls_budget_message()
  return string.format("budget reached: %d paid calls of %d (HTTP attempts, retries included)",
    math.min(self.spent.calls + self.inflight, self.settings.budget_calls), self.settings.budget_calls)
end

-- Why no new call may start (the endpoint rejected the key, or a budget is spent), or nil.
function Client:_budget()
  if self.auth_failed then return self.auth_failed, "auth" end
  local s, sp = self.settings, self.spent
  if s.budget_calls > 0 and sp.calls + self.inflight >= s.budget_calls then
    return self:_calls_budget_message()
  end
  if s.budget_tokens > 0 and sp.tokens >= s.budget_tokens then
    return string.format("budget reached: %d tokens of %d", sp.tokens, s.budget_tokens)
  end
  if s.budget_cost > 0 and sp.cost >= s.budget_cost then
    return string.format("budget reached: $%.4f of $%.4f", sp.cost, s.budget_cost)
  end
  return nil
end

-- Judges an answer's content: the answer table, or nil, reason, info.
local function judge(content, finish, usage, want_json, schema, max_tokens)
  local info = { finish_reason = finish, usage = usage, content = content }
  if finish == "length" then
    info.kind = "truncated"
    return nil, "the answer was truncated (finish_reason=length; max_tokens is " .. tostring(max_tokens) .. ")", info
  end
  if type(content) ~= "string" or content == "" then
    info.kind = "empty"
    return nil, "the answer has no content (finish_reason=" .. tostring(finish) .. ")", info
  end
  local ans = { content = content, finish_reason = finish, usage = usage }
  if want_json then
    local v, err = json.extract(content)
    if not v then
      info.kind = "malformed"
      return nil, err, info
    end
    if schema then
      local ok, why = json.validate(v, schema)
      if not ok then
        info.kind = "invalid"
        return nil, "the answer's JSON does not fit the schema: " .. why, info
      end
    end
    ans.json = v
  end
  return ans
end

-- A chat-completions response body: the answer, or nil, reason, info.
local function read_body(body, want_json, schema, max_tokens)
  local doc, err = cjson.decode(body)
  if type(doc) ~= "table" then
    return nil, "the server's answer is not JSON (" .. tostring(err) .. ")", { kind = "bad_response" }
  end
  local choice = type(doc.choices) == "table" and doc.choices[1]
  if type(choice) ~= "table" then
    local e = type(doc.error) == "table" and doc.error.message or nil
    return nil, "the server's answer has no choices" .. (e and (": " .. tostring(e)) or ""), { kind = "bad_response" }
  end
  local u = type(doc.usage) == "table" and doc.usage or {}
  local usage = { prompt_tokens = tonumber(u.prompt_tokens) or 0, completion_tokens = tonumber(u.completion_tokens) or 0 }
  local msg = type(choice.message) == "table" and choice.message or {}
  local content = msg.content
  if content == cjson.null then content = nil end
  if type(msg.refusal) == "string" and msg.refusal ~= "" then
    return nil, "the model refused: " .. msg.refusal, { kind = "refused", usage = usage }
  end
  local finish = choice.finish_reason
  if finish == cjson.null then finish = nil end
  local ans, why, info = judge(content, finish, usage, want_json, schema, max_tokens)
  if ans then ans.model = type(doc.model) == "string" and doc.model or nil end
  return ans, why, info
end

local reask = { malformed = true, invalid = true, empty = true, bad_response = true }

-- The request body the server gets: the canonical request plus the response_format of the
-- current fallback level and the max-tokens field under its configured name.
function Client:_body(messages, params, schema, name)
  local s = self.settings
  local body = { model = self.model, messages = messages, temperature = params.temperature, seed = params.seed }
  body[s.max_tokens_field] = params.max_tokens
  local format = "text"
  if schema and self.format == "json_schema" then
    format = "json_schema"
    body.response_format = { type = "json_schema", json_schema = { name = name, schema = schema, strict = true } }
  elseif (schema or params.json) and self.format ~= "text" then
    format = "json_object"
    body.response_format = { type = "json_object", schema = s.json_object_schema and schema or nil }
  end
  return json.encode(body), format
end

-- A failure that blames response_format: the server does not take this level. Servers say so
-- with 400 or 422, some (llama-cpp-python) with a 500 carrying a validation error.
local function refuses_format(r)
  if r.status ~= 400 and r.status ~= 422 and r.status < 500 then return false end
  local b = r.body:lower()
  return b:find("response_format", 1, true) or b:find("json_schema", 1, true) or b:find("json_object", 1, true)
end

-- Sends body (with at most `retries` retries) and waits for its result: yields when called
-- from a gathered task, else drives the transport itself until this request finishes.
function Client:_send(body, retries)
  sched.clients[self] = true
  if sched.used then sched.used[self] = true end
  local id = self.http:submit(self.url, self._headers, body, retries)
  local co = coroutine.running()
  if co and sched.owned[co] then
    self._waiters[id] = co
    return coroutine.yield(WAIT)
  end
  while not self._blocked[id] do
    if not pump(1000) and not self._blocked[id] then error("llm: request " .. id .. " vanished (internal error)", 0) end
  end
  local r = self._blocked[id]
  self._blocked[id] = nil
  return r
end

-- One request: from the cache, or over HTTP (with the response_format fallback), recorded.
function Client:_ask(canon, key, messages, params, schema, name, meta)
  local s = self.settings
  local row = { run = s.run, stage = meta.stage, session = meta.session, try = meta.try, key = key,
                provider = self.provider, model = self.model }
  local st = self.stats
  st.calls = st.calls + 1
  if sched.used then sched.used[self] = true end
  if self.store then
    local e = self.store:get(key)
    if e and e.request ~= canon then
      -- same key, another request: never serve it (a hash collision, or a key made from a
      -- text that lost its content); ask the endpoint and store this request's own answer
      st.conflicts = st.conflicts + 1
      self:_note(meta, key, "cache", false, 0, nil, "cache entry belongs to another request; not served")
      e = nil
    end
    if e then
      local ans, why, info = read_body(e.response, params.json or schema ~= nil, schema, params.max_tokens)
      row.cached, row.ok, row.error = true, ans ~= nil, why
      row.prompt_tokens, row.completion_tokens = e.prompt_tokens, e.completion_tokens
      -- hits cost nothing: their rows are written in batches (a kill loses only those)
      local buf = self._hit_rows
      buf[#buf + 1] = row
      if #buf >= 256 then self:flush() end
      st.cached = st.cached + 1
      self:_note(meta, key, "cache", ans ~= nil, 0, ans and ans.usage, why)
      if ans then
        ans.cached, ans.attempts, ans.latency_ms, ans.key, ans.provider = true, 0, 0, key, self.provider
        return ans
      end
      st.failed = st.failed + 1
      info.cached = true
      return nil, why, info
    end
  end
  if self._defer then
    -- batch mode: the request is due, but goes to a batch file instead of the endpoint
    if not self._deferred[key] then
      local body = self:_body(messages, params, schema, name)
      self._deferred[key] = true
      self._deferred_list[#self._deferred_list + 1] = { key = key, request = canon, body = body,
                                                        stage = meta.stage, session = meta.session, try = meta.try }
    end
    return nil, "deferred to the batch file (not sent)", { kind = "deferred" }
  end
  local stop, kind = self:_budget()
  if stop then
    self.stopped = stop
    st.failed = st.failed + 1
    return nil, stop, { kind = kind or "budget" }
  end
  -- Until one answer has come back with the current response_format, a request goes out
  -- with one retry: servers that do not take a format may say so with a 5xx (llama-cpp-python
  -- does). A retryable failure that does not blame the format is then sent again with the
  -- retries it has left.
  local r, format
  local attempts, retries_left, logs = 0, s.max_retries, {}
  local recorded = 0 -- attempts already in a ledger row of this request (format refusals)
  for _ = 1, 6 do
    local body
    body, format = self:_body(messages, params, schema, name)
    local probing = format ~= "text" and not self._format_ok
    local retries = probing and math.min(1, retries_left) or retries_left
    self.inflight = self.inflight + 1
    local ok, res = pcall(self._send, self, body, retries)
    self.inflight = self.inflight - 1
    if not ok then error(res, 0) end
    r = res
    attempts = attempts + r.attempts
    logs[#logs + 1] = r.log
    st.http_calls = st.http_calls + 1
    st.attempts = st.attempts + r.attempts
    self.spent.calls = self.spent.calls + r.attempts
    if r.ok then
      self._format_ok = true
      break
    end
    if refuses_format(r) and format ~= "text" then
      -- step down from the format this request carried (another conversation may have
      -- stepped down already)
      local lower = format == "json_schema" and "json_object" or "text"
      if self.format == format then
        self.format = lower
        self._format_ok = false
      end
      row.ok, row.attempts, row.latency_ms = false, r.attempts, r.elapsed_ms
      row.error = "the server refused response_format " .. format .. "; falling back to " .. lower
      if self.store then self.store:put(nil, row) end
      recorded = recorded + r.attempts
      self:_note(meta, key, "http", false, r.elapsed_ms, nil, row.error)
    elseif probing and r.retryable and retries_left > retries then
      retries_left = retries_left - r.attempts
      self._format_ok = true -- the format is not what failed
    else
      local why = self:_scrub(r.error)
      local kind = r.retryable and "network" or "http"
      if r.retryable then -- the count over every submission of this request
        why = why:gsub(" %(gave up after %d+ attempts%)$", "") .. " (gave up after " .. attempts .. " attempts)"
      end
      if r.status == 401 or r.status == 403 then
        -- the key is wrong for this endpoint: every other request would fail the same way, so
        -- the stage stops here with one message, and nothing queued is sent
        kind = "auth"
        if not self.auth_failed then
          self.auth_failed = string.format("authentication failed: %s answered HTTP %d with the API key %s (from %s); "
            .. "set SPRINT_LLM_API_KEY or OPENAI_API_KEY to a key this endpoint accepts. Answers so far are kept "
            .. "in the cache: a rerun resumes", self.base_url, r.status, M.mask(s.api_key), self.origin.api_key or "default")
          self.http:set_attempt_limit(self.http:attempts())
        end
        self.stopped = self.auth_failed
        why = self.auth_failed .. " (" .. why .. ")"
      elseif r.not_sent then
        kind = self.auth_failed and "auth" or "budget"
        self.stopped = self.auth_failed or self:_calls_budget_message()
        why = self.stopped .. (r.attempts > 0 and (" (after " .. why .. ")") or "")
      end
      row.ok, row.attempts, row.latency_ms, row.error = false, attempts - recorded, r.elapsed_ms, why
      if self.store then self.store:put(nil, row) end
      self:_note(meta, key, "http", false, r.elapsed_ms, nil, why)
      st.failed = st.failed + 1
      return nil, why, { kind = kind, status = r.status, attempts = attempts,
                         log = self:_scrub(table.concat(logs)) }
    end
  end
  local ans, why, info = read_body(r.body, params.json or schema ~= nil, schema, params.max_tokens)
  local usage = (ans and ans.usage) or (info and info.usage) or { prompt_tokens = 0, completion_tokens = 0 }
  local cost = self:_cost(usage)
  self.spent.tokens = self.spent.tokens + usage.prompt_tokens + usage.completion_tokens
  self.spent.cost = self.spent.cost + cost
  st.prompt_tokens = st.prompt_tokens + usage.prompt_tokens
  st.completion_tokens = st.completion_tokens + usage.completion_tokens
  st.cost = st.cost + cost
  row.ok, row.error, row.cost = ans ~= nil, why, cost
  row.prompt_tokens, row.completion_tokens = usage.prompt_tokens, usage.completion_tokens
  row.attempts, row.latency_ms = attempts - recorded, r.elapsed_ms
  local entry
  if not (info and info.kind == "bad_response") then -- a real chat completion: keep it
    entry = { key = key, request = canon, response = r.body, provider = self.provider, model = self.model,
              prompt_tokens = usage.prompt_tokens, completion_tokens = usage.completion_tokens,
              latency_ms = r.elapsed_ms, attempts = attempts, errors = self:_scrub(table.concat(logs)) }
  end
  if self.store then self.store:put(entry, row) end
  self:_note(meta, key, "http", ans ~= nil, r.elapsed_ms, usage, why)
  if not ans then
    st.failed = st.failed + 1
    info.attempts, info.latency_ms = attempts, r.elapsed_ms
    return nil, why, info
  end
  ans.cached, ans.attempts, ans.latency_ms, ans.key, ans.provider = false, attempts, r.elapsed_ms, key, self.provider
  ans.response_format = format
  return ans
end

local function check_messages(messages)
  if type(messages) ~= "table" or #messages == 0 then
    error("llm:chat: messages must be a non-empty list of {role=, content=}", 3)
  end
  local clean = {}
  for i, m in ipairs(messages) do
    if type(m) ~= "table" or type(m.role) ~= "string" or type(m.content) ~= "string" then
      error("llm:chat: message " .. i .. " must be {role = string, content = string}", 3)
    end
    clean[i] = { role = m.role, content = m.content }
  end
  return json.array(clean)
end

-- client:chat(messages, opts): one answer. opts: schema (a table: the answer must be JSON of
-- it), json (true: any JSON), task (schema name, e.g. "pc"; the stand-in's task), stage,
-- session, try (ledger fields), temperature, seed, max_tokens.
function Client:chat(messages, o)
  o = o or {}
  if o ~= nil and type(o) ~= "table" then error("llm:chat: options must be a table", 2) end
  local msgs = check_messages(messages)
  local s = self.settings
  local schema = o.schema
  local name = o.task or o.schema_name or "answer"
  local meta = { stage = tostring(o.stage or ""), session = tostring(o.session or ""), try = tonumber(o.try) or 0 }
  local params = { temperature = o.temperature or s.temperature, seed = o.seed or s.seed,
                   max_tokens = o.max_tokens or s.max_tokens, json = o.json and true or nil }
  if self.standin then return self:_standin(msgs, o, schema, meta) end
  -- A garbled response (not a chat completion; never cached) is asked again as it was, so a
  -- rerun finds the answer under the same key; an answer that is not the JSON asked for is
  -- cached as the model gave it and asked again with the next seed.
  local why, info
  local reseed = 0
  for _ = 0, s.answer_retries do
    local p = { temperature = params.temperature, seed = params.seed + reseed, max_tokens = params.max_tokens, json = params.json }
    local canon = json.encode { provider = self.provider, model = self.model, messages = msgs, schema_name = name,
                                schema = schema or json.null, json = p.json or false,
                                params = { temperature = p.temperature, seed = p.seed, max_tokens = p.max_tokens } }
    local key = store_mod.request_key(canon)
    local ans
    ans, why, info = self:_ask(canon, key, msgs, p, schema, name, meta)
    if ans then return ans end
    if not reask[info.kind] then break end
    if info.kind ~= "bad_response" then reseed = reseed + 1 end
  end
  return nil, why, info
end

function Client:_standin(msgs, o, schema, meta)
  local t0 = os.clock()
  local content = standin.answer(msgs, o.task or o.schema_name, self.catalogue)
  local usage = { prompt_tokens = 0, completion_tokens = 0 }
  local ans, why, info = judge(content, "stop", usage, schema ~= nil or o.json, schema)
  local ms = (os.clock() - t0) * 1e3
  local st = self.stats
  st.calls = st.calls + 1
  if self.store then
    self.store:put(nil, { run = self.settings.run, stage = meta.stage, session = meta.session, try = meta.try,
                          provider = "offline", model = standin.NAME, ok = ans ~= nil, latency_ms = ms, error = why })
  end
  self:_note(meta, "", standin.NAME, ans ~= nil, ms, usage, why)
  if not ans then
    st.failed = st.failed + 1
    return nil, why, info
  end
  ans.cached, ans.attempts, ans.latency_ms, ans.provider, ans.model = false, 0, ms, "offline", standin.NAME
  return ans
end

-- Calls, tokens and money of this client so far (this process), and the budget state.
function Client:report()
  self:flush()
  local st = self.stats
  return { calls = st.calls, http_calls = st.http_calls, attempts = st.attempts, cached = st.cached, failed = st.failed, conflicts = st.conflicts,
           prompt_tokens = st.prompt_tokens, completion_tokens = st.completion_tokens, cost = st.cost,
           stopped = self.stopped, name = self.name }
end

-- ---- many conversations at once -------------------------------------------------------------------

-- llm.gather(tasks, opts): runs task functions task(i) as coroutines, at most opts.concurrency
-- (default 16) alive at once; each reads sequentially and yields inside client:chat. An error
-- in one task is caught with its traceback and reported; the others go on. When a client's
-- budget is reached no further task starts. Returns results (task i's return value at [i]),
-- errors (message at [i] for a task that raised or never started), and a summary
-- {done, failed, not_started, stopped}. opts.on_done(i, result, err) is called as each ends;
-- opts.stop() may return a reason to start no further task (e.g. a cap the caller enforces).
function M.gather(tasks, opts)
  opts = opts or {}
  if type(tasks) ~= "table" then error("llm.gather: tasks must be a list of functions", 2) end
  local n = #tasks
  for i = 1, n do
    if type(tasks[i]) ~= "function" then error("llm.gather: task " .. i .. " is not a function", 2) end
  end
  local conc = opts.concurrency or 16
  if type(conc) ~= "number" or conc < 1 then error("llm.gather: concurrency must be >= 1", 2) end
  if sched.used then
    error("llm.gather: already running (call gather from the top level, not inside a gathered task)", 2)
  end
  local results, errors = {}, {}
  local live, next_i, done, failed = 0, 1, 0, 0
  sched.used = setmetatable({}, { __mode = "k" })
  sched.ready = {}
  local stopped

  local function finish(i, ok, v)
    live = live - 1
    if ok then
      results[i] = v
      done = done + 1
    else
      errors[i] = tostring(v)
      failed = failed + 1
    end
    if opts.on_done then opts.on_done(i, results[i], errors[i]) end
  end
  local function step(co, ...)
    local i = sched.owned[co]
    local ok, a, b = coroutine.resume(co, ...)
    if not ok then
      finish(i, false, a)
    elseif coroutine.status(co) == "dead" then
      finish(i, a, b)
    elseif a ~= WAIT then
      finish(i, false, "task " .. i .. " yielded by itself; inside llm.gather only client:chat may yield")
    end
  end
  local function budget_stop()
    for c in pairs(sched.used) do
      if c.stopped then return c.stopped end
    end
    if opts.stop then return opts.stop() end
  end

  local ok, err = pcall(function()
    while true do
      while live < conc and next_i <= n do
        stopped = budget_stop()
        if stopped then break end
        local i = next_i
        next_i, live = i + 1, live + 1
        local task = tasks[i]
        local co = coroutine.create(function() return xpcall(task, debug.traceback, i) end)
        sched.owned[co] = i
        step(co)
      end
      local head = 1
      while head <= #sched.ready do
        local item = sched.ready[head]
        sched.ready[head] = false
        head = head + 1
        step(item[1], item[2])
      end
      sched.ready = {}
      if live == 0 and (next_i > n or stopped) then break end
      if live > 0 then
        local got = pump(opts.poll_ms or 200)
        if got == nil and #sched.ready == 0 then
          error("llm.gather: " .. live .. " tasks wait but no request is in flight (internal error)", 0)
        end
      end
    end
  end)
  local used = sched.used
  sched.used = nil
  for c in pairs(used) do c:flush() end
  if not ok then error(err, 2) end
  local not_started = 0
  for i = next_i, n do
    errors[i] = "not started: " .. tostring(stopped)
    not_started = not_started + 1
  end
  return results, errors, { done = done, failed = failed, not_started = not_started, stopped = stopped }
end

-- ---- reports from the ledger ---------------------------------------------------------------------

-- A text table of calls, tokens and money per stage of run (nil: all runs) in cache file path.
function M.report(path, run)
  local st = store_mod.open(path, "read-only")
  -- tokens and cost are paid ones; cache hits are counted apart (their answers' tokens were
  -- saved, not spent); attempts are the HTTP requests that went out, retries included
  local lines = { string.format("%-16s %8s %8s %8s %8s %12s %12s %10s %12s", "stage", "calls", "cached", "failed",
                                "attempts", "prompt tok", "compl tok", "cost $", "saved tok") }
  local function row(name, t)
    lines[#lines + 1] = string.format("%-16s %8d %8d %8d %8d %12d %12d %10.4f %12d", name, t.calls, t.cached, t.failed,
                                      t.attempts, t.prompt_tokens, t.completion_tokens, t.cost, t.cached_tokens)
  end
  for _, stage in ipairs(st:stages(run)) do row(stage == "" and "(none)" or stage, st:totals(run, stage)) end
  row("total", st:totals(run))
  local off = st:totals(run, nil, "offline")
  if off.calls > 0 then
    lines[#lines + 1] = string.format("of which %d answered by the %s (not an LLM; no tokens, no cost)", off.calls, standin.NAME)
  end
  st:close()
  return table.concat(lines, "\n")
end

return M
