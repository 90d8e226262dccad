-- ablation.lua — the paper's Table 5 for one dataset and backbone: every row is a setting of the
-- same Stage 2 code, trained over the same seeds against the same backbone rows and Stage 1:
--   (A) the backbone alone
--   (B) + LLM intents: one prompt per hard session (recipes/prompts/direct.txt), its intents
--       taken as given, no pool in the prompt, no P&C (so no hard negatives), no enrichment
--   (C) + GIP and P&C: Stage 1's accepted intents as labels, no enrichment (enrich=none)
--   (D) + self-enrichment: labels refreshed from each session's own prediction (enrich=self)
--   (E) + neighbour-enrichment: from its neighbours' only (enrich=neighbours)
--   SPRINT: both (Eq. 14, the default)
-- (B) and (C) differ in how the intents were made and in P&C's hard negatives, as in the paper.
--   build/sprint run recipes/ablation.lua --set dataset=beauty --set backbone=sasrec
-- It shares recipes/sprint.lua's run directory (run_dir, dataset, backbone, protocol): the
-- backbone rows, Stage 1 and the full SPRINT rows that recipe trained are reused, and each row
-- is the SPRINT variant of that name (sprint-enrich=none/, ...). Any other Stage 2 setting
-- given explicitly applies to every row. Writes ablation.{md,csv,json} (ablation-<variant>.*).
local sprint = require "sprint"
local intents = require "sprint.intents"
local stage2 = intents.stage2

local defaults, spec = stage2.recipe_settings()
local cfg = sprint.config(defaults, { spec = spec })
local proto = sprint.protocol.apply(cfg)
sprint.set_num_threads(cfg.threads)
local ds = stage2.load_data(cfg)
print(string.format("sprint %s | %s: %d sessions, %d items | %s, ablation (Table 5) | blas: %s", sprint.version(),
  cfg.dataset, ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))
print(proto.summary)

local ROWS = {
  { name = "(B) + LLM intents (no pool, no P&C)", set = { enrich = "none" }, stage1 = "direct" },
  { name = "(C) + GIP and P&C", set = { enrich = "none" } },
  { name = "(D) + self-enrichment", set = { enrich = "self" } },
  { name = "(E) + neighbour-enrichment", set = { enrich = "neighbours" } },
  { name = "SPRINT", set = { enrich = "both" } },
}

local dir = stage2.run_dir(cfg, proto)
local common = stage2.variant(cfg)
intents.files.mkdir(dir)
intents.files.write_atomic(dir .. "/config-ablation" .. (common and ("-" .. common) or "") .. ".lua",
  sprint.config.dump(cfg) .. "\n")
local name = ({ sasrec = "SASRec", bert4rec = "BERT4Rec", gru4rec = "GRU4Rec" })[cfg.backbone]
stage2.run_rows {
  cfg = cfg, proto = proto, ds = ds, dir = dir, rows = ROWS, name = "ablation" .. (common and ("-" .. common) or ""),
  title = string.format("%s, %s: ablation (Table 5; test split, full ranking, %s ties; %s%s)", cfg.dataset, name,
    cfg.ties, proto.summary, common and ("; every row with " .. common) or ""),
}
