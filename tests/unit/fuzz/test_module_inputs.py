"""Issue 26, part 10: every option of every module's argument spec, fuzzed.

Each module runs in this process (its real main(), Ansible's real AnsibleModule and argument validation, check mode)
from a baseline of valid parameters, with one option replaced by a value Hypothesis draws: the wrong type, empty, huge,
with NUL, CR/LF, undecodable bytes (as Ansible hands them over: replacement characters), '..', a leading '-'. The property:
the module succeeds, or fails cleanly naming the option (or failing exactly as the baseline does, for a baseline that
fails on this machine, such as a GPU module without a GPU) and never with a traceback or a message naming nothing.

Nothing leaves this machine: while the harness runs, name resolution and connections are refused unless they are for
loopback, strings never hold ':' (so no URL or restic backend can be drawn), and options that name a program to run
are drawn only from the fixed list of bad values.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import json
import os
import socket
import traceback
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from conftest import Simulator, free_port, recorded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MODULES_DIR = Path(__file__).resolve().parents[3] / "plugins" / "modules"
# make test draws the same examples every run (a fuzzer must not make CI a draw); COMFYOPS_FUZZ_EXPLORE=N draws N new
# ones per option, to look for more (what it finds becomes a fix, and the harness keeps the case in NASTY_TEXT)
EXPLORE = int(os.environ.get("COMFYOPS_FUZZ_EXPLORE") or 0)
EXAMPLES = EXPLORE or 25
MODULES = sorted(path.stem for path in MODULES_DIR.glob("*.py") if not path.name.startswith("_"))

NASTY_TEXT = [
    "",
    " ",
    "a\x00b",
    "a\r\nb: c",
    "\n",
    "..",
    "../../etc/passwd",
    "/..",
    "-rf",
    "--help",
    "-r/etc/shadow",
    "x" * 100_000,
    # bytes that are not UTF-8, as they reach a module: the controller decodes them with replacement characters (a
    # lone surrogate never reaches a module; given one, ansible-core's own invocation logging fails before any module code)
    "\ufffd\ufffd",
    "Ã©\x80",
    "é" * 3,
    "${HOME}",
    "$(touch /tmp/comfyops-fuzz-proof)",
    "%s%n",
    "{{ lookup('pipe', 'id') }}",
]
# options that name a program, a path to run or a process: only the fixed bad values, never free text
PROGRAMS = {"python", "uv", "uv_package", "torch_python", "binary", "restic", "installer"}
TEXT = st.sampled_from(NASTY_TEXT) | st.text(alphabet=st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), max_size=24)
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)
PROGRAM_VALUES = st.sampled_from(NASTY_TEXT) | st.none() | st.integers() | st.lists(st.sampled_from(NASTY_TEXT), max_size=2)


def baselines(tmp: Path, comfyui: str = "http://127.0.0.1:9") -> dict[str, dict]:
    """Valid parameters of each module on this machine, everything under `tmp`, every URL on loopback (`comfyui`: the
    simulator's)."""
    srv = tmp / "srv"
    refused = "http://127.0.0.1:9"
    model = tmp / "m.safetensors"
    model.write_bytes(b"a model")
    (srv / "shared" / "user").mkdir(parents=True, exist_ok=True)
    (tmp / "app").mkdir(exist_ok=True)
    (tmp / "app" / "requirements.txt").write_text("aiohttp\n")
    (tmp / "pw").write_text("fuzz\n")
    (tmp / "pw").chmod(0o600)
    workflow = recorded("smoke_workflow.json")
    return {
        "comfyui_alert": {"name": "FuzzAlert", "channels": [{"type": "webhook", "url": refused + "/hook"}], "state_dir": str(tmp / "alerts")},
        "comfyui_backup": {"state": "present", "base": str(srv), "repository": str(tmp / "repo"), "password_file": str(tmp / "pw")},
        "comfyui_backup_info": {"base": str(srv), "repository": str(tmp / "repo"), "password_file": str(tmp / "pw")},
        "comfyui_deploy_state": {"base": str(srv), "id": "r1", "config_digest": "d1", "instances": [{"name": "default", "url": refused}]},
        "comfyui_health": {"url": comfyui, "checks": ["api", "queue"], "timeout": 2},
        "comfyui_k8s_manifests": {
            "dest": str(tmp / "k8s"),
            "version": "1.31",
            "settings": {"release": "r1", "image": "comfyui:r1", "instances": [{"name": "gpu0", "port": 8188, "gpus": 0}]},
        },
        "comfyui_model": {"models_dir": str(tmp / "models"), "folder": "checkpoints", "name": "m.safetensors", "url": model.as_uri(), "require_sha256": False},
        "comfyui_prompt": {"url": comfyui, "workflow": workflow, "timeout": 2, "wait_timeout": 2},
        "comfyui_release": {"base": str(srv), "state": "query"},
        "comfyui_tree": {"base": str(srv), "user": "root", "group": "root"},
        "comfyui_venv": {"base": str(srv), "app": str(tmp / "app")},
        # fail_on never: with checks [] (all of them) the GPU checks fail on a machine without one, as they should
        "host_validate": {"checks": ["cpu_cores", "ram"], "min_cpu_cores": 1, "min_ram": "1MB", "fail_on": "never"},
        "nvidia_gpu_info": {},
    }


class _Spec(Exception):
    pass


class _Exit(Exception):
    pass


class _Fail(Exception):
    pass


def argument_spec(name: str) -> dict:
    module = importlib.import_module("ansible_collections.comfyops.comfyui.plugins.modules." + name)
    found: dict = {}

    def grab(self, argument_spec=None, **_kwargs):
        found.update(argument_spec or {})
        raise _Spec

    with mock.patch.object(basic.AnsibleModule, "__init__", grab), patch_module_args({}), contextlib.suppress(_Spec):
        module.main()
    return found


def _exit(self, **result):
    raise _Exit(result)


def _fail(self, msg=None, **result):
    raise _Fail(dict(result, msg=msg))


def run(name: str, params: dict) -> tuple[str, dict]:
    module = importlib.import_module("ansible_collections.comfyops.comfyui.plugins.modules." + name)
    args = dict(params, _ansible_check_mode=True)
    with (
        mock.patch.object(basic.AnsibleModule, "exit_json", _exit),
        mock.patch.object(basic.AnsibleModule, "fail_json", _fail),
        patch_module_args(json.loads(json.dumps(args))),
    ):
        try:
            module.main()
        except _Exit as done:
            return "ok", done.args[0]
        except _Fail as failed:
            return "failed", failed.args[0]
        except Exception as exc:  # a traceback: say where, in our code
            frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "comfyops" in frame.filename]
            where = "; ".join("%s:%d" % (Path(frame.filename).name, frame.lineno) for frame in frames[-3:])
            raise AssertionError("%s crashed: %s: %s (at %s)" % (name, type(exc).__name__, str(exc)[:300], where)) from None
    return "returned", {}


