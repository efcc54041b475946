"""The HTTP reference servers' folders (references/nginx, references/uvicorn): their
records as the registry reads them, and uvicorn's image installing its lock with hashes
from a wheelhouse, as the server image does."""

import re

from connlab_compare import targets
from test_locks import ROOT, lock_entries, locked_versions, top_level_pins


def test_the_registry_reads_both_http_references():
    nginx, uvicorn = targets.references()["nginx"], targets.references()["uvicorn"]
    assert nginx.protocols == uvicorn.protocols == ("http",)
    assert (nginx.port, nginx.build, nginx.cannot) == (8080, "C", ("INFO",))
    assert (uvicorn.port, uvicorn.build, uvicorn.cannot) == (8000, "3.13", ())
    assert nginx.run_spec(None)[0] == f"connlab/nginx:{targets.tag()}"
    assert (nginx.metrics_port, nginx.per_worker, nginx.anchor, uvicorn.anchor) == (8000, True, True, True)


def test_nginx_keeps_a_connection_for_as_many_requests_as_it_is_sent():
    config = (ROOT / "references/nginx/nginx.conf").read_text()
    assert "keepalive_requests 4294967295;" in config  # no close after nginx's default 1000 requests


def test_uvicorns_image_installs_its_lock_from_a_wheelhouse():
    stem = ROOT / "references/uvicorn/requirements"
    pins, locked = top_level_pins(stem.with_suffix(".txt")), locked_versions(stem.with_suffix(".lock"))
    assert set(pins) == {"uvicorn", "httptools"} and all(locked[name] == version for name, version in pins.items())
    assert all(hashes for _, hashes in lock_entries(stem.with_suffix(".lock")))
    dockerfile = (ROOT / "references/uvicorn/Dockerfile").read_text()
    assert "COPY build/wheelhouse/uvicorn /tmp/wheels" in dockerfile
    assert re.search(r"pip install --no-index .*--require-hashes .*-r /tmp/requirements\.lock", dockerfile)
    images = (ROOT / "scripts/images.sh").read_text()
    assert 'wheelhouse "$name" "references/$name/requirements.lock"' in images
