-- experiments.lua — the paper's figures drawn from a finished table, and the run directory's
-- page. A recipe names its figure (run_rows' `figure`) and what the figure needs beside the table
-- (`figure_info`: caption, the ratios, the grid); both are saved as <name>-figure.json, so
-- `sprint report RUN_DIR` redraws every figure, rewrites every table and builds index.html from
-- the files alone, without training or calling an LLM.
--   experiments.write_figure(dir, "ratio", "ratio", rep, costs, info)  -- dir/ratio.svg
--   experiments.rebuild(dir)                                          -- tables, figures, index.html
local figures = require "sprint.figures"
local files = require "sprint.files"

local M = {}

-- Mean and std of `metric` for each method of a report's table, in table order:
-- { { name =, mean =, std = }, ... } (reference rows left out).
function M.summary_of(rep, metric)
  local out = {}
  for _, row in ipairs(rep:summary()) do
    if not row.reference and row.metrics[metric] then
      out[#out + 1] = { name = row.name, mean = row.metrics[metric].mean, std = row.metrics[metric].std or 0 }
    end
  end
  return out
end

local function by_name(rep, metric)
  local out = {}
  for _, r in ipairs(M.summary_of(rep, metric)) do out[r.name] = r end
  return out
end

-- Grouped bars of the four metrics, one bar per row of the table (Figure 4; Table 5 drawn).
local function metric_bars(title, groups)
  return function(rep, _, info)
    local series = {}
    for _, metric in ipairs(groups) do
      for i, r in ipairs(M.summary_of(rep, metric)) do
        series[i] = series[i] or { name = r.name, mean = {}, std = {} }
        table.insert(series[i].mean, r.mean)
        table.insert(series[i].std, r.std)
      end
    end
    return figures.bars { title = info.title or title, ylabel = "metric on the test split", groups = groups,
      series = series, caption = info.caption }
  end
end

M.FIGURES = {}
M.FIGURES.selection = metric_bars("Hard-session selection (Figure 4)", { "HR@10", "NDCG@10", "HR@20", "NDCG@20" })
M.FIGURES.ablation = metric_bars("Ablation (Table 5)", { "HR@5", "NDCG@5", "HR@20", "NDCG@20" })

-- Figure 5: SPRINT's NDCG@10 against the share of training sessions given to the LLM, each
-- point labelled with the LLM stage's calls; the backbone dashed.
function M.FIGURES.ratio(rep, costs, info)
  local rows = M.summary_of(rep, "NDCG@10")
  local base = table.remove(rows, 1)
  local s = { name = "SPRINT NDCG@10", mean = {}, std = {} }
  local labels = {}
  for i, r in ipairs(rows) do
    s.mean[i], s.std[i] = r.mean, r.std
    labels[i] = { string.format("%g%%", 100 * info.ratios[i]),
                  string.format("%s calls", tostring(costs[i] and costs[i].llm_calls or "?")) }
  end
  return figures.lines { title = "LLM intent supervision ratio (Figure 5)", ylabel = "NDCG@10 on the test split",
    xlabel = "r: share of training sessions given to the LLM (its calls)", x = info.ratios, xlabels = labels,
    series = { s }, hline = { name = string.format("backbone %.4f", base.mean), value = base.mean },
    caption = info.caption }
end

-- Figure 6: left, a heat map of NDCG@10 over lambda_intent (rows) x lambda_ortho (columns);
-- right, NDCG@10 against K, the neighbour sessions of enrichment. info.lambda = { intent =
-- {...}, ortho = {...}, rows = { [i] = { [j] = row name } } }, info.k = { values = {...}, rows =
-- { row names } }. Returns { lambda = svg, k = svg } (sweep-lambda.svg, sweep-k.svg).
function M.FIGURES.sweep(rep, _, info)
  local m = by_name(rep, "NDCG@10")
  local base = M.summary_of(rep, "NDCG@10")[1]
  local out = {}
  if info.lambda then
    local values, notes, rows, cols = {}, {}, {}, {}
    for i, li in ipairs(info.lambda.intent) do
      rows[i] = string.format("%g", li)
      values[i], notes[i] = {}, {}
      for j, lo in ipairs(info.lambda.ortho) do
        cols[j] = string.format("%g", lo)
        local r = m[info.lambda.rows[i][j]]
        values[i][j] = r and r.mean or 0 / 0
        notes[i][j] = r and string.format("± %.4f", r.std) or nil
      end
    end
    out.lambda = figures.heatmap { title = "Loss weights (Figure 6, left): NDCG@10", values = values, notes = notes,
      rows = rows, cols = cols, rowlabel = "lambda_intent", collabel = "lambda_ortho", scale = "NDCG@10",
      caption = (info.caption or "") .. string.format(" Backbone alone: %.4f.", base.mean) }
  end
  if info.k then
    local s = { name = "SPRINT NDCG@10", mean = {}, std = {} }
    local labels = {}
    for i, kv in ipairs(info.k.values) do
      local r = m[info.k.rows[i]]
      s.mean[i], s.std[i] = r and r.mean or 0 / 0, r and r.std or 0
      labels[i] = kv == 0 and { "0", "(no neighbours)" } or tostring(kv)
    end
    out.k = figures.lines { title = "Neighbour sessions K (Figure 6, right)", ylabel = "NDCG@10 on the test split",
      xlabel = "K: neighbour sessions in collaborative enrichment", x = info.k.values, xlabels = labels,
      series = { s }, hline = { name = string.format("backbone %.4f", base.mean), value = base.mean },
      caption = info.caption }
  end
  return out
end

-- Figure 3: per method, the training time split into the LLM stage and model training, and
-- the inference time over the test split. info.bars = { { name =, llm_seconds =, train_seconds =,
-- test_seconds = } }.
function M.FIGURES.efficiency(_, _, info)
  local train, infer = {}, {}
  for i, b in ipairs(info.bars) do
    train[i] = { name = b.name, parts = { b.llm_seconds or 0, b.warmup_seconds or 0, b.train_seconds or 0 } }
    infer[i] = { name = b.name, parts = { b.test_seconds or 0 } }
  end
  return {
    train = figures.stacked { title = "Training time (Figure 3)", ylabel = "seconds", unit = "s", bars = train,
      parts = { "LLM stage (calls)", "Stage 1 warm-up model", "model training" }, caption = info.caption },
    inference = figures.stacked { title = "Inference time over the test split (Figure 3)", ylabel = "seconds",
      unit = "s", bars = infer, parts = { "ranking the test split" }, caption = info.caption },
  }
end

-- Draws figure `figure` of table `name` and writes it (dir/<name>.svg, or dir/<name>-<part>.svg
-- for a figure of several parts), each checked to be well-formed SVG. Returns the paths.
function M.write_figure(dir, name, figure, rep, costs, info)
  local draw = M.FIGURES[figure]
  if not draw then error("experiments: no figure named '" .. tostring(figure) .. "'", 2) end
  local svg = draw(rep, costs or {}, info or {})
  local parts = type(svg) == "table" and svg or { [""] = svg }
  local keys, paths = {}, {}
  for k in pairs(parts) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local ok, why = figures.well_formed(parts[k])
    if not ok then error("experiments: the figure of " .. name .. " is not well-formed SVG: " .. why, 0) end
    local path = dir .. "/" .. name .. (k ~= "" and ("-" .. k) or "") .. ".svg"
    files.write_atomic(path, parts[k])
    paths[#paths + 1] = path
  end
  return table.concat(paths, ", ")
end

-- The results files (sprint-results-v1 JSON) of a run directory, by name, sorted.
local function results_in(dir)
  local out = {}
  for _, f in ipairs(files.list(dir)) do
    local name = f:match("^(.+)%.json$")
    if name and not name:match("%-stage1$") and not name:match("%-figure$") and not name:match("%-failed$")
        and not name:match("^timing") then
      local text = files.read(dir .. "/" .. f)
      if text and text:find('"sprint-results-v1"', 1, true) then out[#out + 1] = name end
    end
  end
  return out
end

local function decode_file(path)
  local text = files.read(path)
  if not text then return nil end
  local v = require("cjson.safe").decode(text)
  if v == nil then error("experiments: " .. path .. " is not JSON", 0) end
  return v
end

local function esc(s) return figures.escape(s) end

-- Markdown as report.markdown writes it (## headings, pipe tables, paragraphs) as HTML.
local function markdown_html(md)
  local out, in_table, header = {}, false, false
  for line in (md .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^|") then
      local cells = {}
      for c in line:sub(2, -2):gmatch("([^|]*)|?") do cells[#cells + 1] = c:match("^%s*(.-)%s*$") end
      if #cells > 0 and cells[#cells] == "" then cells[#cells] = nil end
      if not in_table then
        out[#out + 1] = "<table>"
        in_table, header = true, true
      end
      if not line:match("^|[%s%-:|]+|$") then
        local tag = header and "th" or "td"
        local row = {}
        for _, c in ipairs(cells) do row[#row + 1] = "<" .. tag .. ">" .. esc(c) .. "</" .. tag .. ">" end
        out[#out + 1] = "<tr>" .. table.concat(row) .. "</tr>"
        header = false
      end
    else
      if in_table then out[#out + 1] = "</table>"; in_table = false end
      local h = line:match("^#+%s+(.*)$")
      if h then out[#out + 1] = "<h3>" .. esc(h) .. "</h3>"
      elseif line:match("%S") then out[#out + 1] = "<p>" .. esc(line) .. "</p>" end
    end
  end
  if in_table then out[#out + 1] = "</table>" end
  return table.concat(out, "\n")
end

-- The SVG files of a run directory that belong to table `name`.
local function svgs_of(dir, name)
  local out = {}
  for _, f in ipairs(files.list(dir)) do
    if f == name .. ".svg" or (f:sub(1, #name + 1) == name .. "-" and f:match("%.svg$")) then out[#out + 1] = f end
  end
  return out
end

-- dir/index.html: every table of the run directory with its figures (inlined) and files.
function M.index_html(dir, names)
  local body = {}
  for _, name in ipairs(names) do
    body[#body + 1] = string.format('<section id="%s"><h2>%s</h2>', esc(name), esc(name))
    body[#body + 1] = markdown_html(files.read(dir .. "/" .. name .. ".md") or "")
    local costs = files.read(dir .. "/" .. name .. "-costs.md") -- efficiency.lua's time table
    if costs then body[#body + 1] = markdown_html(costs) end
    for _, svg in ipairs(svgs_of(dir, name)) do
      body[#body + 1] = string.format('<figure>%s<figcaption><a href="%s">%s</a></figcaption></figure>',
        files.read(dir .. "/" .. svg), esc(svg), esc(svg))
    end
    local links = {}
    for _, f in ipairs({ name .. ".csv", name .. ".json", name .. "-stage1.json", name .. "-failed.json" }) do
      if files.exists(dir .. "/" .. f) then links[#links + 1] = string.format('<a href="%s">%s</a>', esc(f), esc(f)) end
    end
    body[#body + 1] = "<p>Files: " .. table.concat(links, " · ") .. "</p></section>"
  end
  local toc = {}
  for _, name in ipairs(names) do toc[#toc + 1] = string.format('<a href="#%s">%s</a>', esc(name), esc(name)) end
  local html = table.concat({
    "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    "<title>sprint: " .. esc(dir) .. "</title>",
    "<style>body{font-family:DejaVu Sans,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
      .. "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;"
      .. "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
      .. "figure{margin:1em 0}section{border-top:2px solid #ddd;padding-top:.5em}p{font-size:13px}</style>",
    "</head><body>", "<h1>" .. esc(dir) .. "</h1>",
    "<p>Tables and figures of this run directory, rebuilt from its files by <code>sprint report</code>. "
      .. "Contents: " .. table.concat(toc, " · ") .. "</p>",
    table.concat(body, "\n"), "</body></html>", "" }, "\n")
  files.write_atomic(dir .. "/index.html", html)
  return dir .. "/index.html"
end

-- Writes dir/index.html over every results file in dir (what a recipe calls when it is done).
function M.index(dir)
  return M.index_html(dir, results_in(dir))
end

-- Rebuilds a run directory's tables (Markdown, CSV from its JSON), its figures (from
-- <name>-figure.json and <name>-stage1.json) and index.html. Returns the table names.
function M.rebuild(dir, say)
  say = say or print
  local report = require "sprint.report"
  local names = results_in(dir)
  if #names == 0 then error("sprint report: " .. dir .. " holds no results file (<name>.json of a finished run)", 0) end
  for _, name in ipairs(names) do
    local ok, rep = pcall(report.load, dir .. "/" .. name .. ".json")
    if not ok then error("sprint report: " .. tostring(rep), 0) end
    rep:write(dir, name)
    say("table: " .. dir .. "/" .. name .. ".{md,csv}")
    local fig = decode_file(dir .. "/" .. name .. "-figure.json")
    if fig then
      local costs = decode_file(dir .. "/" .. name .. "-stage1.json") or {}
      say("figure: " .. M.write_figure(dir, name, fig.figure, rep, costs, fig.info))
    end
  end
  say("page: " .. M.index_html(dir, names))
  return names
end

return M
