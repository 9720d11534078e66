"""Latency the comfyui_proxy role's nginx adds in front of ComfyUI (the simulator), on this machine's loopback.

The role's own templates (comfyui.conf.j2, upstream.conf.j2, tokens.map.j2) are rendered by ansible-playbook into a
scratch nginx prefix (Debian's nginx), with a self-signed certificate and two simulator instances behind it. Then
REQUESTS GET /system_stats are sent directly to ComfyUI and the same number through the proxy (HTTPS, kept-alive
connections on both sides, one client), interleaved in rounds so drift hits both alike; p50 and p99 of each and the
added latency are printed, for token auth and for basic auth (the role's htpasswd.j2: sha512-crypt, which nginx checks on every request).
Target: added p50 <= 1 ms. The basic-auth hash has the role's default rounds (comfyui_proxy_basic_auth_rounds).

    .venv/bin/python benchmarks/proxy_latency.py [REQUESTS]
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))
from loopback import free_port  # noqa: E402

TOKEN = "Bearer benchmark-token-0123456789"
USER, PASSWORD = "bench", "benchmark-Pa55word"


def render(prefix: Path, auth: str, https_port: int, http_port: int, ports: list[int]) -> None:
    """The role's templates, with the role's defaults, rendered by Ansible itself."""
    variables = {
        "comfyui_proxy_conf_dir": str(prefix / "conf"),
        "comfyui_proxy_instances": [{"name": "a", "port": ports[0]}, {"name": "b", "port": ports[1]}],
        "comfyui_proxy_auth": auth,
        "comfyui_proxy_tokens": [TOKEN],
        "comfyui_proxy_users": [{"name": USER, "password": PASSWORD}],
        "comfyui_proxy_server_name": "localhost",
        "comfyui_proxy_https_port": https_port,
        "comfyui_proxy_http_port": http_port,
        "comfyui_proxy_listen_addresses": ["127.0.0.1"],
        "comfyui_proxy_access_log": str(prefix / "access.json"),
        "comfyui_proxy_rate": "100000r/s",  # the benchmark measures latency, not the limiter
        "comfyui_proxy_connections": 1000,
        "_drained": [],
    }
    templates = REPO / "roles" / "comfyui_proxy" / "templates"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"ansible.builtin.include_vars": {"file": str(REPO / "roles" / "comfyui_proxy" / "defaults" / "main.yml")}},
                {"ansible.builtin.set_fact": variables},
                {"ansible.builtin.file": {"path": str(prefix / "conf" / "private"), "state": "directory", "mode": "0755"}},
            ]
            + [
                {"ansible.builtin.template": {"src": str(templates / src), "dest": str(prefix / "conf" / dest), "mode": "0644"}}
                for src, dest in (
                    ("comfyui.conf.j2", "site.conf"),
                    ("upstream.conf.j2", "upstream.conf"),
                    ("tokens.map.j2", "private/tokens.map"),
                    ("htpasswd.j2", "private/htpasswd"),
                )
            ],
        }
    ]
    (prefix / "render.json").write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), str(prefix / "render.json"), "-e", "ansible_python_interpreter=" + sys.executable]
    subprocess.run(command, check=True, env=env, capture_output=True)
    (prefix / "nginx.conf").write_text(
        "worker_processes 1;\npid %(p)s/nginx.pid;\nerror_log %(p)s/error.log;\nevents { worker_connections 1024; }\n"
        "http {\n  client_body_temp_path %(p)s/tmp; proxy_temp_path %(p)s/tmp;\n  access_log off;\n  include %(p)s/conf/site.conf;\n}\n" % {"p": prefix}
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(conn: http.client.HTTPConnection, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("GET", "/system_stats", headers=headers)
    answer = conn.getresponse()
    answer.read()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        raise SystemExit("status %d" % answer.status)
    return elapsed


def measure(requests: int, direct_port: int, https_port: int, headers: dict[str, str], cafile: Path) -> tuple[list[float], list[float]]:
    context = ssl.create_default_context(cafile=str(cafile))
    direct_conn = http.client.HTTPConnection("127.0.0.1", direct_port, timeout=10)
    proxy_conn = http.client.HTTPSConnection("localhost", https_port, context=context, timeout=10)
    for _unused in range(50):  # warm both connections and caches
        timed(direct_conn, {})
        timed(proxy_conn, headers)
    direct: list[float] = []
    proxied: list[float] = []
    for _unused in range(requests // 100):
        direct += [timed(direct_conn, {}) for _unused in range(100)]
        proxied += [timed(proxy_conn, headers) for _unused in range(100)]
    return direct, proxied


def measure_target(https_port: int, headers: dict[str, str], prefix: Path) -> int:
    """The instance the proxy sends this client to, from its JSON access log."""
    conn = http.client.HTTPSConnection("localhost", https_port, context=ssl.create_default_context(cafile=str(prefix / "conf" / "cert.pem")), timeout=10)
    timed(conn, headers)
    conn.close()
    for _unused in range(100):
        lines = (prefix / "access.json").read_text().splitlines() if (prefix / "access.json").exists() else []
        if lines:
            return int(json.loads(lines[-1])["upstream"].rsplit(":", 1)[1])
        time.sleep(0.05)  # nginx writes the line after the answer
    raise SystemExit("no access log line")


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if not shutil.which("nginx"):
        raise SystemExit("nginx is needed (Debian's package: apt-get install nginx)")
    work = Path(tempfile.mkdtemp(prefix="comfyops-proxy-bench-"))
    work.chmod(0o755)  # nginx's workers (nobody) read the htpasswd file on each request
    sims: list[subprocess.Popen] = []
    try:
        ports = [free_port(), free_port()]
        for port in ports:
            base = work / ("sim%d" % port)
            (base / "custom_nodes").mkdir(parents=True)
            (base / "user").mkdir()
            command = [sys.executable, str(REPO / "comfyui-simulator" / "main.py"), "--cpu", "--port", str(port), "--base-directory", str(base)]
            command += ["--database-url", "sqlite:///%s/user/comfyui.db" % base]
            sims.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/system_stats")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)  # poll until it listens
        print(
            "requests per side: %d; nginx %s; one client, kept-alive connections"
            % (requests, subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=True).stderr.strip())
        )
        for auth, headers in (
            ("token", {"Authorization": TOKEN}),
            ("basic", {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()}),
        ):
            prefix = work / auth
            (prefix / "tmp").mkdir(parents=True)
            https_port, http_port = free_port(), free_port()
            render(prefix, auth, https_port, http_port, ports)
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost", "-keyout", str(prefix / "conf" / "private" / "key.pem"), "-out", str(prefix / "conf" / "cert.pem")],
                check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], check=True)
            try:
                # the proxy keeps this client on one instance: the direct side measures that same one
                probe = measure_target(https_port, headers, prefix)
                direct, proxied = measure(requests, probe, https_port, headers, prefix / "conf" / "cert.pem")
            finally:
                subprocess.run(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-s", "stop"], check=False)
            d50, d99, p50, p99 = percentile(direct, 0.5), percentile(direct, 0.99), percentile(proxied, 0.5), percentile(proxied, 0.99)
            print(
                "%-5s auth: direct p50 %.3f ms p99 %.3f ms | through the proxy p50 %.3f ms p99 %.3f ms | added p50 %.3f ms p99 %.3f ms | median ratio %.2f"
                % (auth, d50, d99, p50, p99, p50 - d50, p99 - d99, statistics.median(proxied) / statistics.median(direct))
            )
    finally:
        for sim in sims:
            sim.terminate()
            sim.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
