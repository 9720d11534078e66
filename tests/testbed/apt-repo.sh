#!/usr/bin/env bash
# Fill a local Debian package repository from this machine's package sources, as a mirror would be filled in
# production, for test hosts that have no network: they mount it and install from it with ansible.builtin.apt.
#   apt-repo.sh DIR PACKAGE...      (the packages and what they depend on that a minimal Debian lacks)
set -euo pipefail
dir=$1
shift
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
