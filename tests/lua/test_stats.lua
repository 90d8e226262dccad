-- test_stats.lua — sprint.stats against known values (computed to 17 digits with mpmath): the
-- regularized incomplete beta function, Student's t p-values from 1 to 10^6 degrees of freedom
-- and far into the tail, the paired t-test, mean and sample standard deviation, the * mark.
local stats = require "sprint.stats"
local h = require "helpers"

local tests = {}

-- |got - want| <= rel * |want| (relative precision)
local function close(got, want, rel, what)
  if not (math.abs(got - want) <= rel * math.abs(want)) then
    error(string.format("%s: got %.17g, want %.17g (relative %.1e)", what or "value", got, want, rel), 2)
  end
end

function tests.incomplete_beta_known_values()
  close(stats.betainc(0.5, 2, 3), 0.6875, 1e-14, "I_0.5(2, 3)")
  close(stats.betainc(0.2, 0.5, 0.5), 0.29516723530086656, 1e-13, "I_0.2(1/2, 1/2)")
  close(stats.betainc(0.3, 5, 7), 0.21030461729999998, 1e-13, "I_0.3(5, 7)")
  close(stats.betainc(0.99999, 50000, 0.5), 0.31731050785796599, 1e-9, "I_0.99999(50000, 1/2)")
  -- closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b
  for _, x in ipairs({ 0.01, 0.3, 0.5, 0.77, 0.999 }) do
    close(stats.betainc(x, 1, 1), x, 1e-14, "I_x(1, 1)")
    close(stats.betainc(x, 3.5, 1), x ^ 3.5, 1e-13, "I_x(3.5, 1)")
    close(stats.betainc(x, 1, 2.5), 1 - (1 - x) ^ 2.5, 1e-13, "I_x(1, 2.5)")
    -- symmetry: I_x(a, b) = 1 - I_{1-x}(b, a)
    close(stats.betainc(x, 2.2, 7.1) + stats.betainc(1 - x, 7.1, 2.2), 1, 1e-14, "symmetry")
  end
  h.eq(stats.betainc(0, 2, 3), 0)
  h.eq(stats.betainc(1, 2, 3), 1)
  h.raises("outside [0, 1]", function() stats.betainc(1.5, 1, 1) end)
  h.raises("must be > 0", function() stats.betainc(0.5, 0, 1) end)
end

function tests.lgamma_known_values()
  h.near(stats.lgamma(1), 0, 1e-14)
  h.near(stats.lgamma(2), 0, 1e-14)
  close(stats.lgamma(0.5), 0.5 * math.log(math.pi), 1e-14, "lgamma(1/2)")
  close(stats.lgamma(10), math.log(362880), 1e-14, "lgamma(10) = log 9!")
  close(stats.lgamma(100.5), 361.4355404677776, 1e-14, "lgamma(100.5)")
  close(stats.lgamma(1e-5), 11.512919692895824, 1e-14, "lgamma near 0")
  h.raises("x must be > 0", function() stats.lgamma(0) end)
end

function tests.t_pvalues_known_values()
  close(stats.t_pvalue(2.0, 10), 0.073388034770740366, 1e-12, "t = 2, 10 d.o.f.")
  close(stats.t_pvalue(-2.0, 10), 0.073388034770740366, 1e-12, "two-sided: the sign does not matter")
  close(stats.t_pvalue(1, 1), 0.5, 1e-14, "Cauchy: P(|T| > 1) = 1/2")
  close(stats.t_pvalue(2, 2), 0.18350341907227397, 1e-13, "2 d.o.f.: 1 - t / sqrt(2 + t^2)")
  close(stats.t_pvalue(2.228138851986, 10), 0.050000000000023297, 1e-10, "the 5% critical value")
  close(stats.t_pvalue(0.5, 3), 0.65144796484815099, 1e-12, "t = 0.5, 3 d.o.f.")
  close(stats.t_pvalue(3.5, 4), 0.024896163460222752, 1e-12, "t = 3.5, 4 d.o.f.")
  close(stats.t_pvalue(10, 10), 1.589553175596412e-6, 1e-10, "the tail")
  close(stats.t_pvalue(40, 30), 1.3726045194406403e-27, 1e-9, "far in the tail")
  close(stats.t_pvalue(1.959963984540054, 1e6), 0.05000027729522166, 1e-8, "nearly normal")
  close(stats.t_pvalue(1.3, 200000), 0.19360246735916848, 1e-9, "many sessions")
  h.eq(stats.t_pvalue(0, 5), 1)
  h.eq(stats.t_pvalue(math.huge, 5), 0)
  close(stats.t_cdf(2.0, 10), 1 - 0.073388034770740366 / 2, 1e-14, "cdf")
  close(stats.t_cdf(-2.0, 10), 0.073388034770740366 / 2, 1e-12, "cdf below 0")
  h.raises("df must be > 0", function() stats.t_pvalue(1, 0) end)
