-- tools/embed_lua.lua SRC.lua OUT.h NAME — writes SRC's text as a C string constant NAME, so
-- the sprint command carries a Lua module it must run before it can trust any Lua path (the
-- VM self-check, lua/sprint/vmcheck.lua). Run by the build with luajit.
local src, out, name = arg[1], arg[2], arg[3]
local f = assert(io.open(src, "rb"))
local text = f:read("*a")
f:close()
local lines = { "/* generated from " .. src:match("[^/]*$") .. " by tools/embed_lua.lua; do not edit */",
                "static const char " .. name .. "[] =" }
for line in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do
  lines[#lines + 1] = '  "' .. line:gsub('[\\"]', "\\%0") .. '\\n"'
end
lines[#lines] = lines[#lines] .. ";"
local o = assert(io.open(out, "wb"))
o:write(table.concat(lines, "\n"), "\n")
o:close()
