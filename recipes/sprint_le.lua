-- sprint_le.lua — SPRINT+LE (paper §5.1.3) for one dataset and backbone: each item's text
-- embedded by an LLM embeddings endpoint (SPRINT_EMBED_BASE_URL, SPRINT_EMBED_MODEL; OpenAI's
-- text-embedding-ada-002 in the paper, offline a local model: tools/llm_local_server embed),
-- frozen, projected to d/2 by a two-layer MLP beside a trainable d/2 base embedding, each branch
-- through its own copy of the backbone and the two concatenated (sprint.le_model). Rows: the
-- backbone, the backbone with LE, SPRINT and SPRINT+LE over the seeds, seed-paired t-tests
-- against the backbone; the backbone and SPRINT rows are recipes/sprint.lua's own runs.
-- Without an embeddings endpoint it says so and stops, training nothing (exit status 0).
--   SPRINT_EMBED_BASE_URL=$(tools/llm_local_server url 8089) SPRINT_EMBED_MODEL=gemma-3-270m \
--     build/sprint run recipes/sprint_le.lua --set dataset=beauty --set jobs=2
-- Writes sprint_le.{md,csv,json}; the item vectors in item-vectors/<model>.{f32,json}.
local stage2 = require("sprint.intents").stage2
local item_vectors = require "sprint.item_vectors"

local cfg, proto, ds = stage2.open_recipe("SPRINT+LE (LLM item embeddings)")
if cfg.backbone == "bert4rec" then
  error("sprint_le: SPRINT+LE is built for the causal backbones (sasrec, gru4rec); BERT4Rec's [MASK] token has no "
    .. "LLM vector yet", 0)
end
local dir = stage2.run_dir(cfg, proto)
local path, meta = item_vectors.fetch(ds, dir .. "/item-vectors", { dataset = cfg.dataset, concurrency = cfg.concurrency })
if not path then
  print("SPRINT+LE needs item-text embeddings and there is no embeddings endpoint: " .. meta .. ". Nothing was trained.")
  return
end
local le = { le_model = meta.model, le_vectors = path }
stage2.rows_recipe(cfg, proto, ds, { name = "sprint_le", baseline = "Backbone",
  what = string.format("SPRINT+LE (item vectors: %s, %d numbers per item%s)", meta.model, meta.dim,
    (meta.pooled_by_mean or 0) > 0 and ", mean-pooled over tokens" or ""), rows = {
    { name = "Backbone+LE", backbone = true, extra = le, dir = "backbone-le" },
    { name = "SPRINT", set = {} },
    { name = "SPRINT+LE", set = {}, extra = le, dir = "sprint-le" },
  } })
