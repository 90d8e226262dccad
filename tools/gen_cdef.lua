-- gen_cdef.lua — writes the ffi.cdef text of libsprint from engine/include/sprint.h, so the
-- binding cannot drift from the header (the rule is lua/sprint/cdef_extract.lua).
-- Usage: luajit tools/gen_cdef.lua engine/include/sprint.h build/lua/sprint/cdef.lua
local src, dst = arg[1], arg[2]
assert(src and dst, "usage: gen_cdef.lua HEADER OUTPUT")
local root = arg[0]:match("^(.*)/tools/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. package.path
local extract = require "sprint.cdef_extract"
local f = assert(io.open(src, "rb"))
local out, err = extract(f:read("*a"))
f:close()
assert(out, src .. ": " .. tostring(err))
assert(not out:find("]]", 1, true), "header text would end the Lua long string")
os.execute("mkdir -p '" .. dst:match("^(.*)/[^/]*$") .. "'")
local o = assert(io.open(dst, "wb"))
o:write("-- Generated from engine/include/sprint.h by tools/gen_cdef.lua. Do not edit.\n")
o:write("return [[\n", out, "\n]]\n")
o:close()
