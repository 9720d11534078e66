# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: proxy_preflight
short_description: Every problem with the front door's input, as sentences
version_added: 0.3.0
description:
  - "The role P(comfyops.comfyui.comfyui_proxy#role)'s input checks in one place, before anything on the host changes.
    Every value that becomes part of nginx's configuration is parsed into a typed value first (sizes, rates, TLS
    versions from a fixed set, listen addresses and trusted networks as IP addresses, the header as a header name, the
    server name as a host name, paths through the path helper, numbers within their ranges), so that none can end a
    directive and open another."
  - "Settings that are valid but dangerous need their opt-in: trusting the SSO header from every address (a network of
    prefix length 0, such as V(0.0.0.0/0)) needs C(allow_sso_from_anywhere) (the role's
    C(comfyui_proxy_allow_sso_from_anywhere)); no authentication on an address that is not loopback needs
    C(allow_no_auth) (the role's C(comfyui_proxy_allow_no_auth))."
  - Returns an empty list when the input is usable; the role's preflight fails with all of them at once otherwise.
    Token values and passwords are never part of a message.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description:
      - "The role's C(comfyui_proxy_*) settings without the prefix: C(instances), C(server_name), C(listen_addresses),
        C(https_port), C(http_port), C(nginx_package), C(tls_mode), C(tls_cert), C(tls_key), C(tls_self_signed_days),
        C(tls_protocols), C(auth), C(users), C(auth_header), C(tokens), C(basic_auth_rounds), C(sso_trusted), C(rate),
        C(burst), C(connections), C(max_body_size), C(max_fails), C(fail_timeout), C(read_timeout), C(ws_timeout),
        C(access_log), C(state_dir), C(conf_dir), C(site_path), C(allow_sso_from_anywhere), C(allow_no_auth), and
        C(deploy_listen) (the deploy's C(comfyui_deploy_listen))."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The front door's input is usable
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ {'rate': comfyui_proxy_rate, 'max_body_size': comfyui_proxy_max_body_size} | comfyops.comfyui.proxy_preflight }}"
"""

RETURN = r"""
_value:
  description: The problems, each a sentence naming the variable; empty when there are none.
  type: list
  elements: str
