-- test_one_pass.lua — training with one causal pass per session (backbone option one_pass):
-- the batcher's per-position targets and negatives, no position sees its own target (the
-- states of a session's prefix do not change when later items are removed), GRU4Rec's
-- per-position states equal its prefix examples', the loss counts every position once, both
-- causal backbones learn the planted data through train.fit, and misuse is refused.
local ffi = require "ffi"
local sprint = require "sprint"
local h = require "helpers"

local tests = {}

local function planted()
  return h.planted { n_sessions = 600, n_intents = 6, items_per_intent = 30, follow = 0.85, noise = 0.05 }
end

local function model(ds, kind, seed, one_pass)
  local P = sprint.nn.params(seed or 1)
  return sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = 10, dim = 32, heads = 2,
                                     layers = 2, dropout = 0.1, one_pass = one_pass })
end

function tests.positions_name_each_next_item_and_draw_outside_the_session()
  local ds = planted()
  local b = ds:batches { batch_size = 32, max_len = 10, prefix_augment = false, n_uniform_neg = 3, n_hard_neg = 0 }
  local checked = 0
  for rows in b:epoch(2) do
    local nxt, neg = b:positions()
    local sq, tg, ss, nd, gd = b.seq:data(), b.target:data(), b.session:data(), nxt:data(), neg:data()
    for r = 0, rows - 1 do
      local items = ds:session(ss[r] + 1)
      local inset = {}
      for _, it in ipairs(items.items) do inset[it] = true end
      for c = 0, 9 do
        local cell = r * 10 + c
        if sq[cell] == 0 then
          h.eq(nd[cell], 0, "padding has no next item")
          for k = 0, 2 do h.eq(gd[cell * 3 + k], 0, "padding has no negatives") end
        else
          -- the item after this one: the next column's, or the row's target at the last column
          local want = c < 9 and sq[cell + 1] or tg[r]
          h.eq(nd[cell], want, "next item of row " .. r .. " column " .. c)
          for k = 0, 2 do
            local g = gd[cell * 3 + k]
            h.truthy(g >= 1 and g <= ds:n_items() and not inset[g], "negative " .. g .. " is an item outside the session")
          end
          checked = checked + 1
        end
      end
    end
  end
  h.truthy(checked > 1000, "positions checked: " .. checked)
  -- a function of (seed, epoch, example, position): the same epoch gives the same negatives
  local first = {}
  for _ in b:epoch(5) do
    local _, neg = b:positions()
    first[#first + 1] = ffi.string(neg:data(), 32 * 10 * 3 * 4)
  end
  local i = 0
  for _ in b:epoch(5) do
    i = i + 1
    local _, neg = b:positions()
    h.eq(ffi.string(neg:data(), 32 * 10 * 3 * 4), first[i], "batch " .. i .. " drawn again alike")
  end
end

-- A session's states at positions <= t must not depend on its items after t: the one-pass
-- loss at t then predicts an item the model has not seen.
for _, kind in ipairs({ "sasrec", "gru4rec" }) do
  tests[kind .. "_no_position_sees_later_items"] = function()
    local ds = planted()
    local m = model(ds, kind, 3, true)
    local ctx = sprint.ctx(1)
    ctx:eval()
    local L, T = 10, 6
    local seq, cut = ctx:tensor({ 1, L }, "i32"), ctx:tensor({ 1, L }, "i32")
    local last = ctx:tensor({ 1 }, "i32")
    local s, c = seq:data(), cut:data()
    for j = 0, L - 1 do s[j] = 1 + (j * 7) % ds:n_items() end
    for j = 0, L - 1 do c[j] = j <= T and s[j] or 0 end
    last:data()[0] = L - 1
    local _, full = m:encode(ctx, seq, last)
    local _, part = m:encode(ctx, cut, last)
    local d = full:shape()[3]
    local fd, pd = full:data(), part:data()
    for j = 0, T do
      for k = 0, d - 1 do
        h.near(pd[j * d + k], fd[j * d + k], 1e-5, kind .. ": position " .. j .. " changed with later items")
      end
    end
  end
end

-- GRU4Rec has no positions: a session's state at t is its prefix example's h_S.
function tests.gru4rec_states_are_the_prefix_examples()
  local ds = planted()
  local m = model(ds, "gru4rec", 5, true)
  local ctx = sprint.ctx(1)
  ctx:eval()
  local whole = ds:batches { batch_size = 16, max_len = 10, prefix_augment = false, shuffle = false, bucket = false,
                             n_uniform_neg = 0, n_hard_neg = 0 }
  local rows = whole:epoch(0)()
  local W = whole.seq:clone()
  local _, hseq = m:encode(ctx, W, whole.last)
  local Lw, d = hseq:shape()[2], hseq:shape()[3]
  local hd, sd = hseq:data(), W:data()
  local compared = 0
  for r = 0, rows - 1 do
    for t = 0, 9 do
      if sd[r * 10 + t] ~= 0 then -- the prefix ending at column t, right-aligned on its own
        local p, pl = ctx:tensor({ 1, 10 }, "i32"), ctx:tensor({ 1 }, "i32")
        local pdat = p:data()
        for j = 0, t do pdat[9 - t + j] = sd[r * 10 + j] end
        pl:data()[0] = 9
        local hs = m:encode(ctx, p, pl)
        local got = hs:data()
        local off = (r * Lw + (t - (10 - Lw))) * d
        for k = 0, d - 1 do h.near(got[k], hd[off + k], 1e-5, "row " .. r .. " position " .. t) end
        compared = compared + 1
      end
    end
  end
  h.truthy(compared > 20, "states compared: " .. compared)
end

function tests.the_loss_scores_every_real_position_once()
  local ds = planted()
  local m = model(ds, "sasrec", 2, true)
  local ctx = sprint.ctx(1)
  local b = ds:batches { batch_size = 32, max_len = 10, prefix_augment = false, n_uniform_neg = 2, n_hard_neg = 0 }
  local rows = b:epoch(1)()
  local positions = 0
  local sq = b.seq:data()
  for i = 0, rows * 10 - 1 do if sq[i] ~= 0 then positions = positions + 1 end end
  h.truthy(positions > rows, "more positions (" .. positions .. ") than sessions (" .. rows .. ")")
  -- the profiler counts the BCE's bytes: logits, labels and weights (n, 1 + K) and the loss
  ctx:profile(true)
  local loss = m:loss(ctx, b, rows)
  ctx:profile(false)
  local bce
  for _, r in ipairs(ctx:profile_rows()) do if r.op == "sp_bce_logits" then bce = r end end
  h.eq((bce.bytes / 4 - 1) / (3 * 3), positions, "BCE terms: one row of 1 + K logits per real position")
  h.truthy(loss:item() > 0 and loss:item() < 5, "loss " .. loss:item())
  ctx:backward(loss)
  h.truthy(m.items:grad() ~= nil, "gradients reach the item table")
  -- ce loss: the same positions, softmax over all items
  local P = sprint.nn.params(2)
  local mc = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 10, dim = 32, heads = 2,
                                      layers = 1, loss = "ce", one_pass = true })
  ctx:reset()
  local lc = mc:loss(ctx, b, rows)
  h.near(lc:item(), math.log(ds:n_items()), 0.5, "a fresh model's cross-entropy is near log(n_items)")
