-- helpers.lua — assertions shared by the Lua tests (not a test file: the runner loads only
-- test_*.lua). Failures point at the test's line (error level 2).
local M = {}

local SKIP = {}
function M.skip(reason) error(setmetatable({ reason = reason }, SKIP), 0) end
function M.is_skip(e) return getmetatable(e) == SKIP end

-- Skips the test unless libsprint defines every named symbol (ops that land later).
function M.needs(...)
  local lib = require "sprint.lib"
  for i = 1, select("#", ...) do
    local name = select(i, ...)
    if not lib.has(name) then M.skip("libsprint lacks " .. name) end
  end
end

local function show(v)
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = show(v[i]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
M.show = show

function M.eq(got, want, msg)
  if got ~= want then
    error((msg and msg .. ": " or "") .. "expected " .. show(want) .. ", got " .. show(got), 2)
  end
end

function M.truthy(v, msg)
  if not v then error(msg or "expected a true value", 2) end
end

-- |got - want| <= tol (default 1e-5), element-wise over (nested) lists.
local function near(got, want, tol, path)
  if type(want) == "table" then
    if type(got) ~= "table" or #got ~= #want then
      return path .. ": expected " .. show(want) .. ", got " .. show(got)
    end
    for i = 1, #want do
      local e = near(got[i], want[i], tol, path .. "[" .. i .. "]")
      if e then return e end
    end
    return nil
  end
  if type(got) ~= "number" or math.abs(got - want) > tol or got ~= got then
    return path .. ": expected " .. tostring(want) .. " (tol " .. tol .. "), got " .. tostring(got)
  end
  return nil
end
function M.near(got, want, tol, msg)
  local e = near(got, want, tol or 1e-5, msg or "value")
  if e then error(e, 2) end
end

-- Calls fn(...) and checks that it raises an error whose message contains each of the
-- plain-text fragments; returns the message.
function M.raises(fragments, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error, got none", 2) end
  err = tostring(err)
  if type(fragments) == "string" then fragments = { fragments } end
  for _, f in ipairs(fragments) do
    if not err:find(f, 1, true) then
      error("error message lacks '" .. f .. "': " .. err, 2)
    end
  end
  return err
end

-- A planted dataset generated with settings into a throwaway cache folder (the shared cache
-- is left alone, and a test's unusual settings leave nothing behind).
-- Every parameter of a store as one string (names and raw bytes): equal strings, equal bits.
function M.params_bytes(P)
  local ffi = require "ffi"
  local parts = {}
  for name, t in P:iter() do parts[#parts + 1] = name .. ":" .. ffi.string(t:data(), t:numel() * 4) end
  return table.concat(parts, "|")
end

function M.planted(settings)
  local data = require("sprint").data
  local saved = data.cache_dir
  local dir = os.tmpname()
  os.remove(dir)
  data.cache_dir = function() return dir end
  local ok, ds = pcall(data.load, "planted", settings)
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(ds, 2) end
  return ds
end

return M
