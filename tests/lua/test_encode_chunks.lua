-- test_encode_chunks.lua — evaluation encodes a batch in chunks of similar length
-- (model.ENCODE_CHUNK), SASRec and BERT4Rec with their last block at the last positions only
-- (sp_backbone_encode_last): GRU4Rec's session vectors are bitwise those of one encode of the
-- whole batch, the Transformers' within 1e-5, and eval.rank's ranks with them are the same, on
-- sessions of mixed length; the last-positions shortcut refuses training and grad recording.
local ffi = require "ffi"
local sprint = require "sprint"
local model = require "sprint.model"
local h = require "helpers"

local tests = {}

for _, kind in ipairs({ "sasrec", "bert4rec", "gru4rec" }) do
  tests[kind .. "_chunks_give_the_vectors_and_ranks_of_one_piece"] = function()
    local ds = h.planted { n_sessions = 400, n_intents = 5, items_per_intent = 20, follow = 0.8, noise = 0.1 }
    local P = sprint.nn.params(4)
    local m = sprint.model.backbone(P, { kind = kind, n_items = ds:n_items(), max_len = 12, dim = 16, heads = 2,
                                         layers = 2 })
    local ctx = sprint.ctx(1)
    ctx:eval()
    ctx:set_grad_enabled(false)
    -- 100 rows of lengths 1..12 in a scrambled order
    local B, L = 100, 12
    local seq, last = ctx:tensor({ B, L }, "i32"), ctx:tensor({ B }, "i32")
    local sd, ld = seq:data(), last:data()
    for r = 0, B - 1 do
      local n = 1 + (r * 7) % L
      for c = L - n, L - 1 do sd[r * L + c] = 1 + (r * 13 + c * 5) % ds:n_items() end
      ld[r] = L - 1
    end
    local old, old_tokens = model.ENCODE_CHUNK, model.ENCODE_TOKENS
    model.ENCODE_CHUNK, model.ENCODE_TOKENS = 16, 96 -- short rows share chunks of up to 96 tokens
    local a = m:encode_last(ctx, seq, last)
    local chunked = ffi.string(a:data(), a:numel() * 4)
    model.ENCODE_CHUNK = 1e9
    local b = m:encode_last(ctx, seq, last)
    local whole = ffi.string(b:data(), b:numel() * 4)
    h.eq(a:numel(), b:numel(), "shapes")
    local worst = 0
    local ad, bd = ffi.cast("const float *", chunked), ffi.cast("const float *", whole)
    for i = 0, a:numel() - 1 do worst = math.max(worst, math.abs(ad[i] - bd[i])) end
    if kind ~= "gru4rec" then
      -- the last block at the last positions only (sp_backbone_encode_last): its GEMMs see
      -- other row counts, and OpenBLAS picks its micro-kernel by shape, so the last bits may
      -- differ (seen: 1.3e-6)
      h.truthy(worst < 1e-5, kind .. ": chunked vectors differ from one encode by " .. worst)
    else
      h.truthy(chunked == whole, kind .. ": chunked vectors differ from one encode by " .. worst)
    end
    local function enc(c, batch) return m:encode_last(c, batch.seq, batch.last) end
    local r1 = sprint.eval.rank(enc, ds, { split = "test", max_len = L })
    model.ENCODE_CHUNK = 16
    local r2 = sprint.eval.rank(enc, ds, { split = "test", max_len = L })
    model.ENCODE_CHUNK, model.ENCODE_TOKENS = old, old_tokens
    for i = 1, r1.n do h.eq(r2.ranks[i], r1.ranks[i], "rank of session " .. i) end
  end
end

return tests
