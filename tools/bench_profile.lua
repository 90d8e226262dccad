-- bench_profile.lua — where a training step's time goes: each op's forward and backward time
-- per step, its share of the step, and what it achieves (GFLOP/s for the GEMM-like ops, GB/s
-- of inputs + output for the rest), over one epoch of Beauty-shaped batches after a warm-up
-- epoch (paper settings: d = 64, 2 layers, 2 heads, max length 50, batch 256). Forward time
-- is charged by the tape (see sp_ctx_profile): an op's row holds its kernel and the Lua before
-- it; "untaped" is the rest of the step (batches, Adam is its own row).
--   build/sprint run tools/bench_profile.lua [DATASET] [BACKBONE] [THREADS]
local sprint = require "sprint"
local clock = require "sprint.clock"
local now, cpu_model = clock.now, clock.cpu_model

local args = (SPRINT_CLI and SPRINT_CLI.args) or {}
local dataset = (args[1] and args[1] ~= "") and args[1] or "beauty"
local kinds = (args[2] and args[2] ~= "") and { args[2] } or { "sasrec", "bert4rec", "gru4rec" }
local threads = tonumber(args[3] or "") or sprint.num_threads()
sprint.set_num_threads(threads)
print(string.format("machine: %s; %d thread%s; %s", cpu_model(), threads, threads > 1 and "s" or "",
  sprint.blas_info()))

local ds = sprint.data.load(dataset)
for _, kind in ipairs(kinds) do
  local P = sprint.nn.params(1)
  local m = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items() })
  local opt = sprint.optim.adam(P, { lr = 1e-3, weight_decay = 1e-4 })
  local ctx = sprint.ctx(1)
  local b = ds:batches { batch_size = 256, max_len = 50, n_hard_neg = 0, prefix_augment = not m.whole_sessions }
  local adam, steps, total = 0, 0, 0
  for e = 1, 2 do -- the first epoch grows the arena
    if e == 2 then ctx:profile(true) end
    local t_epoch = now()
    for rows in b:epoch(e) do
      ctx:reset()
      local loss = m:loss(ctx, b, rows)
      opt:zero_grad()
      ctx:backward(loss)
      local t0 = now()
      opt:step()
      if e == 2 then adam, steps = adam + now() - t0, steps + 1 end
    end
    total = now() - t_epoch
  end
  ctx:profile(false)
  local rows = ctx:profile_rows()
  local step = total / steps
  print(string.format("\n%s %s: %d steps, %.2f ms/step, epoch %.3f s (%d examples)", dataset, kind, steps,
    step * 1e3, total, b:n_examples()))
  print(string.format("  %-22s %6s %9s %9s %7s %10s %10s", "op", "calls", "fwd ms", "bwd ms", "share",
    "fwd rate", "bwd rate"))
  table.sort(rows, function(x, y) return x.forward_s + x.backward_s > y.forward_s + y.backward_s end)
  local taped = 0
  local function rate(work, s, unit)
    if s <= 0 or work <= 0 then return "" end
    return string.format("%.1f %s", work / s / 1e9, unit)
  end
  for _, r in ipairs(rows) do
    local f, bw = r.forward_s / steps, r.backward_s / steps
    taped = taped + f + bw
    local fr, br
    if r.flops > 0 then
      fr, br = rate(r.flops, r.forward_s, "GF/s"), rate(2 * r.flops, r.backward_s, "GF/s")
    else -- backward reads the output's gradient and the inputs, writes the inputs' gradients
      fr, br = rate(r.bytes, r.forward_s, "GB/s"), rate(2 * r.bytes, r.backward_s, "GB/s")
    end
    print(string.format("  %-22s %6.1f %9.3f %9.3f %6.1f%% %10s %10s", r.op, r.calls / steps, f * 1e3, bw * 1e3,
      100 * (f + bw) / step, fr, br))
  end
  print(string.format("  %-22s %6s %9.3f %9s %6.1f%%", "adam step", "", adam / steps * 1e3, "", 100 * adam / total))
  local rest = step - taped - adam / steps
  print(string.format("  %-22s %6s %9.3f %9s %6.1f%%", "untaped (batches, Lua)", "", rest * 1e3, "", 100 * rest / step))
end
