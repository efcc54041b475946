#!/usr/bin/env bash
# make up SERVER_ENGINE=<engine> SERVER_ADDRESS=<host>: the stack's server (a design, or
# REFERENCE=<name>'s) on another machine's Docker engine, the load generator, Prometheus
# and Grafana here (docs/operations.md, "make up with the server on another machine").
# There it runs on the machine's own network, as make compare puts it (host networking:
# no bridge, no port proxy), on its own ports; compose's project there is this one's, so
# `make down` removes it (this script's `down`), and a `make up` of another server or
# engine, or of none, first. Environment: SERVER_ENGINE,
# SERVER_ADDRESS, SERVER_CPUS, SERVICE (compose's service), PORT (where it listens there),
# METRICS_PORT (where Prometheus scrapes it; empty: a reference.py target or none),
# COMPOSE (the compose command line the Makefile uses).
#
#   scripts/server-engine.sh check   SERVER_ENGINE and SERVER_ADDRESS well formed (or both unset)
#   scripts/server-engine.sh up      start SERVICE there (kept as it is if it runs there
#                                    already, as compose keeps a service here), Prometheus' target here
#   scripts/server-engine.sh down    remove what `up` started there
set -euo pipefail

fail() { echo "connlab: ERROR: $*" >&2; exit 2; }

project=${COMPOSE_PROJECT_NAME:-connlab}
record=build/server-engine-$project  # the engine and service `make down` goes back to
scraped=build/prometheus/targets/server-engine-$project.json
override=build/server-engine-$project.yaml

there() { DOCKER_HOST=$engine $COMPOSE -f "$override" "$@"; }

down() {
  [ -f "$record" ] || { rm -f "$scraped"; return 0; }
  read -r engine _ < "$record"
  if [ -f "$override" ] && ! COMPOSE_PROFILES='*' there down --remove-orphans; then
    fail "the server's engine $engine did not take the stack down; $record keeps its address for the next 'make down'"
  fi
  rm -f "$record" "$override" "$scraped"
}

check() {
  engine=${SERVER_ENGINE:-}
  address=${SERVER_ADDRESS:-}
  if [ -z "$engine" ]; then
    [ -z "$address" ] || fail "SERVER_ADDRESS=$address without SERVER_ENGINE: give the engine that runs the server there too (SERVER_ENGINE=ssh://user@host)."
    return 0
  fi
  [[ $engine =~ ^(ssh|tcp|unix):// ]] || fail "SERVER_ENGINE='$engine' is not a Docker engine's address: ssh://user@host, tcp://host:2376 or unix:///path (as DOCKER_HOST and Docker contexts name engines)."
  [ -n "$address" ] || fail "SERVER_ENGINE needs SERVER_ADDRESS=<host>: the server machine's address as this machine reaches it (the load generator dials it, Prometheus scrapes it)."
  [[ $address =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "SERVER_ADDRESS='$address' is not a host name or IPv4 address."
}

up() {
  check
  cpus=$(timeout 60 docker -H "$engine" info --format '{{.NCPU}}' 2>&1) \
    || fail "the server's engine $engine does not answer (${cpus##*$'\n'}). Check that 'docker -H $engine info' works from here."
  [[ $cpus =~ ^[0-9]+$ ]] || fail "the server's engine $engine answered '$cpus' for its CPUs."
  highest=$(PYTHONPATH=services ${HOST_PYTHON:-python3} -c 'import sys; from connlab.config import cpu_set; print(max(cpu_set(sys.argv[1])))' "$SERVER_CPUS")
  [ "$highest" -lt "$cpus" ] || fail "SERVER_CPUS=$SERVER_CPUS names CPU $highest, and the server's engine has $cpus CPUs (0-$((cpus - 1))): give SERVER_CPUS of that machine (the default is counted here)."

  # Another server, or this one on another engine, goes first: on the host's network two
  # servers would want the same ports.
  [ "$(cat "$record" 2>/dev/null)" = "$engine $SERVICE" ] || (down)
  mkdir -p build/prometheus/targets
  # Only this service moves to the host's network; the compose file stays the one truth.
  printf 'services:\n  %s:\n    network_mode: host\n    ports: !reset []\n' "$SERVICE" > "$override"
  echo "$engine $SERVICE" > "$record"
  image=$(there --profile "$SERVICE" config --images "$SERVICE")
  docker -H "$engine" image inspect "$image" >/dev/null 2>&1 \
    || fail "$image is not on the server's engine $engine (there is no registry to pull it from): copy it there with 'docker save $image | docker -H $engine load'."
  there --profile "$SERVICE" up -d --wait --no-deps "$SERVICE" || {
    echo "connlab: ERROR: $SERVICE did not come up on $engine; the last lines of its log (make down stops what started):" >&2
    there --profile "$SERVICE" logs --no-color --tail 20 "$SERVICE" >&2; exit 1; }
  # Scraped by the connlab-compare job's file discovery, labelled as the local route's
  # DNS discovery labels it, so the dashboards find it the same way.
  if [ -n "${METRICS_PORT:-}" ]; then
    printf '[{"targets": ["%s:%s"], "labels": {"job": "connlab-server", "instance": "%s"}}]\n' \
      "$address" "$METRICS_PORT" "$SERVICE" > "$scraped"
  fi
  echo "connlab: $SERVICE runs on $engine (its $cpus CPUs; SERVER_CPUS $SERVER_CPUS), at $address:$PORT"
}

case ${1:-} in
  check) check ;;
  up) up ;;
  down) down ;;
  *) fail "usage: scripts/server-engine.sh check|up|down" ;;
esac