def _loopback(host) -> bool:
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]").split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Name resolution and connections for anything but loopback are refused in this process while the harness runs."""
    real_getaddrinfo, real_connect, real_connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "the fuzz harness resolves loopback names only")
        return real_getaddrinfo(host, *args, **kwargs)

    def guard(address):
        if isinstance(address, tuple) and not _loopback(address[0]):
            raise OSError(101, "the fuzz harness connects to loopback only")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def names_option(message: str, option: str, spec: dict) -> bool:
    aliases = [option, *spec.get(option, {}).get("aliases", [])]
    return any(alias in message for alias in aliases)


CASES = [(name, option) for name in MODULES for option in sorted(argument_spec(name))]


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory):
    """One simulator for the modules that talk to ComfyUI (health, prompt), so that their baselines succeed."""
    base = tmp_path_factory.mktemp("comfy")
    for folder in ("models/checkpoints", "custom_nodes", "input", "output", "user"):
        (base / folder).mkdir(parents=True)
    sim = Simulator(base, free_port(), ["--cpu"], {})
    sim.wait_ready()
    yield sim.url
    sim.stop()


def test_every_module_has_a_baseline_and_options_to_fuzz(tmp_path):
    assert sorted(baselines(tmp_path)) == MODULES, "a new module needs a baseline here"
    assert len(CASES) > 150


@pytest.mark.parametrize(("name", "option"), CASES, ids=["%s.%s" % case for case in CASES])
def test_a_bad_value_is_refused_cleanly_naming_the_option(name, option, tmp_path_factory, comfyui, monkeypatch):
    spec = argument_spec(name)
    tmp = tmp_path_factory.mktemp(name)
    base = baselines(tmp, comfyui)[name]
    cwd = tmp / "cwd"  # a relative path a module took would land here: check mode must leave it empty
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before, first = run(name, base)
    assert before in ("ok", "failed"), "the baseline of %s neither exits nor fails: %s" % (name, first)

    @settings(max_examples=EXAMPLES, derandomize=not EXPLORE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=PROGRAM_VALUES if option in PROGRAMS else VALUES)
    def fuzz(value):
        outcome, result = run(name, dict(base, **{option: value}))
        assert outcome in ("ok", "failed"), "%s returned without exit_json or fail_json" % name
        assert not os.listdir(cwd), "%s wrote %s in check mode" % (name, os.listdir(cwd))
        if outcome == "ok":
            return
        message = result.get("msg")
        assert isinstance(message, str) and message.strip(), "%s failed with no message: %r" % (name, result)
        assert "Traceback" not in message and "MODULE FAILURE" not in message, message[:2000]
        if before == "failed" and message == first.get("msg"):
            return  # fails as the baseline does on this machine: the bad value was not reached, or refused later
        assert names_option(message, option, spec), "%s with %s=%r failed without naming the option: %s" % (name, option, value, message[:600])

    fuzz()


def test_a_secret_option_that_breaks_validation_is_named_but_never_shown(monkeypatch, tmp_path):
    """ComfyOpsModule names the option whose value broke ansible-core's validation; a no_log option's value stays out."""
    from ansible_collections.comfyops.comfyui.plugins.module_utils._module import _culprits

    spec = {"password": {"type": "int", "no_log": True}, "count": {"type": "int"}}
    found = _culprits(spec, {"password": float("inf"), "count": float("-inf")})  # int(inf) raises OverflowError in core
    assert len(found) == 2 and found[1].startswith("password: its value is not a valid int"), found
    assert "inf" not in found[1].split("(")[0] and found[0].startswith("count: -inf is not a valid int")
