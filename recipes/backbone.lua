-- backbone.lua — train and evaluate one session-based backbone on one dataset over several
-- seeds, and print a Table-2-style row (mean ± std over seeds, the paper's row beside it).
-- Everything below can be changed from the command line:
--   build/sprint run recipes/backbone.lua --set dataset=beauty --set backbone=sasrec
--   build/sprint run recipes/backbone.lua --set backbone=gru4rec --set seeds=1 --set epochs=20
local sprint = require "sprint"

local cfg = sprint.config {
  dataset = "beauty", backbone = "sasrec", seeds = 5, seed = 1,
  -- the paper's settings: 2 layers, 2 heads, d = 64; dropout, lr and L2 from its grids
  dim = 64, layers = 2, heads = 2, dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4,
  loss = "", mask_prob = 0.2, batch_size = 256, n_neg = 1,
  epochs = 200, patience = 10, metric = "NDCG@10", eval_every = 1,
  ties = "pessimistic", mask_session_items = false,
  run_dir = "runs/backbone", resume = true, threads = 0,
  tie_order = "input", -- order of same-time events (Beauty's reviews have day resolution)
}
sprint.set_num_threads(cfg.threads)

-- The paper's Backbone rows (Table 2); our preparations differ somewhat, see datasets/README.md.
local PAPER = {
  beauty = { sasrec = { ["HR@10"] = 0.0297, ["NDCG@10"] = 0.0164 },
             bert4rec = { ["HR@10"] = 0.0310, ["NDCG@10"] = 0.0165 } },
  yelp = { sasrec = { ["HR@10"] = 0.0554, ["NDCG@10"] = 0.0275 } },
}

local ds = sprint.data.load(cfg.dataset, cfg.tie_order ~= "input" and { tie_order = cfg.tie_order } or nil)
print(string.format("sprint %s | %s: %d sessions, %d items | %s | blas: %s", sprint.version(), cfg.dataset,
  ds:n_sessions(), ds:n_items(), cfg.backbone, sprint.blas_info()))

local name = cfg.backbone
local dir = string.format("%s/%s-%s%s", cfg.run_dir, cfg.dataset, cfg.backbone,
  cfg.tie_order ~= "input" and ("-ties-" .. cfg.tie_order) or "")
-- the resolved settings, each with its origin (default, config file or --set), beside the results
os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
local f = assert(io.open(dir .. "/config.lua", "w"))
f:write(sprint.config.dump(cfg), "\n")
f:close()

local rep = sprint.report.new { title = string.format("%s, %s (test split, full ranking, %s ties)",
  cfg.dataset, cfg.backbone, cfg.ties) }
local paper = PAPER[cfg.dataset] and PAPER[cfg.dataset][cfg.backbone]
if paper then rep:reference("paper " .. name, paper, "Lee et al. 2025, Table 2") end

for s = cfg.seed, cfg.seed + cfg.seeds - 1 do
  local P = sprint.nn.params(s)
  local model = sprint.model.backbone(P, {
    kind = cfg.backbone, n_items = ds:n_items(), max_len = cfg.max_len, dim = cfg.dim, layers = cfg.layers,
    heads = cfg.heads, dropout = cfg.dropout, mask_prob = cfg.mask_prob,
    loss = cfg.loss ~= "" and cfg.loss or nil,
  })
  print(string.format("-- seed %d: %d parameters, loss %s", s, P:numel(), model.kind == "bert4rec" and "cloze" or model.loss_kind))
  local result = sprint.train.fit(model, ds, {
    epochs = cfg.epochs, batch_size = cfg.batch_size, max_len = cfg.max_len, lr = cfg.lr, weight_decay = cfg.l2,
    seed = s, patience = cfg.patience, metric = cfg.metric, eval_every = cfg.eval_every,
    n_uniform_neg = cfg.n_neg, resume = cfg.resume, run_dir = string.format("%s/seed-%d", dir, s),
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
