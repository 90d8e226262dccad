-- llm/schemas.lua — the JSON every answer of Stage 1 must be (documented for prompt engineers
-- in recipes/prompts/README.md). Sent as response_format json_schema where the server takes
-- it, and always checked on the answer, whatever the server did.
local json = require "sprint.llm.json"
local A = json.array

local M = {}

local intent_list = { type = "array", items = { type = "string", minLength = 1 }, minItems = 1 }

-- Intent-pool initialisation (recipes/prompts/gip_init.txt): {"intents": ["...", ...]}
M.gip_init = {
  type = "object",
  properties = { intents = intent_list },
  required = A { "intents" },
  additionalProperties = false,
}

-- Predict-and-correct turn (pc.txt, and every feedback.txt turn after it):
-- {"intents": ["...", ...], "prediction": "C3"}: intents from the pool (or novel ones), and the
-- label of the predicted candidate.
M.pc = {
  type = "object",
  properties = { intents = intent_list, prediction = { type = "string", minLength = 1 } },
  required = A { "intents", "prediction" },
  additionalProperties = false,
}

return M
