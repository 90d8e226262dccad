-- llm_support.lua — shared by the LLM tests (not a test file): starts and stops the loopback
-- chat-completions server (tests/llm/llm_testserver.c) on an ephemeral 127.0.0.1 port, reads
-- its log, sets environment variables for a test and restores them, runs shell commands.
local ffi = require "ffi"
local h = require "helpers"

pcall(ffi.cdef, [[
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);
int usleep(unsigned int usec);
int kill(int pid, int sig);
]])

local M = {}

function M.sleep_ms(ms) ffi.C.usleep(ms * 1000) end

function M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.build_dir()
  local cli = rawget(_G, "SPRINT_CLI")
  if not cli or not cli.build_dir then h.skip("not running under the sprint command") end
  return cli.build_dir
end

function M.exe(name)
  local path = M.build_dir() .. "/" .. name
  local f = io.open(path, "rb")
  if not f then h.skip("no " .. path .. " (build it)") end
  f:close()
  return path
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. M.q(d)) == 0)
  return d
end

-- Runs a shell command line; returns exit code, stdout, stderr.
function M.run(cmdline)
  local out, err = os.tmpname(), os.tmpname()
  local p = io.popen(cmdline .. " >" .. out .. " 2>" .. err .. "; echo $?")
  local rc = tonumber(p:read("*a"):match("%d+"))
  p:close()
  local o, e = M.read(out), M.read(err)
  os.remove(out)
  os.remove(err)
  return rc, o, e
end

-- Calls fn with environment variables set (a value false unsets), then restores them.
function M.with_env(vars, fn, ...)
  local saved = {}
  for k, v in pairs(vars) do
    saved[k] = os.getenv(k) or false
    if v then ffi.C.setenv(k, v, 1) else ffi.C.unsetenv(k) end
  end
  local res = { pcall(fn, ...) }
  for k, v in pairs(saved) do
    if v then ffi.C.setenv(k, v, 1) else ffi.C.unsetenv(k) end
  end
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, table.maxn(res)) -- a nil among the results (nil, why) keeps what follows
end

-- The variables a developer's shell might carry that would change what the tests see.
M.clean_env = { SPRINT_LLM_BASE_URL = false, SPRINT_LLM_MODEL = false, SPRINT_LLM_API_KEY = false,
                OPENAI_API_KEY = false, SPRINT_LLM_PROVIDER = false, SPRINT_LLM_CACHE = false,
                SPRINT_LLM_CACHE_MODE = false, SPRINT_LLM_CONFIG = false, SPRINT_RUN = false }

local Server = {}
Server.__index = Server

-- Starts the loopback server; opts: latency_ms, jitter_ms, require_key, chaos, seed,
-- max_seconds (default 120: it always ends by itself).
function M.server(opts)
  opts = opts or {}
  local exe = M.exe("sprint_llm_testserver")
  local dir = M.tmpdir()
  local args = { M.q(exe), "--port-file", M.q(dir .. "/port"), "--log", M.q(dir .. "/log"),
                 "--max-seconds", tostring(opts.max_seconds or 120) }
  if opts.latency_ms then args[#args + 1] = "--latency-ms " .. opts.latency_ms end
  if opts.jitter_ms then args[#args + 1] = "--jitter-ms " .. opts.jitter_ms end
  if opts.require_key then args[#args + 1] = "--require-key " .. M.q(opts.require_key) end
  if opts.chaos then args[#args + 1] = "--chaos " .. opts.chaos .. " --seed " .. (opts.seed or 1) end
  local p = io.popen(table.concat(args, " ") .. " >/dev/null 2>" .. M.q(dir .. "/stderr") .. " & echo $!")
  local pid = tonumber(p:read("*l"))
  p:close()
  local port
  for _ = 1, 500 do -- at most 5 s
    local t = M.read(dir .. "/port")
    port = t and tonumber(t:match("%d+"))
    if port then break end
    M.sleep_ms(10)
  end
  if not port then
    ffi.C.kill(pid, 9)
    error("the loopback server did not start: " .. tostring(M.read(dir .. "/stderr")), 2)
  end
  return setmetatable({ pid = pid, port = port, dir = dir, base_url = "http://127.0.0.1:" .. port .. "/v1" }, Server)
end

function Server:stop()
  if self.pid then
    ffi.C.kill(self.pid, 15)
    for _ = 1, 200 do -- it is not our child (the shell that started it has gone): poll
      local stat = M.read("/proc/" .. self.pid .. "/stat")
      if not stat or stat:match("^%d+ %b() (%a)") == "Z" then break end -- gone, or a zombie
      M.sleep_ms(10)
    end
    self.pid = nil
  end
  os.execute("rm -rf " .. M.q(self.dir))
end

-- The log as a list of {seq, hash, tag, outcome}.
function Server:log()
  local out = {}
  for line in (M.read(self.dir .. "/log") or ""):gmatch("[^\n]+") do
    local seq, hash, tag, outcome = line:match("^(%d+) (%x+) (%S+) (%S+)$")
    out[#out + 1] = { seq = tonumber(seq), hash = hash, tag = tag, outcome = outcome }
  end
  return out
end

-- Log entries of one tag.
function Server:hits(tag)
  local out = {}
  for _, e in ipairs(self:log()) do
    if e.tag == tag then out[#out + 1] = e.outcome end
  end
  return out
end

-- A Stage-1 template set (written to a new temporary folder, returned) whose requests tell the
-- loopback server to answer as a P&C model would (content=pc / content=gip: answers chosen by
-- the request's hash, so the same request always gets the same answer, some tries fail and
-- the pool grows).
function M.pc_templates()
  local prompt = require "sprint.llm.prompt"
  local dir = M.tmpdir()
  for _, name in ipairs { "gip_init", "pc", "feedback", "feedback_invalid" } do
    local text = select(1, prompt.load(name))
    if name == "pc" then text = text:gsub("### user", "(content=pc)\n### user", 1) end
    if name == "gip_init" then text = text:gsub("### user", "(content=gip)\n### user", 1) end
    M.write(dir .. "/" .. name .. ".txt", text)
  end
  return dir
end

-- A client for this server with test-friendly timeouts (overridable by opts).
function Server:client(opts)
  local llm = require "sprint.llm"
  local o = { base_url = self.base_url, model = "test-model", backoff_ms = 20, backoff_max_ms = 2000,
              connect_timeout_ms = 2000, timeout_ms = 5000 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return M.with_env(M.clean_env, llm.new, o)
end

return M
