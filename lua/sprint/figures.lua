-- figures.lua — standalone SVG figures written by the project (no plotting runtime): grouped
-- bars with error bars (the paper's Figure 4), lines with error bands (Figures 5 and 6, right),
-- stacked bars (Figure 3) and a heat map (Figure 6, left), each with
-- axis labels, a legend and a caption naming the seeds and settings. Text is XML-escaped; the
-- output is one <svg> element a browser shows as it is.
--   local svg = figures.bars { title = "...", caption = "...", ylabel = "NDCG@10",
--     groups = { "H@10", "N@10" }, series = { { name = "random", mean = { .09, .05 }, std = { .01, .004 } } } }
--   local svg = figures.lines { title = "...", caption = "...", xlabel = "r (%)", ylabel = "NDCG@10",
--     x = { 0, 1, 5 }, xlabels = { "0%", { "1%", "103 calls" }, ... },
--     series = { { name = "SPRINT", mean = {...}, std = {...} } }, hline = { name =, value = } }
local M = {}

local W, H = 720, 440
local LEFT, RIGHT, TOP, BOTTOM = 80, 190, 50, 110
local COLOURS = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf" }

function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
                                         ["'"] = "&#39;" }))
end
local esc = M.escape

local function num(x) return string.format("%.2f", x) end

