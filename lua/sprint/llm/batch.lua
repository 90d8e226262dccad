-- llm/batch.lua — LLM calls through a batch endpoint at its lower price (the OpenAI Batch API
-- format): the requests a stage found due, and not in the cache, are written as a JSONL file
-- (custom_id = the cache key); the results file the endpoint returns is read back into the
-- cache, after which the stage replays its loop from the cache and writes the next round's
-- requests. One P&C try per round: a conversation's next turn depends on this one's answer.
--
--   round file  batch/round-0001.jsonl           {"custom_id", "method", "url", "body"} per line
--   requests    batch/round-0001.requests.jsonl  {"key", "request"}: the canonical request of
--               each custom_id, which the cache stores beside the answer (a hit is served
--               only when they match)
--   results     what the endpoint returns: {"custom_id", "response": {"status_code", "body"},
--               "error"} per line
local cjson = require "cjson.safe"
local files = require "sprint.files"

local M = {}

local function round_name(dir, n) return string.format("%s/round-%04d", dir, n) end

-- Writes the client's deferred requests as the next round in dir. Returns the round file's
-- path and the number of requests (nil, 0 when none were due).
function M.write_round(client, dir)
  local due = client:take_deferred()
  if #due == 0 then return nil, 0 end
  files.mkdir(dir)
  local n = 1
  while files.exists(round_name(dir, n) .. ".jsonl") do n = n + 1 end
  local base = round_name(dir, n)
  local lines, reqs = {}, {}
  for i, d in ipairs(due) do
    lines[i] = '{"custom_id":' .. cjson.encode(d.key) .. ',"method":"POST","url":"/v1/chat/completions","body":'
      .. d.body .. "}"
    reqs[i] = cjson.encode { key = d.key, request = d.request, stage = d.stage, session = d.session, try = d.try }
  end
  -- the requests file first: a results file can only be read with it
  files.write_atomic(base .. ".requests.jsonl", table.concat(reqs, "\n") .. "\n")
  files.write_atomic(base .. ".jsonl", table.concat(lines, "\n") .. "\n")
  return base .. ".jsonl", #due
end

-- The canonical requests of every round written in dir: key -> {request, stage, session, try}.
local function known_requests(dir)
  local out = {}
  local n = 1
  while files.exists(round_name(dir, n) .. ".requests.jsonl") do
    for line in (files.read(round_name(dir, n) .. ".requests.jsonl") or ""):gmatch("[^\n]+") do
      local r = cjson.decode(line)
      if type(r) == "table" and r.key then out[r.key] = r end
    end
    n = n + 1
  end
  return out
end

-- Reads a results file into the client's cache (and ledger: these calls were paid, at the
-- batch price). Returns {answered, failed, unknown, path}. Every error names the file and line.
function M.import(client, results_path, dir)
  if not client.store then error("llm batch import: the client has no cache file (setting cache)", 2) end
  local text = files.read(results_path)
  if not text then error("llm batch import: cannot read " .. results_path, 2) end
  local reqs = known_requests(dir)
  local out = { answered = 0, failed = 0, unknown = 0, path = results_path }
  local ln = 0
  for line in text:gmatch("([^\n]*)\n?") do
    ln = ln + 1
    if line:match("%S") then
      local r = cjson.decode(line)
      if type(r) ~= "table" or type(r.custom_id) ~= "string" then
        error(string.format("llm batch import: %s, line %d: not a batch result (no custom_id)", results_path, ln), 2)
      end
      local req = reqs[r.custom_id]
      local resp = type(r.response) == "table" and r.response or nil
      local row = { run = client.settings.run, stage = req and req.stage or "batch", session = req and req.session or "",
                    try = req and req.try or 0, key = r.custom_id, provider = client.provider, model = client.model,
                    attempts = 1 }
      if not req then
        out.unknown = out.unknown + 1
      elseif resp and resp.status_code == 200 and type(resp.body) == "table" then
        local body = cjson.encode(resp.body)
        local u = type(resp.body.usage) == "table" and resp.body.usage or {}
        local usage = { prompt_tokens = tonumber(u.prompt_tokens) or 0, completion_tokens = tonumber(u.completion_tokens) or 0 }
        row.ok, row.prompt_tokens, row.completion_tokens = true, usage.prompt_tokens, usage.completion_tokens
        row.cost = client:_cost(usage) * (client.settings.batch_price_factor or 0.5)
        client.store:put({ key = r.custom_id, request = req.request, response = body, provider = client.provider,
                           model = client.model, prompt_tokens = usage.prompt_tokens,
                           completion_tokens = usage.completion_tokens, latency_ms = 0, attempts = 1,
                           errors = "" }, row)
        out.answered = out.answered + 1
      else
        local why = type(r.error) == "table" and tostring(r.error.message or r.error.code) or
          ("status " .. tostring(resp and resp.status_code))
        row.ok, row.error = false, "batch result: " .. why
        client.store:put(nil, row)
        out.failed = out.failed + 1
      end
    end
  end
  return out
end

return M
