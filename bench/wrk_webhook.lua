-- wrk script: POST pre-signed Twilio webhooks, each a distinct message, optionally paced.
-- Arguments: <path> <requests file> <threads> <host header>; env WRK_DELAY_MS paces each
-- connection. The file holds "signature<TAB>form body" lines; thread i takes lines i, i+n...
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, file, count, host = args[1], args[2], tonumber(args[3]), args[4]
  requests = {}
  counter = 0
  delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
  local index = 0
  for line in io.lines(file) do
    if index % count == id then
      local signature, body = line:match("([^\t]*)\t(.*)")
      table.insert(requests, wrk.format("POST", path, {
        ["Host"] = host,
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body))
    end
    index = index + 1
  end
end

function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99)))
end
