-- test_config.lua — sprint.config: defaults < config file < --set, coercion to the default's
-- type, unknown keys, and the origin of every value.
local sprint = require "sprint"
local h = require "helpers"
local config = sprint.config

local tests = {}

local DEFAULTS = { steps = 100, lr = 1e-3, name = "toy", causal = true, ks = { 5, 10, 20 } }

function tests.defaults_pass_through()
  local cfg = config(DEFAULTS, { set = {} })
  h.eq(cfg.steps, 100)
  h.eq(cfg.name, "toy")
  h.eq(cfg.causal, true)
  h.near(cfg.ks, { 5, 10, 20 })
  h.eq(config.origin(cfg, "steps"), "default")
  h.truthy(cfg.ks ~= DEFAULTS.ks, "list defaults are copied")
end

function tests.overrides_are_coerced_to_the_default_type()
  local cfg = config(DEFAULTS, { set = { steps = "250", lr = "3e-4", name = "big", causal = "false", ks = "1,3" } })
  h.eq(cfg.steps, 250)
  h.eq(type(cfg.steps), "number")
  h.near(cfg.lr, 3e-4, 1e-12)
  h.eq(cfg.name, "big")
  h.eq(cfg.causal, false)
  h.near(cfg.ks, { 1, 3 })
  h.eq(config.origin(cfg, "lr"), "--set")
  h.eq(config.origin(cfg, "name"), "--set")
end

function tests.bad_values_are_errors()
  h.raises({ "steps=many", "expected a number" }, config, DEFAULTS, { set = { steps = "many" } })
  h.raises({ "causal=yes", "expected true or false" }, config, DEFAULTS, { set = { causal = "yes" } })
  h.raises({ "ks", "expected a number" }, config, DEFAULTS, { set = { ks = "1,x" } })
end

function tests.unknown_keys_list_the_known_ones()
  h.raises({ "unknown key 'stpes'", "--set", "known keys: causal, ks, lr, name, steps" },
    config, DEFAULTS, { set = { stpes = "1" } })
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("return { lr = 1, rate = 2 }\n")
  f:close()
  h.raises({ "unknown key 'rate'", "config file" }, config, DEFAULTS, { file = path, set = {} })
  os.remove(path)
end

function tests.error_is_reported_at_the_recipe_line()
  local ok, err = pcall(function() local c = config({ a = 1 }, { set = { b = "2" } }); return c end)
  h.eq(ok, false)
  h.truthy(tostring(err):find("test_config.lua:%d+: sprint.config: unknown key 'b'"), tostring(err))
  ok, err = pcall(function() local c = config.new({ a = 1 }, { set = { a = "x" } }); return c end)
  h.truthy(tostring(err):find("test_config.lua:%d+: sprint.config: a=x"), tostring(err))
end

function tests.config_file_sits_between_defaults_and_set()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("return { steps = 7, name = 'from-file' }\n")
  f:close()
  local cfg = config(DEFAULTS, { file = path, set = { steps = "9" } })
  h.eq(cfg.steps, 9)
  h.eq(cfg.name, "from-file")
  h.eq(config.origin(cfg, "steps"), "--set")
  h.eq(config.origin(cfg, "name"), "config file " .. path)
  f = assert(io.open(path, "w"))
  f:write("return { steps = 'seven' }\n")
  f:close()
  h.raises("expected a number", config, DEFAULTS, { file = path, set = {} })
  os.remove(path)
end

function tests.dump_round_trips()
  local cfg = config(DEFAULTS, { set = { name = 'say "hi"' } })
  local text = config.dump(cfg)
  h.truthy(text:find("name = \"say \\\"hi\\\"\",  %-%- %-%-set"), text)
  local back = assert(loadstring(text))()
  h.eq(back.name, 'say "hi"')
  h.near(back.ks, { 5, 10, 20 })
  h.eq(back.causal, true)
  h.eq(tostring(cfg), text)
end

function tests.reads_the_cli_overrides_by_default()
  local saved = SPRINT_CLI
  SPRINT_CLI = { set = { steps = "3" } }
  local ok, cfg = pcall(config, DEFAULTS)
  SPRINT_CLI = saved
  h.truthy(ok, tostring(cfg))
  h.eq(cfg.steps, 3)
end

return tests
