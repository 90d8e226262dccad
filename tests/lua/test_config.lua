-- test_config.lua — sprint.config: defaults < config file < --set, coercion to the default's
-- type, unknown keys, the origin of every value, and the checks of every value against its
-- key's spec (the recipe's own, or the shared one of lua/sprint/settings.lua).
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

-- ---- specs: what a setting may hold ------------------------------------------------------

-- backbone.lua's keys, which every training recipe shares.
local RECIPE = { dataset = "planted", backbone = "sasrec", seeds = 5, seed = 1, dim = 64, layers = 2, heads = 2,
  dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4, loss = "", mask_prob = 0.2, batch_size = 256, n_neg = 1,
  epochs = 200, patience = 10, metric = "NDCG@10", eval_every = 1, ties = "pessimistic", threads = 0,
  tie_order = "input" }

function tests.shared_settings_are_checked_without_the_recipe_saying_so()
  h.raises({ "batch_size=2.5 (from --set)", "expected an integer >= 1" }, config, RECIPE, { set = { batch_size = "2.5" } })
  h.raises({ "threads=-3 (from --set)", "expected an integer >= 0" }, config, RECIPE, { set = { threads = "-3" } })
  h.raises({ "eval_every=0 (from --set)", "expected an integer >= 1" }, config, RECIPE, { set = { eval_every = "0" } })
  h.raises({ "seeds=0 (from --set)", "expected an integer >= 1" }, config, RECIPE, { set = { seeds = "0" } })
  h.raises({ "epochs=0 (from --set)", "expected an integer >= 1" }, config, RECIPE, { set = { epochs = "0" } })
  h.raises({ "max_len=49.5 (from --set)", "expected an integer >= 1" }, config, RECIPE, { set = { max_len = "49.5" } })
  h.raises({ "lr=inf (from --set)", "expected a finite number > 0" }, config, RECIPE, { set = { lr = "1e999" } })
  h.raises({ "lr=0 (from --set)", "> 0" }, config, RECIPE, { set = { lr = "0" } })
  h.raises({ "dropout=1 (from --set)", "in [0, 1)" }, config, RECIPE, { set = { dropout = "1" } })
  h.raises({ "mask_prob=0 (from --set)", "in (0, 1]" }, config, RECIPE, { set = { mask_prob = "0" } })
  -- enumerations fail here, before any data is loaded or epoch trained
  h.raises({ "ties=nope (from --set)", '"pessimistic", "optimistic", "average"' }, config, RECIPE,
    { set = { ties = "nope" } })
  h.raises({ "backbone=sas (from --set)", '"sasrec", "bert4rec", "gru4rec"' }, config, RECIPE,
    { set = { backbone = "sas" } })
  h.raises({ "tie_order=random", '"input", "shuffle", "reverse"' }, config, RECIPE, { set = { tie_order = "random" } })
  h.raises({ "loss=bpr", '"", "bce", "ce"' }, config, RECIPE, { set = { loss = "bpr" } })
  h.raises({ "dataset=beuty (from --set)", "beauty", "planted" }, config, RECIPE, { set = { dataset = "beuty" } })
  h.raises({ "metric=NDCG@15 (from --set)", "NDCG@10", "MRR" }, config, RECIPE, { set = { metric = "NDCG@15" } })
  h.raises({ "metric=N@10" }, config, RECIPE, { set = { metric = "N@10" } }) -- eval reports NDCG@10, not N@10
  -- good values pass, coerced
  local cfg = config(RECIPE, { set = { batch_size = "64", threads = "2", ties = "average", metric = "MRR",
                                       backbone = "gru4rec", dropout = "0", lr = "3e-4" } })
  h.eq(cfg.batch_size, 64)
  h.eq(cfg.ties, "average")
end

function tests.every_layer_is_checked_and_named()
  h.raises({ "epochs=0 (from default)", "expected an integer >= 1" }, config, { epochs = 0 }, { set = {} })
  h.raises({ "seeds=2.5 (from config table)" }, config, RECIPE, { file = { seeds = 2.5 }, set = { seeds = "3" } })
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("return { ties = 'nope' }\n")
  f:close()
  h.raises({ "ties=nope (from config file " .. path .. ")", "expected one of" }, config, RECIPE, { file = path, set = {} })
  os.remove(path)
  -- list settings: every element
  h.raises({ "ks={5, 0} (from --set) (element 2, 0)", "expected an integer >= 1" }, config,
    { ks = { 5, 10 } }, { set = { ks = "5,0" } })
end

