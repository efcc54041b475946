#!/usr/bin/env bash
# Build every image the stack needs. Official base images where a registry answers;
# otherwise, by itself, the offline route: a debootstrap'd Debian trixie base image and
# Python wheels downloaded on the host. The same Dockerfiles serve both routes.
# Usage: [PYTHON=3.13t] scripts/images.sh [IMAGE ...]   (default: all but the references)
# IMAGE: server, loadgen, prometheus, node-exporter, a reference server's folder name
# under references/ (redis), or `references` for all of them.
# PYTHON picks the servers' CPython: 3.13 (with the GIL, the default), 3.13t or 3.14t
# (free-threaded, built from Debian's source; the server image is tagged <tag>-3.13t or
# <tag>-3.14t). DEBIAN_MIRROR, if set, is where that source comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'connlab: %s\n' "$*" >&2; }
die() { printf 'connlab: ERROR: %s\n' "$*" >&2; exit 1; }

PYTHON_BASE=${PYTHON_BASE:-python:3.13-slim}
FALLBACK_BASE=connlab/base-python:3.13-trixie
PYTHON_HOST=${PYTHON_HOST:-python3}
TAG=${CONNLAB_TAG:-latest}  # a separate tag keeps parallel checkouts from sharing images
# FREE_THREADED: the CPython version built free-threaded from the source of SOURCE_SUITE.
case "${PYTHON:-3.13}" in
  3.13) FREE_THREADED= ;;
  3.13t) FREE_THREADED=3.13 SOURCE_SUITE=trixie ;;
  3.14t) FREE_THREADED=3.14 SOURCE_SUITE=sid ;;  # only sid has python3.14
  *) die "PYTHON=${PYTHON}: choose 3.13 (with the GIL, the default), 3.13t or 3.14t (free-threaded)" ;;
esac
FREE_THREADED_PYTHON=connlab/python:${FREE_THREADED}t-trixie
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

command -v docker >/dev/null 2>&1 || die "docker is not installed. Install Docker Engine (https://docs.docker.com/engine/install/), then run make again."
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable ($(docker info 2>&1 | grep -m1 -i error || echo 'docker info failed')). Start it (sudo systemctl start docker) or check DOCKER_HOST and your permissions on /var/run/docker.sock."

# An image is usable if it is here already or a pull succeeds.
have_or_pull() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  say "pulling $1"
  docker pull -q "$1" >/dev/null 2>&1
}

python_base() {
  if have_or_pull "$PYTHON_BASE"; then
    say "route: official base image $PYTHON_BASE"
    echo "$PYTHON_BASE"
  else
    say "route: offline fallback ($PYTHON_BASE cannot be pulled)"
    if ! docker image inspect "$FALLBACK_BASE" >/dev/null 2>&1; then
      scripts/build-base-image.sh "$FALLBACK_BASE" >&2
    else
      say "using existing $FALLBACK_BASE"
    fi
    echo "$FALLBACK_BASE"
  fi
}

# No wheel for a free-threaded CPython 3.13 on PyPI (httptools declares itself free-threading
# compatible, but publishes cp314t wheels only): built from source in the image.
SOURCE_ONLY=httptools
BUILD_BACKEND=setuptools==80.9.0

