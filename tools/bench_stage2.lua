-- bench_stage2.lua — what SPRINT's Stage 2 costs beside its backbone (the issue's targets:
-- an epoch and the test split's inference each within 1.5x of the backbone's). Per backbone:
-- a training epoch (median over epochs after the first) of the backbone alone and of SPRINT
-- (intent predictor, fusion, L_intent, L_ortho, one random + one hard negative), the label
-- refresh pass that runs every rho = 5 epochs (its cost per epoch shown amortised), and the
-- full-ranking inference over the test split (median of 7). Stage 1's output is stood in for by
-- a seeded label set of the paper's shape (40 intents, 10 % of training sessions with 1-3 of
-- them, a hard negative each): the cost does not depend on what the intents mean.
--   build/sprint run tools/bench_stage2.lua [DATASET] [BACKBONE] [EPOCHS] [THREADS]
local sprint = require "sprint"
local clock = require "sprint.clock"
local now, median, peak_mib, cpu_model = clock.now, clock.median, clock.peak_mib, clock.cpu_model

local args = (SPRINT_CLI and SPRINT_CLI.args) or {}
local name = (args[1] and args[1] ~= "") and args[1] or "beauty"
local kinds = (args[2] and args[2] ~= "") and { args[2] } or { "sasrec", "bert4rec", "gru4rec" }
local epochs = tonumber(args[3] or "4")
local threads = tonumber(args[4] or "0")
sprint.set_num_threads(threads)
print(string.format("machine: %s; %s; threads %s", cpu_model(), sprint.blas_info(), threads == 0 and "all" or threads))

local ds = sprint.data.load(name)
local N_INTENTS = 40
local rng = sprint.rng.new(7)
local loaded = { labels = {}, hard_negatives = {} }
for i = 1, ds:n_sessions() do
  if ds:session(i).split == "train" and rng:uniform() < 0.10 then
    local ids = {}
    for k = 1, 1 + math.floor(rng:uniform() * 3) do ids[k] = 1 + math.floor(rng:uniform() * N_INTENTS) end
    loaded.labels[i] = ids
    loaded.hard_negatives[i] = { 1 + math.floor(rng:uniform() * ds:n_items()) }
  end
end

local function epoch_times(model, b)
  local opt = sprint.optim.adam(model.params, { lr = 1e-3, weight_decay = 1e-4 })
  local ctx = sprint.ctx(1)
  ctx:train(true)
  local times = {}
  for e = 1, epochs do
    local t0 = now()
    for rows in b:epoch(e) do
      ctx:reset()
      local loss = model:loss(ctx, b, rows)
      opt:zero_grad()
      ctx:backward(loss)
      opt:step()
    end
    if e > 1 then times[#times + 1] = now() - t0 end -- the first epoch grows the arena
  end
  return median(times)
end

local function inference(model)
  local te, ectx = {}, sprint.ctx(1)
  for _ = 1, 7 do
    local t0 = now()
    sprint.eval.rank(function(c, batch) return model:encode_last(c, batch.seq, batch.last) end, ds,
      { split = "test", ctx = ectx })
    te[#te + 1] = now() - t0
  end
  return median(te)
end

for _, kind in ipairs(kinds) do
  local P = sprint.nn.params(1)
  local bb = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items() })
  local whole = bb.whole_sessions
  local b = ds:batches { batch_size = 256, max_len = 50, prefix_augment = not whole, n_uniform_neg = 1, seed = 1 }
  local t_bb, i_bb = epoch_times(bb, b), inference(bb)

  local P2 = sprint.nn.params(1)
  local bb2 = sprint.model.backbone(P2, { kind = kind, n_items = ds:n_items() })
  local im = sprint.intent_model.new(P2, { dim = 64, n_intents = N_INTENTS })
  local store = sprint.intents.labels.from_stage1(loaded, ds:n_sessions(), N_INTENTS)
  local sm = sprint.sprint_model.new(bb2, im, store, {})
  local b2 = ds:batches { batch_size = 256, max_len = 50, prefix_augment = not whole, n_uniform_neg = 1,
                          n_hard_neg = 1, seed = 1 }
  for session, items in pairs(loaded.hard_negatives) do b2:set_hard_negatives(session, items) end
  local t_sp = epoch_times(sm, b2)
  local tr = {}
  for e = 1, 3 do
    local t0 = now()
    sprint.intents.enrich.refresh(sm, ds, e, { k = 5 })
    tr[#tr + 1] = now() - t0
  end
  local t_ref = median(tr)
  local i_sp = inference(sm)
  print(string.format("%-7s %-8s epoch: backbone %.3f s, SPRINT %.3f s (%.2fx; with the refresh every 5 epochs "
    .. "%.3f s, %.2fx; one refresh %.3f s)   test inference: backbone %.1f ms, SPRINT %.1f ms (%.2fx)   %d examples",
    name, kind, t_bb, t_sp, t_sp / t_bb, t_sp + t_ref / 5, (t_sp + t_ref / 5) / t_bb, t_ref, i_bb * 1e3, i_sp * 1e3,
    i_sp / i_bb, b:n_examples()))
end
sprint.set_num_threads(0)
print(string.format("peak memory (VmHWM): %.1f MiB", peak_mib()))
