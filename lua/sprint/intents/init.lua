-- intents/init.lua — SPRINT's Stage 1 as recipe-sized steps (sprint.intents): the warm-up
-- backbone, the hard-session selection, the LLM stage, and loading what a finished stage left.
-- Each step takes the recipe's config table; the modules behind them (select, pool, pc,
-- stage1, templates, evidence) are there for recipes that compose differently.
local M = {
  pool = require "sprint.intents.pool",
  pc = require "sprint.intents.pc",
  stage1_runner = require "sprint.intents.stage1",
  templates = require "sprint.intents.templates",
  evidence = require "sprint.intents.evidence",
  select = require "sprint.intents.select",
  labels = require "sprint.intents.labels",
  enrich = require "sprint.intents.enrich",
  stage2 = require "sprint.intents.stage2",
  efficiency = require "sprint.intents.efficiency",
}

local files = require "sprint.files"

-- A backbone warmed up on the training sessions (early stopping on the validation split), or
-- the one saved at cfg.backbone_params. Checkpointed in dir: a rerun resumes or reuses it.
function M.warmup(ds, cfg, dir)
  local sprint = require "sprint"
  local P = sprint.nn.params(cfg.seed)
  local model = sprint.model.backbone(P, {
    kind = cfg.backbone, n_items = ds:n_items(), max_len = cfg.max_len, dim = cfg.dim, layers = cfg.layers,
    heads = cfg.heads, dropout = cfg.dropout,
  })
  if cfg.backbone_params ~= "" then
    P:load(cfg.backbone_params)
    print("warm-up backbone: loaded " .. cfg.backbone_params)
    return model
  end
  local result = sprint.train.fit(model, ds, {
    epochs = cfg.warmup_epochs, batch_size = cfg.batch_size, max_len = cfg.max_len, lr = cfg.lr,
    weight_decay = cfg.l2, seed = cfg.seed, patience = cfg.patience, resume = cfg.resume, run_dir = dir,
    prefix_augment = cfg.prefix_augment, verbose = false,
  })
  print(string.format("warm-up backbone: %s, best epoch %d of %d (valid NDCG@10 %.4f)", cfg.backbone,
    result.best_epoch, result.epochs, result.best))
  return model
end

-- The hard sessions: scores of every training session, the selection, both written to dir
-- (selection.tsv, selection.json). Returns the list of session indices and the choice.
function M.select_hard(model, ds, cfg, dir)
  local select = M.select
  local scores = select.score(model, ds, { max_len = cfg.max_len, pred_over = cfg.pred_over })
  local choice = select.choose(scores, { strategy = cfg.selection, ratio = cfg.hard_ratio, rrf_k = cfg.rrf_k,
                                         seed = cfg.seed })
  select.write(dir, scores, choice)
  return choice.hard, choice, scores
end

-- The catalogue's item text (title, brand, categories): what the offline stand-in may use in
-- place of a model's world knowledge.
function M.catalogue(ds)
  local cat = {}
  for j = 1, ds:n_items() do cat[j] = ds:item(j) end
  return cat
end

-- The LLM stage over the hard sessions, into dir.
function M.stage1(ds, hard, client, cfg, dir)
  local domain = cfg.domain ~= "" and cfg.domain or M.stage1_runner.DOMAINS[cfg.dataset] or cfg.dataset
  return M.stage1_runner.run {
    ds = ds, hard = hard, dir = dir, client = client, domain = domain, templates = M.templates.load(cfg.prompts),
    candidates = cfg.candidates, max_tries = cfg.max_tries, seed = cfg.seed, concurrency = cfg.concurrency,
    pool_cap = cfg.pool_cap, gip_max_intents = cfg.gip_max_intents, progress = cfg.progress,
    batch = cfg.batch, batch_results = cfg.batch_results,
  }
end

-- Stage 1 end to end in dir, for a recipe that goes on to Stage 2: the warm-up backbone
-- (dir/backbone), the hard sessions (dir/selection.*), the LLM stage (dir/stage1, its cache
-- dir/llm.sqlite). A rerun resumes (finished steps come back from their files and the cache).
-- Returns what M.load gives, and the stage's result (its report).
function M.run_stage1(ds, cfg, dir)
  local sprint = require "sprint"
  local model = M.warmup(ds, cfg, dir .. "/backbone")
  local hard = M.select_hard(model, ds, cfg, dir)
  local client = sprint.llm.from_env(cfg, { catalogue = M.catalogue(ds), cache = dir .. "/llm.sqlite",
                                            run = "intents-" .. cfg.dataset })
  local ok, result = pcall(M.stage1, ds, hard, client, cfg, dir .. "/stage1")
  client:close()
  if not ok then error(result, 0) end
  M.finish(result)
  if result.deferred and result.deferred > 0 then
    error("stage 1 is waiting for its batch results; Stage 2 cannot start yet", 0)
  end
  local f = result.report
  print(string.format("stage 1 in %s (answers from %s): %d hard sessions, %d accepted, pool %d intents, "
    .. "%d hard negatives, %d LLM calls (%d from the cache)", dir, client.name, #hard, f.accepted, f.pool.final,
    f.hard_negatives, f.calls.calls, f.calls.cached))
  return M.load(dir .. "/stage1"), result
end

-- What a finished Stage 1 left in dir (see stage1.lua's load).
function M.load(dir) return M.stage1_runner.load(dir) end

-- Ends a recipe after the stage: an error (the sprint command exits 1) when the stage
-- stopped or left sessions unfinished, except a batch round that is waiting for its results.
function M.finish(result)
  if result.complete then return end
  if result.deferred and result.deferred > 0 then
    print(string.format("batch mode: %d requests are due in %s (OpenAI Batch API format). Submit the file, then "
      .. "rerun with --set batch_results=RESULTS.jsonl; finished work is kept.", result.deferred, result.batch_file))
    return
  end
  local n = #(result.unfinished or {})
  error(string.format("stage 1 stopped with %d hard session(s) unfinished: %s. Everything finished so far is kept; "
    .. "a rerun resumes.", n, tostring(result.stopped or (result.unfinished[1] and result.unfinished[1].why))), 0)
end

M.files = files
return M
