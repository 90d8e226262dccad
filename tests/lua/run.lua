-- run.lua — the Lua test runner (no busted): loads every tests/lua/test_*.lua (each returns a
-- table of name -> function), runs each test in pcall, prints a line per failure, and ends with
-- "N passed, N failed" (", N skipped" if any); exits 1 on any failure.
-- Usage: sprint run tests/lua/run.lua [PATTERN]  (runs tests whose "file:name" contains PATTERN)
local script = (arg and arg[0]) or "tests/lua/run.lua"
local dir = script:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local pattern = arg and arg[1]

local h = require "helpers"

local files = {}
local ls = io.popen('ls -1 "' .. dir .. '" 2>/dev/null')
for name in ls:lines() do
  if name:match("^test_.*%.lua$") then files[#files + 1] = name end
end
ls:close()
table.sort(files)

local passed, failed, skipped = 0, 0, 0
local clock = os.clock
for _, file in ipairs(files) do
  local chunk, err = loadfile(dir .. "/" .. file)
  local ok, tests = false, err
  if chunk then ok, tests = pcall(chunk) end
  if not ok or type(tests) ~= "table" then
    failed = failed + 1
    print(string.format("FAIL %s: cannot load: %s", file, tostring(tests)))
  else
    local names = {}
    for name in pairs(tests) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local id = file:gsub("%.lua$", "") .. ":" .. name
      if not pattern or id:find(pattern, 1, true) then
        local t0 = clock()
        local tok, terr = pcall(tests[name])
        collectgarbage() -- run finalisers between tests, so a bad one shows up near its test
        if tok then
          passed = passed + 1
          if os.getenv("SPRINT_TEST_VERBOSE") then print(string.format("ok   %s (%.2fs)", id, clock() - t0)) end
        elseif h.is_skip(terr) then
          skipped = skipped + 1
          print(string.format("SKIP %s: %s", id, terr.reason))
        else
          failed = failed + 1
          print(string.format("FAIL %s: %s", id, tostring(terr)))
        end
      end
    end
  end
end

local line = string.format("%d passed, %d failed", passed, failed)
if skipped > 0 then line = line .. string.format(", %d skipped", skipped) end
print(line)
io.stdout:flush()
if failed > 0 then os.exit(1) end
