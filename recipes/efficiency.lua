-- efficiency.lua — the paper's Figure 3 and Table 4 for one dataset (§5.3; the paper uses SASRec):
-- per method, the training time split into the LLM stage (the ledger's summed call time and
-- calls), Stage 1's warm-up model and model training (every epoch's train and validation time
-- from the checkpoints); the time to rank the whole test split (measured here: the median of
-- `repeats` runs per seed, then over seeds); and the PO4ISR protocol of Table 4: each test
-- session's target among 19 negatives that a pretrained SASRec ranks highest (the candidate
-- generator: seed candidate_seed, outside the compared seeds), the paper's PO4ISR row beside.
-- Methods: the backbone, SPRINT, and (every_session) SPRINT with the LLM asked about every
-- training session, which is what profiling every session costs. Trained runs are shared with
-- the other recipes (recipes/sprint.lua's rows, recipes/ratio.lua's r = 100 %).
--   build/sprint run recipes/efficiency.lua --set dataset=beauty
-- Writes efficiency.{md,csv,json} (full ranking), efficiency-candidates.{md,csv,json} (Table 4),
-- efficiency-costs.json, efficiency-train.svg and efficiency-inference.svg (Figure 3).
local sprint = require "sprint"
local intents = require "sprint.intents"
local stage2, eff = intents.stage2, intents.efficiency
local stats = sprint.stats

local cfg, proto, ds = stage2.open_recipe("efficiency (Figure 3, Table 4)",
  { candidate_seed = 0, n_candidates = 20, repeats = 3, every_session = true },
  { candidate_seed = "int>=0", n_candidates = "int>=2", repeats = "int>=1" })
if cfg.candidate_seed >= cfg.seed and cfg.candidate_seed < cfg.seed + cfg.seeds then
  error("efficiency: candidate_seed " .. cfg.candidate_seed .. " is one of the compared seeds; choose one outside them", 0)
end
local dir = stage2.run_dir(cfg, proto)
local common = stage2.variant(cfg)
local name = "efficiency" .. (common and ("-" .. common) or "")
stage2.write_config(cfg, dir .. "/config-" .. name .. ".lua")

local rows = { { name = "SPRINT", set = {} } }
if cfg.every_session and cfg.hard_ratio < 1 then
  rows[2] = { name = "SPRINT, LLM on every session", set = { hard_ratio = 1 } }
end
local title = string.format("%s, %s: efficiency (Figure 3, Table 4; %s)", cfg.dataset, stage2.DISPLAY[cfg.backbone],
  proto.summary)
local rep, _, costs = stage2.run_rows { cfg = cfg, proto = proto, ds = ds, dir = dir, rows = rows, baseline = "Backbone",
  name = name, title = title .. ": full ranking" }

-- the methods again, their trained models reused (nothing trains now), each with its Stage 1
local methods = { { name = "Backbone", cfg = cfg } }
for _, row in ipairs(rows) do
  local variant, rcfg, s1 = stage2.variant(cfg, row.set)
  local loaded = stage2.stage1(ds, rcfg, dir, s1)
  methods[#methods + 1] = { name = row.name, cfg = rcfg, variant = variant, loaded = loaded,
    stage1 = eff.stage1_costs(dir .. "/stage1" .. (s1 and ("-" .. s1) or "")) }
end

local candidates = eff.candidate_generator(ds, cfg, dir)
local table4 = sprint.report.new { title = title .. string.format(": %d candidates per test session (the target and "
  .. "the %d items a pretrained SASRec ranks highest)", cfg.n_candidates, cfg.n_candidates - 1), baseline = "Backbone",
  pair = "seeds", columns = { "HR@5", "NDCG@5", "HR@10", "NDCG@10" } }
