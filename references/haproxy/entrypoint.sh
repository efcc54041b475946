#!/bin/sh
# The lab's settings to HAProxy's: WORKERS threads (nbthread), and the variant's
# listener wiring, SHARDS (bind ... shards) and MULTI_QUEUE (tune.listener.multi-queue),
# which haproxy.cfg reads from the environment.
set -eu
: "${WORKERS:=1}" "${SHARDS:=by-group}" "${MULTI_QUEUE:=on}"
case "$WORKERS" in
  '' | *[!0-9]* | 0*) echo "haproxy reference: WORKERS=$WORKERS: give a whole number of threads, 1 or more" >&2; exit 2 ;;
esac
case "$SHARDS" in
  by-thread | by-group | [1-9] | [1-9][0-9]) ;;
  *) echo "haproxy reference: SHARDS=$SHARDS: give by-thread, by-group or a number of listening sockets" >&2; exit 2 ;;
esac
case "$MULTI_QUEUE" in
  on | fair | off) ;;
  *) echo "haproxy reference: MULTI_QUEUE=$MULTI_QUEUE: give on, fair or off" >&2; exit 2 ;;
esac
export WORKERS SHARDS MULTI_QUEUE
exec haproxy -db -f /etc/connlab/haproxy.cfg "$@"
