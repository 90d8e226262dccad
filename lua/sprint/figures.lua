-- figures.lua — standalone SVG figures written by the project (no plotting runtime): grouped
-- bars with error bars (the paper's Figure 4) and lines with error bands (Figure 5), each with
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
  return string.format("%." .. digits .. "f", t)
end

-- The frame: title, axes with ticks on y, labels, caption lines; returns parts and the y map.
local function frame(o, ymin, ymax)
  local ts, step = ticks(ymin, ymax)
  ymin, ymax = ts[1], ts[#ts]
  local ph = H - TOP - BOTTOM
  local function y(v) return TOP + ph - (v - ymin) / (ymax - ymin) * ph end
  local parts = {
    string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
      .. 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">', W, H, W, H),
    string.format('<rect x="0" y="0" width="%d" height="%d" fill="white"/>', W, H),
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
  -- the caption, wrapped at ~110 characters
  local line, lines = "", {}
  for word in tostring(o.caption or ""):gmatch("%S+") do
    if #line + #word + 1 > 110 then lines[#lines + 1], line = line, word else line = line == "" and word or (line .. " " .. word) end
  end
  if line ~= "" then lines[#lines + 1] = line end
  for i, l in ipairs(lines) do
    parts[#parts + 1] = string.format('<text x="12" y="%d" font-size="11" fill="#444">%s</text>', H - BOTTOM + 60 + 14 * (i - 1),
      esc(l))
  end
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
