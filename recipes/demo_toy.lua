-- demo_toy.lua — the main job for now: train a small causal Transformer on a toy next-token
-- task (x_t = (x_{t-1} + x_{t-2}) mod vocab, see lua/sprint/toy.lua) and print the loss curve
-- and the held-out accuracy. Every default below can be changed from the command line:
--   build/sprint run recipes/demo_toy.lua --set steps=800 --set dim=64 --set lr=1e-3
local sprint = require "sprint"
local toy = require "sprint.toy"

local cfg = sprint.config {
  vocab = 16, len = 8,                     -- the task
  dim = 32, layers = 2, heads = 2, dropout = 0.0,
  steps = 800, batch = 32, lr = 3e-3, weight_decay = 0.0, clip_norm = 1.0,
  log_every = 25, eval_batch = 512, seed = 1, threads = 1,
}
sprint.set_num_threads(cfg.threads)
print(string.format("sprint %s, blas: %s", sprint.version(), sprint.blas_info()))
print("-- config")
print(sprint.config.dump(cfg))

local P = sprint.nn.params(cfg.seed)
local model = toy.model(P, cfg)
local opt = sprint.optim.adam(P, { lr = cfg.lr, weight_decay = cfg.weight_decay, clip_norm = cfg.clip_norm })
local ctx = sprint.ctx(cfg.seed)
local data = sprint.rng(cfg.seed + 1)
print(string.format("-- model: %d parameters; chance loss log(%d) = %.4f", P:numel(), cfg.vocab, math.log(cfg.vocab)))

print("step\tloss\tgrad_norm\tseconds")
local t0 = os.clock()
for step = 1, cfg.steps do
  ctx:reset()
  local tokens, targets = toy.batch(ctx, data, cfg.batch, cfg.len, cfg.vocab)
  local loss = model:loss(ctx, tokens, targets)
  opt:zero_grad()
  ctx:backward(loss)
  opt:step()
  if step == 1 or step % cfg.log_every == 0 or step == cfg.steps then
    print(string.format("%d\t%.4f\t%.3f\t%.2f", step, loss:item(), opt:last_grad_norm(), os.clock() - t0))
  end
end

-- held-out sequences from a separate stream, in eval mode without a tape
ctx:reset()
ctx:eval()
local tokens, targets = toy.batch(ctx, sprint.rng(cfg.seed + 1000), cfg.eval_batch, cfg.len, cfg.vocab)
local loss, logits = ctx:no_grad(model.loss, model, ctx, tokens, targets)
print(string.format("final: eval_loss %.4f  accuracy %.4f  (chance loss %.4f, chance accuracy %.4f)",
  loss:item(), toy.accuracy(logits, targets), math.log(cfg.vocab), 1 / cfg.vocab))
