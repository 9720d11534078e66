# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A release's Python environment, decided and built in one place.

One venv per key (`venvs/<key>`), the key a digest of everything that decides what gets installed: the
Python version, ComfyUI's and every custom node's requirements, the extra packages, the constraints, the
indexes and the protected list. Built with uv when it is there (a warm, root-owned cache makes a rebuild of
the same requirements a matter of seconds) and pip otherwise, in three steps:

1. ComfyUI's requirements and the extra packages: this decides the torch stack.
2. The torch family and the protected packages as installed are written down as `==` constraints (the
   local version label, the CUDA build, included).
3. ComfyUI's and every custom node's requirements resolved and installed together, under those constraints:
   a node that wants another torch (a CPU build from PyPI, an older one) or another numpy cannot replace it;
   the build fails naming the node, the package, the version it wants and the version held.

Then `pip check` must pass and the full freeze is recorded. A failed build removes its venv: nothing half-done
is ever marked complete or linked by a release.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, atomic_write, check_name, inside, program, shown
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import redact, redact_url
from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import Progress, watch_size
from ansible_collections.comfyops.comfyui.plugins.module_utils._requirement import RequirementError, node_requirements, package

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
COMPLETE = ".comfyops-complete"
FREEZE = "freeze.txt"
HELD = "held-constraints.txt"
KEY_LENGTH = 16
OUTPUT_TAIL = 3000  # characters of an installer's output kept in an error


class VenvError(Exception):
    """A build that cannot go on; the message says what, where and, for a held package, who wanted what."""


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (Torch_Vision -> torch-vision)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Requirements:
    """A requirements file of ComfyUI ("comfyui") or of a custom node (its name), with its text."""

    source: str
    path: str
    text: str


@dataclass
class VenvSpec:
    """What decides a venv's content (all of it goes into the key) and how to reach the packages."""

    python: str
    python_version: str
    requirements: list[Requirements]
    extra_packages: list[str] = field(default_factory=list)
    constraints: str = ""  # a constraints file on the host
    constraints_text: str = ""
    index_url: str = ""
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    extra_args: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines of custom nodes' requirements that were dropped, and why

    def key(self) -> str:
        """The venv's key: a digest of every setting above (secrets in index URLs only ever as part of it)."""
        document = {
            "python": self.python_version,
            "requirements": [[r.source, r.text] for r in self.requirements],
            "extra_packages": list(self.extra_packages),
            "constraints": self.constraints_text,
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": list(self.find_links),
            "no_index": self.no_index,
            "extra_args": list(self.extra_args),
            "protected": sorted(self.held_names()),
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:KEY_LENGTH]

    def held_names(self) -> set[str]:
        return {canonical(n) for n in (*TORCH_FAMILY, *self.protected)}

    def secrets(self) -> list[str]:
        """The index URLs as given (they may carry credentials): never shown, replaced in any output."""
        urls = [self.index_url, *self.extra_index_urls, *self.find_links]
        found = [u for u in urls if u and redact_url(u) != u]
        for url in found:
            userinfo = url.split("://", 1)[-1].split("@", 1)[0] if "@" in url else ""
            found += [part for part in userinfo.split(":") if part]
        return found


# -- what a venv holds ---------------------------------------------------------------------------------------

_LIST_SCRIPT = "import importlib.metadata as m, json; print(json.dumps(sorted({(d.metadata['Name'] or '', d.version) for d in m.distributions()})))"

# Runs inside the venv (its pip vendors `packaging`): which of a requirements file's lines name a held package
# with a version the held one does not satisfy. stdin: {"text": ..., "held": {name: version}}.
_CONFLICT_SCRIPT = r"""
import json, re, sys
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
doc = json.load(sys.stdin)
out = []
for line in doc["text"].splitlines():
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith(("#", "-")):
        continue
    try:
        req = Requirement(line)
    except InvalidRequirement:
        continue
    name = re.sub(r"[-_.]+", "-", req.name).lower()
    held = doc["held"].get(name)
    if held is not None and req.specifier and not req.specifier.contains(held, prereleases=True):
        out.append([name, str(req.specifier), held])
print(json.dumps(out))
"""


def installed(python: str) -> dict[str, str]:
    """{canonical name: version} of the distributions the interpreter `python` sees."""
    output = _run([python, "-c", _LIST_SCRIPT], "list the installed packages")
    return {canonical(name): version for name, version in json.loads(output) if name}


