-- test_cuda.lua — the CUDA backend end to end: each backbone trains a few steps from the same
-- seed on the CPU and on the GPU (params, Adam, batches uploaded by the ops), and the losses and
-- the final parameters agree within float tolerance; evaluation ranks a GPU model. Skipped,
-- with the reason, where no GPU can be used (or the build has no CUDA).
local sprint = require "sprint"
local h = require "helpers"
local data = sprint.data

local tests = {}

local function need_gpu()
  local ok, err = pcall(sprint.set_device, "cuda")
  sprint.set_device("cpu")
  if not ok then h.skip("no GPU: " .. tostring(err)) end
end

local function planted()
  local saved = data.cache_dir
  local dir = os.tmpname()
  os.remove(dir)
  data.cache_dir = function() return dir end
  local ds = data.load("planted", { n_sessions = 300, n_intents = 5, items_per_intent = 40, min_len = 5,
                                    max_len = 30, follow = 0.8, noise = 0.1 })
  data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  return ds
end

local STEPS, B, L = 5, 64, 20

-- losses of STEPS steps and the parameters after them (host copies)
local function train(ds, kind, device)
  sprint.set_device(device)
  local P = sprint.nn.params(11)
  local m = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = L, dim = 32, heads = 2,
                                       layers = 2, dropout = 0.2 })
  P:to_device(device)
  local opt = sprint.optim.adam(P, { lr = 1e-3, weight_decay = 1e-4, clip_norm = 5 })
  local ctx = sprint.ctx(5)
  local b = ds:batches { batch_size = B, max_len = L, n_hard_neg = 0, seed = 3, prefix_augment = not m.whole_sessions }
  local losses = {}
  for rows in b:epoch(1) do
    ctx:reset()
    local loss = m:loss(ctx, b, rows)
    losses[#losses + 1] = loss:item()
    opt:zero_grad()
    ctx:backward(loss)
    opt:step()
    if #losses == STEPS then break end
  end
  local params = {}
  for name, t in P:iter() do params[name] = t:totable(true) end
  sprint.set_device("cpu")
  return losses, params, m
end

for _, kind in ipairs({ "sasrec", "bert4rec", "gru4rec" }) do
  tests[kind .. "_trains_alike_on_cpu_and_gpu"] = function()
    need_gpu()
    local ds = planted()
    local lc, pc = train(ds, kind, "cpu")
    local lg, pg = train(ds, kind, "cuda")
    h.eq(#lg, #lc, "steps")
    for i = 1, #lc do
      h.truthy(math.abs(lg[i] - lc[i]) <= 1e-4 * math.max(1, math.abs(lc[i])),
        string.format("%s step %d: loss %.7g on the GPU, %.7g on the CPU", kind, i, lg[i], lc[i]))
    end
    for name, x in pairs(pc) do
      local y, num, den = pg[name], 0, 0
      for i = 1, #x do num = num + (x[i] - y[i]) ^ 2; den = den + x[i] ^ 2 end
      h.truthy(num <= 1e-8 * math.max(den, 1e-30), string.format("%s: parameter %s NMSE %.3g", kind, name, num / den))
    end
  end
end

function tests.a_gpu_model_is_evaluated()
  need_gpu()
  local ds = planted()
  local _, _, m = train(ds, "sasrec", "cuda")
  sprint.set_device("cuda")
  local ok, r = pcall(sprint.eval.rank, function(ctx, batch) return m:encode_last(ctx, batch.seq, batch.last) end, ds,
    { split = "valid", max_len = L })
  sprint.set_device("cpu")
  if not ok then error(r, 0) end
  h.truthy(r.n > 0 and r.metrics["NDCG@10"] >= 0, "ranked on the GPU model")
end

function tests.cuda_without_a_gpu_is_a_clear_error()
  local ok, err = pcall(sprint.set_device, "cuda")
  sprint.set_device("cpu")
  if ok then h.skip("a GPU is present") end
  h.truthy(tostring(err):find("sprint.set_device", 1, true) and (tostring(err):find("GPU", 1, true)
    or tostring(err):find("without CUDA", 1, true)), "the reason is given: " .. tostring(err))
end

return tests
