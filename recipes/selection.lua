-- selection.lua — the paper's Figure 4 for one dataset and backbone: SPRINT with Stage 1 run on
-- hard sessions chosen four ways, every other setting the same: uncertainty (RRF of H_sess and
-- H_pred, the default), random, H_sess only and H_pred only (r = hard_ratio of the training
-- sessions each). Each strategy has its own Stage 1 (stage1-selection=.../) and SPRINT variant;
-- the backbone rows and the default Stage 1 are shared with recipes/sprint.lua's run directory.
--   build/sprint run recipes/selection.lua --set dataset=beauty --set backbone=sasrec
-- Writes selection.{md,csv,json} and selection-stage1.json (per strategy its hard sessions,
-- labelled sessions, pool and LLM calls). The figure itself is not drawn yet.
local sprint = require "sprint"
local intents = require "sprint.intents"
local stage2 = intents.stage2

local defaults, spec = stage2.recipe_settings()
local cfg = sprint.config(defaults, { spec = spec })
local proto = sprint.protocol.apply(cfg)
sprint.set_num_threads(cfg.threads)
local ds = stage2.load_data(cfg)
print(string.format("sprint %s | %s: %d sessions, %d items | %s, hard-session selection (Figure 4) | blas: %s",
  sprint.version(), cfg.dataset, ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))
print(proto.summary)

local ROWS = {
  { name = "SPRINT, uncertainty (RRF)", set = { selection = "uncertainty" } },
  { name = "SPRINT, random", set = { selection = "random" } },
  { name = "SPRINT, H_sess only", set = { selection = "h_sess" } },
  { name = "SPRINT, H_pred only", set = { selection = "h_pred" } },
}

local dir = stage2.run_dir(cfg, proto)
local common = stage2.variant(cfg)
intents.files.mkdir(dir)
intents.files.write_atomic(dir .. "/config-selection" .. (common and ("-" .. common) or "") .. ".lua",
  sprint.config.dump(cfg) .. "\n")
local name = ({ sasrec = "SASRec", bert4rec = "BERT4Rec", gru4rec = "GRU4Rec" })[cfg.backbone]
stage2.run_rows {
  cfg = cfg, proto = proto, ds = ds, dir = dir, rows = ROWS, baseline = "Backbone",
  name = "selection" .. (common and ("-" .. common) or ""),
  title = string.format("%s, %s: hard-session selection (Figure 4; r = %g; test split, full ranking, %s ties; %s%s)",
    cfg.dataset, name, cfg.hard_ratio, cfg.ties, proto.summary, common and ("; every row with " .. common) or ""),
}