def freeze_lines(python: str) -> list[str]:
    output = _run([python, "-c", _LIST_SCRIPT], "list the installed packages")
    return ["%s==%s" % (name, version) for name, version in json.loads(output) if name]


def direct_conflicts(python: str, spec: VenvSpec, held: dict[str, str]) -> list[str]:
    """Sentences naming each custom node line that asks for a held package in a version other than the held one."""
    sentences = []
    for req in spec.requirements[1:]:
        payload = json.dumps({"text": req.text, "held": held})
        found = json.loads(_run([python, "-c", _CONFLICT_SCRIPT], "read %s's requirements" % req.source, stdin=payload))
        for name, wanted, version in found:
            sentences.append("custom node %r wants %s%s, but %s %s is held (torch family and protected packages)" % (req.source, name, wanted, name, version))
    return sentences


# -- running the installers ----------------------------------------------------------------------------------


def _run(argv: list[str], what: str, env: dict[str, str] | None = None, stdin: str | None = None, secrets: list[str] | None = None) -> str:
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise VenvError("%s: cannot run %s: %s" % (what, argv[0], exc.strerror)) from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-OUTPUT_TAIL:]
        raise VenvError("%s failed (exit %d): %s" % (what, proc.returncode, redact(tail, secrets or [])))
    return proc.stdout


