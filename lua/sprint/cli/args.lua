-- cli/args.lua — the argument parsing the subcommands share: positional words and --set
-- key=value overrides (as `sprint run` takes them).
local M = {}

-- Splits args into positional words and a table of --set overrides (strings).
function M.words_and_set(args)
  local words, set = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local kv = a:match("^%-%-set=(.*)$")
    if a == "--set" then
      i = i + 1
      kv = args[i]
    end
    if kv then
      local k, v = kv:match("^([%w_]+)=(.*)$")
      if not k then error("--set needs key=value, got '" .. tostring(kv) .. "'", 0) end
      set[k] = v
    elseif a:sub(1, 2) == "--" then
      error("unknown option " .. a, 0)
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return words, set
end

return M
