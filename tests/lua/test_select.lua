-- test_select.lua — hard-session selection (sprint.intents.select): the scores of every session
-- against a plain-Lua double recomputation (a fake encoder whose h is known: truncation to
-- max_len, the whole session vs. the session without its last item, the distinct-item set, the
-- catalogue softmax); known values (h = 0: ln of the distinct count); RRF on a hand-computed
-- example (ranks, U, ties by session index, NaN last), ratio rounding, the single-entropy and
-- random strategies; writing and loading a selection; every backbone end to end on a tiny
-- planted dataset (eval mode, no grad, batch-size independence); and the error paths.
local ffi = require "ffi"
local sprint = require "sprint"
local sel = require "sprint.intents.select"
local h = require "helpers"
local data = sprint.data

local tests = {}

-- h.eq for lists too: element by element (NaN equals NaN), with the position in the message.
local function eq(got, want, msg)
  if type(want) ~= "table" then
    if got ~= want and not (got ~= got and want ~= want) then
      error((msg and msg .. ": " or "") .. "expected " .. h.show(want) .. ", got " .. h.show(got), 2)
    end
    return
  end
  local bad = type(got) ~= "table" or #got ~= #want
  for i = 1, bad and 0 or #want do
    if got[i] ~= want[i] and not (got[i] ~= got[i] and want[i] ~= want[i]) then bad = true end
  end
  if bad then error((msg and msg .. ": " or "") .. "expected " .. h.show(want) .. ", got " .. h.show(got), 2) end
end

-- The planted dataset in a private cache folder (as test_eval.lua does).
local DS
local function dataset()
  if DS then return DS end
  local dir = os.tmpname()
  os.remove(dir)
  local saved = data.cache_dir
  data.cache_dir = function() return dir end
  local ok, ds = pcall(data.load, "planted", { n_sessions = 400, n_intents = 4, items_per_intent = 15,
                                               min_len = 2, max_len = 9, seed = 5 })
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(ds, 0) end
  DS = ds
  return ds
end

-- The training sessions of length >= 2, in index order, as plain lists.
local function train_sessions(ds)
  local out = {}
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" and #s.items >= 2 then out[#out + 1] = s end
  end
  return out
end

