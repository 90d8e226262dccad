-- test_tensor.lua — heap tensors from Lua: construction, shapes, element access, gradients
-- flags, copies, and :free() semantics.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor

local tests = {}

function tests.new_is_zero_filled()
  local t = T.new { 2, 3 }
  h.eq(t:numel(), 6)
  h.eq(t:ndim(), 2)
  h.eq(t:dtype(), "f32")
  h.near(t:shape(), { 2, 3 })
  h.near(t:totable(true), { 0, 0, 0, 0, 0, 0 })
  h.eq(t:is_arena(), false)
end

function tests.from_nested_infers_shape()
  local t = T.from { { 1, 2, 3 }, { 4, 5, 6 } }
  h.near(t:shape(), { 2, 3 })
  h.eq(t:get(1, 1), 1)
  h.eq(t:get(2, 3), 6)
  h.near(t:totable(), { { 1, 2, 3 }, { 4, 5, 6 } })
end

function tests.from_flat_with_shape()
  local t = T.from({ 1, 2, 3, 4, 5, 6, 7, 8 }, { 2, 2, 2 })
  h.eq(t:get(2, 1, 2), 6)
  h.near(t:totable(), { { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } } })
  h.eq(t:size(1), 2)
  h.eq(t:size(-1), 2)
end

function tests.int32_tensors()
  local t = T.from_i32({ 3, -1, 7 }, { 3 })
  h.eq(t:dtype(), "i32")
  h.eq(t:get(2), -1)
  t:set(2, 42)
  h.near(t:totable(), { 3, 42, 7 })
  h.eq(T.new({ 4 }, "i32"):dtype(), "i32")
  h.eq(T.new_i32({ 2, 2 }):numel(), 4)
  h.raises("not an integer", T.from_i32, { 1.5 }, { 1 })
end

function tests.set_get_4d_and_data_pointer()
  local t = T.new { 2, 3, 4, 5 }
  t:set(2, 3, 4, 5, 9.5)
  h.eq(t:get(2, 3, 4, 5), 9.5)
  local d = t:data()
  h.eq(d[t:numel() - 1], 9.5) -- the last element, row-major
  d[0] = 1.25
  h.eq(t:get(1, 1, 1, 1), 1.25)
end

function tests.float32_rounding_is_visible()
  local t = T.from({ 0.1 }, { 1 })
  h.near(t:item(), 0.1, 1e-7)
  h.truthy(t:item() ~= 0.1, "stored as float32")
end

function tests.index_errors_name_the_problem()
  local t = T.new { 2, 3 }
  h.raises("index 2 is 4, outside 1..3", t.get, t, 1, 4)
  h.raises("needs 2 indices, got 1", t.get, t, 1)
  h.raises("index 1 is 0", t.get, t, 0, 1)
  h.raises("must be a number", t.set, t, 1, 1, "x")
  h.raises("tensor has 6 elements, not 1", t.item, t)
end

function tests.bad_shapes_are_caller_errors()
  h.raises("shape must have 1 to 4 dimensions", T.new, {})
  h.raises("shape must have 1 to 4 dimensions", T.new, { 1, 1, 1, 1, 1 })
  h.raises("shape[2] must be a non-negative integer", T.new, { 2, -1 })
  h.raises("shape must be a table", T.new, 3)
  h.raises("dtype must be 'f32' or 'i32'", T.new, { 2 }, "f64")
  h.raises("expected 6 values, got 5", T.from, { 1, 2, 3, 4, 5 }, { 2, 3 })
end

function tests.error_points_at_the_caller_line()
  local ok, err = pcall(function() local t = T.new { 5 }; local x = t:get(9); return x end)
  h.eq(ok, false)
  h.truthy(tostring(err):find("test_tensor.lua:%d+: tensor:get") ~= nil, "caller position: " .. tostring(err))
end

function tests.full_fill_copy_clone()
  local a = T.full({ 2, 2 }, 3)
  h.near(a:totable(true), { 3, 3, 3, 3 })
  a:fill(-1)
  h.near(a:totable(true), { -1, -1, -1, -1 })
  local b = T.from({ 1, 2, 3, 4 }, { 4 })
  a:copy(b) -- same numel, any shape
  h.near(a:totable(), { { 1, 2 }, { 3, 4 } })
  a:copy { { 5, 6 }, { 7, 8 } }
  local c = a:clone()
  a:fill(0)
  h.near(c:totable(true), { 5, 6, 7, 8 })
  h.raises({ "tensor:copy failed", "tensor.c" }, a.copy, a, T.new { 3 })
end

function tests.requires_grad_gives_a_zero_gradient()
  local t = T.new { 3 }
  h.eq(t:requires_grad(), false)
  h.eq(t:grad(), nil)
  t:requires_grad(true)
  h.eq(t:requires_grad(), true)
  h.near(t:grad():totable(), { 0, 0, 0 })
  h.raises({ "tensor:requires_grad failed", "only float32" }, function() T.new({ 2 }, "i32"):requires_grad(true) end)
end

function tests.free_is_idempotent_and_use_after_free_errors()
  local t = T.new { 4 }
  t:free()
  t:free()
  h.raises("it was freed with :free()", t.numel, t)
  h.raises("it was freed with :free()", t.get, t, 1)
  h.eq(t:is_alive(), false)
  h.truthy(tostring(t):find("dead"), "tostring of a freed tensor")
  local ctx = sprint.ctx()
  h.raises("argument 'a' cannot be used: it was freed", ctx.add, ctx, t, T.new { 4 })
end

function tests.gradient_view_dies_with_its_tensor()
  local t = T.new({ 2 }):requires_grad(true)
  local g = t:grad()
  t:free()
  h.raises("its owner (tensor) was freed", g.get, g, 1)
  h.raises("is owned by", g.free, g)
end

function tests.finalisers_free_dropped_tensors()
  -- nothing to assert directly: dropping many tensors must neither leak nor crash
  for _ = 1, 2000 do T.new { 64 } end
  collectgarbage()
  collectgarbage()
  local kb = collectgarbage("count")
  for _ = 1, 2000 do T.new { 64 } end
  collectgarbage()
  collectgarbage()
  h.truthy(collectgarbage("count") < kb + 256, "Lua heap grew")
end

function tests.rng_is_deterministic()
  local a, b = sprint.rng(7), sprint.rng(7)
  for _ = 1, 10 do h.eq(a:u32(), b:u32()) end
  local t1 = T.new({ 100 }):fill_uniform(sprint.rng(3), -1, 1)
  local t2 = T.new({ 100 }):fill_uniform(sprint.rng(3), -1, 1)
  h.near(t1:totable(), t2:totable(), 0)
  for _, v in ipairs(t1:totable()) do h.truthy(v >= -1 and v < 1) end
  local r = sprint.rng(1)
  for _ = 1, 100 do
    local x = r:below(5)
    h.truthy(x >= 0 and x < 5 and x % 1 == 0)
    local u = r:uniform()
    h.truthy(u >= 0 and u < 1)
  end
end

return tests
