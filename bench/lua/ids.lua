-- wrk script: one request per call to a path with {id} taken round robin (from a random start per thread)
-- from a comma-separated id list. Args: method, path template, body ('' for none), ids[, body2].
-- With body2, requests alternate between the two bodies (a transfer A→B, then B→A, so stock never runs out).
-- wrk.format() with a headers table replaces wrk.headers, so the Authorization header is copied over.
local ids, counter, method, template, body, body2 = {}, 0, "GET", "", nil, nil
local headers = {["Content-Type"] = "application/json"}

function init(args)
  method, template = args[1], args[2]
  if args[3] ~= "" then body = args[3] end
  for id in string.gmatch(args[4], "[^,]+") do table.insert(ids, id) end
  if args[5] and args[5] ~= "" then body2 = args[5] end
  headers["Authorization"] = wrk.headers["Authorization"]
  counter = math.random(#ids)
end

request = function()
  counter = counter + 1
  local id = ids[(counter % #ids) + 1]
  local sent = body
  if body2 and (math.floor(counter / #ids) % 2 == 1) then sent = body2 end
  return wrk.format(method, (string.gsub(template, "{id}", id)), headers, sent)
end
