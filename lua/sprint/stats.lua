-- stats.lua — statistics for comparing runs: mean and sample standard deviation over seeds, the
-- paired t-test between two runs over their per-session metric values (two-sided p from
-- Student's t through the regularized incomplete beta function), and the `*` mark for p < 0.05.
--   local t = stats.paired_t(eval.per_session(a, "NDCG@10"), eval.per_session(b, "NDCG@10"))
--   print(t.t, t.df, t.p, stats.mark(t.p))
local M = {}

local abs, exp, log, sqrt = math.abs, math.exp, math.log, math.sqrt

local function numbers(xs, what, level)
  if type(xs) ~= "table" then error(what .. ": expected a list of numbers, got " .. type(xs), level + 1) end
  for i = 1, #xs do
    local x = xs[i]
    if type(x) ~= "number" or x ~= x then
      error(string.format("%s: value %d is %s, not a number", what, i, tostring(x)), level + 1)
    end
  end
  return #xs
end

-- Mean of a list (summed in order); nil for an empty list.
function M.mean(xs)
  local n = numbers(xs, "stats.mean", 2)
  if n == 0 then return nil end
  local s = 0
  for i = 1, n do s = s + xs[i] end
  return s / n
end

-- Sample standard deviation (n - 1 in the denominator, two passes); nil for fewer than 2 values.
function M.std(xs)
  local n = numbers(xs, "stats.std", 2)
  if n < 2 then return nil end
  local m = M.mean(xs)
  local s = 0
  for i = 1, n do s = s + (xs[i] - m) ^ 2 end
  return sqrt(s / (n - 1))
end

-- Median of a list (the mean of the middle two for an even count); nil for an empty list.
function M.median(xs)
  local n = numbers(xs, "stats.median", 2)
  if n == 0 then return nil end
  local c = {}
  for i = 1, n do c[i] = xs[i] end
  table.sort(c)
  return n % 2 == 1 and c[(n + 1) / 2] or 0.5 * (c[n / 2] + c[n / 2 + 1])
end

-- { mean, std, n } of a list (std nil below 2 values).
function M.summary(xs)
  return { mean = M.mean(xs), std = M.std(xs), n = #xs }
end

-- The element-wise mean of equally long lists (e.g. per-session values over seeds).
function M.mean_of(lists)
  if type(lists) ~= "table" or #lists == 0 then error("stats.mean_of: expected a non-empty list of lists", 2) end
  local n = numbers(lists[1], "stats.mean_of", 2)
  local out = {}
  for i = 1, n do out[i] = 0 end
  for j = 1, #lists do
    if numbers(lists[j], "stats.mean_of", 2) ~= n then
      error(string.format("stats.mean_of: list %d has %d values, list 1 has %d", j, #lists[j], n), 2)
    end
    for i = 1, n do out[i] = out[i] + lists[j][i] end
  end
  for i = 1, n do out[i] = out[i] / #lists end
  return out
end

-- ---- special functions ------------------------------------------------------------------------

-- log Γ(x) for x > 0: the Lanczos series of Numerical Recipes (3rd ed., gammln: g = 671/128,
-- 14 terms), ~1e-15 relative.
local LANCZOS = { 57.1562356658629235, -59.5979603554754912, 14.1360979747417471, -0.491913816097620199,
  0.339946499848118887e-4, 0.465236289270485756e-4, -0.983744753048795646e-4, 0.158088703224912494e-3,
  -0.210264441724104883e-3, 0.217439618115212643e-3, -0.164318106536763890e-3, 0.844182239838527433e-4,
  -0.261908384015814087e-4, 0.368991826595316234e-5 }
local function lgamma(x)
  if not (x > 0) then error("stats.lgamma: x must be > 0, got " .. tostring(x), 2) end
  local y, tmp = x, x + 5.24218750000000000
  tmp = (x + 0.5) * log(tmp) - tmp
  local ser = 0.999999999999997092
  for j = 1, 14 do
    y = y + 1
    ser = ser + LANCZOS[j] / y
  end
  return tmp + log(2.5066282746310005 * ser / x)
end
M.lgamma = lgamma

-- The continued fraction of I_x(a, b) (modified Lentz), valid for x < (a + 1) / (a + b + 2).
local function betacf(a, b, x)
  local TINY, EPS = 1e-300, 1e-16
  local qab, qap, qam = a + b, a + 1, a - 1
  local c, d = 1, 1 - qab * x / qap
  if abs(d) < TINY then d = TINY end
  d = 1 / d
  local h = d
  for m = 1, 10000 do
    local m2 = 2 * m
    local aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if abs(d) < TINY then d = TINY end
    c = 1 + aa / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    h = h * d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if abs(d) < TINY then d = TINY end
    c = 1 + aa / c
    if abs(c) < TINY then c = TINY end
    d = 1 / d
    local del = d * c
    h = h * del
    if abs(del - 1) < EPS then return h end
  end
  error(string.format("stats.betainc: no convergence for a = %g, b = %g, x = %g", a, b, x), 3)
end

-- The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. y = 1 - x may be
-- given when it is known more precisely than 1 - x (x near 1).
function M.betainc(x, a, b, y)
  if type(x) ~= "number" or type(a) ~= "number" or type(b) ~= "number" or x ~= x then
    error("stats.betainc(x, a, b): numbers expected", 2)
  end
  if not (a > 0 and b > 0) then error(string.format("stats.betainc: a = %g and b = %g must be > 0", a, b), 2) end
  if x < 0 or x > 1 then error(string.format("stats.betainc: x = %g is outside [0, 1]", x), 2) end
  y = y or (1 - x)
  if x == 0 then return 0 end
  if y == 0 then return 1 end
  local front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y))
  if x < (a + 1) / (a + b + 2) then return front * betacf(a, b, x) / a end
  return 1 - front * betacf(b, a, y) / b
end

-- Two-sided p-value of Student's t with df degrees of freedom: P(|T| >= |t|).
function M.t_pvalue(t, df)
  if type(t) ~= "number" or t ~= t then error("stats.t_pvalue: t must be a number", 2) end
  if type(df) ~= "number" or not (df > 0) then error("stats.t_pvalue: df must be > 0", 2) end
  if t == math.huge or t == -math.huge then return 0 end
  local t2 = t * t
  return M.betainc(df / (df + t2), df / 2, 0.5, t2 / (df + t2))
end

-- Student's t distribution function P(T <= t).
function M.t_cdf(t, df)
  local half = 0.5 * M.t_pvalue(t, df)
  return t >= 0 and 1 - half or half
end

-- ---- tests ------------------------------------------------------------------------------------

-- Paired t-test of a against b (equally long lists, pairs by index: the same sessions):
-- { t, df, p (two-sided), n, mean_diff (a - b), sd_diff }. Identical differences give t = 0,
-- p = 1 when they are all zero, else t = ±inf, p = 0.
function M.paired_t(a, b)
  local n = numbers(a, "stats.paired_t", 2)
  if numbers(b, "stats.paired_t", 2) ~= n then
    error(string.format("stats.paired_t: the runs have %d and %d values; pairs must match", n, #b), 2)
  end
  if n < 2 then error("stats.paired_t: needs at least 2 pairs, got " .. n, 2) end
  local d = {}
  for i = 1, n do d[i] = a[i] - b[i] end
  local m, sd = M.mean(d), M.std(d)
  local res = { n = n, df = n - 1, mean_diff = m, sd_diff = sd }
  if sd == 0 then
    res.t = m == 0 and 0 or (m > 0 and math.huge or -math.huge)
    res.p = m == 0 and 1 or 0
  else
    res.t = m / (sd / sqrt(n))
    res.p = M.t_pvalue(res.t, n - 1)
  end
  return res
end

-- "*" when p < alpha (default 0.05), else "".
function M.mark(p, alpha)
  if p == nil then return "" end
  return p < (alpha or 0.05) and "*" or ""
end

return M
