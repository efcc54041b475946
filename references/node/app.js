'use strict';
// The lab's HTTP routes in Node.js, no dependencies: one process (CLUSTER unset), or a
// cluster of WORKERS processes sharing the port: CLUSTER=rr, the primary accepts and
// hands each connection to the next worker in turn (cluster.SCHED_RR); CLUSTER=none,
// every worker accepts on the shared socket itself (cluster.SCHED_NONE).
// connlab's per-worker counts at :8000/metrics (the primary asks its workers over IPC).
const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');

const PORT = 7000;
const METRICS_PORT = 8000;
const MAX_HEADER = 8192; // bytes of request head, else 431 (as connlab's MAX_HEADER)
const MAX_BODY = 1048576; // bytes of /echo body, else 413 (as connlab's MAX_BODY)
const HEADER_TIMEOUT_MS = 10000; // a request head unfinished for this long: 408
const POLICIES = { rr: cluster.SCHED_RR, none: cluster.SCHED_NONE };
const ROUTES = { '/ping': 'GET', '/echo': 'POST', '/sleep': 'GET', '/work': 'GET', '/info': 'GET' };
const COMMANDS = { '/ping': 'PING', '/echo': 'ECHO', '/sleep': 'SLEEP', '/work': 'WORK', '/info': 'INFO' };

function fail(message) {
  console.error(`node reference: ${message}`);
  process.exit(2);
}

function settings(env) {
  const mode = env.CLUSTER || '';
  if (mode && !(mode in POLICIES)) fail(`CLUSTER=${mode}: give rr, none, or leave it unset for one process`);
  const workers = env.WORKERS === undefined || env.WORKERS === '' ? 1 : Number(env.WORKERS);
  if (!Number.isInteger(workers) || workers < 1 || !/^\d+$/.test(env.WORKERS || '1')) {
    fail(`WORKERS=${env.WORKERS}: give a whole number of worker processes, 1 or more`);
  }
  return { mode, workers: mode ? workers : 1 };
}

// What this process has served: the counts /metrics reports for it.
const counts = { requests: 0, accepted: 0, active: 0, commands: {} };

// What this process holds, as connlab's server reports it: resident memory, threads, fds.
function resources() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return {
    memory: process.memoryUsage.rss(),
    threads: Number(/^Threads:\s*(\d+)/m.exec(status)[1]),
    fds: fs.readdirSync('/proc/self/fd').length,
  };
}

function report() {
  return { ...counts, ...resources() };
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function refuse(req, res, status, text, headers = {}) {
  // Answered, then closed: what follows on the connection cannot be trusted.
  reply(res, status, text, { Connection: 'close', ...headers });
  req.socket.end();
}

// ?<name>=<whole number>, or null.
function parameter(url, name) {
  const value = url.searchParams.get(name);
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

// A busy loop on this process (its one JavaScript thread) until it has used `us` of CPU time.
function burnCpu(us) {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= us) return;
  }
}

function serve(req, res, worker) {
  counts.requests += 1;
  const url = new URL(req.url, 'http://x');
  const method = ROUTES[url.pathname];
  const command = method === req.method ? COMMANDS[url.pathname] : 'unknown';
  counts.commands[command] = (counts.commands[command] || 0) + 1;
  if (!method) {
    return reply(res, 404, `no route ${url.pathname.slice(0, 200)} (routes: ${Object.keys(ROUTES).join(', ')})\n`);
  }
  if (req.method !== method) return reply(res, 405, `${url.pathname} takes ${method}\n`, { Allow: method });
  switch (url.pathname) {
    case '/ping':
      return reply(res, 200, 'PONG');
    case '/echo':
      return echo(req, res);
    case '/sleep': {
      const ms = parameter(url, 'ms');
      if (ms === null) return refuse(req, res, 400, '/sleep needs ?ms=<number>\n');
      return setTimeout(() => reply(res, 200, 'OK'), ms); // the event loop serves others meanwhile
    }
    case '/work': {
      const us = parameter(url, 'us');
      if (us === null) return refuse(req, res, 400, '/work needs ?us=<number>\n');
      burnCpu(us);
      return reply(res, 200, 'OK');
    }
    case '/info':
      return reply(res, 200, `server:node\r\nversion:${process.version}\r\nworker:${worker}\r\nprotocol:http\r\n`);
  }
}