for _, m in ipairs(methods) do m.inference, m.parts = {}, {} end
for s = cfg.seed, cfg.seed + cfg.seeds - 1 do
  for _, m in ipairs(methods) do
    local cell = m.loaded and stage2.sprint_cell(ds, m.cfg, m.loaded, s, dir, m.variant, m.name)
      or stage2.backbone_cell(ds, m.cfg, s, dir, m.name)
    local model = cell.train() -- a finished run: its best parameters, reused
    table4:add(m.name, eff.rank_candidates(model, ds, m.cfg, candidates), { seed = s })
    m.inference[#m.inference + 1] = eff.inference_seconds(model, ds, m.cfg, cfg.repeats)
    m.parts[#m.parts + 1] = eff.training_parts(cell, m.stage1)
  end
end
local paper = sprint.paper.TABLE4[cfg.dataset]
if paper and cfg.n_candidates == 20 then
  table4:reference("paper PO4ISR (LLM ranks at inference)", paper.po4isr.metrics, sprint.paper.SOURCE4)
  table4:reference("paper SPRINT", paper.sprint.metrics, sprint.paper.SOURCE4)
end
table4:write(dir, name .. "-candidates")

-- the costs: medians over seeds
local n_test = #rep:data().methods[1].runs[1].ranks
local summary, bars = {}, {}
for _, m in ipairs(methods) do
  local function med(key)
    local xs = {}
    for i, p in ipairs(m.parts) do xs[i] = p[key] end
    return stats.median(xs)
  end
  local c = { method = m.name, llm_seconds = med("llm_seconds"), warmup_seconds = med("warmup_seconds"),
              train_seconds = med("train_seconds"), inference_seconds = stats.median(m.inference),
              llm_calls = m.stage1 and m.stage1.llm_calls or 0, hard_sessions = m.stage1 and m.stage1.hard_sessions or 0,
              test_sessions = n_test }
  summary[#summary + 1] = c
  bars[#bars + 1] = { name = { m.name, string.format("%d LLM calls", c.llm_calls) }, llm_seconds = c.llm_seconds,
                      warmup_seconds = c.warmup_seconds, train_seconds = c.train_seconds, test_seconds = c.inference_seconds }
end
local standin = methods[2].stage1.standin
local who = standin and "the offline stand-in (not an LLM: its call time is not an LLM's)" or methods[2].stage1.provider
local info = { bars = bars, caption = stage2.caption(cfg, proto, string.format("Medians over seeds. Training: the "
  .. "LLM stage's summed call time (answers from %s), Stage 1's warm-up model and model training (epochs with "
  .. "validation); inference: ranking all %d test sessions, median of %d runs", who, n_test, cfg.repeats)) }
intents.files.write_atomic(dir .. "/" .. name .. "-costs.json", sprint.report.json(summary))
intents.files.write_atomic(dir .. "/" .. name .. "-figure.json", sprint.report.json { figure = "efficiency", info = info })
print("figure: " .. sprint.experiments.write_figure(dir, name, "efficiency", rep, costs, info))

local md = { string.format("## %s, %s: training and inference time (medians over %d seeds; LLM answers from %s)",
  cfg.dataset, stage2.DISPLAY[cfg.backbone], cfg.seeds, who), "",
  "| Method | LLM calls | LLM stage (s) | Stage 1 warm-up (s) | model training (s) | total (s) | test split ranking (s) | per session (ms) |",
  "|---|---:|---:|---:|---:|---:|---:|---:|" }
for _, c in ipairs(summary) do
  md[#md + 1] = string.format("| %s | %d | %.2f | %.1f | %.1f | %.1f | %.3f | %.4f |", c.method, c.llm_calls,
    c.llm_seconds, c.warmup_seconds, c.train_seconds, c.llm_seconds + c.warmup_seconds + c.train_seconds,
    c.inference_seconds, 1000 * c.inference_seconds / n_test)
end
md[#md + 1] = ""
md[#md + 1] = string.format("Model training sums every epoch's training and validation time; the LLM stage is the sum of "
  .. "its calls' latencies (%d in flight at a time, so its wall time is shorter). Ranking: all %d test sessions, full "
  .. "ranking, median of %d runs.", cfg.concurrency, n_test, cfg.repeats)
if paper then
  md[#md + 1] = string.format("The paper (Table 4): PO4ISR, an LLM ranking at inference, %.1f min over the test sessions; "
    .. "SPRINT %.2f s.", paper.po4isr.seconds / 60, paper.sprint.seconds)
end
intents.files.write_atomic(dir .. "/" .. name .. "-costs.md", table.concat(md, "\n") .. "\n")
print()
print(table.concat(md, "\n"))
print()
print(table4:markdown())
print(string.format("results: %s/%s{.md,-candidates.md,-costs.json,-train.svg,-inference.svg}; every table and "
  .. "figure: %s", dir, name, sprint.experiments.index(dir)))
