-- files.lua — the few file operations run directories need: read a whole file, write one
-- atomically (the engine's sp_file_write_atomic: a temporary file, fsync, rename), append a
-- line (sp_file_append: a journal a killed run resumes from), make a folder.
local lib = require "sprint.lib"
local C = lib.C

local M = {}

function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The file's text, or nil and why.
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Writes text to path so that a kill leaves the old file or the new one, never a mix.
function M.write_atomic(path, text)
  if C.sp_file_write_atomic(path, text, #text) ~= 0 then lib.fail("writing " .. path, 2) end
end

-- The names in a folder, sorted (empty when it does not exist).
function M.list(dir)
  local out = {}
  local p = io.popen("ls -1 " .. M.quote(dir) .. " 2>/dev/null")
  for f in p:lines() do out[#out + 1] = f end
  p:close()
  table.sort(out)
  return out
end

function M.mkdir(path)
  if os.execute("mkdir -p " .. M.quote(path)) ~= 0 then error("cannot make the folder " .. path, 2) end
end

-- Appends one line to a journal in one write: a finished record survives a kill of the
-- process; a torn last line (a kill inside the write) is skipped by M.read_lines. sync = true
-- also waits for the disk (a power loss), which Stage 1's journals do not need: what they
-- record can be recomputed from the LLM cache.
function M.append_line(path, line, sync)
  local text = line .. "\n"
  if C.sp_file_append(path, text, #text, sync and 1 or 0) ~= 0 then lib.fail("appending to " .. path, 2) end
end

-- The complete lines of a journal (a last line without its newline is a torn write: left out).
function M.read_lines(path)
  local text = M.read(path)
  local out = {}
  if not text then return out end
  for line in text:gmatch("([^\n]*)\n") do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

return M
