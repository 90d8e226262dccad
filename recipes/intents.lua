-- intents.lua — SPRINT's Stage 1 (paper §4.1): warm up a backbone on the training sessions,
-- score every training session's uncertainty and pick the hard ones, build the global intent
-- pool, and run predict-and-correct on the hard sessions; print the report. Stage 2 reads the
-- run directory (sprint.intents.load).
--   build/sprint run recipes/intents.lua --set dataset=beauty
--   build/sprint run recipes/intents.lua --set selection=random --set hard_ratio=0.05
--   build/sprint run recipes/intents.lua --set prompts=my_prompts   # another template set
--   SPRINT_LLM_BASE_URL=... SPRINT_LLM_MODEL=... build/sprint run recipes/intents.lua   # a real model
-- Without an endpoint the offline stand-in answers (never called an LLM in any output).
local sprint = require "sprint"
local intents = require "sprint.intents"

local cfg = sprint.config {
  dataset = "beauty", backbone = "sasrec", seed = 1, threads = 0,
  -- the warm-up backbone (the paper's settings), or a saved one
  dim = 64, layers = 2, heads = 2, dropout = 0.2, max_len = 50, lr = 1e-3, l2 = 1e-4, batch_size = 256,
  warmup_epochs = 30, patience = 5, backbone_params = "",
  -- selection (§4.1.1): uncertainty (RRF of H_sess and H_pred) | random | h_sess | h_pred
  selection = "uncertainty", hard_ratio = 0.10, rrf_k = 60, pred_over = "session",
  -- the LLM stage (§4.1.2)
  domain = "", candidates = 5, max_tries = 3, concurrency = 16, pool_cap = 1000, gip_max_intents = 40,
  prompts = "", batch = false, batch_results = "", progress = true,
  run_dir = "runs/intents", resume = true,
}, { spec = {
  warmup_epochs = "int>=1", selection = { "uncertainty", "random", "h_sess", "h_pred" },
  hard_ratio = "number in [0, 1]", rrf_k = "number>0", pred_over = { "session", "catalogue" },
  candidates = "int>=1", max_tries = "int>=1", concurrency = "int>=1", pool_cap = "int>=0",
  gip_max_intents = "int>=1",
} }
sprint.set_num_threads(cfg.threads)

local ds = sprint.data.load(cfg.dataset)
local dir = string.format("%s/%s-%s-%s-r%g", cfg.run_dir, cfg.dataset, cfg.backbone, cfg.selection, cfg.hard_ratio)
os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
local f = assert(io.open(dir .. "/config.lua", "w"))
f:write(sprint.config.dump(cfg), "\n")
f:close()
print(string.format("sprint %s | %s: %d sessions, %d items | stage 1 on %s hard sessions (%s, r = %g)", sprint.version(),
  cfg.dataset, ds:n_sessions(), ds:n_items(), cfg.backbone, cfg.selection, cfg.hard_ratio))

-- 1. the warm-up backbone
local model = intents.warmup(ds, cfg, dir .. "/backbone")

-- 2. uncertainty scores and the hard sessions
local hard, choice, scores = intents.select_hard(model, ds, cfg, dir)
print(string.format("selected %d of %d training sessions (%s)", #hard, choice.n, cfg.selection))
-- how hard they are for the backbone itself, beside a random draw of the same size
local random = intents.select.choose(scores, { strategy = "random", ratio = cfg.hard_ratio, seed = cfg.seed })
local diff = intents.evidence.difficulty(model, ds, { selected = hard, random = random.hard }, { max_len = cfg.max_len })
for _, name in ipairs { "selected", "random" } do
  local d = diff[name]
  print(string.format("  backbone on the held-out last item, %-8s sessions: HR@10 %.4f MRR %.4f (n %d); the rest: "
    .. "HR@10 %.4f MRR %.4f (n %d)", name, d.selected.hr10, d.selected.mrr, d.selected.n, d.rest.hr10, d.rest.mrr, d.rest.n))
end

-- 3. the pool and predict-and-correct
local client = sprint.llm.from_env(cfg, { catalogue = intents.catalogue(ds), cache = dir .. "/llm.sqlite",
                                          run = "intents-" .. cfg.dataset })
print("answers from: " .. client.name)
local result = intents.stage1(ds, hard, client, cfg, dir .. "/stage1")
client:close()
print()
print(result.report.markdown)

-- 4. evidence independent of any LLM: on planted data, the hidden intents recovered
local rec = intents.evidence.recovery(ds, intents.load(dir .. "/stage1"))
if rec then
  print(string.format("planted intents recovered: precision %.3f, recall %.3f over %d accepted sessions",
    rec.precision, rec.recall, rec.sessions))
end
print("run directory: " .. dir)
intents.finish(result)
