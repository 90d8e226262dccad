-- test_protocol.lua — sprint.protocol: the presets set their settings (with the preset as the
-- origin), explicit settings win and are named, unknown names and missing keys are errors, and
-- recipes/backbone.lua runs under protocol=paper and prints the protocol in its report.
local sprint = require "sprint"
local h = require "helpers"
local config, protocol = sprint.config, sprint.protocol

local tests = {}

local DEFAULTS = { protocol = "default", tie_order = "input", prefix_augment = true, filter_unseen_eval = true, lr = 1 }

function tests.paper_preset_sets_its_settings()
  local cfg = config(DEFAULTS, { set = { protocol = "paper" } })
  local p = protocol.apply(cfg)
  h.eq(cfg.tie_order, "shuffle")
  h.eq(cfg.prefix_augment, false)
  h.eq(cfg.filter_unseen_eval, false)
  h.eq(config.origin(cfg, "tie_order"), "protocol=paper")
  h.eq(p.name, "paper")
  h.eq(#p.explicit, 0)
  h.eq(p.summary, "protocol paper: tie_order=shuffle, prefix_augment=false, filter_unseen_eval=false")
  h.truthy(config.dump(cfg):find("tie_order = \"shuffle\",  %-%- protocol=paper"), config.dump(cfg))
end

function tests.default_preset_keeps_the_defaults()
  local cfg = config(DEFAULTS, { set = {} })
  local p = protocol.apply(cfg)
  h.eq(cfg.tie_order, "input")
  h.eq(cfg.prefix_augment, true)
  h.eq(cfg.filter_unseen_eval, true)
  h.eq(p.summary, "protocol default: tie_order=input, prefix_augment=true, filter_unseen_eval=true")
end

function tests.explicit_settings_win_and_are_named()
  local cfg = config(DEFAULTS, { set = { protocol = "paper", prefix_augment = "true" } })
  local p = protocol.apply(cfg)
  h.eq(cfg.prefix_augment, true)
  h.eq(cfg.tie_order, "shuffle")
  h.eq(p.explicit[1], "prefix_augment")
  h.truthy(p.summary:find("prefix_augment=true (--set)", 1, true), p.summary)
end

function tests.config_set_coerces_and_records_the_origin()
  local cfg = config(DEFAULTS, { set = {} })
  config.set(cfg, "lr", "3", "a test")
  h.eq(cfg.lr, 3)
  h.eq(config.origin(cfg, "lr"), "a test")
  h.raises("unknown key 'nope'", config.set, cfg, "nope", 1, "a test")
end

function tests.bad_protocols_are_errors()
  h.raises({ "unknown protocol 'papr'", "default, paper" }, protocol.apply,
    config(DEFAULTS, { set = { protocol = "papr" } }))
  h.raises("no setting 'filter_unseen_eval'", protocol.apply,
    config({ protocol = "paper", tie_order = "input", prefix_augment = true }, { set = {} }))
end

-- The recipe under the paper protocol on the planted data (one short seed): the protocol line is
-- printed, the report's title carries it, and the run has its own directory.
function tests.backbone_recipe_runs_under_the_paper_protocol()
  local cli = rawget(_G, "SPRINT_CLI")
  if not cli or not cli.build_dir then h.skip("not running under the sprint command") end
  local dir = os.tmpname()
  os.remove(dir)
  local p = io.popen("'" .. cli.build_dir .. "/sprint' run '" .. sprint.data.root() .. "/recipes/backbone.lua'"
    .. " --set dataset=planted --set seeds=1 --set epochs=1 --set dim=8 --set heads=1 --set max_len=6"
    .. " --set protocol=paper --set run_dir='" .. dir .. "' 2>&1; echo rc=$?")
  local out = p:read("*a")
  p:close()
  h.truthy(out:find("rc=0", 1, true), out)
  local line = "protocol paper: tie_order=shuffle, prefix_augment=false, filter_unseen_eval=false"
  h.truthy(out:find("\n" .. line, 1, true), "the protocol line is printed:\n" .. out)
  local f = io.open(dir .. "/planted-sasrec-paper/results.md", "rb")
  h.truthy(f, "results.md in the protocol's directory:\n" .. out)
  local md = f:read("*a")
  f:close()
  h.truthy(md:find(line, 1, true), "the report names the protocol:\n" .. md)
  os.execute("rm -rf '" .. dir .. "'")
end

return tests