end

function tests.median_known_values()
  h.eq(stats.median({ 3, 1, 2 }), 2)
  h.eq(stats.median({ 4, 1, 3, 2 }), 2.5)
  h.eq(stats.median({ 7 }), 7)
  h.eq(stats.median({}), nil)
  local xs = { 5, 1, 4 }
  stats.median(xs)
  h.eq(xs[1], 5, "the list is left unsorted")
end

function tests.paired_t_test()
  local a = { 0.9, 0.4, 0.7, 0.2, 0.8, 0.5 }
  local b = { 0.6, 0.5, 0.3, 0.1, 0.4, 0.5 }
  local r = stats.paired_t(a, b)
  h.eq(r.n, 6)
  h.eq(r.df, 5)
  close(r.mean_diff, 0.18333333333333334, 1e-14, "mean difference")
  close(r.sd_diff, 0.21369760566432808, 1e-13, "sd of the differences")
  close(r.t, 2.1014419797273929, 1e-13, "t")
  close(r.p, 0.089589173929341188, 1e-12, "p")
  h.eq(stats.mark(r.p), "")
  local back = stats.paired_t(b, a)
  close(back.t, -2.1014419797273929, 1e-13, "t swaps sign")
  close(back.p, r.p, 1e-15, "p does not")
  -- identical runs: no difference at all; a constant shift: certain
  local same = stats.paired_t(a, a)
  h.eq(same.t, 0)
  h.eq(same.p, 1)
  local sh = stats.paired_t({ 3, 4, 5, 6 }, { 1, 2, 3, 4 })
  h.eq(sh.p, 0)
  h.eq(sh.t, math.huge)
  h.eq(stats.mark(sh.p), "*")
  h.raises("pairs must match", function() stats.paired_t({ 1, 2, 3 }, { 1, 2 }) end)
  h.raises("at least 2 pairs", function() stats.paired_t({ 1 }, { 2 }) end)
  h.raises("value 2 is", function() stats.paired_t({ 1, 0 / 0 }, { 1, 2 }) end)
end

function tests.mean_std_and_marks()
  local xs = { 0.0297, 0.0310, 0.0288, 0.0301, 0.0305 }
  close(stats.mean(xs), 0.030019999999999999, 1e-14, "mean")
  close(stats.std(xs), 0.00083486525858967208, 1e-12, "sample std (n - 1)")
  local s = stats.summary(xs)
  h.eq(s.n, 5)
  close(s.std, 0.00083486525858967208, 1e-12, "summary std")
  h.eq(stats.std({ 1 }), nil, "one seed has no spread")
  h.eq(stats.mean({}), nil)
  h.near(stats.mean_of({ { 1, 2, 3 }, { 3, 2, 1 } }), { 2, 2, 2 }, 0)
  h.raises("list 2 has 2 values", function() stats.mean_of({ { 1, 2, 3 }, { 3, 2 } }) end)
  h.eq(stats.mark(0.049), "*")
  h.eq(stats.mark(0.05), "")
  h.eq(stats.mark(0.009, 0.01), "*")
  h.eq(stats.mark(nil), "")
end

return tests
