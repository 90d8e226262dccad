-- test_jit.lua — hot loops over binding methods must compile to traces (the point of the FFI
-- binding): a trace that starts in the loop's function completes ("stop") and the loop keeps
-- giving the right answer. Trace events come from jit.attach, as jit.v uses them.
local sprint = require "sprint"
local h = require "helpers"
local T = sprint.tensor

local tests = {}

-- Runs loop() and returns the number of traces that started in loop and completed, plus the
-- abort reasons seen for traces starting there.
local function traces_in(loop, ...)
  local started, stopped, aborts = {}, 0, {}
  local function on_trace(what, tr, func, pc, otr, oex)
    if what == "start" then
      started[tr] = func == loop
    elseif what == "stop" and started[tr] then
      stopped = stopped + 1
    elseif what == "abort" and started[tr] then
      aborts[#aborts + 1] = tostring(oex)
    end
  end
  jit.flush()
  jit.attach(on_trace, "trace")
  local ok, res = pcall(loop, ...)
  jit.attach(on_trace)
  if not ok then error(res, 0) end
  return stopped, aborts, res
end

local function jit_or_skip()
  if not jit or not jit.status() then h.skip("the JIT compiler is off") end
end

function tests.element_access_loop_compiles()
  jit_or_skip()
  local t = T.from({ 1, 2, 3, 4 }, { 2, 2 })
  local function loop(x)
    local s = 0
    for i = 1, 20000 do s = s + x:get(1 + i % 2, 2) + x:numel() end
    return s
  end
  local n, aborts, s = traces_in(loop, t)
  h.eq(s, 10000 * 2 + 10000 * 4 + 20000 * 4)
  h.truthy(n >= 1, "no trace completed in the loop; aborts: " .. table.concat(aborts, "; "))
end

function tests.op_call_loop_compiles()
  jit_or_skip()
  local ctx = sprint.ctx()
  local a, b = T.from({ 1 }, { 1 }), T.from({ 2 }, { 1 })
  local function loop(c, x, y)
    local s = 0
    for i = 1, 20000 do
      if i % 1000 == 0 then c:reset() end
      s = s + c:add(x, y):data()[0]
    end
    return s
  end
  local n, aborts, s = traces_in(loop, ctx, a, b)
  h.eq(s, 60000)
  h.truthy(n >= 1, "no trace completed in the loop; aborts: " .. table.concat(aborts, "; "))
end

function tests.raw_pointer_loop_compiles()
  jit_or_skip()
  local t = T.new { 4096 }
  local function loop(x)
    local d, n = x:data(), x:numel()
    for r = 1, 20 do
      for i = 0, n - 1 do d[i] = d[i] + i * r end
    end
    return d[n - 1]
  end
  local n, aborts, last = traces_in(loop, t)
  h.eq(last, 4095 * 210)
  h.truthy(n >= 1, "no trace completed in the loop; aborts: " .. table.concat(aborts, "; "))
end

-- LuaJIT #827: nested pairs loops must not end early once the outer loop is patched to ITERC.
-- The canonical JSON encoder (the LLM cache keys) is such a loop; this VM must pass the probe.
function tests.nested_pairs_loops_run_to_the_end_lua827()
  jit_or_skip()
  local vmcheck = require "sprint.vmcheck"
  local ok, at, keys = vmcheck.probe()
  jit.flush()
  h.truthy(ok, "the outer loop counted " .. tostring(keys) .. " of 5 keys at iteration " .. tostring(at)
    .. ": this LuaJIT has bug #827; " .. vmcheck.PACKAGE_HINT)
  local desc, openresty = vmcheck.describe()
  h.truthy(openresty, "not OpenResty's maintained LuaJIT: " .. desc)
end

-- The sprint command refuses to run on Debian's buggy `luajit` snapshot, with a message that
-- names the package to install. tools/test unpacks that library (never installs it) and names
-- its folder in SPRINT_TEST_OLD_LUAJIT.
function tests.sprint_refuses_to_run_on_a_luajit_with_bug_827()
  local S = require "llm_support"
  local dir = os.getenv("SPRINT_TEST_OLD_LUAJIT")
  if not dir or dir == "" then h.skip("SPRINT_TEST_OLD_LUAJIT is not set (tools/test sets it)") end
  local exe = S.exe("sprint")
  local env = "env LD_LIBRARY_PATH=" .. S.q(dir) .. " "
  local rc, out, err = S.run(env .. S.q(exe) .. " version")
  h.truthy(out:find("not OpenResty's branch", 1, true) and out:find("self-check (LuaJIT #827): FAILED", 1, true),
    "sprint version on the old VM said: " .. out .. err)
  rc, out, err = S.run(env .. S.q(exe) .. " run /dev/null")
  h.eq(rc, 1, out .. err)
  h.truthy(err:find("refusing to run", 1, true) and err:find("bug #827", 1, true)
    and err:find("apt-get install luajit2", 1, true), err)
  -- and runs on the maintained VM
  rc, out, err = S.run(S.q(exe) .. " run /dev/null")
  h.eq(rc, 0, out .. err)
end

return tests
