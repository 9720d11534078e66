#!/usr/bin/env bash
# deploy.yml on 1 host and on 3 hosts (real systemd test hosts over docker exec, no network), one
# run each: a fresh deploy, the no-op second run, and a code-only release. Wall time of the whole
# ansible-playbook process, the ratio 3 hosts / 1 host, and the no-op run per host.
# With 3 hosts the canary goes first and the other two follow in batches of BATCH (default 30%,
# deploy.yml's default: one host per batch), so the ratio shows the price of the canary and batches.
#   benchmarks/deploy_fleet.sh            BATCH=100% benchmarks/deploy_fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${BATCH:-30%}
make -s venv >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$PWD/build/collections ANSIBLE_NOCOLOR=1
work=$(mktemp -d /var/tmp/comfyops-deploy-fleet.XXXXXX)
hosts_vars=", comfyui_deploy_device: cpu, comfyui_deploy_startup_budget: 60, comfyui_deploy_stop_timeout: 20"
# shellcheck source=benchmarks/_testhosts.sh
source benchmarks/_testhosts.sh
start_testhosts comfyops-bench-dp 4
# the simulator as a git source at the same path on the controller and on every host
comfyui-simulator/tools/make-git-repo.sh "$work/ComfyUI" >/dev/null
tar -C "$work" -czf "$work/repo.tgz" ComfyUI
for name in "${names[@]}"; do
  docker exec "$name" mkdir -p "$work"
  docker cp -q "$work/repo.tgz" "$name:/opt/repo.tgz"
  docker exec "$name" tar -C "$work" -xzf /opt/repo.tgz
done

deploy() {  # LIMIT REF -> seconds
  local start end
  start=$(date +%s.%N)
  .venv/bin/ansible-playbook -i "$work/hosts.yml" playbooks/deploy.yml --limit "$1" -e comfyui_deploy_batch="$batch" \
    -e "{\"comfyui_deploy_source\": {\"type\": \"git\", \"url\": \"$work/ComfyUI\", \"ref\": \"$2\"}}" \
    >"$work/last.log" 2>&1 || { tail -30 "$work/last.log" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

one=comfyops-bench-dp-01 three="comfyops-bench-dp-02,comfyops-bench-dp-03,comfyops-bench-dp-04"
echo "deploy.yml over docker exec, batch $batch after the canary, one run each:"
printf '%-40s %8s %8s %8s\n' "" "1 host" "3 hosts" "3/1"
for step in "fresh deploy (v0.8.0):v0.8.0" "no-op second run:v0.8.0" "code-only release (v0.8.1):v0.8.1"; do
  label=${step%:*} ref=${step##*:}
  a=$(deploy "$one" "$ref") || exit 1
  b=$(deploy "$three" "$ref") || exit 1
  printf '%-40s %7.2fs %7.2fs %7.2fx\n' "$label" "$a" "$b" "$(echo "scale=3; $b / $a" | bc)"
  [[ $label == no-op* ]] && noop1=$a noop3=$b
done
printf 'no-op run per host: 1 host %.2f s, 3 hosts %.2f s per host\n' "$noop1" "$(echo "scale=3; $noop3 / 3" | bc)"
