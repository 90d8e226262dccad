-- llm/standin.lua — the offline stand-in: deterministic answers to the Stage-1 prompts
-- (intent-pool initialisation, predict-and-correct, feedback turns) in the JSON a model must
-- return, so the pipeline runs with no endpoint. It is NOT an LLM and is never named as one.
--
-- What it sees is what a model sees: the tagged blocks of the rendered prompt (<domain>,
-- <session_items>, <candidates>, <intent_pool>, <prediction> in feedback turns). In place of a
-- model's world knowledge it may be given the catalogue's item text (titles, brands,
-- categories) — never interactions, never the held-out item. Its skill is lexical: intents
-- from shared category phrases and title terms, a prediction by term overlap weighted by
-- rarity in the catalogue. It is weak where a model would be weak: a next item that shares no
-- words with the session is a guess.
local json = require "sprint.llm.json"
local prompt = require "sprint.llm.prompt"

local M = {}
local coin -- defined below (novel intents), used by pc and direct
M.NAME = "offline stand-in"
M.MODEL = "offline-stand-in"

local stop = {}
for w in ([[and the for with from this that your you are was were has have had not but all any
  can its our out new one two per set pack count size inch inches each more most very other into
  over under only also oz fl ml pcs piece pieces item items product products free]]):gmatch("%S+") do
  stop[w] = true
end

