-- test_llm_standin.lua — the offline stand-in: the default without an endpoint, always named
-- as a stand-in, deterministic, answering the Stage-1 prompts in the JSON a model must return,
-- with real but lexical skill (shared categories and title words) and no positional cheating.
local h = require "helpers"
local S = require "llm_support"
local llm = require "sprint.llm"
local standin = require "sprint.llm.standin"

local tests = {}

-- A planted catalogue: six intents, each with its category path and title words.
local groups = {
  { { "Beauty", "Makeup", "Eyes", "Mascara" }, { "lash", "mascara", "volume", "curl", "waterproof" } },
  { { "Beauty", "Makeup", "Lips", "Lipstick" }, { "lipstick", "matte", "gloss", "lip", "velvet" } },
  { { "Beauty", "Hair Care", "Shampoo" }, { "shampoo", "scalp", "keratin", "hair", "dandruff" } },
  { { "Beauty", "Skin Care", "Face", "Moisturizer" }, { "moisturizer", "hydrating", "cream", "face", "spf" } },
  { { "Beauty", "Fragrance", "Perfume" }, { "perfume", "eau", "parfum", "floral", "musk" } },
  { { "Beauty", "Nails", "Nail Polish" }, { "nail", "polish", "lacquer", "coat", "gel" } },
}
local brands = { "Acme", "Bloom", "Corva", "Dellis", "Evera", "Fiora", "Glimt" }

