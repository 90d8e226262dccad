-- test_le.lua — SPRINT+LE: the embeddings client against the loopback server (hundreds of
-- texts concurrently, each its own vector, a rerun served from the cache with no request,
-- per-token answers mean-pooled, a retried fault, a refused text named, the API key never in
-- the cache), the item-vector table (unit rows, padding zero, reloaded as saved), the LE model
-- (its loss's gradient against finite differences, training lowers the loss, SPRINT over it),
-- and recipes/sprint_le.lua end to end, and without an endpoint saying so and training nothing.
local h = require "helpers"
local S = require "llm_support"
local R = require "recipe_support"
local q, tmpdir = S.q, S.tmpdir

local tests = {}

local function with_endpoint(srv, fn, model)
  return S.with_env({ SPRINT_EMBED_BASE_URL = srv.base_url, SPRINT_EMBED_MODEL = model or "test-embed",
                      SPRINT_LLM_API_KEY = "sk-test-secret-key-1234567890", OPENAI_API_KEY = false }, fn)
end

function tests.embeddings_are_fetched_concurrently_cached_pooled_and_keyed_by_text()
  local embed = require "sprint.llm.embed"
  local srv = S.server { latency_ms = 5, require_key = "sk-test-secret-key-1234567890" }
  local dir = tmpdir()
  local ok, err = pcall(function()
    local texts = {}
    for i = 1, 300 do texts[i] = "item text number " .. i end
    texts[7] = "a text answered per token embedding=tokens"
    texts[9] = "a flaky text fault=500*1"
    local e = with_endpoint(srv, function() return embed.from_env { cache = dir .. "/e.sqlite", concurrency = 16 } end)
    local v, stats = e:embed_all(texts)
    h.eq(#v, 300)
    h.eq(#v[1], 8)
    h.eq(stats.requests, 300)
    h.eq(stats.pooled, 1, "the per-token answer was pooled")
    local seen = {}
    for i = 1, 300 do
      local key = table.concat(v[i], ",")
      h.truthy(not seen[key], "text " .. i .. " has its own vector")
      seen[key] = true
    end
    h.eq(#srv:log(), 301, "300 texts, one retried after its fault") -- requests seen by the server
    e:close()
    -- a rerun: every vector from the cache, the same numbers, nothing sent
    local e2 = with_endpoint(srv, function() return embed.from_env { cache = dir .. "/e.sqlite" } end)
    local v2, stats2 = e2:embed_all(texts)
    h.eq(stats2.requests, 0)
    h.eq(stats2.cached, 300)
    for i = 1, 300 do h.eq(table.concat(v2[i], ","), table.concat(v[i], ",")) end
    h.eq(#srv:log(), 301, "the rerun sent nothing")
    local bytes = #S.read(dir .. "/e.sqlite")
    h.truthy(bytes < 400 * 1024, "the cache keeps vectors, not bodies: " .. bytes .. " bytes")
    -- another model is another key
    e2:close()
    local e3 = with_endpoint(srv, function() return embed.from_env { cache = dir .. "/e.sqlite" } end, "other-model")
    local v3 = e3:embed_all({ texts[1] })
    h.truthy(table.concat(v3[1], ",") ~= table.concat(v[1], ","), "a vector per model")
    -- a text the endpoint refuses: named, and what was got is kept
    h.raises({ "could not embed text 2", "fault=400" }, function() e3:embed_all({ texts[2], "refused fault=400" }) end)
    e3:close()
    h.truthy(not S.read(dir .. "/e.sqlite"):find("sk-test-secret", 1, true), "the API key is not in the cache")
  end)
  srv:stop()
  os.execute("rm -rf " .. q(dir))
  if not ok then error(err, 0) end
end

local function planted()
  return require("sprint.data").load("planted", { n_sessions = 400 })
end

function tests.item_vectors_are_unit_rows_with_zero_padding_and_reload_as_saved()
  local iv = require "sprint.item_vectors"
  local srv = S.server {}
  local dir = tmpdir()
  local ok, err = pcall(function()
    local ds = planted()
    local path, meta = with_endpoint(srv, function() return iv.fetch(ds, dir) end)
    h.eq(meta.n_items, ds:n_items())
    h.eq(meta.dim, 8)
    local t = iv.load(path)
    h.eq(t:shape()[1], ds:n_items() + 2)
    local d = t:data()
    for k = 0, 7 do
      h.eq(d[k], 0, "padding row")
      h.eq(d[(ds:n_items() + 1) * 8 + k], 0, "mask row")
    end
    for j = 1, ds:n_items() do
      local s = 0
      for k = 0, 7 do s = s + d[j * 8 + k] ^ 2 end
      h.near(s, 1, 1e-5)
    end
    local before = #srv:log()
    local path2 = with_endpoint(srv, function() return iv.fetch(ds, dir) end)
    h.eq(path2, path)
    h.eq(#srv:log(), before, "a saved table is reused")
    local none, why = S.with_env({ SPRINT_EMBED_BASE_URL = false }, iv.fetch, ds, dir)
    h.truthy(none == nil and why:find("SPRINT_EMBED_BASE_URL", 1, true), tostring(why))
  end)
  srv:stop()
  os.execute("rm -rf " .. q(dir))
  if not ok then error(err, 0) end
end

-- A small LE model over random unit vectors (the model does not care where they came from).
local function le_model(seed, dropout)
  local sprint = require "sprint"
  local P = sprint.nn.params(seed)
  local n = 20
  local v = sprint.tensor.new({ n + 2, 6 })
  local r = sprint.rng(seed)
  local d = v:data()
  for i = 6, (n + 1) * 6 - 1 do d[i] = r:uniform() - 0.5 end
  return require("sprint.le_model").new(P, { kind = "sasrec", n_items = n, dim = 8, max_len = 5, layers = 1, heads = 1,
    dropout = dropout, vectors = v }), P
end

function tests.the_le_models_loss_gradient_matches_finite_differences()
  local sprint = require "sprint"
  local m, P = le_model(3, 0)
  local ctx = sprint.ctx(1)
  local seq = sprint.tensor.from({ { 0, 0, 3, 4, 5 }, { 1, 2, 3, 4, 6 } }, "i32")
  local last = sprint.tensor.from({ 4, 4 }, "i32")
  local b = { seq = seq, last = last, target = sprint.tensor.from({ 7, 9 }, "i32"),
              neg = sprint.tensor.from({ { 11, 12 }, { 13, 14 } }, "i32") }
  local function loss()
    ctx:reset()
    return m:loss(ctx, b, 2)
  end
  P:zero_grad()
  local l = loss()
  ctx:backward(l)
  local checked = 0
  for _, name in ipairs({ "le_mlp1.weight", "le_mlp2.weight", "le_base.item.weight", "le_llm.block0.attn.q.weight" }) do
    local t = P:get(name)
    local g, x = t:grad():data(), t:data()
    for _, i in ipairs({ 0, 5, 17 }) do
      if i < t:numel() then
        local x0, eps = x[i], 1e-2
        x[i] = x0 + eps
        local up = loss():item()
        x[i] = x0 - eps
        local down = loss():item()
        x[i] = x0
        h.near(g[i], (up - down) / (2 * eps), 2e-3, name .. "[" .. i .. "]")
        checked = checked + 1
      end
    end
  end
  h.truthy(checked >= 10, "checked " .. checked)
end

function tests.the_le_model_trains_and_sprint_stands_on_it()
  local sprint = require "sprint"
  local ds = planted()
  local P = sprint.nn.params(1)
  local v = sprint.tensor.new({ ds:n_items() + 2, 6 })
  local r, d = sprint.rng(2), v:data()
  for i = 6, (ds:n_items() + 1) * 6 - 1 do d[i] = r:uniform() - 0.5 end
  local m = require("sprint.le_model").new(P, { kind = "gru4rec", n_items = ds:n_items(), dim = 16, max_len = 10,
                                               vectors = v })
  local res = sprint.train.fit(m, ds, { epochs = 3, max_len = 10, eval_every = 3, verbose = false })
  h.truthy(res.history[3].loss < res.history[1].loss, "the loss falls: " .. res.history[1].loss .. " -> " .. res.history[3].loss)
  local pred = sprint.intent_model.new(P, { dim = 16, n_intents = 4 })
  local sm = sprint.sprint_model.new(m, pred, nil, { intent_loss = false })
  local ctx = sprint.ctx(1)
  local b = ds:batches { split = "test", batch_size = 8, max_len = 10 }
  b:epoch(0)()
  local hv, items = sm:encode_last(ctx, b.seq, b.last)
  h.eq(hv:shape()[2], 16)
  h.eq(items:shape()[1], ds:n_items() + 2)
  h.raises("causal backbones", require("sprint.le_model").new, P, { kind = "bert4rec", n_items = ds:n_items(), vectors = v })
end

function tests.the_sprint_le_recipe_runs_and_without_an_endpoint_stops_cleanly()
  local srv = S.server {}
  local dir = tmpdir()
  local ok, err = pcall(function()
    local env = R.CLEAN .. "SPRINT_EMBED_BASE_URL=" .. srv.base_url .. " SPRINT_EMBED_MODEL=test-embed "
    local rc, out, e = R.run(dir, "recipes/sprint_le.lua", R.smoke(" --set epochs=2"), env)
    h.eq(rc, 0, e)
    local res = require("sprint.report").read(dir .. "/runs/planted-1500-sasrec/sprint_le.json")
    local names = {}
    for i, m in ipairs(res.methods) do names[i] = m.name .. "/" .. #m.runs end
    h.eq(table.concat(names, " | "), "Backbone/2 | Backbone+LE/2 | SPRINT/2 | SPRINT+LE/2")
    h.truthy(out:find("item vectors: ", 1, true), out)
    rc, out, e = R.run(tmpdir(), "recipes/sprint_le.lua", R.smoke(" --set epochs=2"))
    h.eq(rc, 0, e)
    h.truthy(out:find("no embeddings endpoint", 1, true) and out:find("Nothing was trained", 1, true), out)
  end)
  srv:stop()
  os.execute("rm -rf " .. q(dir))
  if not ok then error(err, 0) end
end

return tests
