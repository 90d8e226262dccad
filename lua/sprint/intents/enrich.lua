-- intents/enrich.lua — the schedule of collaborative intent enrichment (paper §4.2.2): every
-- rho epochs (the paper's rho = 5) every training session is relabelled with
-- y^(t) = (yhat_S + yhat_nbr) / 2 (Eq. 14; or yhat_S alone, "self", or yhat_nbr alone,
-- "neighbours", the ablation's rows), its neighbours the top-K cosine-similar sessions of its
-- mini-batch weighted by the softmax of their similarities (Eq. 12-13; the math is C:
-- sp_intent_enrich behind intent_model:enrich).
--   local hooks = enrich.hooks(sprint_model, ds, { every = 5, k = 5, mode = "both" })
--   sprint.train.fit(sprint_model, ds, { ..., hooks = hooks })
-- Each session is relabelled from one example, the whole session (its last max_len items):
-- all its prefix examples share that one label row (the paper's y_S is per session). The pass
-- runs in evaluation mode (no dropout) in a private context, so the training's random stream
-- is untouched and a resumed run relabels exactly as an uninterrupted one.
local M = {}

-- Relabels every training session of ds with model (a sprint.sprint_model with a label store),
-- in the batches' order of `epoch`. opts: k (5), mode ("both"), batch_size (256), max_len (50),
-- seed (1: the batches' shuffle). Returns the number of sessions relabelled.
function M.refresh(model, ds, epoch, opts)
  opts = opts or {}
  if not model.labels then error("enrich.refresh: the model has no label store", 2) end
  local sprint = require "sprint"
  model._refresh_batches = model._refresh_batches or ds:batches { split = "train", batch_size = opts.batch_size or 256,
    max_len = opts.max_len or 50, prefix_augment = false, n_uniform_neg = 0, seed = opts.seed or 1 }
  model._refresh_ctx = model._refresh_ctx or sprint.ctx(opts.seed or 1)
  local ctx = model._refresh_ctx
  ctx:eval()
  return model.labels:refresh(model, ctx, model._refresh_batches, { epoch = epoch, k = opts.k, mode = opts.mode })
end

-- The hooks for sprint.train.fit: every opts.every epochs (default 5) refresh with opts.
function M.hooks(model, ds, opts)
  opts = opts or {}
  return {
    every = opts.every or 5,
    on_every = function(epoch) M.refresh(model, ds, epoch, opts) end,
  }
end

return M
