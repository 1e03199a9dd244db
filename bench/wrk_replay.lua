-- wrk script of bench/api.py: replays raw HTTP requests that the benchmark built and signed.
-- Arguments (after "--"): the requests file (records ended by a NUL byte), the number of wrk
-- threads, and "wrap" to cycle through the records (reads) or "once" to send each record once
-- (writes: each carries its own signed body). Thread k takes records k, k+n, k+2n...
-- done() prints one JSON line that bench/api.py reads.

local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

local records, count, index, wrap = {}, 0, 0, true
exhausted = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local every, position = tonumber(args[2]), 0
  wrap = args[3] == "wrap"
  for record in data:gmatch("([^%z]+)%z") do
    if position % every == offset then
      count = count + 1
      records[count] = record
    end
    position = position + 1
  end
end

function request()
  index = index + 1
  if index > count then
    if not wrap then
      -- Never send a record twice: stop, and let the benchmark report that it ran out.
      exhausted = 1
      wrk.thread:stop()
    end
    index = 1
  end
  return records[index]
end

function done(summary, latency, requests)
  local ran_out = 0
  for _, thread in ipairs(threads) do
    ran_out = ran_out + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    '{"duration_us": %d, "requests": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "exhausted": %d}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), ran_out))
end
