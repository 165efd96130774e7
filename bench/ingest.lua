-- wrk script for bench/ingest.py: POST pre-generated gzip batches to /api/v1/ingest.
--
-- bench/ingest.py writes one file per partition (PREFIX.0, PREFIX.1, ...); each record is a
-- header line "<body length> <batch id> <host credential>" followed by the gzip body. Thread N
-- reads partition N (or the partition given as the second script argument), so no batch id is
-- sent twice unless a partition runs out, which is counted as "wrapped".
--
--   wrk -t2 -c64 -d60s --timeout 10s -s bench/ingest.lua URL -- PREFIX [PARTITION]
--
-- done() prints "BENCH key value" lines that bench/ingest.py parses.
-- With FLEETSIGHT_BENCH_CONNECTION=close each request asks for its own connection, as agents
-- reporting once a minute do (their idle connection has expired by the next batch).

local close_connections = os.getenv("FLEETSIGHT_BENCH_CONNECTION") == "close"
local threads = {}
local created = 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  local partition = args[2] or tostring(id)
  local path = args[1] .. "." .. partition
  file = assert(io.open(path, "rb"))
  statuses = {}
  sent = 0
  wrapped = 0
  stored_true = 0
  stored_false = 0
end

local function next_record()
  local line = file:read("*l")
  if not line then
    -- Out of pre-generated batches: start again (the advisor acknowledges them as retries).
    file:seek("set", 0)
    wrapped = wrapped + 1
    line = file:read("*l")
  end
  local length, batch_id, credential = line:match("^(%d+) (%S+) (%S+)$")
  return batch_id, credential, file:read(tonumber(length))
end

function request()
  if file == nil then
    -- wrk calls request() once in its main Lua state to check the request, before any init().
    return wrk.format("POST", "/api/v1/ingest", {}, "")
  end
  local batch_id, credential, body = next_record()
  sent = sent + 1
  local headers = {
    ["Authorization"] = "Bearer " .. credential,
    ["Content-Type"] = "application/json",
    ["Content-Encoding"] = "gzip",
    ["X-Fleetsight-Batch-Id"] = batch_id,
  }
  if close_connections then
    headers["Connection"] = "close"
  end
  return wrk.format("POST", "/api/v1/ingest", headers, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 200 then
    if body:find('"stored":true', 1, true) then
      stored_true = stored_true + 1
    else
      stored_false = stored_false + 1
    end
  end
end

function done(summary, latency, requests)
  local totals = { sent = 0, wrapped = 0, stored_true = 0, stored_false = 0 }
  local by_status = {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local out = {}
  local function emit(...)
    table.insert(out, "BENCH " .. table.concat({ ... }, " "))
  end
  emit("duration_us", string.format("%d", summary.duration))
  emit("responses", string.format("%d", summary.requests))
  for name, value in pairs(totals) do
    emit(name, string.format("%d", value))
  end
  for status, count in pairs(by_status) do
    emit("status", status, string.format("%d", count))
  end
  for name, value in pairs(summary.errors) do
    emit("error", name, string.format("%d", value))
  end
  -- Quantiles of the latency (microseconds): enough points to merge two wrk runs.
  for i = 1, 999 do
    emit("q", string.format("%.1f", i / 10), string.format("%d", latency:percentile(i / 10)))
  end
  for _, p in ipairs({ 99.95, 99.99 }) do
    emit("q", string.format("%.2f", p), string.format("%d", latency:percentile(p)))
  end
  emit("q", "100", string.format("%d", latency.max))
  io.write(table.concat(out, "\n") .. "\n")
end
