-- connlab's routes and per-worker counts in nginx's Lua (lua-nginx-module, LuaJIT).
--
-- Counting costs a worker nothing shared on the hot path: each worker counts its requests
-- in a Lua table of its own. A scrape of /metrics asks every worker for its figures
-- (a generation number in the shared dict); each worker's timer sees the question,
-- publishes its counts and the connections it holds, and the scrape waits for all.
local ffi = require "ffi"
local C = ffi.C

local M = {}
local dict = ngx.shared.connlab
local SERVICE_PORT = 8080  -- nginx.conf's listen: the connections counted are those on it
local ASK_EVERY = 0.02     -- seconds between a worker's looks at whether a scrape asks
local WAIT = 2             -- seconds a scrape waits for every worker's answer
local COMMANDS = { "PING", "ECHO", "SLEEP", "WORK", "unknown" }

for _, declaration in ipairs {  -- one by one: a declaration resty.core made already is kept
    "typedef struct { long tv_sec; long tv_nsec; } connlab_timespec;",
    "int clock_gettime(int clock, connlab_timespec *now);",
    "typedef struct connlab_dir connlab_dir;",
    -- glibc's struct dirent on 64-bit Linux
    "typedef struct { unsigned long d_ino; long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[256]; } connlab_dirent;",
    "connlab_dir *opendir(const char *name);",
    "connlab_dirent *readdir(connlab_dir *dir);",
    "int closedir(connlab_dir *dir);",
    "int getsockname(int fd, void *address, unsigned int *length);",
    "int getpeername(int fd, void *address, unsigned int *length);",
    "int getpagesize(void);",
} do
    pcall(ffi.cdef, declaration)
end

local served = {}       -- this worker's requests, by command
local answered = 0      -- the last scrape generation this worker answered
local id                -- ngx.worker.id(): 0 .. WORKERS-1

