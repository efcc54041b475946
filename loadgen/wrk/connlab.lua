-- wrk's script for connlab (experiments/connlab_compare/clients.py, class Wrk): the
-- request from its arguments, and the run's figures as one JSON line that Wrk.parse reads.
-- Arguments after the URL and `--`: <requests per write> <method> [<body>].

-- The latency percentiles reported: every 1 %, then finer towards the tail, and the
-- maximum (the histogram of a run is rebuilt from them). Each costs a pass over wrk's
-- table of microseconds, up to its timeout: at most a fraction of a second in all.
local POINTS = {}
for p = 1, 99 do POINTS[#POINTS + 1] = p end
for _, base in ipairs({99, 99.9, 99.99}) do
   local step = (100 - base) / 10
   for i = 1, 9 do POINTS[#POINTS + 1] = base + i * step end
end

function init(args)
   local depth = tonumber(args[1] or "1")
   if not depth or depth < 1 then
      error("connlab.lua: requests per write must be a number >= 1, not " .. tostring(args[1]))
   end
   wrk.method = args[2] or "GET"
   wrk.body = args[3]  -- nil: no body, no Content-Length
   if depth > 1 then
      -- Several requests in one write: a request function (wrk counts each reply).
      local batch = string.rep(wrk.format(), depth)
      request = function() return batch end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   if summary.requests == 0 then  -- no latency at all: its min and mean are not numbers
      io.write(string.format('connlab-wrk {"requests":0,"duration_us":%d,"bytes":%d,' ..
         '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
         summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
      return
   end
   local points = {}
   for i, p in ipairs(POINTS) do
      points[i] = string.format("[%.3f,%d]", p, latency:percentile(p))
   end
   points[#points + 1] = string.format("[100,%d]", latency.max)  -- percentile(100) reads 0
   io.write(string.format(
      'connlab-wrk {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"max":%d,"mean":%.1f},"percentiles_us":[%s]}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.max, latency.mean, table.concat(points, ",")))
end
