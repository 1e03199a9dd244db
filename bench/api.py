"""The API under concurrent load: requests per second, p50, p99 and errors of GetControl,
ListControls, GetEvidenceByEvidenceFolder and CreateControl through SigV4, against a bare
endpoint of the same ASGI server in the same run, with 64 connections kept busy by ``wrk``.

Each configuration (store x server workers) gets a fresh home and database, seeded with 100
custom controls and an assessment whose evidence folder holds 1,000 items. Read requests are
signed once and replayed (SigV4 carries no nonce), so the numbers are the server's cost, not
the client's signing; every CreateControl is signed separately with its own name.

Run: `make bench` or `python bench/api.py [--backends sqlite,postgresql] [--workers 1,2]
[--duration 5]`. PostgreSQL comes from ``ASSAY_BENCH_PG_URL`` (default the local test server);
the run makes a throw-away database there. Needs Debian's ``wrk`` (`make bench` installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import world

HERE = Path(__file__).parent
CONNECTIONS = 64
THREADS = 2
BARE = "bare endpoint (no auth, no wire)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_request(method: str, base: str, path: str, key_id: str, secret: str,
                body: bytes = b"") -> bytes:
    """One HTTP/1.1 request as bytes, signed with SigV4 as botocore signs it."""
    request = AWSRequest(method=method, url=base + path, data=body,
                         headers={"Content-Type": "application/json"} if body else {})
    SigV4Auth(Credentials(key_id, secret), "auditmanager", "us-east-1").add_auth(request)
    return build(method, base, path, dict(request.headers), body)


def build(method: str, base: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    host = base.split("://", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def seed(home: Path, db_url: str) -> dict:
    """A key, 100 custom controls, and an assessment with one 1,000-item evidence folder."""
    import sqlalchemy as sa

    from assay.config import load_settings
    from assay.service import open_services
    from assay.service.ledger import EvidenceDraft, day_of
    from assay.store import tables

    services = open_services(load_settings(home, db_url=db_url))
    key, caller = world.admin(services)
    controls = world.controls(services, caller, [f"bench control {i:03}" for i in range(100)],
                              tags={"team": "bench"})
    assessment = world.assessment(services, caller, {"Set A": controls[:1]})
    now = time.time()
    drafts = [EvidenceDraft(assessment, "Set A", controls[0], day_of(now), f"bench-{i}", {
        "dataSource": "AWS Config", "eventSource": "config.amazonaws.com",
        "eventName": "IAM_PASSWORD_POLICY", "evidenceByType": "Compliance check",
        "complianceCheck": "NON_COMPLIANT" if i % 7 == 0 else "COMPLIANT",
        "time": now - i, "evidenceAwsAccountId": "111122223333",
        "resourcesIncluded": [{"arn": f"arn:aws:iam::111122223333:user/u{i}"}],
        "attributes": {"rule": "IAM_PASSWORD_POLICY"}, "region": "us-east-1"})
        for i in range(1000)]
    with services.store.write() as conn:
        services.ledger.append(conn, drafts, author="bench")
        folder = conn.execute(sa.select(tables.evidence_folders.c.id).where(
            tables.evidence_folders.c.assessment_id == assessment)).scalar_one()
    services.close()
    return {"key_id": key.key.access_key_id, "secret": key.secret_access_key,
            "control": controls[0], "assessment": assessment, "folder": folder}


def count_controls(home: Path, db_url: str) -> int:
    import sqlalchemy as sa

    from assay.store import Store, tables

    store = Store(db_url or f"sqlite:///{home / 'assay.db'}")
    with store.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(tables.controls)).scalar_one()
    store.dispose()
    return total


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its worker processes so far."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # exited meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending += [int(child) for child in children]
    return total


def run_wrk(base: str, records: list[bytes], wrap: bool, duration: int, work: Path,
            server_pid: int) -> dict:
    path = work / f"requests-{uuid.uuid4().hex[:8]}.bin"
    path.write_bytes(b"".join(record + b"\0" for record in records))
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(duration)}s", "--timeout", "10s",
               "-s", str(HERE / "wrk_replay.lua"), base, "--", str(path), str(THREADS),
               "wrap" if wrap else "once"]
    cpu = server_cpu_seconds(server_pid)
    done = subprocess.run(command, capture_output=True, text=True)
    cpu = server_cpu_seconds(server_pid) - cpu
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    output = done.stdout
    path.unlink()
    result = json.loads(output.strip().splitlines()[-1])
    result["server_cpu_s"] = cpu
    if result["exhausted"]:
        raise RuntimeError("wrk ran out of pre-signed writes; raise WRITES_PER_SECOND")
    return result


WRITES_PER_SECOND = 4000  # pre-signed CreateControl requests per second of the run


def measure(backend: str, workers: int, duration: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="assay-bench-api-"))
    home = work / "home"
    home.mkdir()
    try:
        with world.scratch_database(backend, home) as db_url:
            seeded = seed(home, db_url)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {**os.environ, "ASSAY_DB_URL": db_url, "ASSAY_COLLECT_INTERVAL": "0"}
            server = subprocess.Popen([sys.executable, str(HERE / "api_server.py"), str(home),
                                       str(port), str(workers)], env=env)
            try:
                results, calls = load(base, server, seeded, home, db_url, work, workers,
                                      duration)
            finally:
                server.terminate()
                server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = summarise(results)
    for name, count in calls.items():
        report[name]["python_calls"] = count
    return report


def load(base: str, server, seeded: dict, home: Path, db_url: str, work: Path, workers: int,
         duration: int) -> tuple[dict, dict]:
    """Every case against the running server: ({case: wrk's result}, {case: calls/request})."""
    wait_until_up(base, server)
    sign = lambda method, path, body=b"": raw_request(  # noqa: E731
        method, base, path, seeded["key_id"], seeded["secret"], body)
    folder = (f"/assessments/{seeded['assessment']}/controlSets/Set%20A/evidenceFolders/"
              f"{seeded['folder']}/evidence?maxResults=100")
    reads = {
        BARE: build("GET", base, "/__bare", {}),
        "GetControl": sign("GET", f"/controls/{seeded['control']}"),
        "ListControls (100)": sign("GET", "/controls?controlType=Custom&maxResults=100"),
        "GetEvidenceByEvidenceFolder (100 of 1,000)": sign("GET", folder),
    }
    results = {}
    for name, record in reads.items():
        check(base, record)
        run_wrk(base, [record], True, 1, work, server.pid)  # warm up workers, connections
        results[name] = run_wrk(base, [record], True, duration, work, server.pid)
    calls = python_calls(home, db_url, reads) if workers == 1 else {}
    before = count_controls(home, db_url)
    writes = [sign("POST", "/controls", json.dumps({
        "name": f"load {uuid.uuid4().hex}",
        "controlMappingSources": [{"sourceName": "m", "sourceType": "MANUAL"}]}).encode())
        for _ in range(int(WRITES_PER_SECOND * duration))]
    results["CreateControl"] = written = run_wrk(base, writes, False, duration, work, server.pid)
    stored = count_controls(home, db_url) - before
    acknowledged = written["requests"] - written["status"]
    if stored < acknowledged:
        raise RuntimeError(f"{acknowledged} creates acknowledged, {stored} stored")
    return results, calls


def python_calls(home: Path, db_url: str, records: dict[str, bytes], requests: int = 100) -> dict:
    """Python function calls (interpreted and built-in, in every thread) per request of each
    case, through the same app in this process (ASGI, no socket). Unlike times, counts do not
    move with the machine's load: they show where a request's work is."""
    import asyncio
    import threading

    sys.path.insert(0, str(HERE))
    os.environ.update({"ASSAY_HOME": str(home), "ASSAY_DB_URL": db_url})
    import api_server

    app = api_server.bench_app()
    counted = [0]

    def count(frame, event, arg):
        if event in ("call", "c_call"):
            counted[0] += 1

    async def send_all(scope: dict, n: int) -> None:
        for _ in range(n):
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)

            await app(scope, receive, send)
            if sent[0]["status"] != 200:
                raise RuntimeError(f"{scope['path']}: {sent}")

    result = {}
    # Hooked before the app starts its worker threads, so their calls count too.
    threading.setprofile(count)
    sys.setprofile(count)
    try:
        for name, record in records.items():
            scope = asgi_scope(record)
            asyncio.run(send_all(scope, 20))  # warm up
            counted[0] = 0
            asyncio.run(send_all(scope, requests))
            result[name] = round(counted[0] / requests)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    app.state.services.close()
    return result


def asgi_scope(record: bytes) -> dict:
    """The ASGI scope of a raw HTTP request (as uvicorn would pass it)."""
    head = record.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    method, target, _ = head[0].split(" ")
    path, _, query = target.partition("?")
    headers = [(line.split(": ", 1)[0].lower().encode(), line.split(": ", 1)[1].encode())
               for line in head[1:]]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": unquote(path), "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "headers": headers,
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 50000)}


