-- One wrk script for every scenario; the mode and the fixtures come from the environment.
--   BENCH_MODE=post   POST /register, bodies rotated from BENCH_BODIES (one JSON per line)
--   BENCH_MODE=get    GET /register/{id} with the client's registration access token,
--                     rotated from BENCH_CLIENTS ("client_id token" per line)
--   BENCH_MODE=put    PUT /register/{id} with the same clients and BENCH_PUT_BODY
--                     (a JSON object; its "client_id" is filled in per request)
-- done() prints one line of JSON: req/s, p50/p99 in ms, errors.

local mode = os.getenv("BENCH_MODE") or "post"
local items = {}
local counter = 0

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

function init(args)
  if mode == "post" then
    items = lines(os.getenv("BENCH_BODIES"))
  else
    for _, line in ipairs(lines(os.getenv("BENCH_CLIENTS"))) do
      local id, token = line:match("^(%S+)%s+(%S+)$")
      items[#items + 1] = { id = id, token = token }
    end
  end
  if mode == "put" then
    local template = io.open(os.getenv("BENCH_PUT_BODY")):read("*a"):gsub("%s+$", "")
    for _, c in ipairs(items) do
      -- the template carries "client_id":"CLIENT_ID"
      c.body = template:gsub("CLIENT_ID", c.id)
    end
  end
  -- Threads start at different places in the list.
  counter = math.random(#items)
end

function request()
  counter = counter % #items + 1
  local item = items[counter]
  if mode == "post" then
    return wrk.format("POST", "/register", { ["Content-Type"] = "application/json" }, item)
  end
  local path = "/register/" .. item.id
  local auth = { ["Authorization"] = "Bearer " .. item.token }
  if mode == "get" then
    return wrk.format("GET", path, auth, nil)
  end
  auth["Content-Type"] = "application/json"
  return wrk.format("PUT", path, auth, item.body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
