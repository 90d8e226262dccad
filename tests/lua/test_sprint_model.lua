-- test_sprint_model.lua — sprint.sprint_model (SPRINT's Eq. 17 around a backbone): on the
-- planted dataset with Stage-1-like labels from the planted hidden intents, a tiny SASRec +
-- predictor trains through train.fit with the label-refresh hooks and its loss falls;
-- encode_last gives h_tilde (not h) with fusion on and h with it off; the loss is exactly
-- L_rec + lambda_i L_intent + lambda_o L_ortho and each switch drops its term; errors.
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data
local labels = sprint.intents.labels

local tests = {}

local function planted()
  return h.planted { n_sessions = 600, n_intents = 4, items_per_intent = 20, follow = 0.85, noise = 0.05 }
end

-- What sprint.intents.load would give if Stage 1 recovered the planted intents of every
-- other training session: { labels = {session -> {intent ids}} }, and the number of intents.
local function stage1_like(ds)
  local ids, names = {}, ds:labels()
  for k, name in ipairs(names) do ids[name] = k end
  local out, n = { labels = {} }, 0
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" and s.labels and i % 2 == 0 then
      local l = {}
      for k, name in ipairs(s.labels) do l[k] = ids[name] end
      out.labels[i], n = l, n + 1
    end
  end
  assert(n > 0 and #names > 0, "the planted dataset has no labelled training sessions")
  return out, #names
end

local function build(ds, opts, seed)
  local loaded, Cn = stage1_like(ds)
  local P = sprint.nn.params(seed or 1)
  local bb = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 10, dim = 16, heads = 2,
                                        layers = 1, dropout = 0.1 })
  local im = sprint.intent_model.new(P, { dim = 16, n_intents = Cn, dropout = 0.1 })
  local store = labels.from_stage1(loaded, ds:n_sessions(), Cn)
  return sprint.sprint_model.new(bb, im, store, opts), store
end

local function quiet() end