-- The CPU time of this thread, in nanoseconds (CLOCK_THREAD_CPUTIME_ID, as connlab's WORK).
local now = ffi.new("connlab_timespec")
local function cpu_ns()
    C.clock_gettime(3, now)
    return tonumber(now.tv_sec) * 1e9 + tonumber(now.tv_nsec)
end

-- This worker's open connections on the service port, and its open file descriptors:
-- every descriptor in /proc/self/fd that is a TCP socket bound to SERVICE_PORT with a
-- peer (a listening socket has none).
local address = ffi.new("uint8_t[128]")
local length = ffi.new("unsigned int[1]")
local family = ffi.cast("uint16_t *", address)  -- sa_family, in host order
local AF_INET, AF_INET6 = 2, 10
local function descriptors()
    local dir = C.opendir("/proc/self/fd")
    if dir == nil then
        return nil, nil
    end
    local connections, fds = 0, 0
    while true do
        local entry = C.readdir(dir)
        if entry == nil then
            break
        end
        local fd = tonumber(ffi.string(entry.d_name))
        if fd then
            fds = fds + 1
            length[0] = 128
            if C.getsockname(fd, address, length) == 0
                and (family[0] == AF_INET or family[0] == AF_INET6)
                and address[2] * 256 + address[3] == SERVICE_PORT then  -- sin_port, in network order
                length[0] = 128
                if C.getpeername(fd, address, length) == 0 then
                    connections = connections + 1
                end
            end
        end
    end
    C.closedir(dir)
    return connections, fds - 1  -- less the directory's own descriptor
end

local function resident_bytes(pid)
    local file = io.open("/proc/" .. pid .. "/statm")
    if not file then
        return 0
    end
    local _, pages = file:read("*l"):match("^(%d+) (%d+)")
    file:close()
    return tonumber(pages) * C.getpagesize()
end

local function publish(generation)
    local prefix = id .. ":"
    for command, count in pairs(served) do
        dict:set("requests:" .. prefix .. command, count)
    end
    local connections, fds = descriptors()
    dict:set("connections:" .. prefix, connections or 0)
    dict:set("fds:" .. prefix, fds or 0)
    dict:set("memory:" .. prefix, resident_bytes("self"))
    dict:set("answered:" .. prefix, generation)
    answered = generation
end

local function look(premature)
    if premature then
        return
    end
    local asked = dict:get("asked") or 0
    if asked > answered then
        publish(asked)
    end
end

function M.start()
    id = ngx.worker.id()
    if id == nil then  -- a helper process (none configured), not a worker
        return
    end
    dict:set("answered:" .. id .. ":", 0)
    local ok, err = ngx.timer.every(ASK_EVERY, look)
    if not ok then
        ngx.log(ngx.ERR, "connlab: no timer for the metrics: ", err)
    end
end

-- A service request, by the command it asks for ("unknown": no route, or the wrong
-- method). The Lua routes count as they start; GET /ping in the log phase, or not at all
-- (PING_COUNT=stub_status: stub_status's requests less all the others).
function M.served(command)
    served[command] = (served[command] or 0) + 1
end

-- A request to the metrics port, which stub_status counts too.
function M.scraped()
    dict:incr("scraped", 1, 0)
end

local function reply(status, body, allow)
    ngx.status = status
    ngx.header["Content-Type"] = "text/plain"
    ngx.header["Content-Length"] = #body
    if allow then
        ngx.header["Allow"] = allow
    end
    ngx.print(body)
    return ngx.exit(status)
end

-- The non-negative integer query argument `name` of a GET request for `command`, or nil once
-- answered 405 or 400 as connlab's HTTP protocol answers them.
local function argument(command, name, what, path)
    if ngx.req.get_method() ~= "GET" then
        M.served("unknown")
        return reply(405, path .. " takes GET\n", "GET")
    end
    M.served(command)
    local raw = ngx.var["arg_" .. name]
    if raw == nil then
        return reply(400, path .. " needs ?" .. name .. "=<number>\n")
    end
    local value = tonumber(raw:match("^%s*([+-]?%d+)%s*$"))
    if value == nil then
        return reply(400, "ERR " .. what .. " is not an integer: '" .. raw .. "'")
    end
    if value < 0 then
        return reply(400, "ERR " .. what .. " must not be negative")
    end
    return value
end

function M.echo()
    if ngx.req.get_method() ~= "POST" then
        M.served("unknown")
        return reply(405, "/echo takes POST\n", "POST")
    end
    M.served("ECHO")
    ngx.req.read_body()
    local body = ngx.req.get_body_data()  -- nil: no body (client_body_buffer_size holds MAX_BODY)
    return reply(200, body or "")
end

-- Waits on nginx's timer: the worker serves others meanwhile.
function M.sleep()
    local ms = argument("SLEEP", "ms", "milliseconds", "/sleep")
    if ms then
        ngx.sleep(ms / 1000)
        return reply(200, "OK")
    end
end

-- Spins on the worker that serves it until it has used `us` of its own CPU time: that
-- worker serves nothing else meanwhile (Cloudflare's Lua busy loop).
function M.work()
    local us = argument("WORK", "us", "microseconds", "/work")
    if us then
        local deadline = cpu_ns() + us * 1000
        while cpu_ns() < deadline do
        end
        return reply(200, "OK")
    end
end

-- nginx's own counts, all workers together: {field = number}.
local STUB_STATUS = {
    { "active", "nginx_connections_active", "gauge", "Open client connections, all workers (stub_status)." },
    { "accepted", "nginx_connections_accepted_total", "counter", "Connections accepted (stub_status)." },
    { "handled", "nginx_connections_handled_total", "counter", "Connections handled (stub_status)." },
    { "requests", "nginx_http_requests_total", "counter", "Requests, the metrics port's included (stub_status)." },
    { "reading", "nginx_connections_reading", "gauge", "Connections reading a request head (stub_status)." },
    { "writing", "nginx_connections_writing", "gauge", "Connections writing a reply (stub_status)." },
    { "waiting", "nginx_connections_waiting", "gauge", "Idle keep-alive connections (stub_status)." },
}
local function stub_status()
    local found = ngx.location.capture("/stub_status")
    local text = found.status == 200 and found.body or ""
    local figures = {}
    figures.active = text:match("Active connections: (%d+)")
    figures.accepted, figures.handled, figures.requests = text:match("(%d+) (%d+) (%d+)")
    figures.reading, figures.writing, figures.waiting = text:match("Reading: (%d+) Writing: (%d+) Waiting: (%d+)")
    for field, value in pairs(figures) do
        figures[field] = tonumber(value)
    end
    return figures
end

-- One worker's GET /ping count where it is not counted in Lua: stub_status's requests less
-- those counted (the other routes, the metrics port's). A request nginx has begun but not
-- yet routed counts as a PING until it is: the count never goes back (a counter).
local function uncounted_pings(total, counted)
    local others = dict:get("scraped") or 0
    for command, count in pairs(counted) do
        if command ~= "PING" then
            others = others + count
        end
    end
    local pings = math.max((total or 0) - others, dict:get("pings") or 0)
    dict:set("pings", pings)
    return pings
end

-- 1026003 as 1.26.3 (nginx's and lua-nginx-module's version numbers).
local function version(number)
    return string.format("%d.%d.%d", math.floor(number / 1e6), math.floor(number / 1e3) % 1e3, number % 1e3)
end

-- Prometheus text: connlab's metric names, by worker (ngx.worker.id()), then stub_status.
function M.metrics()
    M.scraped()
    local generation = dict:incr("asked", 1, 0)
    local workers = ngx.worker.count()
    local deadline = ngx.now() + WAIT
    publish(generation)
    local late = {}
    repeat
        late = {}
        for worker = 0, workers - 1 do
            if (dict:get("answered:" .. worker .. ":") or 0) < generation then
                late[#late + 1] = worker
            end
        end
        if #late > 0 then
            ngx.sleep(ASK_EVERY / 2)
            ngx.update_time()
        end
    until #late == 0 or ngx.now() > deadline
    if #late > 0 then  -- a worker busy past WAIT (a long WORK): its last answer stands
        ngx.log(ngx.WARN, "connlab: workers ", table.concat(late, ","), " did not answer the scrape in ", WAIT, " s")
    end

    local lines = {}
    local function family(name, kind, help)
        lines[#lines + 1] = "# HELP " .. name .. " " .. help
        lines[#lines + 1] = "# TYPE " .. name .. " " .. kind
    end
    local function sample(name, labels, value)
        lines[#lines + 1] = name .. "{arch=\"nginx\"" .. labels .. "} " .. string.format("%d", value or 0)
    end

    local stub = stub_status()
    local requests, by_command, memory, fds = {}, {}, 0, 0
    for worker = 0, workers - 1 do
        requests[worker] = {}
        for _, command in ipairs(COMMANDS) do
            local count = dict:get("requests:" .. worker .. ":" .. command) or 0
            requests[worker][command] = count
        end
        memory = memory + (dict:get("memory:" .. worker .. ":") or 0)
        fds = fds + (dict:get("fds:" .. worker .. ":") or 0)
    end
    if os.getenv("PING_COUNT") == "stub_status" then  -- one worker: every request is its
        requests[0].PING = uncounted_pings(stub.requests, requests[0])
    end

    family("connlab_workers", "gauge", "Worker processes, by worker and role.")
    for worker = 0, workers - 1 do
        sample("connlab_workers", ",worker=\"" .. worker .. "\",role=\"reader,executor\"", 1)
    end
    family("connlab_worker_requests_total", "counter", "Requests served, by worker.")
    for worker = 0, workers - 1 do
        local sum = 0
        for _, command in ipairs(COMMANDS) do
            sum = sum + requests[worker][command]
            by_command[command] = (by_command[command] or 0) + requests[worker][command]
        end
        sample("connlab_worker_requests_total", ",worker=\"" .. worker .. "\"", sum)
    end
    family("connlab_connections_active", "gauge", "Connections open on the service port, by worker.")
    for worker = 0, workers - 1 do
        sample("connlab_connections_active", ",worker=\"" .. worker .. "\"", dict:get("connections:" .. worker .. ":"))
    end
    family("connlab_requests_total", "counter", "Requests served, by command.")
    for _, command in ipairs(COMMANDS) do
        sample("connlab_requests_total", ",command=\"" .. command .. "\"", by_command[command])
    end
    local master = require("ngx.process").get_master_pid()
    family("connlab_processes", "gauge", "nginx processes: the master and its workers.")
    sample("connlab_processes", "", workers + 1)
    family("connlab_threads", "gauge", "Threads of all nginx processes (one each).")
    sample("connlab_threads", "", workers + 1)
    family("connlab_open_fds", "gauge", "Open file descriptors of the workers.")
    sample("connlab_open_fds", "", fds)
    family("connlab_resident_memory_bytes", "gauge", "Resident memory of the master and its workers.")
    sample("connlab_resident_memory_bytes", "", memory + (master and resident_bytes(master) or 0))
    family("connlab_server_info", "gauge", "nginx's version and the variant's settings.")
    lines[#lines + 1] = string.format(
        'connlab_server_info{arch="nginx",nginx="%s",lua_nginx_module="%s",workers="%d",accept_mutex="%s",listen="%s",ping_count="%s"} 1',
        version(ngx.config.nginx_version), version(ngx.config.ngx_lua_version), workers,
        os.getenv("ACCEPT_MUTEX") or "", os.getenv("LISTEN") or "", os.getenv("PING_COUNT") or "")
    for _, figure in ipairs(STUB_STATUS) do
        family(figure[2], figure[3], figure[4])
        lines[#lines + 1] = figure[2] .. " " .. (stub[figure[1]] or 0)
    end
    lines[#lines + 1] = ""
    ngx.header["Content-Type"] = "text/plain; version=0.0.4"
    ngx.print(table.concat(lines, "\n"))
end

return M
