"""A full comfyui_health call (all core checks, the smoke workflow included) on an idle simulator,
against the same checks written as separate builtin tasks (uri, command, slurp, stat, ...).

Same data for both: one simulator on 127.0.0.1 started by this script (pidfile, output directory,
one model file). Median of RUNS runs each; wall time of the whole ansible-playbook process and of
the tasks alone; the full call's median is reported too.

    .venv/bin/python benchmarks/health_vs_builtin.py [RUNS]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _playbook_timer import REPO, compare, playbook

OURS = """    - comfyops.comfyui.comfyui_health:
        url: "http://127.0.0.1:{port}"
        service_manager: standalone
        pidfile: "{pidfile}"
        output_dir: "{base}/output"
        required_models: [checkpoints/bench.safetensors]
        required_node_classes: [EmptyImage]
        disk_paths: ["{base}"]
        min_disk_free: 1MB
"""

BUILTIN = """    - ansible.builtin.slurp:
        src: "{pidfile}"
      register: pid
    - ansible.builtin.stat:
        path: "/proc/{{{{ pid.content | b64decode | trim }}}}"
      register: proc
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/system_stats"
      register: stats
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/queue"
      register: queue
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/models/checkpoints"
      register: models
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/object_info/EmptyImage"
      register: nodes
    - ansible.builtin.command: nvidia-smi --query-gpu=memory.free,temperature.gpu --format=csv,noheader
      register: gpu
      changed_when: false
      failed_when: false
    - ansible.builtin.slurp:
        src: /proc/loadavg
      register: load
    - ansible.builtin.slurp:
        src: /proc/meminfo
      register: meminfo
    - ansible.builtin.command: df -B1 --output=avail "{base}"
      register: disk
      changed_when: false
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/prompt"
        method: POST
        body_format: json
        body:
          client_id: bench
          prompt:
            "1": {{class_type: EmptyImage, inputs: {{width: 64, height: 64, batch_size: 1, color: "{{{{ 16777215 | random }}}}"}}}}
            "2": {{class_type: SaveImage, inputs: {{images: ["1", 0], filename_prefix: bench}}}}
      register: submitted
    - ansible.builtin.uri:
        url: "http://127.0.0.1:{port}/history/{{{{ submitted.json.prompt_id }}}}"
      register: history
      until: history.json | length > 0
      retries: 300
      delay: 0.1
    - ansible.builtin.stat:
        path: "{base}/output/{{{{ (history.json.values() | first).outputs['2'].images[0].filename }}}}"
      register: png
    - ansible.builtin.file:
        path: "{{{{ png.stat.path }}}}"
        state: absent
    - ansible.builtin.assert:
        that:
          - proc.stat.exists
          - stats.json.system.comfyui_version is defined
          - queue.json.queue_running | length == 0
          - "'bench.safetensors' in models.json"
          - nodes.json.EmptyImage is defined
          - (load.content | b64decode).split()[0] | float < 8
          - disk.stdout_lines[-1] | int > 10**6
          - (history.json.values() | first).status.status_str == 'success'
          - png.stat.size > 0
        quiet: true
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "comfy"
        (base / "models" / "checkpoints").mkdir(parents=True)
        (base / "custom_nodes").mkdir()  # ComfyUI will not start without it
        (base / "models" / "checkpoints" / "bench.safetensors").write_bytes(b"x")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        sim = subprocess.Popen(
            [sys.executable, str(REPO / "comfyui-simulator" / "main.py"), "--cpu", "--port", str(port), "--base-directory", str(base)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pidfile = Path(tmp) / "comfyui.pid"
        pidfile.write_text(str(sim.pid))
        try:
            for _attempt in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/system_stats", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            values = {"port": port, "pidfile": pidfile, "base": base}
            ours, builtin = Path(tmp, "ours.yml"), Path(tmp, "builtin.yml")
            ours.write_text(playbook(OURS.format(**values)))
            builtin.write_text(playbook(BUILTIN.format(**values)))
            compare(ours, builtin, runs, "full health check of an idle simulator (smoke workflow included)", "one comfyui_health task:", "16 builtin tasks:")
        finally:
            sim.terminate()
            sim.wait(10)


if __name__ == "__main__":
    main()
