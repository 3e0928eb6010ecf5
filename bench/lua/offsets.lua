-- wrk script: GET a list page at a random offset. Args: path prefix (ending in "offset="), highest offset.
local prefix, highest = "", 0
local headers = {}

function init(args)
  prefix, highest = args[1], tonumber(args[2])
  headers["Authorization"] = wrk.headers["Authorization"]
end

request = function()
  return wrk.format("GET", prefix .. math.random(0, highest), headers)
end
