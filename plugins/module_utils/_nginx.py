# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values that become part of nginx's configuration, each parsed into a typed value first.

A role variable written into a directive as it was given can end that directive and open another (a body size of
``1m; location /open { auth_basic off; }`` once rendered a configuration nginx accepted, with a location that asked
for no credentials). Every parser here takes the value and the option's name, and returns a value that cannot carry a
space, a ``;``, a brace, a quote, a ``$`` or a newline, or raises NginxValueError naming the option, the value and what
is expected. The comfyui_proxy role's preflight runs them all (the ``proxy_preflight`` filter) before it writes
anything.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils import _debian
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, absolute_path, shown


class NginxValueError(ValueError):
    """A value nginx's configuration cannot take as given; the message names the option."""


SIZE_RE = re.compile(r"^([0-9]{1,9})([kKmMgG]?)$")
RATE_RE = re.compile(r"^([1-9][0-9]{0,5})r/([sm])$")
# A header name that is also a usable nginx variable suffix ($http_<name>): letters, digits and '-'.
HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
TLS_PROTOCOLS = ("TLSv1.2", "TLSv1.3")  # the versions nginx may accept here; TLS 1.0 and 1.1 are broken and not offered


def size(value: Any, option: str) -> str:
    """A size such as ``64m``: up to nine digits and an optional unit k, m or g."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not SIZE_RE.match(text):
        raise NginxValueError("%s: %s is not a size; give digits and an optional unit k, m or g (such as 64m)" % (option, shown(value)))
    return text.lower()


def rate(value: Any, option: str) -> str:
    """A request rate: ``Nr/s`` or ``Nr/m``, N from 1 to 999999."""
    if not isinstance(value, str) or not RATE_RE.match(value):
        raise NginxValueError("%s: %s is not a rate; give requests per second or minute, such as 20r/s or 300r/m" % (option, shown(value)))
    return value


def integer(value: Any, option: str, low: int, high: int) -> int:
    """An integer from `low` to `high` (a bool is not one; a string of digits is)."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.match(r"^[0-9]{1,10}$", value):
        number = int(value)
    if number is None or not low <= number <= high:
        raise NginxValueError("%s: %s is not a whole number from %d to %d" % (option, shown(value), low, high))
    return number


def port(value: Any, option: str) -> int:
    return integer(value, option, 1, 65535)


def tls_protocols(values: Any, option: str) -> list[str]:
    """One or more of TLSv1.2 and TLSv1.3, each once."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        raise NginxValueError("%s: a list of TLS versions is expected (%s), not %s" % (option, ", ".join(TLS_PROTOCOLS), shown(values)))
    for index, value in enumerate(values):
        if value not in TLS_PROTOCOLS:
            raise NginxValueError("%s[%d]: %s is not one of %s" % (option, index, shown(value), ", ".join(TLS_PROTOCOLS)))
    if len(set(values)) != len(values):
        raise NginxValueError("%s: %s names a version twice" % (option, shown(values)))
    return list(values)


def address(value: Any, option: str) -> str:
    """An IP address to listen on (IPv6 with or without brackets), in its canonical form."""
    try:
        return str(ipaddress.ip_address(value.strip("[]") if isinstance(value, str) else value))
    except ValueError:
        raise NginxValueError("%s: %s is not an IP address (such as 0.0.0.0, 192.0.2.10 or ::)" % (option, shown(value))) from None


def network(value: Any, option: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or a network in CIDR notation (host bits may be set: 10.1.2.3/8 is 10.0.0.0/8)."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise NginxValueError("%s: %s is not an address or a network (such as 10.0.0.5 or 10.0.0.0/24)" % (option, shown(value))) from None


def header_name(value: Any, option: str) -> str:
    """An HTTP header name made of letters, digits and '-' (it also names an nginx variable)."""
    if not isinstance(value, str) or not HEADER_RE.match(value):
        raise NginxValueError("%s: %s is not a header name; use 1-64 letters, digits and '-' (such as X-Auth-Token)" % (option, shown(value)))
    return value


def server_name(value: Any, option: str) -> str:
    """A host name, or a wildcard one (``*.example.org``), up to 253 characters."""
    name = value[2:] if isinstance(value, str) and value.startswith("*.") else value
    if not isinstance(name, str) or not name or len(value) > 253 or not all(LABEL_RE.match(label) for label in name.split(".")):
        raise NginxValueError("%s: %s is not a host name (labels of letters, digits, '-' and '_', dot-separated)" % (option, shown(value)))
    return str(value)


def path(value: Any, option: str) -> str:
    """An absolute path on the host, through the path helper (no '..', no characters nginx would read as syntax)."""
    try:
        return absolute_path(value, option)
    except PathError as exc:
        raise NginxValueError(str(exc)) from None


def package(value: Any, option: str) -> str:
    """A Debian package name with an optional version pin (``nginx`` or ``nginx=1.22.1-9``); never an option."""
    try:
        return _debian.package(value, option)
    except _debian.PackageError as exc:
        raise NginxValueError(str(exc)) from None