-- Lower-case word stems of text: letters/digits, 3+ characters, no stop words or numbers, a
-- plural "s" dropped.
local function words(text)
  local out = {}
  for w in tostring(text):lower():gmatch("[%w]+") do
    if #w >= 3 and not stop[w] and not w:match("^%d+$") then
      if #w > 4 and w:sub(-1) == "s" and w:sub(-2) ~= "ss" then w = w:sub(1, -2) end
      out[#out + 1] = w
    end
  end
  return out
end
M.words = words

-- An item line as the prompt shows it ("[C1] text", "1. text" or plain text) parsed into
-- label, title, category phrases (in path order) and the set of terms.
local function parse_item(line)
  local label, rest = line:match("^%s*%[([^%]]+)%]%s*(.*)$")
  if not label then rest = line:gsub("^%s*%d+%.%s*", ""):gsub("^%s*%-%s*", "") end
  local item = { label = label, text = rest, cats = {}, terms = {} }
  local first = true
  for part in (rest .. " | "):gmatch("(.-)%s+|%s+") do
    local cats = part:match("^categories:%s*(.*)$")
    local brand = part:match("^brand:%s*(.*)$")
    if cats then
      for phrase in (cats .. ">"):gmatch("([^>;,]+)[>;,]") do
        phrase = phrase:lower():match("^%s*(.-)%s*$")
        if phrase ~= "" then item.cats[#item.cats + 1] = phrase end
      end
    elseif brand then
      item.brand = brand
    elseif first then
      item.title = part
    end
    first = false
  end
  for _, w in ipairs(words(item.title or rest)) do item.terms[w] = true end
  for _, c in ipairs(item.cats) do
    for _, w in ipairs(words(c)) do item.terms[w] = true end
  end
  if item.brand then
    for _, w in ipairs(words(item.brand)) do item.terms[w] = true end
  end
  return item
end
M.parse_item = parse_item

-- The same line parsed once: a session's items come back in every try and in many sessions.
-- Parsed items are only read, never changed, so they can be shared.
local parsed = setmetatable({}, { __mode = "v" })
local function parse_line(line)
  local p = parsed[line]
  if not p then
    p = parse_item(line)
    parsed[line] = p
  end
  return p
end

local function lines_of(block)
  local out = {}
  if not block then return out end
  for line in block:gmatch("[^\n]+") do
    if line:match("%S") and not line:match("^%s*%(none%)%s*$") then out[#out + 1] = line end
  end
  return out
end

-- ---- the catalogue as world knowledge: document frequencies of terms and category phrases ----
local catalogue_stats = setmetatable({}, { __mode = "k" })
local function stats_of(catalogue)
  if not catalogue then return nil end
  local s = catalogue_stats[catalogue]
  if s then return s end
  local items = catalogue.items or catalogue
  s = { n = 0, df = {}, cat = {}, cat_depth = {} }
  for _, it in ipairs(items) do
    local p = parse_item(type(it) == "table" and prompt.item_text(it) or tostring(it))
    s.n = s.n + 1
    for t in pairs(p.terms) do s.df[t] = (s.df[t] or 0) + 1 end
    local seen = {}
    for depth, c in ipairs(p.cats) do
      if not seen[c] then
        seen[c] = true
        s.cat[c] = (s.cat[c] or 0) + 1
        s.cat_depth[c] = math.max(s.cat_depth[c] or 0, depth)
      end
    end
  end
  catalogue_stats[catalogue] = s
  return s
end

-- Inverse document frequency from the catalogue, else from the items the prompt shows.
local function idf_fn(stats, visible)
  local n, df = 0, {}
  if stats and stats.n > 0 then
    n, df = stats.n, stats.df
  else
    for _, it in ipairs(visible) do
      n = n + 1
      for t in pairs(it.terms) do df[t] = (df[t] or 0) + 1 end
    end
  end
  return function(t) return math.log((n + 1) / ((df[t] or 0) + 1)) + 1, df[t] or 0 end
end

-- A stable number for tie-breaks that does not depend on where a candidate is listed.
local function stable_hash(s)
  local h = 2166136261
  for i = 1, #s do h = bit.band(bit.bxor(h, s:byte(i)) * 16777619, 0x7fffffff) end
  return h
end

-- An intent's words, split once (the pool's intents are matched against every item shown).
local intent_words = setmetatable({}, { __mode = "k" })

-- How well intent phrase `intent` describes item: the idf-weighted share of the intent's words
-- found in the item's terms, 0 below half; an exact category phrase counts fully. A word no
-- item uses ("lover" in "mascara lover") tells nothing either way and weighs least.
local function intent_match(intent, item, idf)
  local low = intent:lower()
  for _, c in ipairs(item.cats) do
    if c == low then return 2 end
  end
  local ws = intent_words[intent]
  if not ws then
    ws = words(intent)
    intent_words[intent] = ws
  end
  if #ws == 0 then return 0 end
  local hit, total = 0, 0
  for _, w in ipairs(ws) do
    local wt, df = idf(w)
    if df == 0 then wt = 1 end
    total = total + wt
    if item.terms[w] then hit = hit + wt end
  end
  local share = hit / total
  return share >= 0.5 and share or 0
end

local function sorted_by(list, score, tiebreak)
  table.sort(list, function(a, b)
    local sa, sb = score[a], score[b]
    if sa ~= sb then return sa > sb end
    return tiebreak(a) < tiebreak(b)
  end)
  return list
end

-- ---- intent-pool initialisation ---------------------------------------------------------------
local function gip(blocks, stats)
  local max = tonumber(blocks.max_intents) or 20
  local domain = (blocks.domain or "the domain"):match("^%s*(.-)%s*$")
  local out = {}
  if stats and stats.n > 0 then
    -- general (second-level) and specific (deeper) category phrases by catalogue frequency;
    -- phrases on most items (the domain's root) say nothing
    local general, specific, score = {}, {}, {}
    for c, n in pairs(stats.cat) do
      if n <= 0.6 * stats.n and n >= 2 and c ~= domain:lower() then
        score[c] = n
        if stats.cat_depth[c] <= 2 then general[#general + 1] = c else specific[#specific + 1] = c end
      end
    end
    local function by_name(c) return c end
    sorted_by(general, score, by_name)
    sorted_by(specific, score, by_name)
    local n_general = math.min(#general, math.max(1, math.floor(max / 3)))
    for i = 1, n_general do out[#out + 1] = general[i] end
    for i = 1, #specific do
      if #out >= max then break end
      out[#out + 1] = specific[i]
    end
    for i = n_general + 1, #general do
      if #out >= max then break end
      out[#out + 1] = general[i]
    end
  end
  if #out == 0 then -- no catalogue: only what the domain's name says, which is little
    local d = domain:lower()
    for _, s in ipairs { d .. " essentials", "gift for someone", "premium quality", "budget value",
                         "trying something new", "restocking a favourite", d .. " accessories" } do
      if #out < max then out[#out + 1] = s end
    end
  end
  return { intents = json.array(out) }
end

-- ---- novel intents ------------------------------------------------------------------------------

-- Up to k intents coined from a session's items, best first: category phrases (shared by more
-- items first, then deeper, then more frequent; the domain's root never), else the most common
-- title word; "general browsing" when the items say nothing.
coin = function(session, blocks, idf, k)
  local count, depth, phrases = {}, {}, {}
  for _, it in ipairs(session) do
    for d, c in ipairs(it.cats) do
      if not count[c] then phrases[#phrases + 1] = c end
      count[c] = (count[c] or 0) + 1
      depth[c] = math.max(depth[c] or 0, d)
    end
  end
  local root = (blocks.domain or ""):lower():match("^%s*(.-)%s*$")
  local key, out = {}, {}
  for _, c in ipairs(phrases) do
    if c ~= root then
      key[c] = (count[c] >= 2 and 1000 or 0) + 10 * depth[c] + count[c]
      out[#out + 1] = c
    end
  end
  sorted_by(out, key, function(c) return c end)
  for i = #out, k + 1, -1 do out[i] = nil end
  if #out == 0 then
    local tc, best, best_key = {}, nil, nil
    for _, it in ipairs(session) do
      for t in pairs(it.terms) do tc[t] = (tc[t] or 0) + 1 end
    end
    for t, c in pairs(tc) do
      local kk = c * 100 + idf(t)
      if not best or kk > best_key or (kk == best_key and t < best) then best, best_key = t, kk end
    end
    out[1] = best or "general browsing"
  end
  return out
end

-- ---- one prompt per session (the ablation's row without pool and P&C) --------------------------
local function direct(blocks, stats)
  local session = {}
  for _, l in ipairs(lines_of(blocks.session_items)) do session[#session + 1] = parse_line(l) end
  local idf = idf_fn(stats, session)
  return { intents = json.array(coin(session, blocks, idf, 3)) }
end

-- ---- predict-and-correct ----------------------------------------------------------------------
local function pc(blocks, failed, stats)
  local session, candidates = {}, {}
  for _, l in ipairs(lines_of(blocks.session_items)) do session[#session + 1] = parse_line(l) end
  for _, l in ipairs(lines_of(blocks.candidates)) do candidates[#candidates + 1] = parse_line(l) end
  local pool = {}
  for _, l in ipairs(lines_of(blocks.intent_pool)) do
    local p = l:gsub("^%s*%-%s*", ""):match("^%s*(.-)%s*$")
    if p ~= "" then pool[#pool + 1] = p end
  end
  local visible = {}
  for _, it in ipairs(session) do visible[#visible + 1] = it end
  for _, it in ipairs(candidates) do visible[#visible + 1] = it end
  local idf = idf_fn(stats, visible)
  local failed_items = {}
  for _, c in ipairs(candidates) do
    if c.label and failed[c.label] then failed_items[#failed_items + 1] = c end
  end

  -- (1) intents: pool intents by how many session items they describe (later items count a
  -- little more), minus how much they pointed at predictions that already failed
  local n = #session
  local score, chosen = {}, {}
  for _, intent in ipairs(pool) do
    local s = 0
    for k, it in ipairs(session) do s = s + intent_match(intent, it, idf) * (0.5 + k / n) end
    for _, f in ipairs(failed_items) do s = s - 0.5 * intent_match(intent, f, idf) end
    if s > 0 then
      score[intent] = s
      chosen[#chosen + 1] = intent
    end
  end
  sorted_by(chosen, score, function(x) return x end)
  for i = #chosen, 4, -1 do chosen[i] = nil end
  if #chosen == 0 then chosen[1] = coin(session, blocks, idf, 1)[1] end

  -- (2) prediction: candidates by the chosen intents they fit and by the rare terms they share
  -- with the session; failed predictions are out
  local weight = {}
  for k, it in ipairs(session) do
    for t in pairs(it.terms) do weight[t] = (weight[t] or 0) + (0.5 + k / n) end
  end
  local cscore, pick = {}, {}
  for _, c in ipairs(candidates) do
    if c.label and not failed[c.label] then
      local s = 0
      for _, intent in ipairs(chosen) do s = s + 2 * intent_match(intent, c, idf) end
      -- summed in term order: pairs' order differs between processes (LuaJIT seeds its string
      -- hashes), and a different order of float additions can flip a near tie between candidates
      local terms = {}
      for t in pairs(c.terms) do terms[#terms + 1] = t end
      table.sort(terms)
      local nt = #terms
      for _, t in ipairs(terms) do
        if weight[t] then s = s + idf(t) * weight[t] end
      end
      cscore[c] = s / math.sqrt(math.max(nt, 1))
      pick[#pick + 1] = c
    end
  end
  sorted_by(pick, cscore, function(c) return stable_hash(c.text) end)
  local prediction = pick[1] and pick[1].label or (candidates[1] and candidates[1].label) or "none"
  return { intents = json.array(chosen), prediction = prediction }
end

-- The stand-in's answer to a conversation: the JSON text a model would return. task is the
-- response schema's name ("gip_init" or "pc") when the caller gives one; otherwise the blocks
-- decide. catalogue: optional list of items (or {items = list}).
function M.answer(messages, task, catalogue)
  local first, failed = nil, {}
  for _, m in ipairs(messages) do
    if m.role == "user" then
      local b = prompt.blocks(m.content or "")
      if not first then
        first = b
      elseif b.prediction then
        failed[b.prediction:match("^%s*%[?(.-)%]?%s*$")] = true
      end
    end
  end
  first = first or {}
  local stats = stats_of(catalogue)
  local answer
  if task == "direct" then
    answer = direct(first, stats)
  elseif task == "pc" or (task == nil and first.candidates) then
    answer = pc(first, failed, stats)
  elseif task == "gip_init" or (task == nil and first.domain) then
    answer = gip(first, stats)
  else
    return "The offline stand-in cannot answer this prompt: it has no <candidates> or <domain> block."
  end
  return json.encode(answer)
end

return M
