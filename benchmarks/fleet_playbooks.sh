#!/usr/bin/env bash
# validate.yml and health.yml on 1 host and on 8 hosts: wall times (median of RUNS) and ratios.
# Hosts are real systemd containers from the test-host image (tests/testbed), reached over
# `docker exec`, with no network; each runs the ComfyUI API simulator as comfyui.service for
# health.yml. They are removed at the end.
#   benchmarks/fleet_playbooks.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
make -s venv >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$PWD/build/collections ANSIBLE_NOCOLOR=1
work=$(mktemp -d)
# shellcheck source=benchmarks/_testhosts.sh
source benchmarks/_testhosts.sh
start_testhosts comfyops-bench 8
tar -C comfyui-simulator -czhf "$work/sim.tgz" --exclude=./output --exclude=./temp --exclude=__pycache__ --exclude=./tools .
unit='[Service]
ExecStart=/usr/bin/python3 /opt/comfyui/main.py --cpu --listen 127.0.0.1 --port 8188 --base-directory /var/lib/comfyui
[Install]
WantedBy=multi-user.target'
for name in "${names[@]}"; do
  docker exec "$name" mkdir -p /opt/comfyui
  docker cp -q "$work/sim.tgz" "$name:/opt/comfyui/sim.tgz"
  docker exec "$name" tar -C /opt/comfyui -xzf /opt/comfyui/sim.tgz
  docker exec "$name" mkdir -p /var/lib/comfyui/custom_nodes  # ComfyUI will not start without it
  docker exec "$name" sh -c "printf '%s\n' '$unit' > /etc/systemd/system/comfyui.service && systemctl daemon-reload && systemctl start comfyui"
done

measure() {  # $1 = playbook, $2 = --limit pattern
  local times=()
  for _ in $(seq 1 "$runs"); do
    local start end
    start=$(date +%s.%N)
    .venv/bin/ansible-playbook -i "$work/hosts.yml" "playbooks/$1" --limit "$2" \
      -e comfyui_validate_report_dir="$work/reports" -e comfyui_health_report_dir="$work/reports" \
      >"$work/last.log" 2>&1 || { tail -30 "$work/last.log" >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}

for book in validate.yml health.yml; do
  one=$(measure "$book" comfyops-bench-01) || exit 1
  eight=$(measure "$book" "comfyops-bench-*") || exit 1
  echo "$book, median of $runs runs, hosts over docker exec:"
  echo "  1 host:  ${one} s"
  echo "  8 hosts: ${eight} s"
  echo "  ratio 8 hosts / 1 host: $(echo "scale=2; $eight / $one" | bc)x (8x hosts)"
done
