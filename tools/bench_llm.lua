-- bench_llm.lua — the LLM client's speed (tools/bench llm): throughput against the loopback
-- server answering after 200 ms with 64 requests in flight (ideal: 64 / 0.2 s = 320 req/s),
-- the client's own CPU time per request (the server is another process), and cache hits per
-- second through client:chat and through the store alone.
-- Usage: sprint run tools/bench_llm.lua [REQUESTS] [LATENCY_MS] [IN_FLIGHT]
local ffi = require "ffi"
local llm = require "sprint.llm"
local store = require "sprint.llm.store"

local n = tonumber(arg and arg[1]) or 1920
local latency = tonumber(arg and arg[2]) or 200
local inflight = tonumber(arg and arg[3]) or 64

pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
typedef struct { bench_timeval ru_utime; bench_timeval ru_stime; long pad[14]; } bench_rusage;
int getrusage(int who, bench_rusage *usage);
int usleep(unsigned int usec);
int kill(int pid, int sig);
]])
local ts, ru = ffi.new("bench_timespec"), ffi.new("bench_rusage")
local function wall() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9 end
local function cpu()
  ffi.C.getrusage(0, ru)
  return tonumber(ru.ru_utime.tv_sec) + tonumber(ru.ru_utime.tv_usec) * 1e-6
       + tonumber(ru.ru_stime.tv_sec) + tonumber(ru.ru_stime.tv_usec) * 1e-6
end

local cli = rawget(_G, "SPRINT_CLI") or {}
local exe = (cli.build_dir or "build") .. "/sprint_llm_testserver"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
local p = io.popen(exe .. " --port-file " .. dir .. "/port --latency-ms " .. latency .. " --max-seconds 300 >/dev/null 2>&1 & echo $!")
local pid = tonumber(p:read("*l"))
p:close()
local port
for _ = 1, 500 do
  local f = io.open(dir .. "/port")
  port = f and tonumber(f:read("*a"):match("%d+"))
  if f then f:close() end
  if port then break end
  ffi.C.usleep(10000)
end
assert(port, "the loopback server did not start (" .. exe .. ")")

local function client(cache)
  return llm.new { base_url = "http://127.0.0.1:" .. port .. "/v1", model = "bench", concurrency = inflight,
                   cache = cache or "", run = "bench", api_key = nil }
end

local function tasks_for(c, count, prefix)
  local tasks = {}
  for i = 1, count do
    tasks[i] = function()
      local ans, why = c:chat({ { role = "system", content = "You answer with JSON only." },
                                { role = "user", content = "tag=" .. prefix .. i .. " Session: item A, item B, item C. Predict the next item." } },
                              { json = true, stage = "bench", session = i })
      assert(ans, why)
      return ans
    end
  end
  return tasks
end

local function run(label, c, count, prefix)
  local tasks = tasks_for(c, count, prefix or "b")
  collectgarbage()
  local w0, c0 = wall(), cpu()
  local results, errors, summary = llm.gather(tasks, { concurrency = inflight * 2 })
  local w1, c1 = wall(), cpu()
  if summary.done ~= count then
    local i, e = next(errors)
    error(label .. ": " .. summary.done .. " of " .. count .. " done; " .. tostring(i) .. ": " .. tostring(e))
  end
  local _ = results
  return count / (w1 - w0), (c1 - c0) * 1e3 / count, w1 - w0
end

print(string.format("== LLM client: %d requests, loopback server answering after %d ms, %d in flight ==",
                    n, latency, inflight))
local ideal = inflight / (latency / 1e3)
local c = client()
run("warm-up", c, inflight, "w") -- connections opened once
local rate, cpu_ms, secs = run("no cache", c, n)
c:close()
print(string.format("throughput, cache off:     %7.1f req/s = %5.1f%% of the ideal %.0f (%.2f s)", rate, 100 * rate / ideal, ideal, secs))
print(string.format("client CPU, cache off:     %7.3f ms/request", cpu_ms))

local path = dir .. "/bench.sqlite"
c = client(path)
run("warm-up", c, inflight, "w")
rate, cpu_ms, secs = run("cache write", c, n)
print(string.format("throughput, cache writes:  %7.1f req/s = %5.1f%% of the ideal %.0f (%.2f s)", rate, 100 * rate / ideal, ideal, secs))
print(string.format("client CPU, cache writes:  %7.3f ms/request (SQLite WAL, a transaction per answer)", cpu_ms))

-- cache hits through the whole chat path: canonical request, SHA-256, lookup, decode, check,
-- ledger row
local passes, hits_t = 5, 0
local w0 = wall()
for _ = 1, passes do
  local r = run("hits", c, n)
  hits_t = hits_t + n / r
end
local w1 = wall()
print(string.format("cache hits via chat:       %7.0f lookups/s (%d lookups, %.2f s)", passes * n / (w1 - w0), passes * n, w1 - w0))
c:close()

-- the store alone: hashing and SELECT by key
local st = store.open(path, "read-only")
local keys = {}
for i = 1, 2000 do keys[i] = store.sha256("key " .. i) end
local found = 0
w0 = wall()
local rounds = 20
for _ = 1, rounds do
  for i = 1, #keys do if st:get(keys[i]) then found = found + 1 end end
end
w1 = wall()
print(string.format("store lookups (misses):    %7.0f lookups/s", rounds * #keys / (w1 - w0)))
st:close()

ffi.C.kill(pid, 15)
os.execute("rm -rf " .. dir)
