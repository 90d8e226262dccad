-- sprint_model.lua — the SPRINT model (paper §4.2-4.3): a backbone and the intent predictor,
-- with the interface sprint.train.fit and sprint.eval use (params, loss, encode_last):
--   local sm = sprint.sprint_model.new(backbone, predictor, store, { lambda_intent = 1e-2 })
--   sprint.train.fit(sm, ds, { ..., hooks = sm:hooks(ds, { every = 5 }) })
-- The loss is Eq. 17: L_rec on h_tilde (Eq. 16, the backbone's own BCE against the batch's
-- negatives, backbone:rec_loss) + lambda_intent L_intent (Eq. 10, labels and weights from the
-- label store, sprint.intents.labels) + lambda_ortho L_ortho. Switches make ablations settings:
-- fusion = false (h_tilde = h), intent_loss = false, ortho = false. Inference (encode_last)
-- needs no LLM: it returns h_tilde from the session alone. The hooks refresh the labels every
-- rho epochs by collaborative enrichment (Eq. 12-14) over the training sessions.
local M = {}
local SprintModel = {}
SprintModel.__index = SprintModel
M.SprintModel = SprintModel

local KNOWN = { lambda_intent = true, lambda_ortho = true, fusion = true, intent_loss = true, ortho = true }

-- sprint_model.new(backbone, predictor, store, opts): backbone from sprint.model.backbone
-- (sasrec or gru4rec), predictor from sprint.intent_model.new in the SAME parameter store,
-- store a label store (may be nil when intent_loss is false). opts: lambda_intent (default
-- 1e-2), lambda_ortho (1e-3; the paper's grid is {1e-4, 1e-3, 1e-2} for both), fusion,
-- intent_loss, ortho (booleans, default true).
function M.new(backbone, predictor, store, opts)
  local w = "sprint_model.new"
  opts = opts or {}
  if type(opts) ~= "table" then error(w .. ": opts must be a table", 2) end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(w .. ": unknown option '" .. tostring(k) .. "' (known: fusion, intent_loss, lambda_intent, lambda_ortho, ortho)", 2)
    end
  end
  local mt = type(backbone) == "table" and getmetatable(backbone)
  if mt ~= require("sprint.model").Backbone and mt ~= require("sprint.le_model").LE then
    error(w .. ": backbone must be a sprint.model.backbone or a sprint.le_model", 2)
  end
  if getmetatable(predictor) ~= require("sprint.intent_model").IntentModel then
    error(w .. ": predictor must be a sprint.intent_model", 2)
  end
  if predictor.params ~= backbone.params then error(w .. ": the backbone and the predictor must share one parameter store", 2) end
  if predictor.dim ~= backbone.config.dim then
    error(w .. ": the predictor's dim (" .. predictor.dim .. ") must be the backbone's (" .. backbone.config.dim .. ")", 2)
  end
  local function flag(name)
    local v = opts[name]
    if v == nil then return true end
    if type(v) ~= "boolean" then error(w .. ": '" .. name .. "' must be a boolean", 3) end
    return v
  end
  local self = setmetatable({
    backbone = backbone, predictor = predictor, labels = store, params = backbone.params,
    lambda_intent = opts.lambda_intent or 1e-2, lambda_ortho = opts.lambda_ortho or 1e-3,
    fusion = flag("fusion"), intent_loss = flag("intent_loss"), ortho = flag("ortho"),
    -- BERT4Rec trains on whole sessions (train.fit makes one example per session)
    whole_sessions = backbone.whole_sessions,
  }, SprintModel)
  if self.intent_loss then
    if getmetatable(store) ~= require("sprint.intents.labels").Store then
      error(w .. ": the intent loss needs a label store (sprint.intents.labels), or intent_loss = false", 2)
    end
    if store.n_intents ~= predictor.n_intents then
      error(w .. ": the label store has " .. store.n_intents .. " intents, the predictor " .. predictor.n_intents, 2)
    end
  end
  if type(self.lambda_intent) ~= "number" or type(self.lambda_ortho) ~= "number" then
    error(w .. ": lambda_intent and lambda_ortho must be numbers", 2)
  end
  return self
end

-- h_tilde (B, d), h (B, d), yhat (B, C) and the logits (B, C) for right-aligned seq (B, L);
-- h is the backbone's next-item representation (BERT4Rec's at its appended [MASK]).
function SprintModel:encode(ctx, seq, last)
  local h = self.backbone:encode_next(ctx, seq, last)
  local yhat, logits = self.predictor:relevance(ctx, h)
  local ht = self.fusion and self.predictor:fuse(ctx, h, yhat) or h
  return ht, h, yhat, logits
