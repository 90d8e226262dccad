-- test_ctx_ops.lua — every op of sprint.h called through ctx, checked against numbers worked
-- out by hand; gradients through backward. Ops that libsprint does not define yet are skipped.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor

local tests = {}

local function leaf(values, shape)
  return T.from(values, shape):requires_grad(true)
end

function tests.matmul_plain_and_transposed()
  local ctx = sprint.ctx()
  local a = T.from { { 1, 2, 3 }, { 4, 5, 6 } }
  local b = T.from { { 7, 8 }, { 9, 10 }, { 11, 12 } }
  h.near(ctx:matmul(a, b):totable(), { { 58, 64 }, { 139, 154 } })
  local bt = T.from { { 7, 9, 11 }, { 8, 10, 12 } }
  h.near(ctx:matmul(a, bt, false, true):totable(), { { 58, 64 }, { 139, 154 } })
  local at = T.from { { 1, 4 }, { 2, 5 }, { 3, 6 } }
  h.near(ctx:matmul(at, b, true, false):totable(), { { 58, 64 }, { 139, 154 } })
end

function tests.matmul_gradients()
  local ctx = sprint.ctx()
  local a = leaf({ { 1, 2 }, { 3, 4 } })
  local b = leaf({ { 5, 6 }, { 7, 8 } })
  ctx:backward(ctx:sum(ctx:matmul(a, b)))
  -- d sum(AB)/dA = 1 B^T: row sums of B; d/dB = A^T 1: column sums of A
  h.near(a:grad():totable(), { { 11, 15 }, { 11, 15 } })
  h.near(b:grad():totable(), { { 4, 4 }, { 6, 6 } })
end

function tests.linear_with_and_without_bias()
  local ctx = sprint.ctx()
  local x = T.from { { 1, 2, 3 } }
  local w = T.from { { 1, 0, 0 }, { 0, 1, 1 } }
  local b = T.from { 10, 20 }
  h.near(ctx:linear(x, w, b):totable(), { { 11, 25 } })
  h.near(ctx:linear(x, w):totable(), { { 1, 5 } })
end

function tests.elementwise_and_broadcast()
  local ctx = sprint.ctx()
  local a = T.from { { 1, 2 }, { 3, 4 } }
  local b = T.from { 10, 20 }
  h.near(ctx:add(a, b):totable(), { { 11, 22 }, { 13, 24 } })
  h.near(ctx:sub(a, a):totable(true), { 0, 0, 0, 0 })
  h.near(ctx:mul(a, b):totable(), { { 10, 40 }, { 30, 80 } })
  h.near(ctx:scale(a, 0.5):totable(), { { 0.5, 1 }, { 1.5, 2 } })
end

function tests.activations()
  local ctx = sprint.ctx()
  local x = T.from { -1, 0, 1 }
  h.near(ctx:relu(x):totable(), { 0, 0, 1 })
  h.near(ctx:sigmoid(x):totable(), { 0.26894142, 0.5, 0.73105858 })
  h.near(ctx:tanh(x):totable(), { -0.76159416, 0, 0.76159416 })
  h.near(ctx:gelu(x):totable(), { -0.15880801, 0, 0.84119199 }, 1e-4) -- tanh approximation
end

function tests.reductions()
  local ctx = sprint.ctx()
  local x = T.from { { 1, 2, 3 }, { 4, 5, 6 } }
  h.near(ctx:sum(x):totable(), { 21 })
  h.near(ctx:mean(x):item(), 3.5)
  h.near(ctx:sum_axis(x, 0):totable(), { 5, 7, 9 })
  h.near(ctx:sum_axis(x, -1):totable(), { 6, 15 })
  h.near(ctx:mean_axis(x, 1):totable(), { 2, 5 })
end