"""

import re

from ansible_collections.comfyops.comfyui.plugins.filter.public_listen import loopback
from ansible_collections.comfyops.comfyui.plugins.module_utils import _nginx
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, check_name
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed

TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/= -]{16,512}$")
USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
AUTH_NEEDS = {"basic": ("users", "comfyui_proxy_users"), "token": ("tokens", "comfyui_proxy_tokens"), "sso": ("sso_trusted", "comfyui_proxy_sso_trusted")}

# (setting, parser, extra arguments): each value that goes into nginx's configuration or apt's command line
SCALARS = (
    ("server_name", _nginx.server_name, ()),
    ("https_port", _nginx.port, ()),
    ("http_port", _nginx.port, ()),
    ("nginx_package", _nginx.package, ()),
    ("tls_self_signed_days", _nginx.integer, (1, 3650)),
    ("tls_protocols", _nginx.tls_protocols, ()),
    ("auth_header", _nginx.header_name, ()),
    ("basic_auth_rounds", _nginx.integer, (1000, 999999999)),
    ("rate", _nginx.rate, ()),
    ("burst", _nginx.integer, (0, 100000)),
    ("connections", _nginx.integer, (1, 100000)),
    ("max_body_size", _nginx.size, ()),
    ("max_fails", _nginx.integer, (0, 1000)),
    ("fail_timeout", _nginx.integer, (1, 86400)),
    ("read_timeout", _nginx.integer, (1, 86400)),
    ("ws_timeout", _nginx.integer, (1, 604800)),
    ("access_log", _nginx.path, ()),
    ("state_dir", _nginx.path, ()),
    ("conf_dir", _nginx.path, ()),
    ("site_path", _nginx.path, ()),
)


def _parse(problems, parser, value, option, *args):
    try:
        return parser(value, option, *args)
    except (_nginx.NginxValueError, PathError) as exc:
        problems.append(str(exc))
        return None


def _list(values, option, problems):
    if values is None:
        return []
    if isinstance(values, (list, tuple)):
        return list(values)
    problems.append("%s: a list is expected, not %r" % (option, values))
    return []


def _instance_problems(instances, problems):
    names, ports = [], []
    for index, item in enumerate(instances):
        if not isinstance(item, dict):
            problems.append("comfyui_proxy_instances[%d]: a mapping with name and port is expected, not %r" % (index, item))
            continue
        names.append(_parse(problems, check_name, item.get("name"), "comfyui_proxy_instances[%d].name" % index, "instance name"))
        ports.append(_parse(problems, _nginx.port, item.get("port"), "comfyui_proxy_instances[%d].port" % index))
        if "listen" in item and not loopback(item["listen"]):
            problems.append(
                "comfyui_proxy_instances[%d].listen: %r is not loopback; ComfyUI listens on loopback only behind the proxy" % (index, item["listen"])
            )
    if not instances:
        problems.append("comfyui_proxy_instances: no instances")
    for kind, values in (("names", names), ("ports", ports)):
        given = [value for value in values if value is not None]
        if len(set(given)) != len(given):
            problems.append("comfyui_proxy_instances: instance %s repeat (%s)" % (kind, ", ".join(map(str, given))))


def _auth_problems(values, listen, problems):
    auth = values.get("auth", "basic")
    if auth not in ("basic", "token", "sso", "none"):
        problems.append("comfyui_proxy_auth: %r is not one of basic, token, sso, none" % (auth,))
        return
    if auth in AUTH_NEEDS and not values.get(AUTH_NEEDS[auth][0]):
        problems.append("comfyui_proxy_auth %s needs %s" % (auth, AUTH_NEEDS[auth][1]))
    for index, token in enumerate(_list(values.get("tokens"), "comfyui_proxy_tokens", problems)):
        if not isinstance(token, str) or not TOKEN_RE.match(token):  # the value is never shown
            problems.append("comfyui_proxy_tokens[%d]: a token must be 16-512 of A-Z a-z 0-9 . _ ~ + / = - and space" % index)
    for index, user in enumerate(_list(values.get("users"), "comfyui_proxy_users", problems)):
        name = user.get("name") if isinstance(user, dict) else None
        if not isinstance(name, str) or not USER_RE.match(name):
            problems.append("comfyui_proxy_users[%d].name: %r is not a user name (1-64 of A-Z a-z 0-9 . _ @ -)" % (index, name))
        if not isinstance(user, dict) or not isinstance(user.get("password"), str) or not user.get("password"):
            problems.append("comfyui_proxy_users[%d].password: a non-empty string is expected" % index)
    trusted = [
        _parse(problems, _nginx.network, item, "comfyui_proxy_sso_trusted[%d]" % index)
        for index, item in enumerate(_list(values.get("sso_trusted"), "comfyui_proxy_sso_trusted", problems))
    ]
    everyone = [str(net) for net in trusted if net is not None and net.prefixlen == 0]
    if auth == "sso" and everyone and not values.get("allow_sso_from_anywhere"):
        problems.append(
            "comfyui_proxy_sso_trusted: %s trusts the %s header from every address, so anyone can claim to be any user; name the "
            "SSO proxy's addresses, or set comfyui_proxy_allow_sso_from_anywhere: true if a firewall already does"
            % (", ".join(everyone), values.get("auth_header"))
        )
    public = [str(item) for item in listen if item is not None and not loopback(item)]
    if auth == "none" and public and not values.get("allow_no_auth"):
        problems.append(
            "comfyui_proxy_auth: none on %s, an address that is not loopback, lets anyone run any graph on this host's GPUs; choose basic, "
            "token or sso, or set comfyui_proxy_allow_no_auth: true if something in front already authenticates" % ", ".join(public)
        )


@typed(DOCUMENTATION, problems=True)
def proxy_preflight(values):
    if not isinstance(values, dict):
        return ["comfyui_proxy: the settings are expected as a mapping, not %r" % (values,)]
    problems = []
    _instance_problems(_list(values.get("instances"), "comfyui_proxy_instances", problems), problems)
    for key, parser, args in SCALARS:
        if key in values:
            _parse(problems, parser, values[key], "comfyui_proxy_" + key, *args)
    listen = [
        _parse(problems, _nginx.address, item, "comfyui_proxy_listen_addresses[%d]" % index)
        for index, item in enumerate(_list(values.get("listen_addresses"), "comfyui_proxy_listen_addresses", problems))
    ]
    if "listen_addresses" in values and not listen:
        problems.append("comfyui_proxy_listen_addresses: at least one address is needed")
    if values.get("tls_mode", "provided") == "provided" and not (values.get("tls_cert") and values.get("tls_key")):
        problems.append("comfyui_proxy_tls_mode provided needs comfyui_proxy_tls_cert and comfyui_proxy_tls_key")
    _auth_problems(values, listen, problems)
    if "deploy_listen" in values and not loopback(values.get("deploy_listen") or "127.0.0.1"):
        problems.append("comfyui_deploy_listen: %r is not loopback; ComfyUI listens on loopback only behind the proxy" % (values.get("deploy_listen"),))
    return problems


class FilterModule:
    def filters(self):
        return {"proxy_preflight": proxy_preflight}
