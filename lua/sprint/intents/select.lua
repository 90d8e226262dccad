-- intents/select.lua — SPRINT's uncertainty-aware hard-session selection (§4.1.1, Eq. 3-4):
-- score every training session with a warmed-up backbone, fuse two entropies by reciprocal
-- rank fusion and pick the top r % as the hard sessions the LLM will reason about.
--   local scores = select.score(model, ds, { max_len = 50 })          -- per-session entropies
--   local choice = select.choose(scores, { ratio = 0.1 })              -- choice.hard: indices
--   select.write(run_dir, scores, choice); local s, c = select.load(run_dir)
--
-- The scores (engine/eval/uncertainty.c computes them; no gradients, eval mode):
--   H_sess(S) = -sum_{i in S} P(i|S) log P(i|S), P(i|S) = exp(h_S.e_i) / sum_{j in S} exp(h_S.e_j),
--     with h_S the backbone's representation of the whole session (its last max_len items) and
--     S the SET of the session's distinct items (every item, even past max_len; an item seen
--     twice counts once). High: the model spreads its belief over the session's items, a
--     session of mixed interests.
--   H_pred(S) = -log P(i_N | S_{1:N-1}) with h the representation of the session without its
--     last item i_N. pred_over = "session" (the default, the paper's definition): the softmax
--     runs over the same set S (the input items and i_N); pred_over = "catalogue": over all
--     items 1..n (one GEMM with the item table per batch). High: the model did not see i_N
--     coming.
-- Sessions with fewer than 2 items have no held-out item and are not scored (nor selected).
-- The model: a backbone (its encode_last; BERT4Rec appends its mask token) or any encoder
-- eval.rank accepts. Cost: the two encoder passes per session are nearly all of it (Beauty's
-- 6083 training sessions, SASRec d 64: ~0.3 s of one core); the entropies take a few ms.
--
-- The selection (select.choose): each entropy ranks the scored sessions in descending order,
-- rank 1 the most uncertain; equal values rank by session index, the lower index first; a NaN
-- score (a broken model) ranks after every number. U(S) = 1/(k + r_sess) + 1/(k + r_pred) with
-- k = rrf_k (60, as in the paper), and the hard sessions are the top count by U, equal U again
-- by lower session index. count = floor(ratio * n + 0.5): the nearest integer to r % of the n
-- scored sessions, halves rounded up (ratio 0.1 of 6083 sessions: 608). Other strategies:
-- "h_sess" or "h_pred" alone (the top count by that rank), "random" (a Philox permutation
-- seeded by opts.seed: the same seed, the same sessions).
local ffi = require "ffi"
local lib = require "sprint.lib"
local tensor = require "sprint.tensor"
local eval = require "sprint.eval"
local C = lib.C

local M = {}

M.STRATEGIES = { uncertainty = true, random = true, h_sess = true, h_pred = true }
M.DEFAULT_RATIO = 0.1
M.DEFAULT_RRF_K = 60
M.TSV_HEADER = "session\tkey\tlength\th_sess\th_pred\trank_sess\trank_pred\tu\tselected\torder"

local sorted_keys = require("sprint.lib").sorted_keys

-- Checks opts against known = {name = type}; returns opts or {}.
local function check_opts(what, opts, known, level)
  if opts ~= nil and type(opts) ~= "table" then error(what .. ": options must be a table", level + 1) end
  opts = opts or {}
  for k, v in pairs(opts) do
    local kind = known[k]
    if not kind then
      error(what .. ": unknown option '" .. tostring(k) .. "'; known: " .. table.concat(sorted_keys(known), ", "),
        level + 1)
    end
    if type(v) ~= kind then
      error(string.format("%s: option %s must be a %s, got %s", what, k, kind, type(v)), level + 1)
    end
  end
  return opts
end

local function int_at_least(what, v, lo, name, level)
  if v % 1 ~= 0 or v < lo then
    error(string.format("%s: %s must be an integer >= %d, got %s", what, name, lo, tostring(v)), level + 1)
  end
  return v
end

local function c_fail(what) error("sprint: " .. what .. " failed: " .. lib.last_error(), 0) end

-- Positions 1..n in descending v (NaN after every number), equal values by ascending index;
-- v nil: by ascending index alone. A bottom-up merge sort in plain Lua with the comparison
-- written out, which the JIT compiles (table.sort calls a Lua comparator from C, uncompiled).
local function order_desc(v, index)
  local n = #index
  local a, b = {}, {}
  for i = 1, n do a[i] = i end
  local width = 1
  while width < n do
    for lo = 1, n, 2 * width do
      local mid, hi = math.min(lo + width, n + 1), math.min(lo + 2 * width, n + 1)
      local l, r = lo, mid
      for k = lo, hi - 1 do
        local take_left = r >= hi
        if not take_left and l < mid then -- does a[r] come strictly before a[l]? if not, take a[l]
          local p, q = a[l], a[r]
          local before = index[q] < index[p]
          if v then
            local x, y = v[p], v[q]
            if (x ~= x) ~= (y ~= y) then
              before = x ~= x
            elseif x == x and x ~= y then
              before = y > x
            end
          end
          take_left = not before
        end
        if take_left then
          b[k], l = a[l], l + 1
        else
          b[k], r = a[r], r + 1
        end
      end
    end
    a, b = b, a
    width = 2 * width
  end
  return a
end
M._order_desc = order_desc

-- ---- scoring ------------------------------------------------------------------------------

local SCORE_OPTS = { split = "string", max_len = "number", batch_size = "number", pred_over = "string",
                     ctx = "table", seed = "number", n_items = "number" }

-- The model as encode(ctx, batch) -> h (B, d), items (V, d): a backbone through encode_last,
-- or what eval.rank accepts (a function, or a table with :encode(ctx, batch)).
local function encoder_of(model, level)
  if type(model) == "table" and type(model.encode_last) == "function" then
    return function(ctx, batch) return model:encode_last(ctx, batch.seq, batch.last) end
  end
  if type(model) == "function" or (type(model) == "table" and type(model.encode) == "function") then
    return eval._encoder(model, level + 1)
  end
  error("select.score: the model must be a backbone (with :encode_last), a function encode(ctx, batch) "
    .. "or a table with :encode(ctx, batch)", level + 1)
end

local function check_model_out(h, items, B, which)
  if not tensor.is(h) or not tensor.is(items) then
    error("select.score: encode must return two tensors, h (B, d) and the item table (V, d)", 0)
  end
  local dead = tensor._why_dead(h) or tensor._why_dead(items)
  if dead then error("select.score: a tensor encode returned cannot be used: " .. dead, 0) end
  if h:ndim() ~= 2 or h:size(1) ~= B then
    error(string.format("select.score: encode returned h of shape {%s} for the %s; want (%d, d)",
      table.concat(h:shape(), ", "), which, B), 0)
  end
end

-- Per batch: the whole sessions (full.seq: pred.seq shifted left by one, the held-out item
-- appended; right-aligned, so the last max_len items) and every item of each session
-- (sess (B, H), untruncated: the set S of the softmaxes).
local function fill_batch(ds, pred, full, sess, rows)
  local L, H = pred.max_len, sess:size(2)
  local sd, td, ld, id = pred.seq:data(), pred.target:data(), pred.last:data(), pred.session:data()
  local fd, hd = full.seq:data(), sess:data()
  ffi.fill(fd, 4 * full.seq:numel())
  ffi.fill(hd, 4 * sess:numel())
  ffi.copy(full.last:data(), ld, 4 * pred.size)
  for r = 0, rows - 1 do
    if ld[r] ~= L - 1 then
      error(string.format("select.score: row %d of a batch is not right-aligned (last %d, max_len %d)", r, ld[r], L), 0)
    end
    local row = r * L
    ffi.copy(fd + row, sd + row + 1, 4 * (L - 1))
    fd[row + L - 1] = td[r]
    local v = ds:session_view(id[r] + 1)
    ffi.copy(hd + r * H, v.items, 4 * v.len)
  end
end

-- select.score(model, ds, opts) -> scores: see the top of this file. Options: split ("train"),
-- max_len (50; the last max_len items are encoded, as eval does), batch_size (128; never changes
-- the numbers), pred_over ("session" | "catalogue"), n_items (the dataset's), ctx (a context to
-- use; reset before every batch, its modes restored afterwards), seed (1; a private context's).
-- scores = { n, index = {1-based dataset indices, ascending}, key = {}, length = {}, h_sess = {},
-- h_pred = {}, settings = {split, max_len, pred_over, n_items} }: arrays aligned by position.
function M.score(model, ds, opts)
  local encode = encoder_of(model, 2)
  if type(ds) ~= "table" or type(ds.batches) ~= "function" then error("select.score: ds must be a dataset", 2) end
  opts = check_opts("select.score", opts, SCORE_OPTS, 2)
  local split, over = opts.split or "train", opts.pred_over or "session"
  if split ~= "train" and split ~= "valid" and split ~= "test" then
    error("select.score: split must be train, valid or test, got " .. split, 2)
  end
  if over ~= "session" and over ~= "catalogue" then
    error("select.score: pred_over must be \"session\" or \"catalogue\", got " .. over, 2)
  end
  local B = int_at_least("select.score", opts.batch_size or 128, 1, "batch_size", 2)
  local L = int_at_least("select.score", opts.max_len or 50, 2, "max_len", 2)
  local seed = int_at_least("select.score", opts.seed or 1, 0, "seed", 2)
  local n_items = int_at_least("select.score", opts.n_items or ds:n_items(), 1, "n_items", 2)

  local batcher = ds:batches { split = split, batch_size = B, max_len = L, prefix_augment = false, shuffle = false,
                               bucket = true, pad_left = true, n_uniform_neg = 0, n_hard_neg = 0 }
  local total = batcher:n_examples()
  if total < 1 then error("select.score: the " .. split .. " split has no session of length >= 2", 2) end
  -- what an encoder sees (the fields of eval.rank's batch but history)
  local pred = { seq = batcher.seq, last = batcher.last, target = batcher.target, session = batcher.session,
                 rows = 0, size = B, max_len = L, pad_left = true, n_items = n_items }
  local full = { seq = tensor.new({ B, L }, "i32"), last = tensor.new({ B }, "i32"), target = tensor.new({ B }, "i32"),
                 session = batcher.session, rows = 0, size = B, max_len = L, pad_left = true, n_items = n_items }
  local sess = tensor.new({ B, eval._longest_input(ds, split) + 1 }, "i32")
  local out_sess, out_pred = tensor.new({ B }), tensor.new({ B })
  local at, got_sess, got_pred = {}, ffi.new("float[?]", total), ffi.new("float[?]", total)
  local n = 0

  local ok, err = eval._in_eval_mode(opts.ctx, seed, function(ctx)
    for rows in batcher:epoch(0) do
      ctx:reset()
      pred.rows, full.rows = rows, rows
      fill_batch(ds, pred, full, sess, rows)
      local h, items = encode(ctx, pred) -- h of S_{1:N-1}
      check_model_out(h, items, B, "session without its last item")
      local rc
      if over == "session" then
        rc = C.sp_session_target_nll(ctx._p, out_pred._p, h._p, items._p, sess._p, pred.target._p, n_items)
      else
        rc = C.sp_session_target_nll_full(ctx._p, out_pred._p, h._p, items._p, pred.target._p, n_items)
      end
      if rc ~= 0 then c_fail("select.score: H_pred") end
      h, items = encode(ctx, full) -- h_S of the whole session
      check_model_out(h, items, B, "whole session")
      if C.sp_session_entropy(ctx._p, out_sess._p, h._p, items._p, sess._p, n_items) ~= 0 then
        c_fail("select.score: H_sess")
      end
      local ps, pp, sd = out_sess:data(), out_pred:data(), pred.session:data()
      for r = 0, rows - 1 do
        got_sess[n], got_pred[n] = ps[r], pp[r]
        n = n + 1
        at[n] = sd[r] + 1
      end
    end
  end)
  if not ok then error(err, 2) end

  -- back to session order (the batches were bucketed by length)
  local order = order_desc(nil, at)
  local s = { n = n, index = {}, key = {}, length = {}, h_sess = {}, h_pred = {},
              settings = { split = split, max_len = L, pred_over = over, n_items = n_items } }
  for i, o in ipairs(order) do
    local v = ds:session_view(at[o])
    s.index[i], s.key[i], s.length[i] = at[o], ffi.string(v.key), v.len
    s.h_sess[i], s.h_pred[i] = got_sess[o - 1], got_pred[o - 1]
  end
  return s
end

-- ---- choosing -----------------------------------------------------------------------------

local CHOOSE_OPTS = { strategy = "string", ratio = "number", rrf_k = "number", seed = "number" }

local function check_scores(what, scores, level)
  if type(scores) ~= "table" or type(scores.index) ~= "table" or type(scores.h_sess) ~= "table"
      or type(scores.h_pred) ~= "table" then
    error(what .. ": scores must come from select.score (index, h_sess, h_pred)", level + 1)
  end
  local n = #scores.index
  if #scores.h_sess ~= n or #scores.h_pred ~= n then
    error(string.format("%s: scores hold %d indices, %d h_sess and %d h_pred; they must match", what, n,
      #scores.h_sess, #scores.h_pred), level + 1)
  end
  local seen = {}
  for i = 1, n do
    local idx = scores.index[i]
    if type(idx) ~= "number" or seen[idx] then
      error(string.format("%s: scores.index[%d] = %s must be a session index listed once", what, i, tostring(idx)),
        level + 1)
    end
    seen[idx] = true
  end
  return n
end

-- Ranks 1..n of values v (a list aligned with index) in descending order; equal values by the
-- lower index; NaN after every number.
local function ranks_desc(v, index)
  local order = order_desc(v, index)
  local rank = {}
  for r, i in ipairs(order) do rank[i] = r end
  return rank, order
end

-- A Philox permutation of positions 1..n, ordered first by index (so it depends only on the
-- seed and the set of sessions).
local function shuffled(index, seed)
  local order = order_desc(nil, index)
  local r = require("sprint.rng").new(seed)
  for i = #order, 2, -1 do
    local j = 1 + r:below(i)
    order[i], order[j] = order[j], order[i]
  end
  return order
end

-- select.choose(scores, opts) -> choice: see the top of this file. Options: strategy
-- ("uncertainty" | "random" | "h_sess" | "h_pred"), ratio (0.1, in [0, 1]), rrf_k (60, >= 0),
-- seed (1; random only). choice = { strategy, ratio, rrf_k, seed, n, count, hard = {session
-- indices in selection order}, and per position of scores: rank_sess, rank_pred, u, selected }.
function M.choose(scores, opts)
  local n = check_scores("select.choose", scores, 2)
  opts = check_opts("select.choose", opts, CHOOSE_OPTS, 2)
  local strategy = opts.strategy or "uncertainty"
  if not M.STRATEGIES[strategy] then
    error("select.choose: strategy must be one of " .. table.concat(sorted_keys(M.STRATEGIES), ", ") .. ", got "
      .. strategy, 2)
  end
  local ratio, k = opts.ratio or M.DEFAULT_RATIO, opts.rrf_k or M.DEFAULT_RRF_K
  if not (ratio >= 0 and ratio <= 1) then error("select.choose: ratio must be in [0, 1], got " .. tostring(ratio), 2) end
  if not (k >= 0 and k < math.huge) then error("select.choose: rrf_k must be a number >= 0, got " .. tostring(k), 2) end
  local seed = int_at_least("select.choose", opts.seed or 1, 0, "seed", 2)

  local index = scores.index
  local rank_sess, by_sess = ranks_desc(scores.h_sess, index)
  local rank_pred, by_pred = ranks_desc(scores.h_pred, index)
  local u = {}
  for i = 1, n do u[i] = 1 / (k + rank_sess[i]) + 1 / (k + rank_pred[i]) end
  local order
  if strategy == "uncertainty" then
    order = order_desc(u, index)
  elseif strategy == "h_sess" then
    order = by_sess
  elseif strategy == "h_pred" then
    order = by_pred
  else
    order = shuffled(index, seed)
  end
  local count = math.floor(ratio * n + 0.5)
  local c = { strategy = strategy, ratio = ratio, rrf_k = k, seed = strategy == "random" and seed or nil, n = n,
              count = count, hard = {}, rank_sess = rank_sess, rank_pred = rank_pred, u = u, selected = {} }
  for i = 1, n do c.selected[i] = false end
  for r = 1, count do
    c.hard[r] = index[order[r]]
    c.selected[order[r]] = true
  end
  return c
end

-- ---- writing and reading back ---------------------------------------------------------------

local function write_atomic(path, text)
  if C.sp_file_write_atomic(path, text, #text) ~= 0 then lib.fail("select.write: writing " .. path, 3) end
end

local function num(v)
  if v ~= v then return "nan" end
  return string.format("%.17g", v) -- reads back to the same double
end

local function parse_num(s)
  if s == "nan" or s == "-nan" then return 0 / 0 end
  return tonumber(s)
end

local ESC = { ["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r" }
local UNESC = { ["\\"] = "\\", t = "\t", n = "\n", r = "\r" }
local function escape(s) return (s:gsub("[\\\t\n\r]", ESC)) end
local function unescape(s) return (s:gsub("\\(.)", UNESC)) end

-- Mean of the finite values of v over positions where selected[i] == want (nil when none).
local function mean_of(v, selected, want)
  local sum, m = 0, 0
  for i = 1, #v do
    if selected[i] == want and v[i] == v[i] and math.abs(v[i]) < math.huge then sum, m = sum + v[i], m + 1 end
  end
  if m == 0 then return nil end
  return sum / m
end

-- select.write(dir, scores, choice): dir/selection.tsv (a header line, then one row per scored
-- session: session index, key, length, h_sess, h_pred, rank_sess, rank_pred, u, selected 0/1,
-- order = the place in choice.hard or 0) and dir/selection.json (strategy, ratio, rrf_k, seed,
-- counts, the scoring settings, mean entropies of the selected sessions and of the rest).
-- Both files are written atomically. Returns the two paths.
function M.write(dir, scores, choice)
  if type(dir) ~= "string" or dir == "" then error("select.write: a directory is needed", 2) end
  local n = check_scores("select.write", scores, 2)
  if type(choice) ~= "table" or type(choice.hard) ~= "table" or type(choice.selected) ~= "table"
      or #choice.selected ~= n then
    error("select.write: choice must come from select.choose on these scores", 2)
  end
  local place = {}
  for r, idx in ipairs(choice.hard) do place[idx] = r end
  local lines = { M.TSV_HEADER }
  for i = 1, n do
    lines[#lines + 1] = table.concat({
      scores.index[i], escape(tostring(scores.key and scores.key[i] or "")), scores.length and scores.length[i] or 0,
      num(scores.h_sess[i]), num(scores.h_pred[i]), choice.rank_sess[i], choice.rank_pred[i], num(choice.u[i]),
      choice.selected[i] and 1 or 0, place[scores.index[i]] or 0 }, "\t")
  end
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local tsv, js = dir .. "/selection.tsv", dir .. "/selection.json"
  write_atomic(tsv, table.concat(lines, "\n") .. "\n")
  local json = require "sprint.llm.json"
  local sel = choice.selected
  local summary = {
    version = 1, strategy = choice.strategy, ratio = choice.ratio, rrf_k = choice.rrf_k, seed = choice.seed,
    n_sessions = n, n_selected = #choice.hard, scoring = scores.settings,
    mean_h_sess = { selected = mean_of(scores.h_sess, sel, true) or json.null,
                    rest = mean_of(scores.h_sess, sel, false) or json.null },
    mean_h_pred = { selected = mean_of(scores.h_pred, sel, true) or json.null,
                    rest = mean_of(scores.h_pred, sel, false) or json.null },
  }
  write_atomic(js, json.encode(summary) .. "\n")
  return tsv, js
end

-- select.load(dir) -> scores, choice, summary as select.score / select.choose / the JSON gave
-- them (numbers exactly as written), or nil and a message when dir holds no selection. A
-- damaged file is an error naming the file and line.
function M.load(dir)
  if type(dir) ~= "string" or dir == "" then error("select.load: a directory is needed", 2) end
  local tsv, js = dir .. "/selection.tsv", dir .. "/selection.json"
  local f = io.open(tsv, "rb")
  if not f then return nil, "select.load: no selection in " .. dir .. " (" .. tsv .. " is missing)" end
  local text = f:read("*a")
  f:close()
  local jf = io.open(js, "rb")
  if not jf then error("select.load: " .. js .. " is missing beside " .. tsv, 2) end
  local jtext = jf:read("*a")
  jf:close()
  local summary = require("sprint.llm.json").decode(jtext)
  if type(summary) ~= "table" or summary.version ~= 1 then error("select.load: " .. js .. " is not a selection summary", 2) end

  local s = { index = {}, key = {}, length = {}, h_sess = {}, h_pred = {},
              settings = type(summary.scoring) == "table" and summary.scoring or nil }
  local c = { strategy = summary.strategy, ratio = summary.ratio, rrf_k = summary.rrf_k, seed = summary.seed,
              hard = {}, rank_sess = {}, rank_pred = {}, u = {}, selected = {} }
  local placed = {}
  local line_no, n = 0, 0
  for line in text:gmatch("([^\n]*)\n") do
    line_no = line_no + 1
    if line_no == 1 then
      if line ~= M.TSV_HEADER then error("select.load: " .. tsv .. ":1: unexpected header", 2) end
    else
      local f = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
      local vals = { tonumber(f[1]), f[2], tonumber(f[3]), parse_num(f[4] or ""), parse_num(f[5] or ""),
                     tonumber(f[6]), tonumber(f[7]), parse_num(f[8] or ""), tonumber(f[9]), tonumber(f[10]) }
      for k = 1, 10 do
        if #f ~= 10 or vals[k] == nil then
          error(string.format("select.load: %s:%d: expected 10 tab-separated fields (%s)", tsv, line_no,
            M.TSV_HEADER:gsub("\t", ", ")), 2)
        end
      end
      n = n + 1
      s.index[n], s.key[n], s.length[n], s.h_sess[n], s.h_pred[n] = vals[1], unescape(vals[2]), vals[3], vals[4], vals[5]
      c.rank_sess[n], c.rank_pred[n], c.u[n], c.selected[n] = vals[6], vals[7], vals[8], vals[9] == 1
      if vals[10] > 0 then placed[#placed + 1] = { vals[10], vals[1] } end
    end
  end
  if line_no == 0 then error("select.load: " .. tsv .. " is empty", 2) end
  table.sort(placed, function(a, b) return a[1] < b[1] end)
  for r, p in ipairs(placed) do
    if p[1] ~= r then error("select.load: " .. tsv .. ": the order column skips or repeats " .. r, 2) end
    c.hard[r] = p[2]
  end
  s.n, c.n, c.count = n, n, #c.hard
  if summary.n_selected ~= c.count or summary.n_sessions ~= n then
    error(string.format("select.load: %s lists %d sessions (%d selected) but %s says %s (%s)", tsv, n, c.count, js,
      tostring(summary.n_sessions), tostring(summary.n_selected)), 2)
  end
  return s, c, summary
end

return M
