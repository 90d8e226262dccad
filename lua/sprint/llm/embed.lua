-- llm/embed.lua — text embeddings from an OpenAI-compatible /embeddings endpoint (OpenAI's
-- text-embedding-ada-002, or a local llama.cpp server: tools/llm_local_server embed), for
-- SPRINT+LE's item vectors. Every text is one request, cached like chat calls (the LLM cache's
-- SQLite store, keyed by the request: model and text) and written to its ledger, so a rerun or a
-- killed run asks only what it has not got; the API key comes from the environment and is never
-- written anywhere. A server that answers one vector per token (llama.cpp without a pooling
-- type) is mean-pooled here, and said so.
--   local e = embed.from_env{ cache = dir .. "/embeddings.sqlite" }   -- nil, why: no endpoint
--   local vectors, info = e:embed_all(texts)                           -- { {floats}, ... }
local cjson = require "cjson.safe"
local http = require "sprint.llm.http"
local store_mod = require "sprint.llm.store"
local json = require "sprint.llm.json"

local M = {}
local Embed = {}
Embed.__index = Embed

-- The endpoint from the environment: SPRINT_EMBED_BASE_URL and SPRINT_EMBED_MODEL (the model's
-- name as the server knows it); the key from SPRINT_LLM_API_KEY or OPENAI_API_KEY. Returns a
-- client, or nil and why none is configured. opts: cache (a SQLite path), concurrency (8),
-- timeout_ms (60000), max_retries (3), run (the ledger's run name).
function M.from_env(opts)
  opts = opts or {}
  local base = os.getenv("SPRINT_EMBED_BASE_URL") or ""
  local model = os.getenv("SPRINT_EMBED_MODEL") or ""
  if base == "" then
    return nil, "no embeddings endpoint: set SPRINT_EMBED_BASE_URL (e.g. https://api.openai.com/v1 with "
      .. "SPRINT_EMBED_MODEL=text-embedding-ada-002, or a local model: tools/llm_local_server embed, then "
      .. "SPRINT_EMBED_BASE_URL=$(tools/llm_local_server url 8089) SPRINT_EMBED_MODEL=gemma-3-270m)"
  end
  if model == "" then return nil, "SPRINT_EMBED_BASE_URL is set but SPRINT_EMBED_MODEL is not" end
  local key, key_origin = "", "none"
  for _, var in ipairs { "SPRINT_LLM_API_KEY", "OPENAI_API_KEY" } do
    local v = os.getenv(var)
    if v and v ~= "" then key, key_origin = v, var break end
  end
  return M.new { base_url = base, model = model, api_key = key, key_origin = key_origin, cache = opts.cache,
                 concurrency = opts.concurrency, timeout_ms = opts.timeout_ms, max_retries = opts.max_retries,
                 run = opts.run }
end

function M.new(o)
  local self = setmetatable({ base_url = o.base_url:gsub("/+$", ""), model = o.model, run = o.run or "embeddings",
                              key_origin = o.key_origin or "none", concurrency = o.concurrency or 8 }, Embed)
  self.url = self.base_url .. "/embeddings"
  local h = { "Content-Type: application/json", "Accept: application/json" }
  if (o.api_key or "") ~= "" then h[#h + 1] = "Authorization: Bearer " .. o.api_key end
  self._headers = table.concat(h, "\n")
  self._key = o.api_key or ""
  self.http = http.new { max_in_flight = self.concurrency, timeout_ms = o.timeout_ms or 60000,
                         max_retries = o.max_retries or 3 }
  if o.cache then self.store = store_mod.open(o.cache, "rw") end
  self.name = "OpenAI-compatible embeddings endpoint " .. self.base_url .. ", model " .. self.model
  self.stats = { requests = 0, cached = 0, pooled = 0, prompt_tokens = 0, seconds = 0 }
  return self
end

function Embed:close()
  if self.store then self.store:close() end
  self.http:free()
end

-- The vector in a response body: data[1].embedding, a list of numbers, or a list of per-token
-- lists (mean-pooled); or a cached entry's compact form {"embedding": [...], "pooled": b}.
-- Returns the vector and whether it was pooled, or nil and why.
local function vector_of(body)
  local doc = cjson.decode(body)
  if type(doc) == "table" and type(doc.embedding) == "table" then return doc.embedding, doc.pooled == true end
  local e = type(doc) == "table" and type(doc.data) == "table" and type(doc.data[1]) == "table" and doc.data[1].embedding
  if type(e) ~= "table" or #e == 0 then return nil, "not an embeddings response: " .. tostring(body):sub(1, 120) end
  if type(e[1]) == "number" then return e, false end
  if type(e[1]) ~= "table" then return nil, "an embedding that is neither numbers nor lists of them" end
  local d, out = #e[1], {}
  for j = 1, d do out[j] = 0 end
  for _, tok in ipairs(e) do
    if #tok ~= d then return nil, "per-token vectors of different sizes" end
    for j = 1, d do out[j] = out[j] + tok[j] end
  end
  for j = 1, d do out[j] = out[j] / #e end
  return out, true
end

-- A cache entry's body: the vector with every double's digits (%.17g reads back exactly), so a
-- vector from the cache is the vector the endpoint gave.
function M.compact(v, pooled)
  local parts = {}
  for k = 1, #v do parts[k] = string.format("%.17g", v[k]) end
  return '{"pooled":' .. (pooled and "true" or "false") .. ',"embedding":[' .. table.concat(parts, ",") .. "]}"
end

local function usage_of(body)
  local doc = cjson.decode(body)
  return type(doc) == "table" and type(doc.usage) == "table" and tonumber(doc.usage.prompt_tokens) or 0
end

-- The vectors of a list of texts, in order: from the cache, else from the endpoint (concurrently).
-- Raises on the first text the endpoint cannot embed (after its retries), naming it; answers got
-- so far are in the cache, so a rerun resumes.
function Embed:embed_all(texts, progress)
  local out, pending, keys, canons = {}, {}, {}, {}
  local clock = require "sprint.clock"
  local t0 = clock.now()
  for i, text in ipairs(texts) do
    if type(text) ~= "string" or text == "" then error("embed: text " .. i .. " is empty", 2) end
    canons[i] = json.encode { model = self.model, input = text }
    keys[i] = store_mod.request_key(canons[i])
    local e = self.store and self.store:get(keys[i])
    if e and e.request == canons[i] then
      local v, pooled = vector_of(e.response)
      if v then
        out[i] = v
        self.stats.cached = self.stats.cached + 1
        if pooled then self.stats.pooled = self.stats.pooled + 1 end
      end
    end
    if not out[i] then pending[#pending + 1] = i end
  end
  local by_id, next_i, done = {}, 1, 0
  local function submit()
    while next_i <= #pending and self.http:unfinished() < self.concurrency do
      local i = pending[next_i]
      next_i = next_i + 1
      by_id[self.http:submit(self.url, self._headers, canons[i])] = i
    end
  end
  submit()
  while done < #pending do
    for _, id in ipairs(self.http:poll(200)) do
      local i = by_id[id]
      local r = self.http:result(id, true)
      local v, extra = nil, r.error
      if r.ok then v, extra = vector_of(r.body) end
      local why, pooled = not v and extra, v and extra
      local row = { run = self.run, stage = "embeddings", session = tostring(i), key = keys[i], provider = "openai",
                    model = self.model, ok = v ~= nil, attempts = r.attempts, latency_ms = r.elapsed_ms,
                    prompt_tokens = r.ok and usage_of(r.body) or 0, error = v and "" or tostring(why) }
      -- the cache keeps the vector, not the body: a per-token answer is ~100x the pooled one
      local compact = v and M.compact(v, pooled)
      local entry = v and { key = keys[i], request = canons[i], response = compact, provider = "openai", model = self.model,
                            prompt_tokens = row.prompt_tokens, latency_ms = r.elapsed_ms, attempts = r.attempts } or nil
      if self.store then self.store:put(entry, row) end
      if not v then
        local msg = tostring(why):gsub(self._key ~= "" and self._key:gsub("%p", "%%%0") or "\0", "***")
        error(string.format("embed: %s could not embed text %d ('%s'): %s (HTTP %s). The %d vectors got so far are "
          .. "cached; a rerun resumes", self.base_url, i, texts[i]:sub(1, 60), msg, tostring(r.status), done), 0)
      end
      out[i] = v
      done = done + 1
      self.stats.requests = self.stats.requests + 1
      self.stats.prompt_tokens = self.stats.prompt_tokens + row.prompt_tokens
      if pooled then self.stats.pooled = self.stats.pooled + 1 end
      if progress and done % 200 == 0 then progress(done, #pending) end
    end
    submit()
  end
  self.stats.seconds = clock.now() - t0
  return out, self.stats
end

return M
