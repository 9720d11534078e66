#!/usr/bin/env bash
# Run molecule scenarios in LANES parallel lanes, each scenario whole (create ... destroy) in one `molecule test`,
# its output in build/molecule/<scenario>.log. Scenarios are taken in the order given (longest first keeps the lanes
# even); the scenarios keep apart by construction: container names of their own, their own ports on the machine's
# loopback where they use the host network, their own ephemeral directories. A failed scenario prints the end of its
# log and the script exits 1 after the others have finished.
#   molecule-lanes.sh LANES SCENARIO...
set -euo pipefail
lanes=${1:?usage: molecule-lanes.sh LANES SCENARIO...}
shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
logs="$root/build/molecule"
mkdir -p "$logs"

run_one() {
  local scenario=$1 t0 rc=0
  t0=$(date +%s)
  echo "make molecule: scenario $scenario started (log: build/molecule/$scenario.log)"
  molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "make molecule: scenario $scenario passed in $(( $(date +%s) - t0 )) s"
  else
    { echo "make molecule: scenario $scenario FAILED after $(( $(date +%s) - t0 )) s; the end of its log:"
      tail -n 200 "$logs/$scenario.log" | sed "s/^/[$scenario] /"; } >&2
    return 1
  fi
}
export -f run_one
export logs

t0=$(date +%s)
rc=0
# shellcheck disable=SC2016 # $1 is the inner shell's argument
printf '%s\n' "$@" | xargs -P "$lanes" -I{} bash -c 'run_one "$1"' _ {} || rc=$?
echo "make molecule: $# scenarios in $lanes lanes: $(( $(date +%s) - t0 )) s"
[ "$rc" -eq 0 ] || { echo "make molecule: a scenario failed (see above)" >&2; exit 1; }
