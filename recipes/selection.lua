-- selection.lua — the paper's Figure 4 for one dataset and backbone: SPRINT with Stage 1 run on
-- hard sessions chosen four ways, every other setting the same: uncertainty (RRF of H_sess and
-- H_pred, the default), random, H_sess only and H_pred only (r = hard_ratio of the training
-- sessions each). Each strategy has its own Stage 1 (stage1-selection=.../) and SPRINT variant;
-- the backbone rows and the default Stage 1 are shared with recipes/sprint.lua's run directory.
--   build/sprint run recipes/selection.lua --set dataset=beauty --set backbone=sasrec
-- Writes selection.{md,csv,json} and selection-stage1.json (per strategy its hard sessions,
-- labelled sessions, pool and LLM calls) and selection.svg (grouped bars, ± std).
local stage2 = require("sprint.intents").stage2

local cfg, proto, ds = stage2.open_recipe("hard-session selection (Figure 4)")
stage2.rows_recipe(cfg, proto, ds, { name = "selection", baseline = "Backbone", figure = "selection",
  figure_info = { caption = stage2.caption(cfg, proto, string.format("SPRINT with Stage 1 on r = %g %% of the training "
    .. "sessions chosen four ways, beside the backbone; error bars ± std", 100 * cfg.hard_ratio)) },
  what = string.format("hard-session selection (Figure 4; r = %g)", cfg.hard_ratio), rows = {
    { name = "SPRINT, uncertainty (RRF)", set = { selection = "uncertainty" } },
    { name = "SPRINT, random", set = { selection = "random" } },
    { name = "SPRINT, H_sess only", set = { selection = "h_sess" } },
    { name = "SPRINT, H_pred only", set = { selection = "h_pred" } },
  } })
