-- llm/prompt.lua — prompt templates as plain files (recipes/prompts/*.txt): load, fill the
-- {{name}} placeholders, split into chat messages. Every placeholder expands to a tagged block,
-- <name>value</name>, lists one entry per line inside it, so a prompt engineer may reword
-- everything around a placeholder while the structure of what the model sees stays fixed
-- (the offline stand-in reads exactly those blocks). Optional "### system" / "### user" lines
-- split a template into messages; without them the whole text is one user message.
local M = {}

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Where templates are looked up when a bare name is given: $SPRINT_PROMPTS, then the
-- source tree's recipes/prompts.
local function prompt_dirs()
  local dirs = {}
  if os.getenv("SPRINT_PROMPTS") then dirs[#dirs + 1] = os.getenv("SPRINT_PROMPTS") end
  local cli = rawget(_G, "SPRINT_CLI")
  if cli and cli.source_dir then dirs[#dirs + 1] = cli.source_dir .. "/recipes/prompts" end
  local src = debug.getinfo(1, "S").source
  local here = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$")
  if here then dirs[#dirs + 1] = here .. "/../../../recipes/prompts" end
  dirs[#dirs + 1] = "recipes/prompts"
  return dirs
end

-- The text of template `name_or_path` ("pc", "pc.txt" or a path); errors name every place tried.
function M.load(name_or_path)
  local text = read(name_or_path)
  if text then return text, name_or_path end
  local tried = { name_or_path }
  local file = name_or_path:match("%.txt$") and name_or_path or name_or_path .. ".txt"
  for _, d in ipairs(prompt_dirs()) do
    local p = d .. "/" .. file
    text = read(p)
    if text then return text, p end
    tried[#tried + 1] = p
  end
  error("prompt: cannot find template '" .. name_or_path .. "' (tried " .. table.concat(tried, ", ") .. ")", 2)
end

local function one_line(s) return (tostring(s):gsub("[\r\n]+", " ")) end

local function categories_text(c)
  if type(c) == "string" then return c end
  if type(c) ~= "table" or #c == 0 then return nil end
  if type(c[1]) == "table" then
    local paths = {}
    for i, p in ipairs(c) do paths[i] = table.concat(p, " > ") end
    return table.concat(paths, "; ")
  end
  return table.concat(c, " > ")
end

-- One item as one line: "Title | brand: B | categories: a > b | extra text".
function M.item_text(item)
  if type(item) ~= "table" then return one_line(item) end
  local parts = { one_line(item.title or item.name or ("item " .. tostring(item.id or "?"))) }
  if item.brand and item.brand ~= "" then parts[#parts + 1] = "brand: " .. one_line(item.brand) end
  local cats = categories_text(item.categories)
  if cats and cats ~= "" then parts[#parts + 1] = "categories: " .. one_line(cats) end
  if item.text and item.text ~= "" then parts[#parts + 1] = one_line(item.text) end
  return table.concat(parts, " | ")
end

-- A value as the inside of its tagged block: scalars as text; a list of strings as "- x"
-- lines; a list of items as "[label] text" lines (label = item.label) or "n. text" lines.
local function block(value)
  local ty = type(value)
  if ty == "string" or ty == "number" or ty == "boolean" then return tostring(value), false end
  if ty ~= "table" then error("prompt: cannot render a " .. ty, 0) end
  local lines = {}
  for i, v in ipairs(value) do
    if type(v) == "table" then
      lines[i] = (v.label and ("[" .. v.label .. "] ") or (i .. ". ")) .. M.item_text(v)
    else
      lines[i] = "- " .. one_line(v)
    end
  end
  if #lines == 0 then lines[1] = "(none)" end
  return table.concat(lines, "\n"), true
end

-- The template with every {{name}} replaced by <name>value</name> (a list inside the tags on
-- lines of its own). A placeholder without a value is an error naming it.
function M.render(template, vars, what)
  vars = vars or {}
  return (template:gsub("{{%s*([%w_]+)%s*}}", function(name)
    local v = vars[name]
    if v == nil then
      error("prompt " .. (what or "") .. ": no value for {{" .. name .. "}}", 0)
    end
    local text, multiline = block(v)
    if multiline then return "<" .. name .. ">\n" .. text .. "\n</" .. name .. ">" end
    return "<" .. name .. ">" .. text .. "</" .. name .. ">"
  end))
end

-- Chat messages from a rendered text: "### system" and "### user" lines start messages.
function M.messages(text)
  local msgs = {}
  local role, buf = "user", {}
  local function flush()
    local content = table.concat(buf, "\n"):match("^%s*(.-)%s*$")
    if content ~= "" then msgs[#msgs + 1] = { role = role, content = content } end
    buf = {}
  end
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    local r = line:match("^###%s*(%a+)%s*$")
    if r == "system" or r == "user" or r == "assistant" then
      flush()
      role = r
    else
      buf[#buf + 1] = line
    end
  end
  flush()
  return msgs
end

-- load + render + messages in one call.
function M.build(name_or_path, vars)
  local text, path = M.load(name_or_path)
  return M.messages(M.render(text, vars, path))
end

-- The tagged blocks of a rendered text: { name = inside text } (the last one of each name).
function M.blocks(text)
  local t = {}
  for name, inside in text:gmatch("<([%w_]+)>(.-)</%1>") do t[name] = inside end
  return t
end

return M
