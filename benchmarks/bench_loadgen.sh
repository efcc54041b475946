#!/usr/bin/env bash
# make bench-loadgen: how fast is one Locust process (our RESP user) on one CPU, next to
# redis-benchmark on that same CPU, both against one redis-server on the server CPUs?
# A benchmark, not a test: it prints figures and ratios, it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${CONNLAB_TAG:-latest}
BENCH_CPU=${BENCH_CPU:-0}
SERVER_CPUS=${SERVER_CPUS:-1}
CLIENTS=${BENCH_CLIENTS:-50}
SECONDS_EACH=${BENCH_SECONDS:-15}
REQUESTS=${BENCH_REQUESTS:-200000}
RUN=connlab-bench-$$
NET=$RUN
OUT=$(mktemp -d)
say() { printf 'connlab: %s\n' "$*" >&2; }
cleanup() { docker rm -f "$RUN-redis" >/dev/null 2>&1 || true; docker network rm "$NET" >/dev/null 2>&1 || true; rm -rf "$OUT"; }
trap cleanup EXIT

docker network create "$NET" >/dev/null
docker run -d --name "$RUN-redis" --network "$NET" --cpuset-cpus "$SERVER_CPUS" "connlab/redis:$TAG" >/dev/null
for _ in $(seq 100); do docker exec "$RUN-redis" redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done

redis_benchmark() {  # $1 pipeline depth -> req/s of PING as a RESP array (what our user sends)
  docker run --rm --network "$NET" --cpuset-cpus "$BENCH_CPU" "connlab/redis:$TAG" \
    redis-benchmark -h "$RUN-redis" -t ping_mbulk -n "$REQUESTS" -c "$CLIENTS" -P "$1" --csv \
    | awk -F'","' '/PING_MBULK/ {print $2}'
}

locust_rate() {  # $1 pipeline depth -> req/s of one Locust process (the worker code path)
  chmod 777 "$OUT"
  docker run --rm --network "$NET" --cpuset-cpus "$BENCH_CPU" -v "$OUT:/out" -e LOADGEN_METRICS_PORT=0 \
    "connlab/loadgen:$TAG" --headless -u "$CLIENTS" -r "$CLIENTS" -t "${SECONDS_EACH}s" \
    --host "tcp://$RUN-redis:6379" --pipeline "$1" --csv "/out/p$1" --only-summary >"$OUT/p$1.log" 2>&1 || true
  grep -q 'connect: ' "$OUT/p$1.log" && say "warning: the Locust run had connection failures (see its summary)"
  python3 - "$OUT/p$1_stats.csv" <<'PY'
import csv, sys
rows = {row["Name"]: row for row in csv.DictReader(open(sys.argv[1]))}
print(f'{float(rows["Aggregated"]["Requests/s"]):.0f}')
PY
}

say "redis-server on CPUs $SERVER_CPUS; clients on CPU $BENCH_CPU; $CLIENTS connections each"
rb1=$(redis_benchmark 1);   say "redis-benchmark, no pipeline: $rb1 req/s"
lc1=$(locust_rate 1);       say "Locust,          no pipeline: $lc1 req/s"
rb16=$(redis_benchmark 16); say "redis-benchmark, pipeline 16: $rb16 req/s"
lc16=$(locust_rate 16);     say "Locust,          pipeline 16: $lc16 req/s"
python3 - "$rb1" "$lc1" "$rb16" "$lc16" <<'PY'
import sys
rb1, lc1, rb16, lc16 = map(float, sys.argv[1:])
print("bench-loadgen (one run; the machine is shared, so read ratios, not absolutes)")
print(f"  redis-benchmark  P1 {rb1:>10.0f} req/s   P16 {rb16:>10.0f} req/s")
print(f"  Locust worker    P1 {lc1:>10.0f} req/s   P16 {lc16:>10.0f} req/s")
print(f"  Locust P1 / redis-benchmark P1 = {lc1 / rb1:.2f}  (target >= 0.7)")
print(f"  Locust P16 / Locust P1         = {lc16 / lc1:.2f}  (target >= 3)")
PY
