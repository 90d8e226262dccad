-- backbone.lua — train and evaluate one session-based backbone on one dataset over several
-- seeds, and print a Table-2-style row (mean ± std over seeds, the paper's row beside it).
-- Everything below can be changed from the command line:
--   build/sprint run recipes/backbone.lua --set dataset=beauty --set backbone=sasrec
--   build/sprint run recipes/backbone.lua --set backbone=gru4rec --set seeds=1 --set epochs=20
--   build/sprint run recipes/backbone.lua --set protocol=paper   # the paper's presumed protocol
local sprint = require "sprint"

local cfg = sprint.config {
  dataset = "beauty", backbone = "sasrec", seeds = 5, seed = 1,
  -- the paper's settings: 2 layers, 2 heads, d = 64; dropout, lr and L2 from its grids
  dim = 64, layers = 2, heads = 2, dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4,
  loss = "", batch_size = 256, n_neg = 1,
  -- BERT4Rec: share of a session's items masked, share of sessions masked at their last item
  -- only (1/11, as the original's 10 random copies + 1), and the original's output head
  mask_prob = 0.2, mask_last_prob = 1 / 11, output_head = true,
  epochs = 200, patience = 10, metric = "NDCG@10", eval_every = 1,
  ties = "pessimistic", mask_session_items = false,
  run_dir = "runs/backbone", resume = true, threads = 0, device = "cpu",
  -- the protocol (sprint.protocol): "default" or "paper", a preset of the three settings after
  -- it; any of them given explicitly wins over the preset
  protocol = "default",
  tie_order = "input",         -- order of same-time events (Beauty's reviews have day resolution)
  prefix_augment = true,       -- every prefix of a training session is an example (else one per session)
  filter_unseen_eval = true,   -- items unseen in training removed from valid/test sessions
  -- SASRec, GRU4Rec: one causal pass per session scoring every position, instead of one
  -- example per prefix (fewer tokens per epoch; positions count from the right, so not the same)
  one_pass = false,
}
local proto = sprint.protocol.apply(cfg)
sprint.set_num_threads(cfg.threads)
sprint.set_device(cfg.device) -- "cuda": model, optimiser and batches on the GPU

-- only what differs from the registry's preparation, so the default shares its cache
local prep = {}
if cfg.tie_order ~= "input" then prep.tie_order = cfg.tie_order end
if not cfg.filter_unseen_eval then prep.filter_unseen_eval = false end
local ds = sprint.data.load(cfg.dataset, next(prep) and prep or nil)
print(string.format("sprint %s | %s: %d sessions, %d items | %s | blas: %s", sprint.version(), cfg.dataset,
  ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))
print(proto.summary)
if cfg.device == "cuda" then print("device: " .. sprint.cuda_info()) end

local name = cfg.backbone
-- one directory per protocol and per explicit deviation from it (runs resume from their directory)
local preset = sprint.protocol.presets[proto.name].settings
local dir = string.format("%s/%s-%s%s%s%s%s%s%s", cfg.run_dir, cfg.dataset, cfg.backbone,
  proto.name ~= "default" and ("-" .. proto.name) or "",
  cfg.tie_order ~= preset.tie_order and ("-ties-" .. cfg.tie_order) or "",
  cfg.prefix_augment ~= preset.prefix_augment and ("-prefix-" .. tostring(cfg.prefix_augment)) or "",
  cfg.filter_unseen_eval ~= preset.filter_unseen_eval and ("-unseen-filtered-" .. tostring(cfg.filter_unseen_eval)) or "",
  (cfg.backbone == "bert4rec" and not cfg.output_head) and "-nohead" or "", cfg.one_pass and "-one-pass" or "")
-- the resolved settings, each with its origin (default, config file or --set), beside the results
os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
local f = assert(io.open(dir .. "/config.lua", "w"))
f:write(sprint.config.dump(cfg), "\n")
f:close()

local rep = sprint.report.new { title = string.format("%s, %s (test split, full ranking, %s ties; %s)",
  cfg.dataset, cfg.backbone, cfg.ties, proto.summary) }
local paper = sprint.paper.table2(cfg.dataset, cfg.backbone)
if paper then rep:reference("paper " .. name, paper.backbone, sprint.paper.SOURCE) end

for s = cfg.seed, cfg.seed + cfg.seeds - 1 do
  local P = sprint.nn.params(s)
  local model = sprint.model.backbone(P, {
    kind = cfg.backbone, n_items = ds:n_items(), max_len = cfg.max_len, dim = cfg.dim, layers = cfg.layers,
    heads = cfg.heads, dropout = cfg.dropout, mask_prob = cfg.mask_prob, mask_last_prob = cfg.mask_last_prob,
    output_head = cfg.backbone == "bert4rec" and cfg.output_head or nil, loss = cfg.loss ~= "" and cfg.loss or nil,
    one_pass = cfg.one_pass,
  })
  print(string.format("-- seed %d: %d parameters, loss %s", s, P:numel(), model.kind == "bert4rec" and "cloze" or model.loss_kind))
  local result = sprint.train.fit(model, ds, {
    epochs = cfg.epochs, batch_size = cfg.batch_size, max_len = cfg.max_len, lr = cfg.lr, weight_decay = cfg.l2,
    seed = s, patience = cfg.patience, metric = cfg.metric, eval_every = cfg.eval_every,
    n_uniform_neg = cfg.n_neg, prefix_augment = cfg.prefix_augment, resume = cfg.resume,
    run_dir = string.format("%s/seed-%d", dir, s),
    -- a rerun under other settings is refused rather than resumed from this directory
    identity = sprint.intents.stage2.identity(cfg, s, sprint.intents.stage2.BACKBONE_KEYS,
      cfg.one_pass and { "one_pass = true" } or nil),
  })
  local test = sprint.eval.rank(function(ctx, batch) return model:encode_last(ctx, batch.seq, batch.last) end, ds, {
    split = "test", max_len = cfg.max_len, ties = cfg.ties, mask_session_items = cfg.mask_session_items,
  })
  print(string.format("   best epoch %d (valid %s %.4f); test HR@10 %.4f NDCG@10 %.4f over %d sessions",
    result.best_epoch, cfg.metric, result.best, test.metrics["HR@10"], test.metrics["NDCG@10"], test.n))
  rep:add(name, test, { seed = s, best_epoch = result.best_epoch, epochs = result.epochs })
end

rep:write(dir)
print()
print(rep:markdown())
print("results: " .. dir .. "/results.json, " .. dir .. "/results.md; settings: " .. dir .. "/config.lua")
