-- test_train.lua — the backbones and the training loop: each backbone learns the planted
-- dataset well above chance; early stopping keeps the best model; a run killed after some
-- epochs and resumed from its checkpoint ends with exactly the parameters of an uninterrupted
-- run; bad options are errors.
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data

local tests = {}

local function planted()
  return h.planted { n_sessions = 1500, n_intents = 6, items_per_intent = 30, follow = 0.85, noise = 0.05 }
end

local function model(ds, kind, seed)
  local P = sprint.nn.params(seed or 1)
  return sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = 10, dim = 32, heads = 2,
                                     layers = 1, dropout = 0.1 })
end

local function quiet() end

for _, kind in ipairs({ "sasrec", "bert4rec", "gru4rec" }) do
  tests[kind .. "_learns_the_planted_dataset"] = function()
    local ds = planted()
    local m = model(ds, kind)
    local res = sprint.train.fit(m, ds, { epochs = 12, batch_size = 64, max_len = 10, lr = 3e-3, patience = 4,
                                          metric = "HR@10", log = quiet })
    local test = sprint.eval.rank(function(ctx, b) return m:encode_last(ctx, b.seq, b.last) end, ds,
      { split = "test", max_len = 10 })
    local chance = 10 / ds:n_items()
    h.truthy(test.metrics["HR@10"] > 4 * chance, string.format("%s: test HR@10 %.3f vs chance %.3f (best epoch %d)",
      kind, test.metrics["HR@10"], chance, res.best_epoch))
  end
end

local params_bytes = h.params_bytes

function tests.resume_gives_the_numbers_of_an_uninterrupted_run()
  local ds = planted()
  local opts = { epochs = 4, batch_size = 64, max_len = 10, lr = 3e-3, patience = 100, metric = "HR@10", log = quiet }
  local dir_a, dir_b = os.tmpname(), os.tmpname()
  os.remove(dir_a)
  os.remove(dir_b)
  -- uninterrupted
  local a = model(ds, "sasrec", 7)
  opts.run_dir = dir_a
  local ra = sprint.train.fit(a, ds, opts)
  -- interrupted after 2 epochs, then a new process would start from scratch objects and resume
  local b1 = model(ds, "sasrec", 7)
  opts.run_dir, opts.epochs = dir_b, 2
  sprint.train.fit(b1, ds, opts)
  local b2 = model(ds, "sasrec", 99) -- different init: everything must come from the checkpoint
  opts.epochs = 4
  local rb = sprint.train.fit(b2, ds, opts)
  h.eq(rb.epochs, 4)
  h.eq(#rb.history, 4)
  for e = 1, 4 do
    h.eq(rb.history[e].loss, ra.history[e].loss, "epoch " .. e .. " loss")
    h.eq(rb.history[e].metric, ra.history[e].metric, "epoch " .. e .. " metric")
  end
  h.truthy(params_bytes(a.params) == params_bytes(b2.params), "final parameters differ after resuming")
  os.execute("rm -rf '" .. dir_a .. "' '" .. dir_b .. "'")
end

-- A checkpoint records the identity train.fit was given; a rerun under another identity is
-- refused, naming the first line that differs, and never resumed; the same identity resumes.
function tests.a_checkpoint_is_never_resumed_under_another_identity()
  local ds = planted()
  local dir = os.tmpname()
  os.remove(dir)
  local opts = { epochs = 1, batch_size = 64, max_len = 10, lr = 3e-3, metric = "HR@10", log = quiet, run_dir = dir,
                 identity = "seed = 7\nlr = 0.003" }
  sprint.train.fit(model(ds, "sasrec", 7), ds, opts)
  opts.epochs, opts.identity = 2, "seed = 7\nlr = 0.002"
  h.raises("trained under other settings ('lr = 0.003' there, 'lr = 0.002' now)", sprint.train.fit,
    model(ds, "sasrec", 7), ds, opts)
  opts.identity = "seed = 7\nlr = 0.003"
  local lines = {}
  opts.log = function(l) lines[#lines + 1] = l end
  local res = sprint.train.fit(model(ds, "sasrec", 7), ds, opts)
  h.eq(res.epochs, 2)
  h.truthy(lines[1]:find("resumed from", 1, true), lines[1])
  os.execute("rm -rf '" .. dir .. "'")
end

function tests.early_stopping_keeps_the_best_model()
  local ds = planted()
  local m = model(ds, "gru4rec")
  local seen = {}
  local res = sprint.train.fit(m, ds, {
    epochs = 6, batch_size = 64, max_len = 10, lr = 3e-3, metric = "HR@10", patience = 1, log = quiet,
    -- a fake evaluator: best at epoch 2, then worse, so training stops after epoch 3
    evaluate = function(_, _, _, _)
      local v = ({ 0.1, 0.5, 0.2, 0.9, 0.9, 0.9 })[#seen + 1]
      local snapshot = params_bytes(m.params)
      seen[#seen + 1] = snapshot
      return { metrics = { ["HR@10"] = v } }
    end,
  })
  h.eq(res.best_epoch, 2)
  h.eq(res.epochs, 3, "patience 1 stops one evaluation after the best")
  h.truthy(params_bytes(m.params) == seen[2], "the model was not restored to its best epoch")
end

function tests.hooks_run_every_n_epochs_and_extra_losses_count()
  local ds = planted()
  local m = model(ds, "sasrec")
  local calls, extra_calls = {}, 0
  sprint.train.fit(m, ds, {
    epochs = 4, batch_size = 128, max_len = 10, eval_every = 4, log = quiet,
    hooks = {
      every = 2, on_every = function(epoch) calls[#calls + 1] = epoch end,
      extra_loss = function(ctx) extra_calls = extra_calls + 1; return ctx:scale(ctx:sum(ctx:mul(m.items, m.items)), 0) end,
    },
  })
  h.eq(h.show(calls), "{2, 4}")
  -- hard negatives reach the batches (a bad item id is the batcher's error)
  h.raises("item 99999", function()
    sprint.train.fit(m, ds, { epochs = 1, n_hard_neg = 1, hard_negatives = { [1] = { 99999 } }, log = quiet })
  end)
  h.truthy(extra_calls > 0)
  h.raises("unknown option 'epoch'", function() sprint.train.fit(m, ds, { epoch = 3 }) end)
end

return tests