def check(base: str, record: bytes) -> None:
    """Send one request and insist on a 200, so the load measures answers, not refusals."""
    head, _, body = record.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    response = httpx.request(method, base + path, headers=headers, content=body, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("the bench server exited")
        try:
            httpx.get(f"{base}/__bare", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the bench server did not start")


def summarise(results: dict) -> dict:
    bare = results[BARE]["requests"] / results[BARE]["duration_us"] * 1e6
    bare_cpu = results[BARE]["server_cpu_s"] / max(results[BARE]["requests"], 1)
    report = {}
    for name, r in results.items():
        rate = r["requests"] / r["duration_us"] * 1e6
        report[name] = {
            "requests_per_second": round(rate), "ratio_to_bare": round(rate / bare, 3),
            "p50_ms": round(r["p50_us"] / 1000, 1), "p99_ms": round(r["p99_us"] / 1000, 1),
            "errors": r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"],
            # Server CPU per request, and bare's over it: the ratio a server with cores of
            # its own would reach, less sensitive to what else runs on the machine.
            "server_cpu_us": round(r["server_cpu_s"] / max(r["requests"], 1) * 1e6),
            "cpu_ratio_to_bare": round(bare_cpu / max(r["server_cpu_s"] / max(r["requests"], 1),
                                                      1e-9), 3)}
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="server worker counts to run")
    parser.add_argument("--duration", type=int, default=5, help="seconds per case")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("bench/api.py needs wrk: apt-get install wrk (make bench does)")
    report = {}
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            name = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
            report[name] = measure(backend, workers, args.duration)
            print(f"== {name}", file=sys.stderr)
            print(table(report[name]), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return report


def table(results: dict) -> str:
    lines = ["| case | req/s | ratio to bare | p50 ms | p99 ms | errors | server CPU µs/req "
             "| CPU ratio to bare | Python calls/req |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['requests_per_second']:,} | {r['ratio_to_bare']:.3f} | "
                     f"{r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {r['server_cpu_us']:,} | "
                     f"{r['cpu_ratio_to_bare']:.3f} | {r.get('python_calls', '')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
