#!/usr/bin/env bash
# deploy.yml on this machine (the demo inventory: standalone, CPU), one run each, wall time:
#   a fresh deploy; the no-op second run; a code-only release (same requirements: the venv is
#   reused) against a release that needs a new venv (same code, other pip options); and a
#   rollback (rollback.yml: drain, switch, restart, health) to a healthy previous release.
# The simulator's requirements are empty, so "new venv" here is venv creation plus an empty
# pip install: the lower bound of what a real ComfyUI venv (torch and friends) costs.
#   benchmarks/deploy_timings.sh     (uses port 8188; removes what it made)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s venv >/dev/null
root=$(mktemp -d /var/tmp/comfyops-bench.XXXXXX)
export COMFYOPS_DEMO_ROOT=$root ANSIBLE_NOCOLOR=1
cleanup() { .venv/bin/ansible-playbook -i inventories/demo playbooks/shutdown.yml >/dev/null 2>&1 || true; rm -rf "$root"; }
trap cleanup EXIT
comfyui-simulator/tools/make-git-repo.sh "$root/ComfyUI" >/dev/null
fresh=0 noop=0 code=0 venv=0 rollback=0
export rollback  # the rollback time is printed above; kept for callers that source this
src() { printf '{"comfyui_deploy_source": {"type": "git", "url": "%s/ComfyUI", "ref": "%s"}, "comfyui_deploy_pip_extra_args": "%s"}' "$root" "$1" "${2:-}"; }
timed() {  # label, playbook, extra-vars JSON
  local start end
  start=$(date +%s.%N)
  .venv/bin/ansible-playbook -i inventories/demo "playbooks/$2" -e "$3" >"$root/last.log" 2>&1 || { tail -30 "$root/last.log"; exit 1; }
  end=$(date +%s.%N)
  printf '%-48s %6.2f s  (%s)\n' "$1" "$(echo "$end - $start" | bc)" "$(grep -o 'changed=[0-9]*' "$root/last.log" | tail -1)"
  printf -v "$4" "%s" "$(echo "$end - $start" | bc)"
}
timed "fresh deploy (v0.8.0)" deploy.yml "$(src v0.8.0)" fresh
timed "no-op second run" deploy.yml "$(src v0.8.0)" noop
timed "code-only release (v0.8.1, venv reused)" deploy.yml "$(src v0.8.1)" code
timed "release needing a new venv (v0.8.1, pip options)" deploy.yml "$(src v0.8.1 --no-compile)" venv
timed "rollback.yml to the previous release" rollback.yml "{}" rollback
echo "ratio new-venv/code-only release: $(echo "scale=2; $venv / $code" | bc)x; no-op/fresh: $(echo "scale=2; $noop / $fresh" | bc)"
