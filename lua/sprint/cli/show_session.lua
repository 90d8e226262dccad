-- cli/show_session.lua — `sprint show-session RUN_DIR SESSION`: the paper's case study
-- (Figure 7) as text, for a finished recipes/sprint.lua run. For one test session: its items,
-- the intents SPRINT's predictor assigns it (relevance, and which pass phi's threshold into the
-- fusion), and the rank of the held-out target under the backbone alone, under SPRINT with
-- its intents, and under the same SPRINT model without them (h instead of h_tilde). No LLM is
-- called: everything comes from the trained models.
--   sprint show-session runs/sprint/beauty-sasrec 12345 [--set seed=2] [--set top=8]
--   sprint show-session runs/sprint/beauty-sasrec 12345 --set variant=hard_neg=false
--   sprint show-session runs/sprint/beauty-sasrec all      # where the intents act, over the test split
local ffi = require "ffi"
local parse = require("sprint.cli.args").words_and_set

local USAGE = "usage: sprint show-session RUN_DIR SESSION_KEY|INDEX|all [--set seed=N] [--set top=N] [--set variant=NAME]"

-- The target's rank in session i under each encoder, as the evaluation ranks it (the whole test
-- split is ranked: a fraction of a second, and exactly the numbers of the run's table).
local function ranks_in(run, i, encoders)
  local eval = require "sprint.eval"
  local out = {}
  for name, encode in pairs(encoders) do
    local res = eval.rank(encode, run.ds, { split = "test", max_len = run.cfg.max_len, ties = run.cfg.ties,
                                           mask_session_items = run.cfg.mask_session_items })
    for k, s in ipairs(res.sessions) do if s == i then out[name] = res.ranks[k] end end
  end
  return out
end

local function item_text(ds, j)
  local it = ds:item(j)
  local title = it.title and it.title ~= "" and it.title or it.key or tostring(j)
  if #title > 70 then title = title:sub(1, 67) .. "..." end
  return string.format("%5d  %s", j, title)
end

return function(args)
  local words, set = parse(args)
  local dir, which = words[1], words[2]
  if not dir or not which then
    io.stderr:write(USAGE, "\n")
    return 2
  end
  local sprint = require "sprint"
  local seed = set.seed and tonumber(set.seed)
  local top = tonumber(set.top or "10")
  local run = sprint.intents.stage2.open_run(dir, seed, set.variant)
  local ds, cfg = run.ds, run.cfg
  if which == "all" then
    local u = sprint.intents.stage2.intent_usage(run)
    print(string.format("%s, %s + SPRINT, seed %d: the %d test sessions", cfg.dataset, cfg.backbone, run.seed, u.sessions))
    print(string.format("  intents above tau = %g (fused): %.2f per session of %d; %.1f %% of sessions have any; "
      .. "mean top relevance %.3f", cfg.tau, u.fired_per_session, u.intents, 100 * u.share_with_intents,
      u.mean_top_relevance))
    for _, row in ipairs({ { "backbone alone", u.backbone }, { "SPRINT without intents (h)", u.without },
                           { "SPRINT with intents (h_tilde)", u.with } }) do
      print(string.format("  %-30s HR@10 %.4f  NDCG@10 %.4f", row[1], row[2]["HR@10"], row[2]["NDCG@10"]))
    end
    print(string.format("  with intents vs without: target ranked higher in %d sessions, lower in %d",
      u.vs_without.better, u.vs_without.worse))
    print(string.format("  with intents vs the backbone alone: higher in %d, lower in %d", u.vs_backbone.better,
      u.vs_backbone.worse))
    return 0
  end
  local i = ds:find(which) or (tonumber(which) and math.floor(tonumber(which)))
  if not i or i < 1 or i > ds:n_sessions() then
    error(string.format("no session '%s' in %s (a session key, or an index 1..%d)", which, cfg.dataset, ds:n_sessions()), 0)
  end
  local s = ds:session(i)
  if s.split ~= "test" then
    error(string.format("session %s (index %d) is in the %s split; the case study shows test sessions", s.key, i, s.split), 0)
  end
  local n = #s.items
  local L = cfg.max_len
  local input, target = {}, s.items[n]
  for k = math.max(1, n - L), n - 1 do input[#input + 1] = s.items[k] end

  local ctx = sprint.ctx(1):eval()
  local seq, last = ctx:tensor({ 1, L }, "i32"), ctx:tensor({ 1 }, "i32")
  local sd = seq:data()
  ffi.fill(sd, L * 4)
  for k = 1, #input do sd[L - #input + k - 1] = input[k] end
  last:data()[0] = L - 1

  local sm = run.sprint
  local _, _, yhat = sm:encode(ctx, seq, last)
  local r = ranks_in(run, i, {
    with = function(c, b) return sm:encode_last(c, b.seq, b.last) end,
    without = function(c, b)
      local _, h = sm:encode(c, b.seq, b.last)
      return sm.backbone:ranking(c, h)
    end,
    alone = function(c, b) return run.backbone:encode_last(c, b.seq, b.last) end,
  })
  local with, without, alone = r.with, r.without, r.alone

  print(string.format("%s, %s + SPRINT, seed %d: test session %s (index %d), %d items", cfg.dataset, cfg.backbone,
    run.seed, s.key, i, n))
  print("items (oldest first):")
  for k = 1, n - 1 do print("  " .. item_text(ds, s.items[k])) end
  print("target (held out):")
  print("  " .. item_text(ds, target))
  local pool = run.loaded.pool
  local order, y = {}, yhat:data()
  for c = 1, pool:size() do order[c] = c end
  table.sort(order, function(a, b) return y[a - 1] > y[b - 1] or (y[a - 1] == y[b - 1] and a < b) end)
  print(string.format("predicted intents (relevance; * above tau = %g, fused into h_tilde):", cfg.tau))
  for r = 1, math.min(top, #order) do
    local c = order[r]
    print(string.format("  %.3f%s  %s", y[c - 1], y[c - 1] > cfg.tau and "*" or " ", pool.entries[c].name))
  end
  local labelled = run.loaded.intents[i]
  if labelled then print("LLM intents in Stage 1 (a training session would have them): " .. table.concat(labelled, ", ")) end
  print(string.format("rank of the target among %d items (%s ties):", ds:n_items(), cfg.ties))
  print(string.format("  backbone alone            %6d", alone))
  print(string.format("  SPRINT without intents    %6d   (h: the same model, nothing fused)", without))
  print(string.format("  SPRINT with intents       %6d   (h_tilde = h + g)", with))
  return 0
end
