-- llm/http.lua — the C transport (sp_http, engine/llm/http.c) from Lua: submit a POST, poll
-- for finished requests, read a result as a plain table (strings copied), release it.
local ffi = require "ffi"
local lib = require "sprint.lib"
local C = lib.C

local M = {}
local Http = {}
Http.__index = Http

local cfg_t = ffi.typeof("sp_http_config")
local id_box = ffi.new("int64_t[1]")
local n_box = ffi.new("int[1]")
local res_box = ffi.new("sp_http_result[1]")
local state_names = { [0] = "pending", [1] = "done", [2] = "failed" }

-- M.new{max_in_flight, connect_timeout_ms, timeout_ms, max_retries, backoff_ms,
--       backoff_max_ms, max_response_bytes, seed}: missing fields keep the C defaults.
function M.new(opts)
  opts = opts or {}
  local cfg = cfg_t()
  C.sp_http_config_default(cfg)
  for _, k in ipairs { "max_in_flight", "connect_timeout_ms", "timeout_ms", "max_retries",
                       "backoff_ms", "backoff_max_ms", "max_response_bytes", "seed" } do
    if opts[k] ~= nil then cfg[k] = opts[k] end
  end
  local box = ffi.new("sp_http*[1]")
  if C.sp_http_new(box, cfg) ~= 0 then lib.fail("llm http client", 2) end
  local self = setmetatable({ _p = ffi.gc(box[0], C.sp_http_free), _ids = ffi.new("int64_t[?]", 256) }, Http)
  return self
end

function Http:free()
  if self._p ~= nil then
    C.sp_http_free(ffi.gc(self._p, nil))
    self._p = nil
  end
end

-- Queues a POST; returns the request id (a Lua number: ids stay below 2^53). max_retries:
-- this request's retry limit (nil: the client's).
function Http:submit(url, headers, body, max_retries)
  if C.sp_http_submit(self._p, id_box, url, headers or "", body, #body, max_retries or -1) ~= 0 then
    lib.fail("llm http submit", 2)
  end
  return tonumber(id_box[0])
end

-- Drives transfers for up to timeout_ms; returns a list of finished ids (maybe empty).
function Http:poll(timeout_ms)
  if C.sp_http_poll(self._p, n_box, self._ids, 256, timeout_ms or 0) ~= 0 then
    lib.fail("llm http poll", 2)
  end
  local ids = {}
  for i = 0, n_box[0] - 1 do ids[i + 1] = tonumber(self._ids[i]) end
  return ids
end

-- The result of request id as a table {state, ok, status, attempts, retryable, not_sent, elapsed_ms,
-- last_attempt_ms, error, body, headers, log}; release=true forgets the request afterwards.
function Http:result(id, release)
  if C.sp_http_result_get(self._p, res_box, id) ~= 0 then lib.fail("llm http result", 2) end
  local r = res_box[0]
  local t = {
    id = id,
    state = state_names[r.state],
    ok = r.state == 1,
    status = r.http_status,
    attempts = r.attempts,
    retryable = r.retryable ~= 0,
    not_sent = r.not_sent ~= 0,
    elapsed_ms = r.elapsed_ms,
    last_attempt_ms = r.last_attempt_ms,
    error = ffi.string(r.error),
    body = ffi.string(r.body, r.body_len),
    headers = ffi.string(r.headers),
    log = ffi.string(r.log),
  }
  if release then C.sp_http_release(self._p, id) end
  return t
end

-- A hard bound on the attempts this client starts (retries included), counted since it was
-- made; nil or a negative number: none. See sp_http_set_attempt_limit.
function Http:set_attempt_limit(limit)
  if C.sp_http_set_attempt_limit(self._p, limit or -1) ~= 0 then lib.fail("llm http attempt limit", 2) end
end
function Http:attempts() return tonumber(C.sp_http_attempts(self._p)) end

function Http:release(id) C.sp_http_release(self._p, id) end
function Http:unfinished() return C.sp_http_unfinished(self._p) end

M.Http = Http
return M
