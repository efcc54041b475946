"""Container healthcheck: the process serves its metrics (and, on a master, the web UI)."""

import os
import sys
import urllib.request


def main():
    urls = [f"http://127.0.0.1:{os.environ.get('LOADGEN_METRICS_PORT', '9646')}/metrics"]
    if os.environ.get("LOADGEN_ROLE") == "master":
        urls.append("http://127.0.0.1:8089/")
    try:
        for url in urls:
            urllib.request.urlopen(url, timeout=2).read(1)
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
