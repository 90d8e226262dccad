-- protocol.lua — named experimental protocols: presets of existing settings that decide what a
-- result can be compared with. "default" is sprint's own; "paper" is our best reading of how the
-- SPRINT paper's backbone rows were made (its numbers sit far below ours under the default).
-- A recipe lists `protocol` and the preset's settings among its own and calls apply on its
-- config; a setting given explicitly (--set or a config file) wins over the preset and is named.
--   local cfg = sprint.config { protocol = "default", tie_order = "input", prefix_augment = true,
--                               filter_unseen_eval = true, ... }
--   local p = sprint.protocol.apply(cfg)   -- p.name, p.settings, p.explicit, p.summary
local config = require "sprint.config"

local M = {}

-- The settings every preset fixes, in print order:
--   tie_order           order of same-time events in the data (Beauty's reviews have day
--                       resolution; the upstream file order carries signal): input | shuffle
--   prefix_augment      training examples: every prefix of a session (true) or one per session
--   filter_unseen_eval  items never seen in training removed from valid/test sessions (true) or
--                       kept (false: they count as misses a model cannot avoid)
M.KEYS = { "tie_order", "prefix_augment", "filter_unseen_eval" }

M.presets = {
  default = {
    about = "sprint's default: upstream event order, every prefix trains, unseen test items removed",
    settings = { tie_order = "input", prefix_augment = true, filter_unseen_eval = true },
  },
  paper = {
    about = "the paper's presumed protocol: within-day order shuffled, one example per session, "
      .. "unseen test items kept",
    settings = { tie_order = "shuffle", prefix_augment = false, filter_unseen_eval = false },
  },
}

local function names()
  local out = {}
  for k in pairs(M.presets) do out[#out + 1] = k end
  table.sort(out)
  return table.concat(out, ", ")
end

-- Applies cfg.protocol's preset to cfg (a table made by sprint.config that has `protocol` and
-- every key of M.KEYS). Settings whose origin is not "default" are left as given. Returns
-- { name, settings = {key = value as used}, explicit = {key, ...}, summary = "one line" }.
function M.apply(cfg)
  local name = cfg.protocol
  local preset = M.presets[name]
  if not preset then
    error("sprint.protocol: unknown protocol '" .. tostring(name) .. "'; known: " .. names(), 2)
  end
  local used, explicit, parts = {}, {}, {}
  for _, k in ipairs(M.KEYS) do
    if cfg[k] == nil then error("sprint.protocol: the config has no setting '" .. k .. "'", 2) end
    local origin = config.origin(cfg, k)
    if origin == "default" then
      config.set(cfg, k, preset.settings[k], "protocol=" .. name)
    else
      explicit[#explicit + 1] = k
    end
    used[k] = cfg[k]
    local note = origin ~= "default" and cfg[k] ~= preset.settings[k] and " (" .. origin .. ")" or ""
    parts[#parts + 1] = k .. "=" .. tostring(cfg[k]) .. note
  end
  return { name = name, settings = used, explicit = explicit, about = preset.about,
           summary = "protocol " .. name .. ": " .. table.concat(parts, ", ") }
end

return M
