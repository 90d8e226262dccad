-- cdef_extract.lua — the one rule that turns engine/include/sprint.h into ffi.cdef text: the
-- declarations between the SP_CDEF markers, with comments and preprocessor lines dropped.
-- Used at build time (tools/gen_cdef.lua) and, as a fallback, at load time (sprint.lib).
return function(header_text)
  local body = header_text:match("/%* SP_CDEF_BEGIN %*/(.-)/%* SP_CDEF_END %*/")
  if not body then return nil, "no SP_CDEF_BEGIN ... SP_CDEF_END block" end
  body = body:gsub("/%*.-%*/", ""):gsub("//[^\n]*", "")
  local lines = {}
  for line in body:gmatch("[^\n]*") do
    if not line:match("^%s*#") and line:match("%S") then lines[#lines + 1] = line end
  end
  return table.concat(lines, "\n")
end
