-- The mix: of every 20 requests, 18 profile reads, 1 login, 1 update
-- (90% / 5% / 5%), each with its own user from the seed sample.
dofile(os.getenv("BENCH_DIR") .. "/wrk/lib.lua")
local tokens, reads, logins, i
function init(args)
  tokens = lines("tokens")
  reads = read_requests(tokens)
  logins = login_requests(lines("logins"))
  i = 0
end
function request()
  i = i + 1
  local k = (i - 1) % #tokens + 1
  local slot = i % 20
  if slot == 7 then return logins[k] end
  if slot == 14 then return update_request(tokens[k]) end
  return reads[k]
end
response = count_ok
