-- recipe_support.lua — what the Stage 2 recipe tests share: a recipe run in a smoke setting on
-- planted data (2 seeds, a few epochs, a small model) with no LLM endpoint in the environment
-- (Stage 1 answered by the offline stand-in), its dataset cache in the test's folder, and the
-- test ranks of a method read back from a results file.
local S = require "llm_support"
local q = S.q

local M = {}

-- The environment without any LLM endpoint or cache setting of the caller's.
M.CLEAN = "env -u SPRINT_LLM_BASE_URL -u SPRINT_LLM_CACHE -u SPRINT_LLM_MODEL -u SPRINT_LLM_CONFIG "

-- The smoke settings (extra: more --set words, e.g. " --set rho=2").
function M.smoke(extra)
  return " --set dataset=planted --set planted_sessions=1500 --set seeds=2 --set dim=16 --set max_len=10"
    .. " --set batch_size=128 --set threads=1" .. (extra or "")
end

-- Runs `sprint run RECIPE` with settings into dir/runs; env replaces CLEAN (e.g. a dead endpoint).
-- Returns exit code, stdout, stderr.
function M.run(dir, recipe, settings, env)
  return S.run((env or M.CLEAN) .. "SPRINT_CACHE=" .. q(dir .. "/cache") .. " " .. q(S.exe("sprint")) .. " run "
    .. recipe .. settings .. " --set run_dir=" .. q(dir .. "/runs"))
end

-- A method's test ranks over its runs, one string per seed (nil when the method is absent).
function M.ranks(results, method)
  for _, m in ipairs(results.methods) do
    if m.name == method then
      local out = {}
      for i, run in ipairs(m.runs) do out[i] = table.concat(run.ranks, ",") end
      return out
    end
  end
end

return M
