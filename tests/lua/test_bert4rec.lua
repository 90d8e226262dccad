-- test_bert4rec.lua — BERT4Rec's training examples and output head from Lua: the cloze task sees
-- every training session whole (one row per session, its last max_len items, the last item
-- included), every training event becomes a cloze target over epochs (on the planted dataset,
-- and on Beauty's batches when ../shared is here), and the scores evaluation computes through
-- the (item table | bias) pair equal the training loss's logits, head on and off.
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data

local tests = {}

local function planted()
  -- sessions of 3..14 items against max_len 8: some are truncated from the left
  return h.planted { n_sessions = 400, n_intents = 4, items_per_intent = 20, min_len = 3, max_len = 14 }
end

local function bert4rec(ds, opts)
  local o = { kind = "bert4rec", n_items = ds:n_items(), max_len = 8, dim = 16, heads = 2, layers = 1 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return sprint.model.backbone(sprint.nn.params(1), o)
end

-- The batches train.fit makes for the model.
local function batches(ds, m, B, L)
  return ds:batches { split = "train", batch_size = B, max_len = L, n_hard_neg = 0, seed = 2,
                      prefix_augment = not m.whole_sessions }
end

-- Checks one epoch's whole-session rows against the dataset: each training session exactly once,
-- holding its last min(len, L) items right-aligned. Returns the events covered and the total.
local function check_whole_sessions(ds, L, B)
  local m = bert4rec(ds, { max_len = L })
  h.truthy(m.whole_sessions, "BERT4Rec asks for one example per session")
  local b = batches(ds, m, B, L)
  local ctx = sprint.ctx(1)
  local seen, covered = {}, 0
  for rows in b:epoch(1) do
    ctx:reset()
    local seq = sprint.model.whole_sessions(ctx, b, rows)
    local sd, ss = seq:data(), b.session:data()
    for r = 0, rows - 1 do
      local s = ds:session(ss[r] + 1)
      h.eq(seen[s.index], nil, "session " .. s.index .. " appears once per epoch")
      seen[s.index] = true
      local n = math.min(#s.items, L)
      for c = 0, L - 1 do
        local want = c >= L - n and s.items[#s.items - L + c + 1] or 0
        if sd[r * L + c] ~= want then
          error(string.format("session %d column %d: %d, want %d", s.index, c, sd[r * L + c], want), 0)
        end
      end
      h.eq(sd[r * L + L - 1], s.items[#s.items], "the session's last item is in its row")
      covered = covered + n
    end
  end
  local total, sessions = 0, 0
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" then
      total, sessions = total + math.min(#s.items, L), sessions + 1
      h.truthy(seen[i], "training session " .. i .. " has a row")
    end
  end
  return covered, total, sessions
end

function tests.every_training_session_is_one_whole_row()
  local ds = planted()
  local covered, total = check_whole_sessions(ds, 8, 64)
  h.eq(covered, total, "events in the rows vs training events (last 8 of each session)")
end

function tests.every_training_event_becomes_a_cloze_target()
  local ds = planted()
  local L = 8
  local m = bert4rec(ds, { max_len = L })
  local b = batches(ds, m, 64, L)
  local ctx = sprint.ctx(3)
  local hit, last_only = {}, 0
  for epoch = 1, 150 do
    for rows in b:epoch(epoch) do
      ctx:reset()
      local masked, labels = m:cloze(ctx, b, rows)
      local W = labels:shape()[2]
      local ld, ss = labels:data(), b.session:data()
      for r = 0, rows - 1 do
        local s = ds:session(ss[r] + 1)
        local n = 0
        for c = 0, W - 1 do
          local v = ld[r * W + c]
          if v >= 0 then
            local k = #s.items - W + c + 1 -- 1-based position in the session
            h.eq(v, s.items[k], "a label is the session's item at its position")
            hit[s.index .. ":" .. k] = true
            n = n + 1
          end
        end
        h.truthy(n >= 1, "every row has a cloze target")
        if n == 1 and ld[r * W + W - 1] >= 0 then last_only = last_only + 1 end
      end
    end
  end
  local missed = {}
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" then
      for k = math.max(1, #s.items - L + 1), #s.items do
        if not hit[i .. ":" .. k] then missed[#missed + 1] = i .. ":" .. k end
      end
    end
  end
  h.eq(#missed, 0, "training events never masked in 150 epochs (" .. table.concat(missed, " ", 1, math.min(#missed, 8)) .. ")")
  h.truthy(last_only > 0, "some rows are masked at their last item only")
end

-- On the real data: the audit found 0 of Beauty's 6,083 training sessions' last items in any
-- cloze input; every one is there now, and every training event of a session up to max_len.
function tests.beauty_training_sessions_are_whole_cloze_rows()
  local f = io.open(data.root() .. "/../shared/datasets/amazon_beauty_2014_5core/PROVENANCE.md", "rb")
  if not f then h.skip("../shared/datasets is not here") end
  f:close()
  local ds = data.load("beauty")
  local covered, total, sessions = check_whole_sessions(ds, 50, 256)
  h.eq(covered, total, "Beauty training events in the cloze rows")
  h.eq(sessions, ds:stats().train.sessions)
end

-- h . table^T from encode_last (what evaluation ranks with) equals the loss's logits.
local function check_scores_agree(ds, output_head)
  local m = bert4rec(ds, { output_head = output_head })
  local P = m.params
  local rng = sprint.rng(4)
  for name, t in P:iter() do
    if name:find("head.bias", 1, true) then t:fill_normal(rng, 0, 1) end -- a non-zero output bias
  end
  local ctx = sprint.ctx(1)
  ctx:train(false)
  local B = 5
  local seq = ctx:tensor({ B, 8 }, "i32")
  local last = ctx:tensor({ B }, "i32")
  local sd, ld = seq:data(), last:data()
  for r = 0, B - 1 do
    for c = 8 - 2 - r, 7 do sd[r * 8 + c] = 1 + (r * 7 + c) % ds:n_items() end
    ld[r] = 7
  end
  local hh, items = m:encode_last(ctx, seq, last)
  local d = items:shape()[2]
  h.eq(d, output_head and 16 + 1 or 16, "the scoring pair's width")
  h.eq(m.output_bias ~= nil, output_head, "an output bias exactly with the head")
  local eval_scores = ctx:matmul(hh, items, false, true)   -- (B, n + 2)
  -- the logits the loss uses, for the same h_S at the [MASK] position
  local s2, l2 = ctx:tensor({ B, 8 }, "i32"), ctx:tensor({ B }, "i32")
  require("ffi").copy(s2:data(), seq:data(), B * 8 * 4)
  sprint.lib.C.sp_bert4rec_append_mask(s2._p, l2._p, sprint.lib.C.sp_backbone_mask_token(m._p))
  local hS = m:encode(ctx, s2, l2)
  local logits = m:scores(ctx, hS)                          -- (B, n)
  local n = ds:n_items()
  local worst = 0
  for r = 1, B do
    for j = 1, n do worst = math.max(worst, math.abs(eval_scores:get(r, j + 1) - logits:get(r, j))) end
  end
  h.truthy(worst < 1e-4, string.format("evaluation scores differ from the loss's logits by %.3g", worst))
end

function tests.evaluation_scores_are_the_loss_logits_with_the_head()
  check_scores_agree(planted(), true)
end

function tests.evaluation_scores_are_the_loss_logits_without_the_head()
  check_scores_agree(planted(), false)
end

function tests.prefix_batches_are_refused()
  local ds = planted()
  local m = bert4rec(ds)
  local b = ds:batches { split = "train", batch_size = 16, max_len = 8, n_hard_neg = 0 }
  local ctx = sprint.ctx(1)
  for rows in b:epoch(1) do
    h.raises("whole sessions", function() m:loss(ctx, b, rows) end)
    break
  end
end

return tests
