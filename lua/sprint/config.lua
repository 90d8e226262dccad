-- config.lua — typed, layered run settings: sprint.config(defaults) merges the recipe's
-- defaults < a config file (sprint run --config FILE.lua, a Lua file returning a table) <
-- --set key=value overrides, each coerced to its default's type, and remembers where every
-- value came from (sprint.config.origin, sprint.config.dump). Every value, from every layer, is
-- checked against its key's spec (lua/sprint/spec.lua): the recipe's own (opts.spec) or, for
-- the settings recipes share (batch_size, lr, ties, ...), the one in lua/sprint/settings.lua.
local spec_mod = require "sprint.spec"
local shared = require "sprint.settings"

local M = {}

local sorted_keys = require("sprint.lib").sorted_keys

local function unknown(key, source, defaults, level)
  error("sprint.config: unknown key '" .. tostring(key) .. "' (from " .. source .. "); known keys: "
    .. table.concat(sorted_keys(defaults), ", "), level + 1)
end

local function coerce_scalar(kind, s, key, source, level)
  if kind == "number" then
    local n = tonumber(s)
    if n == nil then error("sprint.config: " .. key .. "=" .. s .. " (from " .. source .. "): expected a number", level + 1) end
    return n
  elseif kind == "boolean" then
    if s == "true" then return true end
    if s == "false" then return false end
    error("sprint.config: " .. key .. "=" .. s .. " (from " .. source .. "): expected true or false", level + 1)
  elseif kind == "string" then
    return s
  end
  error("sprint.config: key '" .. key .. "' has a " .. kind .. " default, which cannot be set from text", level + 1)
end

-- Coerces value v (a string from the command line, or a typed value from a file or table) to
-- the type of default d.
local function coerce(d, v, key, source, level)
  local kind = type(d)
  if type(v) == kind and kind ~= "table" then return v end
  if kind == "table" then
    -- a list default: a comma-separated string, or a list, with elements typed like d[1]
    local ekind = d[1] ~= nil and type(d[1]) or "string"
    local items = {}
    if type(v) == "string" then
      for item in (v .. ","):gmatch("([^,]*),") do
        if item ~= "" then items[#items + 1] = item end
      end
    elseif type(v) == "table" then
      items = v
    else
      error("sprint.config: " .. key .. " (from " .. source .. "): expected a list, got " .. type(v), level + 1)
    end
    local r = {}
    for i, item in ipairs(items) do
      r[i] = type(item) == ekind and item or coerce_scalar(ekind, tostring(item), key, source, level + 1)
    end
    return r
  end
  if type(v) ~= "string" then
    error("sprint.config: " .. key .. " (from " .. source .. "): expected a " .. kind .. ", got " .. type(v), level + 1)
  end
  local r = coerce_scalar(kind, v, key, source, level + 1)
  return r
end

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for i, x in ipairs(v) do parts[i] = tostring(x) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- The spec each key is checked against: the recipe's (opts.spec; false turns a shared spec
-- off), else the shared one when the default has the type it is about.
local function resolve_specs(defaults, own, level)
  if own ~= nil and type(own) ~= "table" then error("sprint.config: opts.spec must be a table", level + 1) end
  local specs = {}
  for k, d in pairs(defaults) do
    local vtype = type(d) == "table" and (d[1] ~= nil and type(d[1]) or "string") or type(d)
    if own and own[k] ~= nil then
      local s = own[k]
      if s ~= false then
        local bad = spec_mod.malformed(s)
        if bad then error("sprint.config: spec for " .. k .. ": " .. bad, level + 1) end
        local want = spec_mod.value_type(s)
        if want and want ~= vtype then
          error(string.format("sprint.config: spec for %s (%s) is about %s values, but its default %s is a %s", k,
            spec_mod.describe(s), want, show(d), vtype), level + 1)
        end
        specs[k] = s
      end
    elseif shared.value_type(k) == vtype then
      specs[k] = shared.spec[k]
    end
  end
  for k in pairs(own or {}) do
    if defaults[k] == nil then unknown(k, "opts.spec", defaults, level + 1) end
  end
  return specs
end

-- Raises the error for key's value v (from source) unless its spec allows it; function specs
-- wait for the merged settings (cfg given).
local function check(specs, key, v, source, cfg, level)
  local s = specs[key]
  if s == nil or (type(s) == "function") ~= (cfg ~= nil) then return end
  local ok, index, allowed = spec_mod.check(s, v, cfg)
  if ok then return end
  local what = index and string.format(" (element %d, %s)", index, tostring(v[index])) or ""
  error(string.format("sprint.config: %s=%s (from %s)%s: expected %s", key, show(v), source, what, allowed),
    level + 1)
