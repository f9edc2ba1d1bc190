-- Profile updates: PUT /api/v1/users/me with a new full name.
dofile(os.getenv("BENCH_DIR") .. "/wrk/lib.lua")
local tokens, i
function init(args)
  tokens = lines("tokens")
  i = 0
end
function request()
  i = i % #tokens + 1
  return update_request(tokens[i])
end
response = count_ok
