-- test_eval.lua — sprint.eval on a planted dataset with fake encoders whose ranks are known: an
-- oracle (rank 1), a constant model (rank n under the pessimistic rule, 1 optimistic, the
-- middle on average; masking lowers n by the session's items), a "last item" model checked
-- against ranks computed here from the sessions themselves; batch-size independence; no-grad
-- and eval mode; uniform, given and model candidates; metric helpers; option errors.
local ffi = require "ffi"
local sprint = require "sprint"
local eval = require "sprint.eval"
local h = require "helpers"
local data = sprint.data

local tests = {}

-- The planted dataset in a private cache folder (as test_data.lua does).
local DS
local function dataset()
  if DS then return DS end
  local dir = os.tmpname()
  os.remove(dir)
  local saved = data.cache_dir
  data.cache_dir = function() return dir end
  local ok, ds = pcall(data.load, "planted", { n_sessions = 600, seed = 3 })
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(ds, 0) end
  DS = ds
  return ds
end

-- The test split's sessions as the evaluation sees them: input items and target.
local function test_sessions(ds)
  local out = {}
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "test" and #s.items >= 2 then
      local input = {}
      for p = 1, #s.items - 1 do input[p] = s.items[p] end
      out[#out + 1] = { index = i, input = input, target = s.items[#s.items] }
    end
  end
  return out
end

-- An item table (n + 1, d) on a grid (multiples of 1/4 in [-1, 1]) so every score is exact.
local function grid_items(n, d, seed)
  local t = sprint.tensor.new({ n + 1, d })
  local p, r = t:data(), sprint.rng(seed)
  for j = 1, n do
    for k = 0, d - 1 do p[j * d + k] = 0.25 * (r:below(9) - 4) end
  end
  return t
end

-- Fake encoders ------------------------------------------------------------------------------

-- Scores the target alone: one-hot items, h = the target's row.
local function oracle(n)
  local items = sprint.tensor.new({ n + 1, n + 1 })
  local p = items:data()
  for j = 0, n do p[j * (n + 1) + j] = 1 end
  return function(ctx, batch)
    local hh = ctx:tensor({ batch.size, n + 1 })
    local hp, t = hh:data(), batch.target:data()
    for r = 0, batch.rows - 1 do hp[r * (n + 1) + t[r]] = 1 end
    return hh, items
  end
end

local function constant(n, d)
  local items = grid_items(n, d, 5)
  return function(ctx, batch) return ctx:tensor({ batch.size, d }), items end
end

-- h = the embedding of the last input item (what the batch's seq and last say).
local function last_item(items, d, seen)
  return function(ctx, batch)
    if seen then
      seen.grad = ctx:grad_enabled()
      seen.training = ctx:training()
    end
    local hh = ctx:tensor({ batch.size, d })
    local hp, ip, sq, last = hh:data(), items:data(), batch.seq:data(), batch.last:data()
    for r = 0, batch.rows - 1 do
      local item = sq[r * batch.max_len + last[r]]
      for k = 0, d - 1 do hp[r * d + k] = ip[item * d + k] end
    end
    return hh, items
  end
end

-- The rank of each session's target under last_item, computed here (scores are exact).
local function reference_ranks(ds, items, d, ties, mask)
  local n, ip = ds:n_items(), items:data()
  local out = {}
  for i, s in ipairs(test_sessions(ds)) do
    local hrow = s.input[#s.input]
    local function score(j)
      local acc = 0
      for k = 0, d - 1 do acc = acc + ip[hrow * d + k] * ip[j * d + k] end
      return acc
    end
    local masked = {}
    if mask then for _, it in ipairs(s.input) do if it ~= s.target then masked[it] = true end end end
    local st, ge, gt = score(s.target), 0, 0
    for j = 1, n do
      if not masked[j] then
        local v = score(j)
        if v >= st then ge = ge + 1 end
        if v > st then gt = gt + 1 end
      end
    end
    out[i] = ties == "pessimistic" and ge or ties == "optimistic" and gt + 1 or 0.5 * (ge + gt + 1)
  end
  return out
end

-- Tests --------------------------------------------------------------------------------------

function tests.an_oracle_gets_rank_one()
  local ds = dataset()
  local n = ds:n_items()
  local res = eval.rank(oracle(n), ds, { batch_size = 16 })
  local sessions = test_sessions(ds)
  h.eq(res.n, #sessions)
  for i = 1, res.n do
    h.eq(res.ranks[i], 1)
    h.eq(res.sessions[i], sessions[i].index, "sessions are the test sessions in order")
  end
  for _, k in ipairs({ 5, 10, 20 }) do
    h.eq(res.metrics["HR@" .. k], 1)
    h.eq(res.metrics["NDCG@" .. k], 1)
    h.eq(res.metrics["MRR@" .. k], 1)
  end
  h.eq(res.metrics.MRR, 1)
  h.eq(res.settings.ties, "pessimistic")
  h.eq(res.settings.mask_session_items, false)
  h.eq(res.settings.candidates, "full")
end

function tests.a_constant_model_gets_rank_n_under_the_pessimistic_rule()
  local ds = dataset()
  local n = ds:n_items()
  local model = constant(n, 4)
  local pess = eval.rank(model, ds, { batch_size = 32 })
  local opt = eval.rank(model, ds, { ties = "optimistic" })
  local avg = eval.rank(model, ds, { ties = "average" })
  for i = 1, pess.n do
    h.eq(pess.ranks[i], n)
    h.eq(opt.ranks[i], 1)
    h.eq(avg.ranks[i], (n + 1) / 2)
  end
  h.eq(pess.metrics["HR@20"], 0)
  h.near(pess.metrics.MRR, 1 / n, 1e-15)
  h.eq(opt.metrics["HR@5"], 1, "the optimistic rule flatters a constant model")
  -- masking: n minus the session's distinct input items other than the target
  local masked = eval.rank(model, ds, { mask_session_items = true, max_len = 2 })
  for i, s in ipairs(test_sessions(ds)) do
    local distinct, count = {}, 0
    for _, it in ipairs(s.input) do
      if it ~= s.target and not distinct[it] then distinct[it], count = true, count + 1 end
    end
    h.eq(masked.ranks[i], n - count, "session " .. s.index .. ": every input item is masked, not the last max_len")
  end
end

function tests.ranks_match_a_reference_computed_from_the_sessions()
  local ds = dataset()
  local d = 8
  local items = grid_items(ds:n_items(), d, 11)
  local model = last_item(items, d)
  for _, ties in ipairs({ "pessimistic", "optimistic", "average" }) do
    for _, mask in ipairs({ false, true }) do
      local res = eval.rank(model, ds, { ties = ties, mask_session_items = mask, batch_size = 13 })
      local want = reference_ranks(ds, items, d, ties, mask)
      h.eq(#res.ranks, #want)
      for i = 1, #want do h.eq(res.ranks[i], want[i], ties .. (mask and " masked" or "") .. " session " .. i) end
    end
  end
end

function tests.metrics_do_not_depend_on_the_batch_size()
  local ds = dataset()
  local d = 16
  local items = sprint.tensor.new({ ds:n_items() + 1, d })
  items:fill_normal(sprint.rng(4), 0, 1)
  local model = last_item(items, d)
  for _, o in ipairs({ {}, { ties = "average", mask_session_items = true }, { candidates = "uniform" } }) do
    local base
    for _, bs in ipairs({ 1, 7, 64, 1000 }) do
      local opts = { batch_size = bs }
      for k, v in pairs(o) do opts[k] = v end
      local res = eval.rank(model, ds, opts)
      if not base then
        base = res
      else
        for name, v in pairs(base.metrics) do h.eq(res.metrics[name], v, name .. " with batch size " .. bs) end
        for i = 1, base.n do h.eq(res.ranks[i], base.ranks[i]) end
      end
    end
  end
end

function tests.runs_without_grad_in_eval_mode_and_restores_the_context()
  local ds = dataset()
  local d = 4
  local seen = {}
  local ctx = sprint.ctx(1)
  ctx:train(true)
  h.truthy(ctx:grad_enabled() and ctx:training())
  eval.rank(last_item(grid_items(ds:n_items(), d, 2), d, seen), ds, { ctx = ctx })
  h.eq(seen.grad, false, "encode runs with grad recording off")
  h.eq(seen.training, false, "encode runs in eval mode")
  h.truthy(ctx:grad_enabled() and ctx:training(), "the caller's modes are restored")
  -- restored after an error too
  h.raises("model exploded", function()
    eval.rank(function() error("model exploded") end, ds, { ctx = ctx })
  end)
  h.truthy(ctx:grad_enabled() and ctx:training(), "restored after an error")
end

function tests.uniform_candidates()
  local ds = dataset()
  local n = ds:n_items()
  local res = eval.rank(constant(n, 4), ds, { candidates = "uniform" })
  for i = 1, res.n do h.eq(res.ranks[i], 20, "a constant model is last of 20") end
  h.eq(res.settings.candidates, "uniform")
  h.eq(res.settings.n_candidates, 20)
  local o = eval.rank(oracle(n), ds, { candidates = "uniform", n_candidates = 5, ks = { 1 } })
  h.eq(o.metrics["HR@1"], 1)
  -- another seed draws other negatives: a random model's ranks change somewhere
  local items = sprint.tensor.new({ n + 1, 8 })
  items:fill_normal(sprint.rng(9), 0, 1)
  local a = eval.rank(last_item(items, 8), ds, { candidates = "uniform", seed = 1 })
  local b = eval.rank(last_item(items, 8), ds, { candidates = "uniform", seed = 2 })
  local differ = false
  for i = 1, a.n do differ = differ or a.ranks[i] ~= b.ranks[i] end
  h.truthy(differ, "the seed chooses the negatives")
  h.eq(a.metrics["HR@20"], 1, "every rank is within the 20 candidates")
end

function tests.given_candidate_table()
  local ds = dataset()
  local n = ds:n_items()
  local given = {}
  for _, s in ipairs(test_sessions(ds)) do
    local in_s = { [s.target] = true }
    for _, it in ipairs(s.input) do in_s[it] = true end
    local list = { s.target }
    for j = 1, n do
      if #list == 10 then break end
      if not in_s[j] then list[#list + 1] = j end
    end
    given[s.index] = list
  end
  local res = eval.rank(constant(n, 4), ds, { candidates = given, ties = "average" })
  for i = 1, res.n do h.eq(res.ranks[i], 5.5) end
  h.eq(res.settings.n_candidates, 10)
  local first = test_sessions(ds)[1]
  given[first.index] = { first.target + 1 == n + 1 and 1 or first.target + 1, 1, 2, 3, 4, 5, 6, 7, 8, 9 }
  h.raises("is not the session's target", function() eval.rank(constant(n, 4), ds, { candidates = given }) end)
end

function tests.model_candidates_are_the_pretrained_models_top_items()
  -- Ranked among its own top 19 items outside the session, a model's rank is its masked full
  -- rank capped at 20.
  local ds = dataset()
  local d = 8
  local items = grid_items(ds:n_items(), d, 21)
  local model = last_item(items, d)
  local full = eval.rank(model, ds, { mask_session_items = true })
  local sampled = eval.rank(model, ds, { candidates = eval.model_candidates(model, 20), batch_size = 9 })
  h.eq(sampled.settings.n_candidates, 20)
  for i = 1, full.n do h.eq(sampled.ranks[i], math.min(full.ranks[i], 20), "session " .. i) end
end

function tests.metric_helpers()
  local m = eval.metrics({ 3, 5, 1, 5 }, { 1, 3 })
  h.near(m["HR@1"], 0.25, 1e-15)
  h.near(m["HR@3"], 0.5, 1e-15)
  h.near(m["NDCG@3"], 0.375, 1e-15)
  h.near(m["MRR@3"], (1 / 3 + 1) / 4, 1e-15)
  h.near(m.MRR, (1 / 3 + 1 / 5 + 1 + 1 / 5) / 4, 1e-15)
  h.near(eval.per_session({ ranks = { 1, 3, 11 } }, "NDCG@10"), { 1, 0.5, 0 }, 1e-15)
  h.near(eval.per_session({ 2, 4 }, "N@3"), { 1 / (math.log(3) / math.log(2)), 0 }, 1e-15)
  h.near(eval.per_session({ 2, 4 }, "H@3"), { 1, 0 }, 0)
  h.near(eval.per_session({ 2, 4 }, "MRR"), { 0.5, 0.25 }, 1e-15)
  -- the Lua per-session values average to the engine's metrics
  local ranks = { 1, 2.5, 7, 30, 4 }
  local em = eval.metrics(ranks, { 10 })
  for _, name in ipairs({ "HR@10", "NDCG@10", "MRR@10", "MRR" }) do
    local sum = 0
    for _, v in ipairs(eval.per_session(ranks, name)) do sum = sum + v end
    h.near(sum / #ranks, em[name], 1e-15, name)
  end
  h.raises("unknown metric", function() eval.per_session({ 1 }, "AUC") end)
  h.raises("ks[1] = 0 must be an integer >= 1", function() eval.metrics({ 1 }, { 0 }) end)
  h.raises("no ranks", function() eval.metrics({}) end)
end

function tests.option_and_model_errors()
  local ds = dataset()
  local n = ds:n_items()
  local model = constant(n, 4)
  h.raises("unknown option 'batchsize'", function() eval.rank(model, ds, { batchsize = 3 }) end)
  h.raises("ties must be pessimistic, optimistic or average", function() eval.rank(model, ds, { ties = "random" }) end)
  h.raises("ks[2] must be an integer >= 1", function() eval.rank(model, ds, { ks = { 5, 0 } }) end)
  h.raises("batch_size must be an integer >= 1", function() eval.rank(model, ds, { batch_size = 0 }) end)
  h.raises("split must be train, valid or test", function() eval.rank(model, ds, { split = "dev" }) end)
  h.raises("candidates must be nil", function() eval.rank(model, ds, { candidates = "popular" }) end)
  h.raises("the model must be a function", function() eval.rank(42, ds) end)
  h.raises("want (8, d)", function()
    eval.rank(function(ctx) return ctx:tensor({ 3, 4 }), ctx:tensor({ n + 1, 4 }) end, ds, { batch_size = 8 })
  end)
  h.raises("encode must return two tensors", function() eval.rank(function() return 1, 2 end, ds) end)
  h.raises({ "sp_rank_full", "items (5, 3) must be (n_items + 1, d)" }, function()
    eval.rank(function(ctx, b) return ctx:tensor({ b.size, 4 }), ctx:tensor({ 5, 3 }) end, ds)
  end)
  h.raises({ "sp_rank_full", "n_items" }, function()
    eval.rank(function(ctx, b) return ctx:tensor({ b.size, 4 }), ctx:tensor({ 5, 4 }) end, ds)
  end)
  local kept
  h.raises("cannot be used", function()
    eval.rank(function(ctx, b)
      if kept then return kept, kept end
      kept = ctx:tensor({ b.size, 4 })
      return kept, ctx:tensor({ n + 1, 4 })
    end, ds, { batch_size = 4 })
  end)
end

function tests.prefixes_evaluate_every_position()
  local ds = dataset()
  local n = ds:n_items()
  local last = eval.rank(oracle(n), ds, { split = "test", ks = { 1 } })
  local all = eval.rank(oracle(n), ds, { split = "test", ks = { 1 }, prefixes = true })
  local expected = 0
  for i = 1, ds:n_sessions() do
    local s = ds:session_view(i)
    if s.split == 2 then expected = expected + s.len - 1 end
  end
  h.eq(all.n, expected, "one example per prefix of every test session")
  h.truthy(all.n > last.n)
  h.eq(all.metrics["HR@1"], 1, "an oracle ranks every prefix's target first")
  h.eq(all.settings.prefixes, true)
end

return tests
