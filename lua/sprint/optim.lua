-- optim.lua — Adam over a parameter store: sprint.optim.adam(params, {lr=, beta1=, beta2=,
-- eps=, weight_decay=, decoupled=, clip_norm=}) with :step(), :set_lr(), :save()/:load().
local ffi = require "ffi"
local lib = require "sprint.lib"
local nn = require "sprint.nn"
local C = lib.C

local M = {}
local fail = lib.fail

local Adam = {}
Adam.__index = Adam
M.Adam = Adam

local KNOWN = { lr = "number", beta1 = "number", beta2 = "number", eps = "number",
                weight_decay = "number", decoupled = "boolean", clip_norm = "number" }

-- sprint.optim.adam(params [, cfg]): unspecified fields keep sp_adam_config_default's values
-- (lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay, no clipping).
function M.adam(params, cfg)
  if getmetatable(params) ~= nn.Params then error("optim.adam: argument 'params' must be a sprint.nn.params store", 2) end
  if params._p == nil then error("optim.adam: the parameter store was freed", 2) end
  cfg = cfg or {}
  if type(cfg) ~= "table" then error("optim.adam: cfg must be a table", 2) end
  local c = ffi.new("sp_adam_config")
  C.sp_adam_config_default(c)
  for k, v in pairs(cfg) do
    local want = KNOWN[k]
    if not want then
      local names = {}
      for n in pairs(KNOWN) do names[#names + 1] = n end
      table.sort(names)
      error("optim.adam: unknown setting '" .. tostring(k) .. "' (known: " .. table.concat(names, ", ") .. ")", 2)
    end
    if k == "decoupled" and type(v) == "number" then v = v ~= 0 end
    if type(v) ~= want then error("optim.adam: '" .. k .. "' must be a " .. want .. ", got " .. type(v), 2) end
    if k == "decoupled" then c.decoupled = v and 1 or 0 else c[k] = v end
  end
  local out = ffi.new("sp_adam*[1]")
  if C.sp_adam_new(out, params._p, c) ~= 0 then fail("optim.adam", 2) end
  return setmetatable({ _p = ffi.gc(out[0], C.sp_adam_free), _cfg = c, params = params }, Adam)
end

local function ap(self, what)
  if getmetatable(self) ~= Adam then error(what .. ": called on a non-optimiser (use ':')", 3) end
  local p = self._p
  if p == nil then error(what .. ": the optimiser was freed", 3) end
  if self.params._p == nil then error(what .. ": its parameter store was freed", 3) end
  return p
end

-- Applies the accumulated gradients (does not zero them: call params:zero_grad()).
function Adam:step()
  if C.sp_adam_step(ap(self, "adam:step")) ~= 0 then fail("adam:step", 2) end
  return self
end

function Adam:zero_grad()
  ap(self, "adam:zero_grad")
  self.params:zero_grad()
  return self
end

function Adam:set_lr(lr)
  local p = ap(self, "adam:set_lr")
  if type(lr) ~= "number" then error("adam:set_lr: lr must be a number", 2) end
  if C.sp_adam_set_lr(p, lr) ~= 0 then fail("adam:set_lr", 2) end
  self._cfg.lr = lr
  return self
end

function Adam:lr() ap(self, "adam:lr"); return self._cfg.lr end
function Adam:steps() return tonumber(C.sp_adam_steps(ap(self, "adam:steps"))) end
-- The global gradient norm before clipping at the last step (when clip_norm > 0).
function Adam:last_grad_norm() return C.sp_adam_last_grad_norm(ap(self, "adam:last_grad_norm")) end

-- The settings in force, as a Lua table.
function Adam:config()
  ap(self, "adam:config")
  local c = self._cfg
  return { lr = c.lr, beta1 = c.beta1, beta2 = c.beta2, eps = c.eps, weight_decay = c.weight_decay,
           decoupled = c.decoupled ~= 0, clip_norm = c.clip_norm }
end

function Adam:save(path)
  local p = ap(self, "adam:save")
  if type(path) ~= "string" then error("adam:save: path must be a string", 2) end
  if C.sp_adam_save(p, path) ~= 0 then fail("adam:save", 2) end
  return self
end

function Adam:load(path)
  local p = ap(self, "adam:load")
  if type(path) ~= "string" then error("adam:load: path must be a string", 2) end
  if C.sp_adam_load(p, path) ~= 0 then fail("adam:load", 2) end
  return self
end

function Adam:free()
  local p = self._p
  if p == nil then return end
  self._p = nil
  ffi.gc(p, nil)
  C.sp_adam_free(p)
end

return M
