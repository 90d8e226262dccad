-- train.lua — the training loop: epochs over shuffled batches, evaluation every N epochs,
-- early stopping on a chosen metric with patience, the best model kept, a progress line per
-- epoch, a checkpoint after every epoch (model, optimiser, best model, rng and loop state,
-- committed as one unit by sprint.checkpoint) from which a killed run resumes with the same
-- numbers, a stop with an error at the first non-finite loss, and the hooks later stages use:
-- a function called every `every` epochs and extra loss terms. A model with state outside its
-- parameters (SPRINT's intent labels) offers save_state(path) and load_state(path); that state
-- is committed with each epoch's checkpoint and restored on resume.
--   local result = sprint.train.fit(model, ds, { epochs = 200, metric = "NDCG@10", run_dir = dir })
local lib = require "sprint.lib"
local checkpoint = require "sprint.checkpoint"
local C = lib.C

local M = {}

M.defaults = {
  epochs = 200, batch_size = 256, max_len = 50, lr = 1e-3, weight_decay = 0, decoupled = false,
  clip_norm = 0, seed = 1, eval_every = 1, patience = 10, metric = "NDCG@10", eval_split = "valid",
  eval_batch_size = 256, prefix_augment = true, n_uniform_neg = 1, n_hard_neg = 0, resume = true,
  ks = { 5, 10, 20 }, verbose = true,
  -- each window of steps runs at the faster of the thread count and one thread (sprint.thread_tuner):
  -- under a competing load more threads can be slower; results do not depend on it
  tune_threads = true,
}

local now = require("sprint.clock").now -- wall-clock seconds

local function finite(x) return x - x == 0 end -- false for nan, inf and -inf

-- The first parameter element that is not finite: name, 0-based index, value; or nil.
local function first_nonfinite(P)
  for name, t in P:iter() do
    local d = t:data()
    for i = 0, t:numel() - 1 do
      if d[i] - d[i] ~= 0 then return name, i, d[i] end
    end
  end
end

-- The default evaluator: full ranking with sprint.eval over a split.
local function default_evaluate(model, ds, split, o)
  local eval = require "sprint.eval"
  return eval.rank(function(ctx, batch) return model:encode_last(ctx, batch.seq, batch.last) end, ds,
    { split = split, ks = o.ks, batch_size = o.eval_batch_size, max_len = o.max_len, ctx = o.eval_ctx })
end

local function fit(model, ds, user_opts)
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  for k, v in pairs(user_opts or {}) do
    if M.defaults[k] == nil and k ~= "run_dir" and k ~= "hooks" and k ~= "evaluate" and k ~= "log"
        and k ~= "hard_negatives" and k ~= "eval_ctx" and k ~= "identity" then
      error("train.fit: unknown option '" .. tostring(k) .. "'", 2)
    end
    o[k] = v
  end
  local say = o.log or (o.verbose and print or function() end)
  -- progress lines also go to <run_dir>/train.log (appended: a resumed run continues it)
  local logfile
  if o.run_dir then
    os.execute("mkdir -p '" .. o.run_dir:gsub("'", "'\\''") .. "'")
    logfile = io.open(o.run_dir .. "/train.log", "a")
  end
  local function log(line)
    say(line)
    if logfile then
      logfile:write(line, "\n")
      logfile:flush()
    end
  end
  local hooks = o.hooks or {}
  local evaluate = o.evaluate or default_evaluate
  local sprint = require "sprint"
  local P = model.params
  -- the default device (sprint.set_device): the parameters move before the optimiser is made,
  -- so its moments live beside them
  if P:device() ~= sprint.device() then P:to_device(sprint.device()) end

  local opt = sprint.optim.adam(P, { lr = o.lr, weight_decay = o.weight_decay, decoupled = o.decoupled,
                                     clip_norm = o.clip_norm })
  local ctx = sprint.ctx(o.seed)
  -- evaluation's own context: its arena, once grown, is reused at every evaluation
  o.eval_ctx = o.eval_ctx or sprint.ctx(o.seed)
  -- a model with whole_sessions (BERT4Rec's cloze task) or one_pass takes one example per session
  local batches = ds:batches { split = "train", batch_size = o.batch_size, max_len = o.max_len,
    prefix_augment = o.prefix_augment and not model.whole_sessions and not model.one_pass, n_uniform_neg = o.n_uniform_neg, n_hard_neg = o.n_hard_neg,
    seed = o.seed }

  -- Eq. 16's hard negatives: { [session index (1-based)] = { item, ... } }, e.g. the items an
  -- LLM wrongly predicted; sessions without a list draw a uniform negative in their place.
  for session, items in pairs(o.hard_negatives or {}) do batches:set_hard_negatives(session, items) end

  -- the loop state, as the checkpoint stores it; `epoch` is the last epoch completed
  local state = { epoch = 0, best = -math.huge, best_epoch = 0, bad_evals = 0, stopped = false, history = {} }
  local ck = o.run_dir and checkpoint.open(o.run_dir .. "/checkpoint") or nil
  local best_file, best_copy -- the best model: a checkpoint file, or copies when there is no run_dir
  local saved = ck and o.resume and ck:load() or nil
  -- identity: text naming what is trained (a recipe's model and training settings); a
  -- checkpoint made under another identity is never resumed
  if saved and o.identity and saved.identity == nil then
    log("note: " .. saved.path .. " records no identity (an older checkpoint); resumed as it is")
  elseif saved and o.identity and saved.identity ~= o.identity then
    local function first_difference(a, b)
      a, b = a or "", b or ""
      local la, lb = {}, {}
      for l in (a .. "\n"):gmatch("([^\n]*)\n") do la[#la + 1] = l end
      for l in (b .. "\n"):gmatch("([^\n]*)\n") do lb[#lb + 1] = l end
      for i = 1, math.max(#la, #lb) do
        if la[i] ~= lb[i] then return string.format("'%s' there, '%s' now", la[i] or "", lb[i] or "") end
      end
      return "no identity there"
    end
    error(string.format("train.fit: %s was trained under other settings (%s); it is not resumed. Use another "
      .. "run_dir, or resume = false to start afresh", saved.path, first_difference(saved.identity, o.identity)), 2)
  end
  if saved then
    local ok, err = pcall(function()
      P:load(ck:path(saved.files.model))
      opt:load(ck:path(saved.files.adam))
      if model.load_state then
        if not saved.files.extra then error(saved.path .. " holds no model state (" .. ck.dir .. "/extra-NNNN.bin)", 0) end
        model:load_state(ck:path(saved.files.extra))
      end
    end)
    if not ok then error("train.fit: resuming from " .. saved.path .. ": " .. tostring(err), 2) end
    local r = C.sp_ctx_rng(ctx._p)
    r.seed, r.counter = saved.rng_seed, saved.rng_counter
    state, best_file = saved.loop, saved.files.best
    ck:sweep() -- what a kill left behind: temporary files, an uncommitted epoch
    log(string.format("resumed from %s after epoch %d (best %s %.4f at epoch %d)", saved.path, state.epoch, o.metric,
      state.best, state.best_epoch))
  elseif ck then
    ck:discard() -- a fresh start: no leftovers of an earlier run (resume = false) or of a kill
  end

  -- A non-finite loss or gradient ends training with an error; the weights it produced are
  -- never saved, and the last committed checkpoint stays as it was (a rerun resumes from it).
  local function stop_nonfinite(what, epoch, batch)
    local kept = not ck and "nothing was saved"
      or state.epoch > 0 and string.format("the checkpoint of epoch %d in %s is kept", state.epoch, ck.dir)
      or "no checkpoint had been written"
    local msg = string.format("train.fit: epoch %d%s: %s; training stopped (%s). Lower lr (%g)%s",
      epoch, batch and (", batch " .. batch) or "", what, kept, o.lr,
      o.clip_norm > 0 and string.format(" or clip_norm (%g)", o.clip_norm) or ", or set clip_norm (e.g. 1)")
    log(msg)
    if logfile then logfile:close() end
    error(msg, 3)
  end

  local tune = require("sprint.thread_tuner").new { enabled = o.tune_threads }
  local tokens = require("sprint.thread_tuner").tokens
  while state.epoch < o.epochs and not state.stopped do
    local epoch = state.epoch + 1
    local t0 = now()
    local loss_sum, n_batches = 0, 0
    ctx:train(true)
    for rows in batches:epoch(epoch) do
      tune:before()
      ctx:reset()
      local loss = model:loss(ctx, batches, rows)
      if hooks.extra_loss then
        local extra = hooks.extra_loss(ctx, batches, rows, model, epoch)
        if extra then loss = ctx:add(loss, extra) end
      end
      n_batches = n_batches + 1
      local value = loss:item()
      if not finite(value) then stop_nonfinite("the loss is " .. tostring(value), epoch, n_batches) end
      opt:zero_grad()
      ctx:backward(loss)
      opt:step()
      -- Adam computes the gradient norm only to clip it; without clipping, a non-finite
      -- gradient shows in the next loss or in the weights' check after the epoch
      if o.clip_norm > 0 and not finite(opt:last_grad_norm()) then
        stop_nonfinite("the gradient norm is " .. tostring(opt:last_grad_norm()), epoch, n_batches)
      end
      loss_sum = loss_sum + value
      tune:after(tokens(batches.seq, rows))
    end
    local bad_name, bad_i, bad_v = first_nonfinite(P)
    if bad_name then
      stop_nonfinite(string.format("parameter '%s' holds %s at element %d after the epoch's updates", bad_name,
        tostring(bad_v), bad_i), epoch)
    end
    local record = { epoch = epoch, loss = n_batches > 0 and loss_sum / n_batches or 0, train_seconds = now() - t0 }
    if hooks.every and hooks.on_every and epoch % hooks.every == 0 then hooks.on_every(epoch, model, ctx) end
    if epoch % o.eval_every == 0 or epoch == o.epochs then
      local te = now()
      local result = evaluate(model, ds, o.eval_split, o)
      local value = result.metrics[o.metric]
      if value == nil then error("train.fit: the evaluator returned no metric '" .. o.metric .. "'", 2) end
      record.metric, record.eval_seconds = value, now() - te
      if value > state.best then
        state.best, state.best_epoch, state.bad_evals = value, epoch, 0
        if ck then
          best_file = ck:save_best(P, epoch) -- counts once this epoch's commit names it
        else
          best_copy = {}
          for name, t in P:iter() do best_copy[name] = t:clone() end
        end
      else
        state.bad_evals = state.bad_evals + 1
        if state.bad_evals >= o.patience then state.stopped = true end
      end
    end
    state.epoch = epoch
    state.history[#state.history + 1] = record
    if ck then
      ck:commit { epoch = epoch, params = P, optimiser = opt, rng = C.sp_ctx_rng(ctx._p), best = best_file, loop = state,
                  identity = o.identity,
                  extra = model.save_state and function(path) model:save_state(path) end or nil }
    end
    log(string.format("epoch %3d  loss %.4f  %s %s  (%.2f s%s)%s", epoch, record.loss, o.metric,
      record.metric and string.format("%.4f", record.metric) or "-", record.train_seconds,
      record.eval_seconds and string.format(" + eval %.2f s", record.eval_seconds) or "",
      state.stopped and string.format("  early stop: no better %s in %d evaluations", o.metric, o.patience) or ""))
    if hooks.on_epoch then hooks.on_epoch(record, state) end
  end

  -- keep the best model (and leave a copy beside the run's other outputs)
  if state.best_epoch > 0 then
    if ck then
      P:load(ck:path(best_file))
      P:save(o.run_dir .. "/best.params")
    elseif best_copy then
      for name, t in P:iter() do C.sp_tensor_copy(t._p, best_copy[name]._p) end
    end
  end
  if logfile then logfile:close() end
  return { best = state.best, best_epoch = state.best_epoch, epochs = state.epoch, history = state.history }
end

-- One process at a time trains a run directory (two recipes, or a grid's cells, sharing a
-- backbone run): the second waits for the first, then resumes or reuses what it left.
function M.fit(model, ds, user_opts)
  local dir = type(user_opts) == "table" and user_opts.run_dir
  local lock
  if dir then
    require("sprint.files").mkdir(dir)
    lock = require("sprint.grid").lock(dir .. "/.lock", user_opts.log or print)
  end
  local threads = C.sp_get_num_threads() -- the thread tuner may end on fewer: restored after
  local ok, result = pcall(fit, model, ds, user_opts)
  C.sp_set_num_threads(threads)
  if lock then lock.release() end
  if not ok then error(result, 0) end
  return result
end

return M
