-- bench_train.lua — training speed of the backbones: one epoch (paper settings: d = 64, 2 layers,
-- 2 heads, max length 50, batch 256, BCE with one sampled negative; BERT4Rec cloze with a full
-- softmax, one example per session), median over epochs, on 1 and 2 threads, with the machine and peak memory;
-- SASRec and GRU4Rec also with one_pass (one causal pass per session scores every position).
--   build/sprint run tools/bench_train.lua [DATASET] [BACKBONE] [EPOCHS] [fixed]
-- The loop is train.fit's, thread tuner included ("fixed": without it, the thread count as set).
local sprint = require "sprint"

local clock = require "sprint.clock"
local now, median, peak_mib, cpu_model = clock.now, clock.median, clock.peak_mib, clock.cpu_model

local args = (SPRINT_CLI and SPRINT_CLI.args) or {}
local datasets = (args[1] and args[1] ~= "") and { args[1] } or { "beauty", "yelp" }
local kinds = (args[2] and args[2] ~= "") and { args[2] } or { "sasrec", "bert4rec", "gru4rec" }
local epochs = tonumber(args[3] or "4")
-- the training loop's thread tuner (sprint.thread_tuner, on in train.fit); "fixed": off
local tuned = args[4] ~= "fixed"
local tuner = require "sprint.thread_tuner"
print(string.format("machine: %s; %s; thread tuner %s", cpu_model(), sprint.blas_info(), tuned and "on" or "off"))

for _, name in ipairs(datasets) do
  local ok, ds = pcall(sprint.data.load, name)
  if not ok then
    print(name .. ": " .. tostring(ds))
  else
    local variants = {}
    for _, kind in ipairs(kinds) do
      variants[#variants + 1] = { kind = kind, one_pass = false }
      if kind ~= "bert4rec" then variants[#variants + 1] = { kind = kind, one_pass = true } end
    end
    for _, v in ipairs(variants) do
      local kind = v.kind
      for _, threads in ipairs({ 1, 2 }) do
        sprint.set_num_threads(threads)
        local P = sprint.nn.params(1)
        local m = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), one_pass = v.one_pass })
        local opt = sprint.optim.adam(P, { lr = 1e-3, weight_decay = 1e-4 })
        local ctx = sprint.ctx(1)
        local b = ds:batches { batch_size = 256, max_len = 50, n_hard_neg = 0,
                               prefix_augment = not m.whole_sessions and not m.one_pass }
        local times = {}
        local tune = tuner.new { enabled = tuned }
        for e = 1, epochs do
          local t0 = now()
          for rows in b:epoch(e) do
            tune:before() -- as train.fit does
            ctx:reset()
            local loss = m:loss(ctx, b, rows)
            opt:zero_grad()
            ctx:backward(loss)
            opt:step()
            tune:after(tuner.tokens(b.seq, rows))
          end
          if e > 1 then times[#times + 1] = now() - t0 end -- the first epoch grows the arena
        end
        tune:finish()
        local te = {}
        local ectx = sprint.ctx(1) -- as in train.fit: evaluation keeps its own, grown arena
        for _ = 1, 7 do
          local t0 = now()
          sprint.eval.rank(function(c, batch) return m:encode_last(c, batch.seq, batch.last) end, ds,
            { split = "test", ctx = ectx })
          te[#te + 1] = now() - t0
        end
        print(string.format("%-7s %-17s %d thread%s: epoch %.3f s (%d examples)   test full-ranking eval %.1f ms",
          name, kind .. (v.one_pass and " one-pass" or ""), threads, threads > 1 and "s" or " ", median(times),
          b:n_examples(), median(te) * 1e3))
      end
    end
  end
end
sprint.set_num_threads(0)
print(string.format("peak memory (VmHWM): %.1f MiB", peak_mib()))
