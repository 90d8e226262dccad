-- test_sizes.lua — huge sizes from a recipe (max_len = 1e8, a typo'd shape) are errors that
-- name the sizes, never an allocation that aborts (ASan's allocator aborts on a 100 GB request
-- instead of returning NULL; this file runs in the sanitizer build too).
local sprint = require "sprint"
local h = require "helpers"

local tests = {}

function tests.a_huge_tensor_is_an_error()
  h.raises({ "sp_tensor_new: shape (256, 100000000) = 25600000000 elements is too large", "at most" },
    sprint.tensor.new, { 256, 100000000 }, "i32")
  local ctx = sprint.ctx(1)
  h.raises("shape (100000, 100000) = 10000000000 elements is too large", function() return ctx:tensor({ 100000, 100000 }) end)
  ctx:free()
end

function tests.batches_with_max_len_1e8_are_an_error()
  local dir = os.tmpname()
  os.remove(dir)
  local saved = sprint.data.cache_dir
  sprint.data.cache_dir = function() return dir end
  local ok, err = pcall(function()
    local ds = sprint.data.load("planted", { n_sessions = 200 })
    h.raises("batch_size 256 x max_len 100000000 = 25600000000 elements is too large", function()
      ds:batches { batch_size = 256, max_len = 100000000 }
    end)
  end)
  sprint.data.cache_dir = saved
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
end

-- backbone.lua --set max_len=100000000 stopped here: the position table is (max_len, dim).
function tests.a_backbone_with_max_len_1e8_is_an_error()
  local P = sprint.nn.params(1)
  h.raises({ "sprint.model.backbone", "100000000", "is too large" }, sprint.model.backbone, P,
    { kind = "sasrec", n_items = 100, max_len = 100000000, dim = 64 })
end

return tests
