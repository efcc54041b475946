#!/usr/bin/env bash
# make worker MASTER=<host>[:<port>]: Locust workers on this machine join a master on
# another one (Locust's distributed mode; docs/operations.md, "Load from other machines").
# The workers are compose's loadgen-worker service run one-off, so they keep its CPUs,
# limits and sysctls; `make down` removes them. Environment: MASTER, LOADGEN_WORKERS,
# COMPOSE (the compose command line the Makefile uses).
set -euo pipefail

fail() { echo "connlab: ERROR: $*" >&2; exit 2; }

master=${MASTER:-}
[ -n "$master" ] || fail "make worker needs MASTER=<host>[:<port>]: the machine where 'LOADGEN_MASTER_BIND=0.0.0.0 make up' runs the Locust master (its port 5557 by default)."
host=${master%%:*}
port=5557
[[ $master == *:* ]] && port=${master#*:}
[[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "MASTER='$master': '$host' is not a host name or IPv4 address."
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || fail "MASTER='$master': '$port' is not a port (1-65535)."
count=${LOADGEN_WORKERS:-1}
[[ $count =~ ^[1-9][0-9]*$ ]] || fail "LOADGEN_WORKERS='$count' is not a number of workers (1 or more)."

scripts/images.sh loadgen

# A worker that cannot reach its master retries for five minutes without a word: ask first,
# from where the workers will run (the project's network, through this machine's routes).
reach='import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
except OSError as exc:
    sys.exit(f"{exc}")'
if ! why=$($COMPOSE run --rm --no-deps -T --entrypoint python loadgen-worker -c "$reach" "$host" "$port" 2>&1); then
  fail "no Locust master answers at $host:$port from this machine's containers (${why##*$'\n'}). On the master's machine run 'LOADGEN_MASTER_BIND=0.0.0.0 make up ARCH=<arch>' and let TCP port $port in from here only (Locust's protocol has no authentication)."
fi
for _ in $(seq "$count"); do
  $COMPOSE run -d --no-deps loadgen-worker --worker --master-host "$host" --master-port "$port" >/dev/null
done
echo "connlab: $count Locust worker(s) on CPUs ${LOADGEN_CPUS:-0} joined the master at $host:$port"
echo "  The master's web UI lists them under Workers; its host field must name the server as this machine reaches it."
echo "  make down removes them."
