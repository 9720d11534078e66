#!/usr/bin/env bash
# Make sure a Docker engine answers on /var/run/docker.sock.
# On a fresh machine: install Debian's docker.io and start dockerd with its bridge off,
# so that test containers get no private-range address and can reach nothing but
# their own loopback (network_mode: none) or the machine's loopback (network_mode: host).
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "testbed: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

log=/var/log/comfyops-dockerd.log
echo "testbed: starting dockerd (bridge off, iptables off); log in $log" >&2
setsid dockerd --bridge=none --iptables=false --ip6tables=false \
  --host unix:///var/run/docker.sock >"$log" 2>&1 < /dev/null &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "testbed: dockerd is up" >&2
    exit 0
  fi
  sleep 1
done
echo "testbed: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
