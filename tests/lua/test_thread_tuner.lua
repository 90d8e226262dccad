-- test_thread_tuner.lua — train.fit's thread tuner: it probes both thread counts interleaved,
-- keeps the one with the lower time per unit of work for the rest of the window, measures
-- again in the next window, gives the threads back; and training with it gives the bits of
-- training without it (the engine's results do not depend on the thread count).
local sprint = require "sprint"
local tuner = require "sprint.thread_tuner"
local h = require "helpers"

local tests = {}

-- A clock the test moves: each step "takes" cost[threads] seconds per unit of work (cost may
-- be a function of the step number: a load that comes later).
local function run(cost, steps, window)
  local t = 0
  local tune = tuner.new { window = window, probe = 2, recheck = 3, clock = function() return t end }
  local seen = {}
  for i = 1, steps do
    tune:before()
    local n = sprint.num_threads()
    seen[#seen + 1] = n
    local c = type(cost) == "function" and cost(i) or cost
    t = t + c[n] * 10
    tune:after(10)
  end
  tune:finish()
  return seen
end

function tests.probes_then_keeps_the_faster_count_and_measures_again()
  local before = sprint.num_threads()
  sprint.set_num_threads(2)
  local ok, err = pcall(function()
    -- two threads slower (a competing load): 1 thread after the probes
    local seen = run({ [1] = 1.0, [2] = 1.8 }, 10, 100)
    h.eq(table.concat(seen, ","), "2,1,2,1,1,1,1,1,1,1", "probes interleaved, then the faster")
    -- a quiet machine: 2 threads
    seen = run({ [1] = 1.0, [2] = 0.6 }, 8, 100)
    h.eq(table.concat(seen, ","), "2,1,2,1,2,2,2,2")
    -- the next window probes again (window 6: steps 7..10 are its probes)
    seen = run({ [1] = 1.0, [2] = 1.8 }, 10, 6)
    h.eq(table.concat(seen, ","), "2,1,2,1,1,1,2,1,2,1")
    h.eq(sprint.num_threads(), 2, "finish gives the threads back")
    -- a load arrives at step 7: two threads get slow, and within 3 steps the tuner moves to 1
    seen = run(function(i) return i < 7 and { [1] = 1.0, [2] = 0.6 } or { [1] = 1.2, [2] = 2.0 } end, 14, 100)
    h.eq(table.concat(seen, ","), "2,1,2,1,2,2,2,2,2,2,1,1,1,1")
    -- one thread configured: nothing to tune
    sprint.set_num_threads(1)
    seen = run({ [1] = 1.0 }, 5, 100)
    h.eq(table.concat(seen, ","), "1,1,1,1,1")
  end)
  sprint.set_num_threads(before)
  if not ok then error(err, 0) end
end

local params_bytes = h.params_bytes

function tests.training_with_the_tuner_gives_the_same_bits()
  local before = sprint.num_threads()
  local ds = h.planted { n_sessions = 300, n_intents = 4, items_per_intent = 20, follow = 0.8, noise = 0.1 }
  local function train(tuned)
    local P = sprint.nn.params(3)
    local m = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 10, dim = 16, heads = 2,
                                         layers = 1 })
    sprint.train.fit(m, ds, { epochs = 2, batch_size = 16, max_len = 10, lr = 3e-3, tune_threads = tuned,
                              log = function() end })
    return params_bytes(P)
  end
  sprint.set_num_threads(2)
  local a = train(true)
  h.eq(sprint.num_threads(), 2, "train.fit gives the threads back")
  local b = train(false)
  sprint.set_num_threads(before)
  h.truthy(a == b, "the tuner changed the trained parameters")
end

return tests
