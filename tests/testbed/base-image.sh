#!/usr/bin/env bash
# Build the test hosts' base image locally: Debian bookworm with systemd as PID 1.
# Nothing can be pulled from a registry here, so the root file system comes from
# debootstrap and is turned into an image with `docker import`.
# The image is tagged with a hash of this recipe: an unchanged recipe reuses the image.
# Prints the image reference on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
mirror=${COMFYOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-apt,python3-venv,python3-packaging,systemd,systemd-sysv,dbus,ca-certificates,git,procps,curl,iproute2,tar,gzip

recipe_hash=$( { echo "$suite $packages"; cat "$0"; } | sha256sum | cut -c1-12)
repo=comfyops-test/debian
tag="$suite-$recipe_hash"
image="$repo:$tag"

"$here/docker-up.sh"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "testbed: installing Debian's debootstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d /var/tmp/comfyops-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "testbed: debootstrap $suite into $work (about a minute)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  echo "testbed: debootstrap failed; last lines:" >&2
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
# A container has no consoles to start gettys on, and no kernel modules to load.
rm -f "$work/rootfs/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
ln -sf /dev/null "$work/rootfs/etc/systemd/system/systemd-modules-load.service"
ln -sf /dev/null "$work/rootfs/etc/systemd/system/getty.target"
: > "$work/rootfs/etc/machine-id"
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb

echo "testbed: docker import as $image" >&2
tar -C "$work/rootfs" -c . | docker import -c 'CMD ["/sbin/init"]' - "$image" >/dev/null
docker tag "$image" "$repo:$suite"
echo "$image"
