-- test_experiment_recipes.lua — recipes/selection.lua (Figure 4) and recipes/ratio.lua
-- (Figure 5) in a smoke setting on planted data: every row trained over the seeds against the
-- same backbone rows, each selection strategy and each ratio on its own Stage 1 (other hard
-- sessions, as many as the ratio says), the default Stage 1 shared, LLM calls per row.
local h = require "helpers"
local S = require "llm_support"
local report = require "sprint.report"
local cjson = require "cjson"
local q, tmpdir = S.q, S.tmpdir

local tests = {}

local R = require "recipe_support"

local function run(dir, recipe, extra) return R.run(dir, recipe, R.smoke(" --set epochs=3" .. (extra or ""))) end

local function names_of(results)
  local out = {}
  for i, m in ipairs(results.methods) do out[i] = m.name .. "/" .. #m.runs end
  return table.concat(out, " | ")
end

function tests.selection_and_ratio_recipes_run_every_row_on_its_own_stage1()
  local dir = tmpdir()
  local rc, out, err = run(dir, "recipes/selection.lua")
  h.eq(rc, 0, err)
  local base = dir .. "/runs/planted-1500-sasrec"
  h.eq(names_of(report.read(base .. "/selection.json")), "Backbone/2 | SPRINT, uncertainty (RRF)/2 | SPRINT, random/2 | "
    .. "SPRINT, H_sess only/2 | SPRINT, H_pred only/2")
  for _, s in ipairs({ "random", "h_sess", "h_pred" }) do
    h.truthy(S.read(base .. "/stage1-selection=" .. s .. "/selection.json"), s .. " has its own Stage 1")
  end
  local figures = require "sprint.figures"
  local svg = S.read(base .. "/selection.svg")
  h.truthy(svg and figures.well_formed(svg) and svg:find("SPRINT, H_pred only", 1, true), "the selection figure")
  local costs = cjson.decode(S.read(base .. "/selection-stage1.json"))
  h.eq(#costs, 4)
  h.eq(costs[1].hard_sessions, costs[2].hard_sessions, "the same number of hard sessions for every strategy")

  rc, out, err = run(dir, "recipes/ratio.lua", " --set ratios=0,0.1,0.5")
  h.eq(rc, 0, err)
  h.eq(names_of(report.read(base .. "/ratio.json")), "Backbone/2 | SPRINT, r = 0 %/2 | SPRINT, r = 10 %/2 | "
    .. "SPRINT, r = 50 %/2")
  svg = S.read(base .. "/ratio.svg")
  h.truthy(svg and figures.well_formed(svg) and svg:find("backbone", 1, true), "the ratio figure")
  costs = cjson.decode(S.read(base .. "/ratio-stage1.json"))
  h.eq(costs[1].hard_sessions, 0, "r = 0: no hard session")
  h.eq(costs[1].labelled_sessions, 0)
  h.truthy(costs[3].hard_sessions > 4 * costs[2].hard_sessions, "50 % asks five times what 10 % asks")
  h.truthy(costs[3].llm_calls > costs[2].llm_calls and costs[2].llm_calls > costs[1].llm_calls,
    "LLM calls grow with the ratio: " .. cjson.encode(costs))
  h.truthy(out:find("read back from [^\n]*/backbone/seed%-1/test%.json"), "the backbone rows are shared")
  os.execute("rm -rf " .. q(dir))
end

return tests
