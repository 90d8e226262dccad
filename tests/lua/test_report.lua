-- test_report.lua — sprint.report: a Table-2-style Markdown table (the paper's columns, mean ±
-- std over seeds, * from a paired t-test against the baseline, recomputed here), the JSON file
-- (every run's ranks and sessions, read back and loaded into a report again), reference rows,
-- and the errors that keep incomparable runs out of one table.
local report = require "sprint.report"
local eval = require "sprint.eval"
local stats = require "sprint.stats"
local h = require "helpers"

local tests = {}

local SETTINGS = { split = "test", ks = { 5, 10, 20 }, ties = "pessimistic", mask_session_items = false,
                   candidates = "full", n_items = 100, max_len = 50, pad_left = true }

-- A result as eval.rank returns it, from given ranks of sessions 101..(100 + #ranks).
local function result(ranks, settings)
  local sessions = {}
  for i = 1, #ranks do sessions[i] = 100 + i end
  return { metrics = eval.metrics(ranks), ranks = ranks, sessions = sessions, n = #ranks,
           settings = settings or SETTINGS }
end

-- Ranks of 60 sessions for a seed: the baseline spreads over 1..60; "better" halves them;
-- "noisy" moves each by +-1 in alternation (no real difference).
local function ranks_of(kind, seed)
  local out = {}
  for i = 1, 60 do
    local base = 1 + (i * 7 + seed * 13) % 60
    if kind == "better" then
      out[i] = math.max(1, math.floor(base / 2))
    elseif kind == "noisy" then
      out[i] = math.max(1, base + ((i + seed) % 2 == 0 and 1 or -1))
    else
      out[i] = base
    end
  end
  return out
end

local function build()
  local rep = report.new { title = "Planted, SASRec", baseline = "SASRec" }
  for seed = 1, 3 do
    rep:add("SASRec", result(ranks_of("base", seed)), { seed = seed })
    rep:add("Better", result(ranks_of("better", seed)), { seed = seed })
    rep:add("Noisy", result(ranks_of("noisy", seed)), { seed = seed })
  end
  rep:reference("paper SASRec", { ["HR@5"] = 0.0198, ["NDCG@5"] = 0.0132, ["HR@10"] = 0.0297,
    ["NDCG@10"] = 0.0164, ["HR@20"] = 0.0456, ["NDCG@20"] = 0.0203 }, "Table 2, Beauty")
  return rep
end

-- The p-value of a method against SASRec on one metric, computed here from the runs.
local function p_value(kind, metric)
  local a, b = {}, {}
  for seed = 1, 3 do
    a[seed] = eval.per_session(ranks_of(kind, seed), metric)
    b[seed] = eval.per_session(ranks_of("base", seed), metric)
  end
  return stats.paired_t(stats.mean_of(a), stats.mean_of(b)).p
end

local function cell(kind, metric)
  local xs = {}
  for seed = 1, 3 do xs[seed] = eval.metrics(ranks_of(kind, seed))[metric] end
  local text = string.format("%.4f", stats.mean(xs))
  if kind ~= "base" and p_value(kind, metric) < 0.05 then text = text .. "*" end
  return text .. string.format(" ± %.4f", stats.std(xs))
end

function tests.markdown_is_laid_out_like_table_2()
  local md = build():markdown()
  local lines = {}
  for l in md:gmatch("[^\n]*") do if l ~= "" then lines[#lines + 1] = l end end
  h.eq(lines[1], "## Planted, SASRec")
  h.eq(lines[2], "| Method | H@5 | N@5 | H@10 | N@10 | H@20 | N@20 |")
  h.eq(lines[3], "|---|---:|---:|---:|---:|---:|---:|")
  local cols = report.PAPER_COLUMNS
  for r, kind in ipairs({ "base", "better", "noisy" }) do
    local want = { ({ base = "SASRec", better = "Better", noisy = "Noisy" })[kind] }
    for _, c in ipairs(cols) do want[#want + 1] = cell(kind, c) end
    h.eq(lines[3 + r], "| " .. table.concat(want, " | ") .. " |")
  end
  h.eq(lines[7], "| paper SASRec | 0.0198 | 0.0132 | 0.0297 | 0.0164 | 0.0456 | 0.0203 |")
  h.truthy(lines[8]:find("over 3 seeds (1, 2, 3)", 1, true), lines[8])
  h.truthy(lines[8]:find("paired t-test over the 60 test sessions", 1, true), lines[8])
  h.truthy(lines[8]:find("against SASRec", 1, true), lines[8])
  h.truthy(lines[8]:find("Full ranking over all 100 items; ties: pessimistic; the session's own items not masked",
    1, true), lines[8])
  h.truthy(lines[8]:find("paper SASRec: Table 2, Beauty", 1, true), lines[8])
  -- the data were made so that halving the ranks is significant and +-1 noise is not
  h.truthy(lines[5]:find("*", 1, true), "Better is marked: " .. lines[5])
  h.truthy(not lines[6]:find("*", 1, true), "Noisy is not marked: " .. lines[6])
  h.truthy(not lines[4]:find("*", 1, true), "the baseline is never marked")
  h.truthy(p_value("better", "NDCG@10") < 1e-6 and p_value("noisy", "HR@10") > 0.05)
end

-- pair = "seeds": the test pairs each seed's metric (runs matched by seed, whatever the order
-- they were added in); both p-values are kept; the CSV has a row per method and metric.
function tests.seed_paired_test_and_csv()
  local rep = report.new { title = "t", baseline = "SASRec", pair = "seeds" }
  local base, better = {}, {}
  for _, seed in ipairs({ 3, 1, 2, 4 }) do
    rep:add("SASRec", result(ranks_of("base", seed)), { seed = seed })
    base[seed] = eval.metrics(ranks_of("base", seed))["NDCG@10"]
  end
  for _, seed in ipairs({ 1, 2, 3, 4 }) do
    rep:add("Better", result(ranks_of("better", seed)), { seed = seed })
    better[seed] = eval.metrics(ranks_of("better", seed))["NDCG@10"]
  end
  local want = stats.paired_t(better, base)
  local row = rep:summary()[2]
  local s = row.metrics["NDCG@10"]
  h.near(s.p, want.p, 1e-12)
  h.near(s.p_seeds, want.p, 1e-12)
  h.truthy(s.p_sessions and s.p_sessions ~= s.p, "the sessions' test is kept beside it")
  local md = rep:markdown()
  h.truthy(md:find("paired t-test over the seeds", 1, true), md)
  local csv = rep:csv()
  local lines = {}
  for l in csv:gmatch("[^\n]+") do lines[#lines + 1] = l end
  h.eq(lines[1], "method,metric,mean,std,seeds,p,t,p_seeds,p_sessions,reference")
  h.eq(#lines, 1 + 2 * 6)
  local f = {}
  for field in (lines[1 + 6 + 4] .. ","):gmatch("([^,]*),") do f[#f + 1] = field end
  h.eq(f[1], "Better")
  h.eq(f[2], "NDCG@10")
  h.eq(tonumber(f[3]), s.mean)
  h.eq(tonumber(f[6]), s.p)
  h.eq(f[10], "false")
  h.raises("pair must be", report.new, { pair = "runs" })
end

function tests.columns_and_one_seed()
  local rep = report.new { columns = { "HR@10", "N@10", "MRR" }, digits = 3 }
  rep:add("only", result({ 1, 2, 30 }), { seed = 7 })
  local md = rep:markdown()
  h.truthy(md:find("| Method | H@10 | N@10 | MRR |", 1, true), md)
  -- one seed: no spread, no test
  local m = eval.metrics({ 1, 2, 30 })
  h.truthy(md:find(string.format("| only | %.3f | %.3f | %.3f |", m["HR@10"], m["NDCG@10"], m.MRR), 1, true), md)
  h.truthy(md:find("over 1 seed (7)", 1, true), md)
end

function tests.json_keeps_every_run_and_loads_back()
  local dir = os.tmpname()
  os.remove(dir)
  local rep = build()
  local json_path, md_path = rep:write(dir .. "/run")
  h.eq(json_path, dir .. "/run/results.json")
  h.eq(md_path, dir .. "/run/results.md")
  local f = io.open(md_path)
  h.eq(f:read("*a"), rep:markdown())
  f:close()
  h.eq(io.open(json_path .. ".tmp"), nil, "no temporary file is left")
  local d = report.read(json_path)
  h.eq(d.format, "sprint-results-v1")
  h.eq(d.baseline, "SASRec")
  h.eq(d.settings.ties, "pessimistic")
  h.eq(#d.methods, 4)
  h.eq(d.methods[2].name, "Better")
  h.eq(#d.methods[2].runs, 3)
  local run = d.methods[2].runs[2]
  h.eq(run.seed, 2)
  h.near(run.ranks, ranks_of("better", 2), 0)
  h.eq(run.sessions[1], 101)
  h.eq(run.metrics["NDCG@10"], eval.metrics(ranks_of("better", 2))["NDCG@10"], "doubles survive the round trip")
  local s = d.methods[2].summary["NDCG@10"]
  h.near(s.p, p_value("better", "NDCG@10"), 1e-15 + 1e-9 * s.p)
  h.eq(s.n, 3)
  h.eq(d.methods[1].summary["HR@10"].p, nil, "the baseline is not tested against itself")
  h.truthy(d.methods[4].reference)
  h.eq(d.methods[4].summary["HR@10"].mean, 0.0297)
  -- a report loaded from the file prints the same table
  h.eq(report.load(json_path):markdown(), rep:markdown())
  -- the JSON is canonical: writing again gives the same bytes
  local a = io.open(json_path):read("*a")
  rep:write(dir .. "/run")
  h.eq(io.open(json_path):read("*a"), a)
  os.execute("rm -rf '" .. dir .. "'")
end

function tests.incomparable_runs_are_refused()
  local rep = report.new { baseline = "A" }
  rep:add("A", result({ 1, 2, 3 }))
  local other = {}
  for k, v in pairs(SETTINGS) do other[k] = v end
  other.ties = "optimistic"
  h.raises("has ties = optimistic, the table's runs pessimistic: not comparable",
    function() rep:add("B", result({ 1, 2, 3 }, other)) end)
  other.ties, other.mask_session_items = "pessimistic", true
  h.raises("mask_session_items", function() rep:add("B", result({ 1, 2, 3 }, other)) end)
  -- other sessions than the baseline's
  local r = result({ 1, 2, 3 })
  r.sessions = { 1, 2, 3 }
  rep:add("C", r)
  h.raises("session 1 of C is not among A's", function() rep:markdown() end)
  local none = report.new { baseline = "missing" }
  none:add("A", result({ 1, 2 }))
  h.raises("the baseline 'missing' has no runs", function() none:summary() end)
  h.raises("unknown option 'basline'", function() report.new { basline = "A" } end)
  h.raises("unknown metric", function() report.new { columns = { "AUC" } } end)
  h.raises("expected a result of eval.rank", function() report.new():add("A", { metrics = {} }) end)
  h.raises("is a reference row", function()
    local x = report.new()
    x:reference("paper", { ["HR@10"] = 0.1 })
    x:add("paper", result({ 1, 2 }))
  end)
end

function tests.json_numbers()
  h.eq(report.json({ a = 1, b = 0.1, c = { 1, 2.5 }, d = "x\"y", e = true }),
    '{\n  "a": 1,\n  "b": 0.1,\n  "c": [1, 2.5],\n  "d": "x\\"y",\n  "e": true\n}\n')
  h.eq(report.json({ 0 / 0, 1 / 3 }), "[null, 0.3333333333333333]\n")
  h.eq(report.json({}), "[]\n")
end

return tests
