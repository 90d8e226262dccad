-- gen_cdef.lua — writes the ffi.cdef text of libsprint from engine/include/sprint.h: the
-- declarations between the SP_CDEF markers, with comments and preprocessor lines dropped.
-- Usage: luajit tools/gen_cdef.lua engine/include/sprint.h build/lua/sprint/cdef.lua
local src, dst = arg[1], arg[2]
assert(src and dst, "usage: gen_cdef.lua HEADER OUTPUT")
local f = assert(io.open(src, "rb"))
local text = f:read("*a")
f:close()
local body = text:match("/%* SP_CDEF_BEGIN %*/(.-)/%* SP_CDEF_END %*/")
assert(body, src .. ": no SP_CDEF_BEGIN ... SP_CDEF_END block")
body = body:gsub("/%*.-%*/", ""):gsub("//[^\n]*", "")
local lines = {}
for line in body:gmatch("[^\n]*") do
  if not line:match("^%s*#") and line:match("%S") then lines[#lines + 1] = line end
end
local out = table.concat(lines, "\n")
assert(not out:find("]]", 1, true), "header text would end the Lua long string")
os.execute("mkdir -p '" .. dst:match("^(.*)/[^/]*$") .. "'")
local o = assert(io.open(dst, "wb"))
o:write("-- Generated from engine/include/sprint.h by tools/gen_cdef.lua. Do not edit.\n")
o:write("return [[\n", out, "\n]]\n")
o:close()
