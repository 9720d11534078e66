#!/usr/bin/env bash
# Install Debian packages that `make test` needs when their command is missing.
#   ensure-packages.sh COMMAND:PACKAGE ...
set -euo pipefail
missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "testbed: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# make test runs some stages at once: a second install waits for the first (dpkg's own lock) instead of failing
apt-get -o DPkg::Lock::Timeout=600 update -qq
# APT_NO_RECOMMENDS=1: only what the packages depend on (Chromium recommends a desktop)
apt-get -o DPkg::Lock::Timeout=600 install -y -qq ${APT_NO_RECOMMENDS:+--no-install-recommends} "${missing[@]}" >/dev/null
