#!/usr/bin/env bash
# Host programs some tests drive: redis-benchmark (against every architecture) and
# Debian's chromium (the Locust web UI test; no browser download is possible offline).
# Installed with apt-get when missing and we are root; otherwise those tests skip and
# say why.
set -uo pipefail
say() { printf 'connlab: %s\n' "$*" >&2; }
missing=()
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing ${missing[*]} for the tests (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 \
    || say "could not install ${missing[*]}; the tests that need them will skip"
else
  say "not installed: ${missing[*]} (install them with your package manager); the tests that need them will skip"
fi
exit 0