@dataclass
class Installer:
    """pip or uv, pointed at one venv, its indexes and a root-owned cache."""

    name: str  # "uv" or "pip"
    venv: str
    spec: VenvSpec
    cache_dir: str
    uv: str = ""

    @property
    def python(self) -> str:
        return os.path.join(self.venv, "bin", "python")

    def _env(self) -> dict[str, str]:
        """The installer's environment: the host's, plus the cache, the indexes (for uv) and no index when asked."""
        env = dict(os.environ)
        env.update(VIRTUAL_ENV=self.venv, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        if self.name == "pip":
            env["PIP_CACHE_DIR"] = os.path.join(self.cache_dir, "pip")
            env["PIP_CONFIG_FILE"] = os.path.join(self.venv, "pip.conf")
            # The spec's indexes win over the host's PIP_* variables (which beat any pip.conf): they are in the key.
            for var, value in (
                ("PIP_INDEX_URL", self.spec.index_url),
                ("PIP_EXTRA_INDEX_URL", " ".join(self.spec.extra_index_urls)),
                ("PIP_FIND_LINKS", " ".join(self.spec.find_links)),
            ):
                if value:
                    env[var] = value
            if self.no_index():
                env["PIP_NO_INDEX"] = "1"
            return env
        spec = self.spec
        env["UV_CACHE_DIR"] = os.path.join(self.cache_dir, "uv")
        env["UV_NO_CONFIG"] = "1"
        env["UV_INDEX_STRATEGY"] = "unsafe-best-match"  # pip's rule: the best version over all indexes
        env["UV_LINK_MODE"] = "hardlink" if _same_device(self.cache_dir, self.venv) else "copy"
        if spec.index_url:
            env["UV_INDEX_URL"] = spec.index_url
        if spec.extra_index_urls:
            env["UV_EXTRA_INDEX_URL"] = " ".join(spec.extra_index_urls)
        if spec.find_links:
            env["UV_FIND_LINKS"] = ",".join(spec.find_links)
        return env

    def no_index(self) -> bool:
        """No index at all: asked for, or PIP_NO_INDEX in the host's environment (it means the same for uv)."""
        return self.spec.no_index or os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on")

    def install(self, args: list[str], what: str) -> None:
        if self.name == "uv":  # uv has no environment variable for --no-index
            argv = [self.uv, "pip", "install", "--python", self.python, *(["--no-index"] if self.no_index() else []), *args]
        else:
            argv = [self.python, "-m", "pip", "install", "--quiet", *self.spec.extra_args, *args]
        _run(argv, what, env=self._env(), secrets=self.spec.secrets())

    def check(self) -> None:
        if self.name == "uv":
            argv = [self.uv, "pip", "check", "--python", self.python]
        else:
            argv = [self.python, "-m", "pip", "check"]
        _run(argv, "pip check (the venv's requirements must all be met)", env=self._env(), secrets=self.spec.secrets())

    def would_install(self, args: list[str]) -> dict[str, str]:
        """{canonical name: version} a pip dry run would install for `args` (pip's JSON report); {} on failure."""
        with tempfile.NamedTemporaryFile(suffix=".json") as report:
            argv = [self.python, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed", "--report", report.name, *args]
            env = Installer("pip", self.venv, self.spec, self.cache_dir)._env()  # the report is pip's, whoever installs
            try:
                _run(argv, "dry run", env=env, secrets=self.spec.secrets())
                items = json.load(report).get("install", [])
            except (VenvError, ValueError):
                return {}
        return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items if isinstance(i, dict) and "metadata" in i}


def _same_device(a: str, b: str) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def find_uv(uv: str) -> str:
    """The uv executable: `uv` when it is one, else uv (or the name `uv`) on PATH; "" when there is none."""
    return uv if uv and os.access(uv, os.X_OK) else shutil.which(uv or "uv") or ""


def bootstrap_uv(base: str, spec: VenvSpec, package: str, check_mode: bool = False) -> tuple[str, str]:
    """(uv, "") from <base>/tools/uv-<key>, a small venv made once with pip from the spec's own indexes (a mirror,
    credentials and no_index honoured); ("", why) when it cannot be made, so the build goes on with pip."""
    document = json.dumps([package, spec.python_version, spec.index_url, spec.extra_index_urls, spec.find_links, spec.no_index])
    tools = os.path.join(base, "tools")
    venv = os.path.join(tools, "uv-" + hashlib.sha256(document.encode()).hexdigest()[:KEY_LENGTH])
    uv = os.path.join(venv, "bin", "uv")
    if os.path.isfile(os.path.join(venv, COMPLETE)) and os.access(uv, os.X_OK):
        return uv, ""
    if check_mode:
        return "", "uv would be installed first (%s)" % package
    os.makedirs(tools, mode=0o755, exist_ok=True)
    cache_dir = os.path.join(base, "pkgcache")
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    if os.path.lexists(venv):
        shutil.rmtree(venv)
    try:
        _new_venv(venv, spec, "create uv's own venv")
        Installer("pip", venv, dataclasses.replace(spec, extra_args=[]), cache_dir).install([package], "install %s" % package)
        if not os.access(uv, os.X_OK):
            raise VenvError("%s installed no bin/uv" % package)
        atomic_write(os.path.join(venv, COMPLETE), json.dumps({"package": package}) + "\n")
    except VenvError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        return "", str(exc)
    return uv, ""


def choose_installer(wanted: str, uv: str, extra_args: list[str], bootstrap: Callable[[], tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """("uv", path, "") or ("pip", "", why not uv). auto: uv when found (or installed by `bootstrap`) and there are no
    pip options (they are pip's); uv: uv or a clear failure; pip: pip."""
    if wanted == "pip":
        return "pip", "", "installer=pip"
    if wanted == "auto" and extra_args:
        return "pip", "", "pip options given (extra_args), which uv does not take"
    found, why = find_uv(uv), "uv is not on this host"
    if not found and bootstrap is not None:
        found, why = bootstrap()
    if found:
        return "uv", found, ""
    if wanted == "uv":
        raise VenvError("installer: uv is not on this host (%s) and could not be installed: %s" % (uv or "uv on PATH", why))
    return "pip", "", why


# -- the build -----------------------------------------------------------------------------------------------


def pip_conf(spec: VenvSpec) -> str:
    lines = ["[global]"]
    if spec.index_url:
        lines.append("index-url = %s" % spec.index_url)
    if spec.extra_index_urls:
        lines.append("extra-index-url = %s" % " ".join(spec.extra_index_urls))
    if spec.find_links:
        lines.append("find-links = %s" % " ".join(spec.find_links))
    if spec.no_index:
        lines.append("no-index = true")
    return "\n".join(lines) + "\n"


def _new_venv(venv: str, spec: VenvSpec, what: str) -> None:
    """A new venv made with the spec's Python, with its own pip.conf (the spec's indexes)."""
    _run([spec.python, "-m", "venv", venv], "%s with %s" % (what, spec.python))
    fd = os.open(os.path.join(venv, "pip.conf"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:  # the indexes may hold credentials: root only, never on a command line
        handle.write(pip_conf(spec))


def _requirement_args(spec: VenvSpec, requirements: list[Requirements], held: str = "") -> list[str]:
    args: list[str] = []
    for req in requirements:
        args += ["-r", req.path]
    args += list(spec.extra_packages)
    if spec.constraints:
        args += ["-c", spec.constraints]
    if held:
        args += ["-c", held]
    return args


def _explain(installer: Installer, spec: VenvSpec, held: dict[str, str], error: VenvError) -> VenvError:
    """Why the joint install failed: a custom node that wants a held package in another version, when one does."""
    sentences = direct_conflicts(installer.python, spec, held)
    if not sentences:  # maybe through a dependency of the node: ask pip what the node alone would install
        for req in spec.requirements[1:]:
            wanted = installer.would_install(_requirement_args(spec, [req]))
            for name, version in sorted(wanted.items()):
                if name in held and version != held[name]:
                    sentences.append("custom node %r wants %s %s (through its requirements), but %s %s is held" % (req.source, name, version, name, held[name]))
    if not sentences:
        return error
    advice = "Nothing was switched. Pin the node to a commit that accepts the held version, or change the torch stack on purpose."
    return VenvError("%s. %s" % ("; ".join(sentences), advice))


def build(
    base: str, spec: VenvSpec, installer_name: str = "auto", uv: str = "", check_mode: bool = False, uv_package: str = "", progress: Progress | None = None
) -> dict[str, object]:
    """Make venvs/<key> complete (or say it is); return key, path, changed, installer, held, freeze (and, when pip
    builds it although uv was allowed, why in installer_note). With `uv_package`, a missing uv is installed first.
    A build reports the bytes written into the venv to `progress` (the caller finishes it)."""
    key = spec.key()
    venvs = os.path.join(base, "venvs")
    venv = os.path.join(venvs, check_name(key, "key"))
    result: dict[str, object] = {"key": key, "path": venv, "changed": False}
    if spec.notes:
        result["requirement_notes"] = list(spec.notes)
    if os.path.isfile(os.path.join(venv, COMPLETE)):
        return dict(result, **_recorded(venv))
    bootstrap = (lambda: bootstrap_uv(base, spec, uv_package, check_mode)) if uv_package else None
    name, uv_path, why = choose_installer(installer_name, uv, spec.extra_args, bootstrap)
    result.update(changed=True, installer=name)
    if why and installer_name != "pip":
        result["installer_note"] = why
    if check_mode:
        return result
    cache_dir = os.path.join(base, "pkgcache")
    os.makedirs(venvs, mode=0o755, exist_ok=True)
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    if os.path.lexists(venv):
        shutil.rmtree(inside(venvs, key, "key"))  # an unfinished build of an earlier run
    try:
        with watch_size(progress or Progress(None, "venv"), venv, note="building with %s" % name):
            result.update(_build(venv, spec, Installer(name, venv, spec, cache_dir, uv_path)))
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    return result


def _build(venv: str, spec: VenvSpec, installer: Installer) -> dict[str, object]:
    _new_venv(venv, spec, "create the venv")
    for req in spec.requirements[1:]:  # a node's requirements as parsed (its options gone), never its file as written
        req.path = os.path.join(venv, "requirements-%s.txt" % check_name(req.source, "custom_nodes[]"))
        atomic_write(req.path, req.text)
    comfyui = spec.requirements[:1]
    installer.install(_requirement_args(spec, comfyui), "install ComfyUI's requirements")
    names = spec.held_names()
    held = {n: v for n, v in installed(installer.python).items() if n in names}
    held_path = os.path.join(venv, HELD)
    atomic_write(held_path, "".join("%s==%s\n" % item for item in sorted(held.items())))
    if len(spec.requirements) > 1:
        try:
            installer.install(_requirement_args(spec, spec.requirements, held_path), "install ComfyUI's and the custom nodes' requirements together")
        except VenvError as exc:
            raise _explain(installer, spec, held, exc) from None
    installer.check()
    freeze = freeze_lines(installer.python)
    atomic_write(os.path.join(venv, FREEZE), "\n".join(freeze) + "\n")
    atomic_write(os.path.join(venv, COMPLETE), json.dumps({"python": spec.python_version, "installer": installer.name, "held": held}, sort_keys=True) + "\n")
    return {"installer": installer.name, "held": held, "freeze": freeze}


def _recorded(venv: str) -> dict[str, object]:
    """What a complete venv recorded: its installer, held versions and freeze (older venvs: what is known)."""
    try:
        with open(os.path.join(venv, COMPLETE), encoding="utf-8") as handle:
            meta = json.loads(handle.read() or "{}")
    except ValueError:
        meta = {}  # a venv marked by an earlier version of this collection (the Python version as text)
    if not isinstance(meta, dict):
        meta = {}
    try:
        with open(os.path.join(venv, FREEZE), encoding="utf-8") as handle:
            freeze = handle.read().split()
    except FileNotFoundError:
        freeze = []
    return {"installer": meta.get("installer"), "held": meta.get("held", {}), "freeze": freeze}


def read_spec(params: dict[str, object]) -> VenvSpec:
    """A VenvSpec from the module's options: reads ComfyUI's and each custom node's requirements in the checkout
    `app` (app/requirements.txt, app/custom_nodes/<name>/requirements.txt) and the constraints on the host."""
    try:
        program(params.get("python") or "python3", "python")  # programs to run: a command name or an absolute path
        if params.get("uv"):
            program(params["uv"], "uv")
    except PathError as exc:
        raise VenvError(str(exc)) from None
    if params.get("uv_package"):
        try:
            package(params["uv_package"], "uv_package")
        except RequirementError as exc:
            raise VenvError(str(exc)) from None
    app = str(params["app"])
    comfyui = os.path.join(app, "requirements.txt")
    try:
        with open(comfyui, encoding="utf-8") as handle:
            requirements = [Requirements("comfyui", comfyui, handle.read())]
    except FileNotFoundError:
        raise VenvError("app: %s does not exist; ComfyUI's checkout must have it" % comfyui) from None
    nodes_dir = os.path.join(app, "custom_nodes")
    notes: list[str] = []
    for name in params.get("custom_nodes") or []:  # type: ignore[attr-defined]
        path = os.path.join(inside(nodes_dir, check_name(str(name), "custom_nodes[]"), "custom_nodes[]"), "requirements.txt")
        try:
            with open(path, encoding="utf-8") as handle:
                text, dropped = node_requirements(handle.read(), str(name))
        except FileNotFoundError:
            continue  # a custom node without requirements
        except (RequirementError, UnicodeDecodeError) as exc:
            raise VenvError(str(exc) if isinstance(exc, RequirementError) else "custom node %r: requirements.txt is not UTF-8 text" % name) from None
        requirements.append(Requirements(str(name), path, text))
        notes += dropped
    try:
        entries: list[object] = list(params.get("extra_packages") or [])  # type: ignore[call-overload]
        extra_packages = [package(entry, "extra_packages[%d]" % index) for index, entry in enumerate(entries)]
    except RequirementError as exc:
        raise VenvError(str(exc)) from None
    constraints = str(params.get("constraints") or "")
    constraints_text = ""
    if constraints:
        try:
            with open(constraints, encoding="utf-8") as handle:
                constraints_text = handle.read()
        except OSError as exc:
            raise VenvError("constraints: cannot read %s: %s" % (constraints, exc.strerror)) from None
    try:
        extra_args = shlex.split(str(params.get("extra_args") or ""))
    except ValueError as exc:  # an unclosed quote, a trailing backslash
        raise VenvError("extra_args: %s does not split into arguments: %s" % (shown(params.get("extra_args"), 120), exc)) from None
    python = str(params["python"])
    version = _run([python, "-c", "import sys; print(sys.version)"], "python: run %s" % python).strip()
    return VenvSpec(
        python=python,
        python_version=version,
        requirements=requirements,
        extra_packages=extra_packages,
        constraints=constraints,
        constraints_text=constraints_text,
        index_url=str(params.get("index_url") or ""),
        extra_index_urls=[str(u) for u in params.get("extra_index_urls") or [] if u],  # type: ignore[attr-defined]
        find_links=[str(u) for u in params.get("find_links") or [] if u],  # type: ignore[attr-defined]
        no_index=bool(params.get("no_index")),
        extra_args=extra_args,
        protected=[str(p) for p in params.get("protected") or []],  # type: ignore[attr-defined]
        notes=notes,
    )
