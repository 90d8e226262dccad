-- grid.lua — cells of an experiment run as parallel processes, and the lock that keeps one
-- training run directory to one process. A recipe that trains many independent runs (seeds ×
-- rows) hands each to a child `sprint run` of itself (M.self_command) and waits; every child's
-- output goes to its own log, a progress line counts cells done, running and failed, and a cell
-- that fails is reported with the last line of its log while the others go on.
--   local status = grid.run(cells, { jobs = 2 })  -- cells: { { id =, argv = {...}, log = path } }
--   -- status[id] = { ok = true } | { ok = false, error = "..." }
--   local lock = grid.lock(dir .. "/.lock")        -- blocks while another process holds it
local ffi = require "ffi"
local files = require "sprint.files"
local clock = require "sprint.clock"

-- Declared under private names (asm labels), so a recipe may declare libc's own.
ffi.cdef [[
  int sp_grid_posix_spawn(int *pid, const char *path, const void *actions, const void *attr,
                          char *const argv[], char *const envp[]) __asm__("posix_spawn");
  int sp_grid_waitpid(int pid, int *status, int options) __asm__("waitpid");
  int sp_grid_kill(int pid, int sig) __asm__("kill");
  int sp_grid_poll(void *fds, unsigned long n, int timeout_ms) __asm__("poll");
  long sp_grid_readlink(const char *path, char *buf, size_t size) __asm__("readlink");
  int sp_grid_open(const char *path, int flags, int mode) __asm__("open");
  int sp_grid_close(int fd) __asm__("close");
  int sp_grid_flock(int fd, int op) __asm__("flock");
  long sp_grid_sysconf(int name) __asm__("sysconf");
  extern char **environ;
]]

local M = {}

local WNOHANG, SIGTERM = 1, 15
local O_RDWR, O_CREAT, O_CLOEXEC = 2, 64, 524288
local LOCK_EX, LOCK_NB = 2, 4
local SC_NPROCESSORS_ONLN = 84

-- The cores this process may use (online processors).
function M.cores()
  local n = tonumber(ffi.C.sp_grid_sysconf(SC_NPROCESSORS_ONLN))
  return (n and n > 0) and n or 1
end

