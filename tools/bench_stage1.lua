-- bench_stage1.lua — Stage 1's LLM stage (tools/bench stage1): predict-and-correct over 10 % of
-- a dataset's training sessions (every tenth one: the selection does not change the cost per
-- session) with the offline stand-in, median of 3 runs; then against the loopback server
-- answering after 200 ms with 32 conversations in flight, beside the ideal wall time
-- (paid calls x 200 ms / 32). Run folders go to a temporary directory.
-- Usage: sprint run tools/bench_stage1.lua [DATASET] [LOOPBACK_SESSIONS]
local sprint = require "sprint"
local clock = require "sprint.clock"
local stage1 = require "sprint.intents.stage1"
local templates = require "sprint.intents.templates"
local intents = require "sprint.intents"

local dataset = arg and arg[1] or "beauty"
local n_loop = tonumber(arg and arg[2]) or 256

print(string.format("machine: %s; LuaJIT %s", clock.cpu_model(), jit.version))
local ds = sprint.data.load(dataset)
local train = {}
for i = 1, ds:n_sessions() do
  local s = ds:session_view(i)
  if s.split == 0 and s.len >= 2 then train[#train + 1] = i end
end
local hard = {}
for k = 1, #train, 10 do hard[#hard + 1] = train[k] end
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)
local cat = intents.catalogue(ds)

local times, last = {}, nil
for r = 1, 3 do
  os.execute("rm -rf " .. tmp .. "/standin")
  local client = sprint.llm.new { catalogue = cat }
  local t0 = clock.now()
  last = stage1.run { ds = ds, hard = hard, dir = tmp .. "/standin", client = client, domain = "Beauty",
                      templates = templates.load(), progress = false }
  times[r] = clock.now() - t0
  client:close()
end
print(string.format("%s: stand-in P&C over %d hard sessions (%d accepted, pool %d): median %.2f s (runs: %s)",
  dataset, #hard, last.report.accepted, last.pool:size(), clock.median(times),
  table.concat((function() local t = {} for i, x in ipairs(times) do t[i] = string.format("%.2f", x) end return t end)(), ", ")))

-- the loopback server as a paid endpoint answering P&C prompts after 200 ms (the tests' helpers)
package.path = "tests/lua/?.lua;" .. package.path
local S = require "llm_support"
local srv = S.server { latency_ms = 200, max_seconds = 600 }
local port = srv.port
local prompts = S.pc_templates()
local loop_hard = { unpack(hard, 1, math.min(n_loop, #hard)) }
local client = sprint.llm.new { base_url = "http://127.0.0.1:" .. port .. "/v1", model = "bench", concurrency = 32,
                                cache = tmp .. "/llm.sqlite", run = "bench" }
local t0 = clock.now()
local res = stage1.run { ds = ds, hard = loop_hard, dir = tmp .. "/loop", client = client, domain = "Beauty",
                         templates = templates.load(prompts), concurrency = 32, progress = false }
local wall = clock.now() - t0
local calls = client:report().http_calls
client:close()
srv:stop()
os.execute("rm -rf " .. prompts)
local ideal = calls * 0.2 / 32
print(string.format("loopback at 200 ms, 32 in flight: %d sessions, %d paid calls in %.2f s; ideal %.2f s "
  .. "(calls x 0.2 s / 32): %.2fx", #loop_hard, calls, wall, ideal, wall / ideal))
-- a conversation's tries are sequential, so the best any client can do is the greedy
-- schedule: sessions in order onto 32 slots, each holding its slot for tries x 200 ms
local free = {}
for k = 1, 32 do free[k] = 0 end
local makespan = 0
for _, i in ipairs(loop_hard) do
  local r = res.records[i]
  local best = 1
  for k = 2, 32 do if free[k] < free[best] then best = k end end
  free[best] = free[best] + (r and r.tries or 1) * 0.2
  if free[best] > makespan then makespan = free[best] end
end
print(string.format("  the schedule's own bound (sessions in order on 32 slots, tries x 200 ms each): %.2f s; "
  .. "wall / bound: %.2fx", makespan, wall / makespan))
srv:stop()
os.execute("rm -rf " .. prompts)
local ideal = calls * 0.2 / 32
print(string.format("loopback at 200 ms, 32 in flight: %d sessions, %d paid calls in %.2f s; ideal %.2f s "
  .. "(calls x 0.2 s / 32): %.2fx", #loop_hard, calls, wall, ideal, wall / ideal))
-- a conversation's tries are sequential: at the end fewer than 32 are left to run at once
local tries = {}
for _, r in pairs(res.records) do tries[#tries + 1] = r.tries end
table.sort(tries)
print(string.format("  tries per session: median %d, max %d; the last wave bounds the tail: %d tries x 0.2 s = %.1f s",
  tries[math.ceil(#tries / 2)], tries[#tries], tries[#tries], tries[#tries] * 0.2))
os.execute("rm -rf " .. tmp)
