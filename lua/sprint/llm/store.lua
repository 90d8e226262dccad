-- llm/store.lua — the LLM cache and ledger (sp_llm_store, engine/llm/store.c) from Lua:
-- get/put by request key, ledger totals by run and stage, the SHA-256 of a string.
local ffi = require "ffi"
local lib = require "sprint.lib"
local cjson = require "cjson.safe"
local C = lib.C

local M = {}
local Store = {}
Store.__index = Store

M.modes = { off = 0, read = 1, ["read-only"] = 1, rw = 2, ["read-write"] = 2 }
local mode_names = { [0] = "off", [1] = "read-only", [2] = "read-write" }

local hex = ffi.new("char[65]")
-- Hex SHA-256 of a Lua string.
function M.sha256(s)
  C.sp_sha256_hex(hex, s, #s)
  return ffi.string(hex, 64)
end

-- The cache key of a canonical request text: its SHA-256, but only for a text that carries a
-- model and a non-empty list of messages. A text without them is an encoder failure (LuaJIT
-- #827 once made the encoder return "{}"): keying it would give every such request one key
-- and the first stored answer, so it raises, loudly, instead.
function M.request_key(canon)
  local doc = type(canon) == "string" and cjson.decode(canon)
  -- a chat request has messages; an embeddings request (llm/embed.lua) its input text
  local has_content = type(doc) == "table" and ((type(doc.messages) == "table" and #doc.messages > 0)
    or (type(doc.input) == "string" and doc.input ~= ""))
  if type(doc) ~= "table" or type(doc.model) ~= "string" or doc.model == "" or not has_content then
    local excerpt = tostring(canon):sub(1, 60)
    error("llm cache: refusing to key a request without its model and messages (the canonical text is '"
      .. excerpt .. "'); this is a bug in the request encoder or the VM, not a cache miss", 0)
  end
  return M.sha256(canon)
end

function M.open(path, mode)
  local m = M.modes[mode or "rw"]
  if not m then error("llm store: cache mode must be off, read-only or read-write, got " .. tostring(mode), 2) end
  local box = ffi.new("sp_llm_store*[1]")
  if C.sp_llm_store_open(box, path, m) ~= 0 then lib.fail("llm store open", 2) end
  return setmetatable({ _p = ffi.gc(box[0], C.sp_llm_store_close), path = path, mode = mode_names[m] }, Store)
end

function Store:close()
  if self._p ~= nil then
    C.sp_llm_store_close(ffi.gc(self._p, nil))
    self._p = nil
  end
end

local found = ffi.new("int[1]")
local entry = ffi.new("sp_llm_entry[1]")
-- The cached entry for key as a table {request, response, provider, model, prompt_tokens,
-- completion_tokens, latency_ms, attempts, errors}, or nil.
function Store:get(key)
  if C.sp_llm_store_get(self._p, found, entry, key) ~= 0 then lib.fail("llm cache lookup", 2) end
  if found[0] == 0 then return nil end
  local e = entry[0]
  return {
    key = key,
    request = ffi.string(e.request),
    response = ffi.string(e.response),
    provider = ffi.string(e.provider),
    model = ffi.string(e.model),
    prompt_tokens = tonumber(e.prompt_tokens),
    completion_tokens = tonumber(e.completion_tokens),
    latency_ms = e.latency_ms,
    attempts = e.attempts,
    errors = ffi.string(e.errors),
  }
end

local function fill_row(r, row)
  r.run, r.stage, r.session = row.run or "", row.stage or "", row.session or ""
  r.try_no, r.key = row.try or 0, row.key or ""
  r.provider, r.model = row.provider or "", row.model or ""
  r.cached, r.ok = row.cached and 1 or 0, row.ok and 1 or 0
  r.prompt_tokens, r.completion_tokens = row.prompt_tokens or 0, row.completion_tokens or 0
  r.cost, r.latency_ms, r.attempts, r.error = row.cost or 0, row.latency_ms or 0, row.attempts or 0, row.error or ""
end

local e_box = ffi.new("sp_llm_entry[1]")
local r_box = ffi.new("sp_llm_ledger_row[1]")
-- Writes entry (a table like get's, or nil) and ledger row (a table, or nil) in one transaction.
-- The Lua strings stay referenced by the tables for the duration of the call.
function Store:put(e, row)
  local ep, rp = nil, nil
  if e then
    local c = e_box[0]
    c.key, c.request, c.response = e.key, e.request, e.response
    c.provider, c.model = e.provider or "", e.model or ""
    c.prompt_tokens, c.completion_tokens = e.prompt_tokens or 0, e.completion_tokens or 0
    c.latency_ms, c.attempts, c.errors, c.created = e.latency_ms or 0, e.attempts or 0, e.errors or "", 0
    ep = e_box
  end
  if row then
    fill_row(r_box[0], row)
    rp = r_box
  end
  if C.sp_llm_store_put(self._p, ep, rp) ~= 0 then lib.fail("llm cache write", 2) end
end

-- Writes a list of ledger rows in one transaction.
function Store:put_rows(rows)
  local n = #rows
  if n == 0 then return end
  local arr = ffi.new("sp_llm_ledger_row[?]", n)
  for i = 1, n do fill_row(arr[i - 1], rows[i]) end
  if C.sp_llm_store_put_rows(self._p, arr, n) ~= 0 then lib.fail("llm ledger write", 2) end
end

local totals = ffi.new("sp_llm_totals[1]")
-- Ledger sums for run, stage and provider (nil: any): {calls, cached, failed, prompt_tokens,
-- completion_tokens, cost, latency_ms, attempts, cached_tokens}; tokens, cost and attempts are
-- paid ones (cache hits excluded), cached_tokens what the hits' answers once cost.
function Store:totals(run, stage, provider)
  if C.sp_llm_store_totals(self._p, totals, run or "", stage or "", provider or "") ~= 0 then lib.fail("llm ledger totals", 2) end
  local t = totals[0]
  return {
    calls = tonumber(t.calls), cached = tonumber(t.cached), failed = tonumber(t.failed),
    prompt_tokens = tonumber(t.prompt_tokens), completion_tokens = tonumber(t.completion_tokens),
    cost = t.cost, latency_ms = t.latency_ms, attempts = tonumber(t.attempts), cached_tokens = tonumber(t.cached_tokens),
  }
end

-- The distinct stage names of run's ledger rows (nil: every run), sorted.
function Store:stages(run)
  local names, box = {}, ffi.new("const char*[1]")
  for i = 0, 1e6 do
    if C.sp_llm_store_stage(self._p, box, run or "", i) ~= 0 then lib.fail("llm ledger stages", 2) end
    if box[0] == nil then break end
    names[#names + 1] = ffi.string(box[0])
  end
  return names
end

local count = ffi.new("int64_t[1]")
function Store:entries()
  if C.sp_llm_store_entries(self._p, count) ~= 0 then lib.fail("llm cache count", 2) end
  return tonumber(count[0])
end

M.Store = Store
return M
