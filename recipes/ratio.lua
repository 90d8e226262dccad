-- ratio.lua — the paper's Figure 5 for one dataset and backbone: SPRINT with LLM intent
-- supervision on r of the training sessions, r in ratios (0, 1, 5, 10, 20, 50, 100 %), the
-- hard sessions chosen by uncertainty; beside each point the LLM stage's calls and summed call
-- time (the ledger's). Each ratio has its own Stage 1 (stage1-hard_ratio=.../, the default 10 %
-- shares recipes/sprint.lua's) and SPRINT variant; the backbone rows are shared.
--   build/sprint run recipes/ratio.lua --set dataset=beauty --set backbone=sasrec
--   build/sprint run recipes/ratio.lua --set ratios=0,0.1,1
-- Writes ratio.{md,csv,json}, ratio-stage1.json and ratio.svg (a line with a ± std band).
local stage2 = require("sprint.intents").stage2

local cfg, proto, ds = stage2.open_recipe("LLM intent supervision ratio (Figure 5)",
  { ratios = { 0, 0.01, 0.05, 0.10, 0.20, 0.50, 1.0 } }, { ratios = "number in [0, 1]" })
local rows = {}
for _, r in ipairs(cfg.ratios) do
  rows[#rows + 1] = { name = string.format("SPRINT, r = %g %%", 100 * r), set = { hard_ratio = r } }
end
stage2.rows_recipe(cfg, proto, ds, { name = "ratio", baseline = "Backbone", rows = rows, figure = "ratio",
  figure_info = { ratios = cfg.ratios, caption = stage2.caption(cfg, proto, "SPRINT's NDCG@10 against the share of "
    .. "training sessions whose intents come from the LLM stage; band ± std, dashed: the backbone; calls are the LLM "
    .. "stage's, from the ledger") },
  what = "LLM intent supervision ratio (Figure 5)" })
