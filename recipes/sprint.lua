-- sprint.lua — the paper's main result (Table 2) for one dataset and backbone: Stage 1 once
-- (hard sessions, intent pool, predict-and-correct; or a finished Stage 1 reused), then over
-- every seed the backbone alone and SPRINT (the backbone with the intent predictor, Stage 2),
-- both ranked on the test split without any LLM; the Table-2 block (mean ± std, paired t-test
-- over the seeds) beside the paper's rows, as Markdown, CSV and JSON in the run directory.
--   build/sprint run recipes/sprint.lua --set dataset=beauty --set backbone=sasrec
--   build/sprint run recipes/sprint.lua --set backbone=bert4rec --set protocol=paper
--   build/sprint run recipes/sprint.lua --set stage1_dir=runs/intents/beauty-sasrec-uncertainty-r0.1/stage1
--   build/sprint run recipes/sprint.lua --set hard_neg=false   # a variant: same backbone rows and Stage 1
-- Every step resumes from its files: a rerun skips finished seeds and a killed one continues.
-- A variant (any Stage 2 setting given explicitly) shares the run's backbone rows and Stage 1;
-- its SPRINT runs and table go to sprint-<variant>/ and results-<variant>.{md,csv,json}.
-- Without an LLM endpoint, Stage 1's answers come from the offline stand-in (it says so).
local sprint = require "sprint"
local stage2 = require("sprint.intents").stage2

local cfg, proto, ds = stage2.open_recipe("Backbone and SPRINT (Table 2)")

local dir = stage2.run_dir(cfg, proto)
local variant = stage2.variant(cfg)
stage2.write_config(cfg, dir .. "/" .. (variant and ("config-" .. variant) or "config") .. ".lua")

-- Stage 1 (the only place an LLM is called), then the backbone and SPRINT for every seed
local paper = sprint.paper.table2(cfg.dataset, cfg.backbone)
local _, timing = stage2.run_rows {
  cfg = cfg, proto = proto, ds = ds, dir = dir, baseline = "Backbone", rows = { { name = "SPRINT", set = {} } },
  name = variant and ("results-" .. variant) or "results", timing_name = "timing" .. (variant and ("-" .. variant) or ""),
  title = string.format("%s, %s: Backbone and SPRINT (test split, full ranking, %s ties; %s%s)", cfg.dataset,
    stage2.DISPLAY[cfg.backbone], cfg.ties, proto.summary, variant and ("; SPRINT variant " .. variant) or ""),
  references = paper and function(rep)
    rep:reference("paper Backbone", paper.backbone, sprint.paper.SOURCE)
    rep:reference("paper SPRINT", paper.sprint, sprint.paper.SOURCE)
  end,
}
local function med(label, key) return stage2.median_time(timing, label, key) end
print(string.format("time (medians over seeds): epoch %.2f s backbone, %.2f s SPRINT (%.2fx); test ranking %.2f s "
  .. "backbone, %.2f s SPRINT (%.2fx)", med("Backbone", "epoch_seconds"), med("SPRINT", "epoch_seconds"),
  med("SPRINT", "epoch_seconds") / med("Backbone", "epoch_seconds"), med("Backbone", "test_seconds"),
  med("SPRINT", "test_seconds"), med("SPRINT", "test_seconds") / med("Backbone", "test_seconds")))
print(string.format("SPRINT runs in %s/%s", dir, variant and ("sprint-" .. variant) or "sprint"))
