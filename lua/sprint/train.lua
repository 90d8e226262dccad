-- train.lua — the training loop: epochs over shuffled batches, evaluation every N epochs,
-- early stopping on a chosen metric with patience, the best model kept, a progress line per
-- epoch, checkpoints after every epoch (model, optimiser, rng and loop state, each written
-- atomically) from which a killed run resumes with the same numbers, and the hooks later
-- stages use: a function called every `every` epochs and extra loss terms.
--   local result = sprint.train.fit(model, ds, { epochs = 200, metric = "NDCG@10", run_dir = dir })
local lib = require "sprint.lib"
local C = lib.C

local M = {}

M.defaults = {
  epochs = 200, batch_size = 256, max_len = 50, lr = 1e-3, weight_decay = 0, decoupled = false,
  clip_norm = 0, seed = 1, eval_every = 1, patience = 10, metric = "NDCG@10", eval_split = "valid",
  eval_batch_size = 256, prefix_augment = true, n_uniform_neg = 1, n_hard_neg = 0, resume = true,
  ks = { 5, 10, 20 }, verbose = true,
}

local now = require("sprint.clock").now -- wall-clock seconds

-- A Lua literal for plain data (numbers, strings, booleans, nested tables).
local function serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return tostring(v):find("nan") and "0/0" or (v > 0 and "math.huge" or "-math.huge") end
    return string.format("%.17g", v)
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do
      local key = type(k) == "number" and ("[" .. k .. "]") or ("[" .. string.format("%q", k) .. "]")
      parts[#parts + 1] = indent .. "  " .. key .. " = " .. serialize(v[k], indent .. "  ")
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  end
  error("train: cannot serialize a " .. t)
end
M.serialize = serialize

local function write_atomic(path, text)
  if C.sp_file_write_atomic(path, text, #text) ~= 0 then lib.fail("train: writing " .. path, 3) end
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function mkdir(path)
  os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
end

-- The default evaluator: full ranking with sprint.eval over a split.
local function default_evaluate(model, ds, split, o)
  local eval = require "sprint.eval"
  return eval.rank(function(ctx, batch) return model:encode_last(ctx, batch.seq, batch.last) end, ds,
    { split = split, ks = o.ks, batch_size = o.eval_batch_size, max_len = o.max_len, ctx = o.eval_ctx })
end

function M.fit(model, ds, user_opts)
  local o = {}
  for k, v in pairs(M.defaults) do o[k] = v end
  for k, v in pairs(user_opts or {}) do
    if M.defaults[k] == nil and k ~= "run_dir" and k ~= "hooks" and k ~= "evaluate" and k ~= "log"
        and k ~= "hard_negatives" and k ~= "eval_ctx" then
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

  local opt = sprint.optim.adam(P, { lr = o.lr, weight_decay = o.weight_decay, decoupled = o.decoupled,
                                     clip_norm = o.clip_norm })
  local ctx = sprint.ctx(o.seed)
  -- evaluation's own context: its arena, once grown, is reused at every evaluation
  o.eval_ctx = o.eval_ctx or sprint.ctx(o.seed)
  -- a model with whole_sessions (BERT4Rec's cloze task) takes one example per session
  local batches = ds:batches { split = "train", batch_size = o.batch_size, max_len = o.max_len,
    prefix_augment = o.prefix_augment and not model.whole_sessions, n_uniform_neg = o.n_uniform_neg, n_hard_neg = o.n_hard_neg,
    seed = o.seed }

  -- Eq. 16's hard negatives: { [session index (1-based)] = { item, ... } }, e.g. the items an
  -- LLM wrongly predicted; sessions without a list draw a uniform negative in their place.
  for session, items in pairs(o.hard_negatives or {}) do batches:set_hard_negatives(session, items) end

  local state = { epoch = 0, best = -math.huge, best_epoch = 0, bad_evals = 0, history = {} }
  local ckpt = o.run_dir and (o.run_dir .. "/checkpoint") or nil
  if ckpt then mkdir(ckpt) end
  if ckpt and o.resume and exists(ckpt .. "/state.lua") then
    local saved = assert(loadfile(ckpt .. "/state.lua"))()
    P:load(ckpt .. "/model.params")
    opt:load(ckpt .. "/adam.state")
    local r = C.sp_ctx_rng(ctx._p)
    r.seed, r.counter = saved.rng_seed, saved.rng_counter
    state = saved.loop
    log(string.format("resumed from %s after epoch %d (best %s %.4f at epoch %d)", ckpt, state.epoch, o.metric,
      state.best, state.best_epoch))
  end

  local function checkpoint()
    if not ckpt then return end
    P:save(ckpt .. "/model.params")
    opt:save(ckpt .. "/adam.state")
    local r = C.sp_ctx_rng(ctx._p)
    -- state.lua last: a checkpoint counts only once its state file says so
    write_atomic(ckpt .. "/state.lua", "return " .. serialize({
      rng_seed = tonumber(r.seed), rng_counter = tonumber(r.counter), loop = state,
    }) .. "\n")
  end

  local stop, best_copy = false, nil
  while state.epoch < o.epochs and not stop do
    local epoch = state.epoch + 1
    local t0 = now()
    local loss_sum, n_batches = 0, 0
    ctx:train(true)
    for rows in batches:epoch(epoch) do
      ctx:reset()
      local loss = model:loss(ctx, batches, rows)
      if hooks.extra_loss then
        local extra = hooks.extra_loss(ctx, batches, rows, model, epoch)
        if extra then loss = ctx:add(loss, extra) end
      end
      opt:zero_grad()
      ctx:backward(loss)
      opt:step()
      loss_sum, n_batches = loss_sum + loss:item(), n_batches + 1
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
        if o.run_dir then
          P:save(o.run_dir .. "/best.params")
        else
          best_copy = {}
          for name, t in P:iter() do best_copy[name] = t:clone() end
        end
      else
        state.bad_evals = state.bad_evals + 1
        if state.bad_evals >= o.patience then stop = true end
      end
    end
    state.epoch = epoch
    state.history[#state.history + 1] = record
    checkpoint()
    log(string.format("epoch %3d  loss %.4f  %s %s  (%.2f s%s)%s", epoch, record.loss, o.metric,
      record.metric and string.format("%.4f", record.metric) or "-", record.train_seconds,
      record.eval_seconds and string.format(" + eval %.2f s", record.eval_seconds) or "",
      stop and string.format("  early stop: no better %s in %d evaluations", o.metric, o.patience) or ""))
    if hooks.on_epoch then hooks.on_epoch(record, state) end
  end

  -- keep the best model
  if state.best_epoch > 0 then
    if o.run_dir and exists(o.run_dir .. "/best.params") then
      P:load(o.run_dir .. "/best.params")
    elseif best_copy then
      for name, t in P:iter() do C.sp_tensor_copy(t._p, best_copy[name]._p) end
    end
  end
  if logfile then logfile:close() end
  return { best = state.best, best_epoch = state.best_epoch, epochs = state.epoch, history = state.history }
end

return M