local function distinct(items)
  local seen, out = {}, {}
  for _, it in ipairs(items) do
    if not seen[it] then seen[it], out[#out + 1] = true, it end
  end
  return out
end

-- ---- a fake encoder whose h is known ---------------------------------------------------------

-- Item table (n + 1, d) from a seeded normal (std 0.7: logits of a few units).
local function random_items(n, d, seed)
  local t = sprint.tensor.new({ n + 1, d })
  t:fill_normal(sprint.rng(seed), 0, 0.7)
  return t
end

-- The weight of the item `back` places before the last column (0 = the last item).
local function weight(back) return 1 / (1 + back) end

-- h of a right-aligned window: sum over its items of weight(back) * e_item (so order, window and
-- alignment all show up in h). Returns the encoder and a plain-Lua twin over an item list.
local function weighted_encoder(items, d)
  local e = items:data()
  local enc = function(ctx, batch)
    local hh = ctx:tensor({ batch.size, d })
    local hp, sq, L = hh:data(), batch.seq:data(), batch.max_len
    for r = 0, batch.rows - 1 do
      local last = batch.last:data()[r]
      for c = 0, last do
        local it = sq[r * L + c]
        if it ~= 0 then
          for k = 0, d - 1 do hp[r * d + k] = hp[r * d + k] + weight(last - c) * e[it * d + k] end
        end
      end
    end
    return hh, items
  end
  local twin = function(list) -- list: the window's items, oldest first
    local v = {}
    for k = 0, d - 1 do v[k] = 0 end
    for j, it in ipairs(list) do
      for k = 0, d - 1 do v[k] = v[k] + weight(#list - j) * e[it * d + k] end
    end
    return v
  end
  return enc, twin
end

local function last_n(list, from, to, L) -- list[from..to], at most its last L
  local out = {}
  for j = math.max(from, to - L + 1), to do out[#out + 1] = list[j] end
  return out
end

-- Plain-Lua double: H of softmax over `set`, and -log P(t) over `set` (t in set).
local function logits(hv, e, d, set)
  local z = {}
  for j, it in ipairs(set) do
    local s = 0
    for k = 0, d - 1 do s = s + hv[k] * e[it * d + k] end
    z[j] = s
  end
  return z
end

local function softmax_stats(z, t_pos)
  local m = -math.huge
  for _, v in ipairs(z) do m = math.max(m, v) end
  local sum = 0
  for _, v in ipairs(z) do sum = sum + math.exp(v - m) end
  local H = 0
  for _, v in ipairs(z) do
    local p = math.exp(v - m) / sum
    H = H - p * math.log(p)
  end
  return H, t_pos and -(z[t_pos] - m - math.log(sum))
end

function tests.scores_match_a_plain_lua_double_recomputation()
  local ds = dataset()
  local n, d, L = ds:n_items(), 6, 4 -- planted sessions run to 9 items: max_len 4 truncates
  local items = random_items(n, d, 3)
  local enc, twin = weighted_encoder(items, d)
  local e = items:data()
  local s = sel.score(enc, ds, { max_len = L, batch_size = 17 })
  local cat = sel.score(enc, ds, { max_len = L, batch_size = 64, pred_over = "catalogue" })
  local sessions = train_sessions(ds)
  eq(s.n, #sessions, "every training session of length >= 2 is scored")
  local all = {}
  for j = 1, n do all[j] = j end
  local truncated = 0
  for i, x in ipairs(sessions) do
    local N = #x.items
    if N > L then truncated = truncated + 1 end
    eq(s.index[i], x.index, "index " .. i)
    eq(s.key[i], x.key, "key " .. i)
    eq(s.length[i], N, "length " .. i)
    local set = distinct(x.items) -- every item, even past max_len
    local target = x.items[N]
    local t_pos
    for j, it in ipairs(set) do if it == target then t_pos = j end end
    local hs = softmax_stats(logits(twin(last_n(x.items, 1, N, L)), e, d, set))
    local hp_twin = twin(last_n(x.items, 1, N - 1, L))
    local _, hp = softmax_stats(logits(hp_twin, e, d, set), t_pos)
    local _, hc = softmax_stats(logits(hp_twin, e, d, all), target)
    local tol = 2e-5
    h.truthy(math.abs(s.h_sess[i] - hs) <= tol * (1 + hs), string.format("session %d: H_sess %.9g, Lua %.9g",
      x.index, s.h_sess[i], hs))
    h.truthy(math.abs(s.h_pred[i] - hp) <= tol * (1 + hp), string.format("session %d: H_pred %.9g, Lua %.9g",
      x.index, s.h_pred[i], hp))
    h.truthy(math.abs(cat.h_pred[i] - hc) <= tol * (1 + hc), string.format("session %d: catalogue %.9g, Lua %.9g",
      x.index, cat.h_pred[i], hc))
    eq(cat.h_sess[i], s.h_sess[i], "H_sess does not depend on pred_over (session " .. x.index .. ")")
  end
  h.truthy(truncated > 10, "the test must truncate some sessions, did " .. truncated)
  eq(s.settings.pred_over, "session")
  eq(cat.settings.pred_over, "catalogue")
  eq(s.settings.max_len, L)
end

function tests.a_constant_model_scores_the_log_of_the_distinct_count()
  -- h = 0: every softmax is uniform. H_sess = H_pred = ln |S| (S: distinct items), and the
  -- catalogue NLL is ln n. Sessions with a repeated item show that repeats count once.
  local ds = dataset()
  local n = ds:n_items()
  local items = random_items(n, 4, 9)
  local zero = function(ctx, batch) return ctx:tensor({ batch.size, 4 }), items end
  local s = sel.score(zero, ds, {})
  local cat = sel.score(zero, ds, { pred_over = "catalogue" })
  local repeats = 0
  for i, x in ipairs(train_sessions(ds)) do
    local k = #distinct(x.items)
    if k < #x.items then repeats = repeats + 1 end
    h.near(s.h_sess[i], math.log(k), 1e-6, "H_sess of session " .. x.index)
    h.near(s.h_pred[i], math.log(k), 1e-6, "H_pred of session " .. x.index)
    h.near(cat.h_pred[i], math.log(n), 1e-5, "catalogue H_pred of session " .. x.index)
  end
  h.truthy(repeats > 0, "the planted data should hold sessions with a repeated item")
end

-- ---- choosing --------------------------------------------------------------------------------

-- The hand example: five sessions.
--   index   1    2    3    4    5
--   h_sess 0.5  0.9  0.9  0.1  0.3  -> descending, ties to the lower index: r_sess 3 1 2 5 4
--   h_pred 2.0  1.0  3.0  1.0  0.5  ->                                        r_pred 2 3 1 4 5
--   U (k 60): 1/63+1/62, 1/61+1/63, 1/62+1/61, 1/65+1/64, 1/64+1/65
--   by U: 3 (1/61+1/62), 2 (1/61+1/63), 1 (1/62+1/63), then 4 and 5 tie exactly -> 4, 5.
local function example()
  return { n = 5, index = { 1, 2, 3, 4, 5 }, key = { "a", "b", "c", "d", "e" }, length = { 2, 3, 4, 5, 6 },
           h_sess = { 0.5, 0.9, 0.9, 0.1, 0.3 }, h_pred = { 2.0, 1.0, 3.0, 1.0, 0.5 } }
end

function tests.rrf_hand_computed()
  local c = sel.choose(example(), { ratio = 0.4 })
  eq(c.strategy, "uncertainty")
  eq(c.rrf_k, 60)
  eq(c.rank_sess, { 3, 1, 2, 5, 4 })
  eq(c.rank_pred, { 2, 3, 1, 4, 5 })
  h.near(c.u, { 1 / 63 + 1 / 62, 1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 65 + 1 / 64, 1 / 64 + 1 / 65 }, 1e-15)
  eq(c.u[4], c.u[5], "swapped ranks give exactly equal U")
  eq(c.count, 2) -- floor(0.4 * 5 + 0.5)
  eq(c.hard, { 3, 2 })
  eq(c.selected, { false, true, true, false, false })
  eq(sel.choose(example(), { ratio = 1 }).hard, { 3, 2, 1, 4, 5 }, "all, in U order, the U tie by index")
  -- rrf_k = 0: U = 1/r_sess + 1/r_pred = .83 1.33 1.5 .45 .45: the same order
  local c0 = sel.choose(example(), { ratio = 1, rrf_k = 0 })
  h.near(c0.u, { 1 / 3 + 1 / 2, 1 + 1 / 3, 1 / 2 + 1, 1 / 5 + 1 / 4, 1 / 4 + 1 / 5 }, 1e-15)
  eq(c0.hard, { 3, 2, 1, 4, 5 })
  -- a large k flattens U towards 2/k but keeps the order of r_sess + r_pred (then index)
  eq(sel.choose(example(), { ratio = 1, rrf_k = 1e6 }).hard, { 3, 2, 1, 4, 5 })
end

function tests.ties_break_by_session_index_not_position()
  -- The same values under reversed indices: positions 2 and 3 tie on h_sess; position 3 now
  -- holds the lower index (3 < 4), so it ranks first. U then ties positions 4 and 5 (indices 2
  -- and 1): index 1 first.
  local s = example()
  s.index = { 5, 4, 3, 2, 1 }
  local c = sel.choose(s, { ratio = 1 })
  eq(c.rank_sess, { 3, 2, 1, 5, 4 })
  eq(c.rank_pred, { 2, 4, 1, 3, 5 }) -- h_pred 1.0 ties positions 2 (index 4) and 4 (index 2)
  -- U: pos1 1/63+1/62, pos2 1/62+1/64, pos3 1/61+1/61, pos4 1/65+1/63, pos5 1/64+1/65
  eq(c.hard, { 3, 5, 4, 2, 1 }) -- positions 3, 1, 2, 4, 5 as indices
end

function tests.nan_scores_rank_last()
  local s = example()
  s.h_sess[2] = 0 / 0
  local c = sel.choose(s, { ratio = 1, strategy = "h_sess" })
  eq(c.rank_sess, { 2, 5, 1, 4, 3 })
  eq(c.hard, { 3, 1, 5, 4, 2 })
end

function tests.ratio_rounds_to_the_nearest_count_halves_up()
  local s = example()
  for _, case in ipairs({ { 0, 0 }, { 0.09, 0 }, { 0.1, 1 }, { 0.29, 1 }, { 0.3, 2 }, { 0.5, 3 }, { 0.9, 5 }, { 1, 5 } }) do
    local c = sel.choose(s, { ratio = case[1] })
    eq(c.count, case[2], "ratio " .. case[1])
    eq(#c.hard, case[2], "ratio " .. case[1])
    local flagged = 0
    for i = 1, 5 do if c.selected[i] then flagged = flagged + 1 end end
    eq(flagged, case[2], "selected flags at ratio " .. case[1])
  end
  eq(sel.choose(s, { ratio = 0 }).hard, {}, "ratio 0 selects nothing")
  eq(sel.choose(s).count, 1, "the default ratio 0.1 of 5: floor(0.5 + 0.5) = 1")
end

function tests.single_entropy_strategies()
  eq(sel.choose(example(), { strategy = "h_sess", ratio = 0.6 }).hard, { 2, 3, 1 })
  eq(sel.choose(example(), { strategy = "h_pred", ratio = 0.6 }).hard, { 3, 1, 2 })
  eq(sel.choose(example(), { strategy = "h_pred", ratio = 1 }).hard, { 3, 1, 2, 4, 5 })
  -- ranks and U are reported whatever the strategy
  eq(sel.choose(example(), { strategy = "h_sess" }).rank_pred, { 2, 3, 1, 4, 5 })
end

function tests.random_selection_is_seeded()
  local n = 200
  local s = { n = n, index = {}, h_sess = {}, h_pred = {} }
  for i = 1, n do s.index[i], s.h_sess[i], s.h_pred[i] = 3 * i, i, -i end
  local a = sel.choose(s, { strategy = "random", ratio = 0.25, seed = 7 })
  local b = sel.choose(s, { strategy = "random", ratio = 0.25, seed = 7 })
  local c = sel.choose(s, { strategy = "random", ratio = 0.25, seed = 8 })
  eq(#a.hard, 50)
  eq(a.hard, b.hard, "the same seed selects the same sessions in the same order")
  h.truthy(table.concat(a.hard, ",") ~= table.concat(c.hard, ","), "another seed, another selection")
  eq(a.seed, 7)
  local seen, lo, hi = {}, math.huge, -math.huge
  for _, idx in ipairs(a.hard) do
    h.truthy(idx % 3 == 0 and idx >= 3 and idx <= 3 * n, "a selected index must be a scored session: " .. idx)
    h.truthy(not seen[idx], "selected twice: " .. idx)
    seen[idx] = true
    lo, hi = math.min(lo, idx), math.max(hi, idx)
    h.truthy(a.selected[idx / 3], "flag of position " .. idx / 3)
  end
  h.truthy(hi - lo > n, "a random selection should spread over the sessions, got " .. lo .. ".." .. hi)
  -- not the uncertainty order (which would be a run of consecutive positions here)
  h.truthy(table.concat(a.hard, ",") ~= table.concat(sel.choose(s, { ratio = 0.25 }).hard, ","))
  -- the permutation depends on the set of sessions, not on their order in scores
  local r = { n = n, index = {}, h_sess = {}, h_pred = {} }
  for i = 1, n do r.index[i], r.h_sess[i], r.h_pred[i] = s.index[n + 1 - i], 0, 0 end
  eq(sel.choose(r, { strategy = "random", ratio = 0.25, seed = 7 }).hard, a.hard)
end

-- ---- writing and loading ---------------------------------------------------------------------

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d .. "-select"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local t = f:read("*a")
  f:close()
  return t
end

function tests.write_and_load_round_trip()
  local s = example()
  s.key[2] = "tab\there\\and\nnewline"
  s.h_pred[5] = 0.1 + 0.2 -- not a short decimal: must come back as the same double
  s.settings = { split = "train", max_len = 50, pred_over = "session", n_items = 99 }
  local c = sel.choose(s, { ratio = 0.4 })
  local dir = tmpdir()
  local tsv, js = sel.write(dir, s, c)
  eq(tsv, dir .. "/selection.tsv")
  local lines = {}
  for line in read(tsv):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  eq(#lines, 6, "a header and one row per session")
  eq(lines[1], "session\tkey\tlength\th_sess\th_pred\trank_sess\trank_pred\tu\tselected\torder")
  h.truthy(lines[4]:match("^3\tc\t4\t0%.9") and lines[4]:match("\t1\t1$"), "row of session 3: " .. lines[4])
  h.truthy(lines[3]:match("\t1\t2$"), "session 2 is selected second: " .. lines[3])
  h.truthy(lines[2]:match("\t0\t0$"), "session 1 is not selected: " .. lines[2])
  local summary = require("sprint.llm.json").decode(read(js))
  eq(summary.strategy, "uncertainty")
  eq(summary.ratio, 0.4)
  eq(summary.rrf_k, 60)
  eq(summary.n_sessions, 5)
  eq(summary.n_selected, 2)
  eq(summary.scoring.n_items, 99)
  -- selected: sessions 3 and 2 (h_sess 0.9 0.9, h_pred 3.0 1.0); the rest 1 4 5
  h.near(summary.mean_h_sess.selected, 0.9, 1e-12)
  h.near(summary.mean_h_sess.rest, (0.5 + 0.1 + 0.3) / 3, 1e-12)
  h.near(summary.mean_h_pred.selected, 2.0, 1e-12)
  h.near(summary.mean_h_pred.rest, (2.0 + 1.0 + 0.3) / 3, 1e-12)

  local s2, c2, sum2 = sel.load(dir)
  eq(sum2.n_selected, 2)
  eq(s2.n, 5)
  for _, f in ipairs({ "index", "key", "length", "h_sess", "h_pred" }) do eq(s2[f], s[f], "scores." .. f) end
  eq(s2.settings.max_len, 50)
  for _, f in ipairs({ "hard", "rank_sess", "rank_pred", "u", "selected" }) do eq(c2[f], c[f], "choice." .. f) end
  for _, f in ipairs({ "strategy", "ratio", "rrf_k", "count", "n" }) do eq(c2[f], c[f], "choice." .. f) end
  -- a rerun can choose again from loaded scores and get the same selection
  eq(sel.choose(s2, { ratio = 0.4 }).hard, c.hard)
  os.execute("rm -rf '" .. dir .. "'")
end

function tests.load_reports_a_missing_or_damaged_selection()
  local dir = tmpdir()
  local s, err = sel.load(dir)
  eq(s, nil)
  h.truthy(err:find("no selection in " .. dir, 1, true), err)
  local ex = example()
  sel.write(dir, ex, sel.choose(ex, { ratio = 0.4 }))
  local tsv = dir .. "/selection.tsv"
  local text = read(tsv)
  local f = io.open(tsv, "wb")
  f:write((text:gsub("\n3\tc\t4\t", "\n3\tc\tfour\t")))
  f:close()
  h.raises({ "selection.tsv:4:", "expected 10 tab-separated fields" }, sel.load, dir)
  f = io.open(tsv, "wb")
  f:write((text:gsub("^session", "sessions")))
  f:close()
  h.raises("selection.tsv:1: unexpected header", sel.load, dir)
  f = io.open(tsv, "wb")
  f:write((text:gsub("\t1\t2\n", "\t1\t3\n")))
  f:close()
  h.raises("the order column skips or repeats 2", sel.load, dir)
  os.remove(dir .. "/selection.json")
  h.raises("selection.json is missing", sel.load, dir)
  os.execute("rm -rf '" .. dir .. "'")
end

-- ---- every backbone end to end ---------------------------------------------------------------

local function backbone(ds, kind, seed)
  local P = sprint.nn.params(seed or 1)
  return sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = 6, dim = 16, heads = 2,
                                     layers = 1, dropout = 0.3 })
end

for _, kind in ipairs({ "sasrec", "bert4rec", "gru4rec" }) do
  tests[kind .. "_scores_every_training_session"] = function()
    local ds = dataset()
    local m = backbone(ds, kind)
    local ctx = sprint.ctx(3)
    ctx:train(true)
    ctx:set_grad_enabled(true)
    local s = sel.score(m, ds, { max_len = 6, batch_size = 64, ctx = ctx })
    h.truthy(ctx:training() and ctx:grad_enabled(), "the context's modes are restored")
    local sessions = train_sessions(ds)
    eq(s.n, #sessions)
    local spread = { math.huge, -math.huge }
    for i, x in ipairs(sessions) do
      eq(s.index[i], x.index)
      local k = #distinct(x.items)
      h.truthy(s.h_sess[i] >= 0 and s.h_sess[i] <= math.log(k) + 1e-6,
        string.format("%s session %d: H_sess %g outside [0, ln %d]", kind, x.index, s.h_sess[i], k))
      h.truthy(s.h_pred[i] >= 0 and s.h_pred[i] < 50, string.format("%s: H_pred %g", kind, s.h_pred[i]))
      spread[1], spread[2] = math.min(spread[1], s.h_sess[i]), math.max(spread[2], s.h_sess[i])
    end
    h.truthy(spread[2] - spread[1] > 0.1, kind .. ": entropies should differ between sessions")
    -- eval mode (dropout 0.3 off) and batching: another batch size gives the same numbers
    local s2 = sel.score(m, ds, { max_len = 6, batch_size = 5 })
    h.near(s2.h_sess, s.h_sess, 1e-5, kind .. " H_sess, batch 5 vs 64")
    h.near(s2.h_pred, s.h_pred, 1e-5, kind .. " H_pred, batch 5 vs 64")
    -- the catalogue holds S, so its NLL is never below the session one
    local cat = sel.score(m, ds, { max_len = 6, pred_over = "catalogue" })
    for i = 1, s.n do
      h.truthy(cat.h_pred[i] >= s.h_pred[i] - 1e-5, string.format("%s session %d: catalogue %g < session %g", kind,
        s.index[i], cat.h_pred[i], s.h_pred[i]))
    end
    local c = sel.choose(s, { ratio = 0.1 })
    eq(#c.hard, math.floor(0.1 * s.n + 0.5))
    ctx:free()
  end
end

-- ---- errors ------------------------------------------------------------------------------------

function tests.score_errors()
  local ds = dataset()
  local items = random_items(ds:n_items(), 4, 1)
  local ok_model = function(ctx, batch) return ctx:tensor({ batch.size, 4 }), items end
  h.raises("select.score: the model must be a backbone", sel.score, 42, ds)
  h.raises("select.score: ds must be a dataset", sel.score, ok_model, {})
  h.raises("unknown option 'batchsize'", sel.score, ok_model, ds, { batchsize = 3 })
  h.raises("option max_len must be a number, got string", sel.score, ok_model, ds, { max_len = "5" })
  h.raises("pred_over must be \"session\" or \"catalogue\", got all", sel.score, ok_model, ds, { pred_over = "all" })
  h.raises("split must be train, valid or test, got dev", sel.score, ok_model, ds, { split = "dev" })
  h.raises("batch_size must be an integer >= 1, got 0", sel.score, ok_model, ds, { batch_size = 0 })
  h.raises("max_len must be an integer >= 2, got 1", sel.score, ok_model, ds, { max_len = 1 })
  h.raises("encode must return two tensors", sel.score, function() return 1, 2 end, ds)
  h.raises("encode returned h of shape {3, 4}", sel.score, function(ctx) return ctx:tensor({ 3, 4 }), items end, ds)
  h.raises({ "sp_session_target_nll", "is not an item id in 1..5" }, sel.score, ok_model, ds, { n_items = 5 })
  local small = random_items(5, 4, 1) -- a table too small for the dataset's item ids
  h.raises({ "sp_session_target_nll", "n_items" }, sel.score,
    function(ctx, batch) return ctx:tensor({ batch.size, 4 }), small end, ds)
  h.raises("model exploded", sel.score, function() error("model exploded") end, ds)
end

function tests.choose_and_write_errors()
  local s = example()
  h.raises("scores must come from select.score", sel.choose, {})
  h.raises("strategy must be one of h_pred, h_sess, random, uncertainty, got best", sel.choose, s, { strategy = "best" })
  h.raises("ratio must be in [0, 1], got 1.5", sel.choose, s, { ratio = 1.5 })
  h.raises("ratio must be in [0, 1], got -0.1", sel.choose, s, { ratio = -0.1 })
  h.raises("ratio must be in [0, 1], got nan", sel.choose, s, { ratio = 0 / 0 })
  h.raises("rrf_k must be a number >= 0, got -1", sel.choose, s, { rrf_k = -1 })
  h.raises("seed must be an integer >= 0", sel.choose, s, { strategy = "random", seed = 1.5 })
  h.raises("unknown option 'k'", sel.choose, s, { k = 60 })
  local bad = example()
  bad.h_pred[6] = 1
  h.raises("scores hold 5 indices, 5 h_sess and 6 h_pred", sel.choose, bad)
  local dup = example()
  dup.index[4] = 2
  h.raises("scores.index[4] = 2 must be a session index listed once", sel.choose, dup)
  h.raises("select.write: a directory is needed", sel.write, "", s, sel.choose(s))
  h.raises("choice must come from select.choose", sel.write, "/tmp/x", s, {})
  h.raises("select.load: a directory is needed", sel.load, nil)
end

return tests
