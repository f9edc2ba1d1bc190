-- Authenticated profile reads: GET /api/v1/users/me with prepared tokens.
dofile(os.getenv("BENCH_DIR") .. "/wrk/lib.lua")
local reqs, i
function init(args)
  reqs = read_requests(lines("tokens"))
  i = 0
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
