"""Requests per second of GetControl and ListControls through SigV4, against a bare endpoint of
the same ASGI server in the same run.

The client signs each request once and replays it (SigV4 carries no nonce), so the numbers are
the server's cost, not the client's signing. Run: `make bench` or `python bench/api.py`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from assay.config import load_settings
from assay.service import open_services

REQUESTS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_headers(url: str, key_id: str, secret: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key_id, secret), "auditmanager", "us-east-1").add_auth(request)
    return dict(request.headers)


def rate(client: httpx.Client, url: str, headers: dict[str, str]) -> float:
    for _ in range(50):  # warm up connections and caches
        assert client.get(url, headers=headers).status_code == 200
    start = time.perf_counter()
    for _ in range(REQUESTS):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
    return REQUESTS / (time.perf_counter() - start)


def main() -> dict:
    home = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    services = open_services(load_settings(home))
    key = services.keys.create("bench", "admin")
    caller = services.system()
    custom = services.controls.create(caller, {
        "name": "bench control",
        "controlMappingSources": [{"sourceName": "m", "sourceType": "MANUAL"}]})
    for i in range(99):
        services.controls.create(caller, {
            "name": f"bench control {i}",
            "controlMappingSources": [{"sourceName": "m", "sourceType": "MANUAL"}]})
    standard_id = next(iter(services.library.controls))
    services.close()

    port = free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("api_server.py")),
                               str(home), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(200):
                try:
                    client.get(f"{base}/__bare")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            cases = {
                "bare endpoint (no auth, no wire)": (f"{base}/__bare", {}),
                "GetControl, custom": (f"{base}/controls/{custom['id']}", None),
                "GetControl, standard": (f"{base}/controls/{standard_id}", None),
                "ListControls, 100 custom": (f"{base}/controls?controlType=Custom&maxResults=100", None),
            }
            results = {}
            for name, (url, headers) in cases.items():
                if headers is None:
                    headers = signed_headers(url, key.key.access_key_id, key.secret_access_key)
                results[name] = rate(client, url, headers)
    finally:
        server.terminate()
        server.wait()
    baseline = results["bare endpoint (no auth, no wire)"]
    report = {name: {"requests_per_second": round(value), "ratio_to_bare": round(value / baseline, 3)}
              for name, value in results.items()}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
