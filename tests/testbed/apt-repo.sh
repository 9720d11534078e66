#!/usr/bin/env bash
# Fill a local Debian package repository from this machine's package sources, as a mirror would be filled in
# production, for test hosts that have no network: they mount it and install from it with ansible.builtin.apt.
#   apt-repo.sh DIR PACKAGE...                (the packages and what they depend on that a minimal Debian lacks)
#   apt-repo.sh DIR --image IMAGE PACKAGE...  (the packages and every package they need, recursively, that IMAGE lacks)
set -euo pipefail
dir=$1
shift
if [ "${1:-}" = --image ]; then
  image=$2
  shift 2
  have=$(mktemp)
  docker run --rm --network none "$image" dpkg-query -W -f '${Package}\n' | sort -u >"$have"
  mapfile -t wanted < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" \
    | grep -v '^ ' | grep -v '^<' | sort -u | comm -23 - "$have")
  rm -f "$have"
  set -- "${wanted[@]}"
fi
mkdir -p "$dir"
cd "$dir"
stamp=".packages-$(echo "$*" | sha256sum | cut -c1-12)"
if [ -f "$stamp" ] && [ -f Packages ]; then
  exit 0
fi
command -v dpkg-scanpackages >/dev/null 2>&1 || "$(dirname "$0")/ensure-packages.sh" dpkg-scanpackages:dpkg-dev
apt-get download "$@" >/dev/null
dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null
rm -f .packages-*
touch "$stamp"
echo "testbed: local package repository $dir: $(find . -maxdepth 1 -name '*.deb' | wc -l) package(s)" >&2
