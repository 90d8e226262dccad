-- ratio.lua — the paper's Figure 5 for one dataset and backbone: SPRINT with LLM intent
-- supervision on r of the training sessions, r in ratios (0, 1, 5, 10, 20, 50, 100 %), the
-- hard sessions chosen by uncertainty; beside each point the LLM stage's calls and summed call
-- time (the ledger's). Each ratio has its own Stage 1 (stage1-hard_ratio=.../, the default 10 %
-- shares recipes/sprint.lua's) and SPRINT variant; the backbone rows are shared.
--   build/sprint run recipes/ratio.lua --set dataset=beauty --set backbone=sasrec
--   build/sprint run recipes/ratio.lua --set ratios=0,0.1,1
-- Writes ratio.{md,csv,json} and ratio-stage1.json. The figure itself is not drawn yet.
local sprint = require "sprint"
local intents = require "sprint.intents"
local stage2 = intents.stage2

local defaults, spec = stage2.recipe_settings { ratios = { 0, 0.01, 0.05, 0.10, 0.20, 0.50, 1.0 } }
spec.ratios = "number in [0, 1]"
local cfg = sprint.config(defaults, { spec = spec })
local proto = sprint.protocol.apply(cfg)
sprint.set_num_threads(cfg.threads)
local ds = stage2.load_data(cfg)
print(string.format("sprint %s | %s: %d sessions, %d items | %s, LLM supervision ratio (Figure 5) | blas: %s",
  sprint.version(), cfg.dataset, ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))
print(proto.summary)

local rows = {}
for _, r in ipairs(cfg.ratios) do
  rows[#rows + 1] = { name = string.format("SPRINT, r = %g %%", 100 * r), set = { hard_ratio = r } }
end

local dir = stage2.run_dir(cfg, proto)
local common = stage2.variant(cfg)
intents.files.mkdir(dir)
intents.files.write_atomic(dir .. "/config-ratio" .. (common and ("-" .. common) or "") .. ".lua",
  sprint.config.dump(cfg) .. "\n")
local name = ({ sasrec = "SASRec", bert4rec = "BERT4Rec", gru4rec = "GRU4Rec" })[cfg.backbone]
stage2.run_rows {
  cfg = cfg, proto = proto, ds = ds, dir = dir, rows = rows, baseline = "Backbone",
  name = "ratio" .. (common and ("-" .. common) or ""),
  title = string.format("%s, %s: LLM intent supervision ratio (Figure 5; test split, full ranking, %s ties; %s%s)",
    cfg.dataset, name, cfg.ties, proto.summary, common and ("; every row with " .. common) or ""),
}
