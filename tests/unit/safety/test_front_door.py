"""Issue 26: every value the comfyui_proxy role writes into nginx's configuration is parsed into a typed value first,
and settings that are valid but dangerous need their opt-in. Each case here was accepted before (the body size one
rendered a configuration nginx took, with a location that asked for no credentials)."""

from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.filter.proxy_preflight import proxy_preflight
from ansible_collections.comfyops.comfyui.plugins.module_utils import _fsutil, _nginx

INJECTION = "1m; location /open { auth_basic off; proxy_pass http://127.0.0.1:8188; }"

GOOD = {
    "instances": [{"name": "default", "port": 8188}, {"name": "second", "port": 8189}],
    "server_name": "comfy.example.org",
    "listen_addresses": ["0.0.0.0", "::"],
    "https_port": 443,
    "http_port": 80,
    "nginx_package": "nginx",
    "tls_mode": "self_signed",
    "tls_protocols": ["TLSv1.2", "TLSv1.3"],
    "auth": "basic",
    "users": [{"name": "ops", "password": "s3cret-Pa55word"}],
    "auth_header": "Authorization",
    "tokens": [],
    "basic_auth_rounds": 1000,
    "sso_trusted": [],
    "rate": "20r/s",
    "burst": 40,
    "connections": 32,
    "max_body_size": "64m",
    "max_fails": 1,
    "fail_timeout": 10,
    "read_timeout": 300,
    "ws_timeout": 3600,
    "access_log": "/var/log/nginx/comfyui.access.json",
    "state_dir": "/var/lib/comfyops/proxy",
    "conf_dir": "/etc/nginx/comfyui",
    "site_path": "/etc/nginx/conf.d/comfyui.conf",
    "allow_sso_from_anywhere": False,
    "allow_no_auth": False,
    "deploy_listen": "127.0.0.1",
}


def test_the_roles_defaults_and_a_usual_setting_pass():
    assert proxy_preflight(GOOD) == []
    assert proxy_preflight(dict(GOOD, auth="token", tokens=["t" * 32], auth_header="X-Auth-Token", rate="300r/m", max_body_size="512K")) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_body_size", INJECTION, "comfyui_proxy_max_body_size: '1m; location /open"),
        ("max_body_size", "64 m", "is not a size"),
        ("rate", "20r/s; location /open { auth_basic off; }", "comfyui_proxy_rate: '20r/s; location /open"),
        ("rate", "0r/s", "is not a rate"),
        ("access_log", "/var/log/x.json comfyui_json; location /open { auth_basic off; }", "comfyui_proxy_access_log: "),
        ("access_log", "relative.log", "is not a usable absolute path"),
        ("access_log", "/var/log/../../etc/shadow", "is not a usable absolute path"),
        ("conf_dir", "/etc/nginx/comfyui\n}", "comfyui_proxy_conf_dir: "),
        ("site_path", "/", "is not a usable absolute path"),
        ("tls_protocols", ["TLSv1.2; location /open { auth_basic off; }"], "comfyui_proxy_tls_protocols[0]: "),
        ("tls_protocols", ["TLSv1", "TLSv1.2"], "comfyui_proxy_tls_protocols[0]: 'TLSv1' is not one of TLSv1.2, TLSv1.3"),
        ("tls_protocols", [], "a list of TLS versions is expected"),
        ("tls_protocols", "TLSv1.3", "a list of TLS versions is expected"),
        ("listen_addresses", ["0.0.0.0:80; location /x {}"], "comfyui_proxy_listen_addresses[0]: "),
        ("listen_addresses", ["example.org"], "is not an IP address"),
        ("auth_header", "X-User; more", "comfyui_proxy_auth_header: 'X-User; more' is not a header name"),
        ("auth_header", "X_User$1", "is not a header name"),
        ("server_name", "a.example.org; location /open {}", "comfyui_proxy_server_name: "),
        ("server_name", "", "is not a host name"),
        ("nginx_package", "-oDpkg::Pre-Invoke=touch", "comfyui_proxy_nginx_package: "),
        ("https_port", 0, "comfyui_proxy_https_port: 0 is not a whole number from 1 to 65535"),
        ("http_port", "80; listen 81", "comfyui_proxy_http_port: "),
        ("burst", -1, "comfyui_proxy_burst: -1 is not a whole number from 0 to 100000"),
        ("connections", True, "comfyui_proxy_connections: True is not a whole number"),
        ("read_timeout", "300s; location", "comfyui_proxy_read_timeout: "),
        ("basic_auth_rounds", 10, "comfyui_proxy_basic_auth_rounds: 10 is not a whole number from 1000"),
        ("tls_self_signed_days", 0, "comfyui_proxy_tls_self_signed_days: 0"),
    ],
)
def test_a_value_nginx_could_misread_is_refused_naming_the_option(key, value, message):
    problems = proxy_preflight(dict(GOOD, **{key: value}))
    assert any(message in problem for problem in problems), problems
    assert len(problems) == 1, problems


