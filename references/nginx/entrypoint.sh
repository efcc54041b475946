#!/bin/sh
# nginx configured by the variant's environment (reference.toml's env):
#   WORKERS       worker_processes (default 1)
#   ACCEPT_MUTEX  off (default: each worker's epoll waits on the shared socket with
#                 EPOLLEXCLUSIVE) or on (workers take turns holding the listener)
#   LISTEN        shared (default: one listening socket) or reuseport (one per worker:
#                 the kernel hashes each connection to one)
set -eu
WORKERS=${WORKERS:-1} ACCEPT_MUTEX=${ACCEPT_MUTEX:-off} LISTEN=${LISTEN:-shared}
die() { echo "connlab nginx: $*" >&2; exit 2; }
case "$WORKERS" in ''|*[!0-9]*|0*) die "WORKERS=$WORKERS: give a whole number of worker processes, 1 or more" ;; esac
case "$ACCEPT_MUTEX" in on|off) ;; *) die "ACCEPT_MUTEX=$ACCEPT_MUTEX: give on or off" ;; esac
case "$LISTEN" in
  shared) options= ;;
  reuseport) options=reuseport ;;
  *) die "LISTEN=$LISTEN: give shared or reuseport" ;;
esac
# GET /ping in Lua's log phase where there are workers to tell apart; one worker answers
# it with no Lua at all (as fast as nginx can: make bench-server's anchor), its count
# then stub_status's requests less the others'.
if [ "$WORKERS" -gt 1 ]; then PING_COUNT=lua; else PING_COUNT=stub_status; fi
export ACCEPT_MUTEX LISTEN PING_COUNT  # connlab.lua reads them; connlab_server_info shows them
mkdir -p /run/connlab
if [ "$PING_COUNT" = lua ]; then
  echo 'log_by_lua_block { connlab.served("PING") }' >/run/connlab/ping.conf
else
  : >/run/connlab/ping.conf
fi
echo "accept_mutex $ACCEPT_MUTEX;" >/run/connlab/events.conf
echo "listen 8080 backlog=4096 $options;" >/run/connlab/listen.conf
exec nginx -c /etc/connlab/nginx.conf -g "worker_processes $WORKERS;"
