-- test_ablation_recipe.lua — recipes/ablation.lua in a smoke setting on planted data: Table 5's
-- rows as settings of the same code, sharing recipes/sprint.lua's run directory (its backbone
-- and full SPRINT rows are reused, not retrained: the same ranks), every row over the seeds;
-- row (B)'s single-prompt Stage 1 asks once per hard session and gives no hard negatives.
local h = require "helpers"
local S = require "llm_support"
local report = require "sprint.report"
local q, tmpdir = S.q, S.tmpdir

local tests = {}

local R = require "recipe_support"
local SMOKE = R.smoke(" --set epochs=4 --set rho=2")

local function ranks(results, method)
  local r = R.ranks(results, method)
  return r and table.concat(r, ";")
end

function tests.ablation_rows_are_settings_of_the_same_code_and_reuse_the_main_runs()
  local dir = tmpdir()
  local function run(recipe) return R.run(dir, recipe, SMOKE) end
  local rc, _, err = run("recipes/sprint.lua")
  h.eq(rc, 0, err)
  local out
  rc, out, err = run("recipes/ablation.lua")
  h.eq(rc, 0, err)
  local _, reused = out:gsub("read back from [^\n]*/sprint%-rho=2/seed%-%d/test%.json", "")
  h.eq(reused, 2, "the full SPRINT rows of recipes/sprint.lua are reused: " .. out)
  local base = dir .. "/runs/planted-1500-sasrec"
  local main = report.read(base .. "/results-rho=2.json")
  local abl = report.read(base .. "/ablation-rho=2.json")
  local names = {}
  for i, m in ipairs(abl.methods) do names[i] = m.name end
  h.eq(table.concat(names, " | "), "(A) Backbone | (B) + LLM intents (no pool, no P&C) | (C) + GIP and P&C | "
    .. "(D) + self-enrichment | (E) + neighbour-enrichment | SPRINT")
  h.eq(ranks(abl, "(A) Backbone"), ranks(main, "Backbone"))
  h.eq(ranks(abl, "SPRINT"), ranks(main, "SPRINT"))
  local seen = {}
  for _, m in ipairs({ "(B) + LLM intents (no pool, no P&C)", "(C) + GIP and P&C", "(D) + self-enrichment",
                       "(E) + neighbour-enrichment", "SPRINT" }) do
    local r = ranks(abl, m)
    h.truthy(r and not seen[r], m .. " trained as its own row")
    seen[r] = true
  end
  h.truthy(S.read(base .. "/sprint-enrich=none,rho=2/seed-2/checkpoint/state.json"), "row (C)'s runs")
  -- row (B): one prompt per hard session, the same hard sessions as Stage 1's, intents as given
  h.truthy(out:find("stage 1, one prompt per session (answers from offline stand-in", 1, true), out)
  local journal = S.read(base .. "/stage1-direct/intents.jsonl")
  local pc_journal = S.read(base .. "/stage1/stage1/intents.jsonl")
  local _, n_direct = journal:gsub("\n", "")
  local _, n_pc = pc_journal:gsub("\n", "")
  h.eq(n_direct, n_pc, "one answer per hard session")
  h.truthy(not journal:find('"hard_negatives":%[%d'), "no hard negatives without P&C")
  local costs = require("cjson").decode(S.read(base .. "/ablation-rho=2-stage1.json"))
  h.eq(costs[1].hard_sessions, n_pc, "row (B) reports its hard sessions")
  h.truthy(costs[1].llm_calls and costs[1].llm_calls >= n_pc, "and its LLM calls: " .. tostring(costs[1].llm_calls))
  h.truthy(S.read(base .. "/sprint-stage1=direct,enrich=none,rho=2/seed-1/checkpoint/state.json"), "row (B)'s runs")
  os.execute("rm -rf " .. q(dir))
end

return tests
