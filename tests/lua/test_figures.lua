-- test_figures.lua — sprint.figures: grouped bars and lines with bands as well-formed SVG (the
-- checker itself catches what a browser would refuse), text escaped, bar heights proportional
-- to the values from a zero baseline, every series in the legend, the caption kept.
local figures = require "sprint.figures"
local h = require "helpers"

local tests = {}

local function bars()
  return figures.bars { title = "A <title> & more", ylabel = "NDCG@10", caption = "5 seeds (1-5); ties: pessimistic",
    groups = { "H@10", "N@10" }, series = {
      { name = "Backbone", mean = { 0.10, 0.05 }, std = { 0.02, 0.01 } },
      { name = "SPRINT \"uncertainty\"", mean = { 0.20, 0.05 }, std = { 0.01, 0.005 } } } }
end

function tests.bars_are_well_formed_escaped_and_proportional()
  local svg = bars()
  h.truthy(figures.well_formed(svg))
  h.truthy(svg:find("A &lt;title&gt; &amp; more", 1, true), "the title is escaped")
  h.truthy(svg:find("SPRINT &quot;uncertainty&quot;", 1, true), "legend names are escaped")
  h.truthy(svg:find("5 seeds (1-5); ties: pessimistic", 1, true), "the caption")
  local heights = {}
  for hgt in svg:gmatch('<rect x="[%d.]+" y="[%d.]+" width="[%d.]+" height="([%d.]+)" fill="#%x+"><title>') do
    heights[#heights + 1] = tonumber(hgt)
  end
  -- bars in order: group H@10 (0.10, 0.20), group N@10 (0.05, 0.05)
  h.eq(#heights, 4)
  h.near(heights[2] / heights[1], 2, 0.02)
  h.near(heights[3], heights[4], 1e-9)
end

function tests.lines_draw_a_band_per_series_and_the_reference()
  local svg = figures.lines { title = "ratio", xlabel = "r", ylabel = "NDCG@10", caption = "c", x = { 0, 0.1, 1 },
    xlabels = { "0%", "10%", "100%" }, series = { { name = "SPRINT", mean = { 0.048, 0.050, 0.045 },
    std = { 0.005, 0.005, 0.003 } } }, hline = { name = "backbone 0.0478", value = 0.0478 } }
  h.truthy(figures.well_formed(svg))
  local _, polys = svg:gsub("<polygon", "")
  local _, lines = svg:gsub("<polyline", "")
  local _, dots = svg:gsub("<circle", "")
  h.eq(polys, 1)
  h.eq(lines, 1)
  h.eq(dots, 3)
  h.truthy(svg:find("backbone 0.0478", 1, true) and svg:find("stroke-dasharray", 1, true))
  h.truthy(svg:find(">10%<", 1, true), "x labels")
end

function tests.the_checker_refuses_malformed_svg()
  local good = bars()
  for what, bad in pairs({
    unclosed = good:gsub("</svg>%s*$", ""),
    mismatched = good:gsub("</text>", "</rect>", 1),
    bare_amp = good:gsub("&amp;", "&", 1),
    unquoted = good:gsub('width="720"', "width=720", 1),
    not_svg = "<html></html>",
  }) do
    h.truthy(not figures.well_formed(bad), what .. " must be refused")
  end
  h.raises("needs series", figures.bars, { groups = {} })
end

return tests
