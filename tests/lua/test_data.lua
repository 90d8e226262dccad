-- test_data.lua — sprint.data from Lua: the planted dataset through the registry, the cache
-- (a second load reads it; other settings prepare again), settings checks, the dataset object,
-- and the `sprint data` command on the real Beauty files when ../shared is here.
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data

local tests = {}

-- A private cache folder per run, so tests never read another run's files.
local function with_cache(fn)
  local dir = os.tmpname()
  os.remove(dir)
  local old = os.getenv("SPRINT_CACHE")
  local set = function(v) data.cache_dir = function() return v end end
  local saved = data.cache_dir
  set(dir)
  local ok, err = pcall(fn, dir)
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
  return old
end

function tests.planted_through_the_registry_and_cache()
  with_cache(function()
    local a = data.load("planted", { n_sessions = 300 })
    h.truthy(not a.from_cache, "first load must prepare")
    local b = data.load("planted", { n_sessions = 300 })
    h.truthy(b.from_cache, "second load must come from the cache")
    h.eq(b:n_sessions(), a:n_sessions())
    h.eq(b:session(3).key, a:session(3).key)
    local c = data.load("planted", { n_sessions = 300, seed = 2 })
    h.truthy(not c.from_cache, "other settings must prepare again")
    h.truthy(c.cache_path ~= a.cache_path)
  end)
end

local function copy_file(from, to)
  local f = assert(io.open(from, "rb"))
  local bytes = f:read("*a")
  f:close()
  f = assert(io.open(to, "wb"))
  f:write(bytes)
  f:close()
end

-- A cache file carries its dataset's name and settings hash: one copied over another
-- dataset's (or other settings') cache name is a cache miss, prepared again and replaced.
function tests.a_cache_file_under_another_name_is_not_trusted()
  with_cache(function()
    local a = data.load("planted", { n_sessions = 300 })
    local b = data.load("planted", { n_sessions = 200 })
    local nb = b:n_sessions()
    h.truthy(a:n_sessions() ~= nb, "the two settings give different datasets")
    copy_file(a.cache_path, b.cache_path)
    local again = data.load("planted", { n_sessions = 200 })
    h.truthy(not again.from_cache, "the copied file must not pass for the other settings")
    h.eq(again:n_sessions(), nb)
    h.truthy(again.cache_replaced and again.cache_replaced:find("holds the prepared dataset 'planted' %(settings hash %x+%), not 'planted'"),
      tostring(again.cache_replaced))
    local third = data.load("planted", { n_sessions = 200 })
    h.truthy(third.from_cache and third:n_sessions() == nb, "the replaced file is the right one")
    -- another dataset's name: a registry twin of planted with the same settings
    local saved = data.registry
    data.registry = function()
      local reg = saved()
      reg.twin = reg.planted
      return reg
    end
    local ok, err = pcall(function()
      local twin = data.load("twin", { n_sessions = 300 })
      copy_file(a.cache_path, twin.cache_path)
      local t2 = data.load("twin", { n_sessions = 300 })
      h.truthy(not t2.from_cache, "planted's file must not pass for twin's")
      h.truthy(t2.cache_replaced:find("'planted'", 1, true) and t2.cache_replaced:find("not 'twin'", 1, true), t2.cache_replaced)
    end)
    data.registry = saved
    if not ok then error(err, 0) end
  end)
end

