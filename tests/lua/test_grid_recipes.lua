-- test_grid_recipes.lua — recipes/sweep.lua (Figure 6) and recipes/efficiency.lua (Figure 3,
-- Table 4) in a smoke setting on planted data, and the grid that runs their cells: --set jobs=2
-- gives exactly the ranks of one process; a grid killed (SIGKILL, its whole process group) in
-- the middle resumes to the same ranks; a cell that fails (a corrupted checkpoint) is reported
-- with its error and file while the others finish and the table is written without it; a rerun
-- retries only it. `sprint report` rebuilds the tables, figures and index.html from the files.
local h = require "helpers"
local S = require "llm_support"
local R = require "recipe_support"
local report = require "sprint.report"
local figures = require "sprint.figures"
local q, tmpdir = S.q, S.tmpdir

local tests = {}

local SWEEP = R.smoke(" --set epochs=3 --set lambdas=0,0.01 --set k_values=0,5")

local function all_ranks(results)
  local out = {}
  for _, m in ipairs(results.methods) do
    out[#out + 1] = m.name .. ":" .. table.concat(R.ranks(results, m.name), ";")
  end
  return table.concat(out, "\n")
end

local function sweep(dir, extra) return R.run(dir, "recipes/sweep.lua", SWEEP .. (extra or "")) end

function tests.a_parallel_grid_gives_the_ranks_of_one_process_and_resumes_after_a_kill()
  local one, two, killed = tmpdir(), tmpdir(), tmpdir()
  local rc, _, err = sweep(one)
  h.eq(rc, 0, err)
  local base = "/runs/planted-1500-sasrec"
  local want = report.read(one .. base .. "/sweep.json")
  h.eq(#want.methods, 1 + 4 + 2, "the backbone, four loss-weight points and two K points")
  local out
  rc, out, err = sweep(two, " --set jobs=2")
  h.eq(rc, 0, err)
  h.truthy(out:find("grid: 14 of 14 cells to train, 2 at a time", 1, true), out)
  h.truthy(out:find("grid: 14/14 done, 0 running, 0 failed", 1, true), out)
  h.eq(all_ranks(report.read(two .. base .. "/sweep.json")), all_ranks(want), "jobs=2 ranks exactly as one process does")

  -- a SIGKILL of the whole grid (parent and children) once two cells are done; the rerun resumes
  local log = killed .. "/grid.log"
  local cmd = R.CLEAN .. "SPRINT_CACHE=" .. q(killed .. "/cache") .. " setsid " .. q(S.exe("sprint")) .. " run recipes/sweep.lua"
    .. SWEEP .. " --set jobs=2 --set run_dir=" .. q(killed .. "/runs")
  local p = io.popen(cmd .. " >" .. q(log) .. " 2>&1 & echo $!")
  local pid = tonumber(p:read("*l"))
  p:close()
  local seen = false
  for _ = 1, 3000 do -- up to 5 minutes: Stage 1 and the first cells on a loaded machine
    local text = S.read(log) or ""
    if text:find("grid: [2-9]/") then seen = true break end
    S.sleep_ms(100)
  end
  os.execute("kill -9 -" .. pid .. " 2>/dev/null")
  h.truthy(seen, "the grid got going: " .. tostring(S.read(log)))
  S.sleep_ms(300)
  rc, out, err = R.run(killed, "recipes/sweep.lua", SWEEP .. " --set jobs=2")
  h.eq(rc, 0, err)
  h.eq(all_ranks(report.read(killed .. base .. "/sweep.json")), all_ranks(want), "the killed grid resumed to the same ranks")

  -- a cell whose checkpoint is corrupted fails alone; the others are trained and tabled
  local bad = two .. base .. "/sprint-k=0/seed-2"
  os.remove(bad .. "/test.json")
  S.write(bad .. "/checkpoint/state.json", "{ not json")
  os.remove(two .. base .. "/sprint-lambda_intent=0,lambda_ortho=0/seed-1/test.json") -- reused, not retrained
  rc, out, err = sweep(two, " --set jobs=2")
  h.truthy(rc ~= 0, "a failed cell fails the recipe")
  h.truthy(err:find("1 cell(s) failed", 1, true) and err:find("sprint-k=0/seed-2", 1, true)
    and err:find("state.json", 1, true), err)
  h.truthy(out:find("grid: 1/2 done, 0 running, 1 failed", 1, true), out)
  local partial = report.read(two .. base .. "/sweep.json")
  for _, m in ipairs(partial.methods) do
    h.eq(#m.runs, m.name == "K = 0" and 1 or 2, m.name .. "'s seeds in the table")
  end
  local failed = require("cjson").decode(S.read(two .. base .. "/sweep-failed.json"))
  h.eq(#failed, 1)
  h.eq(failed[1].id, "sprint-k=0/seed-2")
  os.execute("rm -rf " .. q(bad))
  rc, out, err = sweep(two, " --set jobs=2")
  h.eq(rc, 0, err)
  h.truthy(out:find("grid: 1 of 14 cells to train", 1, true), "only the failed cell is retried: " .. out)
  h.eq(all_ranks(report.read(two .. base .. "/sweep.json")), all_ranks(want))
  h.truthy(S.read(two .. base .. "/sweep-failed.json") == nil, "the failure list is gone once the cell is done")

  -- sprint report rebuilds the tables, the figures and the page from the files
  local run = one .. base
  local md, svg = S.read(run .. "/sweep.md"), S.read(run .. "/sweep-lambda.svg")
  h.truthy(svg and figures.well_formed(svg) and svg:find("lambda_ortho", 1, true), "the heat map")
  h.truthy(figures.well_formed(S.read(run .. "/sweep-k.svg")), "the K line")
  h.truthy((S.read(run .. "/index.html") or ""):find("sweep-lambda.svg", 1, true), "the recipe wrote the page")
  os.execute("rm -f " .. q(run) .. "/sweep.md " .. q(run) .. "/sweep.csv " .. q(run) .. "/*.svg " .. q(run) .. "/index.html")
  rc, out, err = S.run(R.CLEAN .. q(S.exe("sprint")) .. " report " .. q(run))
  h.eq(rc, 0, err)
  h.eq(S.read(run .. "/sweep.md"), md, "the same table")
  h.eq(S.read(run .. "/sweep-lambda.svg"), svg, "the same figure")
  local page = S.read(run .. "/index.html")
  h.truthy(page and page:find("<table>", 1, true) and page:find("<svg", 1, true) and page:find("sweep.csv", 1, true), page)
  rc, _, err = S.run(q(S.exe("sprint")) .. " report " .. q(killed .. "/nowhere"))
  h.truthy(rc ~= 0 and err:find("nowhere", 1, true), err)
  os.execute("rm -rf " .. q(one) .. " " .. q(two) .. " " .. q(killed))
end

function tests.the_efficiency_recipe_splits_training_time_and_ranks_twenty_candidates()
  local dir = tmpdir()
  local rc, out, err = R.run(dir, "recipes/efficiency.lua", R.smoke(" --set epochs=3 --set repeats=1"))
  h.eq(rc, 0, err)
  local run = dir .. "/runs/planted-1500-sasrec"
  local costs = require("cjson").decode(S.read(run .. "/efficiency-costs.json"))
  h.eq(#costs, 3)
  h.eq(costs[1].method, "Backbone")
  h.eq(costs[1].llm_calls, 0)
  h.truthy(costs[2].llm_calls > 0 and costs[3].llm_calls > costs[2].llm_calls, "every session costs more calls")
  h.truthy(costs[2].warmup_seconds > 0 and costs[2].train_seconds > 0 and costs[2].inference_seconds > 0, out)
  local t4 = report.read(run .. "/efficiency-candidates.json")
  h.eq(t4.settings.n_candidates, 20)
  for _, m in ipairs(t4.methods) do
    for _, r in ipairs(m.runs) do
      for _, rank in ipairs(r.ranks) do h.truthy(rank >= 1 and rank <= 20, m.name .. " rank " .. rank) end
    end
  end
  h.truthy(S.read(run .. "/efficiency-costs.md"):find("| SPRINT, LLM on every session |", 1, true))
  for _, f in ipairs({ "efficiency-train.svg", "efficiency-inference.svg" }) do
    h.truthy(figures.well_formed(S.read(run .. "/" .. f)), f)
  end
  rc, _, err = R.run(dir, "recipes/efficiency.lua", R.smoke(" --set epochs=3 --set candidate_seed=2"))
  h.truthy(rc ~= 0 and err:find("candidate_seed 2 is one of the compared seeds", 1, true), err)
  os.execute("rm -rf " .. q(dir))
end

-- A real renderer (librsvg's rsvg-convert, tools/setup) draws every kind of figure to a PNG,
-- and refuses a malformed one.
function tests.every_kind_of_figure_renders_to_png()
  if os.execute("command -v rsvg-convert >/dev/null 2>&1") ~= 0 then h.skip("rsvg-convert is missing: run tools/setup") end
  local dir = tmpdir()
  local svgs = {
    bars = figures.bars { title = "bars", ylabel = "y", caption = "c", groups = { "a", "b" },
      series = { { name = "s", mean = { 0.1, 0.2 }, std = { 0.01, 0.02 } } } },
    lines = figures.lines { title = "lines", ylabel = "y", caption = "c", x = { 0, 1 },
      series = { { name = "s", mean = { 0.1, 0.2 }, std = { 0.01, 0.02 } } } },
    stacked = figures.stacked { title = "stacked", ylabel = "s", unit = "s", parts = { "p", "q" }, caption = "c",
      bars = { { name = "a", parts = { 1, 2 } }, { name = { "b", "second line" }, parts = { 3, 0.5 } } } },
    heatmap = figures.heatmap { title = "heat", rows = { "0", "1" }, cols = { "x", "y" }, caption = "c",
      values = { { 0.1, 0.2 }, { 0.3, 0 / 0 } }, notes = { { "± 1", "± 2" }, { "± 3", nil } } },
    malformed = (figures.bars { title = "bad", groups = { "a" }, series = { { name = "s", mean = { 1 } } } })
      :gsub("</text>", "</rect>", 1),
  }
  for name, svg in pairs(svgs) do
    S.write(dir .. "/" .. name .. ".svg", svg)
    local rc = os.execute("rsvg-convert " .. q(dir .. "/" .. name .. ".svg") .. " -o " .. q(dir .. "/" .. name .. ".png")
      .. " 2>/dev/null")
    if name == "malformed" then
      h.truthy(rc ~= 0, "the renderer refuses a malformed SVG")
    else
      h.eq(rc, 0, name .. " renders")
      local png = S.read(dir .. "/" .. name .. ".png")
      h.truthy(png and png:sub(2, 4) == "PNG" and #png > 2000, name .. ": a PNG with something drawn")
      h.truthy(figures.well_formed(svg), name)
    end
  end
  os.execute("rm -rf " .. q(dir))
end

return tests
