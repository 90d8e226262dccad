-- test_checkpoint.lua — the training checkpoint as one commit point: a real process kill just
-- before and just after every rename of a training run, then a rerun, ends with the bytes of
-- an uninterrupted run; the state is JSON read as data (Lua in it never runs), exact for
-- doubles and 64-bit rng words, and every load error names the file; a non-finite loss or
-- gradient stops training with an error naming the epoch and batch, keeping the last good
-- checkpoint, from which a rerun resumes.
local sprint = require "sprint"
local ffi = require "ffi"
local h = require "helpers"
local checkpoint = require "sprint.checkpoint"

local tests = {}

-- the shell and file helpers the LLM tests use too
local S = require "llm_support"
local q, tmpdir, slurp, write = S.q, S.tmpdir, S.read, S.write

local function listing(dir)
  local p = io.popen("ls -1A " .. q(dir))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  table.sort(names)
  return table.concat(names, " ")
end

local function exe() return S.exe("sprint") end
local run = S.run -- exit code (137 after a SIGKILL), stdout, stderr

-- ---- a kill at every rename -------------------------------------------------------------

-- A tiny training run whose every number lands in cfg.out: the loss and metric of each epoch,
-- the test metrics and the final parameters' bytes. With lr 3e-2 and patience 1, epoch 1 is
-- the best and epoch 2 worse, so training stops early after epoch 2 of 3: the state names an
-- older best model, and a resumed run must not train epoch 3.
local RECIPE = [[
local sprint = require "sprint"
local ffi = require "ffi"
sprint.set_num_threads(1)
local cfg = sprint.config { run_dir = "", out = "" }
local ds = sprint.data.load("planted", { n_sessions = 200, n_intents = 4, items_per_intent = 8, follow = 0.85,
                                          noise = 0.05 })
local P = sprint.nn.params(7)
local m = sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 6, dim = 8, heads = 1,
                                     layers = 1, dropout = 0.1 })
local res = sprint.train.fit(m, ds, { epochs = 3, batch_size = 64, max_len = 6, lr = 3e-2, patience = 1,
                                      metric = "HR@10", run_dir = cfg.run_dir, log = function() end })
local test = sprint.eval.rank(function(ctx, b) return m:encode_last(ctx, b.seq, b.last) end, ds,
                              { split = "test", max_len = 6 })
