# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small service manager for hosts without systemd (a laptop, a CI machine, a container): start, stop and
check long-running programs from a JSON list of their command lines, with pidfiles.

Plain Python, no Ansible. The monitoring role copies it to the host beside ``comfyops-monctl``. A pid is
signalled only when ``/proc/<pid>/cmdline`` is the service's own command line; pidfiles and logs are opened
without following links.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, check_name, open_nofollow

__all__ = ["ACTIONS", "Manager", "PathError", "ServiceError", "load_services", "main", "read_pid"]

ACTIONS = ("start", "stop", "restart", "reload", "status")


class ServiceError(Exception):
    """A bad services file or a service that cannot be started; the message names it."""


def load_services(path: str) -> dict[str, dict[str, Any]]:
    """{name: {argv: [...], env: {...}}} from the services file; ServiceError naming the entry otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ServiceError("%s: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise ServiceError("%s: expected an object of services" % path)
    for name, spec in data.items():
        try:
            check_name(name, "%s: service" % path)
        except PathError as exc:
            raise ServiceError(str(exc)) from None
        argv = spec.get("argv") if isinstance(spec, dict) else None
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv) or not argv[0].startswith("/"):
            raise ServiceError("%s: %s.argv: expected a list of strings starting with an absolute program path" % (path, name))
        env = spec.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ServiceError("%s: %s.env: expected an object of strings" % (path, name))
    return data


def _cmdline(pid: int) -> list[str]:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return []


def read_pid(pidfile: str) -> int | None:
    try:
        fd = open_nofollow(pidfile, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd) as handle:
        text = handle.read(32).strip()
    return int(text) if text.isdigit() else None


class Manager:
    """The services of one services file, with pidfiles and logs in `run_dir`."""

    def __init__(self, services: dict[str, dict[str, Any]], run_dir: str) -> None:
        self.services = services
        self.run_dir = run_dir

    def _spec(self, name: str) -> dict[str, Any]:
        if name not in self.services:
            raise ServiceError("unknown service %r (known: %s)" % (name, ", ".join(sorted(self.services)) or "none"))
        return self.services[name]

    def pidfile(self, name: str) -> str:
        return os.path.join(self.run_dir, name + ".pid")

    def ours(self, name: str) -> int | None:
        """The pid of the service's program from its pidfile (the same program, its arguments maybe older), or None:
        a pidfile naming another program, a dead or a zombie process is never signalled."""
        pid = read_pid(self.pidfile(name))
        if not pid:
            return None
        try:
            with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return None
        except (OSError, IndexError):
            return None
        argv, seen = self._spec(name)["argv"], _cmdline(pid)
        # an interpreter runs many programs: its script must match too
        program = 2 if os.path.basename(argv[0]).startswith("python") and len(argv) > 1 else 1
        return pid if seen[:program] == argv[:program] else None

    def running(self, name: str) -> int | None:
        """The pid of the service's process with exactly its current command line, or None."""
        pid = self.ours(name)
        return pid if pid and _cmdline(pid) == self._spec(name)["argv"] else None

    def start(self, name: str) -> str:
        spec = self._spec(name)
        if self.running(name):
            return "running"
        restarted = self.ours(name) is not None  # its command line changed: the old process goes first
        if restarted:
            self.stop(name)
        os.makedirs(self.run_dir, mode=0o750, exist_ok=True)
        log = open_nofollow(os.path.join(self.run_dir, name + ".log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        environment.update(spec.get("env") or {})
        try:
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                spec["argv"], cwd=self.run_dir, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        except OSError as exc:
            raise ServiceError("%s: cannot start %s: %s" % (name, spec["argv"][0], exc.strerror)) from None
        finally:
            os.close(log)
        tmp = self.pidfile(name) + ".tmp"
        fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"%d\n" % process.pid)
        os.close(fd)
        os.replace(tmp, self.pidfile(name))
        time.sleep(0.2)  # poll: a program that exits at once (bad flag) is seen here, not at the next status
        if process.poll() is not None:
            raise ServiceError("%s exited at once with status %d: see %s" % (name, process.returncode, os.path.join(self.run_dir, name + ".log")))
        return "restarted" if restarted else "started"

    def stop(self, name: str, timeout: float = 20.0) -> str:
        pid = self.ours(name)
        if not pid:
            if os.path.lexists(self.pidfile(name)):
                os.unlink(self.pidfile(name))
            return "stopped already"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.ours(name):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)  # poll: the process's own exit has no other signal for a non-parent
        if self.ours(name):
            os.kill(pid, signal.SIGKILL)
        os.unlink(self.pidfile(name))
        return "stopped"

    def reload(self, name: str) -> str:
        pid = self.running(name)
        if not pid:
            return self.start(name)
        os.kill(pid, signal.SIGHUP)
        return "reloaded"


def main(argv: list[str] | None = None) -> int:
    """comfyops-monctl ACTION [NAME ...]: every service of the file when no name is given."""
    args = list(sys.argv[1:] if argv is None else argv)
    services_file = os.environ.get("COMFYOPS_MONCTL_SERVICES", "/etc/comfyops/monitoring-services.json")
    if not args or args[0] not in ACTIONS:
        sys.stderr.write("usage: comfyops-monctl start|stop|restart|reload|status [NAME ...]\n  services: %s\n" % services_file)
        return 2
    try:
        services = load_services(services_file)
        manager = Manager(services, os.environ.get("COMFYOPS_MONCTL_RUN_DIR", os.path.join(os.path.dirname(services_file), "run")))
        code = 0
        for name in args[1:] or sorted(services):
            if args[0] == "status":
                pid = manager.running(name)
                sys.stdout.write("%s: %s\n" % (name, "running (pid %d)" % pid if pid else "stopped"))
                code = code if pid else 3
            elif args[0] == "restart":
                manager.stop(name)
                sys.stdout.write("%s: %s\n" % (name, manager.start(name)))
            else:
                sys.stdout.write("%s: %s\n" % (name, getattr(manager, args[0])(name)))
        return code
    except (ServiceError, PathError, OSError) as exc:
        sys.stderr.write("comfyops-monctl: %s\n" % exc)
        return 1
