-- vmcheck.lua — which LuaJIT runs us, and a self-check for LuaJIT bug #827: once the JIT
-- blacklists an outer `pairs` loop and patches it to ITERC, a nested `pairs` loop can end the
-- outer one early. Debian 12's `luajit` snapshot (2.1.0~beta3+git20220320) has it; OpenResty's
-- maintained branch (Debian's `luajit2`) does not. The canonical JSON encoder that makes the
-- LLM cache keys is exactly such a nested loop, so on a bad VM requests got each other's
-- answers. The sprint command runs check() in a fresh Lua state before anything else.
local M = {}

M.PACKAGE_HINT = "install Debian's maintained LuaJIT: apt-get install luajit2 libluajit2-5.1-dev "
  .. "(tools/setup does it), then rebuild (tools/build)"

-- The reduced case of the bug (from the LuaJIT issue): an outer pairs loop over 5 keys, each
-- value a table walked by an inner pairs loop, after a vararg call that returns to the
-- interpreter. With the bug the outer loop counts fewer than 5 keys after some ten thousand
-- iterations. It runs as its own chunk: the shape of the main loop matters to the trace
-- compiler (wrapped in closures the same loops did not trip it). Returns true, or false, the
-- iteration at which it went wrong and the keys counted there.
local probe_source = [[
local iterations = ...
local inner = { 1, 2, 3, 4, 5 }
local outer = { a = inner, b = inner, c = inner, d = inner, e = inner }
local function back_to_interpreter(...)
  for _ = 1, 100 do end
end
for i = 1, iterations do
  back_to_interpreter()
  local keys = 0
  for _, v in pairs(outer) do
    for _ in pairs(v) do end
    keys = keys + 1
  end
  if keys ~= 5 then return false, i, keys end
end
return true
]]

function M.probe(iterations)
  local chunk = assert(loadstring(probe_source, "=vmcheck probe"))
  return chunk(iterations or 100000)
end

-- What the VM is: "LuaJIT 2.1.0-beta3 (OpenResty branch)" or "... (not OpenResty's branch)".
function M.describe()
  local version = jit and jit.version or _VERSION
  -- table.isempty ships only with OpenResty's branch
  local openresty = pcall(require, "table.isempty")
  return version .. (openresty and " (OpenResty's maintained branch)" or " (not OpenResty's branch)"), openresty
end

-- true, or false and a message that says what failed and which package to install.
function M.check()
  if not jit or not jit.status() then return true end -- the bug is in the JIT compiler only
  local ok, at, keys = M.probe()
  jit.flush()
  if ok then return true end
  return false, string.format("this LuaJIT (%s) miscompiles nested pairs loops (LuaJIT bug #827: an outer "
    .. "loop over 5 keys counted %d at iteration %d), which corrupts the LLM cache keys; %s",
    M.describe(), keys, at, M.PACKAGE_HINT)
end

return M
