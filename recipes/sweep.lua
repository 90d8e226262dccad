-- sweep.lua — the paper's Figure 6 for one dataset and backbone: SPRINT over the loss weights
-- lambda_intent x lambda_ortho (Eq. 17; the paper's grid {1e-4, 1e-3, 1e-2} and 0, which its
-- text discusses: "setting either weight to 0.0 leads to degraded performance") and over K, the
-- neighbour sessions of collaborative enrichment (K = 0: no neighbours, each session keeps its
-- own prediction). Every point is a SPRINT variant on the default Stage 1 (the LLM stage runs
-- once), against the same backbone rows; the point at the defaults is recipes/sprint.lua's own.
--   build/sprint run recipes/sweep.lua --set dataset=beauty --set jobs=2
--   build/sprint run recipes/sweep.lua --set part=k --set k_values=0,5,25
-- Writes sweep.{md,csv,json}, sweep-lambda.svg (a heat map of NDCG@10) and sweep-k.svg (a line).
local stage2 = require("sprint.intents").stage2

local cfg, proto, ds = stage2.open_recipe("loss weights and neighbours (Figure 6)",
  { lambdas = { 0, 1e-4, 1e-3, 1e-2 }, k_values = { 0, 5, 10, 15, 20, 25 }, part = "both" },
  { lambdas = "number>=0", k_values = "int>=0", part = { "both", "lambda", "k" } })

local rows, info = {}, {}
if cfg.part ~= "k" then
  info.lambda = { intent = cfg.lambdas, ortho = cfg.lambdas, rows = {} }
  for i, li in ipairs(cfg.lambdas) do
    info.lambda.rows[i] = {}
    for j, lo in ipairs(cfg.lambdas) do
      local name = string.format("lambda_intent = %g, lambda_ortho = %g", li, lo)
      rows[#rows + 1] = { name = name, set = { lambda_intent = li, lambda_ortho = lo } }
      info.lambda.rows[i][j] = name
    end
  end
end
if cfg.part ~= "lambda" then
  info.k = { values = cfg.k_values, rows = {} }
  for i, k in ipairs(cfg.k_values) do
    local name = string.format("K = %d", k)
    rows[#rows + 1] = { name = name, set = { k = k } }
    info.k.rows[i] = name
  end
end
info.caption = stage2.caption(cfg, proto, "SPRINT's NDCG@10 over the loss weights of Eq. 17 and the neighbour "
  .. "sessions K of enrichment, every other setting at its default (lambda_intent " .. cfg.lambda_intent
  .. ", lambda_ortho " .. cfg.lambda_ortho .. ", K " .. cfg.k .. ")")
stage2.rows_recipe(cfg, proto, ds, { name = "sweep", baseline = "Backbone", rows = rows, figure = "sweep",
  figure_info = info, what = "loss weights and neighbours (Figure 6)" })
