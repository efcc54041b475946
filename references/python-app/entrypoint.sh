#!/bin/sh
# The Python reference servers' entrypoint: a fresh directory of per-worker counts, their
# /metrics (counts.py) in the background, then the server, the command ("$@").
set -e
export COUNTS="${COUNTS:-/dev/shm/connlab-counts}"
rm -rf "$COUNTS" && mkdir -p "$COUNTS"
python /app/counts.py "$SERVER" &
exec "$@"
