-- wrk script: POST /api/v1/orders as the test merchant, a receipt per request.
local counter = 0
local prefix = ""

wrk.method = "POST"
wrk.path = "/api/v1/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "key_test_abc123"
wrk.headers["X-Api-Secret"] = "secret_test_xyz789"

function init(args)
  prefix = tostring({}):gsub("table: ", "") .. "-"
end

function request()
  counter = counter + 1
  wrk.body = '{"amount":50000,"receipt":"mem-' .. prefix .. counter .. '"}'
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d\n", summary.requests,
                         summary.errors.status))
end
