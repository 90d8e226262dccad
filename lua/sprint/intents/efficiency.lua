-- intents/efficiency.lua — what SPRINT costs (paper §5.3): the training time of a method split
-- into its LLM stage, Stage 1's warm-up model and model training (from the run directories'
-- ledgers and checkpoints, not re-measured); the time to rank the whole test split (measured
-- here, median of repeats); and the PO4ISR protocol of Table 4: each test session's target
-- among 19 negatives that a pretrained SASRec ranks highest.
--   local parts = efficiency.training_parts(stage1_dir, cell)   -- seconds by part
--   local s = efficiency.inference_seconds(model, ds, cfg, 3)
--   local cands = efficiency.candidate_generator(ds, cfg, dir)  -- for eval.rank's candidates
local M = {}

local files = require "sprint.files"

-- Summed train and evaluation seconds of a training run's epochs (its committed checkpoint).
function M.run_seconds(run_dir)
  local saved = require("sprint.checkpoint").open(run_dir .. "/checkpoint"):load()
  if not saved then return nil end
  local t = 0
  for _, r in ipairs(saved.loop.history or {}) do t = t + (r.train_seconds or 0) + (r.eval_seconds or 0) end
  return t
end

-- Stage 1's costs from its run directory (<run>/stage1/stage1.json, <run>/backbone): the LLM
-- stage's summed call time and calls (the ledger's: every call, cached ones as first paid),
-- the warm-up model's training time and whether the answers came from the offline stand-in.
function M.stage1_costs(stage1_run)
  local text = files.read(stage1_run .. "/stage1/stage1.json")
  local rep = text and require("cjson.safe").decode(text)
  if not rep then error("efficiency: " .. stage1_run .. "/stage1/stage1.json is missing or not JSON", 0) end
  local ledger = rep.ledger or {}
  return { llm_seconds = (ledger.latency_ms or 0) / 1000, llm_calls = ledger.calls or 0,
           prompt_tokens = ledger.prompt_tokens or 0, completion_tokens = ledger.completion_tokens or 0,
           hard_sessions = rep.hard_sessions, standin = rep.standin == true, provider = rep.provider,
           warmup_seconds = M.run_seconds(stage1_run .. "/backbone") or 0 }
end

-- The training time of a cell (a run directory with a checkpoint), with its Stage 1's costs
-- when it has one: { llm_seconds, warmup_seconds, train_seconds }.
function M.training_parts(cell, stage1)
  return { llm_seconds = stage1 and stage1.llm_seconds or 0, warmup_seconds = stage1 and stage1.warmup_seconds or 0,
           train_seconds = M.run_seconds(cell.run) or 0 }
end

-- Seconds to rank the whole test split with a trained model (full ranking, the recipe's
-- settings): the median of `repeats` runs after one warm-up run.
function M.inference_seconds(model, ds, cfg, repeats)
  local clock = require "sprint.clock"
  local stage2 = require("sprint.intents").stage2
  stage2.test(model, ds, cfg)
  local ts = {}
  for i = 1, repeats do
    local t0 = clock.now()
    stage2.test(model, ds, cfg)
    ts[i] = clock.now() - t0
  end
  return clock.median(ts)
end

-- The candidate generator of the PO4ISR protocol: a SASRec trained like the backbone rows
-- (cfg's settings) with seed cfg.candidate_seed, outside the seeds it is compared over, in
-- dir/candidate-generator/seed-<s>. Returns eval.rank's candidates function (each session's
-- target and the generator's top cfg.n_candidates - 1 items outside the session).
function M.candidate_generator(ds, cfg, dir)
  local stage2 = require("sprint.intents").stage2
  local g = {}
  for k, v in pairs(cfg) do g[k] = v end
  g.backbone = "sasrec"
  local seed = cfg.candidate_seed
  local model = stage2.train_backbone(ds, g, seed, string.format("%s/candidate-generator/seed-%d", dir, seed))
  return require("sprint.eval").model_candidates(function(ctx, b) return model:encode_last(ctx, b.seq, b.last) end,
    cfg.n_candidates)
end

-- A model's test ranks among each session's candidates (eval.rank's result).
function M.rank_candidates(model, ds, cfg, candidates)
  return require("sprint.eval").rank(function(ctx, b) return model:encode_last(ctx, b.seq, b.last) end, ds, {
    split = "test", max_len = cfg.max_len, ties = cfg.ties, candidates = candidates, ks = { 5, 10, 20 },
  })
end

return M