local function catalogue()
  local rng = require("sprint.rng").new(7)
  local items, by_group = {}, {}
  for g, grp in ipairs(groups) do
    by_group[g] = {}
    for k = 1, 10 do
      local w = grp[2]
      local title = w[rng:int(1, #w)] .. " " .. w[rng:int(1, #w)] .. " no. " .. k
      local it = { id = #items + 1, title = title:sub(1, 1):upper() .. title:sub(2), brand = brands[rng:int(1, #brands)],
                   categories = grp[1], group = g }
      items[#items + 1] = it
      by_group[g][k] = it
    end
  end
  return items, by_group, rng
end

-- P&C prompt for a session of `n` items of group g, the held-out item from group `next_g`.
local function pc_case(by_group, items, rng, g, next_g, n)
  local session = {}
  local used = {}
  for k = 1, n do
    local it = by_group[g][rng:int(1, 10)]
    session[k] = it
    used[it.id] = true
  end
  local target
  repeat target = by_group[next_g][rng:int(1, 10)] until not used[target.id]
  local cands = { target }
  while #cands < 6 do
    local it = items[rng:int(1, #items)]
    local clash = used[it.id] or it.group == target.group
    for _, c in ipairs(cands) do if c.id == it.id then clash = true end end
    if not clash then cands[#cands + 1] = it end
  end
  -- shuffled, labelled C1..C6
  for i = #cands, 2, -1 do
    local j = rng:int(1, i)
    cands[i], cands[j] = cands[j], cands[i]
  end
  local shown, answer = {}, nil
  for i, c in ipairs(cands) do
    shown[i] = { label = "C" .. i, title = c.title, brand = c.brand, categories = c.categories }
    if c == target then answer = "C" .. i end
  end
  return session, shown, answer
end

local function offline(opts)
  return S.with_env(S.clean_env, llm.new, opts or {})
end

function tests.default_without_endpoint_and_named_as_standin()
  local c = offline()
  h.truthy(c.standin, "no endpoint: the stand-in answers")
  h.truthy(c.name:find("offline stand-in", 1, true) and c.name:find("not an LLM", 1, true), c.name)
  h.truthy(not c.name:lower():find("gpt") and c.provider == "offline", c.name)
  local ans = c:chat(llm.prompt.build("gip_init", { domain = "Beauty", max_intents = 5 }),
                     { schema = llm.schemas.gip_init, task = "gip_init" })
  h.eq(ans.provider, "offline")
  h.eq(ans.model, "offline stand-in")
  h.eq(#ans.json.intents, 5)
end

function tests.gip_init_from_catalogue_categories()
  local items = catalogue()
  local c = offline { catalogue = items }
  local ans = c:chat(llm.prompt.build("gip_init", { domain = "Beauty", max_intents = 12 }),
                     { schema = llm.schemas.gip_init, task = "gip_init" })
  local intents = ans.json.intents
  h.truthy(#intents >= 6 and #intents <= 12, h.show(intents))
  local set = {}
  for _, i in ipairs(intents) do set[i] = true end
  h.truthy(set["makeup"] and set["hair care"] and set["mascara"], h.show(intents))
  h.truthy(not set["beauty"], "the domain's root category is not an intent")
  -- deterministic
  local again = c:chat(llm.prompt.build("gip_init", { domain = "Beauty", max_intents = 12 }),
                       { schema = llm.schemas.gip_init, task = "gip_init" })
  h.eq(again.content, ans.content)
end

function tests.pc_carries_signal_and_is_weak_where_text_is()
  local items, by_group, rng = catalogue()
  local c = offline { catalogue = items }
  local pool = { "eye makeup", "lip color", "hair care", "skin hydration", "fragrance", "nail care" }
  local hits, n, switch_hits = 0, 36, 0
  for s = 1, n do
    local g = (s - 1) % 6 + 1
    local session, cands, answer = pc_case(by_group, items, rng, g, g, 3)
    local msgs = llm.prompt.build("pc", { domain = "Beauty", session_items = session, candidates = cands, intent_pool = pool })
    local ans, why = c:chat(msgs, { schema = llm.schemas.pc, task = "pc" })
    h.truthy(ans, why)
    if ans.json.prediction == answer then hits = hits + 1 end
    -- the next item from an unrelated group: nothing in the text points at it
    session, cands, answer = pc_case(by_group, items, rng, g, g % 6 + 1, 3)
    msgs = llm.prompt.build("pc", { domain = "Beauty", session_items = session, candidates = cands, intent_pool = pool })
    ans = c:chat(msgs, { schema = llm.schemas.pc, task = "pc" })
    if ans.json.prediction == answer then switch_hits = switch_hits + 1 end
  end
  -- chance is 1/6: the same-intent sessions must be far above it, the switches near it
  h.truthy(hits >= 0.75 * n, "same-intent hit rate " .. hits .. "/" .. n)
  h.truthy(switch_hits <= 0.4 * n, "intent-switch hit rate " .. switch_hits .. "/" .. n)
end

function tests.pc_uses_pool_intents_or_coins_one_and_ignores_order()
  local items, by_group, rng = catalogue()
  local c = offline { catalogue = items }
  local session, cands = pc_case(by_group, items, rng, 1, 1, 3)
  local vars = { domain = "Beauty", session_items = session, candidates = cands,
                 intent_pool = { "mascara lover", "hair care", "perfume" } }
  local ans = c:chat(llm.prompt.build("pc", vars), { schema = llm.schemas.pc, task = "pc" })
  h.eq(ans.json.intents[1], "mascara lover")
  -- no fitting pool intent: a novel one from the shared category
  vars.intent_pool = { "hair care", "perfume" }
  ans = c:chat(llm.prompt.build("pc", vars), { schema = llm.schemas.pc, task = "pc" })
  h.eq(#ans.json.intents, 1)
  h.eq(ans.json.intents[1], "mascara")
  -- reversing the candidates (and their labels) picks the same item
  local picked
  for _, x in ipairs(cands) do if x.label == ans.json.prediction then picked = x.title end end
  local rev = {}
  for i = #cands, 1, -1 do
    local x = cands[i]
    rev[#rev + 1] = { label = "C" .. (#rev + 1), title = x.title, brand = x.brand, categories = x.categories }
  end
  vars.candidates = rev
  local ans2 = c:chat(llm.prompt.build("pc", vars), { schema = llm.schemas.pc, task = "pc" })
  local picked2
  for _, x in ipairs(rev) do if x.label == ans2.json.prediction then picked2 = x.title end end
  h.eq(picked2, picked)
end

function tests.feedback_turn_drops_the_failed_prediction()
  local items, by_group, rng = catalogue()
  local c = offline { catalogue = items }
  local session, cands = pc_case(by_group, items, rng, 2, 2, 3)
  local msgs = llm.prompt.build("pc", { domain = "Beauty", session_items = session, candidates = cands,
                                        intent_pool = { "lip color" } })
  local seen = {}
  for t = 1, 3 do
    local ans = c:chat(msgs, { schema = llm.schemas.pc, task = "pc", try = t })
    local p = ans.json.prediction
    h.truthy(not seen[p], "try " .. t .. " repeated the failed prediction " .. p)
    seen[p] = true
    msgs[#msgs + 1] = { role = "assistant", content = ans.content }
    for _, m in ipairs(llm.prompt.build("feedback", { prediction = p, intents = ans.json.intents })) do
      msgs[#msgs + 1] = m
    end
  end
end

-- A miniature Stage 1 on the stand-in: pool initialisation, then a P&C loop per session as
-- gathered coroutines, feedback on a miss, accepted intents joining the pool, all recorded
-- in the ledger under the stand-in's name.
function tests.mini_stage1_through_gather_and_ledger()
  local items, by_group, rng = catalogue()
  local dir = S.tmpdir()
  local c = offline { catalogue = items, cache = dir .. "/llm.sqlite", run = "mini" }
  local gip = c:chat(llm.prompt.build("gip_init", { domain = "Beauty", max_intents = 8 }),
                     { schema = llm.schemas.gip_init, task = "gip_init", stage = "gip" })
  local pool = gip.json.intents
  local cases = {}
  for s = 1, 12 do
    local session, cands, answer = pc_case(by_group, items, rng, (s - 1) % 6 + 1, (s - 1) % 6 + 1, 3)
    cases[s] = { session = session, cands = cands, answer = answer }
  end
  local tasks = {}
  for s, case in ipairs(cases) do
    tasks[s] = function()
      local msgs = llm.prompt.build("pc", { domain = "Beauty", session_items = case.session, candidates = case.cands,
                                            intent_pool = pool })
      for t = 1, 3 do
        local ans, why = c:chat(msgs, { schema = llm.schemas.pc, task = "pc", stage = "pc", session = s, try = t })
        if not ans then return { ok = false, why = why } end
        if ans.json.prediction == case.answer then return { ok = true, intents = ans.json.intents, tries = t } end
        msgs[#msgs + 1] = { role = "assistant", content = ans.content }
        for _, m in ipairs(llm.prompt.build("feedback", { prediction = ans.json.prediction, intents = ans.json.intents })) do
          msgs[#msgs + 1] = m
        end
      end
      return { ok = false, why = "inconclusive after 3 tries" }
    end
  end
  local results, errors, summary = llm.gather(tasks, { concurrency = 4 })
  h.eq(summary.done, 12)
  h.eq(next(errors), nil)
  local accepted = 0
  for _, r in ipairs(results) do if r.ok then accepted = accepted + 1 end end
  h.truthy(accepted >= 9, "accepted " .. accepted .. " of 12")
  local report = llm.report(dir .. "/llm.sqlite", "mini")
  h.truthy(report:find("pc ") and report:find("gip "), report)
  h.truthy(report:find("answered by the offline stand-in", 1, true), report)
  c:close()
  os.execute("rm -rf " .. S.q(dir))
end

function tests.unknown_prompt_is_a_failed_answer_not_a_crash()
  local c = offline()
  local ans, why, info = c:chat({ { role = "user", content = "hello" } }, { json = true })
  h.eq(ans, nil)
  h.eq(info.kind, "malformed")
  h.truthy(why:find("no JSON object"), why)
  h.truthy(standin.answer({ { role = "user", content = "hello" } }):find("offline stand-in cannot answer", 1, true))
end

return tests
