-- test_llm_json.lua — the LLM client's JSON pieces: canonical encoding (the cache key's
-- input), the tolerant extractor, the schema check; prompt templates and their rendering.
local h = require "helpers"
local json = require "sprint.llm.json"
local prompt = require "sprint.llm.prompt"
local schemas = require "sprint.llm.schemas"

local tests = {}

function tests.canonical_encoding_sorts_keys_and_is_stable()
  local a = json.encode { b = 1, a = { z = true, y = "x\"/\n" }, c = { 3, 2.5, "s" } }
  h.eq(a, '{"a":{"y":"x\\"\\/\\n","z":true},"b":1,"c":[3,2.5,"s"]}')
  -- the same value built in another order gives the same bytes
  local t = {}
  t.c = { 3, 2.5, "s" }
  t.a = { y = "x\"/\n", z = true }
  t.b = 1
  h.eq(json.encode(t), a)
  h.eq(json.encode(json.array {}), "[]")
  h.eq(json.encode {}, "{}")
  h.eq(json.encode { x = json.null }, '{"x":null}')
  h.eq(json.encode(0.1), "0.10000000000000001")
  h.eq(json.encode(123456789012), "123456789012")
  h.raises("cannot encode", json.encode, { f = print })
  h.raises("keys must be strings", json.encode, { [true] = 1 })
  local v = json.decode(a)
  h.eq(v.c[2], 2.5)
end

function tests.extractor_finds_json_in_fences_prose_and_repairs()
  local cases = {
    { '{"a": 1}', 1 },
    { '  \n{"a": 2}\n', 2 },
    { 'Here you go:\n```json\n{"a": 3}\n```\nBye', 3 },
    { '```\n{"a": 4}\n```', 4 },
    { 'I think {"a": 5, "b": "has } and { inside"} is right', 5 },
    { '{"a": 6, "l": [1, 2,],}', 6 },
    { 'prefix {not json} then {"a": 7}', 7 },
  }
  for i, c in ipairs(cases) do
    local v, err = json.extract(c[1])
    h.truthy(v, "case " .. i .. ": " .. tostring(err))
    h.eq(v.a, c[2], "case " .. i)
  end
  local v, err = json.extract("I would rather talk about the weather.")
  h.eq(v, nil)
  h.truthy(err:find("no JSON object in the answer") and err:find("weather"), err)
  v, err = json.extract("   ")
  h.eq(v, nil)
  h.truthy(err:find("empty"), err)
  v, err = json.extract(nil)
  h.eq(v, nil)
  h.truthy(err, "a reason for nil")
end

function tests.schema_check_names_the_failing_field()
  h.truthy(json.validate({ intents = { "a", "b" }, prediction = "C2" }, schemas.pc))
  local ok, err = json.validate({ intents = { "a" } }, schemas.pc)
  h.eq(ok, false)
  h.truthy(err:find("missing 'prediction'"), err)
  ok, err = json.validate({ intents = "a", prediction = "C1" }, schemas.pc)
  h.eq(ok, false)
  h.truthy(err:find("$.intents: expected array, got string", 1, true), err)
  ok, err = json.validate({ intents = { "a", 3 }, prediction = "C1" }, schemas.pc)
  h.eq(ok, false)
  h.truthy(err:find("$.intents[2]: expected string", 1, true), err)
  ok, err = json.validate({ intents = {}, prediction = "C1" }, schemas.pc)
  h.eq(ok, false)
  h.truthy(err:find("fewer than 1"), err)
  ok, err = json.validate({ intents = { "" }, prediction = "C1" }, schemas.pc)
  h.eq(ok, false)
  h.truthy(err:find("shorter"), err)
  ok, err = json.validate({ 1, 2 }, schemas.gip_init)
  h.eq(ok, false)
  h.truthy(err:find("expected object, got array"), err)
  h.truthy(json.validate({ n = 3 }, { type = "object", properties = { n = { type = "integer", enum = { 3 } } } }))
  ok = json.validate({ n = 3.5 }, { type = "object", properties = { n = { type = "integer" } } })
  h.eq(ok, false)
end

function tests.prompt_render_tags_every_placeholder()
  local text = prompt.render("D: {{domain}}\nS:\n{{session_items}}\nC:\n{{candidates}}\nP:\n{{intent_pool}}\nN {{n}}", {
    domain = "Beauty",
    session_items = { { title = "Mascara", brand = "Maybelline", categories = { "Beauty", "Makeup", "Eyes" } } },
    candidates = { { label = "C1", title = "Shampoo", categories = { { "Beauty", "Hair" }, { "Sale" } } },
                   { label = "C2", title = "Line\nbreak" } },
    intent_pool = {},
    n = 5,
  })
  h.eq(text, table.concat({
    "D: <domain>Beauty</domain>",
    "S:", "<session_items>", "1. Mascara | brand: Maybelline | categories: Beauty > Makeup > Eyes", "</session_items>",
    "C:", "<candidates>", "[C1] Shampoo | categories: Beauty > Hair; Sale", "[C2] Line break", "</candidates>",
    "P:", "<intent_pool>", "(none)", "</intent_pool>",
    "N <n>5</n>" }, "\n"))
  h.raises("no value for {{domain}}", prompt.render, "for {{domain}}", {})
  local b = prompt.blocks(text)
  h.eq(b.domain, "Beauty")
  h.truthy(b.candidates:find("[C2]", 1, true))
end

function tests.prompt_files_load_and_split_into_messages()
  for _, name in ipairs { "gip_init", "pc", "feedback" } do
    local text, path = prompt.load(name)
    h.truthy(#text > 20 and path:find(name .. ".txt", 1, true), name)
  end
  local msgs = prompt.build("pc", { domain = "Beauty", session_items = { "a" }, candidates = { { label = "C1", title = "b" } },
                                    intent_pool = { "x" } })
  h.eq(#msgs, 2)
  h.eq(msgs[1].role, "system")
  h.eq(msgs[2].role, "user")
  h.truthy(msgs[2].content:find("<candidates>\n[C1] b\n</candidates>", 1, true), msgs[2].content)
  h.truthy(msgs[2].content:find("JSON"), "the P&C prompt asks for JSON")
  local fb = prompt.build("feedback", { prediction = "C1", intents = { "x", "y" } })
  h.eq(#fb, 1)
  h.truthy(fb[1].content:find("<prediction>C1</prediction> failed", 1, true), fb[1].content)
  h.raises("cannot find template", prompt.load, "no_such_prompt")
end

return tests
