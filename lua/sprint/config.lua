-- config.lua — typed, layered run settings: sprint.config(defaults) merges the recipe's
-- defaults < a config file (sprint run --config FILE.lua, a Lua file returning a table) <
-- --set key=value overrides, each coerced to its default's type, and remembers where every
-- value came from (sprint.config.origin, sprint.config.dump).
local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

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

local function load_file(path, level)
  local chunk, err = loadfile(path)
  if not chunk then error("sprint.config: cannot load config file: " .. err, level + 1) end
  local ok, t = pcall(chunk)
  if not ok then error("sprint.config: config file " .. path .. " failed: " .. tostring(t), level + 1) end
  if type(t) ~= "table" then error("sprint.config: config file " .. path .. " must return a table", level + 1) end
  return t
end

-- sprint.config(defaults [, opts]): opts.set (default SPRINT_CLI.set) and opts.file (default
-- SPRINT_CLI.config_file) override the defaults. Returns a plain table of the merged values.
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
  if file then
    local src = "config file " .. file
    local t = type(file) == "table" and file or load_file(file, 3)
    if type(file) == "table" then src = "config table" end
    for k, v in pairs(t) do
      if defaults[k] == nil then unknown(k, src, defaults, 3) end
      cfg[k], origin[k] = coerce(defaults[k], v, k, src, 3), src
    end
  end
  for _, k in ipairs(sorted_keys(set)) do
    if defaults[k] == nil then unknown(k, "--set", defaults, 3) end
    cfg[k], origin[k] = coerce(defaults[k], set[k], k, "--set", 3), "--set"
  end
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
