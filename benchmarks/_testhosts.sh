# shellcheck shell=bash
# Sourced by the fleet benchmarks: real systemd hosts from the test-host image (tests/testbed), reached
# over `docker exec`, with no network. start_testhosts PREFIX COUNT fills the array `names` and writes
# "$work/hosts.yml" (group comfyui_hosts, the extra vars lines given in $hosts_vars); they are removed
# by the EXIT trap. Needs $work.
: "${work:?set work before sourcing}"
image=$(tests/testbed/base-image.sh)
names=()
cleanup_testhosts() { docker rm -f "${names[@]}" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup_testhosts EXIT

start_testhosts() {  # PREFIX COUNT
  {
    echo "comfyui_hosts:"
    echo "  vars: {ansible_connection: community.docker.docker, ansible_python_interpreter: /usr/bin/python3,"
    echo "         gpu_host_require_gpu: false, gpu_host_min_cpu_cores: 1, gpu_host_min_ram: 1GB, gpu_host_min_disk_free: 1GB,"
    echo "         gpu_host_min_open_files: 1024, gpu_host_validate_severity: {clock: warn}${hosts_vars:-}}"
    echo "  hosts:"
  } > "$work/hosts.yml"
  local i name state
  for i in $(seq 1 "$2"); do
    name=$(printf "%s-%02d" "$1" "$i")
    names+=("$name")
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --hostname "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
      --security-opt apparmor=unconfined --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp --network none "$image" /sbin/init >/dev/null
    echo "    $name: {}" >> "$work/hosts.yml"
  done
  for name in "${names[@]}"; do
    for _ in $(seq 1 60); do
      state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
      [[ $state == running || $state == degraded ]] && break
      sleep 0.5
    done
  done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
