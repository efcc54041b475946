#!/usr/bin/env bash
# make bench-loadgen: how fast is one Locust process (our RESP user) on one CPU, next to
# redis-benchmark on that same CPU? Against redis-server (the fastest server there is)
# and against connlab's single-thread server (what the load generator must outrun to
# measure connlab), each alone on the server CPUs. Everything in containers on one
# Docker network. A benchmark, not a test: it prints figures and ratios, asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${CONNLAB_TAG:-latest}
BENCH_CPU=${BENCH_CPU:-0}
SERVER_CPUS=${SERVER_CPUS:-1}
CLIENTS=${BENCH_CLIENTS:-50}
SECONDS_EACH=${BENCH_SECONDS:-15}
REQUESTS=${BENCH_REQUESTS:-300000}
RUN=connlab-bench-$$
NET=$RUN
OUT=$(mktemp -d)
say() { printf 'connlab: %s\n' "$*" >&2; }
cleanup() { docker rm -f "$RUN-redis" "$RUN-connlab" >/dev/null 2>&1 || true; docker network rm "$NET" >/dev/null 2>&1 || true; rm -rf "$OUT"; }
trap cleanup EXIT

docker network create "$NET" >/dev/null
docker run -d --name "$RUN-redis" --network "$NET" --cpuset-cpus "$SERVER_CPUS" "connlab/redis:$TAG" >/dev/null
docker run -d --name "$RUN-connlab" --network "$NET" --cpuset-cpus "$SERVER_CPUS" -e ARCH=single-thread "connlab/server:$TAG" >/dev/null
for _ in $(seq 100); do docker exec "$RUN-redis" redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do docker exec "$RUN-connlab" python -m connlab.healthcheck >/dev/null 2>&1 && break; sleep 0.1; done

redis_benchmark() {  # $1 host:port, $2 pipeline depth -> req/s of PING as a RESP array (what our user sends)
  docker run --rm --network "$NET" --cpuset-cpus "$BENCH_CPU" "connlab/redis:$TAG" \
    redis-benchmark -h "${1%:*}" -p "${1#*:}" -t ping_mbulk -n "$((REQUESTS * $2 / ($2 > 1 ? 4 : 1)))" -c "$CLIENTS" -P "$2" --csv \
    | awk -F'","' '/PING_MBULK/ {print $2}'
}

locust_rate() {  # $1 host:port, $2 pipeline depth -> req/s of one Locust process (the worker code path)
  local log="$OUT/${1%:*}-p$2"
  chmod 777 "$OUT"
  docker run --rm --network "$NET" --cpuset-cpus "$BENCH_CPU" -v "$OUT:/out" -e LOADGEN_METRICS_PORT=0 \
    "connlab/loadgen:$TAG" --headless -u "$CLIENTS" -r "$CLIENTS" -t "${SECONDS_EACH}s" \
    --host "tcp://$1" --pipeline "$2" --csv "/out/$(basename "$log")" --only-summary >"$log.log" 2>&1 || true
  grep -q 'connect: ' "$log.log" && say "warning: the Locust run against $1 had connection failures (see its summary)"
  python3 - "${log}_stats.csv" <<'PY'
import csv, sys
rows = {row["Name"]: row for row in csv.DictReader(open(sys.argv[1]))}
print(f'{float(rows["Aggregated"]["Requests/s"]):.0f}')
PY
}

say "servers on CPUs $SERVER_CPUS; clients on CPU $BENCH_CPU; $CLIENTS connections each"
rb1=$(redis_benchmark "$RUN-redis:6379" 1);    say "redis-server,  redis-benchmark P1:  $rb1 req/s"
lc1=$(locust_rate "$RUN-redis:6379" 1);        say "redis-server,  Locust          P1:  $lc1 req/s"
rb16=$(redis_benchmark "$RUN-redis:6379" 16);  say "redis-server,  redis-benchmark P16: $rb16 req/s"
lc16=$(locust_rate "$RUN-redis:6379" 16);      say "redis-server,  Locust          P16: $lc16 req/s"
cb1=$(redis_benchmark "$RUN-connlab:7000" 1);  say "single-thread, redis-benchmark P1:  $cb1 req/s"
cl1=$(locust_rate "$RUN-connlab:7000" 1);      say "single-thread, Locust          P1:  $cl1 req/s"
python3 - "$rb1" "$lc1" "$rb16" "$lc16" "$cb1" "$cl1" <<'PY'
import sys
rb1, lc1, rb16, lc16, cb1, cl1 = map(float, sys.argv[1:])
print("bench-loadgen (one run; the machine is shared, so read ratios, not absolutes)")
print(f"  against redis-server:           redis-benchmark P1 {rb1:>9.0f}  P16 {rb16:>9.0f} req/s")
print(f"                                  Locust worker   P1 {lc1:>9.0f}  P16 {lc16:>9.0f} req/s")
print(f"  against connlab single-thread:  redis-benchmark P1 {cb1:>9.0f}, Locust worker P1 {cl1:>9.0f} req/s")
print(f"  Locust P1 / redis-benchmark P1, redis-server          = {lc1 / rb1:.2f}  (target >= 0.6, aim 0.8)")
print(f"  Locust P1 / redis-benchmark P1, connlab single-thread = {cl1 / cb1:.2f}  (target >= 0.9)")
print(f"  Locust P16 / Locust P1, redis-server                  = {lc16 / lc1:.2f}  (target >= 3)")
PY
