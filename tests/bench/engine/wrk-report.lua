-- wrk-report.lua - one machine-readable line at the end of a wrk run
-- (microseconds; %.0f because LuaJIT's %d truncates to 32 bits).
-- wrk's summary.bytes saturates at 2^31-1: the bench derives payload
-- throughput from the request count instead.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCHRESULT requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f " ..
      "connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
