-- Shared by the scenario scripts: reading the seed tool's files and the one
-- machine-readable result line the loadtest script parses.
-- BENCH_RUN is the directory holding the seed tool's tokens and logins files.

function lines(name)
  local path = os.getenv("BENCH_RUN") .. "/" .. name
  local t = {}
  for l in io.lines(path) do t[#t + 1] = l end
  assert(#t > 0, path .. " is empty")
  return t
end

-- Prepared requests, built once per thread in init.
function read_requests(tokens)
  local r = {}
  for i, tok in ipairs(tokens) do
    r[i] = wrk.format("GET", "/api/v1/users/me", {["Authorization"] = "Bearer " .. tok})
  end
  return r
end

function login_requests(logins)
  local r = {}
  for i, name in ipairs(logins) do
    r[i] = wrk.format("POST", "/api/v1/token",
      {["Content-Type"] = "application/x-www-form-urlencoded"},
      "username=" .. name .. "&password=bench-password")
  end
  return r
end

update_n = 0
function update_request(tok)
  update_n = update_n + 1
  return wrk.format("PUT", "/api/v1/users/me",
    {["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json"},
    '{"full_name":"Bench User ' .. update_n .. '"}')
end

-- count_ok counts 2xx answers: scenarios where errors are expected (a
-- flood the server sheds with 503) set `response = count_ok`. The read
-- scenario does not, as handing every response to Lua slows wrk down.
function count_ok(status, headers, body)
  if status >= 200 and status < 300 then ok = (ok or 0) + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

-- done prints:
-- RESULT <requests> <seconds> <req/s> <p50 ms> <p99 ms> <non-2xx> <socket errors> <2xx/s>
-- (wrk counts status >= 400 as non-2xx; no scenario expects a 3xx.)
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ok, counted = 0, false
  for _, t in ipairs(threads) do
    local n = t:get("ok")
    if n then ok, counted = ok + n, true end
  end
  if not counted then ok = summary.requests - e.status end
  io.write(string.format("RESULT %d %.2f %.1f %.2f %.2f %d %d %.1f\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, ok / secs))
end