# Wheels for the image's Python ABI ($3: cp313, the default, cp313t or cp314t) and
# platform, fetched by the host's pip (abi3 wheels do not fit a free-threaded build).
# $2 is the image's lock: every dependency pinned with its hashes, checked here and again
# when the image installs them. --no-deps: the lock is complete, and pip would evaluate
# the dependencies' markers with the host's Python; it does so for the lock's own markers,
# so the image locks carry platform markers only (a unit test checks).
wheelhouse() {
  local name=$1 lock=$2 dir=build/wheelhouse/$1 abi=${3:-cp313}
  local version=${abi#cp}; version=${version%t}; version=${version:0:1}.${version:1}
  local abis=(--abi "$abi" --abi none)
  [ "$abi" = cp313 ] && abis+=(--abi abi3)
  local stamp="$dir/.lock"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$lock"; then
    say "wheelhouse $name is current"
    return
  fi
  local machine platforms=()
  machine=$(uname -m)
  for minor in $(seq 17 39); do platforms+=(--platform "manylinux_2_${minor}_${machine}"); done
  say "downloading wheels for $name (Python $version, ABI $abi, $machine) into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  local out missing binary=(--only-binary=:all:)
  # A free-threaded build takes what PyPI has no wheel of for its ABI as source, which the
  # image compiles (services/Dockerfile), with the build backend that needs.
  if [ "${abi%t}" != "$abi" ]; then
    binary+=(--no-binary="$SOURCE_ONLY")
    "$PYTHON_HOST" -m pip download --quiet --disable-pip-version-check --no-deps "$BUILD_BACKEND" -d "$dir" \
      || die "pip could not download $BUILD_BACKEND (the build backend of $SOURCE_ONLY). Check that PyPI is reachable from this host."
  fi
  if ! out=$("$PYTHON_HOST" -m pip download --quiet --disable-pip-version-check "${binary[@]}" --require-hashes --no-deps \
      --python-version "$version" --implementation cp "${abis[@]}" \
      "${platforms[@]}" --platform "manylinux2014_${machine}" \
      -r "$lock" -d "$dir" 2>&1); then
    printf '%s\n' "$out" >&2
    # pip says the same when PyPI is unreachable, but then it warns of retries first.
    missing=$(sed -n 's/.*satisfies the requirement \([^ ]*\).*/\1/p' <<<"$out" | head -n1)
    if [ -n "$missing" ] && ! grep -qi 'retrying\|connection' <<<"$out"; then
      die "PyPI has no wheel of $missing for CPython $version (ABI $abi, $machine). Pin a version of it that has one (https://pypi.org/project/${missing%%[=<>!~]*}/#files) in ${lock%.lock}.txt and run make lock, or build another PYTHON."
    fi
    die "pip could not download the wheels in $lock. Check that PyPI is reachable from this host (a hash mismatch: run make lock)."
  fi
  cp "$lock" "$stamp"
}

# Debian's source for a free-threaded build from sid: its files come and go with uploads
# (and were not downloadable here at times), so find out in a minute, not into the build.
check_source() {  # base
  say "checking that Debian $SOURCE_SUITE's python$FREE_THREADED source downloads from $DEBIAN_MIRROR"
  local out
  out=$(docker run --rm "$1" sh -c "echo 'deb-src $DEBIAN_MIRROR $SOURCE_SUITE main' >/etc/apt/sources.list.d/connlab-src.list \
    && apt-get update -qq && cd /tmp && apt-get source --download-only -qq python$FREE_THREADED" 2>&1) && return
  die "Debian $SOURCE_SUITE's python$FREE_THREADED source is not downloadable from $DEBIAN_MIRROR right now: $(grep -m1 '^E:' <<<"$out" || tail -n1 <<<"$out")
  Build PYTHON=3.13t instead, or retry later, or set DEBIAN_MIRROR to another Debian mirror."
}

build() {  # tag dockerfile base [more docker build arguments]
  local tag=$1 dockerfile=$2 base=$3
  shift 3
  say "building $tag from $dockerfile (BASE_IMAGE=$base)"
  local log="build/logs/${tag//[:\/]/_}.log"
  mkdir -p build/logs
  if ! docker build --build-arg "BASE_IMAGE=$base" "$@" -f "$dockerfile" -t "$tag" . >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "docker build of $tag failed (full log: $log)"
  fi
}

PROMETHEUS_BASE=${PROMETHEUS_BASE:-prom/prometheus:v2.53.3}
NODE_EXPORTER_BASE=${NODE_EXPORTER_BASE:-prom/node-exporter:v1.9.0}
# The official image when it is here or pullable; else the Debian trixie base, where
# the Dockerfile installs Debian's package.
official_or_debian() {
  if have_or_pull "$1"; then
    say "route: official image $1"
    echo "$1"
  else
    say "route: Debian package on $FALLBACK_BASE ($1 cannot be pulled)"
    docker image inspect "$FALLBACK_BASE" >/dev/null 2>&1 || scripts/build-base-image.sh "$FALLBACK_BASE" >&2
    echo "$FALLBACK_BASE"
  fi
}

# A reference server (references/<name>/): connlab/<name> from its folder's Dockerfile,
# on the base its BASE_IMAGE names (or <NAME>_BASE), official or Debian's; with the
# wheelhouse build/wheelhouse/<name> of its requirements.lock, where it has one.
reference() {
  local name=$1 dockerfile=references/$1/Dockerfile var official
  if [ -f "references/$name/requirements.lock" ]; then wheelhouse "$name" "references/$name/requirements.lock"; fi
  var=$(tr 'a-z-' 'A-Z_' <<<"$name")_BASE
  official=${!var:-$(sed -n 's/^ARG BASE_IMAGE=//p' "$dockerfile" | head -n1)}
  build "connlab/$name:$TAG" "$dockerfile" "$(official_or_debian "$official")"
}
references=$(cd references && for dir in */; do [ -f "$dir/Dockerfile" ] && printf "%s " "${dir%/}"; done; true)

images=()
for image in "$@"; do  # `references`: every reference server's image
  if [ "$image" = references ]; then images+=($references); else images+=("$image"); fi
done
[ ${#images[@]} -gt 0 ] || images=(server loadgen prometheus node-exporter)
base=$(python_base)
for image in "${images[@]}"; do
  case "$image" in
    server)
      if [ -n "$FREE_THREADED" ]; then
        py=${FREE_THREADED}t
        if ! docker image inspect "$FREE_THREADED_PYTHON" >/dev/null 2>&1; then
          [ "$SOURCE_SUITE" = sid ] && check_source "$base"
          say "building CPython $py from Debian $SOURCE_SUITE's python$FREE_THREADED source (about 6 minutes on 2 CPUs)"
        fi
        build "$FREE_THREADED_PYTHON" services/python-free-threaded.Dockerfile "$base" \
          --build-arg "PY_VERSION=$FREE_THREADED" --build-arg "DEBIAN_SUITE=$SOURCE_SUITE" --build-arg "DEBIAN_MIRROR=$DEBIAN_MIRROR"
        wheelhouse "server-$py" services/requirements.lock "cp${FREE_THREADED/./}t"
        build "connlab/server:$TAG-$py" services/Dockerfile "$FREE_THREADED_PYTHON" --build-arg "WHEELS=build/wheelhouse/server-$py"
      else
        wheelhouse server services/requirements.lock
        build "connlab/server:$TAG" services/Dockerfile "$base"
      fi ;;
    loadgen)
      wheelhouse loadgen loadgen/requirements.lock
      build "connlab/loadgen:$TAG" loadgen/Dockerfile "$base" ;;
    prometheus)
      build "connlab/prometheus:$TAG" prometheus/Dockerfile "$(official_or_debian "$PROMETHEUS_BASE")" ;;
    node-exporter)
      build "connlab/node-exporter:$TAG" prometheus/node-exporter/Dockerfile "$(official_or_debian "$NODE_EXPORTER_BASE")" ;;
    *)
      [ -f "references/$image/Dockerfile" ] || die "unknown image '$image' (known: server loadgen prometheus node-exporter references ${references})"
      reference "$image" ;;
  esac
done
say "images ready: $(printf "connlab/%s:$TAG " "${images[@]}" | sed "s|connlab/server:$TAG |connlab/server:$TAG${FREE_THREADED:+-${FREE_THREADED}t} |")"
