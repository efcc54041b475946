-- The lab's HTTP routes HAProxy cannot answer with `http-request return`, as Lua
-- services (loaded once per thread: each thread runs its own), and /metrics.
local time = require("posix.time")
local dirent = require("posix.dirent")

local function date()
  return os.date("!%a, %d %b %Y %H:%M:%S GMT")
end

local function reply(applet, status, body, extra)
  applet:set_status(status)
  applet:add_header("content-type", "text/plain")
  applet:add_header("content-length", tostring(#body))
  applet:add_header("date", date())
  for name, value in pairs(extra or {}) do
    applet:add_header(name, value)
  end
  applet:start_response()
  applet:send(body)
end

-- ?<name>=<whole number>, or nil.
local function parameter(applet, name)
  for pair in string.gmatch(applet.qs or "", "[^&]+") do
    local key, value = string.match(pair, "^([^=]*)=(.*)$")
    if key == name and string.match(value, "^%d+$") then
      return tonumber(value)
    end
  end
  return nil
end

local function needs(applet, name)
  reply(applet, 400, applet.path .. " needs ?" .. name .. "=<number>\n", { connection = "close" })
end

local function thread_cpu_us()
  local t = time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)
  return t.tv_sec * 1000000 + t.tv_nsec // 1000
end

core.register_service("echo", "http", function(applet)
  reply(applet, 200, applet:receive() or "")
end)

-- core.msleep yields: the thread serves its other connections meanwhile.
core.register_service("sleep", "http", function(applet)
  local ms = parameter(applet, "ms")
  if not ms then return needs(applet, "ms") end
  core.msleep(ms)
  reply(applet, 200, "OK")
end)

-- A busy loop on the thread that serves the request, until it has used `us` of its own
-- CPU time; it never yields (tune.lua.forced-yield), so the thread's other connections wait.
core.register_service("work", "http", function(applet)
  local us = parameter(applet, "us")
  if not us then return needs(applet, "us") end
  local deadline = thread_cpu_us() + us
  while thread_cpu_us() < deadline do end
  reply(applet, 200, "OK")
end)

core.register_service("info", "http", function(applet)
  local info = core.get_info()
  reply(applet, 200, table.concat({
    "server:haproxy", "version:" .. tostring(info.Version), "threads:" .. tostring(info.Nbthread),
    "protocol:http", "thread:" .. tostring(core.thread - 1), "" }, "\r\n"))
end)

-- What the process holds, as connlab's server reports it: resident memory, threads, fds.
local function resources()
  local file = io.open("/proc/self/status")
  local status = file:read("a")
  file:close()
  local fds = -2 -- . and ..
  for _ in dirent.files("/proc/self/fd") do fds = fds + 1 end
  return tonumber(status:match("VmRSS:%s*(%d+)")) * 1024, tonumber(status:match("Threads:%s*(%d+)")), fds
end

-- connlab's metrics: per worker (a thread) from the per_thread stick table, every
-- thread listed, idle ones too, as the designs list their workers; per command from
-- the per_command one (haproxy.cfg); the process's resources.
core.register_service("metrics", "http", function(applet)
  local rows = core.backends["per_thread"].stktable:dump()
  local commands = core.backends["per_command"].stktable:dump()
  local threads = tonumber(core.get_info().Nbthread) or 1
  local lines = {
    "# HELP connlab_workers Threads by worker label and role (reader, executor, reader-executor), idle ones included.",
    "# TYPE connlab_workers gauge",
  }
  for thread = 0, threads - 1 do
    lines[#lines + 1] = string.format('connlab_workers{worker="%d",role="reader-executor"} 1', thread)
  end
  for _, metric in ipairs({
    { "connlab_worker_requests_total", "counter", "Requests served, by worker.", "http_req_cnt" },
    { "connlab_connections_accepted_total", "counter", "Connections accepted, by worker.", "conn_cnt" },
    { "connlab_connections_active", "gauge", "Connections open, by worker.", "conn_cur" },
  }) do
    lines[#lines + 1] = "# HELP " .. metric[1] .. " " .. metric[3]
    lines[#lines + 1] = "# TYPE " .. metric[1] .. " " .. metric[2]
    for thread = 0, threads - 1 do
      local row = rows[thread] or {}
      lines[#lines + 1] = string.format('%s{worker="%d"} %d', metric[1], thread, row[metric[4]] or 0)
    end
  end
  lines[#lines + 1] = "# HELP connlab_requests_total Requests served, by command."
  lines[#lines + 1] = "# TYPE connlab_requests_total counter"
  for _, command in ipairs({ "PING", "ECHO", "SLEEP", "WORK", "INFO", "unknown" }) do
    local served = (commands[command] or {}).http_req_cnt
    if served then
      lines[#lines + 1] = string.format('connlab_requests_total{command="%s"} %d', command, served)
    end
  end
  local memory, threads, fds = resources()
  for _, metric in ipairs({
    { "connlab_resident_memory_bytes", "Resident memory of the server process.", memory },
    { "connlab_threads", "Threads of the server process.", threads },
    { "connlab_open_fds", "Open file descriptors of the server process.", fds },
  }) do
    lines[#lines + 1] = "# HELP " .. metric[1] .. " " .. metric[2]
    lines[#lines + 1] = "# TYPE " .. metric[1] .. " gauge"
    lines[#lines + 1] = string.format("%s %d", metric[1], metric[3])
  end
  lines[#lines + 1] = ""
  local body = table.concat(lines, "\n")
  applet:set_status(200)
  applet:add_header("content-type", "text/plain; version=0.0.4")
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)
