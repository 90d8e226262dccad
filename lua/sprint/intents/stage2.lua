-- intents/stage2.lua — SPRINT's Stage 2 as recipe-sized steps (paper §4.2-4.3): the backbone
-- alone and the backbone with the intent predictor, each trained for one seed from a recipe's
-- settings, and ranked on the test split without any LLM. Every switch of the ablation is a
-- setting (DEFAULTS below), so the recipes for Table 2 and Table 5 are the same code.
--   local loaded = sprint.intents.load(stage1_dir)            -- Stage 1's pool, labels, negatives
--   local bb = stage2.train_backbone(ds, cfg, seed, dir .. "/backbone/seed-" .. seed)
--   local sm = stage2.train_sprint(ds, cfg, loaded, seed, dir .. "/sprint/seed-" .. seed)
--   local res = stage2.test(sm.model, ds, cfg)                -- eval.rank's result
local M = {}

-- Stage 2's settings, for a recipe to merge into its sprint.config defaults; the paper's values
-- where it gives them (rho = 5, tau = 0.5, K = 5 its best, the lambdas from its grid).
M.DEFAULTS = {
  lambda_intent = 1e-2, lambda_ortho = 1e-3, -- Eq. 17's weights
  enrich = "both",       -- labels every rho epochs: Eq. 14 (both) | self | neighbours | none (y0 kept)
  k = 5, rho = 5, tau = 0.5, intent_dropout = 0.2,
  fusion = true,         -- h_tilde = h + g (Eq. 15); false: rank with h (the predictor only trains)
  intent_loss = true, ortho = true,
  hard_neg = true,       -- Eq. 16: one random and one Stage-1 hard negative per session (else two random)
}
-- Stage 1's settings that change what it gives Stage 2 (the hard sessions, the pool, the
-- intents); a run that changes any of them has its own Stage 1 directory and SPRINT variant.
M.STAGE1_DEFAULTS = {
  warmup_epochs = 30, selection = "uncertainty", hard_ratio = 0.10, rrf_k = 60, pred_over = "session",
  domain = "", candidates = 5, max_tries = 3, pool_cap = 1000, gip_max_intents = 40, prompts = "",
}

M.SPEC = {
  lambda_intent = "number>=0", lambda_ortho = "number>=0", enrich = { "both", "self", "neighbours", "none" },
  k = "int>=0", rho = "int>=1", tau = "number in [0, 1]", intent_dropout = "number in [0, 1)",
}

