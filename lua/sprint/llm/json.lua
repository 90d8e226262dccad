-- llm/json.lua — JSON for the LLM client: a canonical encoder (sorted keys, fixed number
-- format: the same value always gives the same bytes, which is what the cache key hashes),
-- the tolerant extractor that finds the JSON in a model's answer (bare, in a code fence, or
-- inside prose), and a check of a decoded value against the JSON-schema subset we use.
local cjson = require "cjson.safe"

local M = {}
M.null = cjson.null

local array_mt = { __name = "json array" }
-- Marks t as a JSON array (needed for an empty one, which would otherwise be an object).
function M.array(t) return setmetatable(t or {}, array_mt) end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local floor, format, concat, sort = math.floor, string.format, table.concat, table.sort
local encode_string = cjson.encode

local function enc(v, out, depth)
  local ty = type(v)
  if ty == "string" then
    out[#out + 1] = encode_string(v)
  elseif ty == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode " .. tostring(v), 0) end
    if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
      out[#out + 1] = format("%d", v)
    else
      out[#out + 1] = format("%.17g", v)
    end
  elseif ty == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == cjson.null then
    out[#out + 1] = "null"
  elseif ty == "table" then
    if depth > 64 then error("json: nesting deeper than 64 (a cycle?)", 0) end
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        enc(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("json: object keys must be strings, got " .. type(k), 0) end
        keys[#keys + 1] = k
      end
      sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ":"
        enc(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    error("json: cannot encode a " .. ty, 0)
  end
end

-- The canonical JSON text of v.
function M.encode(v)
  local out = {}
  enc(v, out, 0)
  return concat(out)
end

function M.decode(text)
  return cjson.decode(text)
end

-- ---- the tolerant extractor -----------------------------------------------------------------

-- The end (index of the closing bracket) of the JSON value opening at position i of s, by
-- bracket counting outside strings; nil when it never closes.
local function match_close(s, i)
  local depth, in_str, esc = 0, false, false
  for j = i, #s do
    local c = s:byte(j)
    if in_str then
      if esc then esc = false
      elseif c == 92 then esc = true
      elseif c == 34 then in_str = false end
    elseif c == 34 then in_str = true
    elseif c == 123 or c == 91 then depth = depth + 1
    elseif c == 125 or c == 93 then
      depth = depth - 1
      if depth == 0 then return j end
    end
  end
  return nil
end

-- Repairs models commonly need: typographic quotes, trailing commas.
local function repaired(s)
  s = s:gsub("\226\128\156", '"'):gsub("\226\128\157", '"')
  s = s:gsub(",%s*([}%]])", "%1")
  return s
end

local function try_decode(s)
  local v = cjson.decode(s)
  if type(v) == "table" then return v end
  v = cjson.decode(repaired(s))
  if type(v) == "table" then return v end
  return nil
end

-- The JSON object or array in a model's answer: the whole text, else a fenced block, else the
-- first balanced {...} or [...] that decodes. Returns value, or nil and why.
function M.extract(text)
  if type(text) ~= "string" then return nil, "the answer has no text" end
  local trimmed = text:match("^%s*(.-)%s*$")
  if trimmed == "" then return nil, "the answer is empty" end
  local v = try_decode(trimmed)
  if v then return v end
  for block in text:gmatch("```[%w_-]*%s*\n?(.-)```") do
    v = try_decode(block)
    if v then return v end
  end
  local tries, pos = 0, 1
  while tries < 50 do
    local i = text:find("[{%[]", pos)
    if not i then break end
    local j = match_close(text, i)
    if j then
      v = try_decode(text:sub(i, j))
      if v then return v end
    end
    pos, tries = i + 1, tries + 1
  end
  local excerpt = trimmed:sub(1, 80):gsub("%s+", " ")
  return nil, "no JSON object in the answer (it begins: " .. excerpt .. (#trimmed > 80 and "..." or "") .. ")"
end

-- ---- the schema check: type, properties, required, items, enum, min/maxItems, minLength -----

local function type_ok(v, ty)
  if ty == "object" then return type(v) == "table" and not (next(v) ~= nil and is_array(v))
  elseif ty == "array" then return type(v) == "table" and (next(v) == nil or is_array(v))
  elseif ty == "string" then return type(v) == "string"
  elseif ty == "number" then return type(v) == "number"
  elseif ty == "integer" then return type(v) == "number" and v == floor(v)
  elseif ty == "boolean" then return type(v) == "boolean"
  elseif ty == "null" then return v == cjson.null end
  return true
end

local function check(v, s, path)
  if type(s) ~= "table" then return true end
  local ty = s.type
  if ty then
    local ok = false
    if type(ty) == "table" then
      for _, t in ipairs(ty) do if type_ok(v, t) then ok = true end end
      ty = table.concat(ty, " or ")
    else
      ok = type_ok(v, ty)
    end
    if not ok then
      local got = v == cjson.null and "null" or type(v) == "table" and (is_array(v) and "array" or "object") or type(v)
      return false, path .. ": expected " .. ty .. ", got " .. got
    end
  end
  if s.enum then
    local hit = false
    for _, e in ipairs(s.enum) do if e == v then hit = true end end
    if not hit then return false, path .. ": " .. tostring(v) .. " is not one of the allowed values" end
  end
  if type(v) == "string" and s.minLength and #v < s.minLength then
    return false, path .. ": shorter than " .. s.minLength .. " characters"
  end
  if type(v) == "table" then
    if s.properties or s.required then
      for _, k in ipairs(s.required or {}) do
        if v[k] == nil or v[k] == cjson.null then return false, path .. ": missing '" .. k .. "'" end
      end
      for k, sub in pairs(s.properties or {}) do
        if v[k] ~= nil and v[k] ~= cjson.null then
          local ok, err = check(v[k], sub, path .. "." .. k)
          if not ok then return false, err end
        end
      end
    end
    if s.items then
      if s.minItems and #v < s.minItems then return false, path .. ": fewer than " .. s.minItems .. " items" end
      if s.maxItems and #v > s.maxItems then return false, path .. ": more than " .. s.maxItems .. " items" end
      for i = 1, #v do
        local ok, err = check(v[i], s.items, path .. "[" .. i .. "]")
        if not ok then return false, err end
      end
    end
  end
  return true
end

-- true, or false and "$.field: expected string, got number".
function M.validate(v, schema) return check(v, schema, "$") end

return M
