-- paper.lua — the SPRINT paper's published numbers (Lee et al. 2025, Table 2), for recipes to
-- print beside their own rows. Never a target: our data preparation and backbones differ (see
-- datasets/README.md and the README's protocols); what a recipe reproduces is the structure.
--   local rows = sprint.paper.table2("beauty", "sasrec")   -- { backbone = {...}, sprint = {...} } or nil
local M = {}

local COLUMNS = { "HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20" }

local function row(...)
  local out = {}
  for i, v in ipairs({ ... }) do out[COLUMNS[i]] = v end
  return out
end

-- Table 2: the Backbone and SPRINT rows per dataset and backbone (H/N at 5, 10, 20).
M.TABLE2 = {
  beauty = {
    sasrec = { backbone = row(0.0198, 0.0132, 0.0297, 0.0164, 0.0456, 0.0203),
               sprint = row(0.0331, 0.0201, 0.0503, 0.0256, 0.0740, 0.0316) },
    bert4rec = { backbone = row(0.0194, 0.0127, 0.0310, 0.0165, 0.0538, 0.0221),
                 sprint = row(0.0297, 0.0211, 0.0435, 0.0255, 0.0680, 0.0316) },
  },
  yelp = {
    sasrec = { backbone = row(0.0323, 0.0201, 0.0554, 0.0275, 0.0867, 0.0354),
               sprint = row(0.0495, 0.0319, 0.0793, 0.0414, 0.1272, 0.0535) },
    bert4rec = { backbone = row(0.0483, 0.0304, 0.0831, 0.0416, 0.1356, 0.0548),
                 sprint = row(0.0600, 0.0377, 0.1001, 0.0506, 0.1550, 0.0644) },
  },
}
M.SOURCE = "Lee et al. 2025, Table 2"

function M.table2(dataset, backbone)
  return M.TABLE2[dataset] and M.TABLE2[dataset][backbone] or nil
end

-- Table 4 (SASRec as the backbone, 20 candidates: the target and 19 negatives from a pretrained
-- SASRec): PO4ISR (an LLM ranking at inference), SPRINT and SPRINT+LE, H/N at 5 and 10, and the
-- total inference time over the test sessions in seconds.
local function row4(h5, n5, h10, n10, seconds)
  return { metrics = { ["HR@5"] = h5, ["NDCG@5"] = n5, ["HR@10"] = h10, ["NDCG@10"] = n10 }, seconds = seconds }
end
M.TABLE4 = {
  beauty = { po4isr = row4(0.3996, 0.2872, 0.5491, 0.3351, 53.5 * 60), sprint = row4(0.3372, 0.2513, 0.4310, 0.2814, 0.12),
             sprint_le = row4(0.4293, 0.2769, 0.6718, 0.3550, 0.31) },
  yelp = { po4isr = row4(0.2764, 0.1171, 0.4877, 0.2447, 371.5 * 60), sprint = row4(0.6015, 0.4838, 0.7158, 0.5206, 0.23),
           sprint_le = row4(0.6368, 0.5033, 0.7600, 0.5430, 0.57) },
}
M.SOURCE4 = "Lee et al. 2025, Table 4"

return M
