# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environment files that no value can break out of: systemd's EnvironmentFile= syntax, written and read.

A value is always written double-quoted with ``\\``, ``"``, ``$`` and `````` escaped, the way systemd's parser
reads them back; names must be shell-style identifiers and values cannot hold newlines or other control
characters. Nothing here is ever ``source``d by a shell: the standalone control script reads the JSON form.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPED = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}


# A variable whose name holds one of these words is a secret (HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ...), and so
# is every name listed in comfyui_deploy_secret_names: its value never goes into a release, a container spec kept in
# a release, a manifest file or a backup.
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")


def is_secret(name: str, names: Iterable[str] = ()) -> bool:
    return name in set(names) or any(word in name.upper() for word in SECRET_WORDS)


class EnvError(ValueError):
    """A name or value that cannot be written safely; the message says which (never the value of a secret)."""


def check_env(env: dict[str, Any], where: str) -> dict[str, str]:
    """The environment as {name: text}; EnvError naming `where` and the variable when one is unusable."""
    if not isinstance(env, dict):
        raise EnvError("%s: expected a map of variable names to values, got %s" % (where, type(env).__name__))
    checked = {}
    for name, value in env.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise EnvError("%s: %r is not a variable name (letters, digits and _, not starting with a digit)" % (where, name))
        if isinstance(value, (dict, list)) or value is None:
            raise EnvError("%s.%s: expected a string, number or boolean, got %s" % (where, name, type(value).__name__))
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if _CONTROL_RE.search(text):
            raise EnvError("%s.%s: the value holds a newline or another control character, which no environment file can carry" % (where, name))
        checked[name] = text
    return checked


def split_secrets(env: dict[str, Any], names: Any = (), where: str = "environment") -> dict[str, Any]:
    """{public, secret, record}: the checked environment split by `is_secret`; record = {names, digest}, what a release
    keeps of the secrets (sha256 of the sorted name/value pairs; nothing a reader of the release does not already have:
    the service user, who may read the release, gets the values themselves in its environment)."""
    if names is None:
        names = []
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and NAME_RE.match(n) for n in names):
        raise EnvError("comfyui_deploy_secret_names: expected a list of variable names, got %r" % (names,))
    checked = check_env(env or {}, where)
    secret = {k: v for k, v in checked.items() if is_secret(k, names)}
    public = {k: v for k, v in checked.items() if k not in secret}
    digest = hashlib.sha256(json.dumps(sorted(secret.items())).encode("utf-8")).hexdigest()
    return {"public": public, "secret": secret, "record": {"names": sorted(secret), "digest": "sha256:" + digest}}


def quote(text: str) -> str:
    return '"%s"' % "".join(_ESCAPED.get(char, char) for char in text)


def render(env: dict[str, Any], where: str = "environment") -> str:
    """EnvironmentFile= text: one NAME="value" line per variable, in the given order."""
    return "".join("%s=%s\n" % (name, quote(text)) for name, text in check_env(env, where).items())


def parse(text: str) -> dict[str, str]:
    """Read what `render` writes (systemd's rules for double-quoted values), for tests and tools."""
    env = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        name, _eq, raw = line.partition("=")
        if not (raw.startswith('"') and raw.endswith('"')) or len(raw) < 2:
            raise EnvError('line %r is not NAME="value"' % line[:40])
        body, out, i = raw[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPED:
                out.append(body[i + 1])
                i += 2
            else:
                out.append(body[i])
                i += 1
        env[name.strip()] = "".join(out)
    return env