end

-- For evaluation: h_tilde and the item table (no LLM, no label store); BERT4Rec's output head
-- scores h_tilde as it scores h.
function SprintModel:encode_last(ctx, seq, last)
  return self.backbone:ranking(ctx, (self:encode(ctx, seq, last)))
end

-- Eq. 17 on a batch from ds:batches{...} (batch.session gives each row's session, whose labels
-- all its prefix examples share). Returns the loss and its parts { rec, intent, ortho }
-- (scalar tensors; a switched-off term is absent). BERT4Rec's L_rec is its own cloze loss
-- computed on h_tilde: every masked position's hidden state h goes through the predictor and
-- the fusion before the output head, and L_intent counts each masked position with its
-- session's labels (one encoder pass, as the backbone alone).
function SprintModel:loss(ctx, b, rows)
  rows = rows or b.seq:shape()[1]
  local rec, logits, sessions, n
  if self.backbone.kind == "bert4rec" then
    local h, items, row = self.backbone:cloze_states(ctx, b, rows)
    n = items:shape()[1]
    local yhat
    yhat, logits = self.predictor:relevance(ctx, h)
    rec = self.backbone:ce(ctx, self.fusion and self.predictor:fuse(ctx, h, yhat) or h, items, n)
    sessions = ctx:tensor({ n }, "i32")
    local sd, rd, bs = sessions:data(), row:data(), b.session:data()
    for i = 0, n - 1 do sd[i] = bs[rd[i]] end
  else
    local ht, _h, _yhat
    ht, _h, _yhat, logits = self:encode(ctx, b.seq, b.last)
    rec = self.backbone:rec_loss(ctx, ht, b, rows, 3)
    sessions, n = b.session, rows
  end
  local parts = { rec = rec }
  local loss = rec
  if self.intent_loss then
    local y, wts = self.labels:batch(ctx, sessions, n)
    parts.intent = self.predictor:loss(ctx, logits, y, wts)
    loss = ctx:add(loss, ctx:scale(parts.intent, self.lambda_intent))
  end
  if self.ortho then
    parts.ortho = self.predictor:ortho(ctx)
    loss = ctx:add(loss, ctx:scale(parts.ortho, self.lambda_ortho))
  end
  return loss, parts
end

-- Enriched labels y^(t) (B, C) of one batch (Eq. 12-14, no gradient): yhat and h from the
-- backbone's h, neighbours among the batch's real rows. opts: k (default 5), mode ("both").
function SprintModel:enrich_batch(ctx, b, rows, opts)
  opts = opts or {}
  return ctx:no_grad(function()
    local _, h, yhat = self:encode(ctx, b.seq, b.last)
    return self.predictor:enrich(yhat, h, { k = opts.k, mode = opts.mode, rows = rows, ctx = ctx })
  end)
end

-- Collaborative enrichment's schedule (sprint.intents.enrich): relabel every training session
-- now (refresh_labels), or every rho epochs through train.fit's hooks (hooks).
function SprintModel:refresh_labels(ds, epoch, opts)
  return require("sprint.intents.enrich").refresh(self, ds, epoch, opts)
end

-- The label store is the model's state outside its parameters (the predictor's weights are in
-- the shared parameter store): train.fit commits it with every epoch's checkpoint and a resumed
-- run continues from the labels of the epoch it resumes after.
function SprintModel:save_state(path)
  if self.labels then self.labels:save(path) else require("sprint.files").write_atomic(path, "") end
end

function SprintModel:load_state(path)
  if not self.labels then return end
  local saved = require("sprint.intents.labels").load(path)
  if saved.n_sessions ~= self.labels.n_sessions or saved.n_intents ~= self.labels.n_intents then
    error(string.format("%s holds labels for %d sessions x %d intents, the model has %d x %d", path,
      saved.n_sessions, saved.n_intents, self.labels.n_sessions, self.labels.n_intents), 0)
  end
  self.labels:copy_from(saved)
end

function SprintModel:hooks(ds, opts)
  return require("sprint.intents.enrich").hooks(self, ds, opts)
end

function SprintModel:__tostring()
  return string.format("sprint.sprint_model(%s + %s; fusion %s, intent %s x %g, ortho %s x %g)", self.backbone.kind,
    tostring(self.predictor), tostring(self.fusion), tostring(self.intent_loss), self.lambda_intent,
    tostring(self.ortho), self.lambda_ortho)
end

return M
