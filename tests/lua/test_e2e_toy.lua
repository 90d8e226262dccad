-- test_e2e_toy.lua — end to end from Lua: a 2-block causal Transformer (sprint.toy) trained
-- with Adam on x_t = (x_{t-1} + x_{t-2}) mod 16 must get well below chance (log V) and below
-- the best unigram predictor on fresh sequences. About 2 s on one core.
local sprint = require "sprint"
local toy = require "sprint.toy"
local h = require "helpers"

local tests = {}

function tests.toy_transformer_learns_the_rule()
  local cfg = { vocab = 16, len = 8, dim = 32, layers = 2, heads = 2, batch = 32, steps = 400, lr = 3e-3, seed = 1 }
  local threads = sprint.num_threads()
  sprint.set_num_threads(1)
  local ok, err = pcall(function()
    local P = sprint.nn.params(cfg.seed)
    local model = toy.model(P, cfg)
    local opt = sprint.optim.adam(P, { lr = cfg.lr })
    local ctx = sprint.ctx(cfg.seed)
    local data = sprint.rng(cfg.seed + 1)
    local first
    for step = 1, cfg.steps do
      ctx:reset()
      local tokens, targets = toy.batch(ctx, data, cfg.batch, cfg.len, cfg.vocab)
      local loss = model:loss(ctx, tokens, targets)
      if step == 1 then first = loss:item() end
      opt:zero_grad()
      ctx:backward(loss)
      opt:step()
    end
    h.truthy(first > 0.8 * math.log(cfg.vocab), "starts at or above chance: " .. first)

    -- held-out sequences from another stream, eval mode, no tape
    ctx:reset()
    ctx:eval()
    local tokens, targets = toy.batch(ctx, sprint.rng(12345), 256, cfg.len, cfg.vocab)
    local loss, logits = ctx:no_grad(model.loss, model, ctx, tokens, targets)
    local final, acc = loss:item(), toy.accuracy(logits, targets)

    -- the best unigram predictor, fitted on these very targets (optimistic for it)
    local counts, n = {}, 0
    for _, t in ipairs(targets:totable()) do
      if t ~= toy.IGNORE then counts[t] = (counts[t] or 0) + 1; n = n + 1 end
    end
    local unigram = 0
    for _, c in pairs(counts) do unigram = unigram - c / n * math.log(c / n) end

    h.eq(ctx:stats().tape_len, 0, "no-grad evaluation records nothing")
    h.truthy(final < 0.5 * math.log(cfg.vocab),
      string.format("final loss %.3f not below half of chance %.3f", final, 0.5 * math.log(cfg.vocab)))
    h.truthy(final < unigram, string.format("final loss %.3f not below the unigram loss %.3f", final, unigram))
    h.truthy(acc > 0.5, string.format("accuracy %.3f", acc))
    if os.getenv("SPRINT_TEST_VERBOSE") then print(string.format("  e2e toy: loss %.3f -> %.3f (chance %.3f, unigram %.3f), accuracy %.3f",
      first, final, math.log(cfg.vocab), unigram, acc)) end
  end)
  sprint.set_num_threads(threads)
  if not ok then error(err, 0) end
end

return tests
