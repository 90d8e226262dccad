-- test_nn_optim.lua — the parameter store, the layer wrappers and Adam wired from Lua.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor
local nn = sprint.nn

local tests = {}

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

function tests.params_create_find_iterate()
  local P = nn.params(1)
  local a = P:create("a", { 2, 3 })
  P:create("b", { 4 })
  h.eq(P:count(), 2)
  h.eq(P:numel(), 10)
  h.eq(a:requires_grad(), true)
  h.near(P:get("a"):shape(), { 2, 3 })
  h.eq(P:get("nope"), nil)
  h.eq(table.concat(P:names(), ","), "a,b")
  local seen = {}
  for name, t in P:iter() do seen[#seen + 1] = name .. "=" .. t:numel() end
  h.eq(table.concat(seen, ","), "a=6,b=4")
  h.raises({ "params:create failed", "already exists" }, P.create, P, "a", { 1 })
end

function tests.layers_shapes_and_names()
  local P = nn.params(2)
  local ctx = sprint.ctx()
  local lin = nn.Linear(P, "lin", 3, 2)
  h.near(lin.weight:shape(), { 2, 3 })
  h.near(lin.bias:totable(), { 0, 0 })
  local nob = nn.Linear(P, "nob", 3, 2, { bias = false })
  h.eq(nob.bias, nil)
  local emb = nn.Embedding(P, "emb", 5, 4, { padding_idx = 0 })
  local ln = nn.LayerNorm(P, "ln", 4)
  h.near(ln.weight:totable(), { 1, 1, 1, 1 })
  local mha = nn.MultiHeadAttention(P, "mha", 4, 2)
  local ffn = nn.FeedForward(P, "ffn", 4, 8, { act = "relu" })
  local blk = nn.TransformerBlock(P, "blk", 4, 2, { hidden = 8, pre_norm = false })
  h.truthy(P:get("blk.attn.q.weight") or P:get("blk.ln1.weight"), "block parameters are named by prefix")

  local x = T.from { { 1, 2, 3 } }
  h.near(lin:forward(ctx, x):shape(), { 1, 2 })
  h.near(lin(ctx, x):totable(), ctx:linear(x, lin.weight, lin.bias):totable())
  local e = emb:forward(ctx, T.from_i32({ 0, 3, 4, 1, 2, 0 }, { 2, 3 }))
  h.near(e:shape(), { 2, 3, 4 })
  h.near(e:totable()[1][1], { 0, 0, 0, 0 }, 0) -- the padding row
  h.near(ctx:slice(e, 1, 2, 1):totable(true), { 0, 0, 0, 0, 0, 0, 0, 0 }, 1) -- shape (2, 1, 4)
  local y = ln:forward(ctx, e)
  y = mha:forward(ctx, y, true)
  y = ffn:forward(ctx, y)
  y = blk:forward(ctx, y, false, T.from_i32({ 1, 1, 0, 1, 1, 1 }, { 2, 3 }))
  h.near(y:shape(), { 2, 3, 4 })
  ctx:backward(ctx:mean(y))
  h.truthy(emb.weight:grad() ~= nil)
  h.raises("unknown option 'biass'", nn.Linear, P, "x", 2, 2, { biass = false })
  h.raises("argument 'd_in' must be an integer", nn.Linear, P, "y", 0, 2)
  h.raises("act must be 'gelu' or 'relu'", nn.FeedForward, P, "f2", 4, 8, { act = "swish" })
  h.raises("argument 'ctx' must be a sprint context", lin.forward, lin, nil, x)
end

function tests.init_is_reproducible_from_the_seed()
  local function weights(seed)
    local P = nn.params(seed)
    return nn.Linear(P, "l", 4, 4).weight:totable(true)
  end
  h.near(weights(3), weights(3), 0)
  h.truthy(weights(3)[1] ~= weights(4)[1], "different seeds, different weights")
end

function tests.adam_reduces_a_quadratic()
  local P = nn.params()
  local w = P:create("w", { 3 })
  w:copy { 1, -2, 3 }
  local opt = sprint.optim.adam(P, { lr = 0.1 })
  local ctx = sprint.ctx()
  local first
  for step = 1, 100 do
    ctx:reset()
    local loss = ctx:sum(ctx:mul(w, w))
    if step == 1 then first = loss:item() end
    opt:zero_grad()
    ctx:backward(loss)
    opt:step()
  end
  h.eq(opt:steps(), 100)
  ctx:reset()
  h.truthy(ctx:sum(ctx:mul(w, w)):item() < 0.01 * first, "loss fell")
  opt:set_lr(0.5)
  h.eq(opt:lr(), 0.5)
  h.eq(opt:config().decoupled, false)
end

function tests.adam_config_checks()
  local P = nn.params()
  P:create("w", { 1 })
  h.raises("unknown setting 'learning_rate'", sprint.optim.adam, P, { learning_rate = 1 })
  h.raises("'lr' must be a number", sprint.optim.adam, P, { lr = "1" })
  h.raises("optim.adam failed", sprint.optim.adam, P, { lr = -1 })
  local opt = sprint.optim.adam(P, { decoupled = true, weight_decay = 0.1, clip_norm = 1 })
  h.eq(opt:config().decoupled, true)
  h.near(opt:config().weight_decay, 0.1, 1e-7)
end

function tests.clip_grad_norm_and_zero_grad()
  local P = nn.params()
  local w = P:create("w", { 2 })
  w:copy { 3, 4 }
  local ctx = sprint.ctx()
  ctx:backward(ctx:scale(ctx:sum(ctx:mul(w, w)), 0.5)) -- grad = w = (3, 4), norm 5
  h.near(P:clip_grad_norm(1), 5, 1e-5)
  h.near(w:grad():totable(), { 0.6, 0.8 }, 1e-5)
  P:zero_grad()
  h.near(w:grad():totable(), { 0, 0 })
end

function tests.save_and_load_params_and_adam()
  local path, opath = tmpname(), tmpname()
  local P = nn.params(1)
  local lin = nn.Linear(P, "l", 3, 2)
  local opt = sprint.optim.adam(P)
  local ctx = sprint.ctx()
  ctx:backward(ctx:sum(lin:forward(ctx, T.from { { 1, 2, 3 } })))
  opt:step()
  P:save(path)
  opt:save(opath)
  local before = lin.weight:totable(true)

  local Q = nn.params(99)
  local lin2 = nn.Linear(Q, "l", 3, 2)
  local opt2 = sprint.optim.adam(Q)
  Q:load(path)
  opt2:load(opath)
  h.near(lin2.weight:totable(true), before, 0)
  h.eq(opt2:steps(), 1)

  local R = nn.params()
  nn.Linear(R, "l", 3, 4)
  h.raises({ "params:load failed", "l.weight" }, R.load, R, path)
  h.raises("params:load failed", Q.load, Q, path .. ".missing")
  os.remove(path)
  os.remove(opath)
end

return tests