end

local function load_file(path, level)
  local chunk, err = loadfile(path)
  if not chunk then error("sprint.config: cannot load config file: " .. err, level + 1) end
  local ok, t = pcall(chunk)
  if not ok then error("sprint.config: config file " .. path .. " failed: " .. tostring(t), level + 1) end
  if type(t) ~= "table" then error("sprint.config: config file " .. path .. " must return a table", level + 1) end
  return t
end

-- sprint.config(defaults [, opts]): opts.set (default SPRINT_CLI.set) and opts.file (default
-- SPRINT_CLI.config_file) override the defaults; opts.spec = { key = spec | false } says what
-- a key may hold (see spec.lua), beside or instead of the shared spec of settings.lua.
-- Returns a plain table of the merged values.
-- (build is called, never tail-called, from both entry points: the user is at level 3.)
local function build(defaults, opts)
  if type(defaults) ~= "table" then error("sprint.config: defaults must be a table", 3) end
  opts = opts or {}
  local cli = rawget(_G, "SPRINT_CLI") or {}
  local set = opts.set
  if set == nil then set = cli.set or {} end
  local file = opts.file
  if file == nil then file = cli.config_file end

  local cfg, origin = {}, {}
  for k, v in pairs(defaults) do
    if type(k) ~= "string" then error("sprint.config: default keys must be strings", 3) end
    if type(v) == "table" then
      local copy = {}
      for i, x in ipairs(v) do copy[i] = x end
      v = copy
    end
    cfg[k], origin[k] = v, "default"
  end
  local specs = resolve_specs(defaults, opts.spec, 3)
  for _, k in ipairs(sorted_keys(cfg)) do check(specs, k, cfg[k], "default", nil, 3) end
  if file then
    local src = type(file) == "table" and "config table" or ("config file " .. tostring(file))
    local t = type(file) == "table" and file or load_file(file, 3)
    for _, k in ipairs(sorted_keys(t)) do
      local v = t[k]
      if defaults[k] == nil then unknown(k, src, defaults, 3) end
      cfg[k], origin[k] = coerce(defaults[k], v, k, src, 3), src
      check(specs, k, cfg[k], src, nil, 3)
    end
  end
  for _, k in ipairs(sorted_keys(set)) do
    if defaults[k] == nil then unknown(k, "--set", defaults, 3) end
    cfg[k], origin[k] = coerce(defaults[k], set[k], k, "--set", 3), "--set"
    check(specs, k, cfg[k], "--set", nil, 3)
  end
  for _, k in ipairs(sorted_keys(cfg)) do check(specs, k, cfg[k], origin[k], cfg, 3) end
  return setmetatable(cfg, { __sprint_config = { origin = origin, defaults = defaults },
                             __tostring = function(c) return M.dump(c) end })
end

local function info(cfg)
  local mt = getmetatable(cfg)
  local i = type(mt) == "table" and mt.__sprint_config
  if not i then error("sprint.config: not a table made by sprint.config", 3) end
  return i
end

-- Where cfg[key] came from: "default", "config file PATH" or "--set".
function M.origin(cfg, key) return info(cfg).origin[key] end

-- Text of the resolved settings, one "key = value  -- origin" line each, sorted by key; it
-- loads back as a Lua table (return {...}).
function M.dump(cfg)
  local origin = info(cfg).origin
  local lines = { "return {" }
  for _, k in ipairs(sorted_keys(cfg)) do
    local v = cfg[k]
    local text
    if type(v) == "string" then text = string.format("%q", v)
    elseif type(v) == "table" then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = type(x) == "string" and string.format("%q", x) or tostring(x) end
      text = "{" .. table.concat(parts, ", ") .. "}"
    else text = tostring(v) end
    lines[#lines + 1] = string.format("  %s = %s,  -- %s", k, text, origin[k] or "set by the recipe")
  end
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

-- Sets cfg[key] (a known key, coerced to its default's type) and records `origin` for it: for
-- code that derives settings after the merge, such as a protocol preset (sprint.protocol).
function M.set(cfg, key, value, origin)
  local i = info(cfg)
  if i.defaults[key] == nil then unknown(key, origin or "config.set", i.defaults, 2) end
  cfg[key], i.origin[key] = coerce(i.defaults[key], value, key, origin or "config.set", 2), origin or "config.set"
end

function M.new(defaults, opts)
  local cfg = build(defaults, opts)
  return cfg
end

return setmetatable(M, { __call = function(_, defaults, opts)
  local cfg = build(defaults, opts)
  return cfg
end })
