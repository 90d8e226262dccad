-- first_recipe.lua — the README's "write your first recipe": fit a linear layer to two points
-- with Adam, printing the loss; every default can be changed with --set key=value.
local sprint = require "sprint"
local cfg = sprint.config { steps = 200, lr = 0.05, seed = 1, out = "" }

local params = sprint.nn.params(cfg.seed)           -- owns every parameter tensor
local layer = sprint.nn.Linear(params, "fit", 3, 1) -- weight (1, 3) and bias (1)
local opt = sprint.optim.adam(params, { lr = cfg.lr })
local ctx = sprint.ctx(cfg.seed)                    -- arena + tape + rng

local x = sprint.tensor.from({ 1, 2, 3, 4, 5, 6 }, { 2, 3 })
local y = sprint.tensor.from({ 1, -1 }, { 2, 1 })
local loss
for step = 1, cfg.steps do
  ctx:reset()                                       -- recycle last step's activations
  local diff = ctx:sub(layer:forward(ctx, x), y)
  loss = ctx:mean(ctx:mul(diff, diff))
  opt:zero_grad()
  ctx:backward(loss)
  opt:step()
  if step % 50 == 0 then print(step, loss:item()) end
end
if cfg.out ~= "" then params:save(cfg.out) end
return loss:item()
