#!/usr/bin/env bash
# The browser test drives Debian's chromium with Playwright (no browser download is
# possible offline). Install chromium when it is missing and we may; otherwise the test
# skips and says why.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "connlab: installing chromium for the browser test (apt-get)" >&2
  (apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; }) \
    || echo "connlab: could not install chromium; the browser test will skip" >&2
else
  echo "connlab: chromium is missing and we are not root; the browser test will skip" >&2
fi
exit 0