function tests.trains_through_fit_with_label_refresh()
  local ds = planted()
  local sm, store = build(ds, { lambda_intent = 0.1, lambda_ortho = 1e-3 })
  local before = store:n_labelled()
  local refreshed = {}
  local hooks = sm:hooks(ds, { every = 2, k = 5, max_len = 10, batch_size = 64 })
  local on_every = hooks.on_every
  hooks.on_every = function(epoch, ...) refreshed[#refreshed + 1] = epoch; return on_every(epoch, ...) end
  local res = sprint.train.fit(sm, ds, { epochs = 4, batch_size = 64, max_len = 10, lr = 3e-3, patience = 10,
                                         eval_every = 4, metric = "HR@10", log = quiet, hooks = hooks })
  h.eq(h.show(refreshed), "{2, 4}")
  h.truthy(res.history[4].loss < res.history[1].loss,
    string.format("loss fell: %.4f -> %.4f", res.history[1].loss, res.history[4].loss))
  -- every training session was relabelled (weight 1), the labels are soft probabilities
  local n_train = ds:stats().train.sessions
  h.truthy(store:n_labelled() >= n_train and store:n_labelled() > before,
    string.format("%d labelled after refresh (%d before, %d training sessions)", store:n_labelled(), before, n_train))
  local soft = 0
  for i = 1, ds:n_sessions() do
    local y, w = store:get(i)
    for _, v in ipairs(y) do
      h.truthy(v >= 0 and v <= 1, "label in [0, 1]")
      if w > 0 and v > 0 and v < 1 then soft = soft + 1 end
    end
  end
  h.truthy(soft > 0, "enriched labels are soft")
  local chance = 10 / ds:n_items()
  h.truthy(res.best > 2 * chance, string.format("valid HR@10 %.3f vs chance %.3f", res.best, chance))
end

local function first_batch(ds)
  local b = ds:batches { split = "train", batch_size = 32, max_len = 10, n_uniform_neg = 2, seed = 3 }
  local rows = b:epoch(1)()
  return b, rows
end

function tests.encode_last_fuses_only_with_fusion_on()
  local ds = planted()
  local b, rows = first_batch(ds)
  for _, fusion in ipairs({ true, false }) do
    local sm = build(ds, { fusion = fusion })
    local ctx = sprint.ctx(1):eval()
    local ht, items = sm:encode_last(ctx, b.seq, b.last)
    local hh = sm.backbone:encode(ctx, b.seq, b.last)
    h.eq(items, sm.backbone.items)
    local a, c = ht:totable(), hh:totable()
    local diff = 0
    for r = 1, rows do for k = 1, #a[r] do diff = math.max(diff, math.abs(a[r][k] - c[r][k])) end end
    if fusion then h.truthy(diff > 1e-3, "h_tilde differs from h: " .. diff) else h.eq(diff, 0, "h_tilde = h") end
  end
end

function tests.loss_is_the_sum_of_its_terms_and_switches_drop_them()
  local ds = planted()
  local b, rows = first_batch(ds)
  local li, lo = 0.3, 0.2
  local function terms(opts)
    local sm = build(ds, opts, 5) -- same seed: same parameters in every setting
    local ctx = sprint.ctx(1):eval() -- no dropout: every forward gives the same numbers
    local total, parts = sm:loss(ctx, b, rows)
    -- the terms computed separately
    local ht, _, _, logits = sm:encode(ctx, b.seq, b.last)
    local rec = sm.backbone:rec_loss(ctx, ht, b, rows):item()
    local y, w = sm.labels:batch(ctx, b.session, rows)
    local l_int = sm.predictor:loss(ctx, logits, y, w):item()
    local l_orth = sm.predictor:ortho(ctx):item()
    return total:item(), parts, rec, l_int, l_orth, sm, ctx
  end
  local base = { lambda_intent = li, lambda_ortho = lo }
  local total, parts, rec, l_int, l_orth = terms(base)
  h.truthy(l_int > 0 and l_orth < 0, "both terms are non-trivial")
  h.near(parts.rec:item(), rec, 1e-6)
  h.near(parts.intent:item(), l_int, 1e-6)
  h.near(parts.ortho:item(), l_orth, 1e-6)
  h.near(total, rec + li * l_int + lo * l_orth, 1e-5)
  -- switches
  local t2, p2 = terms { lambda_intent = li, lambda_ortho = lo, intent_loss = false }
  h.eq(p2.intent, nil)
  h.near(t2, rec + lo * l_orth, 1e-5)
  local t3, p3 = terms { lambda_intent = li, lambda_ortho = lo, ortho = false }
  h.eq(p3.ortho, nil)
  h.near(t3, rec + li * l_int, 1e-5)
  -- fusion off: L_rec on h is exactly the backbone's own loss
  local t4, p4, _, l_int4, l_orth4, sm4, ctx4 = terms { lambda_intent = li, lambda_ortho = lo, fusion = false }
  local plain = sm4.backbone:loss(ctx4, b, rows):item()
  h.near(p4.rec:item(), plain, 1e-6)
  h.near(t4, plain + li * l_int4 + lo * l_orth4, 1e-5)
  h.truthy(math.abs(plain - rec) > 1e-6, "fusion changes L_rec")
  -- the labels' weights: only the labelled sessions of the batch count in L_intent
  local sm = build(ds, base, 5)
  local _, wts = sm.labels:batch(sprint.ctx(), b.session, rows)
  local n = 0
  for r = 0, rows - 1 do n = n + wts:data()[r] end
  h.truthy(n > 0 and n < rows, string.format("%d of %d rows labelled", n, rows))
end

-- BERT4Rec: SPRINT ranks h_tilde of the [MASK] appended to the session through the output
-- head (with fusion off exactly as the backbone ranks); its L_rec is the cloze loss on h_tilde
-- of the masked positions (with fusion off exactly the backbone's cloze loss on the same masks).
function tests.bert4rec_ranks_h_tilde_through_its_head_and_fuses_in_its_cloze_loss()
  local ds = planted()
  local loaded, Cn = stage1_like(ds)
  local function make(opts)
    local P = sprint.nn.params(4)
    local bb = sprint.model.backbone(P, { kind = "bert4rec", n_items = ds:n_items(), max_len = 10, dim = 16,
                                          heads = 2, layers = 1, dropout = 0.1 })
    local im = sprint.intent_model.new(P, { dim = 16, n_intents = Cn, dropout = 0.1 })
    return sprint.sprint_model.new(bb, im, labels.from_stage1(loaded, ds:n_sessions(), Cn), opts)
  end
  local b, rows = first_batch(ds)
  for _, fusion in ipairs({ false, true }) do
    local sm = make { fusion = fusion }
    local ctx = sprint.ctx(1):eval()
    local hs, tab = sm:encode_last(ctx, b.seq, b.last)
    local hb, tb = sm.backbone:encode_last(ctx, b.seq, b.last)
    h.eq(h.show(hs:shape()), "{32, 17}", "the head's output with its trailing 1")
    h.eq(h.show(tab:shape()), h.show(tb:shape()))
    local a, c = hs:totable(), hb:totable()
    local diff = 0
    for r = 1, rows do for k = 1, #a[r] do diff = math.max(diff, math.abs(a[r][k] - c[r][k])) end end
    if fusion then h.truthy(diff > 1e-4, "h_tilde through the head differs: " .. diff) else h.eq(diff, 0) end
  end
  local wb = ds:batches { split = "train", batch_size = 32, max_len = 10, prefix_augment = false, n_uniform_neg = 1, seed = 3 }
  local wrows = wb:epoch(1)()
  local function rec_of(opts)
    local sm = make(opts)
    local ctx = sprint.ctx(2):eval() -- the same seed: the same masks
    local total, parts = sm:loss(ctx, wb, wrows)
    local ctx2 = sprint.ctx(2):eval()
    return parts, total, sm.backbone:loss(ctx2, wb, wrows):item(), sm
  end
  local parts, _, cloze = rec_of { fusion = false, lambda_intent = 0.1 }
  h.near(parts.rec:item(), cloze, 1e-6, "fusion off: L_rec is the backbone's cloze loss")
  local parts2, total2, cloze2 = rec_of { lambda_intent = 0.1 }
  h.truthy(math.abs(parts2.rec:item() - cloze2) > 1e-5, "fusion changes the cloze loss")
  h.truthy(parts2.intent and parts2.ortho and parts2.intent:item() > 0, "every term is there")
  h.near(total2:item(), parts2.rec:item() + 0.1 * parts2.intent:item() + 1e-3 * parts2.ortho:item(), 1e-5)
  local sm = make { lambda_intent = 0.1 }
  h.truthy(sm.whole_sessions, "one example per session, as BERT4Rec's own training")
  local res = sprint.train.fit(sm, ds, { epochs = 3, batch_size = 64, max_len = 10, lr = 3e-3, eval_every = 3,
                                         metric = "HR@10", log = quiet, hooks = sm:hooks(ds, { every = 2, max_len = 10 }) })
  h.truthy(res.history[3].loss < res.history[1].loss,
    string.format("loss fell: %.4f -> %.4f", res.history[1].loss, res.history[3].loss))
end

function tests.errors()
  local ds = planted()
  local P = sprint.nn.params(1)
  local bb = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 10, dim = 8, heads = 2, layers = 1 })
  local im = sprint.intent_model.new(P, { dim = 8, n_intents = 3 })
  h.raises("unknown option 'lambda'", sprint.sprint_model.new, bb, im, nil, { lambda = 1 })
  h.raises("needs a label store", sprint.sprint_model.new, bb, im, nil, {})
  h.raises("the label store has 2 intents, the predictor 3", sprint.sprint_model.new, bb, im, labels.new(5, 2))
  h.raises("'fusion' must be a boolean", sprint.sprint_model.new, bb, im, nil, { intent_loss = false, fusion = 1 })
  local other = sprint.intent_model.new(sprint.nn.params(2), { dim = 8, n_intents = 3 })
  h.raises("share one parameter store", sprint.sprint_model.new, bb, other, nil, { intent_loss = false })
  local sm = sprint.sprint_model.new(bb, im, nil, { intent_loss = false })
  h.truthy(tostring(sm):find("intent false", 1, true))
  h.raises("has no label store", sm.refresh_labels, sm, ds, 1)
end

return tests
