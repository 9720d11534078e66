"""Shared test helpers: paths, the recorded ComfyUI responses, and a real simulator process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SIMULATOR = REPO / "comfyui-simulator"
FIXTURES = REPO / "tests" / "fixtures"
RECORDED = FIXTURES / "comfyui-api"

sys.path.insert(0, str(SIMULATOR))
# `make` links this checkout into build/collections as ansible_collections.comfyops.comfyui
sys.path.insert(0, str(REPO / "build" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "plugins"))
sys.path.insert(0, str(REPO / "tests" / "support"))

from loopback import blackhole, free_port  # noqa: E402 (shared with the benchmarks; re-exported to the tests)

__all__ = ["REPO", "SIMULATOR", "Simulator", "blackhole", "free_port", "recorded", "wait_until"]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    """Poll `predicate` until it is true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)  # poll


def recorded(name: str):
    return json.loads((RECORDED / name).read_text())


class Response:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class Simulator:
    """One real simulator process on 127.0.0.1, started like ComfyUI's main.py."""

    def __init__(self, base: Path, port: int, args: list[str], env: dict[str, str], checkout: Path | None = None):
        self.base = base
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = base / "simulator.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYUI_SIM_")}
        full_env.update(env)
        if "--database-url" not in args and checkout is None:
            # keep the test's database in its own tree (ComfyUI's default is user/comfyui.db inside the checkout)
            args = ["--database-url", "sqlite:///%s" % (base / "user" / "comfyui.db"), *args]
        self.command = [sys.executable, str((checkout or SIMULATOR) / "main.py"), "--base-directory", str(base), "--port", str(port), *args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"simulator exited with {self.proc.returncode}:\n{self.log}")
            if "To see the GUI go to" in self.log:
                try:
                    self.get("/system_stats", timeout=2)
                    return
                except OSError:
                    pass
            time.sleep(0.05)  # poll
        raise AssertionError(f"simulator not ready after {timeout} s:\n{self.log}")

    def wait_log(self, text: str, timeout: float = 15.0) -> None:
        """Wait until the server's log holds `text` (a readiness signal, never a fixed sleep)."""
        wait_until(lambda: text in self.log, timeout, "%r in the simulator log" % text)

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 10.0) -> Response:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, resp.read(), resp.headers)
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), err.headers)

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> Response:
        return self.request("POST", path, body=body if body is not None else {}, **kwargs)

    def run_prompt(self, prompt: dict, timeout: float = 15.0) -> tuple[str, dict]:
        answer = self.post("/prompt", {"prompt": prompt, "client_id": "pytest"})
        assert answer.status == 200, answer.body
        prompt_id = answer.json()["prompt_id"]
        return prompt_id, self.wait_history(prompt_id, timeout)

    def wait_history(self, prompt_id: str, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}").json()
            if history:
                return history[prompt_id]
            time.sleep(0.05)  # poll
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def sim_base(tmp_path: Path) -> Path:
    """A base directory laid out like a ComfyUI checkout's data folders."""
    base = tmp_path / "comfy"
    for folder in ("models/checkpoints", "models/loras", "custom_nodes", "input", "output", "user"):
        (base / folder).mkdir(parents=True)
    shutil.copy(SIMULATOR / "input" / "example.png", base / "input" / "example.png")
    return base


@pytest.fixture
def start_simulator(sim_base: Path):
    """Factory: start a simulator (waits until it serves unless wait=False); stops them all at the end."""
    started: list[Simulator] = []

    def start(*args: str, env: dict[str, str] | None = None, wait: bool = True, base: Path | None = None, checkout: Path | None = None) -> Simulator:
        sim = Simulator(base or sim_base, free_port(), list(args), env or {}, checkout)
        started.append(sim)
        if wait:
            sim.wait_ready()
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(start_simulator):
    return start_simulator("--cpu")


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, dirs_exist_ok=True)


@pytest.fixture
def no_driver_nvml():
    """The real pynvml as on a host without the NVIDIA driver (a private copy; see tests/support/nvml_nodriver.py)."""
    from nvml_nodriver import real_pynvml_without_driver

    return real_pynvml_without_driver()


NO_DRIVER_PYTHONPATH = str(REPO / "tests" / "support" / "no_nvml_driver")