-- Round axis ticks covering [lo, hi]: about 5 steps of 1, 2 or 5 times a power of ten.
local function ticks(lo, hi)
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / 5
  local p = 10 ^ math.floor(math.log10(raw))
  local step = p
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if raw <= m * p then step = m * p break end
  end
  local out = {}
  local first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
  for k = first, last do out[#out + 1] = k * step end
  return out, step
end

local function tick_text(t, step)
  local digits = math.max(0, -math.floor(math.log10(step) + 1e-9))
  return string.format(string.format("%%.%df", digits), t) -- %d: never "-0" (a step of 1 or more)
end

-- The figure's first two parts: the <svg> element and its white background, height h.
local function header(parts, h)
  parts[1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
    .. 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">', W, h, W, h)
  parts[2] = string.format('<rect x="0" y="0" width="%d" height="%d" fill="white"/>', W, h)
end

-- The caption under the plot, wrapped at ~110 characters; the figure grows to hold it.
local function caption(parts, text)
  local line, lines = "", {}
  for word in tostring(text or ""):gmatch("%S+") do
    if #line + #word + 1 > 110 then lines[#lines + 1], line = line, word else line = line == "" and word or (line .. " " .. word) end
  end
  if line ~= "" then lines[#lines + 1] = line end
  for i, l in ipairs(lines) do
    parts[#parts + 1] = string.format('<text x="12" y="%d" font-size="11" fill="#444">%s</text>', H - BOTTOM + 60 + 14 * (i - 1),
      esc(l))
  end
  header(parts, H + math.max(0, #lines - 3) * 14)
end

-- The frame: title, axes with ticks on y, labels, caption lines; returns parts and the y map.
local function frame(o, ymin, ymax)
  local ts, step = ticks(ymin, ymax)
  ymin, ymax = ts[1], ts[#ts]
  local ph = H - TOP - BOTTOM
  local function y(v) return TOP + ph - (v - ymin) / (ymax - ymin) * ph end
  local parts = { "", "", -- the header, once the caption's height is known
    string.format('<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>', LEFT, esc(o.title or "")),
  }
  for _, t in ipairs(ts) do
    parts[#parts + 1] = string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#ddd"/>', LEFT, num(y(t)),
      W - RIGHT, num(y(t)))
    parts[#parts + 1] = string.format('<text x="%d" y="%s" text-anchor="end">%s</text>', LEFT - 6, num(y(t) + 4),
      esc(tick_text(t, step)))
  end
  parts[#parts + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', LEFT, TOP, LEFT, TOP + ph)
  parts[#parts + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', LEFT, TOP + ph,
    W - RIGHT, TOP + ph)
  parts[#parts + 1] = string.format('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">%s</text>',
    TOP + ph / 2, TOP + ph / 2, esc(o.ylabel or ""))
  if o.xlabel then
    parts[#parts + 1] = string.format('<text x="%d" y="%d" text-anchor="middle">%s</text>', LEFT + (W - LEFT - RIGHT) / 2,
      TOP + ph + 48, esc(o.xlabel))
  end
  caption(parts, o.caption)
  return parts, y, TOP + ph
end

local function legend(parts, names)
  for i, name in ipairs(names) do
    local yy = TOP + 10 + 20 * (i - 1)
    parts[#parts + 1] = string.format('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>', W - RIGHT + 14, yy - 10,
      COLOURS[(i - 1) % #COLOURS + 1])
    parts[#parts + 1] = string.format('<text x="%d" y="%d">%s</text>', W - RIGHT + 32, yy, esc(name))
  end
end

local function range(series, floor_at_zero)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(series) do
    for i, m in ipairs(s.mean) do
      local e = s.std and s.std[i] or 0
      lo, hi = math.min(lo, m - e), math.max(hi, m + e)
    end
  end
  if floor_at_zero then lo = 0 end
  return lo, hi
end

local function check(o, what)
  if type(o) ~= "table" or type(o.series) ~= "table" or #o.series == 0 then
    error("figures." .. what .. ": needs series = { { name =, mean = {...}, std = {...} }, ... }", 3)
  end
end

-- Grouped bars: one group per o.groups entry, one bar per series, error bars of ± std.
function M.bars(o)
  check(o, "bars")
  local lo, hi = range(o.series, true)
  local parts, y, base = frame(o, lo, hi)
  local pw = W - LEFT - RIGHT
  local ng, ns = #o.groups, #o.series
  local gw = pw / ng
  local bw = gw * 0.8 / ns
  for g, gname in ipairs(o.groups) do
    local gx = LEFT + (g - 1) * gw + gw * 0.1
    parts[#parts + 1] = string.format('<text x="%s" y="%d" text-anchor="middle">%s</text>', num(LEFT + (g - 0.5) * gw),
      base + 18, esc(gname))
    for s, ser in ipairs(o.series) do
      local m, e = ser.mean[g], ser.std and ser.std[g] or 0
      local x = gx + (s - 1) * bw
      parts[#parts + 1] = string.format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>',
        num(x), num(y(m)), num(bw * 0.9), num(base - y(m)), COLOURS[(s - 1) % #COLOURS + 1], esc(ser.name),
        esc(string.format("%.4f ± %.4f", m, e)))
      local cx = x + bw * 0.45
      parts[#parts + 1] = string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', num(cx), num(y(m - e)),
        num(cx), num(y(m + e)))
    end
  end
  local names = {}
  for i, s in ipairs(o.series) do names[i] = s.name end
  legend(parts, names)
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n") .. "\n"
end

-- Lines over o.x (drawn at even spacing, labelled with o.xlabels or the values), each series
-- with a band of ± std; o.hline = { name, value } draws a dashed reference (e.g. the backbone).
function M.lines(o)
  check(o, "lines")
  local lo, hi = range(o.series, false)
  if o.hline then lo, hi = math.min(lo, o.hline.value), math.max(hi, o.hline.value) end
  local pad = (hi - lo) * 0.1
  local parts, y, base = frame(o, lo - pad, hi + pad)
  local pw = W - LEFT - RIGHT
  local n = #o.x
  local function x(i) return LEFT + (n == 1 and pw / 2 or (i - 1) / (n - 1) * (pw - 40) + 20) end
  for i, v in ipairs(o.x) do -- a label may be { "first line", "second line" }
    local label = o.xlabels and o.xlabels[i] or tostring(v)
    if type(label) ~= "table" then label = { label } end
    for k, l in ipairs(label) do
      parts[#parts + 1] = string.format('<text x="%s" y="%d" text-anchor="middle"%s>%s</text>', num(x(i)),
        base + 18 + 13 * (k - 1), k > 1 and ' font-size="10" fill="#555"' or "", esc(l))
    end
  end
  local names = {}
  for s, ser in ipairs(o.series) do
    local colour = COLOURS[(s - 1) % #COLOURS + 1]
    names[#names + 1] = ser.name
    if ser.std then
      local band = {}
      for i = 1, n do band[#band + 1] = num(x(i)) .. "," .. num(y(ser.mean[i] + ser.std[i])) end
      for i = n, 1, -1 do band[#band + 1] = num(x(i)) .. "," .. num(y(ser.mean[i] - ser.std[i])) end
      parts[#parts + 1] = string.format('<polygon points="%s" fill="%s" fill-opacity="0.18" stroke="none"/>',
        table.concat(band, " "), colour)
    end
    local pts = {}
    for i = 1, n do pts[i] = num(x(i)) .. "," .. num(y(ser.mean[i])) end
    parts[#parts + 1] = string.format('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>',
      table.concat(pts, " "), colour)
    for i = 1, n do
      parts[#parts + 1] = string.format('<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s</title></circle>', num(x(i)),
        num(y(ser.mean[i])), colour, esc(string.format("%s at %s: %.4f", ser.name, tostring(o.x[i]), ser.mean[i])))
    end
  end
  if o.hline then
    parts[#parts + 1] = string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#555" stroke-dasharray="6 4"/>',
      LEFT, num(y(o.hline.value)), W - RIGHT, num(y(o.hline.value)))
    parts[#parts + 1] = string.format('<text x="%d" y="%s" font-size="11" fill="#555">%s</text>', W - RIGHT + 4,
      num(y(o.hline.value) + 4), esc(o.hline.name))
  end
  legend(parts, names)
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n") .. "\n"
end

-- Stacked bars: one bar per o.bars entry ({ name =, parts = { v1, v2, ... } }), its parts in
-- the order of o.parts (their names, for the legend), a total printed above each bar; o.unit
-- follows the numbers ("s").
function M.stacked(o)
  if type(o) ~= "table" or type(o.bars) ~= "table" or #o.bars == 0 or type(o.parts) ~= "table" then
    error("figures.stacked: needs bars = { { name =, parts = { ... } } } and parts = { names }", 2)
  end
  local hi = 0
  for _, b in ipairs(o.bars) do
    local t = 0
    for _, v in ipairs(b.parts) do t = t + v end
    hi = math.max(hi, t)
  end
  local parts, y, base = frame(o, 0, hi * 1.08)
  local pw = W - LEFT - RIGHT
  local bw = pw / #o.bars
  for i, b in ipairs(o.bars) do
    local x, acc = LEFT + (i - 1) * bw + bw * 0.2, 0
    for p, v in ipairs(b.parts) do
      parts[#parts + 1] = string.format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>',
        num(x), num(y(acc + v)), num(bw * 0.6), num(y(acc) - y(acc + v)), COLOURS[(p - 1) % #COLOURS + 1],
        esc(o.parts[p]), esc(string.format("%.3g %s", v, o.unit or "")))
      acc = acc + v
    end
    parts[#parts + 1] = string.format('<text x="%s" y="%s" text-anchor="middle" font-size="11">%s</text>',
      num(x + bw * 0.3), num(y(acc) - 4), esc(string.format("%.3g %s", acc, o.unit or "")))
    local label = type(b.name) == "table" and b.name or { b.name }
    for k, l in ipairs(label) do
      parts[#parts + 1] = string.format('<text x="%s" y="%d" text-anchor="middle"%s>%s</text>', num(x + bw * 0.3),
        base + 18 + 13 * (k - 1), k > 1 and ' font-size="10" fill="#555"' or "", esc(l))
    end
  end
  legend(parts, o.parts)
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n") .. "\n"
end

-- A heat map: o.values[r][c] over rows o.rows (labels, top to bottom) and columns o.cols,
-- each cell coloured on a white-to-blue scale from the smallest to the largest value and
-- labelled with its value (o.digits, default 4) and o.notes[r][c] if given (e.g. "± std");
-- o.rowlabel and o.collabel name the axes; a scale bar stands for the legend.
function M.heatmap(o)
  if type(o) ~= "table" or type(o.values) ~= "table" or #o.values == 0 then
    error("figures.heatmap: needs values = { { ... }, ... }, rows and cols", 2)
  end
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(o.values) do
    for _, v in ipairs(row) do
      if v == v then lo, hi = math.min(lo, v), math.max(hi, v) end
    end
  end
  if hi <= lo then hi = lo + 1e-12 end
  local function colour(v)
    if v ~= v then return "#eeeeee" end
    local t = (v - lo) / (hi - lo)
    local function mix(a, b) return math.floor(a + (b - a) * t + 0.5) end
    return string.format("#%02x%02x%02x", mix(247, 8), mix(251, 69), mix(255, 148))
  end
  local parts = { "", "", -- the header, once the caption's height is known
    string.format('<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>', LEFT, esc(o.title or "")),
  }
  local nr, nc = #o.values, #o.values[1]
  local pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
  local cw, ch = pw / nc, ph / nr
  local digits = o.digits or 4
  for r = 1, nr do
    for c = 1, nc do
      local v = o.values[r][c]
      local x, yy = LEFT + (c - 1) * cw, TOP + (r - 1) * ch
      parts[#parts + 1] = string.format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="white"/>', num(x),
        num(yy), num(cw), num(ch), colour(v))
      local dark = v == v and (v - lo) / (hi - lo) > 0.55
      local text = v == v and string.format("%." .. digits .. "f", v) or "-"
      parts[#parts + 1] = string.format('<text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>', num(x + cw / 2),
        num(yy + ch / 2 + (o.notes and -2 or 4)), dark and "white" or "black", esc(text))
      local note = o.notes and o.notes[r] and o.notes[r][c]
      if note then
        parts[#parts + 1] = string.format('<text x="%s" y="%s" text-anchor="middle" font-size="10" fill="%s">%s</text>',
          num(x + cw / 2), num(yy + ch / 2 + 12), dark and "white" or "#333", esc(note))
      end
    end
  end
  for r = 1, nr do
    parts[#parts + 1] = string.format('<text x="%d" y="%s" text-anchor="end">%s</text>', LEFT - 6,
      num(TOP + (r - 0.5) * ch + 4), esc(o.rows[r]))
  end
  for c = 1, nc do
    parts[#parts + 1] = string.format('<text x="%s" y="%d" text-anchor="middle">%s</text>', num(LEFT + (c - 0.5) * cw),
      TOP + ph + 18, esc(o.cols[c]))
  end
  parts[#parts + 1] = string.format('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">%s</text>',
    TOP + ph / 2, TOP + ph / 2, esc(o.rowlabel or ""))
  parts[#parts + 1] = string.format('<text x="%d" y="%d" text-anchor="middle">%s</text>', LEFT + pw / 2, TOP + ph + 40,
    esc(o.collabel or ""))
  -- the scale: lowest to highest value
  local sx = W - RIGHT + 20
  for i = 0, 9 do
    parts[#parts + 1] = string.format('<rect x="%d" y="%s" width="16" height="%s" fill="%s"/>', sx,
      num(TOP + ph - (i + 1) * ph / 10), num(ph / 10 + 0.5), colour(lo + (hi - lo) * (i + 0.5) / 10))
  end
  parts[#parts + 1] = string.format('<text x="%d" y="%d" font-size="11">%s</text>', sx + 22, TOP + 10,
    esc(string.format("%." .. digits .. "f", hi)))
  parts[#parts + 1] = string.format('<text x="%d" y="%d" font-size="11">%s</text>', sx + 22, TOP + ph,
    esc(string.format("%." .. digits .. "f", lo)))
  parts[#parts + 1] = string.format('<text x="%d" y="%d" font-size="11">%s</text>', sx, TOP - 8, esc(o.scale or ""))
  caption(parts, o.caption)
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n") .. "\n"
end

-- Checks that text is one well-formed <svg> element: every tag closed in order, attribute values
-- quoted, no bare & or < in text. Returns true, or false and the first problem.
function M.well_formed(text)
  if not text:match("^%s*<svg[%s>]") then return false, "does not start with <svg" end
  local stack, pos = {}, 1
  while true do
    local s, e, body = text:find("<([^>]*)>", pos)
    local between = text:sub(pos, (s or #text + 1) - 1)
    if between:find("<", 1, true) then return false, "a bare < in text near byte " .. pos end
    for amp in between:gmatch("&[^;%s]*;?") do
      if not amp:match("^&[#%w]+;$") then return false, "a bare & in text near byte " .. pos end
    end
    if not s then break end
    local closing, name, rest = body:match("^(/?)([%w:_%-]+)(.-)$")
    if not name then return false, "a malformed tag <" .. body .. "> at byte " .. s end
    local self_closing = rest:sub(-1) == "/"
    if self_closing then rest = rest:sub(1, -2) end
    local attrs = rest:gsub('%s+[%w:_%-]+="[^"]*"', "")
    if attrs:match("%S") then return false, "an unquoted or malformed attribute in <" .. body .. "> at byte " .. s end
    if closing == "/" then
      if stack[#stack] ~= name then
        return false, string.format("</%s> at byte %d closes <%s>", name, s, tostring(stack[#stack]))
      end
      stack[#stack] = nil
    elseif not self_closing then
      stack[#stack + 1] = name
    end
    pos = e + 1
  end
  if #stack > 0 then return false, "<" .. stack[#stack] .. "> is never closed" end
  return true
end

return M
