-- cli/data.lua — `sprint data ...`: prepare, inspect and verify datasets.
--   sprint data list
--   sprint data prepare NAME [--set key=value ...]   (ignores the cache, rewrites it)
--   (loads check the raw files' SHA-256 against the registry; --set verify=false skips it)
--   sprint data stats NAME [--set key=value ...]     (Table-1-style table, paper beside)
--   sprint data show NAME SESSION_KEY|INDEX [--set ...]
--   sprint data verify NAME                          (SHA-256 of the raw files vs the registry)
local data = require "sprint.data"

local USAGE = [[
usage: sprint data list
       sprint data prepare NAME [--set key=value ...]
       sprint data stats NAME [--set key=value ...]
       sprint data show NAME SESSION_KEY|INDEX [--set key=value ...]
       sprint data verify NAME]]

local parse = require("sprint.cli.args").words_and_set

local function print_report(ds)
  for _, line in ipairs(ds:report()) do print("  " .. line) end
end

local function describe_time(ds, label)
  if ds.from_cache then
    return string.format("%s: loaded from %s", label, ds.cache_path)
  end
  return string.format("%s: prepared in %.3f s (CPU), cached at %s%s", label, ds.prepare_seconds or 0,
    ds.cache_path or "-", ds.cache_replaced and ("\n  (replacing a cache file that did not fit: " .. ds.cache_replaced .. ")") or "")
end

local commands = {}

function commands.list()
  local reg = data.registry()
  local names = {}
  for name in pairs(reg) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do print(string.format("%-10s %s", name, reg[name].title)) end
  return 0
end

function commands.prepare(words, set)
  local name = words[1] or error("sprint data prepare: which dataset?", 0)
  local ds = data.prepare(name, set)
  print(describe_time(ds, name))
  print_report(ds)
  print(ds:table1())
  return 0
end

function commands.stats(words, set)
  local name = words[1] or error("sprint data stats: which dataset?", 0)
  local t0 = os.clock()
  local ds = data.load(name, set)
  print(describe_time(ds, name) .. string.format(" (%.1f ms)", (os.clock() - t0) * 1e3))
  print("settings: " .. (function()
    local parts = {}
    for k, v in pairs(ds.settings or {}) do parts[#parts + 1] = k .. "=" .. tostring(v) end
    table.sort(parts)
    return table.concat(parts, " ")
  end)())
  print_report(ds)
  print()
  print(ds:table1())
  local st = ds:stats()
  print(string.format("\nitems without a title: %d; without any text: %d", st.items_without_title, st.items_without_text))
  return 0
end

function commands.show(words, set)
  local name, which = words[1], words[2]
  if not name or not which then error("sprint data show NAME SESSION_KEY|INDEX", 0) end
  local ds = data.load(name, set)
  local idx = ds:find(which) or (tonumber(which) and math.floor(tonumber(which)))
  if not idx or idx < 1 or idx > ds:n_sessions() then
    error(string.format("sprint data show: no session '%s' in %s (keys look like %s; indices 1..%d)",
      which, name, ds:session(1).key, ds:n_sessions()), 0)
  end
  local s = ds:session(idx)
  print(string.format("session %d  key %s  split %s  %d items", s.index, s.key, s.split, #s.items))
  if s.labels then print("hidden intents: " .. table.concat(s.labels, ", ")) end
  for k, item in ipairs(s.items) do
    local it = ds:item(item)
    print(string.format("%3d. %s  item %d (%s)  %s%s%s", k, os.date("!%Y-%m-%d %H:%M", s.times[k]), item, it.key,
      it.title ~= "" and it.title or "(no title)", it.brand ~= "" and ("  [" .. it.brand .. "]") or "",
      #it.categories > 0 and ("  {" .. table.concat(it.categories, " / ") .. "}") or ""))
  end
  return 0
end

function commands.verify(words)
  local name = words[1] or error("sprint data verify: which dataset?", 0)
  local entry = data.registry()[name] or error("no dataset named " .. name, 0)
  if not entry.files then
    print(name .. " is generated; nothing to verify")
    return 0
  end
  local folder = data.locate(entry, name)
  local bad = 0
  local rels = {}
  for rel in pairs(entry.files) do rels[#rels + 1] = rel end
  table.sort(rels)
  for _, rel in ipairs(rels) do
    local sum = require("sprint.checksums").sha256(folder .. "/" .. rel)
    local ok = sum == entry.files[rel]
    bad = bad + (ok and 0 or 1)
    print(string.format("%s  %s", ok and "ok      " or "MISMATCH", rel))
  end
  return bad == 0 and 0 or 1
end

return function(args)
  local sub = args[1]
  if not sub or sub == "help" or sub == "--help" then
    print(USAGE)
    return sub and 0 or 2
  end
  local cmd = commands[sub]
  if not cmd then
    io.stderr:write("sprint data: unknown subcommand '" .. sub .. "'\n" .. USAGE .. "\n")
    return 2
  end
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  local words, set = parse(rest)
  return cmd(words, set)
end
