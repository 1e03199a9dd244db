"""No unauthenticated memory: every route that reads a request body refuses an oversized
Content-Length before reading, and reads nothing of an unauthenticated body beyond what the
network stack holds. The server runs in its own process so that its peak RSS can be read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PostgresDatabase, backends, free_port, wait_for_port

ASSAY = str(Path(sys.executable).parent / "assay")
HOSTILE_BYTES = 200 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
# Peak RSS may grow a little (the first requests warm caches); a body held in memory would
# add at least its 200 MB.
ALLOWED_GROWTH = 48 * 1024 * 1024

# Every route that reads a body: the Audit Manager API (one per method and a greedy label),
# the internal sharing endpoint, upload links, the console's forms and uploads, and the
# evidence finder's CloudTrail Lake endpoint (POST / with CloudTrail's X-Amz-Target).
LAKE = "x-amz-target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.StartQuery\r\n"
ROUTES = [
    ("POST", "/assessments"),
    ("PUT", "/assessments/2f4b8a3e-5d1c-4e7a-9b60-3c8d2e1f0a57"),
    ("POST", "/tags/arn%3Aaws%3Aauditmanager%3Aus-east-1%3A111122223333%3Acontrol%2Fx"),
    ("PUT", "/settings"),
    ("GET", "/controls"),
    ("DELETE", "/controls/2f4b8a3e-5d1c-4e7a-9b60-3c8d2e1f0a57"),
    ("POST", "/_assay/shares"),
    ("PUT", "/_assay/shares/2f4b8a3e-5d1c-4e7a-9b60-3c8d2e1f0a57"),
    ("PUT", "/_assay/uploads/x.csv?expires=9999999999&signature=abc"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("POST", "/console/assessments/a/status"),
    ("POST", "/console/assessments/a/controls/c/upload"),
    ("POST", "/", LAKE),
]


@pytest.fixture(scope="module", params=backends())
def served(request, tmp_path_factory):
    home, port = tmp_path_factory.mktemp("assay-home"), free_port()
    env = {**os.environ, "ASSAY_COLLECT_INTERVAL": "0", "ASSAY_LOG_LEVEL": "warning"}
    database = None
    if request.param == "postgresql":
        database = PostgresDatabase()
        env["ASSAY_DB_URL"] = database.url
    process = subprocess.Popen([ASSAY, "serve", "--home", str(home), "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=30)
        if database is not None:
            database.drop()


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def hostile(port: int, method: str, path: str, declared: bool, headers: str = "") -> tuple[int, int]:
    """Send up to 200 MB with no credentials (chunked, or with a declared Content-Length), with
    ``headers`` (raw header lines) added; stop once the server has answered. Returns (status,
    bytes the server let us send)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(60)
    framing = (f"content-length: {HOSTILE_BYTES}\r\n" if declared
               else "transfer-encoding: chunked\r\n")
    sock.sendall(f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                 f"content-type: application/json\r\n{headers}{framing}\r\n".encode())
    sent, answer = 0, b""
    sock.setblocking(False)
    try:
        while sent < HOSTILE_BYTES:
            try:
                answer += sock.recv(65536)
                if answer:
                    break  # the server answered without waiting for the body
            except BlockingIOError:
                pass
            piece = CHUNK if declared else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
            try:
                sock.setblocking(True)
                sock.settimeout(5)
                sock.sendall(piece)
            except (socket.timeout, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading (or closed): nothing more gets in
            finally:
                sock.setblocking(False)
            sent += len(CHUNK)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_200_mb_without_credentials_leaves_rss_flat(served, declared):
    pid, port = served
    hostile(port, "POST", "/assessments", declared=False)  # warm up the request path once
    before = peak_rss(pid)
    for method, path, *headers in ROUTES:
        status, sent = hostile(port, method, path, declared, *headers)
        assert status in (303, 401, 403, 404, 413), (method, path, status)
        assert peak_rss(pid) - before < ALLOWED_GROWTH, (method, path, sent)
    if declared:  # refused on Content-Length alone: the body was never wanted
        assert status == 413 or status in (303, 401, 403)
    time.sleep(0.1)
    assert peak_rss(pid) - before < ALLOWED_GROWTH
