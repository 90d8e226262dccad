-- intents/evidence.lua — evidence that Stage 1 does what it claims, independent of any LLM:
--   recovery(ds, loaded): on data with known (planted) intents, how well the accepted intents
--     recover each session's hidden intents;
--   difficulty(model, ds, sets): the backbone's own HR@10 on the held-out last item of the
--     sessions each selection picked, against the sessions it left, so uncertainty selection
--     can be compared with a random draw.
--
-- Matching names (recovery): a pool intent names hidden intent c when its normalised name
-- (intents/pool.lua's rule) equals c's normalised name, or one of the category phrases of c's
-- items. Which phrases belong to c is read from the data, not assumed: a phrase belongs to the
-- hidden intent that most often labels the single-intent training sessions whose items carry it.
-- Precision: accepted (session, intent) pairs whose intent names one of that session's hidden
-- intents. Recall: (session, hidden intent) pairs of accepted sessions that some accepted intent
-- of the session names. Intents that name no hidden intent at all (e.g. "gift ideas") count
-- against precision.
local Pool = require "sprint.intents.pool"

local M = {}

-- phrase key -> hidden intent label, from single-intent training sessions.
local function phrase_owners(ds)
  local votes = {}
  for i = 1, ds:n_sessions() do
    local s = ds:session(i)
    if s.split == "train" and s.labels and #s.labels == 1 then
      local label = s.labels[1]
      for _, it in ipairs(s.items) do
        for _, c in ipairs(ds:item(it).categories) do
          local key = Pool.normalize(c)
          votes[key] = votes[key] or {}
          votes[key][label] = (votes[key][label] or 0) + 1
        end
      end
    end
  end
  local owner = {}
  for key, v in pairs(votes) do
    local best, n, total = nil, 0, 0
    for label, c in pairs(v) do
      total = total + c
      if c > n or (c == n and label < best) then best, n = label, c end
    end
    if n > 0.5 * total then owner[key] = best end -- a phrase shared by several intents names none
  end
  return owner
end

-- { sessions, pairs, precision, recall, unmatched = {intent -> count} } over the accepted
-- sessions of loaded (sprint.intents.load). nil when the data has no hidden intents.
function M.recovery(ds, loaded)
  local owner = phrase_owners(ds)
  local labels_known = false
  local tp, n_pairs, covered, n_hidden, n_sessions = 0, 0, 0, 0, 0
  local unmatched = {}
  for i, names in pairs(loaded.intents) do
    local s = ds:session(i)
    if s.labels then
      labels_known = true
      n_sessions = n_sessions + 1
      local hidden = {}
      for _, l in ipairs(s.labels) do hidden[l] = false end
      for _, name in ipairs(names) do
        local key = Pool.normalize(name)
        local label = owner[key]
        for l in pairs(hidden) do if Pool.normalize(l) == key then label = l end end
        n_pairs = n_pairs + 1
        if label and hidden[label] ~= nil then
          tp = tp + 1
          hidden[label] = true
        else
          unmatched[name] = (unmatched[name] or 0) + 1
        end
      end
      for _, hit in pairs(hidden) do
        n_hidden = n_hidden + 1
        if hit then covered = covered + 1 end
      end
    end
  end
  if not labels_known then return nil end
  return { sessions = n_sessions, pairs = n_pairs, precision = n_pairs > 0 and tp / n_pairs or 0,
           recall = n_hidden > 0 and covered / n_hidden or 0, unmatched = unmatched }
end

-- The backbone's HR@10 (and mean rank) on each training session's held-out last item, for the
-- sessions of each named set and for the rest: { name = { selected = {n, hr10, mrr},
-- rest = {...} } }. sets: { name = list of session indices }.
function M.difficulty(model, ds, sets, opts)
  local eval = require "sprint.eval"
  opts = opts or {}
  local res = eval.rank(function(ctx, batch) return model:encode_last(ctx, batch.seq, batch.last) end, ds,
    { split = "train", max_len = opts.max_len or 50, ks = { 10 } })
  local out = {}
  for name, list in pairs(sets) do
    local chosen = {}
    for _, i in ipairs(list) do chosen[i] = true end
    local acc = { selected = { n = 0, hits = 0, rr = 0 }, rest = { n = 0, hits = 0, rr = 0 } }
    for k, i in ipairs(res.sessions) do
      local a = chosen[i] and acc.selected or acc.rest
      local r = res.ranks[k]
      a.n = a.n + 1
      if r <= 10 then a.hits = a.hits + 1 end
      a.rr = a.rr + 1 / r
    end
    out[name] = {}
    for side, a in pairs(acc) do
      out[name][side] = { n = a.n, hr10 = a.n > 0 and a.hits / a.n or 0, mrr = a.n > 0 and a.rr / a.n or 0 }
    end
  end
  return out
end

return M