function echo(req, res) {
  if (Number(req.headers['content-length'] || 0) > MAX_BODY) {
    return refuse(req, res, 413, `body over ${MAX_BODY} bytes\n`);
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) { // a chunked body passing the limit
      req.removeAllListeners('data').removeAllListeners('end');
      return refuse(req, res, 413, `body over ${MAX_BODY} bytes\n`);
    }
    chunks.push(chunk);
  });
  req.on('end', () => reply(res, 200, Buffer.concat(chunks)));
}

function listen(worker, ready) {
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER, requestTimeout: 0, headersTimeout: HEADER_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    (req, res) => serve(req, res, worker));
  server.keepAliveTimeout = 0; // idle keep-alive connections stay open, as the designs keep them
  server.on('connection', (socket) => {
    counts.accepted += 1;
    counts.active += 1;
    socket.on('close', () => { counts.active -= 1; });
  });
  server.listen(PORT, ready);
}

// `byWorker`: each worker's report(); `own`: the primary's resources, or null.
function exposition(byWorker, own) {
  const lines = [
    '# HELP connlab_workers Processes by worker label and role (reader, executor, reader-executor), idle ones included.',
    '# TYPE connlab_workers gauge',
    ...byWorker.map((_, worker) => `connlab_workers{worker="${worker}",role="reader-executor"} 1`),
  ];
  for (const [name, type, help, key] of [
    ['connlab_worker_requests_total', 'counter', 'Requests served, by worker.', 'requests'],
    ['connlab_connections_accepted_total', 'counter', 'Connections accepted, by worker.', 'accepted'],
    ['connlab_connections_active', 'gauge', 'Connections open, by worker.', 'active'],
  ]) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    byWorker.forEach((found, worker) => lines.push(`${name}{worker="${worker}"} ${found[key]}`));
  }
  lines.push('# HELP connlab_requests_total Requests served, by command.', '# TYPE connlab_requests_total counter');
  for (const command of ['PING', 'ECHO', 'SLEEP', 'WORK', 'INFO', 'unknown']) {
    const served = byWorker.reduce((sum, found) => sum + (found.commands[command] || 0), 0);
    if (served) lines.push(`connlab_requests_total{command="${command}"} ${served}`);
  }
  const processes = own ? [...byWorker, own] : byWorker;
  for (const [name, help, key] of [
    ['connlab_resident_memory_bytes', 'Resident memory of the server processes.', 'memory'],
    ['connlab_threads', 'Threads of the server processes.', 'threads'],
    ['connlab_open_fds', 'Open file descriptors of the server processes.', 'fds'],
  ]) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${processes.reduce((sum, found) => sum + found[key], 0)}`);
  }
  return lines.join('\n') + '\n';
}

function serveMetrics(gather) {
  http.createServer(async (req, res) => {
    if (req.url !== '/metrics') return reply(res, 404, 'try /metrics\n');
    const body = exposition(...(await gather()));
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(METRICS_PORT);
}

// The primary: forks the workers, opens /metrics once every worker listens, and asks each
// worker for its counts at every scrape (one that does not answer within ASK_MS is blocked
// in /work: it is reported as it last answered).
const ASK_MS = 5000;

function primary(workers) {
  const last = Array.from({ length: workers }, () => ({ ...counts, memory: 0, threads: 0, fds: 0 }));
  const waiting = new Map(); // scrape id -> {left, done}
  let listening = 0;
  let scrapes = 0;
  const forked = last.map((_, index) => {
    const worker = cluster.fork({ WORKER_INDEX: String(index) });
    worker.on('listening', () => { if (++listening === workers) serveMetrics(gather); });
    worker.on('message', (message) => {
      last[index] = message.report;
      const scrape = waiting.get(message.scrape);
      if (scrape && --scrape.left === 0) scrape.done();
    });
    return worker;
  });
  cluster.on('exit', (worker, code, signal) => fail(`a worker exited (${signal || code}); the cluster stops with it`));
  function gather() {
    const scrape = ++scrapes;
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); waiting.delete(scrape); resolve([last.slice(), resources()]); };
      const timer = setTimeout(done, ASK_MS);
      waiting.set(scrape, { left: workers, done });
      forked.forEach((worker) => worker.send({ scrape }));
    });
  }
}

function main() {
  process.on('SIGTERM', () => process.exit(0)); // PID 1 ignores it otherwise
  const { mode, workers } = settings(process.env);
  if (!mode) {
    return listen(0, () => serveMetrics(async () => [[report()], null]));
  }
  if (cluster.isPrimary) {
    cluster.schedulingPolicy = POLICIES[mode]; // before the first fork
    return primary(workers);
  }
  process.on('message', (message) => process.send({ scrape: message.scrape, report: report() }));
  listen(Number(process.env.WORKER_INDEX));
}

main();