end

for _, kind in ipairs({ "sasrec", "gru4rec" }) do
  tests[kind .. "_learns_the_planted_data_in_one_pass_mode"] = function()
    -- test_train's planted data: a third of the prefix mode's steps per epoch, so more epochs
    local ds = h.planted { n_sessions = 1500, n_intents = 6, items_per_intent = 30, follow = 0.85, noise = 0.05 }
    local m = model(ds, kind, 1, true)
    local res = sprint.train.fit(m, ds, { epochs = 30, batch_size = 64, max_len = 10, lr = 3e-3, patience = 8,
                                          metric = "HR@10", log = function() end })
    local test = sprint.eval.rank(function(ctx, b) return m:encode_last(ctx, b.seq, b.last) end, ds,
      { split = "test", max_len = 10 })
    local chance = 10 / ds:n_items()
    h.truthy(test.metrics["HR@10"] > 4 * chance, string.format("%s one pass: test HR@10 %.3f vs chance %.3f (best epoch %d)",
      kind, test.metrics["HR@10"], chance, res.best_epoch))
  end
end

function tests.misuse_is_refused()
  local ds = planted()
  h.raises({ "one_pass", "BERT4Rec" }, function() model(ds, "bert4rec", 1, true) end)
  local m = model(ds, "sasrec", 1, true)
  local b = ds:batches { batch_size = 32, max_len = 10, prefix_augment = true, n_uniform_neg = 1, n_hard_neg = 0 }
  local rows = b:epoch(1)()
  h.raises({ "one_pass", "prefix_augment = false" }, function() m:loss(sprint.ctx(1), b, rows) end)
end

return tests
