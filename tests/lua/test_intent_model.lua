-- test_intent_model.lua — sprint.intent_model (SPRINT's Stage 2 predictor) from Lua: relevance,
-- the intent loss, fusion, L_ortho and enrichment against plain-Lua recomputations on small
-- sizes; the ctx methods for phi and L_ortho; a tiny model learning planted intent labels
-- from half-labelled sessions; argument errors.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor
local intent_model = sprint.intent_model

local tests = {}

-- ---- plain-Lua linear algebra over nested tables -------------------------------------------

local function matmul_t(a, b) -- a (n, k) times b (m, k) transposed -> (n, m)
  local r = {}
  for i = 1, #a do
    r[i] = {}
    for j = 1, #b do
      local s = 0
      for k = 1, #a[i] do s = s + a[i][k] * b[j][k] end
      r[i][j] = s
    end
  end
  return r
end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end

local function randn_table(rng, n, m, std)
  local t = {}
  for i = 1, n do
    t[i] = {}
    for j = 1, m do
      -- Box-Muller from the sprint rng (deterministic)
      local u1, u2 = math.max(rng:uniform(), 1e-12), rng:uniform()
      t[i][j] = (std or 1) * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    end
  end
  return t
end

local function model(opts)
  local P = sprint.nn.params(opts.seed or 1)
  local im = intent_model.new(P, { dim = opts.dim, n_intents = opts.n, tau = opts.tau, dropout = opts.dropout })
  return im, P
end

-- ---- the pieces against plain Lua ----------------------------------------------------------

function tests.parameters_live_in_the_store()
  local im, P = model { dim = 6, n = 4 }
  h.eq(table.concat(P:names(), ","), table.concat(im:param_names(), ","))
  h.near(im.intents:shape(), { 4, 6 })
  h.near(im.w_q:shape(), { 6, 6 })
  h.eq(im.tau, 0.5)
  h.eq(im.dropout, 0.2)
  h.truthy(tostring(im):find("4 intents", 1, true))
end

function tests.relevance_matches_plain_lua()
  local im = model { dim = 5, n = 4 }
  local ctx = sprint.ctx()
  local ht = randn_table(sprint.rng(3), 3, 5)
  local yhat, logits = im:relevance(ctx, T.from(ht))
  local q = matmul_t(ht, im.w_q:totable())               -- h W_q^T
  local k = matmul_t(im.intents:totable(), im.w_k:totable()) -- E W_k^T
  local want = matmul_t(q, k)
  h.near(logits:totable(), want, 1e-5)
  for i = 1, 3 do for j = 1, 4 do want[i][j] = sigmoid(want[i][j]) end end
  h.near(yhat:totable(), want, 1e-6)
end

function tests.fuse_matches_plain_lua()
  local im = model { dim = 4, n = 3, dropout = 0.5 }
  im.ln_weight:copy({ 1.5, 0.5, 1, 2 })
  im.ln_bias:copy({ 0.1, -0.2, 0, 0.3 })
  local ctx = sprint.ctx():eval() -- dropout off
  local ht = randn_table(sprint.rng(4), 2, 4)
  local yt = { { 0.9, 0.2, 0.6 }, { 0.5, 0.7, 0.1 } } -- 0.5 is not > tau: filtered out
  local got = im:fuse(ctx, T.from(ht), T.from(yt)):totable()
  local v = matmul_t(im.intents:totable(), im.w_v:totable()) -- (C, d)
  local lw, lb = im.ln_weight:totable(), im.ln_bias:totable()
  for b = 1, 2 do
    local x, mean = {}, 0
    for j = 1, 4 do
      local s = ht[b][j]
      for c = 1, 3 do
        local phi = yt[b][c] > 0.5 and yt[b][c] or 0
        s = s + phi * v[c][j]
      end
      x[j], mean = s, mean + s / 4
    end
    local var = 0
    for j = 1, 4 do var = var + (x[j] - mean) ^ 2 / 4 end
    for j = 1, 4 do
      local want = ht[b][j] + (x[j] - mean) / math.sqrt(var + 1e-5) * lw[j] + lb[j]
      h.near(got[b][j], want, 1e-4, "h~[" .. b .. "][" .. j .. "]")
    end
  end
  -- training mode: dropout changes g, not h
  ctx:train(true)
  local tr = im:fuse(ctx, T.from(ht), T.from(yt)):totable()
  local differs = false
  for b = 1, 2 do for j = 1, 4 do differs = differs or math.abs(tr[b][j] - got[b][j]) > 1e-6 end end
  h.truthy(differs, "dropout is active in training mode")
end

function tests.ortho_matches_plain_lua()
  local im = model { dim = 3, n = 5 }
  local ctx = sprint.ctx()
  local e = im.intents:totable()
  local n = {}
  for i = 1, 5 do
    local s = 0
    for k = 1, 3 do s = s + e[i][k] ^ 2 end
    n[i] = {}
    for k = 1, 3 do n[i][k] = e[i][k] / math.sqrt(s) end
  end
  local sum = 0
  for i = 1, 5 do
    for j = 1, 5 do
      if i ~= j then for k = 1, 3 do sum = sum + (n[i][k] - n[j][k]) ^ 2 end end
    end
  end
  local l = im:ortho(ctx)
  h.near(l:item(), -sum / 20, 1e-5)
  h.near(ctx:ortho_loss(im.intents):item(), -sum / 20, 1e-5)
  ctx:backward(l)
  h.truthy(im.intents:grad() ~= nil, "L_ortho reaches E_G")
end

function tests.threshold_from_ctx()
  local ctx = sprint.ctx()
  local x = T.from({ 0.2, 0.5, 0.6, 0.9 }):requires_grad(true)
  local y = ctx:threshold(x, 0.5)
  h.near(y:totable(), { 0, 0, 0.6, 0.9 })
  ctx:backward(ctx:sum(y))
  h.near(x:grad():totable(), { 0, 0, 1, 1 }, 0)
  h.raises({ "ctx:threshold", "tau" }, ctx.threshold, ctx, x, "high")
end

-- Eq. 10 per session, averaged over the labelled sessions only.
function tests.loss_over_labelled_sessions()
  local im = model { dim = 4, n = 3 }
  local ctx = sprint.ctx()
  local ht = randn_table(sprint.rng(5), 4, 4)
  local labels = { { 1, 0, 0 }, { 0.3, 0.6, 0.1 }, { 0, 0, 0 }, { 0.5, 1, 0 } }
  local labelled = { 1, 1, 0, 1 }
  local hh = T.from(ht):requires_grad(true)
  local _, logits = im:relevance(ctx, hh)
  local lt = logits:totable()
  local want, n = 0, 0
  for b = 1, 4 do
    if labelled[b] == 1 then
      local row = 0
      for c = 1, 3 do
        local p, y = sigmoid(lt[b][c]), labels[b][c]
        row = row + y * math.log(p) + (1 - y) * math.log(1 - p)
      end
      want, n = want - row / 3, n + 1
    end
  end
  local loss = im:loss(ctx, logits, T.from(labels), T.from(labelled))
  h.near(loss:item(), want / n, 1e-5)
  ctx:backward(loss)
  h.near(hh:grad():totable()[3], { 0, 0, 0, 0 }, 0) -- the unlabelled session learns nothing
  -- (B, C) weights and no weights
  local wide = {}
  for b = 1, 4 do wide[b] = { labelled[b], labelled[b], labelled[b] } end
  h.near(im:loss(ctx, logits, T.from(labels), T.from(wide)):item(), want / n, 1e-5)
  h.near(im:loss(ctx, logits, T.from(labels)):item(),
    ctx:bce_logits(logits, T.from(labels)):item(), 0)
  -- nobody labelled: 0, not NaN
  h.near(im:loss(ctx, logits, T.from(labels), T.from({ 0, 0, 0, 0 })):item(), 0, 0)
end

-- The neighbours, weights and mix recomputed in Lua (ties to the lower row).
local function enrich_plain(yt, ht, rows, k, mode)
  local B, Cn = #yt, #yt[1]
  local norm = {}
  for i = 1, rows do
    local s = 0
    for j = 1, #ht[i] do s = s + ht[i][j] ^ 2 end
    norm[i] = math.sqrt(s)
  end
  local out = {}
  for r = 1, B do
    out[r] = {}
    for c = 1, Cn do out[r][c] = 0 end
  end
  for r = 1, rows do
    local cand = {}
    for j = 1, rows do
      if j ~= r then
        local s = 0
        for t = 1, #ht[r] do s = s + ht[r][t] * ht[j][t] end
        cand[#cand + 1] = { j = j, sim = s / (norm[r] * norm[j]) }
      end
    end
    table.sort(cand, function(a, b)
      if a.sim ~= b.sim then return a.sim > b.sim end
      return a.j < b.j
    end)
    local kk = math.min(k, #cand)
    local z = 0
    for i = 1, kk do z = z + math.exp(cand[i].sim) end
    for c = 1, Cn do
      local nbr = 0
      for i = 1, kk do nbr = nbr + math.exp(cand[i].sim) / z * yt[cand[i].j][c] end
      local self = yt[r][c]
      if kk == 0 or mode == "self" then out[r][c] = self
      elseif mode == "neighbours" then out[r][c] = nbr
      else out[r][c] = 0.5 * (self + nbr) end
    end
  end
  return out
end

function tests.enrich_matches_plain_lua()
  local im = model { dim = 3, n = 4 }
  local ctx = sprint.ctx()
  local rng = sprint.rng(6)
  local ht = randn_table(rng, 7, 3)
  local yt = {}
  for b = 1, 7 do
    yt[b] = {}
    for c = 1, 4 do yt[b][c] = rng:uniform() end
  end
  local yhat, hh = ctx:from(yt), ctx:from(ht)
  for _, case in ipairs({ { 6, 2, "both" }, { 6, 10, "both" }, { 7, 3, "neighbours" }, { 7, 0, "both" },
      { 5, 2, "self" }, { 1, 3, "neighbours" } }) do
    local rows, k, mode = case[1], case[2], case[3]
    local got = im:enrich(yhat, hh, { rows = rows, k = k, mode = mode })
    h.truthy(got:is_arena(), "labels come from yhat's context")
    h.near(got:totable(), enrich_plain(yt, ht, rows, k, mode), 1e-5,
      "rows " .. rows .. ", k " .. k .. ", " .. mode)
  end
  -- defaults: k = 5, both, every row
  h.near(im:enrich(yhat, hh):totable(), enrich_plain(yt, ht, 7, 5, "both"), 1e-5)
  -- heap inputs: a private scratch context, a heap result; or the caller's out
  local hy, hhh = T.from(yt), T.from(ht)
  local r1 = im:enrich(hy, hhh, { k = 2 })
  h.truthy(not r1:is_arena(), "a heap result for heap inputs")
  h.near(r1:totable(), enrich_plain(yt, ht, 7, 2, "both"), 1e-5)
  local out = T.new({ 7, 4 })
  h.eq(im:enrich(hy, hhh, { k = 2, out = out }), out)
  h.near(out:totable(), r1:totable(), 0)
  -- labels carry no gradient
  local yg = T.from(yt):requires_grad(true)
  h.eq(im:enrich(yg, hhh, { k = 2 }):requires_grad(), false)
end

-- ---- learning ------------------------------------------------------------------------------

-- Planted intents: session b has intent c when h_b . u_c > 0 for hidden directions u_c. Only
-- 48 of 64 sessions are labelled (the rest weight 0, like sessions without LLM intents); the
-- loss on the labelled ones falls, and the unlabelled ones are predicted well above chance.
function tests.tiny_model_learns_planted_labels()
  local B, D, Cn, LABELLED = 64, 8, 4, 48
  local rng = sprint.rng(7)
  local ht, u = randn_table(rng, B, D), randn_table(rng, Cn, D)
  local yt, wt = {}, {}
  for b = 1, B do
    yt[b] = {}
    for c = 1, Cn do
      local s = 0
      for k = 1, D do s = s + ht[b][k] * u[c][k] end
      yt[b][c] = s > 0 and 1 or 0
    end
    wt[b] = b <= LABELLED and 1 or 0
  end
  local P = sprint.nn.params(8)
  local im = intent_model.new(P, { dim = D, n_intents = Cn, dropout = 0 })
  local opt = sprint.optim.adam(P, { lr = 0.03 })
  local ctx = sprint.ctx(1)
  local hh, labels, weights = T.from(ht), T.from(yt), T.from(wt)
  local first, last
  for step = 1, 300 do
    ctx:reset()
    local _, logits = im:relevance(ctx, hh)
    local l_int = im:loss(ctx, logits, labels, weights)
    local loss = ctx:add(l_int, ctx:scale(im:ortho(ctx), 1e-3)) -- Eq. 17 without L_rec
    if step == 1 then first = l_int:item() end
    last = l_int:item()
    ctx:backward(loss)
    opt:step()
    P:zero_grad()
  end
  h.truthy(first > 0.5, "starts near chance: " .. first)
  h.truthy(last < 0.15 and last < first / 4, string.format("L_intent fell from %.3f to %.3f", first, last))
  ctx:reset()
  local yhat = ctx:no_grad(function() return (im:relevance(ctx, hh)) end):totable()
  local right, n = 0, 0
  for b = LABELLED + 1, B do
    for c = 1, Cn do
      n = n + 1
      if (yhat[b][c] > 0.5) == (yt[b][c] == 1) then right = right + 1 end
    end
  end
  h.truthy(right / n >= 0.8, string.format("unlabelled sessions: %d of %d intents right", right, n))
end

-- ---- errors --------------------------------------------------------------------------------

function tests.errors_name_the_call_and_the_cause()
  local P = sprint.nn.params(1)
  h.raises("first argument must be a sprint.nn.params store", intent_model.new, {}, { dim = 2, n_intents = 2 })
  h.raises("'dim' must be an integer >= 1", intent_model.new, P, { n_intents = 2 })
  h.raises("'n_intents' must be an integer >= 1", intent_model.new, P, { dim = 2, n_intents = 0 })
  h.raises("unknown option 'heads'", intent_model.new, P, { dim = 2, n_intents = 2, heads = 1 })
  h.raises({ "intent_model.new failed", "dropout must be in [0, 1)" }, intent_model.new, P,
    { dim = 2, n_intents = 2, dropout = 1 })
  local im = intent_model.new(P, { dim = 2, n_intents = 3 })
  local ctx = sprint.ctx()
  h.raises({ "intent_model:relevance", "h (1, 3) must be (B, d)" }, im.relevance, im, ctx, T.from { { 1, 2, 3 } })
  h.raises("argument 'ctx' must be a sprint context", im.relevance, im, {}, T.from { { 1, 2 } })
  local _, logits = im:relevance(ctx, T.from { { 1, 2 } })
  h.raises("weights (2) must have one value per session (B = 1)", im.loss, im, ctx, logits,
    T.from { { 1, 0, 0 } }, T.from { 1, 1 })
  h.raises("logits must be (B, 3)", im.loss, im, ctx, T.from { { 1, 2 } }, T.from { { 1, 0 } })
  h.raises({ "intent_model:fuse", "yhat (1, 2) must be (B, C) = (1, 3)" }, im.fuse, im, ctx,
    T.from { { 1, 2 } }, T.from { { 0.1, 0.9 } })
  local yhat, hh = T.from { { 0.1, 0.9, 0.2 }, { 0.3, 0.4, 0.5 } }, T.from { { 1, 0 }, { 0, 1 } }
  h.raises("mode must be 'both', 'self' or 'neighbours'", im.enrich, im, yhat, hh, { mode = "all" })
  h.raises("unknown option 'K'", im.enrich, im, yhat, hh, { K = 2 })
  h.raises("'k' must be an integer >= 0", im.enrich, im, yhat, hh, { k = -1 })
  h.raises({ "intent_model:enrich failed", "rows = 3 must be in [0, 2]" }, im.enrich, im, yhat, hh, { rows = 3 })
  h.raises("neighbours-only mode needs k >= 1", im.enrich, im, yhat, hh, { k = 0, mode = "neighbours" })
  h.raises("is not a probability", im.enrich, im, T.from { { 0.1, 2, 0.2 }, { 0.3, 0.4, 0.5 } }, hh)
  local other = sprint.ctx()
  h.raises("arena tensor of another context", im.enrich, im, other:from { { 0.1, 0.9, 0.2 }, { 0.3, 0.4, 0.5 } },
    hh, { ctx = ctx })
  P:free()
  h.raises("the model's parameter store was freed", im.relevance, im, ctx, T.from { { 1, 2 } })
end

return tests
