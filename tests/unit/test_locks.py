"""The locks as written: every requirement pinned in a requirements file is in its lock
at the same version, every dependency in a lock is pinned with hashes, and the images
install from the locks. A requirements file edited without `make lock` fails here."""

import pathlib
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE_LOCKS = {"server": "services/requirements", "loadgen": "loadgen/requirements"}
# A reference server's lock: its image's wheelhouse (scripts/images.sh), locked by make lock.
REFERENCE_LOCKS = sorted(str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("references/*/requirements.lock"))
LOCKS = [*IMAGE_LOCKS.values(), *REFERENCE_LOCKS, "requirements/test"]


def top_level_pins(path):
    """{name: version} of a requirements file, following its -r includes."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins |= top_level_pins(path.parent / line[3:].strip())
        elif line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{path}: {line} is not pinned with =="
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def lock_entries(path):
    """[(Requirement, hashes)] of a lock: a requirement line and its --hash continuations."""
    entries = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            entries[-1][1].append(stripped.removeprefix("--hash=").rstrip(" \\"))
        else:
            entries.append((Requirement(stripped.rstrip(" \\")), []))
    return entries


def locked_versions(path):
    return {canonicalize_name(r.name): next(iter(r.specifier)).version for r, _ in lock_entries(path)}


@pytest.mark.parametrize("stem", LOCKS)
def test_every_pinned_requirement_is_locked_at_its_version(stem):
    pins = top_level_pins(ROOT / f"{stem}.txt")
    locked = locked_versions(ROOT / f"{stem}.lock")
    stale = {name: (version, locked.get(name)) for name, version in pins.items() if locked.get(name) != version}
    assert not stale, f"{stem}.lock is stale (pinned, locked): {stale}; run make lock"


@pytest.mark.parametrize("stem", LOCKS)
def test_every_locked_dependency_is_pinned_with_hashes(stem):
    text = (ROOT / f"{stem}.lock").read_text()
    assert "#    make lock" in text, "the lock should say how it is made"
    for requirement, hashes in lock_entries(ROOT / f"{stem}.lock"):
        assert [s.operator for s in requirement.specifier] == ["=="], requirement
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), requirement


@pytest.mark.parametrize("stem", [*IMAGE_LOCKS.values(), *REFERENCE_LOCKS])
def test_image_locks_have_no_python_version_markers(stem):
    # The host's pip downloads an image's wheels and evaluates the lock's markers with
    # the host's Python, which need not be the image's.
    for requirement, _ in lock_entries(ROOT / f"{stem}.lock"):
        assert "python_version" not in str(requirement.marker) and "python_full_version" not in str(requirement.marker), requirement


def test_the_host_runs_the_images_versions_of_what_they_share():
    # The load generator's and server's unit tests run on the host: the same versions.
    host = locked_versions(ROOT / "requirements/test.lock")
    for stem in IMAGE_LOCKS.values():
        differ = {n: (v, host.get(n)) for n, v in locked_versions(ROOT / f"{stem}.lock").items() if host.get(n, v) != v}
        assert not differ, f"{stem}.lock and requirements/test.lock differ (image, host): {differ}"


@pytest.mark.parametrize("image, stem", IMAGE_LOCKS.items())
def test_images_install_from_their_lock_with_hashes_and_no_index(image, stem):
    dockerfile = (ROOT / pathlib.Path(stem).parent / "Dockerfile").read_text()
    assert f"COPY {stem}.lock /tmp/requirements.lock" in dockerfile
    assert re.search(r"pip install --no-index .*--require-hashes .*-r /tmp/requirements\.lock", dockerfile)
    assert f'wheelhouse {image} {stem}.lock' in (ROOT / "scripts/images.sh").read_text()


@pytest.mark.parametrize("stem", REFERENCE_LOCKS)
def test_references_install_their_lock_from_their_own_wheelhouse(stem):
    folder = pathlib.Path(stem).parent
    dockerfile = (ROOT / folder / "Dockerfile").read_text()
    assert f"COPY build/wheelhouse/{folder.name} /tmp/wheels" in dockerfile and f"COPY {stem}.lock /tmp/requirements.lock" in dockerfile
    assert re.search(r"pip install --no-index .*--require-hashes .*-r /tmp/requirements\.lock", dockerfile)
    assert 'wheelhouse "$name" "references/$name/requirements.lock"' in (ROOT / "scripts/images.sh").read_text()
    assert "$(patsubst %.txt,%.lock,$(wildcard references/*/requirements.txt))" in (ROOT / "Makefile").read_text()  # make lock resolves it


def test_the_venv_installs_from_the_test_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --disable-pip-version-check --require-hashes -r requirements/test.lock" in makefile
