-- checksums.lua — raw dataset files against the SHA-256 the registry lists, on every load: a
-- truncated or edited file would otherwise prepare silently into another dataset. The digest
-- is computed once per file fingerprint (FNV-1a and size, which the cache key reads anyway)
-- and remembered in <cache>/raw-sha256.txt, so a load costs a table look-up. FNV-1a catches
-- accidents (truncation, edits, another release), not deliberate collisions.
local ffi = require "ffi"
local lib = require "sprint.lib"
local C = lib.C

local M = {}

M.RECORD = "raw-sha256.txt" -- lines "<fingerprint> <sha256>"

-- Hex SHA-256 of a file.
function M.sha256(path)
  local out = ffi.new("char[65]")
  if C.sp_file_sha256_hex(out, path) ~= 0 then lib.fail("sprint.data: SHA-256", 2) end
  return ffi.string(out)
end

local function read_record(path)
  local known = {}
  local f = io.open(path, "r")
  if not f then return known end
  for line in f:lines() do
    local fp, sum = line:match("^(%S+) (%x+)$")
    if fp and #sum == 64 then known[fp] = sum end
  end
  f:close()
  return known
end

-- Whether loads check the files: opts.verify (false, or "false" from --set) and
-- SPRINT_DATA_VERIFY=0 turn it off, for deliberate local edits.
function M.enabled(verify)
  if verify == false or verify == "false" or verify == "0" then return false end
  local env = os.getenv("SPRINT_DATA_VERIFY")
  return not (env == "0" or env == "false" or env == "no")
end

-- Raises an error naming every listed file whose SHA-256 differs from the registry's.
-- files: { rel = fingerprint } of the entry's files in folder; cache_dir holds the record.
function M.check(name, entry, folder, files, cache_dir)
  local record = cache_dir .. "/" .. M.RECORD
  local known = read_record(record)
  local new, bad = {}, {}
  local rels = {}
  for rel in pairs(files) do rels[#rels + 1] = rel end
  table.sort(rels)
  for _, rel in ipairs(rels) do
    local want = entry.files[rel]
    if type(want) == "string" and want:match("^%x+$") and #want == 64 then
      local fp = files[rel]
      local sum = known[fp]
      if not sum then
        sum = M.sha256(folder .. "/" .. rel)
        new[#new + 1] = fp .. " " .. sum
      end
      if sum ~= want:lower() then
        bad[#bad + 1] = string.format("  %s (%s/%s): SHA-256 %s, the registry lists %s", rel, folder, rel, sum, want)
      end
    end
  end
  if #new > 0 then -- appended, so concurrent loads at worst both add the same line
    os.execute("mkdir -p '" .. cache_dir:gsub("'", "'\\''") .. "'")
    local f = io.open(record, "a")
    if f then
      f:write(table.concat(new, "\n"), "\n")
      f:close()
    end
  end
  if #bad > 0 then
    error(string.format("sprint.data: dataset '%s': %d raw file(s) differ from datasets/registry.lua, so the "
      .. "prepared data would not be the registry's:\n%s\nFetch the files again (`sprint data verify %s` checks "
      .. "them), or, for a deliberate local edit, load with verify = false (--set verify=false, "
      .. "sprint.data.load(name, { verify = false })) or set SPRINT_DATA_VERIFY=0.", name, #bad,
      table.concat(bad, "\n"), name), 0)
  end
end

return M
