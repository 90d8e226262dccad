-- intents/stage1_report.lua — Stage 1's report (stage1.md for people, stage1.json for
-- programs): hard sessions and what became of them, acceptance by try, the pool's size over
-- time, intents per session, hard negatives, calls, tokens, cost, wall time, and the template
-- files used with their SHA-256, so two prompt versions can be told apart in results.
local json = require "sprint.llm.json"
local files = require "sprint.files"

local M = {}

local function median(xs)
  local c = {}
  for i, x in ipairs(xs) do c[i] = x end
  table.sort(c)
  local n = #c
  if n == 0 then return 0 end
  return n % 2 == 1 and c[(n + 1) / 2] or 0.5 * (c[n / 2] + c[n / 2 + 1])
end

-- The figures of a finished (or stopped) stage as a plain table.
function M.figures(o, result, info)
  local f = { provider = o.client.name, standin = o.client.standin or false, mode = info.mode,
              hard_sessions = #info.hard, finished = 0, accepted = 0, rejected = 0,
              unfinished = #info.hard, by_try = {}, intents_per_session = {}, hard_negatives = 0,
              sessions_with_hard_negatives = 0, wall_seconds = info.wall_seconds, stopped = result.stopped,
              deferred = result.deferred, batch_file = result.batch_file, max_tries = o.max_tries,
              candidates = o.candidates, seed = o.seed, domain = o.domain, templates = o.templates:describe() }
  for t = 1, o.max_tries do f.by_try[t] = 0 end
  local counts = {}
  for _, r in pairs(result.records) do
    f.finished = f.finished + 1
    if r.status == "accepted" then
      f.accepted = f.accepted + 1
      f.by_try[r.accepted_try] = (f.by_try[r.accepted_try] or 0) + 1
      counts[#counts + 1] = #r.intents
    else
      f.rejected = f.rejected + 1
    end
    if #r.hard_negatives > 0 then
      f.sessions_with_hard_negatives = f.sessions_with_hard_negatives + 1
      f.hard_negatives = f.hard_negatives + #r.hard_negatives
    end
  end
  f.unfinished = #info.hard - f.finished
  f.acceptance = f.finished > 0 and f.accepted / f.finished or 0
  f.intents_per_session = { mean = #counts > 0 and (function() local s = 0 for _, c in ipairs(counts) do s = s + c end return s / #counts end)() or 0,
                            median = median(counts), max = #counts > 0 and math.max(unpack(counts)) or 0 }
  local pool = result.pool
  local initial = 0
  for _, e in ipairs(pool.entries) do if e.source == "initial" then initial = initial + 1 end end
  f.pool = { initial = initial, final = pool:size(), added = pool:size() - initial, history = pool.history }
  local a, b = info.calls_before, info.calls_after
  f.calls = { calls = b.calls - a.calls, http_requests = b.http_calls - a.http_calls, attempts = b.attempts - a.attempts,
              cached = b.cached - a.cached, failed = b.failed - a.failed,
              prompt_tokens = b.prompt_tokens - a.prompt_tokens, completion_tokens = b.completion_tokens - a.completion_tokens,
              cost = b.cost - a.cost }
  if o.client.store then f.ledger = o.client.store:totals(o.client.settings.run) end
  return f
end

local function markdown(f)
  local L = {}
  local function add(s, ...) L[#L + 1] = select("#", ...) > 0 and string.format(s, ...) or s end
  add("# Stage 1: intents for the hard sessions")
  add("")
  add("- answered by: %s", f.standin and ("**" .. f.provider .. "**") or f.provider)
  add("- mode: %s; domain \"%s\"; %d candidates (i_N + %d random), at most %d tries, seed %d", f.mode, f.domain,
    f.candidates + 1, f.candidates, f.max_tries, f.seed)
  if f.stopped then add("- **stopped**: %s", f.stopped) end
  if f.deferred and f.deferred > 0 then add("- batch mode: %d requests written to %s", f.deferred, tostring(f.batch_file)) end
  add("")
  add("| hard sessions | finished | accepted | rejected after %d tries | unfinished | acceptance |", f.max_tries)
  add("|---|---|---|---|---|---|")
  add("| %d | %d | %d | %d | %d | %.1f %% |", f.hard_sessions, f.finished, f.accepted, f.rejected, f.unfinished, 100 * f.acceptance)
  add("")
  add("Acceptance by try (share of finished sessions, cumulative):")
  add("")
  add("| try | accepted at this try | cumulative |")
  add("|---|---|---|")
  local cum = 0
  for t = 1, f.max_tries do
    cum = cum + (f.by_try[t] or 0)
    add("| %d | %d | %.1f %% |", t, f.by_try[t] or 0, f.finished > 0 and 100 * cum / f.finished or 0)
  end
  add("")
  add("Intent pool: %d initial, %d added by accepted sessions, %d in all. Intents per accepted session: "
    .. "mean %.2f, median %g, max %d. Hard negatives: %d items over %d sessions.", f.pool.initial, f.pool.added,
    f.pool.final, f.intents_per_session.mean, f.intents_per_session.median, f.intents_per_session.max,
    f.hard_negatives, f.sessions_with_hard_negatives)
  add("")
  local h = f.pool.history
  if #h > 1 then
    add("Pool size over the stage (sessions finished → pool size): ")
    local step = math.max(1, math.floor(#h / 12))
    local pts = {}
    for i = 1, #h, step do pts[#pts + 1] = string.format("%d→%d", h[i].sessions, h[i].size) end
    if (#h - 1) % step ~= 0 then pts[#pts + 1] = string.format("%d→%d", h[#h].sessions, h[#h].size) end
    add(table.concat(pts, ", "))
    add("")
  end
  local c = f.calls
  add("Calls this run: %d (%d HTTP requests, %d attempts, %d from the cache, %d failed); tokens %d prompt + %d "
    .. "completion; cost $%.4f; wall time %.2f s.", c.calls, c.http_requests, c.attempts, c.cached, c.failed,
    c.prompt_tokens, c.completion_tokens, c.cost, f.wall_seconds)
  if f.ledger then
    add("Ledger for this run name, all runs so far: %d calls, %d paid attempts, %d + %d paid tokens, $%.4f.",
      f.ledger.calls, f.ledger.attempts, f.ledger.prompt_tokens, f.ledger.completion_tokens, f.ledger.cost)
  end
  add("")
  add("| template | file | SHA-256 |")
  add("|---|---|---|")
  local names = {}
  for n in pairs(f.templates) do names[#names + 1] = n end
  table.sort(names)
  for _, n in ipairs(names) do add("| %s | %s | %s |", n, f.templates[n].path, f.templates[n].sha256:sub(1, 16) .. "…") end
  return table.concat(L, "\n") .. "\n"
end
M.markdown = markdown

-- Writes stage1.md and stage1.json into o.dir; returns the figures.
function M.write(o, result, info)
  local f = M.figures(o, result, info)
  f.markdown = markdown(f)
  local data = {}
  for k, v in pairs(f) do if k ~= "markdown" then data[k] = v end end
  data.by_try = json.array(f.by_try)
  data.pool = { initial = f.pool.initial, final = f.pool.final, added = f.pool.added, history = json.array(f.pool.history) }
  files.write_atomic(o.dir .. "/stage1.json", json.encode(data) .. "\n")
  files.write_atomic(o.dir .. "/stage1.md", f.markdown)
  return f
end

return M
