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
local intents = require "sprint.intents"
local stage2 = intents.stage2
local clock = require "sprint.clock"

local defaults = {
  dataset = "beauty", backbone = "sasrec", seeds = 5, seed = 1, threads = 0,
  -- the backbone (the paper's settings; see recipes/backbone.lua)
  dim = 64, layers = 2, heads = 2, dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4, loss = "",
  batch_size = 256, n_neg = 1, mask_prob = 0.2, mask_last_prob = 1 / 11, output_head = true,
  epochs = 200, patience = 10, metric = "NDCG@10", eval_every = 1,
  ties = "pessimistic", mask_session_items = false,
  protocol = "default", tie_order = "input", prefix_augment = true, filter_unseen_eval = true,
  -- Stage 1 (recipes/intents.lua): reuse a finished one, or run it here with these settings
  stage1_dir = "", warmup_epochs = 30, selection = "uncertainty", hard_ratio = 0.10, rrf_k = 60,
  pred_over = "session", domain = "", candidates = 5, max_tries = 3, concurrency = 16, pool_cap = 1000,
  gip_max_intents = 40, prompts = "", batch = false, batch_results = "", progress = false, backbone_params = "",
  -- generator settings for dataset = planted ("" or 0: the registry's)
  planted_sessions = 0,
  run_dir = "runs/sprint", resume = true,
}
for k, v in pairs(stage2.DEFAULTS) do defaults[k] = v end
local spec = {
  warmup_epochs = "int>=1", selection = { "uncertainty", "random", "h_sess", "h_pred" },
  hard_ratio = "number in [0, 1]", rrf_k = "number>0", pred_over = { "session", "catalogue" },
  candidates = "int>=1", max_tries = "int>=1", concurrency = "int>=1", pool_cap = "int>=0",
  gip_max_intents = "int>=1", planted_sessions = "int>=0",
}
for k, v in pairs(stage2.SPEC) do spec[k] = v end
local cfg = sprint.config(defaults, { spec = spec })
local proto = sprint.protocol.apply(cfg)
sprint.set_num_threads(cfg.threads)

local ds = stage2.load_data(cfg)
print(string.format("sprint %s | %s: %d sessions, %d items | %s + SPRINT | blas: %s", sprint.version(), cfg.dataset,
  ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))
print(proto.summary)

local dir = string.format("%s/%s-%s%s", cfg.run_dir, cfg.dataset, cfg.backbone,
  proto.name ~= "default" and ("-" .. proto.name) or "")
intents.files.mkdir(dir)
-- the Stage 2 settings given explicitly name the variant
local changed = {}
for k in pairs(stage2.DEFAULTS) do
  if sprint.config.origin(cfg, k) ~= "default" then changed[#changed + 1] = k .. "=" .. tostring(cfg[k]) end
end
table.sort(changed)
local variant = #changed > 0 and table.concat(changed, ",") or nil
local sprint_dir = variant and ("sprint-" .. variant) or "sprint"
local results_name = variant and ("results-" .. variant) or "results"
intents.files.write_atomic(dir .. "/" .. (variant and ("config-" .. variant) or "config") .. ".lua",
  sprint.config.dump(cfg) .. "\n")

-- Stage 1: the LLM's intents for the hard sessions (the only place an LLM is called)
local loaded
if cfg.stage1_dir ~= "" then
  loaded = intents.load(cfg.stage1_dir)
  print(string.format("stage 1: reusing %s (pool of %d intents)", cfg.stage1_dir, loaded.pool:size()))
else
  loaded = intents.run_stage1(ds, cfg, dir .. "/stage1")
end
local n_labelled, n_neg = 0, 0
for _ in pairs(loaded.labels) do n_labelled = n_labelled + 1 end
for _ in pairs(loaded.hard_negatives) do n_neg = n_neg + 1 end
print(string.format("stage 2: %d intents, %d sessions with LLM intents, %d with hard negatives", loaded.pool:size(),
  n_labelled, n_neg))

-- Stage 2 and the backbone, seed by seed
local name = ({ sasrec = "SASRec", bert4rec = "BERT4Rec", gru4rec = "GRU4Rec" })[cfg.backbone]
local rep = sprint.report.new { title = string.format("%s, %s: Backbone and SPRINT (test split, full ranking, %s "
  .. "ties; %s%s)", cfg.dataset, name, cfg.ties, proto.summary, variant and ("; SPRINT variant " .. variant) or ""),
  baseline = "Backbone", pair = "seeds" }
local timing = { Backbone = {}, SPRINT = {} }
local function record(label, model, result, seed)
  local t0 = clock.now()
  local test = stage2.test(model, ds, cfg)
  local t = timing[label]
  local epoch_seconds = {}
  for _, r in ipairs(result.history) do epoch_seconds[#epoch_seconds + 1] = r.train_seconds end
  t[#t + 1] = { seed = seed, test_seconds = clock.now() - t0, epoch_seconds = sprint.stats.median(epoch_seconds),
                epochs = result.epochs, best_epoch = result.best_epoch }
  print(string.format("   %-8s seed %d: best epoch %d of %d; test HR@10 %.4f NDCG@10 %.4f (median epoch %.2f s, "
    .. "test ranking %.2f s)", label, seed, result.best_epoch, result.epochs, test.metrics["HR@10"],
    test.metrics["NDCG@10"], t[#t].epoch_seconds, t[#t].test_seconds))
  rep:add(label, test, { seed = seed })
end
for s = cfg.seed, cfg.seed + cfg.seeds - 1 do
  print(string.format("-- seed %d", s))
  local bb, bres = stage2.train_backbone(ds, cfg, s, string.format("%s/backbone/seed-%d", dir, s))
  record("Backbone", bb, bres, s)
  local sm, sres = stage2.train_sprint(ds, cfg, loaded, s, string.format("%s/%s/seed-%d", dir, sprint_dir, s))
  record("SPRINT", sm, sres, s)
end

local paper = sprint.paper.table2(cfg.dataset, cfg.backbone)
if paper then
  rep:reference("paper Backbone", paper.backbone, sprint.paper.SOURCE)
  rep:reference("paper SPRINT", paper.sprint, sprint.paper.SOURCE)
end
rep:write(dir, results_name)
intents.files.write_atomic(dir .. "/timing" .. (variant and ("-" .. variant) or "") .. ".json", sprint.report.json(timing))
print()
print(rep:markdown())
local function med(label, key)
  local xs = {}
  for _, t in ipairs(timing[label]) do xs[#xs + 1] = t[key] end
  return sprint.stats.median(xs)
end
print(string.format("time (medians over seeds): epoch %.2f s backbone, %.2f s SPRINT (%.2fx); test ranking %.2f s "
  .. "backbone, %.2f s SPRINT (%.2fx)", med("Backbone", "epoch_seconds"), med("SPRINT", "epoch_seconds"),
  med("SPRINT", "epoch_seconds") / med("Backbone", "epoch_seconds"), med("Backbone", "test_seconds"),
  med("SPRINT", "test_seconds"), med("SPRINT", "test_seconds") / med("Backbone", "test_seconds")))
print(string.format("results: %s/%s.{md,csv,json}; SPRINT runs in %s/%s", dir, results_name, dir, sprint_dir))
