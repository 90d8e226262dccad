-- test_cli.lua — the `sprint` command itself: version/help/usage exit codes, recipe errors with
-- a traceback and exit 1, --set and arguments reaching the recipe, Lua subcommands.
local h = require "helpers"

local tests = {}

local function exe()
  local cli = rawget(_G, "SPRINT_CLI")
  if not cli or not cli.build_dir then h.skip("not running under the sprint command") end
  local path = cli.build_dir .. "/sprint"
  local f = io.open(path, "rb")
  if not f then h.skip("no " .. path) end
  f:close()
  return path
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs a shell command line; returns exit code, stdout, stderr.
local function run(cmdline)
  local out, err = os.tmpname(), os.tmpname()
  local p = io.popen(cmdline .. " >" .. out .. " 2>" .. err .. "; echo $?")
  local rc = tonumber(p:read("*a"):match("%d+"))
  p:close()
  local function slurp(path)
    local f = io.open(path, "rb")
    local s = f:read("*a")
    f:close()
    os.remove(path)
    return s
  end
  return rc, slurp(out), slurp(err)
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function tests.version_and_help()
  local sprint = exe()
  local rc, out = run(q(sprint) .. " version")
  h.eq(rc, 0)
  h.truthy(out:find("^sprint %d+%.%d+"), out)
  h.truthy(out:find("LuaJIT"), out)
  h.truthy(out:find("blas: "), out)
  rc, out = run(q(sprint) .. " help")
  h.eq(rc, 0)
  h.truthy(out:find("usage: sprint"), out)
end

-- OpenMP's threads spin only briefly before they sleep unless the user chose (long spinning
-- collapses under a competing load); a recipe sees the setting, the re-exec keeps the args.
function tests.openmp_spins_briefly_unless_told_otherwise()
  local sprint = exe()
  local clean = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "
  local rc, out = run(clean .. q(sprint) .. " version")
  h.eq(rc, 0)
  h.truthy(out:find("openmp: threads spin 30000 rounds, then sleep", 1, true), out)
  rc, out = run(clean .. "OMP_WAIT_POLICY=ACTIVE " .. q(sprint) .. " version")
  h.truthy(out:find("openmp: wait policy ACTIVE (OMP_WAIT_POLICY)", 1, true), out)
  rc, out = run(clean .. "GOMP_SPINCOUNT=5 " .. q(sprint) .. " version")
  h.truthy(out:find("openmp: threads spin 5 rounds", 1, true), out)
  local recipe = os.tmpname() .. ".lua"
  write(recipe, 'print(os.getenv("GOMP_SPINCOUNT"), SPRINT_CLI.set.x, #arg)')
  rc, out = run(clean .. q(sprint) .. " run " .. q(recipe) .. " --set x=5 -- a b")
  os.remove(recipe)
  h.eq(rc, 0)
  h.eq(out, "30000\t5\t2\n")
end

function tests.unknown_command_is_usage_and_exit_2()
  local sprint = exe()
  local rc, out, err = run(q(sprint) .. " frobnicate")
  h.eq(rc, 2)
  h.eq(out, "")
  h.truthy(err:find("unknown command 'frobnicate'") and err:find("usage: sprint"), err)
  rc = run(q(sprint))
  h.eq(rc, 2)
  rc, _, err = run(q(sprint) .. " run")
  h.eq(rc, 2)
  h.truthy(err:find("no recipe"), err)
  rc, _, err = run(q(sprint) .. " run x.lua --set novalue")
  h.eq(rc, 2)
  h.truthy(err:find("key=value"), err)
end

function tests.recipe_gets_set_and_args()
  local sprint = exe()
  local recipe = os.tmpname() .. ".lua"
  write(recipe, [[
local sprint = require "sprint"
local cfg = sprint.config { steps = 10, name = "x" }
print(cfg.steps + 1, cfg.name, table.concat(SPRINT_CLI.args, "|"), arg[0] == SPRINT_CLI.recipe, ...)
]])
  local rc, out, err = run(q(sprint) .. " run " .. q(recipe) .. " --set steps=41 a --set name=y b -- --set=c")
  h.eq(rc, 0, err)
  h.eq(out, "42\ty\ta|b|--set=c\ttrue\ta\tb\t--set=c\n")
  rc, _, err = run(q(sprint) .. " run " .. q(recipe) .. " --set stepz=1")
  h.eq(rc, 1)
  h.truthy(err:find("unknown key 'stepz'") and err:find("known keys: name, steps"), err)
  os.remove(recipe)
end

function tests.recipe_errors_exit_1_with_traceback()
  local sprint = exe()
  local recipe = os.tmpname() .. ".lua"
  write(recipe, "local function inner() error('kaput') end\ninner()\n")
  local rc, _, err = run(q(sprint) .. " run " .. q(recipe))
  h.eq(rc, 1)
  h.truthy(err:find(":1: kaput") and err:find("stack traceback:") and err:find("inner"), err)
  write(recipe, "local x = = 1\n")
  rc, _, err = run(q(sprint) .. " run " .. q(recipe))
  h.eq(rc, 1)
  h.truthy(err:find("cannot load recipe") and err:find(":1:"), err)
  rc, _, err = run(q(sprint) .. " run " .. q(recipe .. ".missing"))
  h.eq(rc, 1)
  h.truthy(err:find("cannot load recipe"), err)
  -- a C error inside a recipe carries the C message
  write(recipe, [[
local sprint = require "sprint"
local ctx = sprint.ctx()
ctx:matmul(sprint.tensor.new { 2, 3 }, sprint.tensor.new { 2, 3 })
]])
  rc, _, err = run(q(sprint) .. " run " .. q(recipe))
  h.eq(rc, 1)
  h.truthy(err:find(":3: sprint: ctx:matmul failed: matmul.c:%d+:"), err)
  os.remove(recipe)
end

function tests.lua_subcommands_dispatch()
  local sprint = exe()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. q(dir .. "/sprint/cli")) == 0)
  write(dir .. "/sprint/cli/hello.lua", [[
return function(args) print("hello " .. table.concat(args, ",")); return #args end
]])
  local rc, out, err = run("SPRINT_LUA_DIR=" .. q(dir) .. " " .. q(sprint) .. " hello a b c")
  h.eq(rc, 3, err)
  h.eq(out, "hello a,b,c\n")
  rc, _, err = run("SPRINT_LUA_DIR=" .. q(dir) .. " " .. q(sprint) .. " nothere")
  h.eq(rc, 2)
  h.truthy(err:find("unknown command 'nothere'"), err)
  os.execute("rm -rf " .. q(dir))
end

-- The README's first recipe runs as written, learns, honours --set and saves its parameters.
function tests.readme_first_recipe_runs_and_learns()
  local path = os.tmpname()
  local rc, out, err = run(q(exe()) .. " run recipes/examples/first_recipe.lua --set lr=0.1 --set out=" .. q(path))
  h.eq(rc, 0, err)
  local last = tonumber(out:match("200\t(%S+)"))
  h.truthy(last and last < 0.01, "final loss " .. tostring(last) .. " in:\n" .. out)
  local f = io.open(path, "rb")
  h.truthy(f and #f:read("*a") > 16, "parameters were not saved")
  if f then f:close() end
  os.remove(path)
end

return tests
