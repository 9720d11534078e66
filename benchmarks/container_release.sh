#!/usr/bin/env bash
# A code-only release, container mode vs venv mode, per host: deploy.yml on this machine (the demo inventory), wall
# time of deploying a new ComfyUI commit whose requirements did not change. Venv mode (standalone) reuses the venv;
# container mode builds the release's image, where the engine's layer cache keeps the venv layers and only the app
# layer is new. Each round commits a real change to the simulator's source and deploys it in both modes (the same
# refs), ROUNDS rounds; the medians and the ratio container/venv are printed last. Target: ratio <= 1.5.
# Needs the Docker engine (tests/testbed/docker-up.sh) and the test base image (tests/testbed/base-image.sh).
#   benchmarks/container_release.sh [ROUNDS]     (ports 18388 and 18389; removes what it made)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
make -s venv >/dev/null
tests/testbed/docker-up.sh
base_image=$(tests/testbed/base-image.sh)
root=$(mktemp -d /var/tmp/comfyops-bench-ct.XXXXXX)
export ANSIBLE_NOCOLOR=1
prefix=comfyops-bench-
repository=comfyops-bench/comfyui
mode_vars() {  # mode -> extra vars JSON
  if [ "$1" = docker ]; then
    printf '{"comfyui_deploy_service_manager": "docker", "comfyui_deploy_image_repository": "%s", "comfyui_deploy_image_base": "%s",
      "comfyui_deploy_container_prefix": "%s", "comfyui_deploy_docker_build_network": "none", "comfyui_deploy_pip_no_index": true,
      "comfyui_deploy_instances": [{"name": "default", "port": 18389}]}' "$repository" "$base_image" "$prefix"
  else
    printf '{"comfyui_deploy_instances": [{"name": "default", "port": 18388}]}'
  fi
}
deploy() {  # mode, ref, playbook
  COMFYOPS_DEMO_ROOT=$root/$1 .venv/bin/ansible-playbook -i inventories/demo "playbooks/${3:-deploy.yml}" -e "$(mode_vars "$1")" \
    -e "{\"comfyui_deploy_source\": {\"type\": \"git\", \"url\": \"$root/ComfyUI\", \"ref\": \"$2\"}}" >"$root/last.log" 2>&1 \
    || { tail -30 "$root/last.log"; return 1; }
}
cleanup() {
  for mode in venv docker; do deploy "$mode" v0.8.0 shutdown.yml >/dev/null 2>&1 || true; done
  docker ps -aq --filter "name=$prefix" | xargs -r docker rm -f >/dev/null
  docker images -q "$repository" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT
comfyui-simulator/tools/make-git-repo.sh "$root/ComfyUI" >/dev/null
mkdir -p "$root/venv" "$root/docker"
for mode in venv docker; do
  start=$(date +%s.%N)
  deploy "$mode" v0.8.0
  printf '%-7s first deploy (v0.8.0, builds the venv or the image)  %6.2f s\n' "$mode" "$(echo "$(date +%s.%N) - $start" | bc)"
done
declare -A times=([venv]="" [docker]="")
for round in $(seq 1 "$rounds"); do
  git -C "$root/ComfyUI" checkout -q v0.8.0 2>/dev/null || true
  echo "# benchmark round $round" >>"$root/ComfyUI/comfyui_version.py"
  git -C "$root/ComfyUI" -c user.name=bench -c user.email=bench@localhost commit -qam "code change $round"
  git -C "$root/ComfyUI" tag "bench-$round"
  for mode in venv docker; do
    start=$(date +%s.%N)
    deploy "$mode" "bench-$round"
    t=$(echo "$(date +%s.%N) - $start" | bc)
    times[$mode]="${times[$mode]} $t"
    printf '%-7s code-only release bench-%d                          %6.2f s  (%s)\n' "$mode" "$round" "$t" "$(grep -o 'changed=[0-9]*' "$root/last.log" | tail -1)"
  done
done
median() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
v=$(median "${times[venv]}")
d=$(median "${times[docker]}")
printf 'median code-only release: venv mode %.2f s, container mode %.2f s; ratio container/venv %sx (target <= 1.5)\n' "$v" "$d" "$(echo "scale=2; $d / $v" | bc)"
