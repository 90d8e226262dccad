-- eval.lua — evaluation of a session model on a split: each session's last item is the target,
-- the items before it the input; the engine ranks the target over all items (or over a
-- candidate set) and metrics come from the ranks, which are kept per session for comparisons.
--   local res = eval.rank(model, ds, { split = "test", ks = {5, 10, 20} })
--   res.metrics["NDCG@10"], res.ranks[i] (session res.sessions[i]), eval.per_session(res, "HR@10")
--
-- The model is a function encode(ctx, batch) -> h, items (or a table with :encode(ctx, batch)):
--   h      (B, d) float32, one row per batch row (rows past batch.rows are padding, any value);
--   items  (V, d) float32, the item table, row 0 padding, rows 1..n_items ranked, V >= n + 1
--          (extra rows, e.g. BERT4Rec's mask token, are ignored).
-- batch holds int32 tensors reused from batch to batch: seq (B, max_len) the input items
-- (right-aligned when pad_left, SASRec's layout; 0 = padding), last (B) the 0-based column of
-- the last input item, session (B) 0-based dataset indices, target (B) the items to rank (for
-- oracles in tests; a model must not look at them), history (B, H) every input item of the
-- session, untruncated (masking uses it); and rows (real rows), size (B), max_len, pad_left,
-- n_items. encode runs with grad recording off and the context in eval mode.
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local C = lib.C

local M = {}

M.TIES = { pessimistic = 0, optimistic = 1, average = 2 }
M.DEFAULT_KS = { 5, 10, 20 }

local OPTS = {
  split = "string", ks = "table", batch_size = "number", max_len = "number", ties = "string",
  mask_session_items = "boolean", candidates = "any", n_candidates = "number", seed = "number",
  ctx = "table", pad_left = "boolean", n_items = "number", prefixes = "boolean",
}

local sorted_keys = require("sprint.lib").sorted_keys

local function int_at_least(v, lo, name)
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo then
    error(string.format("eval.rank: %s must be an integer >= %d, got %s", name, lo, tostring(v)), 3)
  end
  return v
end

-- The settings with defaults, each checked.
local function settings(opts)
  if opts ~= nil and type(opts) ~= "table" then error("eval.rank: options must be a table", 3) end
  opts = opts or {}
  for k, v in pairs(opts) do
    local kind = OPTS[k]
    if not kind then
      error("eval.rank: unknown option '" .. tostring(k) .. "'; known: " .. table.concat(sorted_keys(OPTS), ", "), 3)
    end
    if kind ~= "any" and type(v) ~= kind then
      error(string.format("eval.rank: option %s must be a %s, got %s", k, kind, type(v)), 3)
    end
  end
  local s = {
    split = opts.split or "test",
    ks = opts.ks or M.DEFAULT_KS,
    batch_size = int_at_least(opts.batch_size or 256, 1, "batch_size"),
    max_len = int_at_least(opts.max_len or 50, 1, "max_len"),
    ties = opts.ties or "pessimistic",
    mask_session_items = opts.mask_session_items or false,
    n_candidates = int_at_least(opts.n_candidates or 20, 1, "n_candidates"),
    seed = int_at_least(opts.seed or 1, 0, "seed"),
    pad_left = opts.pad_left ~= false,
    n_items = opts.n_items,
    prefixes = opts.prefixes or false,
  }
  if s.split ~= "train" and s.split ~= "valid" and s.split ~= "test" then
    error("eval.rank: split must be train, valid or test, got " .. tostring(s.split), 3)
  end
  if not M.TIES[s.ties] then
    error("eval.rank: ties must be pessimistic, optimistic or average, got " .. tostring(s.ties), 3)
  end
  for i, k in ipairs(s.ks) do int_at_least(k, 1, "ks[" .. i .. "]") end
  local c = opts.candidates
  if c == nil then
    s.candidates = "full"
  elseif c == "uniform" then
    s.candidates = "uniform"
  elseif type(c) == "function" or type(c) == "table" then
    s.candidates = "given"
  else
    error("eval.rank: candidates must be nil (full ranking), \"uniform\", a function or a table, got "
      .. tostring(c), 3)
  end
  return s
end

-- A C failure inside the evaluation loop (raised again at eval.rank's caller).
local function c_fail(what)
  error("sprint: " .. what .. " failed: " .. lib.last_error(), 0)
end

-- ---- metrics from ranks ---------------------------------------------------------------------

-- "HR@10" (or "H@10"), "NDCG@10" ("N@10"), "MRR@10", "MRR" -> kind, k (nil for the full MRR).
local function parse_metric(name)
  local kind, k = tostring(name):match("^(%a+)@(%d+)$")
  if not kind then
    if name == "MRR" then return "MRR", nil end
    error("eval: unknown metric '" .. tostring(name) .. "' (HR@k, NDCG@k, MRR@k or MRR)", 3)
  end
  kind = ({ HR = "HR", H = "HR", NDCG = "NDCG", N = "NDCG", MRR = "MRR", M = "MRR" })[kind]
  k = tonumber(k)
  if not kind or k < 1 then error("eval: unknown metric '" .. tostring(name) .. "'", 3) end
  return kind, k
end
M.parse_metric = parse_metric

-- The value one rank contributes to a metric (the engine's formulas: sp_rank_metrics).
local log2 = math.log(2)
local function metric_of(kind, k, r)
  if k and r > k then return 0 end
  if kind == "HR" then return 1 end
  if kind == "NDCG" then return log2 / math.log(r + 1) end
  return 1 / r
end

-- Per-session values of a metric for a result of eval.rank (or a plain list of ranks).
function M.per_session(res, name)
  local ranks = res.ranks or res
  local kind, k = parse_metric(name)
  local out = {}
  for i = 1, #ranks do out[i] = metric_of(kind, k, ranks[i]) end
  return out
end

-- Metrics of a list of ranks: { ["HR@5"] = ..., ["NDCG@5"] = ..., ["MRR@5"] = ..., MRR = ... },
-- computed by the engine (double sums in index order).
function M.metrics(ranks, ks)
  ks = ks or M.DEFAULT_KS
  local n = #ranks
  if n < 1 then error("eval.metrics: no ranks", 2) end
  for i, k in ipairs(ks) do
    if type(k) ~= "number" or k % 1 ~= 0 or k < 1 then
      error("eval.metrics: ks[" .. i .. "] = " .. tostring(k) .. " must be an integer >= 1", 2)
    end
  end
  local buf = ffi.new("float[?]", n)
  for i = 1, n do buf[i - 1] = ranks[i] end
  return M._metrics_of(buf, n, ks, 2)
end

function M._metrics_of(buf, n, ks, level)
  local cks = ffi.new("int[?]", math.max(#ks, 1))
  for i, k in ipairs(ks) do cks[i - 1] = k end
  local out = ffi.new("double[?]", 3 * #ks + 1)
  if C.sp_rank_metrics(out, buf, n, cks, #ks) ~= 0 then lib.fail("eval: metrics", level + 1) end
  local m = {}
  for i, k in ipairs(ks) do
    m["HR@" .. k] = out[3 * (i - 1)]
    m["NDCG@" .. k] = out[3 * (i - 1) + 1]
    m["MRR@" .. k] = out[3 * (i - 1) + 2]
  end
  m.MRR = out[3 * #ks]
  return m
end

-- ---- candidate sets ---------------------------------------------------------------------------

-- A candidates function for eval.rank: each session's target plus the n - 1 items a (pretrained)
-- model scores highest outside the session (the paper's Table 4: SASRec, n = 20).
function M.model_candidates(model, n)
  n = n or 20
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then error("eval.model_candidates: n must be an integer >= 1", 2) end
  local encode = M._encoder(model, 2)
  local out
  return function(ctx, batch)
    local h, items = encode(ctx, batch)
    if not out or out:size(1) ~= batch.size then out = tensor.new({ batch.size, n }, "i32") end
    if C.sp_rank_topk_candidates(ctx._p, out._p, h._p, items._p, batch.target._p, batch.history._p,
        batch.n_items) ~= 0 then
      c_fail("eval.model_candidates")
    end
    return out
  end
end

-- encode as a function of (ctx, batch), from a function or an object with :encode.
function M._encoder(model, level)
  if type(model) == "function" then return model end
  if type(model) == "table" and type(model.encode) == "function" then
    return function(ctx, batch) return model:encode(ctx, batch) end
  end
  error("eval: the model must be a function encode(ctx, batch) or a table with :encode(ctx, batch)", level + 1)
end

-- ---- the evaluation loop ----------------------------------------------------------------------

-- The longest input (session length - 1) over the split's sessions, remembered per dataset.
local longest_cache = setmetatable({}, { __mode = "k" })
local function longest_input(ds, split)
  local known = longest_cache[ds]
  if known and known[split] then return known[split] end
  local H, SPLITS = 1, require("sprint.data").SPLITS
  for i = 1, ds:n_sessions() do
    local v = ds:session_view(i)
    if SPLITS[v.split] == split and v.len - 1 > H then H = v.len - 1 end
  end
  longest_cache[ds] = known or {}
  longest_cache[ds][split] = H
  return H
end

M._longest_input = longest_input

-- Runs fn(ctx) with grad recording off and the context in eval mode, then resets the context
-- and restores its modes, also when fn raises. ctx nil: a private context (seeded with seed),
-- freed afterwards. Returns pcall's ok, err (the caller raises err at its own level).
function M._in_eval_mode(ctx, seed, fn)
  local own = ctx == nil
  if own then ctx = require("sprint.ctx").new(seed) end
  local was_training, was_grad = ctx:training(), ctx:grad_enabled()
  ctx:eval()
  ctx:set_grad_enabled(false)
  local ok, err = pcall(fn, ctx)
  if ctx._p ~= nil then
    ctx:reset()
    ctx:train(was_training)
    ctx:set_grad_enabled(was_grad)
  end
  if own then ctx:free() end
  return ok, err
end

-- With prefixes, a row's history is its own input: the items before its target.
local function fill_history_from_seq(hist, H, seq, rows)
  local hd, sq = hist:data(), seq:data()
  local L = seq:size(2)
  ffi.fill(hd, ffi.sizeof("int32_t") * hist:numel())
  for r = 0, rows - 1 do
    local p = 0
    for c = 0, L - 1 do
      local it = sq[r * L + c]
      if it ~= 0 and p < H then hd[r * H + p], p = it, p + 1 end
    end
  end
end

-- Fills history (B, H) with every input item of each real row's session (0-padded).
local function fill_history(ds, hist, H, session, rows)
  local hd, sd = hist:data(), session:data()
  ffi.fill(hd, ffi.sizeof("int32_t") * hist:numel())
  for r = 0, rows - 1 do
    local v = ds:session_view(sd[r] + 1)
    for p = 0, v.len - 2 do hd[r * H + p] = v.items[p] end
  end
end

-- Fills cand (B, C) from a table { [session index (1-based)] = {target, neg, ...} }.
local function fill_given(given, cand, batch, level)
  local C_ = cand:size(2)
  local cd, sd, td = cand:data(), batch.session:data(), batch.target:data()
  ffi.fill(cd, ffi.sizeof("int32_t") * cand:numel())
  for r = 0, batch.rows - 1 do
    local list = given[sd[r] + 1]
    if type(list) ~= "table" or #list ~= C_ then
      error(string.format("eval.rank: candidates[%d] must list %d items (target first)", sd[r] + 1, C_), level)
    end
    if list[1] ~= td[r] then
      error(string.format("eval.rank: candidates[%d][1] = %s is not the session's target %d", sd[r] + 1,
        tostring(list[1]), td[r]), level)
    end
    for c = 1, C_ do cd[r * C_ + c - 1] = list[c] end
  end
end

local function check_model_out(h, items, B, level)
  if not tensor.is(h) or not tensor.is(items) then
    error("eval.rank: encode must return two tensors, h (B, d) and the item table (V, d)", level)
  end
  local dead = tensor._why_dead(h) or tensor._why_dead(items)
  if dead then error("eval.rank: a tensor encode returned cannot be used: " .. dead, level) end
  if h:ndim() ~= 2 or h:size(1) ~= B then
    error(string.format("eval.rank: encode returned h of shape {%s}; want (%d, d), a row per batch row",
      table.concat(h:shape(), ", "), B), level)
  end
end

-- eval.rank(model, ds, opts): see the top of this file. Options:
--   split ("test"), ks ({5, 10, 20}), batch_size (256; never changes the results), max_len (50),
--   pad_left (true), ties ("pessimistic" | "optimistic" | "average"), mask_session_items (false),
--   candidates (nil: every item; "uniform": the target + n_candidates - 1 uniform negatives from
--   outside the session, fixed by (seed, session); a function (ctx, batch, h, items) -> int32
--   (B, C) tensor, column 0 the target, e.g. eval.model_candidates(pretrained); or a table
--   {[session index] = {target, negatives...}}), n_candidates (20), seed (1),
--   n_items (the dataset's; ranked items are 1..n_items), ctx (a context to use; it is reset
--   before every batch and its modes are restored afterwards; default: a private one),
--   prefixes (false: each session's last item is the target; true: every item after the
--   first is, given the items before it, as many SBR papers evaluate; sessions then repeat
--   in `sessions`, one entry per prefix, and masking hides the prefix's own items).
-- Returns { metrics, ranks, sessions (1-based dataset indices), n, settings }.
function M.rank(model, ds, opts)
  local encode = M._encoder(model, 2)
  if type(ds) ~= "table" or type(ds.batches) ~= "function" then error("eval.rank: ds must be a dataset", 2) end
  local s = settings(opts)
  local n_items = s.n_items or ds:n_items()
  local B = s.batch_size
  -- Sessions of similar length share a batch (the model then drops almost all padding); the
  -- results are put back in session order below, so nothing depends on the batching.
  local bucketed = not s.prefixes
  local batcher = ds:batches { split = s.split, batch_size = B, max_len = s.max_len, prefix_augment = s.prefixes,
                               shuffle = false, bucket = bucketed, pad_left = s.pad_left, n_uniform_neg = 0,
                               n_hard_neg = 0 }
  local total = batcher:n_examples()
  if total < 1 then error("eval.rank: the " .. s.split .. " split has no session of length >= 2", 2) end
  local H = longest_input(ds, s.split)
  local batch = { seq = batcher.seq, last = batcher.last, target = batcher.target, session = batcher.session,
                  history = tensor.new({ B, H }, "i32"), rows = 0, size = B, max_len = s.max_len,
                  pad_left = s.pad_left, n_items = n_items }
  local cfg = ffi.new("sp_rank_config")
  C.sp_rank_config_default(cfg)
  cfg.ties = M.TIES[s.ties]
  cfg.mask_session_items = s.mask_session_items and 1 or 0
  cfg.n_items = n_items
  local rank = tensor.new({ B }, "f32")
  local given = s.candidates == "given" and opts.candidates or nil
  local cand, n_cand
  if s.candidates == "uniform" then
    n_cand = s.n_candidates
  elseif type(given) == "table" then
    local _, first = next(given)
    if type(first) ~= "table" or #first < 1 then
      error("eval.rank: a candidates table maps session indices to lists {target, negatives...}", 2)
    end
    n_cand = #first
  end
  if n_cand then cand = tensor.new({ B, n_cand }, "i32") end

  local buf = ffi.new("float[?]", total)
  local sessions = {}
  local n = 0
  local ok, err = M._in_eval_mode(opts and opts.ctx, s.seed, function(ctx)
    for rows in batcher:epoch(0) do
      batch.rows = rows
      ctx:reset()
      if s.prefixes then
        fill_history_from_seq(batch.history, H, batch.seq, rows)
      else
        fill_history(ds, batch.history, H, batch.session, rows)
      end
      local h, items = encode(ctx, batch)
      check_model_out(h, items, B, 0)
      local rc
      if s.candidates == "full" then
        rc = C.sp_rank_full(ctx._p, rank._p, h._p, items._p, batch.target._p, batch.history._p, cfg)
      else
        local cands = cand
        if s.candidates == "uniform" then
          if C.sp_rank_uniform_candidates(cand._p, batch.target._p, batch.history._p, batch.session._p, n_items,
              s.seed) ~= 0 then c_fail("eval.rank: uniform candidates") end
        elseif cand then
          fill_given(given, cand, batch, 0)
        else
          cands = given(ctx, batch, h, items)
          if not tensor.is(cands) or tensor._why_dead(cands) or cands:ndim() ~= 2 or cands:size(1) ~= B
              or cands:dtype() ~= "i32" then
            error("eval.rank: the candidates function must return a live int32 tensor (" .. B .. ", C)", 0)
          end
          n_cand = cands:size(2)
        end
        rc = C.sp_rank_sampled(ctx._p, rank._p, h._p, items._p, cands._p, batch.history._p, cfg)
      end
      if rc ~= 0 then c_fail("eval.rank") end
      local rd, sd = rank:data(), batch.session:data()
      for r = 0, rows - 1 do
        buf[n] = rd[r]
        n = n + 1
        sessions[n] = sd[r] + 1
      end
    end
  end)
  if not ok then error(err, 2) end

  if bucketed then -- back to session order (each session is one example here)
    local order = {}
    for i = 1, n do order[i] = i end
    table.sort(order, function(a, b) return sessions[a] < sessions[b] end)
    local sorted_buf, sorted_sessions = ffi.new("float[?]", total), {}
    for i = 1, n do
      sorted_buf[i - 1] = buf[order[i] - 1]
      sorted_sessions[i] = sessions[order[i]]
    end
    buf, sessions = sorted_buf, sorted_sessions
  end
  local ranks = {}
  for i = 1, n do ranks[i] = buf[i - 1] end
  local settings_out = {
    split = s.split, ks = s.ks, ties = s.ties, mask_session_items = s.mask_session_items,
    candidates = s.candidates, n_items = n_items, max_len = s.max_len, pad_left = s.pad_left,
    prefixes = s.prefixes or nil,
  }
  if s.candidates ~= "full" then settings_out.n_candidates = n_cand end
  if s.candidates == "uniform" then settings_out.seed = s.seed end
  return { metrics = M._metrics_of(buf, n, s.ks, 2), ranks = ranks, sessions = sessions, n = n,
           settings = settings_out }
end

return M
