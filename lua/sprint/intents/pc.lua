-- intents/pc.lua — one hard session's predict-and-correct conversation (paper §4.1.2,
-- Algorithm 1): hold out the last item i_N, show the other items, i_N among M random
-- out-of-session candidates (shuffled, labelled C1..C(M+1)) and the intent pool, ask for
-- intents and a prediction; on a wrong prediction append the feedback turn to the same
-- conversation and ask again, up to T tries. What it returns is one record of intents.jsonl.
--
--   local case = pc.case(ds, session_index, { candidates = 5, seed = 1 })
--   local rec, why, kind = pc.converse(env, case, pool_names)   -- inside llm.gather's task
--
-- A try fails when the prediction is another candidate (that item becomes one of the
-- session's hard negatives, Eq. 16), or when the answer is not the JSON asked for or names no
-- candidate (the feedback then says what was wrong). A session still wrong after T tries
-- keeps no intents. A call that could not be made (budget, rejected key, network, a batch
-- file) leaves the session unfinished: rec is nil, and a rerun replays the finished tries
-- from the cache.
local json = require "sprint.llm.json"
local prompt = require "sprint.llm.prompt"
local schemas = require "sprint.llm.schemas"

local M = {}

-- Answer failures that count as a failed try (the model answered, but not usably).
M.ANSWER_FAILURES = { malformed = true, invalid = true, empty = true, truncated = true, refused = true }

-- A 32-bit FNV-1a of a string: seeds a session's own generator from its key, so its candidates
-- do not depend on which other sessions are selected or in what order they run.
local function fnv32(s)
  local h = 2166136261
  for i = 1, #s do h = bit.tobit(bit.bxor(h, s:byte(i)) * 16777619) end
  return bit.band(h, 0x7fffffff)
end

-- The question asked about session i: { index, key, target = i_N, shown = items before i_N,
-- items = candidates in the order shown, labels = {"C1", ...}, answer = i_N's label,
-- by_label = {C1 = item} }. opts.candidates = M (default 5), opts.seed (the run's seed).
-- Deterministic in (seed, session key): a rerun asks exactly the same question.
function M.case(ds, i, opts)
  opts = opts or {}
  local m = opts.candidates or 5
  local s = ds:session(i)
  local n = #s.items
  if n < 2 then error("pc.case: session " .. i .. " has " .. n .. " item(s); P&C needs at least 2", 2) end
  local n_items = ds:n_items()
  local in_session = {}
  for _, it in ipairs(s.items) do in_session[it] = true end
  if n_items - #s.items < m then
    error(string.format("pc.case: the catalogue has %d items, too few for %d candidates outside session %d", n_items, m, i), 2)
  end
  local rng = require("sprint.rng").new((opts.seed or 1) * 2654435761 % 4294967296 + fnv32(s.key))
  local target = s.items[n]
  local items, taken = { target }, { [target] = true }
  while #items < m + 1 do
    local j = rng:int(1, n_items)
    if not in_session[j] and not taken[j] then
      taken[j] = true
      items[#items + 1] = j
    end
  end
  for k = #items, 2, -1 do -- Fisher-Yates: i_N's position is uniform
    local r = rng:int(1, k)
    items[k], items[r] = items[r], items[k]
  end
  local case = { index = i, key = s.key, target = target, shown = {}, items = items, labels = {}, by_label = {} }
  for k = 1, n - 1 do case.shown[k] = s.items[k] end
  for k, it in ipairs(items) do
    local label = "C" .. k
    case.labels[k], case.by_label[label] = label, it
    if it == target then case.answer = label end
  end
  return case
end

-- "C3", "[C3]", "c3", " C3." -> "C3"; anything else is returned trimmed (and will not match).
function M.label_of(prediction)
  local p = tostring(prediction):match("^%s*(.-)%s*$")
  local inner = p:match("^%[(.-)%]$") or p
  local num = inner:match("^[Cc](%d+)%.?$")
  return num and ("C" .. tonumber(num)) or p
end

-- Item i as the prompt shows it (title, brand, categories), from the dataset.
local function item_view(ds, j, label)
  local it = ds:item(j)
  return { title = it.title ~= "" and it.title or ("item " .. it.key), brand = it.brand,
           categories = it.categories, label = label }
end

-- The first messages of the conversation: pc.txt filled with the session's items (without
-- i_N), the candidates and the pool as this conversation sees it.
function M.opening(env, case, pool_names)
  local shown, cands = {}, {}
  for k, j in ipairs(case.shown) do shown[k] = item_view(env.ds, j) end
  for k, j in ipairs(case.items) do cands[k] = item_view(env.ds, j, case.labels[k]) end
  return env.templates:messages("pc", { domain = env.domain, session_items = shown, candidates = cands,
                                        intent_pool = pool_names })
end

-- Runs the conversation (yields inside client:chat when gathered). env: { client, ds, domain,
-- templates (intents/templates.lua), max_tries }. Returns the record, or nil, why, kind when a
-- call could not be made.
function M.converse(env, case, pool_names)
  local client, T = env.client, env.max_tries or 3
  local msgs = M.opening(env, case, pool_names)
  local rec = { session = case.index, key = case.key, target = case.target, candidates = json.array(case.items),
                answer = case.answer, pool_seen = #pool_names, tries = 0, predictions = json.array {},
                problems = json.array {}, hard_negatives = json.array {}, intents = json.array {}, status = "rejected" }
  local negative_seen = {}
  for t = 1, T do
    local ans, why, info = client:chat(msgs, { schema = schemas.pc, task = "pc", stage = "pc", session = case.key, try = t })
    if not ans and not M.ANSWER_FAILURES[info.kind] then
      return nil, why, info.kind
    end
    rec.tries = t
    local problem, label
    if ans then
      label = M.label_of(ans.json.prediction)
      rec.predictions[t] = label
      if label == case.answer then
        rec.status, rec.accepted_try = "accepted", t
        for k, intent in ipairs(ans.json.intents) do rec.intents[k] = intent end
        return rec
      end
      local item = case.by_label[label]
      if item then
        if not negative_seen[item] then
          negative_seen[item] = true
          rec.hard_negatives[#rec.hard_negatives + 1] = item
        end
      else
        problem = string.format("the prediction '%s' is not one of the candidate labels (%s)", tostring(ans.json.prediction),
          table.concat(case.labels, ", "))
      end
    else
      rec.predictions[t] = json.null
      problem = why
    end
    rec.problems[t] = problem or json.null
    if t < T then
      msgs[#msgs + 1] = { role = "assistant", content = ans and ans.content or (info.content or "") }
      local turn
      if problem then
        turn = env.templates:messages("feedback_invalid", { problem = problem })
      else
        turn = env.templates:messages("feedback", { prediction = label, intents = ans.json.intents })
      end
      for _, m in ipairs(turn) do msgs[#msgs + 1] = m end
    end
  end
  return rec
end

return M