-- The running sprint command, for a child: this executable, "run", the recipe, the --config
-- file, every --set of this run (overridden and extended by `sets`), and the recipe's own
-- arguments. Returns an argv list.
function M.self_command(sets)
  local cli = rawget(_G, "SPRINT_CLI")
  if not (cli and cli.recipe) then error("grid: not running under `sprint run`: no command to start cells with", 2) end
  local buf = ffi.new("char[4096]")
  local n = tonumber(ffi.C.sp_grid_readlink("/proc/self/exe", buf, 4095))
  if not n or n <= 0 then error("grid: cannot find the sprint executable (/proc/self/exe)", 2) end
  local argv = { ffi.string(buf, n), "run", cli.recipe }
  if cli.config_file then argv[#argv + 1] = "--config"; argv[#argv + 1] = cli.config_file end
  local merged, keys = {}, {}
  for k, v in pairs(cli.set or {}) do merged[k] = v end
  for k, v in pairs(sets or {}) do merged[k] = tostring(v) end
  for k in pairs(merged) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do argv[#argv + 1] = "--set"; argv[#argv + 1] = k .. "=" .. merged[k] end
  if cli.args and #cli.args > 0 then
    argv[#argv + 1] = "--"
    for _, a in ipairs(cli.args) do argv[#argv + 1] = a end
  end
  return argv
end

-- Starts argv with stdout and stderr appended to log (through /bin/sh's redirection); returns
-- the pid.
local function spawn(argv, log)
  local words = {}
  for i, a in ipairs(argv) do words[i] = files.quote(a) end
  local script = "exec " .. table.concat(words, " ") .. " >>" .. files.quote(log) .. " 2>&1 </dev/null"
  local args = { "/bin/sh", "-c", script }
  local cargs = ffi.new("char *[?]", #args + 1)
  local keep = {}
  for i, a in ipairs(args) do
    keep[i] = ffi.new("char[?]", #a + 1, a)
    cargs[i - 1] = keep[i]
  end
  cargs[#args] = nil
  local pid = ffi.new("int[1]")
  local rc = ffi.C.sp_grid_posix_spawn(pid, "/bin/sh", nil, nil, cargs, ffi.C.environ)
  if rc ~= 0 then error(string.format("grid: cannot start a cell (posix_spawn error %d): %s", rc, argv[1]), 0) end
  return pid[0]
end

-- The error a child's log ends with: the sprint command's last "sprint: ..." line (what the
-- recipe raised), else the log's last line.
local function last_error(log)
  local lines = files.read_lines(log)
  for i = #lines, math.max(1, #lines - 200), -1 do
    if lines[i]:match("^sprint[%w%- ]*: ") then return lines[i] end
  end
  return lines[#lines] or "(empty log)"
end

local function sleep_ms(ms) ffi.C.sp_grid_poll(nil, 0, ms) end

-- Runs the cells, at most opts.jobs at a time (default 1, never more than the cores), in
-- order. cells: { { id = string, argv = { ... }, log = path } }. opts.progress (default
-- print) gets a line whenever a cell starts or ends; opts.poll_ms (default 200). Returns
-- status by id: { ok = true, seconds = } or { ok = false, error =, log =, seconds = }.
function M.run(cells, opts)
  opts = opts or {}
  local jobs = math.max(1, math.min(opts.jobs or 1, M.cores(), #cells))
  local say = opts.progress or function(line) -- at once, also when stdout is a file
    print(line)
    io.stdout:flush()
  end
  local status, running, next_cell = {}, {}, 1
  local done, failed, n_running = 0, 0, 0
  local function line(what)
    say(string.format("grid: %d/%d done, %d running, %d failed%s", done, #cells, n_running, failed,
      what and ("  (" .. what .. ")") or ""))
  end
  local ok, err = pcall(function()
    while done + failed < #cells do
      while n_running < jobs and next_cell <= #cells do
        local c = cells[next_cell]
        next_cell = next_cell + 1
        files.mkdir(c.log:match("^(.*)/[^/]*$") or ".")
        local pid = spawn(c.argv, c.log)
        running[pid] = { cell = c, t0 = clock.now() }
        n_running = n_running + 1
        line("started " .. c.id .. ", log " .. c.log)
      end
      local st, pid = ffi.new("int[1]"), 0
      for p in pairs(running) do -- its own children only (io.popen's are pclose's to reap)
        if ffi.C.sp_grid_waitpid(p, st, WNOHANG) == p then pid = p; break end
      end
      if pid > 0 then
        local r = running[pid]
        running[pid] = nil
        n_running = n_running - 1
        local code, sig = bit.rshift(bit.band(st[0], 0xff00), 8), bit.band(st[0], 0x7f)
        local seconds = clock.now() - r.t0
        if sig == 0 and code == 0 then
          done = done + 1
          status[r.cell.id] = { ok = true, seconds = seconds }
          line(string.format("%s finished in %.0f s", r.cell.id, seconds))
        else
          failed = failed + 1
          local why = sig ~= 0 and ("killed by signal " .. sig) or ("exit status " .. code)
          status[r.cell.id] = { ok = false, error = why .. ": " .. last_error(r.cell.log), log = r.cell.log,
                                seconds = seconds }
          line(string.format("%s FAILED (%s; log %s)", r.cell.id, why, r.cell.log))
        end
      else
        sleep_ms(opts.poll_ms or 200)
      end
    end
  end)
  if not ok then -- this process is going down: take the cells it started with it
    for pid in pairs(running) do ffi.C.sp_grid_kill(pid, SIGTERM) end
    error(err, 0)
  end
  return status
end

-- An exclusive lock on path (created if missing), held until :release() or the process ends
-- (a killed holder releases it). When another process holds it, says so through `say` and
-- waits.
function M.lock(path, say)
  local fd = ffi.C.sp_grid_open(path, bit.bor(O_RDWR, O_CREAT, O_CLOEXEC), 420)
  if fd < 0 then error("grid: cannot open the lock file " .. path, 2) end
  if ffi.C.sp_grid_flock(fd, bit.bor(LOCK_EX, LOCK_NB)) ~= 0 then
    if say then say("waiting: another process holds " .. path) end
    if ffi.C.sp_grid_flock(fd, LOCK_EX) ~= 0 then
      ffi.C.sp_grid_close(fd)
      error("grid: cannot lock " .. path, 2)
    end
  end
  return { release = function() if fd >= 0 then ffi.C.sp_grid_close(fd); fd = -1 end end }
end

return M
