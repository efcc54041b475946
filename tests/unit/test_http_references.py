"""The HTTP reference servers' folders (references/nginx, references/uvicorn): their
records as the registry reads them, and uvicorn's image installing its lock with hashes
from a wheelhouse, as the server image does."""

import re

from connlab_compare import targets
from test_locks import ROOT, lock_entries, locked_versions, top_level_pins


def test_the_registry_reads_both_http_references():
    nginx, uvicorn = targets.references()["nginx"], targets.references()["uvicorn"]
    assert nginx.protocols == uvicorn.protocols == ("http",)
    assert (nginx.port, nginx.build, nginx.cannot) == (8080, "C", ("SLEEP", "WORK", "INFO"))
    assert (uvicorn.port, uvicorn.build, uvicorn.cannot) == (8000, "3.13", ())
    assert nginx.run_spec(None)[0] == f"connlab/nginx:{targets.tag()}"
    assert not nginx.probe and not nginx.metrics_port and not nginx.per_worker


def test_nginx_serves_what_its_record_does_not_list_in_cannot():
    config = (ROOT / "references/nginx/nginx.conf").read_text()
    assert 'location = /ping { return 200 "PONG"; }' in config and "location = /echo" in config
    assert "keepalive_requests 4294967295;" in config  # no close after nginx's default 1000 requests
    assert "worker_processes ${WORKERS}" in (ROOT / "references/nginx/Dockerfile").read_text()


def test_uvicorns_image_installs_its_lock_from_a_wheelhouse():
    stem = ROOT / "references/uvicorn/requirements"
    pins, locked = top_level_pins(stem.with_suffix(".txt")), locked_versions(stem.with_suffix(".lock"))
    assert set(pins) == {"uvicorn", "httptools"} and all(locked[name] == version for name, version in pins.items())
    assert all(hashes for _, hashes in lock_entries(stem.with_suffix(".lock")))
    dockerfile = (ROOT / "references/uvicorn/Dockerfile").read_text()
    assert "COPY build/wheelhouse/uvicorn /tmp/wheels" in dockerfile
    assert re.search(r"pip install --no-index .*--require-hashes .*-r /tmp/requirements\.lock", dockerfile)
    assert '"--http", "httptools", "--workers", "1"' in dockerfile
    images = (ROOT / "scripts/images.sh").read_text()
    assert 'wheelhouse "$name" "references/$name/requirements.lock"' in images
    assert "references/uvicorn/requirements.lock" in (ROOT / "Makefile").read_text()  # make lock resolves it
