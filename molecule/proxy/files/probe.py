"""What a client sees through the comfyui_proxy role's nginx (standard library only; runs on the test host).
Ports from the environment: PROBE_HTTPS_PORT, PROBE_HTTP_PORT, PROBE_COMFYUI_PORTS (space-separated).

probe.py checks                 every front-door check, as JSON
probe.py upstreams N            N requests, then the upstream each one went to (from the JSON access log)
probe.py load OUT STOP          a request every 0.25 s until the file STOP exists: "status request-id" lines in OUT
probe.py summary OUT            the statuses and upstreams of a load run, as JSON
"""

import base64
import http.client
import json
import os
import socket
import ssl
import sys
import time

HTTPS = int(os.environ.get("PROBE_HTTPS_PORT", "443"))
HTTP = int(os.environ.get("PROBE_HTTP_PORT", "80"))
COMFYUI = [int(port) for port in os.environ.get("PROBE_COMFYUI_PORTS", "8188 8189").split()]
CERT = "/etc/nginx/comfyui/cert.pem"
LOG = "/var/log/nginx/comfyui.access.json"
AUTH = "Basic " + base64.b64encode(b"ops:molecule-only-Pa55").decode()
CTX = ssl.create_default_context(cafile=CERT)


def request(method="GET", path="/system_stats", headers=None, body=None, auth=AUTH, port=HTTPS, tls=True):
    conn = http.client.HTTPSConnection("localhost", port, context=CTX, timeout=10) if tls else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {"Host": "localhost"}
    if auth:
        sent["Authorization"] = auth
    sent.update(headers or {})
    conn.request(method, path, body=body, headers=sent)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, dict(answer.getheaders()), data


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return False
    except ConnectionRefusedError:
        return True


def websocket_first_message():
    raw = socket.create_connection(("127.0.0.1", HTTPS), timeout=10)
    sock = CTX.wrap_socket(raw, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws?clientId=molecule HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: https://localhost\r\nAuthorization: %s\r\n\r\n" % (key, AUTH)
        ).encode()
    )
    stream = sock.makefile("rb")
    status = stream.readline().decode().strip()
    while stream.readline() not in (b"\r\n", b""):
        pass
    head = stream.read(2)
    size = head[1] & 0x7F
    if size == 126:
        size = int.from_bytes(stream.read(2), "big")
    message = json.loads(stream.read(size))
    sock.close()
    return status, message


def checks():
    result = {}
    result["no_credentials"] = request(auth=None)[0]
    result["wrong_password"] = request(auth="Basic " + base64.b64encode(b"ops:wrong").decode())[0]
    status, headers, body = request()
    result["with_credentials"] = status
    result["comfyui_version"] = json.loads(body)["system"]["comfyui_version"]
    result["request_id_header"] = "X-Request-Id" in headers
    status, headers, _unused_body = request(path="/system_stats?x=1", tls=False, port=HTTP, auth=None)
    result["http_redirect"] = [status, headers.get("Location")]
    raw = socket.create_connection(("127.0.0.1", HTTPS), timeout=10)
    with CTX.wrap_socket(raw, server_hostname="localhost") as tls:
        with open(CERT) as handle:
            result["tls_certificate_is_configured_one"] = tls.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(handle.read())
        result["tls_version"] = tls.version()
    result["websocket"] = websocket_first_message()
    result["cross_origin"] = request(headers={"Origin": "https://evil.example"})[0]
    result["same_origin"] = request(headers={"Origin": "https://localhost"})[0]
    result["body_too_large"] = request("POST", "/prompt", headers={"Content-Type": "application/json"}, body=b"{" + b" " * (2 * 1024 * 1024) + b"}")[0]
    result["comfyui_on_127_0_0_2_refused"] = all(refused("127.0.0.2", port) for port in COMFYUI)
    result["comfyui_on_127_0_0_1_open"] = not any(refused("127.0.0.1", port) for port in COMFYUI)
    result["proxy_on_127_0_0_2_open"] = not refused("127.0.0.2", HTTPS)
    burst = [request()[0] for _unused in range(40)]
    result["burst"] = {str(code): burst.count(code) for code in sorted(set(burst))}
    return result


def upstreams_of(ids):
    """The upstream of each request id, from the access log (nginx writes a line just after its answer: wait for it)."""
    wanted, found = set(ids), {}
    for _attempt in range(50):
        with open(LOG) as handle:
            for line in handle:
                entry = json.loads(line)
                if entry["request_id"] in wanted:
                    found[entry["request_id"]] = entry["upstream"]
        if wanted <= set(found):
            break
        time.sleep(0.1)  # poll the log
    return [found.get(i) for i in ids]


def ok_request():
    """One request that is let through (after a burst, the rate limit answers 429 for a moment)."""
    for _unused in range(100):
        status, headers, _unused_body = request()
        if status != 429:
            return status, headers["X-Request-Id"]
        time.sleep(0.1)
    raise SystemExit("still rate limited")


def main():
    mode = sys.argv[1]
    if mode == "checks":
        print(json.dumps(checks()))
    elif mode == "upstreams":
        answers = [ok_request() for _unused in range(int(sys.argv[2]))]
        print(json.dumps({"statuses": [s for s, _unused in answers], "upstreams": upstreams_of([i for _unused, i in answers])}))
    elif mode == "load":
        with open(sys.argv[2], "w") as out:
            while not os.path.exists(sys.argv[3]):
                try:
                    status, headers, _unused_body = request()
                    out.write("%d %s\n" % (status, headers.get("X-Request-Id", "-")))
                except OSError as exc:
                    out.write("error %s\n" % type(exc).__name__)
                out.flush()
                time.sleep(0.25)  # 4 a second, under the scenario's rate limit (10 r/s)
    elif mode == "summary":
        lines = [line.split() for line in open(sys.argv[2])]
        statuses = {}
        for line in lines:
            statuses[line[0]] = statuses.get(line[0], 0) + 1
        ids = [line[1] for line in lines if line[0] == "200"]
        print(json.dumps({"statuses": statuses, "upstreams": sorted(set(u for u in upstreams_of(ids) if u))}))


if __name__ == "__main__":
    main()