-- The settings of a Stage 2 recipe (recipes/sprint.lua, recipes/ablation.lua): the backbone's
-- (recipes/backbone.lua's), Stage 1's (recipes/intents.lua's) and Stage 2's, with what each may
-- hold. Returns defaults and spec for sprint.config, both fresh tables (overrides merged).
function M.recipe_settings(overrides)
  local defaults = {
    dataset = "beauty", backbone = "sasrec", seeds = 5, seed = 1, threads = 0,
    -- the backbone (the paper's settings; see recipes/backbone.lua)
    dim = 64, layers = 2, heads = 2, dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4, loss = "",
    batch_size = 256, n_neg = 1, mask_prob = 0.2, mask_last_prob = 1 / 11, output_head = true,
    epochs = 200, patience = 10, metric = "NDCG@10", eval_every = 1,
    ties = "pessimistic", mask_session_items = false,
    protocol = "default", tie_order = "input", prefix_augment = true, filter_unseen_eval = true,
    -- Stage 1 (recipes/intents.lua): reuse a finished one, or run it here with these settings
    -- (and M.STAGE1_DEFAULTS')
    stage1_dir = "", concurrency = 16, batch = false, batch_results = "", progress = false, backbone_params = "",
    -- generator settings for dataset = planted (0: the registry's)
    planted_sessions = 0,
    run_dir = "runs/sprint", resume = true,
    -- grid runs: jobs > 1 trains cells in that many child processes; grid_cell is set for a child
    jobs = 1, grid_cell = "",
  }
  local spec = {
    warmup_epochs = "int>=1", selection = { "uncertainty", "random", "h_sess", "h_pred" },
    hard_ratio = "number in [0, 1]", rrf_k = "number>0", pred_over = { "session", "catalogue" },
    candidates = "int>=1", max_tries = "int>=1", concurrency = "int>=1", pool_cap = "int>=0",
    gip_max_intents = "int>=1", planted_sessions = "int>=0", jobs = "int>=1",
  }
  for k, v in pairs(M.STAGE1_DEFAULTS) do defaults[k] = v end
  for k, v in pairs(M.DEFAULTS) do defaults[k] = v end
  for k, v in pairs(M.SPEC) do spec[k] = v end
  for k, v in pairs(overrides or {}) do defaults[k] = v end
  return defaults, spec
end

-- A Stage 2 recipe's start: its settings (recipe_settings with extra defaults and specs, checked
-- by sprint.config, the protocol applied), the thread count, the dataset, and a header line
-- naming `what` the recipe makes. Returns cfg, proto, ds.
function M.open_recipe(what, extra_defaults, extra_spec)
  local sprint = require "sprint"
  local defaults, spec = M.recipe_settings(extra_defaults)
  for k, v in pairs(extra_spec or {}) do spec[k] = v end
  local cfg = sprint.config(defaults, { spec = spec })
  local proto = sprint.protocol.apply(cfg)
  sprint.set_num_threads(cfg.threads)
  local ds = M.load_data(cfg)
  print(string.format("sprint %s | %s: %d sessions, %d items | %s, %s | blas: %s", sprint.version(), cfg.dataset,
    ds:n_sessions(), ds:n_items(), cfg.backbone, what, sprint.blas_info()))
  print(proto.summary)
  return cfg, proto, ds
end

M.DISPLAY = { sasrec = "SASRec", bert4rec = "BERT4Rec", gru4rec = "GRU4Rec" }

-- A recipe whose rows are settings of the same code (ablation, selection, ratio): the run
-- directory, the resolved settings written as config-<name>[-<variant>].lua, then run_rows.
-- opts: name ("ablation"), what ("ablation (Table 5)"), rows, baseline, and run_rows' figure,
-- figure_info, references.
function M.rows_recipe(cfg, proto, ds, opts)
  local dir = M.run_dir(cfg, proto)
  local common = M.variant(cfg)
  local name = opts.name .. (common and ("-" .. common) or "")
  M.write_config(cfg, dir .. "/config-" .. name .. ".lua")
  return M.run_rows {
    cfg = cfg, proto = proto, ds = ds, dir = dir, rows = opts.rows, baseline = opts.baseline, name = name,
    figure = opts.figure, figure_info = opts.figure_info, references = opts.references,
    title = string.format("%s, %s: %s (test split, full ranking, %s ties; %s%s)", cfg.dataset, M.DISPLAY[cfg.backbone],
      opts.what, cfg.ties, proto.summary, common and ("; every row with " .. common) or ""),
  }
end

-- Writes a recipe's resolved settings (sprint.config.dump) to path, but in a grid child, whose
-- settings are its parent's with the cell named.
function M.write_config(cfg, path)
  if (cfg.grid_cell or "") ~= "" then return end
  local files = require "sprint.files"
  files.mkdir(path:match("^(.*)/[^/]*$") or ".")
  files.write_atomic(path, require("sprint").config.dump(cfg) .. "\n")
end

-- The run directory of a dataset (the planted generator's size in its name when set), backbone
-- and protocol: the backbone rows, Stage 1 and every SPRINT variant of it live there, whichever
-- recipe made them.
function M.run_dir(cfg, proto)
  return string.format("%s/%s%s-%s%s", cfg.run_dir, cfg.dataset,
    (cfg.planted_sessions or 0) > 0 and ("-" .. cfg.planted_sessions) or "", cfg.backbone,
    proto.name ~= "default" and ("-" .. proto.name) or "")
end

-- The name of a SPRINT variant: the Stage 1 and Stage 2 settings given explicitly in cfg
-- (origin not "default"), overridden by `row` (a recipe's own settings for one row), as sorted
-- "k=v" joined by commas; nil for SPRINT as the defaults make it. Returns the name, cfg with row
-- applied (a plain copy when row has settings), and the name of its Stage 1 (the Stage 1
-- settings alone; nil for the default Stage 1).
local function default_of(k)
  if M.DEFAULTS[k] ~= nil then return M.DEFAULTS[k] end
  return M.STAGE1_DEFAULTS[k]
end

function M.variant(cfg, row)
  local config = require "sprint.config"
  local set = {}
  for _, keys in ipairs({ M.DEFAULTS, M.STAGE1_DEFAULTS }) do
    for k in pairs(keys) do
      if config.origin(cfg, k) ~= "default" and cfg[k] ~= default_of(k) then set[k] = cfg[k] end
    end
  end
  local out = cfg
  if row and next(row) then
    out = {}
    for k, v in pairs(cfg) do out[k] = v end
    for k, v in pairs(row) do
      if default_of(k) == nil then error("stage 2: '" .. tostring(k) .. "' is not a Stage 1 or Stage 2 setting", 2) end
      out[k] = v
      if v == default_of(k) then set[k] = nil else set[k] = v end
    end
  end
  local parts, s1 = {}, {}
  for k, v in pairs(set) do
    parts[#parts + 1] = k .. "=" .. tostring(v)
    if M.STAGE1_DEFAULTS[k] ~= nil then s1[#s1 + 1] = k .. "=" .. tostring(v) end
  end
  table.sort(parts)
  table.sort(s1)
  return #parts > 0 and table.concat(parts, ",") or nil, out, #s1 > 0 and table.concat(s1, ",") or nil
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- What a Stage 1 output gives Stage 2, in one line (a SPRINT run's identity carries it).
local function stage1_line(loaded)
  return string.format("stage 1 = %d intents, %d sessions labelled, %d with hard negatives", loaded.pool:size(),
    count(loaded.labels), count(loaded.hard_negatives))
end

-- Stage 1's output for a recipe: a finished one (cfg.stage1_dir), or one run in dir/stage1 (the
-- default Stage 1) or dir/stage1-<its settings> (stage1_name, from M.variant). Returns what
-- sprint.intents.load gives and the path of the stage's report (stage1.json).
function M.stage1(ds, cfg, dir, stage1_name)
  local intents = require "sprint.intents"
  local loaded, stage_dir
  if stage1_name == nil and cfg.stage1_dir == "" then stage1_name = select(3, M.variant(cfg)) end
  if cfg.stage1_dir ~= "" then
    stage_dir = cfg.stage1_dir
    loaded = intents.load(stage_dir)
    print(string.format("stage 1: reusing %s (pool of %d intents)", stage_dir, loaded.pool:size()))
  else
    local run = dir .. "/stage1" .. (stage1_name and ("-" .. stage1_name) or "")
    stage_dir = run .. "/stage1" -- run_stage1's layout: the LLM stage in <run>/stage1
    loaded = intents.run_stage1(ds, cfg, run)
  end
  print(stage1_line(loaded))
  return loaded, stage_dir .. "/stage1.json"
end

-- The ablation's row (B): intents from one prompt per hard session, taken as given
-- (sprint.intents.direct), for the same hard sessions as the predict-and-correct Stage 1 whose
-- output is `loaded` (its journal lists them), in dir/stage1-direct. Returns what
-- sprint.intents.load gives for it.
function M.stage1_direct(ds, cfg, dir, loaded)
  local intents = require "sprint.intents"
  local hard = {}
  for i in pairs(loaded.records) do hard[#hard + 1] = i end
  table.sort(hard)
  local out = dir .. "/stage1-direct"
  require("sprint.files").mkdir(out)
  local client = require("sprint.llm").from_env(cfg, { catalogue = intents.catalogue(ds), cache = out .. "/llm.sqlite",
                                                      run = "direct-" .. cfg.dataset })
  local domain = cfg.domain ~= "" and cfg.domain or intents.stage1_runner.DOMAINS[cfg.dataset] or cfg.dataset
  local ok, result = pcall(require("sprint.intents.direct").run, { ds = ds, hard = hard, dir = out, client = client,
    domain = domain, templates = intents.templates.load(cfg.prompts), concurrency = cfg.concurrency })
  if ok then -- what it cost, as Stage 1's report has it (the ledger counts every run of it)
    local totals = client.store and client.store:totals(client.settings.run) or nil
    require("sprint.files").write_atomic(out .. "/direct.json", require("sprint.report").json {
      provider = client.name, hard_sessions = #hard, ledger = totals })
  end
  client:close()
  if not ok then error(result, 0) end
  if not result.complete then
    error(string.format("stage 1 (one prompt per session) in %s stopped with %d session(s) unanswered: %s; what was "
      .. "answered is kept, a rerun asks the others", out, #result.unfinished, tostring(result.stopped)), 0)
  end
  local d = intents.load(out)
  print(string.format("stage 1, one prompt per session (answers from %s): %d hard sessions, %d with intents, pool of %d "
    .. "distinct intents", client.name, #hard, count(d.labels), d.pool:size()))
  return d, out .. "/direct.json"
end

-- A results table whose rows are settings of the same code (the paper's Table 5, Figures 4 and 5):
-- per seed the backbone ("(A) Backbone" or opts.baseline), then each row's SPRINT variant, its
-- Stage 1 (row.set's Stage 1 settings pick it, row.stage1 = "direct" the single-prompt one) run
-- or reused once per distinct setting. opts: cfg (a sprint.config table), proto, ds, dir, rows =
-- { { name =, set = { k = v }, stage1 = nil | "direct", backbone = true (a backbone row, no
-- SPRINT), extra = { settings beyond Stage 1 and 2 }, dir = its runs' folder name ("sprint",
-- "backbone") } }, title, name (the results' file name),
-- references (function(rep): reference rows), figure (a sprint.experiments figure name) and
-- figure_info (what it needs beside the table: caption, ...).
-- Every (row, seed) is a cell: a training run directory whose test.json holds its ranked test
-- split, so a rerun skips finished cells. cfg.jobs > 1 trains the unfinished cells in parallel
-- child processes (sprint.grid; each child is this recipe with grid_cell set); a failed cell is
-- reported with its error, and the table is written from the others before the recipe fails.
-- Writes dir/<name>.{md,csv,json} and timing-<name>.json, and dir/<name>-stage1.json: per row
-- its Stage 1's hard sessions, accepted sessions, pool, LLM calls and summed call time (the
-- ledger's totals: a resumed stage counts what it cost when it ran). Returns the report.
function M.run_rows(opts)
  local sprint = require "sprint"
  local files = require "sprint.files"
  local cfg, ds, dir = opts.cfg, opts.ds, opts.dir
  local baseline = opts.baseline or "(A) Backbone"
  local rep = sprint.report.new { title = opts.title, baseline = baseline, pair = "seeds" }
  local stage1s, prepared, costs = {}, {}, {}
  local default_stage1, default_report = M.stage1(ds, cfg, dir)
  for r, row in ipairs(opts.rows) do
    local variant, rcfg, s1 = M.variant(cfg, row.set)
    local loaded, report_path
    if row.stage1 == "direct" then
      variant = "stage1=direct" .. (variant and ("," .. variant) or "")
      loaded, report_path = M.stage1_direct(ds, rcfg, dir, default_stage1)
    elseif s1 == nil or cfg.stage1_dir ~= "" then
      loaded, report_path = default_stage1, default_report
    else
      stage1s[s1] = stage1s[s1] or { M.stage1(ds, rcfg, dir, s1) }
      loaded, report_path = stage1s[s1][1], stage1s[s1][2]
    end
    if row.extra then -- settings that are not Stage 1's or 2's (SPRINT+LE's item vectors)
      local c = {}
      for k, v in pairs(rcfg) do c[k] = v end
      for k, v in pairs(row.extra) do c[k] = v end
      rcfg = c
    end
    prepared[r] = { variant = variant, cfg = rcfg, loaded = loaded, backbone = row.backbone, dir = row.dir }
    local f = files.read(report_path)
    local rep1 = f and require("cjson.safe").decode(f)
    costs[#costs + 1] = { row = row.name, stage1 = row.stage1 == "direct" and "one prompt per session" or (s1 or "default"),
      labelled_sessions = count(loaded.labels), pool = loaded.pool:size(),
      hard_sessions = rep1 and rep1.hard_sessions, llm_calls = rep1 and rep1.ledger and rep1.ledger.calls,
      llm_seconds = rep1 and rep1.ledger and rep1.ledger.latency_ms and rep1.ledger.latency_ms / 1000 }
  end
  local cells = {}
  for s = cfg.seed, cfg.seed + cfg.seeds - 1 do
    cells[#cells + 1] = M.backbone_cell(ds, cfg, s, dir, baseline)
    for r, row in ipairs(opts.rows) do
      local p = prepared[r]
      cells[#cells + 1] = p.backbone and M.backbone_cell(ds, p.cfg, s, dir, row.name, p.dir)
        or M.sprint_cell(ds, p.cfg, p.loaded, s, dir, p.variant, row.name, p.dir)
    end
  end
  local timing, failures = {}, M.run_cells(cells, cfg, ds, rep)
  local baseline_runs = 0
  for _, c in ipairs(cells) do
    if c.done then M.timing_of(timing, c.label, c.done.timing) end
    if c.done and c.label == baseline then baseline_runs = baseline_runs + 1 end
  end
  if baseline_runs == 0 then M.fail_on(failures, dir, opts.name) end -- no table without its baseline
  if opts.references then opts.references(rep) end
  rep:write(dir, opts.name)
  if opts.figure then
    local experiments = require "sprint.experiments"
    local info = opts.figure_info or {}
    files.write_atomic(dir .. "/" .. opts.name .. "-figure.json", sprint.report.json { figure = opts.figure, info = info })
    local path = experiments.write_figure(dir, opts.name, opts.figure, rep, costs, info)
    print("figure: " .. path)
  end
  files.write_atomic(dir .. "/" .. (opts.timing_name or ("timing-" .. opts.name)) .. ".json", sprint.report.json(timing))
  files.write_atomic(dir .. "/" .. opts.name .. "-stage1.json", sprint.report.json(costs))
  print()
  print(rep:markdown())
  print("Stage 1 per row (LLM calls and summed call time from the ledger):")
  for _, c in ipairs(costs) do
    print(string.format("  %-40s %-28s %5s hard, %5d labelled, pool %4d, %6s calls, %8s s", c.row, c.stage1,
      tostring(c.hard_sessions or "-"), c.labelled_sessions, c.pool, tostring(c.llm_calls or "-"),
      c.llm_seconds and string.format("%.2f", c.llm_seconds) or "-"))
  end
  print(string.format("results: %s/%s.{md,csv,json}, %s-stage1.json; every table and figure: %s", dir, opts.name,
    opts.name, require("sprint.experiments").index(dir)))
  M.fail_on(failures, dir, opts.name)
  return rep, timing, costs
end

-- The cells of a table. A cell: { id (its run directory under the run's), label, seed, run,
-- key (what its test.json must have been made under), train = function() -> model, result }.
local function test_key(cfg, identity)
  return table.concat({ identity, "epochs = " .. cfg.epochs, "patience = " .. cfg.patience, "ties = " .. cfg.ties,
    "mask_session_items = " .. tostring(cfg.mask_session_items), "max_len = " .. cfg.max_len }, "\n")
end

function M.backbone_cell(ds, cfg, seed, dir, label, name)
  local id = (name or "backbone") .. "/seed-" .. seed
  return { id = id, label = label, seed = seed, run = dir .. "/" .. id, cfg = cfg,
    key = test_key(cfg, M.identity(cfg, seed, M.BACKBONE_KEYS)),
    train = function() return M.train_backbone(ds, cfg, seed, dir .. "/" .. id) end }
end

function M.sprint_cell(ds, cfg, loaded, seed, dir, variant, label, name)
  name = name or "sprint"
  local id = (variant and (name .. "-" .. variant) or name) .. "/seed-" .. seed
  return { id = id, label = label, seed = seed, run = dir .. "/" .. id, cfg = cfg,
    key = test_key(cfg, M.sprint_identity(cfg, seed, loaded)),
    train = function() return M.train_sprint(ds, cfg, loaded, seed, dir .. "/" .. id) end }
end

-- A cell's finished result (its test.json, when made under the cell's key), or nil.
function M.finished_cell(cell)
  local text = require("sprint.files").read(cell.run .. "/test.json")
  local d = text and require("cjson.safe").decode(text)
  if type(d) == "table" and d.key == cell.key and type(d.test) == "table" then return d end
end

-- Trains (or resumes, or reuses) a cell, ranks the test split and writes its test.json.
function M.run_cell(cell, ds)
  local clock = require "sprint.clock"
  local model, result = cell.train()
  local t0 = clock.now()
  local test = M.test(model, ds, cell.cfg)
  local epoch_seconds = {}
  for _, r in ipairs(result.history) do epoch_seconds[#epoch_seconds + 1] = r.train_seconds end
  local d = { key = cell.key, test = { metrics = test.metrics, ranks = test.ranks, sessions = test.sessions, n = test.n,
                                       settings = test.settings },
    timing = { seed = cell.seed, test_seconds = clock.now() - t0, epochs = result.epochs, best_epoch = result.best_epoch,
               epoch_seconds = require("sprint.stats").median(epoch_seconds),
               train_seconds = M.sum_seconds(result.history) } }
  require("sprint.files").write_atomic(cell.run .. "/test.json", require("sprint.report").json(d))
  return d
end

function M.sum_seconds(history)
  local t = 0
  for _, r in ipairs(history) do t = t + (r.train_seconds or 0) end
  return t
end

function M.timing_of(timing, label, t)
  timing[label] = timing[label] or {}
  table.insert(timing[label], t)
end

-- Runs the cells: in a grid child (cfg.grid_cell) only that cell, then the process exits;
-- with cfg.jobs > 1 the unfinished ones in child processes first; then each in order, finished
-- ones read back, into rep. A failed cell is kept out of the table. Sets cell.done; returns the
-- failures: { { id =, label =, seed =, error = } }.
function M.run_cells(cells, cfg, ds, rep)
  if (cfg.grid_cell or "") ~= "" then
    for _, c in ipairs(cells) do
      if c.id == cfg.grid_cell then
        M.run_cell(c, ds)
        os.exit(0, true)
      end
    end
    error("stage 2: this recipe has no cell " .. cfg.grid_cell, 0)
  end
  local grid_status = {}
  if (cfg.jobs or 1) > 1 then
    local grid = require "sprint.grid"
    local todo = {}
    local threads = cfg.threads > 0 and cfg.threads or math.max(1, math.floor(grid.cores() / cfg.jobs))
    local seen = {} -- two rows at the same settings (a sweep's point at the defaults) share a cell
    for _, c in ipairs(cells) do
      if not seen[c.id] and not M.finished_cell(c) then
        seen[c.id] = true
        todo[#todo + 1] = { id = c.id, log = c.run .. "/cell.log",
          argv = grid.self_command { grid_cell = c.id, jobs = 1, threads = threads } }
      end
    end
    print(string.format("grid: %d of %d cells to train, %d at a time, %d thread(s) each", #todo, #cells,
      math.min(cfg.jobs, grid.cores()), threads))
    if #todo > 0 then grid_status = grid.run(todo, { jobs = cfg.jobs }) end
  end
  local failures = {}
  for _, c in ipairs(cells) do
    local d = M.finished_cell(c)
    local why = grid_status[c.id] and not grid_status[c.id].ok and grid_status[c.id].error
    local source = "read back from " .. c.run .. "/test.json"
    if not d and not why then
      print(string.format("-- %s, seed %d (%s)", c.label, c.seed, c.id))
      local ok, res = pcall(M.run_cell, c, ds)
      if ok then d, source = res, "trained here" else why = tostring(res) end
    end
    if d then
      c.done = d
      rep:add(c.label, d.test, { seed = c.seed })
      print(string.format("   %-28s seed %d: best epoch %s of %s; test HR@10 %.4f NDCG@10 %.4f (median epoch %.2f s; %s)",
        c.label, c.seed, tostring(d.timing.best_epoch), tostring(d.timing.epochs), d.test.metrics["HR@10"],
        d.test.metrics["NDCG@10"], d.timing.epoch_seconds or 0, source))
    else
      failures[#failures + 1] = { id = c.id, label = c.label, seed = c.seed, error = why }
      print(string.format("   %-28s seed %d: FAILED: %s", c.label, c.seed, why))
    end
  end
  return failures
end

-- After the tables are written: the failed cells listed in <name>-failed.json and one error
-- naming them (nothing when none failed; an earlier list is removed).
function M.fail_on(failures, dir, name)
  local path = dir .. "/" .. name .. "-failed.json"
  if #failures == 0 then
    os.remove(path)
    return
  end
  require("sprint.files").write_atomic(path, require("sprint.report").json(failures))
  local lines = {}
  for _, f in ipairs(failures) do lines[#lines + 1] = string.format("  %s (%s, seed %d): %s", f.id, f.label, f.seed, f.error) end
  error(string.format("stage 2: %d cell(s) failed; the table holds the others (a rerun retries only these):\n%s\n"
    .. "(listed in %s)", #failures, table.concat(lines, "\n"), path), 0)
end

-- A caption for a figure of a rows recipe: what, the seeds, the protocol and the settings.
function M.caption(cfg, proto, what)
  return string.format("%s. %s, %s, %d seeds (%d-%d), mean ± sample std; test split, full ranking, %s ties; %s; "
    .. "Stage 1 answers from %s.", what, cfg.dataset, M.DISPLAY[cfg.backbone], cfg.seeds, cfg.seed,
    cfg.seed + cfg.seeds - 1, cfg.ties, proto.summary, os.getenv("SPRINT_LLM_BASE_URL") and "the configured endpoint"
    or "the offline stand-in (not an LLM)")
end

-- The dataset as the recipe's settings prepare it (the protocol's tie order and unseen-item
-- filter; planted_sessions for the planted generator); only what differs from the registry's
-- preparation is passed, so the default shares its cache.
function M.load_data(cfg)
  local prep = {}
  if cfg.tie_order and cfg.tie_order ~= "input" then prep.tie_order = cfg.tie_order end
  if cfg.filter_unseen_eval == false then prep.filter_unseen_eval = false end
  if (cfg.planted_sessions or 0) > 0 then prep.n_sessions = cfg.planted_sessions end
  return require("sprint.data").load(cfg.dataset, next(prep) and prep or nil)
end

-- The backbone for a seed, in a fresh parameter store (the recipe's model settings); with
-- cfg.le_vectors (a saved sprint.item_vectors table, SPRINT+LE) the backbone with LLM item
-- embeddings (sprint.le_model).
function M.backbone(ds, cfg, seed)
  local sprint = require "sprint"
  local P = sprint.nn.params(seed)
  local opts = {
    kind = cfg.backbone, n_items = ds:n_items(), max_len = cfg.max_len, dim = cfg.dim, layers = cfg.layers,
    heads = cfg.heads, dropout = cfg.dropout, mask_prob = cfg.mask_prob, mask_last_prob = cfg.mask_last_prob,
    output_head = cfg.backbone == "bert4rec" and cfg.output_head or nil,
    loss = cfg.loss and cfg.loss ~= "" and cfg.loss or nil,
  }
  if (cfg.le_vectors or "") ~= "" then
    opts.vectors = require("sprint.item_vectors").load(cfg.le_vectors)
    opts.loss = nil
    return require("sprint.le_model").new(P, opts), P
  end
  return sprint.model.backbone(P, opts), P
end

-- The settings that decide what a backbone run trains (not how long: epochs and patience may
-- change and the run resume), and Stage 2's for SPRINT.
M.BACKBONE_KEYS = { "dataset", "backbone", "dim", "layers", "heads", "dropout", "max_len", "lr", "l2", "loss",
  "batch_size", "n_neg", "mask_prob", "mask_last_prob", "output_head", "metric", "eval_every", "tie_order",
  "prefix_augment", "filter_unseen_eval", "planted_sessions", "le_model" } -- le_model: SPRINT+LE's (nil: none)

-- The identity train.fit records in a checkpoint: "key = value" lines of the keys, the seed,
-- and any extra lines; a rerun under other settings is refused rather than resumed.
function M.identity(cfg, seed, keys, extra)
  local lines = { "seed = " .. tostring(seed) }
  for _, k in ipairs(keys) do
    if cfg[k] ~= nil then lines[#lines + 1] = k .. " = " .. tostring(cfg[k]) end
  end
  for _, l in ipairs(extra or {}) do lines[#lines + 1] = l end
  return table.concat(lines, "\n")
end

-- train.fit's options for a seed (the same for the backbone and SPRINT, but for the negatives).
local function fit_options(cfg, seed, run_dir, extra)
  local o = {
    epochs = cfg.epochs, batch_size = cfg.batch_size, max_len = cfg.max_len, lr = cfg.lr, weight_decay = cfg.l2,
    seed = seed, patience = cfg.patience, metric = cfg.metric, eval_every = cfg.eval_every,
    n_uniform_neg = cfg.n_neg, prefix_augment = cfg.prefix_augment, resume = cfg.resume, run_dir = run_dir,
    verbose = cfg.verbose ~= false,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- The backbone alone for a seed, trained (or resumed, or reused when finished) in run_dir.
-- Returns the model and train.fit's result.
function M.train_backbone(ds, cfg, seed, run_dir)
  local model = M.backbone(ds, cfg, seed)
  local result = require("sprint.train").fit(model, ds, fit_options(cfg, seed, run_dir,
    { identity = M.identity(cfg, seed, M.BACKBONE_KEYS) }))
  return model, result
end

-- The SPRINT model for a seed: the backbone and the intent predictor over Stage 1's pool in one
-- parameter store, the labels y0 from Stage 1's accepted intents (Eq. 11).
function M.sprint_model(ds, cfg, loaded, seed)
  local sprint = require "sprint"
  local backbone, P = M.backbone(ds, cfg, seed)
  local n_intents = loaded.pool:size()
  if n_intents < 1 then error("stage 2: Stage 1's pool is empty: there is nothing to predict", 0) end
  local predictor = sprint.intent_model.new(P, { dim = cfg.dim, n_intents = n_intents, tau = cfg.tau,
                                                  dropout = cfg.intent_dropout })
  local store = sprint.intents.labels.from_stage1(loaded, ds:n_sessions(), n_intents)
  return sprint.sprint_model.new(backbone, predictor, cfg.intent_loss and store or nil, {
    lambda_intent = cfg.lambda_intent, lambda_ortho = cfg.lambda_ortho, fusion = cfg.fusion,
    intent_loss = cfg.intent_loss, ortho = cfg.ortho,
  })
end

-- What a SPRINT run trains under: the backbone's settings, Stage 2's and Stage 1's output.
function M.sprint_identity(cfg, seed, loaded)
  local keys = {}
  for _, k in ipairs(M.BACKBONE_KEYS) do keys[#keys + 1] = k end
  local stage2_keys = {}
  for k in pairs(M.DEFAULTS) do stage2_keys[#stage2_keys + 1] = k end
  table.sort(stage2_keys)
  for _, k in ipairs(stage2_keys) do keys[#keys + 1] = k end
  return M.identity(cfg, seed, keys, { stage1_line(loaded) })
end

-- SPRINT for a seed, trained (or resumed, or reused) in run_dir: labels refreshed every rho
-- epochs by enrichment (unless enrich = "none" or there is no intent loss), Stage 1's hard
-- negatives beside a random one when hard_neg. Returns the model and train.fit's result.
function M.train_sprint(ds, cfg, loaded, seed, run_dir)
  local sm = M.sprint_model(ds, cfg, loaded, seed)
  local extra = {}
  if cfg.intent_loss and cfg.enrich ~= "none" then
    extra.hooks = sm:hooks(ds, { every = cfg.rho, k = cfg.k, mode = cfg.enrich, max_len = cfg.max_len, seed = seed })
  end
  if cfg.hard_neg then
    if cfg.n_neg ~= 1 then error("stage 2: hard_neg gives one random and one hard negative: set n_neg = 1", 0) end
    extra.n_hard_neg, extra.hard_negatives = 1, loaded.hard_negatives
  end
  extra.identity = M.sprint_identity(cfg, seed, loaded)
  local result = require("sprint.train").fit(sm, ds, fit_options(cfg, seed, run_dir, extra))
  return sm, result
end

-- The median over seeds of timing[label]'s `key` (epoch_seconds or test_seconds).
function M.median_time(timing, label, key)
  local xs = {}
  for _, t in ipairs(timing[label] or {}) do xs[#xs + 1] = t[key] end
  return require("sprint.stats").median(xs)
end

-- A finished recipes/sprint.lua run read back: its settings (dir/config.lua, read as data in
-- an empty environment), the dataset, Stage 1's output, and for a seed the trained backbone and
-- SPRINT models (their best parameters); variant: a SPRINT variant's name (its settings in
-- config-<variant>.lua, its runs in sprint-<variant>/). Nothing here calls an LLM.
function M.open_run(dir, seed, variant)
  local path = dir .. "/" .. (variant and ("config-" .. variant) or "config") .. ".lua"
  local chunk, err = loadfile(path)
  if not chunk then error("stage 2: " .. tostring(err) .. " (is " .. dir .. " a recipes/sprint.lua run?)", 0) end
  setfenv(chunk, {})
  local ok, cfg = pcall(chunk)
  if not ok or type(cfg) ~= "table" then error("stage 2: " .. path .. " is not a settings table: " .. tostring(cfg), 0) end
  for k, v in pairs(M.DEFAULTS) do if cfg[k] == nil then cfg[k] = v end end
  seed = seed or cfg.seed or 1
  local ds = M.load_data(cfg)
  local s1 = {}
  for k, v in pairs(M.STAGE1_DEFAULTS) do
    if cfg[k] ~= nil and cfg[k] ~= v then s1[#s1 + 1] = k .. "=" .. tostring(cfg[k]) end
  end
  table.sort(s1)
  local stage1_dir = dir .. "/stage1" .. (#s1 > 0 and ("-" .. table.concat(s1, ",")) or "") .. "/stage1"
  local loaded = require("sprint.intents").load(cfg.stage1_dir ~= "" and cfg.stage1_dir or stage1_dir)
  local backbone, P = M.backbone(ds, cfg, seed)
  local sm = M.sprint_model(ds, cfg, loaded, seed)
  for _, m in ipairs({ { P, dir .. "/backbone/seed-" .. seed }, { sm.params, dir .. "/" .. (variant and ("sprint-" .. variant) or "sprint") .. "/seed-" .. seed } }) do
    local file = m[2] .. "/best.params"
    local f = io.open(file, "rb")
    if not f then error("stage 2: " .. file .. " is missing: seed " .. seed .. " has not finished training in " .. dir, 0) end
    f:close()
    m[1]:load(file)
  end
  return { cfg = cfg, ds = ds, loaded = loaded, backbone = backbone, sprint = sm, seed = seed }
end

-- The test split's full ranking for a trained model (a backbone or SPRINT: encode_last).
function M.test(model, ds, cfg)
  return require("sprint.eval").rank(function(ctx, b) return model:encode_last(ctx, b.seq, b.last) end, ds, {
    split = "test", max_len = cfg.max_len, ties = cfg.ties, mask_session_items = cfg.mask_session_items,
  })
end

-- Where SPRINT's intents act, over the test split of an open run (open_run's result): how many
-- intents pass phi's threshold per session (those are fused), the mean top relevance, and the
-- target's rank with h_tilde (intents fused) against the same model's h (nothing fused), and
-- against the backbone alone: HR@10, NDCG@10 and how many sessions rank better or worse.
function M.intent_usage(run)
  local eval = require "sprint.eval"
  local sm, ds, cfg = run.sprint, run.ds, run.cfg
  local n, fired, any, top = 0, 0, 0, 0
  local function with(ctx, b)
    local ht, _, yhat = sm:encode(ctx, b.seq, b.last)
    local B, Cn = yhat:shape()[1], yhat:shape()[2]
    local y, tg = yhat:data(), b.target:data()
    for r = 0, B - 1 do
      if tg[r] ~= 0 then
        local k, best = 0, 0
        for c = 0, Cn - 1 do
          local v = y[r * Cn + c]
          if v > cfg.tau then k = k + 1 end
          if v > best then best = v end
        end
        n, fired, top = n + 1, fired + k, top + best
        if k > 0 then any = any + 1 end
      end
    end
    return sm.backbone:ranking(ctx, ht)
  end
  local function without(ctx, b)
    local _, h = sm:encode(ctx, b.seq, b.last)
    return sm.backbone:ranking(ctx, h)
  end
  local opts = { split = "test", max_len = cfg.max_len, ties = cfg.ties }
  local rw, ro = eval.rank(with, ds, opts), eval.rank(without, ds, opts)
  local rb = eval.rank(function(ctx, b) return run.backbone:encode_last(ctx, b.seq, b.last) end, ds, opts)
  local function compare(a, b)
    local better, worse = 0, 0
    for i = 1, #a.ranks do
      if a.ranks[i] < b.ranks[i] then better = better + 1 elseif a.ranks[i] > b.ranks[i] then worse = worse + 1 end
    end
    return better, worse
  end
  local vs_h_better, vs_h_worse = compare(rw, ro)
  local vs_bb_better, vs_bb_worse = compare(rw, rb)
  return {
    sessions = n, intents = sm.predictor.n_intents, fired_per_session = fired / math.max(n, 1),
    share_with_intents = any / math.max(n, 1), mean_top_relevance = top / math.max(n, 1),
    with = rw.metrics, without = ro.metrics, backbone = rb.metrics,
    vs_without = { better = vs_h_better, worse = vs_h_worse },
    vs_backbone = { better = vs_bb_better, worse = vs_bb_worse },
  }
end

return M