function tests.backward_accumulates_and_chains()
  local ctx = sprint.ctx()
  local a = leaf({ 1, 2, 3 })
  local b = leaf({ 4, 5, 6 })
  ctx:backward(ctx:mean(ctx:mul(a, b)))
  h.near(a:grad():totable(), { 4 / 3, 5 / 3, 2 })
  ctx:reset()
  ctx:backward(ctx:mean(ctx:mul(a, b))) -- gradients accumulate into leaves
  h.near(a:grad():totable(), { 8 / 3, 10 / 3, 4 })
  a:zero_grad()
  h.near(a:grad():totable(), { 0, 0, 0 })
  -- an intermediate's gradient is an arena tensor of the same generation
  ctx:reset()
  local m = ctx:mul(a, b)
  ctx:backward(ctx:sum(m))
  h.near(m:grad():totable(), { 1, 1, 1 })
  h.eq(m:grad():is_arena(), true)
end

function tests.arena_tensors_from_lua()
  local ctx = sprint.ctx()
  local z = ctx:tensor({ 2, 2 })
  h.near(z:totable(true), { 0, 0, 0, 0 })
  h.eq(z:is_arena(), true)
  local idx = ctx:from({ 1, 0, 2 }, { 3 }, "i32")
  h.eq(idx:dtype(), "i32")
  h.near(idx:totable(), { 1, 0, 2 })
  local f = ctx:from { { 1, 2 }, { 3, 4 } }
  h.near(ctx:add(f, f):totable(), { { 2, 4 }, { 6, 8 } })
end

function tests.softmax_and_masks()
  h.needs("sp_softmax", "sp_log_softmax")
  local ctx = sprint.ctx()
  local x = T.from { { 0, 0 }, { 0, math.log(3) } }
  h.near(ctx:softmax(x):totable(), { { 0.5, 0.5 }, { 0.25, 0.75 } })
  h.near(ctx:log_softmax(x):totable(), { { math.log(0.5), math.log(0.5) }, { math.log(0.25), math.log(0.75) } })
  -- causal over (B=1, Q=2, N=2): row 0 sees key 0 only
  local c = ctx:softmax(T.from({ 1, 2, 3, 4 }, { 1, 2, 2 }), nil, true)
  h.near(c:totable(true), { 1, 0, 1 / (1 + math.exp(1)), math.exp(1) / (1 + math.exp(1)) })
  -- key mask (B=2, N=2): masked keys come out 0
  local m = ctx:from({ 1, 0, 0, 0 }, { 2, 2 }, "i32")
  h.near(ctx:softmax(T.from { { 5, 6 }, { 7, 8 } }, m):totable(), { { 1, 0 }, { 0, 0 } })
end

function tests.layernorm()
  h.needs("sp_layernorm")
  local ctx = sprint.ctx()
  local x = T.from { { 1, 2, 3 } }
  local w, b = T.from { 1, 1, 2 }, T.from { 0, 0, 1 }
  local s = math.sqrt(1.5) -- (x - 2) / sqrt(2/3)
  h.near(ctx:layernorm(x, w, b, 1e-12):totable(), { { -s, 0, 2 * s + 1 } }, 1e-4)
end

