-- test_threads.lua — training does not depend on the thread count: a few steps of each backbone
-- (forward, backward, Adam) on 1 and on 2 threads end with bit-identical parameters. The shapes
-- are chosen so that no reduction length is a multiple of a BLAS blocking size: d = 40 (forward
-- k), 250 rows of 47 positions (the weight gradients' k = 250 * 47 = 11,750 when the batch is
-- full), FFN 160 / 40.
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data

local tests = {}

local function planted()
  local saved = data.cache_dir
  local dir = os.tmpname()
  os.remove(dir)
  data.cache_dir = function() return dir end
  -- long sessions, so that most rows are full and the weight gradients' reductions are long
  local ds = data.load("planted", { n_sessions = 700, n_intents = 5, items_per_intent = 60, min_len = 40,
                                    max_len = 60, follow = 0.8, noise = 0.1 })
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  return ds
end

local params_bytes = h.params_bytes

-- The first differing parameter and its largest difference, for the failure message.
local function first_difference(Pa, Pb)
  local b = {}
  for name, t in Pb:iter() do b[name] = t end
  for name, t in Pa:iter() do
    local x, y, worst = t:data(), b[name]:data(), 0
    for i = 0, t:numel() - 1 do worst = math.max(worst, math.abs(x[i] - y[i])) end
    if worst > 0 then return string.format("%s differs by up to %.3g", name, worst) end
  end
  return "no parameter differs"
end

local STEPS, B, L = 3, 250, 47

local function train(ds, kind, threads)
  sprint.set_num_threads(threads)
  local P = sprint.nn.params(11)
  local m = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = L, dim = 40, heads = 2,
                                       layers = 2, dropout = 0.2 })
  local opt = sprint.optim.adam(P, { lr = 1e-3, weight_decay = 1e-4 })
  local ctx = sprint.ctx(5)
  local b = ds:batches { batch_size = B, max_len = L, n_hard_neg = 0, seed = 3,
                         prefix_augment = not m.whole_sessions }
  local steps, full = 0, 0
  for rows in b:epoch(1) do
    ctx:reset()
    local loss = m:loss(ctx, b, rows)
    opt:zero_grad()
    ctx:backward(loss)
    opt:step()
    steps = steps + 1
    if rows == B then full = full + 1 end
    if steps == STEPS then break end
  end
  return P, steps, full
end

for _, kind in ipairs({ "sasrec", "bert4rec", "gru4rec" }) do
  tests[kind .. "_trains_bit_identically_on_1_and_2_threads"] = function()
    local saved = sprint.num_threads()
    local ok, err = pcall(function()
      local ds = planted()
      local P1, steps, full = train(ds, kind, 1)
      local P2 = train(ds, kind, 2)
      h.eq(steps, STEPS, "steps run")
      h.truthy(full >= 1, "at least one full batch (long reductions)")
      h.truthy(params_bytes(P1) == params_bytes(P2),
        kind .. ": parameters after " .. STEPS .. " steps differ between 1 and 2 threads: " .. first_difference(P1, P2))
    end)
    sprint.set_num_threads(saved)
    if not ok then error(err, 0) end
  end
end

return tests
