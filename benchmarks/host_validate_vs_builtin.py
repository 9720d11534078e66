"""One host_validate call with 14 checks against the same checks as separate builtin tasks.

Both playbooks run on localhost (connection local, the cheapest per-task transport there is,
so the ratio here is the least favourable one), on the same data: the same paths, ports,
loopback endpoints and names. Wall time of the whole `ansible-playbook` process and of the
tasks alone (between two timestamps taken by the play), median of RUNS runs each.

    .venv/bin/python benchmarks/host_validate_vs_builtin.py [RUNS]
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _playbook_timer import compare, playbook

OURS = """    - comfyops.comfyui.host_validate:
        checks: [cpu_cores, ram, disk, ports, endpoints, dns, service_manager, clock, open_files, paths, gpu_count, driver_version]
        min_cpu_cores: 1
        min_ram: 1GB
        disk: [{{path: /, min_free: 1GB}}, {{path: /tmp, min_free: 1GB}}]
        ports: [{free1}, {free2}]
        endpoints: ["127.0.0.1:{up1}", "127.0.0.1:{up2}"]
        endpoint_timeout: 2
        dns_names: [localhost]
        deployment_mode: standalone
        paths: [/tmp]
        min_open_files: 1024
        fail_on: never
"""

BUILTIN = """    - ansible.builtin.command: nproc
      register: cores
      changed_when: false
    - ansible.builtin.slurp:
        src: /proc/meminfo
      register: meminfo
    - ansible.builtin.command: df -B1 --output=avail /
      register: disk_root
      changed_when: false
    - ansible.builtin.command: df -B1 --output=avail /tmp
      register: disk_tmp
      changed_when: false
    - ansible.builtin.wait_for:
        port: {free1}
        state: stopped
        timeout: 1
    - ansible.builtin.wait_for:
        port: {free2}
        state: stopped
        timeout: 1
    - ansible.builtin.wait_for:
        host: 127.0.0.1
        port: {up1}
        timeout: 2
    - ansible.builtin.wait_for:
        host: 127.0.0.1
        port: {up2}
        timeout: 2
    - ansible.builtin.command: getent hosts localhost
      changed_when: false
    - ansible.builtin.stat:
        path: /run/systemd/system
      register: systemd
    - ansible.builtin.command: timedatectl show --property=NTPSynchronized --value
      register: clock
      changed_when: false
      failed_when: false
    - ansible.builtin.shell: ulimit -n
      register: nofile
      changed_when: false
    - ansible.builtin.stat:
        path: /tmp
      register: tmpdir
    - ansible.builtin.command: nvidia-smi --query-gpu=count --format=csv,noheader
      register: gpus
      changed_when: false
      failed_when: false
    - ansible.builtin.command: nvidia-smi --query-gpu=driver_version --format=csv,noheader
      register: driver
      changed_when: false
      failed_when: false
    - ansible.builtin.assert:
        that:
          - cores.stdout | int >= 1
          - (meminfo.content | b64decode).split()[1] | int > 1000000
          - disk_root.stdout_lines[-1] | int > 10**9
          - disk_tmp.stdout_lines[-1] | int > 10**9
          - tmpdir.stat.writeable
          - nofile.stdout | int >= 1024
        quiet: true
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    listeners = []
    for _index in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        listeners.append(sock)
    values = {"free1": free_port(), "free2": free_port(), "up1": listeners[0].getsockname()[1], "up2": listeners[1].getsockname()[1]}
    with tempfile.TemporaryDirectory() as tmp:
        ours, builtin = Path(tmp, "ours.yml"), Path(tmp, "builtin.yml")
        ours.write_text(playbook(OURS.format(**values)))
        builtin.write_text(playbook(BUILTIN.format(**values)))
        try:
            compare(ours, builtin, runs, "14 checks on localhost", "one host_validate task:", "16 builtin tasks (+assert):")
        finally:
            for sock in listeners:
                sock.close()


if __name__ == "__main__":
    main()