function tests.dataset_object_reads_sessions_items_and_stats()
  with_cache(function()
    local ds = data.load("planted", { n_sessions = 400 })
    local st = ds:stats()
    h.eq(st.total.sessions, ds:n_sessions())
    h.eq(st.train.sessions + st.valid.sessions + st.test.sessions, st.total.sessions)
    local s = ds:session(1)
    h.eq(s.index, 1)
    h.eq(s.split, "train")
    h.truthy(#s.items >= 2 and #s.items == #s.times)
    h.truthy(s.labels and #s.labels >= 1, "planted sessions carry their hidden intents")
    local it = ds:item(s.items[1])
    h.truthy(#it.title > 0 and #it.categories == 2, "planted items have a title and two categories")
    h.eq(ds:find(s.key), 1)
    h.eq(ds:find("no such key"), nil)
    h.eq(#ds:labels(), 8)
    h.truthy(ds:table1():find("train"), "table1 lists the splits")
    h.truthy(#ds:report() >= 6, "the preparation report lists every step")
    h.raises("outside", function() ds:session(0) end)
  end)
end

function tests.batches_from_lua()
  with_cache(function()
    local ds = data.load("planted", { n_sessions = 300 })
    local b = ds:batches { batch_size = 16, max_len = 6, n_hard_neg = 0 }
    local n, rows_total = 0, 0
    for rows in b:epoch(1) do
      n = n + 1
      rows_total = rows_total + rows
      local t = b.target:get(1)
      h.truthy(t >= 1 and t <= ds:n_items(), "target is an item id")
      h.eq(b.seq:get(1, 6) ~= 0, true, "right-aligned: the last column holds an item")
    end
    h.eq(n, b:n_batches())
    h.eq(rows_total, b:n_examples())
    h.raises("split must be", function() ds:batches { split = "dev" } end)
    h.raises("unknown batch setting", function() ds:batches { batchsize = 3 } end)
    -- the C struct holds ints: 2.5 would silently become 2, 2^31 a negative number
    h.raises("dataset:batches: batch_size must be an integer in [1, 2147483647], got 2.5",
      function() ds:batches { batch_size = 2.5 } end)
    h.raises("max_len must be an integer in [1, 2147483647], got 2147483648",
      function() ds:batches { max_len = 2 ^ 31 } end)
    h.raises("n_uniform_neg must be an integer in [0, 2147483647], got -1",
      function() ds:batches { n_uniform_neg = -1 } end)
  end)
end

function tests.data_people_bring_goes_through_the_same_pipeline()
  local dir = data.root() .. "/tests/fixtures/data/plain/"
  local ds = data.from_files("plain", { dir .. "sessions.tsv", dir .. "items.tsv" },
    { min_session_len = 1, min_item_support = 1, min_eval_len = 1, filter_unseen_eval = false })
  h.truthy(ds:n_sessions() >= 1)
  local found
  for j = 1, ds:n_items() do
    local it = ds:item(j)
    if it.key == "i1" then found = it end
  end
  h.truthy(found, "item i1 is in the dataset")
  h.eq(found.title, "Red Shoes")
  h.eq(found.brand, "Acme")
  h.eq(table.concat(found.categories, "|"), "Shoes|Red")
  h.raises("takes the events file", function() data.from_files("plain", {}) end)
end

function tests.settings_are_checked()
  h.raises("unknown preparation setting 'min_item_suport'", function() data.load("planted", { min_item_suport = 2 }) end)
  h.raises("must be a number", function() data.load("planted", { min_session_len = "two" }) end)
  h.raises("no dataset named 'nosuch'", function() data.load("nosuch") end)
  h.raises("unknown loader", function() data.from_files("nosuch-loader", { "/x" }) end)
end

-- ---- raw files against the registry's SHA-256 ---------------------------------------------

local function sha256sum(path) -- the system's tool, independent of the code under test
  local p = io.popen("sha256sum '" .. path .. "'")
  local sum = p:read("*a"):match("^(%x+)")
  p:close()
  return sum
end

local function write_lines(path, lines)
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

local function read_lines(path, n)
  local lines = {}
  for line in io.lines(path) do
    if n and #lines >= n then break end
    lines[#lines + 1] = line
  end
  return lines
end

-- Runs fn(dir) with a private data path (dir) and cache, and a registry with extra entries.
local function with_data(extra, fn)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  local saved_path, saved_reg = data.search_path, data.registry
  data.search_path = function() return { dir } end
  data.registry = function()
    local reg = saved_reg()
    for k, v in pairs(extra) do reg[k] = v end
    return reg
  end
  local ok, err = pcall(with_cache, function(cache) fn(dir, cache) end)
  data.search_path, data.registry = saved_path, saved_reg
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
end

function tests.raw_files_are_checked_against_the_registry_once_per_content()
  local fixture = data.root() .. "/tests/fixtures/data/plain/"
  local entry = {
    title = "the plain fixture", loader = "plain", folder = "shafix",
    files = { ["sessions.tsv"] = sha256sum(fixture .. "sessions.tsv"), ["items.tsv"] = sha256sum(fixture .. "items.tsv") },
    paths = { "sessions.tsv", "items.tsv" },
    prepare = { min_session_len = 1, min_item_support = 1, min_eval_len = 1, filter_unseen_eval = false },
  }
  with_data({ shafix = entry }, function(dir, cache)
    os.execute("mkdir -p '" .. dir .. "/shafix'")
    write_lines(dir .. "/shafix/sessions.tsv", read_lines(fixture .. "sessions.tsv"))
    write_lines(dir .. "/shafix/items.tsv", read_lines(fixture .. "items.tsv"))
    local checksums = require "sprint.checksums"
    local saved, hashed = checksums.sha256, 0
    checksums.sha256 = function(path) hashed = hashed + 1 return saved(path) end
    local ok, err = pcall(function()
      local ds = data.load("shafix")
      h.eq(hashed, 2, "the first load hashes both files")
      h.eq(#read_lines(cache .. "/" .. checksums.RECORD), 2, "and remembers both digests")
      data.load("shafix")
      data.prepare("shafix")
      h.eq(hashed, 2, "unchanged files are not hashed again")
      -- truncated at a line: refused, naming the file, both digests and the way around it
      write_lines(dir .. "/shafix/sessions.tsv", read_lines(fixture .. "sessions.tsv", 2))
      local actual = sha256sum(dir .. "/shafix/sessions.tsv")
      h.raises({ "dataset 'shafix': 1 raw file(s) differ from datasets/registry.lua",
                 "sessions.tsv (" .. dir .. "/shafix/sessions.tsv): SHA-256 " .. actual,
                 "the registry lists " .. entry.files["sessions.tsv"],
                 "verify = false (--set verify=false", "SPRINT_DATA_VERIFY=0" }, data.load, "shafix")
      h.raises("differ from datasets/registry.lua", data.prepare, "shafix")
      h.eq(hashed, 3, "the changed file is hashed once")
      -- a deliberate local edit
      local edited = data.load("shafix", { verify = false })
      h.truthy(edited:n_sessions() < ds:n_sessions(), "the edited file has fewer sessions")
      h.eq(data.load("shafix", { verify = "false" }):n_sessions(), edited:n_sessions())
      h.raises("verify must be true or false", data.load, "shafix", { verify = "maybe" })
    end)
    checksums.sha256 = saved
    if not ok then error(err, 0) end
  end)
end

local function shared_here()
  local f = io.open(data.root() .. "/../shared/datasets/amazon_beauty_2014_5core/PROVENANCE.md", "rb")
  if f then f:close() end
  return f ~= nil
end

function tests.data_command_stats_and_show_on_beauty()
  if not shared_here() then h.skip("../shared/datasets is not here") end
  local cli = rawget(_G, "SPRINT_CLI")
  if not cli or not cli.build_dir then h.skip("not running under the sprint command") end
  local cache = os.tmpname()
  os.remove(cache)
  local function run(args)
    local p = io.popen("SPRINT_CACHE='" .. cache .. "' '" .. cli.build_dir .. "/sprint' data " .. args .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("*a")
    p:close()
    return out
  end
  local out = run("stats beauty")
  h.truthy(out:find("rc=0"), out)
  h.truthy(out:find("after the filters: 7604 sessions, 2004 items, 31433 interactions"), out)
  h.truthy(out:find("paper%s+7524%s+2351%s+31538"), "the paper's row is printed beside ours:\n" .. out)
  local again = run("stats beauty")
  h.truthy(again:find("loaded from"), "the second stats must read the cache:\n" .. again)
  local show = run("show beauty 1")
  h.truthy(show:find("split train") and show:find("1%. "), show)
  local bad = run("stats beauty --set min_item_supprt=3")
  h.truthy(bad:find("unknown preparation setting") and bad:find("rc=1"), bad)
  os.execute("rm -rf '" .. cache .. "'")
end

-- The case that was silent: both Beauty sequence files truncated at the same line prepared into
-- 2,867 sessions instead of 7,215.
function tests.truncated_beauty_files_are_refused()
  if not shared_here() then h.skip("../shared/datasets is not here") end
  local src = data.root() .. "/../shared/datasets/amazon_beauty_2014_5core"
  local entry = data.registry().beauty
  with_data({}, function(dir)
    local folder = dir .. "/" .. entry.folder
    for rel in pairs(entry.files) do
      os.execute("mkdir -p '" .. (folder .. "/" .. rel):match("^(.*)/") .. "'")
      os.execute("cp '" .. src .. "/" .. rel .. "' '" .. folder .. "/" .. rel .. "'")
    end
    for _, rel in ipairs({ "raw/ticoserec/Beauty_item_org_rank.txt", "raw/ticoserec/Beauty_time_org_rank.txt" }) do
      write_lines(folder .. "/" .. rel, read_lines(src .. "/" .. rel, 9000))
    end
    h.raises({ "dataset 'beauty': 2 raw file(s) differ", "Beauty_item_org_rank.txt", "Beauty_time_org_rank.txt",
               "the registry lists " .. entry.files["raw/ticoserec/Beauty_item_org_rank.txt"] }, data.load, "beauty")
    local ds = data.load("beauty", { verify = false })
    h.truthy(ds:n_sessions() < 7215, "the truncated files give another dataset: " .. ds:n_sessions())
  end)
end

return tests
