-- cli/report.lua — `sprint report RUN_DIR`: rebuilds the tables (Markdown, CSV), the figures
-- and index.html of a finished run directory from its files (sprint.experiments.rebuild); no
-- training and no LLM call. Several directories may be named.
--   sprint report runs/sprint/beauty-sasrec
local USAGE = "usage: sprint report RUN_DIR [RUN_DIR ...]"

return function(args)
  local words = require("sprint.cli.args").words_and_set(args)
  if #words == 0 then
    io.stderr:write(USAGE, "\n")
    return 2
  end
  local experiments = require "sprint.experiments"
  for _, dir in ipairs(words) do
    local f = io.open(dir .. "/.", "r")
    if not f then error(dir .. " is not a directory", 0) end
    f:close()
    experiments.rebuild(dir)
  end
  return 0
end
