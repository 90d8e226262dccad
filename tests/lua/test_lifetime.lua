-- test_lifetime.lua — what Lua guards so C memory is never touched after it is recycled:
-- arena tensors after ctx:reset() or ctx:free(), tensors of another context, parameters after
-- their store is freed, and C errors surfacing as Lua errors with the C message.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor

local tests = {}

function tests.arena_tensor_dies_at_reset()
  local ctx = sprint.ctx()
  local a = T.from { 1, 2 }
  local y = ctx:add(a, a)
  h.eq(y:get(2), 4)
  local g = ctx:generation()
  ctx:reset()
  h.eq(ctx:generation(), g + 1)
  h.eq(y:is_alive(), false)
  h.raises({ "used after ctx:reset()", "generation " .. g }, y.get, y, 1)
  h.raises("used after ctx:reset()", y.data, y)
  h.raises("used after ctx:reset()", y.totable, y)
  h.raises({ "ctx:add: argument 'b'", "used after ctx:reset()" }, ctx.add, ctx, a, y)
  h.raises("used after ctx:reset()", ctx.backward, ctx, y)
  -- a clone survives
  local kept = ctx:add(a, a):clone()
  ctx:reset()
  h.near(kept:totable(), { 2, 4 })
end

function tests.arena_tensor_dies_with_its_context()
  local ctx = sprint.ctx()
  local y = ctx:add(T.from { 1 }, T.from { 2 })
  ctx:free()
  ctx:free()
  h.raises("its context was freed", y.item, y)
  h.raises("the context was freed", ctx.add, ctx, T.from { 1 }, T.from { 2 })
  h.raises("the context was freed", ctx.reset, ctx)
end

function tests.context_is_kept_alive_by_its_tensors()
  local y
  do
    local ctx = sprint.ctx()
    y = ctx:add(T.from { 3 }, T.from { 4 })
  end
  collectgarbage()
  collectgarbage()
  h.eq(y:item(), 7)
end

function tests.tensors_of_another_context_are_refused()
  local c1, c2 = sprint.ctx(), sprint.ctx()
  local y = c1:add(T.from { 1 }, T.from { 1 })
  h.raises("arena tensor of another context", c2.add, c2, y, y)
end

function tests.arena_free_only_detaches()
  local ctx = sprint.ctx()
  local y = ctx:add(T.from { 1 }, T.from { 1 })
  y:free()
  y:free()
  h.raises("it was released", y.item, y)
  h.eq(ctx:add(T.from { 1 }, T.from { 2 }):item(), 3)
end

function tests.c_errors_carry_the_c_message()
  local ctx = sprint.ctx()
  local err = h.raises({ "ctx:matmul failed", "matmul.c:", "inner dimensions" },
    ctx.matmul, ctx, T.new { 2, 3 }, T.new { 2, 3 })
  h.truthy(err:find("%.c:%d+:"), "file:line from sp_last_error: " .. err)
  h.raises({ "ctx:add failed", ".c:" }, ctx.add, ctx, T.new { 2, 3 }, T.new { 4 })
  h.raises({ "ctx:sum_axis failed" }, ctx.sum_axis, ctx, T.new { 2, 3 }, 5)
  h.raises({ "ctx:backward failed", "scalar" }, ctx.backward, ctx, ctx:add(T.new { 2 }, T.new { 2 }))
end

function tests.caller_misuse_names_the_argument()
  local ctx = sprint.ctx()
  local a = T.new { 2 }
  h.raises("ctx:add: argument 'b' must be a sprint tensor, got nil", ctx.add, ctx, a, nil)
  h.raises("ctx:matmul: argument 'a' must be a sprint tensor, got table", ctx.matmul, ctx, {}, a)
  h.raises("argument 'trans_a' must be a boolean", ctx.matmul, ctx, a, a, "yes")
  h.raises("argument 's' must be a number", ctx.scale, ctx, a, "2")
  h.raises("argument 'axis' must be an integer", ctx.sum_axis, ctx, a, 0.5)
  h.raises("called on a non-context", ctx.add, a, a, a)
  -- the error is reported at the caller's line
  local ok, err = pcall(function() local r = ctx:add(a, 5); return r end)
  h.eq(ok, false)
  h.truthy(tostring(err):find("^[^:]*test_lifetime.lua:%d+: ctx:add"), tostring(err))
end

function tests.parameters_die_with_their_store()
  local P = sprint.nn.params()
  local w = P:create("w", { 2, 2 })
  local lin = sprint.nn.Linear(P, "lin", 2, 2)
  local ctx = sprint.ctx()
  P:free()
  P:free()
  h.raises("its owner (parameter store) was freed", w.get, w, 1, 1)
  h.raises("the layer's parameter store was freed", lin.forward, lin, ctx, T.new { 1, 2 })
  h.raises("the parameter store was freed", P.count, P)
  h.raises("is owned by parameter store", w.free, w)
end

return tests