local lines = { string.format("epochs %d best_epoch %d best %.17g", res.epochs, res.best_epoch, res.best) }
for _, r in ipairs(res.history) do
  lines[#lines + 1] = string.format("epoch %d loss %.17g metric %.17g", r.epoch, r.loss, r.metric or -1)
end
local names = {}
for k in pairs(test.metrics) do names[#names + 1] = k end
table.sort(names)
for _, k in ipairs(names) do lines[#lines + 1] = string.format("test %s %.17g", k, test.metrics[k]) end
for name, t in P:iter() do lines[#lines + 1] = name .. " " .. ffi.string(t:data(), 4 * t:numel()) end
local f = assert(io.open(cfg.out, "wb"))
f:write(table.concat(lines, "\n"))
f:close()
]]

function tests.a_kill_at_every_rename_then_a_rerun_gives_the_uninterrupted_numbers()
  local sprint_exe = exe()
  local dir = tmpdir()
  local recipe = dir .. "/recipe.lua"
  write(recipe, RECIPE)
  -- one dataset cache for every run, made by the first
  local env = "SPRINT_CACHE=" .. q(dir .. "/cache") .. " "
  local function train(run_dir, out, fault)
    return run(env .. (fault or "") .. " " .. q(sprint_exe) .. " run " .. q(recipe) .. " --set run_dir="
      .. q(run_dir) .. " --set out=" .. q(out))
  end
  local rc, _, err = train(dir .. "/reference", dir .. "/reference.out")
  h.eq(rc, 0, err)
  local want = slurp(dir .. "/reference.out")
  h.truthy(want:find("^epochs 2 best_epoch 1"), "the planted run should stop early after epoch 2: "
    .. want:sub(1, 40))
  -- every kill is checked; what went wrong is listed at the end, the numbers first
  local kills, differ, leftovers = 0, {}, {}
  for _, side in ipairs({ "BEFORE", "AFTER" }) do
    local n = 1
    while true do
      local run_dir, out = string.format("%s/%s-%d", dir, side, n), string.format("%s/%s-%d.out", dir, side, n)
      local fault = string.format("SPRINT_FAULT_KILL_%s_RENAME=%d", side, n)
      rc, _, err = train(run_dir, out, fault)
      local where = fault .. " (" .. (err:match("killing the process at ([^\n]*)") or "no kill") .. ")"
      if rc == 0 then break end -- a run with fewer renames than n: nothing left to interrupt
      h.eq(rc, 137, where .. ": " .. err)
      h.truthy(err:find("fault injection", 1, true), where .. ": killed, but not by the fault injection: " .. err)
      h.truthy(slurp(out) == nil, where .. ": the killed run wrote its results")
      kills = kills + 1
      rc, _, err = train(run_dir, out)
      h.eq(rc, 0, where .. ", then the rerun: " .. err)
      if slurp(out) ~= want then differ[#differ + 1] = where end
      -- the rerun swept what the kill left: only the committed checkpoint's files remain
      local files = listing(run_dir .. "/checkpoint")
      if files ~= "adam-0002.state best-0001.params model-0002.params state.json" then
        leftovers[#leftovers + 1] = where .. ": " .. files
      end
      n = n + 1
    end
    h.truthy(slurp(dir .. "/" .. side .. "-" .. n .. ".out") == want, side .. ": an uninterrupted run differs")
  end
  h.eq(#differ, 0, "a rerun's numbers differ from an uninterrupted run's after " .. table.concat(differ, ", "))
  h.eq(#leftovers, 0, "checkpoint folder after the rerun: " .. table.concat(leftovers, "; "))
  -- per epoch: model, optimiser, state (+ the best model at epoch 1), then best.params
  h.eq(kills, 2 * 8, "kills: renames per run on each side")
  os.execute("rm -rf " .. q(dir))
end

-- ---- the state file ----------------------------------------------------------------------

local function planted()
  local saved = sprint.data.cache_dir
  local dir = tmpdir()
  sprint.data.cache_dir = function() return dir end
  local ds = sprint.data.load("planted", { n_sessions = 200, n_intents = 4, items_per_intent = 8, follow = 0.85,
                                           noise = 0.05 })
  sprint.data.cache_dir = saved
  os.execute("rm -rf " .. q(dir))
  return ds
end

local function model(ds, seed)
  local P = sprint.nn.params(seed or 7)
  return sprint.model.backbone(P, { kind = "sasrec", n_items = ds:n_items(), max_len = 6, dim = 8, heads = 1,
                                     layers = 1, dropout = 0.1 })
end

local function opts(run_dir, extra)
  local o = { epochs = 2, batch_size = 64, max_len = 6, lr = 1e-2, patience = 100, metric = "HR@10",
              run_dir = run_dir, log = function() end }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function history(res)
  local lines = {}
  for _, r in ipairs(res.history) do
    lines[#lines + 1] = string.format("%d %.17g %.17g", r.epoch, r.loss, r.metric or -1)
  end
  return table.concat(lines, "\n")
end

function tests.doubles_and_64_bit_rng_words_round_trip_exactly()
  local dir = tmpdir()
  local ck = checkpoint.open(dir .. "/checkpoint")
  local P = sprint.nn.params(1)
  sprint.nn.Linear(P, "l", 2, 1)
  local opt = sprint.optim.adam(P)
  local rng = ffi.new("sp_rng")
  rng.seed, rng.counter = 0xfedcba9876543210ULL, 0xffffffffffffffffULL
  local values = { 0.1, 1 / 3, 2 ^ 53 + 2, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 0.65000000000000002 }
  local hist = {}
  for i, v in ipairs(values) do hist[i] = { epoch = i, loss = v, note = "x\"y\n" .. i } end
  local n = #values
  ck:commit { epoch = n, params = P, optimiser = opt, rng = rng, best = ck:save_best(P, 3),
              loop = { epoch = n, best = 1 / 7, best_epoch = 3, bad_evals = 4, stopped = true, history = hist } }
  local back = checkpoint.open(dir .. "/checkpoint"):load()
  h.truthy(back.rng_seed == 0xfedcba9876543210ULL, "rng seed " .. tostring(back.rng_seed))
  h.truthy(back.rng_counter == 0xffffffffffffffffULL, "rng counter " .. tostring(back.rng_counter))
  for i, v in ipairs(values) do
    h.eq(back.loop.history[i].loss, v, "history[" .. i .. "].loss")
    h.eq(back.loop.history[i].note, "x\"y\n" .. i)
  end
  h.eq(back.loop.best, 1 / 7)
  h.eq(back.loop.stopped, true)
  h.eq(back.files.best, "best-0003.params")
  for _, s in ipairs({ "0", "1", "9007199254740993", "18446744073709551615" }) do
    h.eq(checkpoint.u64_string(checkpoint.parse_u64(s)), s)
  end
  h.eq(checkpoint.parse_u64("18446744073709551616"), nil, "2^64 does not fit")
  h.eq(checkpoint.parse_u64("-1"), nil)
  h.raises("state.loop.x = nan", function() checkpoint.encode({ loop = { x = 0 / 0 } }) end)
  os.execute("rm -rf " .. q(dir))
end

function tests.lua_in_a_state_file_is_never_run()
  local ds = planted()
  local dir = tmpdir()
  local marker = dir .. "/marker"
  os.execute("mkdir -p " .. q(dir .. "/checkpoint"))
  local code = "os.execute('touch " .. marker .. "'); return { loop = { epoch = 1 } }\n"
  -- an old-format state.lua: refused, naming it and the ways out
  write(dir .. "/checkpoint/state.lua", code)
  h.raises({ dir .. "/checkpoint/state.lua", "older sprint", "resume=false" },
    function() sprint.train.fit(model(ds), ds, opts(dir)) end)
  h.truthy(not slurp(marker), "state.lua was run")
  -- Lua where the JSON belongs: not valid JSON, not run
  write(dir .. "/checkpoint/state.json", code)
  h.raises({ dir .. "/checkpoint/state.json", "not valid JSON" }, function() sprint.train.fit(model(ds), ds, opts(dir)) end)
  h.truthy(not slurp(marker), "state.json was run")
  -- resume = false starts afresh and clears the old files
  local res = sprint.train.fit(model(ds), ds, opts(dir, { resume = false }))
  h.eq(res.epochs, 2)
  h.truthy(not slurp(dir .. "/checkpoint/state.lua"), "the old state.lua is still there")
  h.truthy(not slurp(marker), "a state file was run")
  os.execute("rm -rf " .. q(dir))
end

function tests.load_errors_name_the_file_and_the_cause()
  local ds = planted()
  local dir = tmpdir()
  sprint.train.fit(model(ds), ds, opts(dir))
  local ck = dir .. "/checkpoint"
  local state = slurp(ck .. "/state.json")
  local function with_state(text, fragments)
    write(ck .. "/state.json", text)
    h.raises(fragments, function() sprint.train.fit(model(ds), ds, opts(dir, { epochs = 3 })) end)
  end
  with_state(state:gsub('"counter":"%d+"', '"counter":12'), { ck .. "/state.json", "'rng'" })
  with_state(state:gsub('"epoch":2,"files"', '"epoch":2.5,"files"'), { ck .. "/state.json", "'epoch'" })
  with_state(state:gsub('"model%-0002%.params"', '"../x/model-0002.params"'), { ck .. "/state.json", "files.model" })
  with_state(state:gsub('"history":%[.-%]', '"history":[]'), { ck .. "/state.json", "loop.history" })
  with_state(state:gsub('"format":"[^"]*"', '"format":"x"'), { ck .. "/state.json", "not a sprint training checkpoint" })
  with_state("", { ck .. "/state.json", "not valid JSON" })
  -- a named file missing, then truncated (the parameter files are checksummed)
  write(ck .. "/state.json", state)
  local model_file = ck .. "/model-0002.params"
  local bytes = slurp(model_file)
  os.remove(model_file)
  h.raises({ ck .. "/state.json", "model-0002.params, which is missing" },
    function() sprint.train.fit(model(ds), ds, opts(dir, { epochs = 3 })) end)
  write(model_file, bytes:sub(1, #bytes - 9))
  h.raises({ ck .. "/state.json", model_file, "checksum mismatch" },
    function() sprint.train.fit(model(ds), ds, opts(dir, { epochs = 3 })) end)
  -- restored, it resumes
  write(model_file, bytes)
  h.eq(sprint.train.fit(model(ds), ds, opts(dir, { epochs = 3 })).epochs, 3)
  os.execute("rm -rf " .. q(dir))
end

-- ---- non-finite losses and gradients -----------------------------------------------------

-- An extra loss term that becomes NaN at (epoch, batch): in its value (`loss`), or only in its
-- gradient (`grad`: 0 * w * 1e38 * 1e10 is 0 forward, but its gradient is 0 * inf).
local function poison(m, at_epoch, at_batch, kind)
  local seen = {} -- batches so far, per epoch
  return {
    extra_loss = function(ctx, _, _, _, epoch)
      seen[epoch] = (seen[epoch] or 0) + 1
      if epoch ~= at_epoch or seen[epoch] ~= at_batch then return nil end
      if kind == "loss" then return ctx:scale(ctx:sum(m.items), 0 / 0) end
      local huge = {}
      for i = 1, m.items:numel() do huge[i] = 1e38 end
      local c = ctx:from(huge, m.items:shape())
      return ctx:scale(ctx:sum(ctx:mul(ctx:scale(m.items, 0), c)), 1e10)
    end,
  }
end

function tests.a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint()
  local ds = planted()
  local dir = tmpdir()
  local m = model(ds)
  local hooks = poison(m, 2, 3, "loss")
  local saved_epoch1
  hooks.on_epoch = function(record)
    if record.epoch == 1 then saved_epoch1 = slurp(dir .. "/checkpoint/state.json") end
  end
  h.raises({ "epoch 2, batch 3", "the loss is", "nan", "checkpoint of epoch 1", "Lower lr (0.01), or set clip_norm" },
    function() sprint.train.fit(m, ds, opts(dir, { epochs = 3, hooks = hooks })) end)
  -- the committed checkpoint is still epoch 1's, byte for byte, and nothing of epoch 2 was kept
  h.truthy(saved_epoch1 and slurp(dir .. "/checkpoint/state.json") == saved_epoch1, "state.json changed")
  h.eq(listing(dir .. "/checkpoint"), "adam-0001.state best-0001.params model-0001.params state.json")
  h.truthy(not slurp(dir .. "/best.params"), "best.params was written")
  h.truthy(slurp(dir .. "/train.log"):find("epoch 2, batch 3", 1, true), "train.log lacks the error")
  -- a rerun resumes from it and ends as an uninterrupted run does
  local resumed = sprint.train.fit(model(ds, 99), ds, opts(dir, { epochs = 3 }))
  local plain = sprint.train.fit(model(ds), ds, opts(nil, { epochs = 3 }))
  h.eq(history(resumed), history(plain))
  os.execute("rm -rf " .. q(dir))
end

function tests.a_nan_gradient_stops_training()
  local ds = planted()
  -- with clip_norm, Adam's gradient norm is checked at the batch
  local m = model(ds)
  local hooks = poison(m, 1, 2, "grad")
  h.raises({ "epoch 1, batch 2", "the gradient norm is", "nan", "nothing was saved", "or clip_norm (5)" },
    function() sprint.train.fit(m, ds, opts(nil, { clip_norm = 5, hooks = hooks })) end)
  -- without it, the weights it spoiled are found: by the next batch's loss, or after the
  -- epoch's last batch by the check of the weights
  local batches = 0
  sprint.train.fit(model(ds), ds, opts(nil, { epochs = 1, eval_every = 100, hooks = {
    extra_loss = function() batches = batches + 1 end } }))
  h.truthy(batches >= 2, "the planted dataset should give a few batches per epoch")
  m = model(ds)
  h.raises({ "epoch 1, batch 2", "the loss is", "nan" },
    function() sprint.train.fit(m, ds, opts(nil, { hooks = (poison(m, 1, 1, "grad")) })) end)
  m = model(ds)
  h.raises({ "epoch 1:", "parameter", "holds nan", "after the epoch's updates" },
    function() sprint.train.fit(m, ds, opts(nil, { hooks = (poison(m, 1, batches, "grad")) })) end)
end

function tests.a_huge_lr_is_an_error_and_sprint_run_exits_non_zero()
  local ds = planted()
  h.raises("lr must be finite", function() sprint.train.fit(model(ds), ds, opts(nil, { lr = 1e999 })) end)
  h.raises("lr must be finite", function() sprint.optim.adam(model(ds).params):set_lr(1e39) end) -- inf as a float
  h.raises({ "epoch 1, batch", "nan" }, function() sprint.train.fit(model(ds), ds, opts(nil, { lr = 1e30 })) end)
  -- the backbone recipe, on the planted dataset and a tiny model
  local sprint_exe = exe()
  local dir = tmpdir()
  local cmd = "SPRINT_CACHE=" .. q(dir .. "/cache") .. " " .. q(sprint_exe) .. " run recipes/backbone.lua"
    .. " --set dataset=planted --set seeds=1 --set epochs=2 --set dim=8 --set heads=1 --set layers=1"
    .. " --set max_len=10 --set threads=1 --set run_dir=" .. q(dir .. "/runs")
  -- (lr=1e999 reads as inf: sprint.config refuses it before training; Adam would too)
  for _, case in ipairs({ { "1e999", "expected a finite number > 0" }, { "1e30", "epoch 1, batch" } }) do
    local rc, out, err = run(cmd .. " --set lr=" .. case[1])
    h.truthy(rc ~= 0, "lr=" .. case[1] .. ": exit code 0: " .. out)
    h.truthy(err:find(case[2], 1, true), "lr=" .. case[1] .. ": " .. err)
    h.truthy(not slurp(dir .. "/runs/planted-sasrec/results.json"), "lr=" .. case[1] .. ": results.json written")
  end
  os.execute("rm -rf " .. q(dir))
end

return tests
