-- test_sprint_resume.lua — SPRINT's intent labels are part of the training checkpoint: a real
-- process kill just before and just after every rename of a SPRINT training run (labels
-- refreshed by enrichment after every epoch), then a rerun, ends with the uninterrupted run's
-- parameters, labels and numbers; a checkpoint without the labels is refused on resume.
local h = require "helpers"
local S = require "llm_support"
local q, tmpdir, slurp, write = S.q, S.tmpdir, S.read, S.write

local tests = {}

-- A tiny SPRINT run (SASRec + intent predictor on planted data, Stage-1-like labels on every
-- third training session) whose every number lands in cfg.out: each epoch's loss and metric,
-- the final parameters' bytes and the label store's bytes. The labels are refreshed after
-- every epoch, so a resume that restarted from the initial labels would train differently.
local RECIPE = [[
local sprint = require "sprint"
local ffi = require "ffi"
sprint.set_num_threads(1)
local cfg = sprint.config { run_dir = "", out = "", epochs = 3 }
local ds = sprint.data.load("planted", { n_sessions = 200, n_intents = 4, items_per_intent = 8, follow = 0.85,
                                          noise = 0.05 })
local names, ids = ds:labels(), {}
for k, name in ipairs(names) do ids[name] = k end
local loaded = { labels = {} }
for i = 1, ds:n_sessions() do
  local s = ds:session(i)
  if s.split == "train" and s.labels and i % 3 == 0 then
    local l = {}
    for k, name in ipairs(s.labels) do l[k] = ids[name] end
    loaded.labels[i] = l
  end
end
local P = sprint.nn.params(7)
local bb = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 6, dim = 8, heads = 1,
                                      layers = 1, dropout = 0.1 })
local im = sprint.intent_model.new(P, { dim = 8, n_intents = #names, dropout = 0.1 })
local store = sprint.intents.labels.from_stage1(loaded, ds:n_sessions(), #names)
local sm = sprint.sprint_model.new(bb, im, store, { lambda_intent = 0.5 })
local res = sprint.train.fit(sm, ds, { epochs = cfg.epochs, batch_size = 64, max_len = 6, lr = 1e-2, patience = 5,
  metric = "HR@10", run_dir = cfg.run_dir, log = function() end,
  hooks = sm:hooks(ds, { every = 1, k = 3, max_len = 6, batch_size = 64 }) })
local lines = { string.format("epochs %d best_epoch %d best %.17g", res.epochs, res.best_epoch, res.best) }
for _, r in ipairs(res.history) do
  lines[#lines + 1] = string.format("epoch %d loss %.17g metric %.17g", r.epoch, r.loss, r.metric or -1)
end
for name, t in P:iter() do lines[#lines + 1] = name .. " " .. ffi.string(t:data(), 4 * t:numel()) end
lines[#lines + 1] = "labels " .. ffi.string(store._y, 4 * store.n_sessions * store.n_intents)
  .. ffi.string(store._w, 4 * store.n_sessions)
local f = assert(io.open(cfg.out, "wb"))
f:write(table.concat(lines, "\n"))
f:close()
]]

local function setup()
  local dir = tmpdir()
  local recipe = dir .. "/recipe.lua"
  write(recipe, RECIPE)
  local env = "SPRINT_CACHE=" .. q(dir .. "/cache") .. " "
  local function train(run_dir, out, extra)
    return S.run(env .. (extra or "") .. " " .. q(S.exe("sprint")) .. " run " .. q(recipe) .. " --set run_dir="
      .. q(run_dir) .. " --set out=" .. q(out))
  end
  return dir, train
end

function tests.a_kill_at_every_rename_of_a_sprint_run_then_a_rerun_gives_the_uninterrupted_bytes()
  local dir, train = setup()
  local rc, _, err = train(dir .. "/reference", dir .. "/reference.out")
  h.eq(rc, 0, err)
  local want = slurp(dir .. "/reference.out")
  h.truthy(want:find("^epochs 3"), "the reference run trains 3 epochs: " .. want:sub(1, 40))
  local kills, differ = 0, {}
  for _, side in ipairs({ "BEFORE", "AFTER" }) do
    local n = 1
    while true do
      local run_dir, out = string.format("%s/%s-%d", dir, side, n), string.format("%s/%s-%d.out", dir, side, n)
      local fault = string.format("SPRINT_FAULT_KILL_%s_RENAME=%d", side, n)
      rc, _, err = train(run_dir, out, fault)
      if rc == 0 then break end
      local where = fault .. " (" .. (err:match("killing the process at ([^\n]*)") or "no kill") .. ")"
      h.eq(rc, 137, where .. ": " .. err)
      kills = kills + 1
      rc, _, err = train(run_dir, out)
      h.eq(rc, 0, where .. ", then the rerun: " .. err)
      if slurp(out) ~= want then differ[#differ + 1] = where end
      n = n + 1
    end
  end
  -- per epoch at least: labels, model, optimiser, state
  h.truthy(kills >= 2 * 3 * 4, "kills: " .. kills)
  h.eq(#differ, 0, "a rerun's parameters or labels differ from an uninterrupted run's after " .. table.concat(differ, ", "))
  os.execute("rm -rf " .. q(dir))
end

-- Resuming after epoch 2 of 3 without the labels' file in the checkpoint would silently train
-- epoch 3 on the initial labels: the rerun must refuse, naming the checkpoint.
function tests.a_checkpoint_without_its_labels_is_refused()
  local dir, train = setup()
  local run_dir = dir .. "/run"
  local rc, _, err = train(run_dir, dir .. "/a.out", "SPRINT_FAULT_KILL_AFTER_RENAME=8")
  h.eq(rc, 137, err)
  local state = slurp(run_dir .. "/checkpoint/state.json")
  h.truthy(state and state:find('"extra":"extra%-%d+%.bin"'), "the state names the labels' file: " .. tostring(state))
  write(run_dir .. "/checkpoint/state.json", (state:gsub('"extra":"extra%-%d+%.bin"', '"extra":null')))
  rc, _, err = train(run_dir, dir .. "/b.out")
  h.truthy(rc ~= 0 and err:find("holds no model state", 1, true), "rc " .. rc .. ": " .. err)
  os.execute("rm -rf " .. q(dir))
end

return tests
