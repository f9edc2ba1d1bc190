-- Logins: POST /api/v1/token (password grant) as seeded users.
dofile(os.getenv("BENCH_DIR") .. "/wrk/lib.lua")
local reqs, i
function init(args)
  reqs = login_requests(lines("logins"))
  i = 0
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
response = count_ok
