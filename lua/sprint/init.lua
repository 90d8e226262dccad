-- init.lua — `require "sprint"`: the Lua face of libsprint. Tensors, contexts (ops and
-- autograd), nn layers and the parameter store, the optimiser, run configuration, and the
-- method's stages on top of them.
local lib = require "sprint.lib"
local ffi = require "ffi"
local C = lib.C

local ctx = require "sprint.ctx"
local rng = require "sprint.rng"

local sprint = {
  lib = lib,
  tensor = require "sprint.tensor",
  nn = require "sprint.nn",
  optim = require "sprint.optim",
  config = require "sprint.config",
  protocol = require "sprint.protocol",
  data = require "sprint.data",
  llm = require "sprint.llm",
  model = require "sprint.model",
  train = require "sprint.train",
  eval = require "sprint.eval",
  stats = require "sprint.stats",
  report = require "sprint.report",
  figures = require "sprint.figures",   -- standalone SVG figures (bars, lines, stacks, heat maps)
  experiments = require "sprint.experiments", -- the paper's figures from tables; run pages
  grid = require "sprint.grid",         -- cells of an experiment as parallel processes
  paper = require "sprint.paper",       -- the paper's published rows (Tables 2 and 4)
  intents = require "sprint.intents",   -- Stage 1: selection, pool, predict-and-correct
  intent_model = require "sprint.intent_model", -- Stage 2: the intent predictor's pieces
  sprint_model = require "sprint.sprint_model", -- Stage 2: backbone + predictor, Eq. 17
}

-- sprint.ctx([seed]) (alias sprint.context): a new autograd context.
sprint.ctx = setmetatable({ new = ctx.new, Ctx = ctx.Ctx }, { __call = function(_, seed) return ctx.new(seed) end })
sprint.context = sprint.ctx
-- sprint.rng([seed]): a standalone Philox generator.
sprint.rng = setmetatable({ new = rng.new, Rng = rng.Rng }, { __call = function(_, seed) return rng.new(seed) end })

function sprint.version() return ffi.string(C.sp_version()) end
function sprint.blas_info() return ffi.string(C.sp_blas_info()) end
-- sprint.set_num_threads(n): n threads for the engine's loops and BLAS; 0 (or nil): every core.
function sprint.set_num_threads(n)
  if n ~= nil and (type(n) ~= "number" or n % 1 ~= 0 or n < 0 or n > 65536) then
    error("sprint.set_num_threads: n must be an integer >= 0 (0: every core), got " .. tostring(n), 2)
  end
  return C.sp_set_num_threads(n or 0)
end
function sprint.num_threads() return C.sp_get_num_threads() end

-- sprint.set_device("cpu"|"cuda"): where new contexts compute, and where sprint.train.fit moves
-- a model's parameters (and so its optimiser). Batches stay on the host: ops upload them.
-- "cuda" fails here, with the CUDA runtime's reason, when no GPU can be used.
function sprint.set_device(name)
  local d = name == "cpu" and 0 or name == "cuda" and 1 or nil
  if not d then error("sprint.set_device: 'cpu' or 'cuda', got " .. tostring(name), 2) end
  if d == 1 and C.sp_cuda_init() ~= 0 then
    error("sprint.set_device: " .. ffi.string(C.sp_last_error()), 2)
  end
  ctx.default_device = d
end
function sprint.device() return ctx.default_device == 1 and "cuda" or "cpu" end
-- "NVIDIA H200 (sm_90, 139.8 GiB, 132 SMs)", or "none: <why>"
function sprint.cuda_info() return ffi.string(C.sp_cuda_info()) end

return sprint