function tests.a_recipe_declares_its_own_specs()
  local D = { mode = "fast", n = 3, frac = 0.5, batch_size = 8, even = 2 }
  local spec = { mode = { "fast", "exact" }, n = "int in [1, 5]", frac = "number in (0, 1)",
                 batch_size = "int>=8", even = function(v) return v % 2 == 0, "an even number" end }
  local cfg = config(D, { set = { mode = "exact", n = "5" }, spec = spec })
  h.eq(cfg.mode, "exact")
  h.eq(cfg.n, 5)
  h.raises({ "mode=slow (from --set)", 'one of "fast", "exact"' }, config, D, { set = { mode = "slow" }, spec = spec })
  h.raises({ "n=6 (from --set)", "an integer in [1, 5]" }, config, D, { set = { n = "6" }, spec = spec })
  h.raises({ "frac=1 (from --set)", "a finite number in (0, 1)" }, config, D, { set = { frac = "1" }, spec = spec })
  h.raises({ "batch_size=4", "an integer >= 8" }, config, D, { set = { batch_size = "4" }, spec = spec })
  h.raises({ "even=3 (from --set)", "expected an even number" }, config, D, { set = { even = "3" }, spec = spec })
  -- false turns a shared spec off; a shared spec never applies to a default of another type
  local off = config({ threads = 0 }, { set = { threads = "-1" }, spec = { threads = false } })
  h.eq(off.threads, -1)
  local other = config({ threads = "auto", ties = 3 }, { set = { threads = "many", ties = "-2" } })
  h.eq(other.threads, "many")
  h.eq(other.ties, -2)
  -- a function spec sees the merged settings
  local paired = { lo = 1, hi = 2 }
  local cross = { hi = function(v, c) return v > c.lo, "more than lo" end }
  h.raises({ "hi=2 (from default)", "more than lo" }, config, paired, { set = { lo = "3" }, spec = cross })
  h.raises({ "metric=NDCG@50" }, config, { metric = "NDCG@10", ks = { 10 } }, { set = { metric = "NDCG@50" } })
  h.eq(config({ metric = "NDCG@10", ks = { 10 } }, { set = { metric = "NDCG@50", ks = "10,50" } }).metric, "NDCG@50")
end

function tests.bad_specs_are_errors()
  h.raises({ "unknown key 'nn' (from opts.spec)" }, config, { n = 1 }, { set = {}, spec = { nn = "int" } })
  h.raises({ "spec for n", "starts with int or number" }, config, { n = 1 }, { set = {}, spec = { n = "integer" } })
  h.raises({ "spec for n", "expected >=x" }, config, { n = 1 }, { set = {}, spec = { n = "int~1" } })
  h.raises({ "spec for n", "about string values, but its default 1 is a number" }, config, { n = 1 },
    { set = {}, spec = { n = { "a", "b" } } })
  h.raises({ "spec for s", "about number values" }, config, { s = "x" }, { set = {}, spec = { s = "int>=1" } })
end

-- The shared choices are the library's: a value config accepts is one the library accepts.
function tests.shared_choices_match_the_library()
  local settings = require "sprint.settings"
  local eval = require "sprint.eval"
  local ties = {}
  for name in pairs(eval.TIES) do ties[#ties + 1] = name end
  table.sort(ties)
  local ours = {}
  for i, name in ipairs(settings.spec.ties) do ours[i] = name end
  table.sort(ours)
  h.eq(table.concat(ours, ","), table.concat(ties, ","))
  for _, kind in ipairs(settings.spec.backbone) do
    local P = sprint.nn.params(1)
    local m = sprint.model.backbone(P, { kind = kind, n_items = 5, max_len = 4, dim = 8, layers = 1, heads = 1 })
    h.eq(m.kind, kind)
  end
  for _, loss in ipairs(settings.spec.loss) do
    if loss ~= "" then sprint.model.backbone(sprint.nn.params(1), { n_items = 5, max_len = 4, dim = 8, loss = loss }) end
  end
  for name in pairs(sprint.data.registry()) do h.eq(config({ dataset = "beauty" }, { set = { dataset = name } }).dataset, name) end
  for _, m in ipairs({ "HR@5", "NDCG@10", "MRR@20", "MRR" }) do
    h.truthy(eval.metrics({ 1, 3 })[m], "eval reports " .. m)
    h.eq(config({ metric = "NDCG@10" }, { set = { metric = m } }).metric, m)
  end
end

-- A recipe that bypasses sprint.config still gets a clear error from the library.
function tests.set_num_threads_checks_its_argument()
  local before = sprint.num_threads()
  h.raises("sprint.set_num_threads: n must be an integer >= 0 (0: every core), got -3", sprint.set_num_threads, -3)
  h.raises("got 1.5", sprint.set_num_threads, 1.5)
  h.eq(sprint.num_threads(), before, "a refused call changes nothing")
end

return tests
