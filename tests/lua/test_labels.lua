-- test_labels.lua — sprint.intents.labels, the per-session intent label store: Eq. 11's
-- initialisation from Stage 1's output, gathering a batch's labels (prefix examples of one
-- session share its row), writing enriched labels, an exact save/load round trip, errors.
local ffi = require "ffi"
local sprint = require "sprint"
local h = require "helpers"
local labels = require "sprint.intents.labels"
local T = sprint.tensor

local tests = {}

-- what sprint.intents.load gives: 1-based sessions -> 1-based pool ids
local function loaded()
  return { labels = { [2] = { 1, 3 }, [4] = { 2 } }, hard_negatives = { [2] = { 7 } } }
end

function tests.eq11_initialisation_from_stage1()
  local s = labels.from_stage1(loaded(), 5, 3)
  h.eq(s.n_sessions, 5)
  h.eq(s.n_intents, 3)
  local want = { [1] = { 0, 0, 0 }, [2] = { 1, 0, 1 }, [3] = { 0, 0, 0 }, [4] = { 0, 1, 0 }, [5] = { 0, 0, 0 } }
  for i = 1, 5 do
    local y, w = s:get(i)
    h.eq(h.show(y), h.show(want[i]), "session " .. i)
    h.eq(w, (i == 2 or i == 4) and 1 or 0, "weight of session " .. i)
  end
  h.eq(s:n_labelled(), 2)
  h.truthy(tostring(s):find("2 labelled", 1, true))
  h.raises("session index 9 is not in [1, 5]", labels.from_stage1, { labels = { [9] = { 1 } } }, 5, 3)
  h.raises("intent id 4, not in [1, 3]", labels.from_stage1, { labels = { [1] = { 4 } } }, 5, 3)
end

function tests.batch_gathers_rows_and_prefixes_share_labels()
  local s = labels.from_stage1(loaded(), 5, 3)
  local ctx = sprint.ctx()
  -- 0-based sessions as the batcher gives them: rows 0 and 2 are two prefixes of session 2
  -- (index 1); row 3 is padding past rows = 3
  local sess = T.from_i32({ 1, 0, 1, 3 })
  local y, w = s:batch(ctx, sess, 3)
  h.eq(h.show(y:shape()), "{4, 3}")
  h.eq(h.show(y:totable()[1]), "{1, 0, 1}")
  h.eq(h.show(y:totable()[2]), "{0, 0, 0}")
  h.eq(h.show(y:totable()[3]), "{1, 0, 1}")
  h.eq(h.show(y:totable()[4]), "{0, 0, 0}", "padding row")
  h.eq(h.show(w:totable()), "{1, 0, 1, 0}")
  h.raises("row 0 has session 7", s.batch, s, ctx, T.from_i32({ 7 }), 1)
  h.raises("rows = 5 must be in [0, 4]", s.batch, s, ctx, sess, 5)
end

function tests.set_rows_writes_enriched_labels_with_weight_one()
  local s = labels.from_stage1(loaded(), 5, 3)
  local y = T.from({ { 0.25, 0.5, 0.125 }, { 0.75, 0.5, 1 }, { 9, 9, 9 } })
  s:set_rows(T.from_i32({ 0, 1, 4 }), y, 2) -- the third row is padding: session 5 untouched
  local y1, w1 = s:get(1)
  h.eq(h.show(y1), "{0.25, 0.5, 0.125}")
  h.eq(w1, 1)
  local y2 = s:get(2)
  h.eq(h.show(y2), "{0.75, 0.5, 1}")
  local y5, w5 = s:get(5)
  h.eq(h.show(y5), "{0, 0, 0}")
  h.eq(w5, 0)
  h.raises("y must be float32 (3, 3)", s.set_rows, s, T.from_i32({ 0, 1, 4 }), T.from({ { 1, 2 } }), 1)
end

-- refresh asks the model for each batch's enriched labels and stores them
function tests.refresh_relabels_every_session_of_the_batches()
  local s = labels.new(6, 2)
  local fake_batches = { session = T.from_i32({ 0, 0, 0 }) }
  local plan = { { 5, 2, 3 }, { 0, 1 } } -- two batches: sessions (0-based) and the real rows
  function fake_batches:epoch()
    local k = 0
    return function()
      k = k + 1
      local b = plan[k]
      if not b then return nil end
      for r = 1, 3 do self.session:data()[r - 1] = b[r] or 0 end
      return #b
    end
  end
  local model = {}
  function model:enrich_batch(ctx, batches, rows)
    local y = ctx:tensor({ 3, 2 })
    for r = 0, 2 do
      y:data()[2 * r] = batches.session:data()[r] / 10
      y:data()[2 * r + 1] = 0.5
    end
    return y
  end
  h.eq(s:refresh(model, sprint.ctx(), fake_batches), 5)
  h.eq(s:n_labelled(), 5)
  for i = 1, 6 do
    local y, w = s:get(i)
    if i == 5 then
      h.eq(w, 0)
    else
      h.near(y, { (i - 1) / 10, 0.5 }, 1e-7)
      h.eq(w, 1)
    end
  end
end

function tests.save_and_load_round_trip_exactly()
  local s = labels.from_stage1(loaded(), 7, 5)
  local rng = sprint.rng(3)
  for i = 1, 7, 2 do
    local y = {}
    for c = 1, 5 do y[c] = rng:uniform() end -- doubles: stored as float32
    s:set(i, y, i == 7 and 0.5 or 1)
  end
  local path = os.tmpname()
  s:save(path)
  local t = labels.load(path)
  h.eq(t.n_sessions, 7)
  h.eq(t.n_intents, 5)
  h.truthy(ffi.string(t._y, 7 * 5 * 4) == ffi.string(s._y, 7 * 5 * 4), "labels differ after the round trip")
  h.truthy(ffi.string(t._w, 7 * 4) == ffi.string(s._w, 7 * 4), "weights differ after the round trip")
  local _, w7 = t:get(7)
  h.eq(w7, 0.5)
  local f = io.open(path, "ab")
  f:write("x")
  f:close()
  h.raises("bytes of data, expected", labels.load, path)
  os.remove(path)
  h.raises("is not a label file", labels.load, "/dev/null")
end

return tests
