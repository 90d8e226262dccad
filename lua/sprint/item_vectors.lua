-- item_vectors.lua — SPRINT+LE's frozen item vectors (paper §5.1.3): each item's text (title,
-- brand, categories) embedded by an LLM embeddings endpoint (sprint.llm.embed), L2-normalised
-- (as OpenAI's ada-002 vectors come), as an (n_items + 2, D) table whose rows 0 (padding) and
-- n_items + 1 (BERT4Rec's [MASK]) are zero. Saved once per dataset and model as <dir>/<model>.f32
-- with a .json beside it (model, endpoint, size, how many were pooled), which later runs and a
-- grid's cells load without any endpoint.
--   local path, why = item_vectors.fetch(ds, dir)     -- nil, why: no endpoint configured
--   local t, meta = item_vectors.load(path)           -- a float32 tensor, its .json
local ffi = require "ffi"
local files = require "sprint.files"

local M = {}

-- The text an item is embedded from.
function M.item_text(ds, j)
  local it = ds:item(j)
  local parts = {}
  if it.title ~= "" then parts[#parts + 1] = it.title end
  if it.brand ~= "" then parts[#parts + 1] = "brand: " .. it.brand end
  if #it.categories > 0 then parts[#parts + 1] = "category: " .. table.concat(it.categories, " > ") end
  if #parts == 0 then parts[1] = "item " .. tostring(it.key ~= "" and it.key or j) end
  return table.concat(parts, "; ")
end

local function slug(s) return (s:gsub("[^%w%.%-]+", "-")) end

-- The path a dataset's vectors from `model` are saved at under dir (without extension).
function M.path(dir, model) return dir .. "/" .. slug(model) end

-- Embeds every item of ds through the configured endpoint (sprint.llm.embed.from_env; cache
-- dir/embeddings.sqlite) and saves the table; an existing table for the same model and
-- catalogue is kept. Returns its path (without extension) and the .json's fields, or nil and
-- why there is no endpoint.
function M.fetch(ds, dir, opts)
  opts = opts or {}
  files.mkdir(dir)
  local client, why = require("sprint.llm.embed").from_env { cache = dir .. "/embeddings.sqlite",
    run = "item-vectors-" .. (opts.dataset or "dataset"), concurrency = opts.concurrency }
  if not client then return nil, why end
  local path = M.path(dir, client.model)
  local texts = {}
  for j = 1, ds:n_items() do texts[j] = M.item_text(ds, j) end
  local texts_sha = require("sprint.llm.store").sha256(table.concat(texts, "\n"))
  local meta_text = files.read(path .. ".json")
  local old = meta_text and require("cjson.safe").decode(meta_text)
  if old and old.model == client.model and old.texts_sha256 == texts_sha and files.exists(path .. ".f32") then
    client:close()
    return path, old
  end
  print(string.format("item vectors: embedding %d item texts with %s (cached in %s/embeddings.sqlite)", #texts,
    client.name, dir))
  local ok, vectors, stats = pcall(client.embed_all, client, texts, function(done, n)
    print(string.format("item vectors: %d/%d embedded", done, n))
  end)
  client:close()
  if not ok then error(vectors, 0) end
  local D = #vectors[1]
  local n = #texts
  local buf = ffi.new("float[?]", (n + 2) * D)
  for j = 1, n do
    local v = vectors[j]
    if #v ~= D then error(string.format("item vectors: item %d has %d numbers, item 1 has %d", j, #v, D), 0) end
    local norm = 0
    for k = 1, D do norm = norm + v[k] * v[k] end
    norm = math.sqrt(norm)
    if not (norm > 0) then error("item vectors: item " .. j .. "'s vector is zero or not finite", 0) end
    for k = 1, D do buf[j * D + k - 1] = v[k] / norm end
  end
  local meta = { model = client.model, endpoint = client.base_url, dim = D, n_items = n, rows = n + 2,
                 texts_sha256 = texts_sha, normalised = "L2", pooled_by_mean = stats.pooled,
                 requests = stats.requests, cached = stats.cached, seconds = stats.seconds }
  files.write_atomic(path .. ".f32", ffi.string(buf, (n + 2) * D * 4))
  files.write_atomic(path .. ".json", require("sprint.report").json(meta))
  print(string.format("item vectors: %d x %d saved to %s.f32 (%d asked, %d from the cache%s)", n, D, path,
    stats.requests, stats.cached, stats.pooled > 0 and (", per-token vectors mean-pooled for " .. stats.pooled) or ""))
  return path, meta
end

-- The saved table at path (without extension) as a float32 tensor (rows, dim), and its .json.
function M.load(path)
  local meta_text = files.read(path .. ".json")
  local meta = meta_text and require("cjson.safe").decode(meta_text)
  if type(meta) ~= "table" then error("item vectors: " .. path .. ".json is missing or not JSON", 0) end
  local raw = files.read(path .. ".f32")
  if not raw or #raw ~= meta.rows * meta.dim * 4 then
    error(string.format("item vectors: %s.f32 should hold %d x %d floats", path, meta.rows, meta.dim), 0)
  end
  local t = require("sprint.tensor").new({ meta.rows, meta.dim })
  ffi.copy(t:data(), raw, #raw)
  return t, meta
end

return M
