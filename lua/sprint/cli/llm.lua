-- cli/llm.lua — `sprint llm check`: one small call to the configured endpoint (or the offline
-- stand-in), printing endpoint, model, masked key, answer, latency and token usage;
-- `sprint llm report`: calls, tokens and money per stage from a cache/ledger file.
local usage = [[
usage: sprint llm check [--base-url URL] [--model NAME] [--provider openai|offline]
                        [--config FILE] [--timeout-ms N] [--retries N]
       sprint llm report CACHE.sqlite [--run NAME]
Settings come from the config file ($SPRINT_LLM_CONFIG or --config), then the environment
(SPRINT_LLM_BASE_URL, SPRINT_LLM_MODEL, SPRINT_LLM_API_KEY or OPENAI_API_KEY), then the flags.
With no endpoint configured the offline stand-in answers (it is not an LLM).]]

local function parse(args, flags)
  local opts, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w-]+)$") end
    if name then
      local key = flags[name]
      if not key then return nil, "unknown option --" .. name end
      if value == nil then
        i = i + 1
        value = args[i]
        if value == nil then return nil, "--" .. name .. " needs a value" end
      end
      opts[key] = value
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

local function check(args)
  local llm = require "sprint.llm"
  local opts, err = parse(args, { ["base-url"] = "base_url", model = "model", provider = "provider",
                                  config = "config_file", ["timeout-ms"] = "timeout_ms", retries = "max_retries" })
  if not opts then
    io.stderr:write("sprint llm check: ", err, "\n", usage, "\n")
    return 2
  end
  opts.timeout_ms = tonumber(opts.timeout_ms) or 30000
  opts.max_retries = tonumber(opts.max_retries) or 2
  opts.backoff_ms = 200
  opts.cache = "" -- a check always makes its call
  local ok, client = pcall(llm.new, opts)
  if not ok then
    io.stderr:write("sprint llm check: ", tostring(client), "\n")
    return 1
  end
  local s, origin = client.settings, client.origin
  print("sprint llm check")
  if client.standin then
    print("  provider  " .. client.name)
  else
    print("  provider  OpenAI-compatible (" .. (s.provider ~= "" and s.provider or "by base_url") .. ")")
    print("  endpoint  " .. client.url .. "  (" .. origin.base_url .. ")")
    print("  model     " .. client.model .. "  (" .. origin.model .. ")")
    print("  api key   " .. llm.mask(s.api_key) .. (s.api_key ~= "" and ("  (" .. origin.api_key .. ")") or ""))
  end
  local ans, why, info
  if client.standin then
    local msgs = llm.prompt.build("gip_init", { domain = "Beauty", max_intents = 8 })
    ans, why, info = client:chat(msgs, { schema = llm.schemas.gip_init, task = "gip_init", stage = "check" })
  else
    local msgs = { { role = "system", content = "You answer with JSON only." },
                   { role = "user", content = 'Reply with the JSON object {"ok": true} and nothing else.' } }
    ans, why, info = client:chat(msgs, { json = true, max_tokens = 64, stage = "check" })
  end
  if not ans then
    print("  result    FAILED: " .. tostring(why) .. (info and info.kind and ("  [" .. info.kind .. "]") or ""))
    if info and info.log and info.log ~= "" then
      for line in info.log:gmatch("[^\n]+") do print("            " .. line) end
    end
    client:close()
    return 1
  end
  local content = ans.content:gsub("%s+", " ")
  if #content > 200 then content = content:sub(1, 200) .. "..." end
  print("  answer    " .. content)
  if client.standin then
    print(string.format("  latency   %.2f ms (computed locally, no network)", ans.latency_ms))
    print("  tokens    none (the offline stand-in is not an LLM)")
  else
    print(string.format("  latency   %.1f ms (%d attempt%s; response_format %s; finish_reason %s)", ans.latency_ms,
                        ans.attempts, ans.attempts == 1 and "" or "s", tostring(ans.response_format), tostring(ans.finish_reason)))
    local u = ans.usage
    print(string.format("  tokens    prompt %d, completion %d, total %d", u.prompt_tokens, u.completion_tokens,
                        u.prompt_tokens + u.completion_tokens))
  end
  print("ok")
  client:close()
  return 0
end

local function report(args)
  local opts, rest = parse(args, { run = "run" })
  if not opts or #rest ~= 1 then
    io.stderr:write("sprint llm report: ", opts and "give one cache file" or rest, "\n", usage, "\n")
    return 2
  end
  local llm = require "sprint.llm"
  print(llm.report(rest[1], opts.run))
  return 0
end

return function(args)
  local sub = args[1]
  local rest = { unpack(args, 2) }
  if sub == "check" then return check(rest) end
  if sub == "report" then return report(rest) end
  io.stderr:write(usage, "\n")
  return 2
end
