-- wrk script: POST a +1 stock adjustment to one of the seeded products, round robin per thread.
local ids = {}
local counter = 0

function init(args)
  for id in string.gmatch(args[1], "[^,]+") do
    table.insert(ids, id)
  end
end

request = function()
  counter = counter + 1
  local id = ids[(counter % #ids) + 1]
  return wrk.format("POST", "/api/products/" .. id .. "/stock-adjustments",
    {["Content-Type"] = "application/json"}, '{"delta":1,"reason":"received"}')
end