def test_every_problem_is_reported_at_once():
    problems = proxy_preflight(dict(GOOD, rate="x", max_body_size=INJECTION, access_log="x", listen_addresses=["nowhere"]))
    assert [p.split(":", maxsplit=1)[0] for p in problems] == [
        "comfyui_proxy_rate",
        "comfyui_proxy_max_body_size",
        "comfyui_proxy_access_log",
        "comfyui_proxy_listen_addresses[0]",
    ]


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0", "10.9.8.7/0"])
def test_trusting_the_sso_header_from_everyone_needs_its_opt_in(everyone):
    sso = dict(GOOD, auth="sso", auth_header="X-Remote-User", sso_trusted=["10.0.0.5", everyone])
    (problem,) = proxy_preflight(sso)
    assert "comfyui_proxy_sso_trusted" in problem and "X-Remote-User header from every address" in problem
    assert "comfyui_proxy_allow_sso_from_anywhere: true" in problem
    assert proxy_preflight(dict(sso, allow_sso_from_anywhere=True)) == []
    assert proxy_preflight(dict(sso, sso_trusted=["10.0.0.5", "10.0.0.0/8"])) == []


def test_sso_trust_is_parsed_as_networks():
    (problem,) = proxy_preflight(dict(GOOD, auth="sso", sso_trusted=["10.0.0.0/8; allow all"]))
    assert problem.startswith("comfyui_proxy_sso_trusted[0]: '10.0.0.0/8; allow all' is not an address or a network")


def test_no_authentication_on_a_public_address_needs_its_opt_in():
    (problem,) = proxy_preflight(dict(GOOD, auth="none"))
    assert "comfyui_proxy_auth: none on 0.0.0.0, ::" in problem and "comfyui_proxy_allow_no_auth: true" in problem
    assert proxy_preflight(dict(GOOD, auth="none", allow_no_auth=True)) == []
    assert proxy_preflight(dict(GOOD, auth="none", listen_addresses=["127.0.0.1", "::1"])) == [], "loopback only needs no opt-in"


def test_tokens_and_passwords_never_appear_in_a_message():
    token = "short-secret-tok"  # 16 characters, but a ';' makes it unusable
    problems = proxy_preflight(dict(GOOD, auth="token", tokens=[token + ";"], users=[{"name": "a b", "password": "hunter2-secret"}]))
    assert problems and not any(token in p or "hunter2" in p for p in problems), problems
    assert "comfyui_proxy_tokens[0]: a token must be" in problems[0]


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"name": "gpu1\n    server 203.0.113.9:80", "port": 8189}], "comfyui_proxy_instances[0].name: instance name"),
        ([{"name": "gpu0", "port": "8188; include /etc/shadow"}], "comfyui_proxy_instances[0].port: '8188; include /etc/shadow' is not a whole number"),
        ([{"name": "gpu0", "port": 70000}], "comfyui_proxy_instances[0].port: 70000 is not a whole number from 1 to 65535"),
        ([{"name": "gpu0", "port": 8188}, {"name": "gpu0", "port": 8189}], "instance names repeat (gpu0, gpu0)"),
        ([{"name": "gpu0", "port": 8188}, {"name": "gpu1", "port": 8188}], "instance ports repeat (8188, 8188)"),
        ([{"name": "gpu0", "port": 8188, "listen": "0.0.0.0"}], "comfyui_proxy_instances[0].listen: '0.0.0.0' is not loopback"),
        ([], "comfyui_proxy_instances: no instances"),
        ("gpu0", "comfyui_proxy_instances: a list is expected"),
        (["gpu0"], "comfyui_proxy_instances[0]: a mapping with name and port is expected"),
    ],
)
def test_instances_are_names_and_ports(instances, message):
    problems = proxy_preflight(dict(GOOD, instances=instances))
    assert any(message in problem for problem in problems), problems


def test_comfyui_itself_stays_on_loopback_behind_the_proxy():
    (problem,) = proxy_preflight(dict(GOOD, deploy_listen="0.0.0.0"))
    assert problem.startswith("comfyui_deploy_listen: '0.0.0.0' is not loopback")


def test_the_parsers_return_canonical_values():
    assert _nginx.size(64, "o") == "64" and _nginx.size("1G", "o") == "1g"
    assert _nginx.address("[::1]", "o") == "::1" and _nginx.address("0.0.0.0", "o") == "0.0.0.0"
    assert str(_nginx.network("10.1.2.3/8", "o")) == "10.0.0.0/8"
    assert _nginx.server_name("*.example.org", "o") == "*.example.org"
    assert _nginx.package("nginx=1.22.1-9", "o") == "nginx=1.22.1-9"
    assert _nginx.integer("42", "o", 1, 100) == 42
    assert _fsutil.absolute_path("/srv/comfy-ui/x_1.log", "o") == "/srv/comfy-ui/x_1.log"
    for bad in ("/a//b", "/a/./b", "/a/", "/", "", None, "/a b", "/a\x00b", "/" + "a" * 4100):
        with pytest.raises(_fsutil.PathError, match=r"^o: "):
            _fsutil.absolute_path(bad, "o")


def test_not_a_mapping():
    assert proxy_preflight(["x"]) == ["proxy_preflight: its input must be a map, got list"]
