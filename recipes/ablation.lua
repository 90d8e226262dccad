-- ablation.lua — the paper's Table 5 for one dataset and backbone: every row is a setting of the
-- same Stage 2 code, trained over the same seeds against the same backbone rows:
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
-- is the SPRINT variant of that name (sprint-enrich=none/, ...). Any other Stage 1 or Stage 2
-- setting given explicitly applies to every row. Writes ablation.{md,csv,json}.
local stage2 = require("sprint.intents").stage2

local cfg, proto, ds = stage2.open_recipe("ablation (Table 5)")
stage2.rows_recipe(cfg, proto, ds, { name = "ablation", what = "ablation (Table 5)", figure = "ablation",
  figure_info = { caption = stage2.caption(cfg, proto, "The ablation's rows, each a setting of the same code; error bars "
    .. "± std") }, rows = {
  { name = "(B) + LLM intents (no pool, no P&C)", set = { enrich = "none" }, stage1 = "direct" },
  { name = "(C) + GIP and P&C", set = { enrich = "none" } },
  { name = "(D) + self-enrichment", set = { enrich = "self" } },
  { name = "(E) + neighbour-enrichment", set = { enrich = "neighbours" } },
  { name = "SPRINT", set = { enrich = "both" } },
} })