function tests.embedding_with_padding()
  h.needs("sp_embedding")
  local ctx = sprint.ctx()
  local wt = leaf({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
  local idx = T.from_i32({ 2, 0, 2 }, { 3 })
  local e = ctx:embedding(wt, idx, 0)
  h.near(e:totable(), { { 5, 6 }, { 0, 0 }, { 5, 6 } })
  ctx:backward(ctx:sum(e))
  h.near(wt:grad():totable(), { { 0, 0 }, { 0, 0 }, { 2, 2 } })
  h.raises({ "ctx:embedding failed" }, ctx.embedding, ctx, wt, T.from_i32({ 3 }, { 1 }))
end

function tests.dropout_follows_training_mode()
  h.needs("sp_dropout")
  local ctx = sprint.ctx(5)
  local x = T.full({ 1000 }, 1)
  ctx:train(false)
  h.near(ctx:dropout(x, 0.5):totable(true), x:totable(true))
  ctx:train(true)
  local y = ctx:dropout(x, 0.5):totable(true)
  local zeros, sum = 0, 0
  for _, v in ipairs(y) do
    if v == 0 then zeros = zeros + 1 else h.near(v, 2) end
    sum = sum + v
  end
  h.truthy(zeros > 400 and zeros < 600, "about half dropped: " .. zeros)
end

function tests.attention_single_key_returns_values()
  h.needs("sp_attention")
  local ctx = sprint.ctx()
  local q = T.from({ 1, 2, 3, 4 }, { 1, 1, 4 })
  local v = T.from({ 5, 6, 7, 8 }, { 1, 1, 4 })
  h.near(ctx:attention(q, q, v, 2, true):totable(true), { 5, 6, 7, 8 })
  -- two keys with equal scores average the values
  local k = T.from({ 0, 0, 0, 0 }, { 1, 2, 2 })
  local q2 = T.from({ 1, 1, 1, 1 }, { 1, 2, 2 })
  local v2 = T.from({ 1, 2, 3, 4 }, { 1, 2, 2 })
  h.near(ctx:attention(q2, k, v2, 1, false):totable(true), { 2, 3, 2, 3 })
  h.near(ctx:attention(q2, k, v2, 1, true):totable(true), { 1, 2, 2, 3 })
end

function tests.gru_known_values()
  h.needs("sp_gru")
  local ctx = sprint.ctx()
  local H = 1
  local x = T.new { 1, 2, 1 }
  local w_ih, w_hh = T.new { 3 * H, 1 }, T.new { 3 * H, H }
  local b_ih, b_hh = T.from { 0, 0, 1 }, T.new { 3 * H } -- only the n-gate input bias
  -- r = z = 0.5, n = tanh(1); h1 = 0.5 tanh(1), h2 = 0.5 tanh(1) + 0.5 h1
  local t1 = math.tanh(1)
  h.near(ctx:gru(x, w_ih, w_hh, b_ih, b_hh):totable(true), { 0.5 * t1, 0.5 * t1 + 0.25 * t1 }, 1e-5)
  local mask = T.from_i32({ 1, 0 }, { 1, 2 })
  h.near(ctx:gru(x, w_ih, w_hh, b_ih, b_hh, mask):totable(true), { 0.5 * t1, 0.5 * t1 }, 1e-5)
end

function tests.shape_ops()
  h.needs("sp_reshape", "sp_concat", "sp_slice", "sp_take_positions")
  local ctx = sprint.ctx()
  local x = T.from { { 1, 2, 3 }, { 4, 5, 6 } }
  local r = ctx:reshape(x, { 3, -1 })
  h.near(r:shape(), { 3, 2 })
  h.near(r:totable(), { { 1, 2 }, { 3, 4 }, { 5, 6 } })
  h.raises("cannot infer", ctx.reshape, ctx, x, { 4, -1 })
  h.near(ctx:concat({ x, x }, 0):totable(), { { 1, 2, 3 }, { 4, 5, 6 }, { 1, 2, 3 }, { 4, 5, 6 } })
  h.near(ctx:concat({ x, x }, 1):totable(), { { 1, 2, 3, 1, 2, 3 }, { 4, 5, 6, 4, 5, 6 } })
  h.near(ctx:slice(x, 1, 1, 2):totable(), { { 2, 3 }, { 5, 6 } })
  local seq = T.from({ 1, 2, 3, 4, 5, 6, 7, 8 }, { 2, 2, 2 })
  h.near(ctx:take_positions(seq, T.from_i32({ 1, 0 }, { 2 })):totable(), { { 3, 4 }, { 5, 6 } })
end

function tests.concat_many_grows_its_buffer()
  h.needs("sp_concat")
  local ctx = sprint.ctx()
  local parts = {}
  for i = 1, 40 do parts[i] = T.from({ i }, { 1 }) end
  local c = ctx:concat(parts, 0)
  h.eq(c:numel(), 40)
  h.eq(c:get(40), 40)
end

function tests.losses()
  h.needs("sp_cross_entropy", "sp_bce_logits")
  local ctx = sprint.ctx()
  local logits = T.from { { 0, 0 }, { 0, math.log(3) }, { 9, 9 } }
  local targets = T.from_i32({ 0, 1, -100 }, { 3 })
  -- rows: log 2, -log 0.75; the third is ignored
  h.near(ctx:cross_entropy(logits, targets):item(), (math.log(2) - math.log(0.75)) / 2)
  h.near(ctx:cross_entropy(logits, T.from_i32({ 0, 1, 5 }, { 3 }), 5):item(), (math.log(2) - math.log(0.75)) / 2)
  local z = T.new { 2, 2 }
  h.near(ctx:bce_logits(z, T.full({ 2, 2 }, 1)):item(), math.log(2))
  local wt = T.from { { 1, 0 }, { 0, 0 } }
  h.near(ctx:bce_logits(T.from { { 0, 50 }, { 50, 50 } }, T.full({ 2, 2 }, 1), wt):item(), math.log(2))
end

function tests.cosine_and_topk()
  h.needs("sp_cosine_matrix", "sp_topk")
  local ctx = sprint.ctx()
  local a = T.from { { 1, 0 }, { 0, 2 } }
  local b = T.from { { 3, 0 }, { 1, 1 }, { 0, -1 } }
  local s = 1 / math.sqrt(2)
  h.near(ctx:cosine_matrix(a, b):totable(), { { 1, s, 0 }, { 0, s, -1 } })
  local vals, idx = ctx:topk(T.from { { 1, 5, 3, 5 }, { 0, -1, 2, 1 } }, 2)
  h.near(vals:totable(), { { 5, 5 }, { 2, 1 } })
  h.near(idx:totable(), { { 1, 3 }, { 2, 3 } })
  h.eq(idx:dtype(), "i32")
end

function tests.no_grad_records_nothing()
  local ctx = sprint.ctx()
  local a = leaf({ 1, 2 })
  local y = ctx:no_grad(function(x) return ctx:sum(ctx:mul(x, x)) end, a)
  h.eq(y:item(), 5)
  h.eq(ctx:stats().tape_len, 0)
  h.eq(ctx:grad_enabled(), true, "restored")
  h.raises({ "ctx:backward failed", "no-grad" }, ctx.backward, ctx, y)
  -- restored after an error too
  h.raises("boom", ctx.no_grad, ctx, function() error("boom") end)
  h.eq(ctx:grad_enabled(), true)
  ctx:backward(ctx:sum(ctx:mul(a, a)))
  h.near(a:grad():totable(), { 2, 4 })
end

function tests.context_rng_is_seeded()
  local ctx = sprint.ctx(42)
  local r, ref = ctx:rng(), sprint.rng(42)
  for _ = 1, 5 do h.eq(r:u32(), ref:u32()) end
  local t = T.new({ 2000 }):fill_normal(ctx:rng(), 1, 0.5)
  local sum = 0
  for _, v in ipairs(t:totable()) do sum = sum + v end
  h.near(sum / 2000, 1, 0.05)
  h.raises("rng must be a sprint rng", t.fill_uniform, t, 5)
  h.raises("rng must be a sprint rng", sprint.nn.Linear, sprint.nn.params(), "l", 2, 2, { rng = 5 })
end

function tests.train_and_eval_modes()
  local ctx = sprint.ctx()
  h.eq(ctx:training(), true)
  ctx:eval()
  h.eq(ctx:train(), false)
  ctx:train(true)
  h.eq(ctx:training(), true)
end

function tests.stats_show_a_flat_arena()
  local ctx = sprint.ctx()
  local a = T.new { 256 }
  local m0
  for step = 1, 20 do
    ctx:reset()
    for _ = 1, 50 do ctx:add(a, a) end
    if step == 2 then m0 = ctx:stats().arena_mallocs end
  end
  local s = ctx:stats()
  h.eq(s.arena_mallocs, m0, "no chunk allocations in steady state")
  h.eq(s.generation, ctx:generation())
  h.truthy(s.arena_used > 0 and s.arena_used <= s.arena_capacity)
end

return tests
