-- settings.lua — the settings many recipes share (batch_size, epochs, lr, ties, backbone, ...)
-- with what each may hold, so that sprint.config checks them in every recipe that has a key of
-- that name and type, before any work starts. The choices mirror what the library accepts
-- (tests/lua/test_config.lua holds them against sprint.eval, sprint.model and sprint.data).
local M = {}

local SPLITS = { "train", "valid", "test" }

-- A metric name eval.rank reports: HR@k, NDCG@k or MRR@k with k among the setting ks (or the
-- evaluator's default ks), or MRR.
local function metric(v, cfg)
  local ks = type(cfg.ks) == "table" and #cfg.ks > 0 and cfg.ks or require("sprint.eval").DEFAULT_KS
  local names = {}
  for _, k in ipairs(ks) do
    for _, m in ipairs({ "HR", "NDCG", "MRR" }) do
      local name = m .. "@" .. tostring(k)
      if v == name then return true end
      names[#names + 1] = name
    end
  end
  if v == "MRR" then return true end
  names[#names + 1] = "MRR"
  return false, "one of " .. table.concat(names, ", ") .. " (HR/NDCG/MRR at a k of ks)"
end

-- A dataset of datasets/registry.lua.
local function dataset(v)
  local ok, reg = pcall(require("sprint.data").registry)
  if not ok then return true end -- no registry to check against: sprint.data.load will say so
  if reg[v] then return true end
  local names = {}
  for name in pairs(reg) do names[#names + 1] = name end
  table.sort(names)
  return false, "a dataset of datasets/registry.lua: " .. table.concat(names, ", ")
end

M.spec = {
  -- sizes, counts and seeds
  batch_size = "int>=1", eval_batch_size = "int>=1", batch = "int>=1", max_len = "int>=1",
  dim = "int>=1", layers = "int>=1", heads = "int>=1", ffn_hidden = "int>=1",
  epochs = "int>=1", steps = "int>=0", seeds = "int>=1", seed = "int>=0",
  eval_every = "int>=1", log_every = "int>=1", patience = "int>=1",
  threads = "int>=0", -- 0: every core
  device = { "cpu", "cuda" }, -- sprint.set_device
  n_neg = "int>=0", n_uniform_neg = "int>=0", n_hard_neg = "int>=0", n_candidates = "int>=1",
  ks = "int>=1",
  -- optimisation
  lr = "number>0", l2 = "number>=0", weight_decay = "number>=0", clip_norm = "number>=0",
  dropout = "number in [0, 1)", mask_prob = "number in (0, 1]",
  -- choices
  backbone = { "sasrec", "bert4rec", "gru4rec" },
  loss = { "", "bce", "ce" }, -- "": the backbone's own (BCE; BERT4Rec's cloze softmax)
  ties = { "pessimistic", "optimistic", "average" },
  split = SPLITS, eval_split = SPLITS,
  tie_order = { "input", "shuffle", "reverse" },
  session_rule = { "day", "gap", "given" },
  metric = metric,
  dataset = dataset,
  -- dataset preparation (datasets/README.md)
  min_session_len = "int>=1", min_item_support = "int>=1", max_session_len = "int>=0",
  user_core = "int>=0", item_core = "int>=0", min_eval_len = "int>=1",
  gap_seconds = "number>0", valid_quantile = "number in [0, 1]", test_quantile = "number in [0, 1]",
}

-- The Lua type of the values a function spec above checks.
local FUNCTION_TYPES = { metric = "string", dataset = "string" }

-- The Lua type a key's values must have for its shared spec to apply (nil: no shared spec).
function M.value_type(key)
  local s = M.spec[key]
  if s == nil then return nil end
  if type(s) == "function" then return FUNCTION_TYPES[key] end
  if type(s) == "string" then return "number" end
  return type(s[1])
end

return M
