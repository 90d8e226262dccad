-- bench_select.lua — hard-session selection speed on Beauty's training split (SASRec, the
-- default shape: d = 64, 2 layers, 2 heads, max_len 50; untrained, which costs the same):
-- select.score end to end (batching, two encodes per batch, the entropies), its parts apart
-- (the two encoder passes alone; the engine's three scores alone on prepared h), the catalogue
-- variant, and select.choose (ranks, RRF, top 10 %). Medians of wall time, with the machine.
-- Run: build/sprint run tools/bench_select.lua [REPEATS] [BATCH]
local ffi = require "ffi"
local sprint = require "sprint"
local select_ = require "sprint.intents.select"
local C = sprint.lib.C

local clock = require "sprint.clock"
local now, median, peak_rss_mib, cpu_model = clock.now, clock.median, clock.peak_mib, clock.cpu_model

local args = (rawget(_G, "SPRINT_CLI") and SPRINT_CLI.args) or arg or {}
local reps = tonumber(args[1] or "7")
local B = tonumber(args[2] or "128")
print(string.format("machine: %s; %d threads; sprint %s; %s", cpu_model(), sprint.num_threads(), sprint.version(),
  sprint.blas_info()))

-- Median wall time in ms; the median process CPU time (every thread's) goes to cpu_ms[label]:
-- on a machine shared with other jobs, CPU time on one thread shows what the work costs when
-- the core is ours, where wall time also counts the waits for it.
local cpu_ms = {}
local function time(fn, label)
  fn() -- warm-up
  local t, c = {}, {}
  for i = 1, reps do
    local t0, c0 = now(), os.clock()
    fn()
    t[i], c[i] = now() - t0, os.clock() - c0
  end
  cpu_ms[label or "?"] = median(c) * 1e3
  return median(t) * 1e3
end

local ds = sprint.data.load("beauty")
local P = sprint.nn.params(1)
local m = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items() })
local ctx = sprint.ctx(1)
local opts = { ctx = ctx, batch_size = B }
local scores
local t_score = time(function() scores = select_.score(m, ds, opts) end, "score")
local t_cat = time(function() select_.score(m, ds, { ctx = ctx, batch_size = B, pred_over = "catalogue" }) end, "catalogue")
local t_choose = time(function() select_.choose(scores, { ratio = 0.1 }) end, "choose")

-- The encoder passes alone: the same bucketed batches, the input and the whole session.
local b = ds:batches { split = "train", batch_size = B, max_len = 50, prefix_augment = false, shuffle = false,
                       bucket = true, pad_left = true, n_uniform_neg = 0, n_hard_neg = 0 }
local prepared, H = {}, 27 -- Beauty's longest training session has 26 items
for rows in b:epoch(0) do
  local full, sess = sprint.tensor.new({ B, 50 }, "i32"), sprint.tensor.new({ B, H }, "i32")
  local fd, sd, td, sx = full:data(), b.seq:data(), b.target:data(), b.session:data()
  for r = 0, rows - 1 do
    ffi.copy(fd + r * 50, sd + r * 50 + 1, 4 * 49)
    fd[r * 50 + 49] = td[r]
    local v = ds:session_view(sx[r] + 1)
    ffi.copy(sess:data() + r * H, v.items, 4 * v.len)
  end
  prepared[#prepared + 1] = { seq = b.seq:clone(), last = b.last:clone(), target = b.target:clone(), full = full,
                              sess = sess }
end
ctx:eval()
ctx:set_grad_enabled(false)
local t_enc = time(function()
  for _, x in ipairs(prepared) do
    ctx:reset()
    m:encode_last(ctx, x.seq, x.last)
    m:encode_last(ctx, x.full, x.last)
  end
end, "encode")

-- The engine's scores alone, on h kept from one encoder pass per batch (heap copies).
for _, x in ipairs(prepared) do
  ctx:reset()
  x.h = m:encode_last(ctx, x.seq, x.last):clone()
end
local out = sprint.tensor.new({ B })
local n = ds:n_items()
local function engine(which)
  return function()
    for _, x in ipairs(prepared) do
      ctx:reset()
      local rc
      if which == "sess" then
        rc = C.sp_session_entropy(ctx._p, out._p, x.h._p, m.items._p, x.sess._p, n)
      elseif which == "pred" then
        rc = C.sp_session_target_nll(ctx._p, out._p, x.h._p, m.items._p, x.sess._p, x.target._p, n)
      else
        rc = C.sp_session_target_nll_full(ctx._p, out._p, x.h._p, m.items._p, x.target._p, n)
      end
      assert(rc == 0, sprint.lib.last_error())
    end
  end
end
local t_hs, t_hp, t_hf = time(engine("sess"), "sess"), time(engine("pred"), "pred"), time(engine("full"), "full")
ctx:free()

print(string.format("beauty: %d training sessions (length >= 2), %d items, batch %d; wall ms (CPU ms, all threads)",
  scores.n, n, B))
print(string.format("  select.score           %8.2f (%.2f)  pred_over = catalogue: %.2f (%.2f)", t_score, cpu_ms.score,
  t_cat, cpu_ms.catalogue))
print(string.format("    two encoder passes   %8.2f (%.2f)  SASRec on the input, then on the whole session", t_enc,
  cpu_ms.encode))
print(string.format("    engine: H_sess %.2f (%.2f), H_pred %.2f (%.2f), H_pred over the catalogue %.2f (%.2f)", t_hs,
  cpu_ms.sess, t_hp, cpu_ms.pred, t_hf, cpu_ms.full))
print(string.format("    the rest             %8.2f (%.2f)  batches, filling sess, sorting back, keys",
  t_score - t_enc - t_hs - t_hp, cpu_ms.score - cpu_ms.encode - cpu_ms.sess - cpu_ms.pred))
print(string.format("  select.choose (RRF, top 10 %%) %.2f (%.2f)", t_choose, cpu_ms.choose))
print(string.format("peak memory %.0f MiB (medians of %d runs)", peak_rss_mib(), reps))
