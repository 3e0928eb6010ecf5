-- wrk script: POST a +1 stock adjustment to one of the seeded products, round robin per thread.
-- The bench passes its API token with `-H "Authorization: Bearer …"`; wrk.format() with a headers table
-- replaces wrk.headers, so the Authorization header is copied over here.
local ids = {}
local counter = 0
local headers = {["Content-Type"] = "application/json"}

function init(args)
  for id in string.gmatch(args[1], "[^,]+") do
    table.insert(ids, id)
  end
  headers["Authorization"] = wrk.headers["Authorization"]
end

request = function()
  counter = counter + 1
  local id = ids[(counter % #ids) + 1]
  return wrk.format("POST", "/api/products/" .. id .. "/stock-adjustments", headers,
    '{"delta":1,"reason":"received"}')
end
