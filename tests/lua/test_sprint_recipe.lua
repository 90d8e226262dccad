-- test_sprint_recipe.lua — recipes/sprint.lua end to end on planted data in a smoke setting
-- (2 seeds, a few epochs, a small model): Stage 1 with the offline stand-in, Backbone and
-- SPRINT rows in Markdown, CSV and JSON with the seed-paired test; a rerun that reuses the
-- finished Stage 1 with the LLM cache deleted and a dead endpoint gives the same test ranks
-- (inference never reads the LLM cache or calls an LLM); a SPRINT variant reusing the backbone
-- rows; `sprint show-session` on the run.
local h = require "helpers"
local S = require "llm_support"
local report = require "sprint.report"
local q, tmpdir, slurp = S.q, S.tmpdir, S.read

local tests = {}

local R = require "recipe_support"
local CLEAN = R.CLEAN
local SMOKE = R.smoke(" --set epochs=4 --set rho=2")

local function sprint_run(dir, extra, env) return R.run(dir, "recipes/sprint.lua", SMOKE .. (extra or ""), env) end
local ranks_of = R.ranks

function tests.the_table2_recipe_runs_end_to_end_and_inference_needs_no_llm()
  local dir = tmpdir()
  local rc, out, err = sprint_run(dir)
  h.eq(rc, 0, err)
  h.truthy(out:find("offline stand-in", 1, true), "Stage 1 says its answers came from the stand-in")
  local run = dir .. "/runs/planted-1500-sasrec"
  -- rho=2 (labels refreshed within the smoke run's 4 epochs) is a Stage 2 setting given
  -- explicitly: the run is the variant "rho=2"
  local md, csv = slurp(run .. "/results-rho=2.md"), slurp(run .. "/results-rho=2.csv")
  h.truthy(md and md:find("| Backbone |", 1, true) and md:find("| SPRINT |", 1, true), tostring(md))
  h.truthy(md:find("paired t-test over the seeds", 1, true), md)
  h.truthy(csv and csv:find("\nSPRINT,NDCG@10,", 1, true), tostring(csv))
  local results = report.read(run .. "/results-rho=2.json")
  local sprint_ranks, backbone_ranks = ranks_of(results, "SPRINT"), ranks_of(results, "Backbone")
  h.eq(#sprint_ranks, 2, "two seeds")
  h.truthy(sprint_ranks[1] ~= backbone_ranks[1], "SPRINT ranks differently from the backbone")
  h.truthy(slurp(run .. "/timing-rho=2.json"), "timings written")
  h.truthy(slurp(run .. "/sprint-rho=2/seed-1/checkpoint/state.json"):find('"extra":"extra%-'), "labels in the checkpoint")

  -- LLM-free inference: no cache, a dead endpoint, Stage 1 reused from its files, every
  -- model ranked again (the cells' test.json removed)
  os.remove(run .. "/stage1/llm.sqlite")
  os.execute("rm -f " .. q(run) .. "/*/seed-*/test.json")
  local dead = CLEAN .. "SPRINT_LLM_BASE_URL=http://127.0.0.1:9/v1 SPRINT_LLM_MODEL=none "
  rc, out, err = sprint_run(dir, " --set stage1_dir=" .. q(run .. "/stage1/stage1"), dead)
  h.eq(rc, 0, err)
  h.truthy(out:find("stage 1: reusing", 1, true), out)
  h.truthy(slurp(run .. "/stage1/llm.sqlite") == nil, "nothing made a new LLM cache")
  local again = report.read(run .. "/results-rho=2.json")
  h.eq(table.concat(ranks_of(again, "SPRINT"), ";"), table.concat(sprint_ranks, ";"), "the same SPRINT test ranks")
  h.eq(table.concat(ranks_of(again, "Backbone"), ";"), table.concat(backbone_ranks, ";"))

  -- a variant shares the backbone rows and Stage 1, and writes its own table
  rc, out, err = sprint_run(dir, " --set stage1_dir=" .. q(run .. "/stage1/stage1") .. " --set hard_neg=false", dead)
  h.eq(rc, 0, err)
  local _, resumed = out:gsub("read back from [^\n]*/backbone/seed%-%d/test%.json", "")
  h.eq(resumed, 2, "both seeds' backbones are reused: " .. out)
  local variant = report.read(run .. "/results-hard_neg=false,rho=2.json")
  h.eq(table.concat(ranks_of(variant, "Backbone"), ";"), table.concat(backbone_ranks, ";"))
  h.truthy(table.concat(ranks_of(variant, "SPRINT"), ";") ~= table.concat(sprint_ranks, ";"), "the variant trained anew")
  h.truthy(variant.title:find("SPRINT variant hard_neg=false,rho=2", 1, true), variant.title)
  h.eq(table.concat(ranks_of(report.read(run .. "/results-rho=2.json"), "SPRINT"), ";"), table.concat(sprint_ranks, ";"),
    "the default table is untouched")

  -- a Stage 1 setting makes its own Stage 1 (other hard sessions) and SPRINT variant
  rc, out, err = sprint_run(dir, " --set hard_ratio=0.05")
  h.eq(rc, 0, err)
  local _, n_hard = S.read(run .. "/stage1-hard_ratio=0.05/stage1/intents.jsonl"):gsub("\n", "")
  local _, n_hard_default = S.read(run .. "/stage1/stage1/intents.jsonl"):gsub("\n", "")
  h.truthy(n_hard > 0 and n_hard < n_hard_default, n_hard .. " hard sessions at 5 %, " .. n_hard_default .. " at 10 %")
  h.truthy(S.read(run .. "/results-hard_ratio=0.05,rho=2.md"), "the variant's table")

  -- a backbone setting changed in the same run directory: refused, not resumed
  rc, _, err = sprint_run(dir, " --set stage1_dir=" .. q(run .. "/stage1/stage1") .. " --set lr=0.002", dead)
  h.truthy(rc ~= 0 and err:find("trained under other settings ('lr = 0.001' there, 'lr = 0.002' now)", 1, true),
    "rc " .. rc .. ": " .. err)

  -- the case study on the first test session
  local first
  for i, s in ipairs(results.methods[1].runs[1].sessions) do first = first or s end
  rc, out, err = S.run(CLEAN .. "SPRINT_CACHE=" .. q(dir .. "/cache") .. " " .. q(S.exe("sprint")) .. " show-session "
    .. q(run) .. " " .. first .. " --set seed=2 --set variant=rho=2")
  h.eq(rc, 0, err)
  for _, want in ipairs({ "seed 2: test session", "target (held out):", "predicted intents", "backbone alone",
                          "SPRINT with intents" }) do
    h.truthy(out:find(want, 1, true), "show-session prints '" .. want .. "': " .. out)
  end
  -- the ranks it prints are the evaluation's for that session and seed
  local function rank_in(method)
    for _, m in ipairs(results.methods) do
      if m.name == method then
        for _, run in ipairs(m.runs) do
          if run.seed == 2 then
            for i, sess in ipairs(run.sessions) do if sess == first then return run.ranks[i] end end
          end
        end
      end
    end
  end
  h.eq(tonumber(out:match("backbone alone%s+(%d+)")), rank_in("Backbone"), out)
  h.eq(tonumber(out:match("SPRINT with intents%s+(%d+)")), rank_in("SPRINT"), out)
  rc, out, err = S.run(CLEAN .. "SPRINT_CACHE=" .. q(dir .. "/cache") .. " " .. q(S.exe("sprint")) .. " show-session "
    .. q(run) .. " all --set variant=rho=2")
  h.eq(rc, 0, err)
  local hr = out:match("SPRINT with intents %(h_tilde%)%s+HR@10 ([%d.]+)")
  h.truthy(hr, out)
  -- seed 1's HR@10 from the table's run: the same model, the same ranking
  for _, m in ipairs(results.methods) do
    if m.name == "SPRINT" then h.near(tonumber(hr), m.runs[1].metrics["HR@10"], 1e-4) end
  end
  h.truthy(out:find("intents above tau", 1, true), out)
  rc, _, err = S.run(CLEAN .. "SPRINT_CACHE=" .. q(dir .. "/cache") .. " " .. q(S.exe("sprint")) .. " show-session " .. q(run) .. " 1 --set variant=rho=2")
  h.truthy(rc ~= 0 and err:find("the case study shows test sessions", 1, true), err)
  os.execute("rm -rf " .. q(dir))
end

return tests
