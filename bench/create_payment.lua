-- wrk script: POST /api/v1/payments on one order, a unique Idempotency-Key per request.
-- ORDER_ID comes from the environment; bench/create.py makes the order and runs wrk.
local order_id = os.getenv("ORDER_ID")
local counter = 0
local prefix = ""

wrk.method = "POST"
wrk.path = "/api/v1/payments"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "key_test_abc123"
wrk.headers["X-Api-Secret"] = "secret_test_xyz789"
wrk.body = '{"order_id":"' .. order_id .. '","method":"upi","vpa":"bench@okbank"}'

function init(args)
  -- Per wrk thread: keys stay unique across threads and across runs.
  prefix = (args[1] or "run") .. "-" .. tostring({}):gsub("table: ", "") .. "-"
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d connect_errors=%d read_errors=%d"
    .. " write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
