# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values that become a Docker object: each parsed with Docker's own grammar first, the option named on refusal.

Image references follow the distribution project's reference grammar (``[registry[:port]/]path[:tag][@digest]``,
lower-case path components); a network mode is ``host``, ``bridge``, ``none`` or a network's name, never
``container:<name>`` (that joins another container's network namespace: ComfyUI would listen inside the victim's);
sizes are digits and one unit of b, k, m or g; environment names are POSIX names; container names are Docker's.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import shown


class DockerValueError(ValueError):
    """A value Docker would refuse, or take to mean something else; the message names the option."""


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?/)?"
REPOSITORY_RE = re.compile(r"^%s%s(?:/%s)*$" % (_HOST, _COMPONENT, _COMPONENT))
REFERENCE_RE = re.compile(r"^%s%s(?:/%s)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$" % (_HOST, _COMPONENT, _COMPONENT))
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SIZE_RE = re.compile(r"^[0-9]{1,12}[bkmgBKMG]?$")
USER_RE = re.compile(r"^[0-9]{1,10}:[0-9]{1,10}$")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
NETWORK_MODES = ("host", "bridge", "none")


def image_reference(value: Any, option: str) -> str:
    """An image reference such as ``ubuntu:24.04``, ``registry.example.org:5000/team/comfyui:r1`` or one with a digest."""
    if not isinstance(value, str) or len(value) > 255 or not REFERENCE_RE.match(value):
        raise DockerValueError(
            "%s: %s is not an image reference ([registry[:port]/]name[:tag][@sha256:digest], the name in lower case)" % (option, shown(value))
        )
    return value


def repository(value: Any, option: str) -> str:
    """An image repository without a tag or digest (the role adds the release id as the tag)."""
    if not isinstance(value, str) or len(value) > 200 or not REPOSITORY_RE.match(value):
        raise DockerValueError("%s: %s is not an image repository ([registry[:port]/]name, in lower case, no tag)" % (option, shown(value)))
    return value


def network_mode(value: Any, option: str) -> str:
    """host, bridge, none or a network's name; never container:<name>."""
    if isinstance(value, str) and value.startswith("container:"):
        raise DockerValueError("%s: %s would join another container's network namespace; use host, bridge, none or a network's name" % (option, shown(value)))
    if not isinstance(value, str) or not (value in NETWORK_MODES or NAME_RE.match(value)):
        raise DockerValueError("%s: %s is not host, bridge, none or a network's name" % (option, shown(value)))
    return value


def size(value: Any, option: str) -> str:
    """A size such as ``50m`` or ``8g``: digits and one unit of b, k, m or g."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not SIZE_RE.match(text):
        raise DockerValueError("%s: %s is not a size; give digits and a unit b, k, m or g (such as 50m)" % (option, shown(value)))
    return text.lower()


def env_name(value: Any, option: str) -> str:
    if not isinstance(value, str) or not ENV_RE.match(value):
        raise DockerValueError("%s: %s is not an environment variable name (letters, digits and '_', not starting with a digit)" % (option, shown(value)))
    return value


def container_name(value: Any, option: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise DockerValueError(
            "%s: %s is not a container name (1-128 of letters, digits, '_', '.' and '-', starting with a letter or digit)" % (option, shown(value))
        )
    return value


def restart_policy(value: Any, option: str) -> str:
    if value not in RESTART_POLICIES:
        raise DockerValueError("%s: %s is not one of %s" % (option, shown(value), ", ".join(RESTART_POLICIES)))
    return str(value)


def user(value: Any, option: str) -> str:
    if not isinstance(value, str) or not USER_RE.match(value):
        raise DockerValueError("%s: %s is not uid:gid" % (option, shown(value)))
    return value
