-- spec.lua — what a setting may hold, and the check sprint.config runs on every value. A spec is
--   "int", "int>=1", "number>0", "number in [0, 1)", "int in [1, 64]"  (numbers always finite)
--   { "pessimistic", "optimistic", "average" }                          (the allowed values)
--   function(value, cfg) -> true | false, "what is allowed"            (sees the merged settings)
-- A spec for a list setting (e.g. ks = {5, 10, 20}) applies to each element.
local M = {}

local function num(s)
  local n = tonumber(s)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

-- "int>=1" -> { kind = "int", lo = 1, lo_open = false }; nil and a reason for bad text.
local function parse(text)
  local kind, rest = text:match("^%s*(%a+)%s*(.-)%s*$")
  if kind ~= "int" and kind ~= "number" then return nil, "a spec starts with int or number" end
  local r = { kind = kind }
  if rest == "" then return r end
  local op, bound = rest:match("^([<>]=?)%s*(%S+)$")
  if op then
    local b = num(bound)
    if not b then return nil, "bad bound '" .. bound .. "'" end
    if op:sub(1, 1) == ">" then r.lo, r.lo_open = b, op == ">" else r.hi, r.hi_open = b, op == "<" end
    return r
  end
  local open, lo, hi, close = rest:match("^in%s*([%[%(])%s*([^,%s]+)%s*,%s*([^%]%)%s]+)%s*([%]%)])$")
  if not open then return nil, "expected >=x, >x, <=x, <x or in [a, b] / (a, b) / [a, b) / (a, b]" end
  r.lo, r.hi = num(lo), num(hi)
  if not r.lo or not r.hi then return nil, "bad interval bounds" end
  r.lo_open, r.hi_open = open == "(", close == ")"
  return r
end

local parsed = {}
local function compiled(text)
  local r = parsed[text]
  if r then return r end
  local err
  r, err = parse(text)
  if not r then return nil, err end
  parsed[text] = r
  return r
end

local function fmt(n) return n % 1 == 0 and string.format("%d", n) or tostring(n) end

-- Words for what a spec allows: "an integer >= 1", "a number in [0, 1)", "one of a, b".
function M.describe(spec)
  if type(spec) == "table" then
    local names = {}
    for i, c in ipairs(spec) do names[i] = type(c) == "string" and string.format("%q", c) or tostring(c) end
    return "one of " .. table.concat(names, ", ")
  elseif type(spec) == "function" then
    return "a value the recipe's check accepts"
  end
  local r = compiled(spec)
  if not r then return "?" end
  local what = r.kind == "int" and "an integer" or "a finite number"
  if r.lo and r.hi then
    return string.format("%s in %s%s, %s%s", what, r.lo_open and "(" or "[", fmt(r.lo), fmt(r.hi), r.hi_open and ")" or "]")
  elseif r.lo then
    return string.format("%s %s %s", what, r.lo_open and ">" or ">=", fmt(r.lo))
  elseif r.hi then
    return string.format("%s %s %s", what, r.hi_open and "<" or "<=", fmt(r.hi))
  end
  return what
end

-- The Lua type a spec's values have ("number", "string", ...), or nil for a function.
function M.value_type(spec)
  if type(spec) == "string" then return "number" end
  if type(spec) == "table" then return type(spec[1]) end
  return nil
end

-- Nil when spec is well formed, else why not.
function M.malformed(spec)
  local t = type(spec)
  if t == "function" then return nil end
  if t == "string" then
    local _, err = compiled(spec)
    return err
  end
  if t == "table" then
    if #spec == 0 then return "an empty list of choices" end
    for _, c in ipairs(spec) do
      if type(c) ~= type(spec[1]) then return "choices of mixed types" end
    end
    return nil
  end
  return "a spec is a string such as \"int>=1\", a list of choices or a function, not a " .. t
end

-- Checks one (scalar) value: true, or false and what is allowed.
local function check_one(spec, v, cfg)
  local t = type(spec)
  if t == "function" then
    local ok, allowed = spec(v, cfg)
    if ok then return true end
    return false, allowed or M.describe(spec)
  elseif t == "table" then
    for _, c in ipairs(spec) do
      if v == c then return true end
    end
    return false, M.describe(spec)
  end
  local r = compiled(spec)
  local ok = type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
  ok = ok and (r.kind ~= "int" or v % 1 == 0)
  ok = ok and (not r.lo or (r.lo_open and v > r.lo) or (not r.lo_open and v >= r.lo))
  ok = ok and (not r.hi or (r.hi_open and v < r.hi) or (not r.hi_open and v <= r.hi))
  if ok then return true end
  return false, M.describe(spec)
end

-- check(spec, value, cfg) -> true, or false, the offending element's index (lists) or nil, and
-- what is allowed. A list value is checked element by element (a function spec sees the list).
function M.check(spec, v, cfg)
  if type(v) == "table" and type(spec) ~= "function" then
    for i, x in ipairs(v) do
      local ok, allowed = check_one(spec, x, cfg)
      if not ok then return false, i, allowed end
    end
    return true
  end
  local ok, allowed = check_one(spec, v, cfg)
  if ok then return true end
  return false, nil, allowed
end

-- An argument check for library functions: v must be an integer >= min; the error names the
-- function (what) and the argument, at the level of whoever called that function.
function M.int_at_least(v, name, what, min)
  if type(v) ~= "number" or v % 1 ~= 0 or v < min then
    error(what .. ": '" .. name .. "' must be an integer >= " .. min .. ", got " .. tostring(v), 3)
  end
  return v
end

return M
