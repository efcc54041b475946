#!/usr/bin/env bash
# Offline fallback base image: a Debian trixie root filesystem made with debootstrap
# and imported into Docker. It stands in for python:3.13-slim when no registry answers.
# Usage: scripts/build-base-image.sh IMAGE_TAG [EXTRA_PACKAGES]
set -euo pipefail
tag=${1:?usage: build-base-image.sh IMAGE_TAG}
extra=${2:-}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf 'connlab: %s\n' "$*"; }

if ! command -v debootstrap >/dev/null 2>&1; then
  say "debootstrap is missing; installing it with apt-get"
  if ! { apt-get update -qq && apt-get install -y -qq debootstrap; } >/dev/null 2>&1; then
    say "ERROR: cannot install debootstrap. Install it (sudo apt-get install debootstrap)"
    say "       or make a registry reachable so the official base images can be pulled."
    exit 1
  fi
fi
if [ "$(id -u)" != 0 ]; then
  say "ERROR: debootstrap needs root. Re-run as root (sudo make images) or make a registry reachable."
  exit 1
fi

rootfs=$(mktemp -d /tmp/connlab-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
packages=python3,python3-venv,ca-certificates${extra:+,$extra}
say "debootstrap trixie ($packages) from $mirror into $rootfs"
debootstrap --variant=minbase --include="$packages" trixie "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  say "ERROR: debootstrap failed; last lines of $rootfs.log:"; tail -n 20 "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
# Slim it like the official image: no apt lists, docs or man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/var/cache/apt/*.bin
say "docker import -> $tag"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$tag" >/dev/null
say "built $tag"
