-- intents/templates.lua — Stage 1's prompt templates as one checked set: loaded once from a
-- folder (recipes/prompts by default, `--set prompts=DIR` for another version), each checked
-- for the placeholders it must have and may have before any call is made, hashed for the
-- report, and rendered into chat messages (sprint.llm.prompt). A prompt engineer edits the
-- files; a template that lost {{candidates}} or gained {{candidate}} is an error naming the
-- file, not a silent prompt the model cannot answer.
local prompt = require "sprint.llm.prompt"
local store = require "sprint.llm.store"
local files = require "sprint.files"

local M = {}

-- name -> { required placeholders, optional placeholders, optional_file: a prompts folder may
-- lack it (only the ablation's single-prompt mode uses it; asking for it then is the error) }
M.SPEC = {
  direct = { required = { "domain", "session_items" }, optional = {}, optional_file = true },
  gip_init = { required = { "domain" }, optional = { "max_intents" } },
  pc = { required = { "domain", "session_items", "candidates", "intent_pool" }, optional = {} },
  feedback = { required = { "prediction" }, optional = { "intents" } },
  feedback_invalid = { required = { "problem" }, optional = { "prediction", "intents" } },
}

local Set = {}
Set.__index = Set

-- The placeholders a template text uses, as a set.
local function placeholders(text)
  local used = {}
  for name in text:gmatch("{{%s*([%w_]+)%s*}}") do used[name] = true end
  return used
end

-- Checks one template's text against its spec; raises naming the file.
local function check(name, text, path)
  local spec = M.SPEC[name]
  local used = placeholders(text)
  local allowed = {}
  for _, p in ipairs(spec.required) do
    allowed[p] = true
    if not used[p] then
      error(string.format("prompt template %s: the placeholder {{%s}} is missing (the %s prompt must have %s)",
        path, p, name, "{{" .. table.concat(spec.required, "}}, {{") .. "}}"), 0)
    end
  end
  for _, p in ipairs(spec.optional) do allowed[p] = true end
  local unknown = {}
  for p in pairs(used) do if not allowed[p] then unknown[#unknown + 1] = p end end
  if #unknown > 0 then
    table.sort(unknown)
    local known = {}
    for p in pairs(allowed) do known[#known + 1] = p end
    table.sort(known)
    error(string.format("prompt template %s: unknown placeholder {{%s}} (the %s prompt knows %s)", path,
      table.concat(unknown, "}}, {{"), name, "{{" .. table.concat(known, "}}, {{") .. "}}"), 0)
  end
end

-- M.load(dir): every template of SPEC from dir (nil: the default prompt folders), checked.
function M.load(dir)
  local self = setmetatable({ dir = dir, text = {}, path = {}, sha256 = {} }, Set)
  for name in pairs(M.SPEC) do
    local text, path
    if dir and dir ~= "" then
      path = dir .. "/" .. name .. ".txt"
      text = files.read(path)
      if not text and not M.SPEC[name].optional_file then error("prompt template " .. path .. ": no such file (the "
        .. "prompts folder must hold gip_init.txt, pc.txt, feedback.txt and feedback_invalid.txt)", 0) end
    else
      text, path = prompt.load(name)
    end
    if text then
      check(name, text, path)
      self.text[name], self.path[name], self.sha256[name] = text, path, store.sha256(text)
    end
  end
  return self
end

-- Chat messages of template name filled with vars.
function Set:messages(name, vars)
  local text = self.text[name]
  if not text then
    error("templates: no template '" .. tostring(name) .. "'" .. (self.dir and (" in " .. self.dir) or ""), 2)
  end
  return prompt.messages(prompt.render(text, vars, self.path[name]))
end

-- { name = {path, sha256} } for reports.
function Set:describe()
  local out = {}
  for name in pairs(M.SPEC) do
    if self.text[name] then out[name] = { path = self.path[name], sha256 = self.sha256[name] } end
  end
  return out
end

return M
