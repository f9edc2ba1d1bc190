-- Registrations: POST /api/v1/register with a new username each time.
dofile(os.getenv("BENCH_DIR") .. "/wrk/lib.lua")
local prefix, n
function init(args)
  math.randomseed(os.time() + os.clock() * 1e6)
  prefix = string.format("r%x", math.random(0, 0x7fffffff))
  n = 0
end
function request()
  n = n + 1
  local name = prefix .. "_" .. n
  return wrk.format("POST", "/api/v1/register", {["Content-Type"] = "application/json"},
    '{"email":"' .. name .. '@bench.example.com","username":"' .. name .. '","password":"bench-password"}')
end
response = count_ok
