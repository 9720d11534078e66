#!/usr/bin/env bash
# Download the wheels of the exporter's virtual environment (the monitoring_stack role's
# monitoring_stack_exporter_packages, read from its defaults: one list) into DIR, for test hosts and tests that install
# with `pip --no-index --find-links DIR`, as they would from a mirror in production.
#   wheels.sh DIR
set -euo pipefail
dir=$1
root="$(cd "$(dirname "$0")/../.." && pwd)"
python=${PYTHON:-$root/.venv/bin/python}
mapfile -t packages < <("$python" -c 'import sys, yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["monitoring_stack_exporter_packages"]))' \
  "$root/roles/monitoring_stack/defaults/main.yml")
stamp="$dir/.wheels-$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-12)"
[ -f "$stamp" ] && exit 0
mkdir -p "$dir"
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: -d "$dir" "${packages[@]}"
rm -f "$dir"/.wheels-*
touch "$stamp"
echo "testbed: wheels for the exporter in $dir: ${packages[*]}" >&2
