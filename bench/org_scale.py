"""Collection at organization scale: shards per minute with 1 and with 2 `assay worker`
processes on one PostgreSQL, for a synthetic AWS Organization (default 200 member accounts x 4
regions, two API-call sources each).

AWS is a stub endpoint in its own process that answers STS (GetCallerIdentity, AssumeRole),
CloudWatch Logs DescribeLogGroups and KMS ListKeys from generated data, so the benchmark
measures Assay rather than an emulator. Each round collects its own assessment (same scope)
with fresh evidence, through the real path: a planner job, one job per shard, the ledger.

Reports shards/minute per round, the speed-up of 2 workers over 1 (the baseline, same run),
jobs lost (shards not finished, procrastinate jobs failed) and duplicates (evidence rows against
the generated data; items a round counted twice).

Run: `python bench/org_scale.py [--accounts 200 --regions 4 --concurrency 4]` (PostgreSQL on
ASSAY_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/test: a throw-away database is
created and dropped).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OWN = "100000000000"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
KEYWORDS = ["logs_DescribeLogGroups", "kms_ListKeys"]
PG_URL = os.environ.get("ASSAY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_SCOPE = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/")


def members(count: int) -> list[str]:
    return [str(200000000000 + n) for n in range(count)]


def resources(account: str, region: str, kind: str) -> int:
    """How many log groups (1-5) or KMS keys (1-3) the generated account has in a region."""
    digest = int(hashlib.sha256(f"{account}/{region}/{kind}".encode()).hexdigest(), 16)
    return 1 + digest % (5 if kind == "logs" else 3)


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key_id, region = _SCOPE.search(self.headers.get("Authorization", "")).groups()
        account = key_id[4:] if key_id.startswith("ASIA") else OWN
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith("DescribeLogGroups"):
            groups = [{"logGroupName": f"/app/{n}", "creationTime": 1700000000000,
                       "arn": f"arn:aws:logs:{region}:{account}:log-group:/app/{n}:*",
                       "storedBytes": 0} for n in range(resources(account, region, "logs"))]
            return self._send(json.dumps({"logGroups": groups}), "application/x-amz-json-1.1")
        if target.endswith("ListKeys"):
            keys = [{"KeyId": f"{account}-{region}-{n}",
                     "KeyArn": f"arn:aws:kms:{region}:{account}:key/{account}-{region}-{n}"}
                    for n in range(resources(account, region, "kms"))]
            return self._send(json.dumps({"Keys": keys, "Truncated": False}),
                              "application/x-amz-json-1.1")
        form = urllib.parse.parse_qs(body.decode())
        action = form.get("Action", [""])[0]
        if action == "GetCallerIdentity":
            return self._send(
                '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<GetCallerIdentityResult><Arn>arn:aws:iam::{OWN}:user/bench</Arn>"
                f"<UserId>AIDABENCH</UserId><Account>{OWN}</Account></GetCallerIdentityResult>"
                "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
                "</GetCallerIdentityResponse>", "text/xml")
        if action == "AssumeRole":
            member = form["RoleArn"][0].split(":")[4]
            return self._send(
                '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<AssumeRoleResult><Credentials><AccessKeyId>ASIA{member}</AccessKeyId>"
                "<SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>"
                "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>"
                f"<AssumedRoleId>AROABENCH:assay</AssumedRoleId><Arn>arn:aws:sts::{member}:"
                "assumed-role/AssayMemberRole/assay-collection</Arn></AssumedRoleUser>"
                "</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId>"
                "</ResponseMetadata></AssumeRoleResponse>", "text/xml")
        self._send(json.dumps({"__type": "UnknownOperationException", "message": target or action}),
                   "application/x-amz-json-1.1", 400)

    def _send(self, text: str, content_type: str, status: int = 200) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve_stub(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Stub).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _source(keyword: str) -> dict:
    return {"sourceName": keyword, "sourceType": "AWS_API_Call",
            "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}}


def setup(services, accounts: list[str], regions: list[str], name: str) -> str:
    caller = services.system()
    owner = services.keys.create(f"owner-{name}", "process-owner").key.arn
    controls = [services.controls.create(caller, {"name": f"{name} {k}",
                                                  "controlMappingSources": [_source(k)]})["id"]
                for k in KEYWORDS]
    framework = services.frameworks.create(caller, {"name": f"bench {name}", "controlSets": [
        {"name": "Inventory", "controls": [{"id": c} for c in controls]}]})
    assessment = services.assessments.create(caller, {
        "name": f"bench {name}", "frameworkId": framework["id"],
        "scope": {"awsAccounts": [{"id": a} for a in accounts]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": owner}],
        "assessmentReportsDestination": {}})["assessment"]["metadata"]["id"]
    services.assessments.set_regions(caller, assessment, regions)
    return assessment


def round_of(services, assessment: str, workers: int, concurrency: int, env: dict,
             deadline: float) -> dict:
    import sqlalchemy as sa

    from assay.jobs.queue import Deferrer
    from assay.store import tables

    assay = str(Path(sys.executable).with_name("assay"))
    processes = [subprocess.Popen([assay, "worker", "--concurrency", str(concurrency)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
    try:
        with services.store.read() as conn:  # wait until every worker is up
            pass
        while True:
            with services.store.read() as conn:
                up = conn.execute(sa.text("SELECT count(*) FROM procrastinate_workers")).scalar()
            if up >= workers:
                break
            time.sleep(0.2)
        deferrer = Deferrer(services)
        began = time.perf_counter()
        run_id = deferrer.collect(services.system(), assessment)
        while True:
            progress = services.collection.progress(services.system(), assessment)
            if progress["status"] != "RUNNING" or time.time() > deadline:
                break
            time.sleep(0.25)
        elapsed = time.perf_counter() - began
        deferrer.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    with services.store.read() as conn:
        run = conn.execute(sa.select(tables.collection_runs)
                           .where(tables.collection_runs.c.id == run_id)).one()
        failed_jobs = conn.execute(sa.text(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'")).scalar()
        rows = conn.execute(sa.select(sa.func.count()).select_from(tables.evidence).where(
            tables.evidence.c.assessment_id == assessment)).scalar()
    finished = progress["done"] + progress["failed"]
    return {"workers": workers, "status": run.status, "shards": progress["total"],
            "seconds": round(elapsed, 2), "shards_per_minute": round(finished / elapsed * 60),
            "jobs_lost": progress["total"] - finished + failed_jobs,
            "errors": progress["errors"], "evidence": rows, "counted_twice": run.duplicates}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker at once")
    parser.add_argument("--limit", type=float, default=600, help="seconds per round at most")
    args = parser.parse_args(argv)
    import psycopg

    from assay.config import load_settings
    from assay.jobs.queue import ensure_schema
    from assay.service import open_services

    accounts, regions = members(args.accounts), REGIONS[:args.regions]
    port = free_port()
    stub = multiprocessing.Process(target=serve_stub, args=(port,), daemon=True)
    stub.start()
    database = f"assay_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    db_url = PG_URL.rsplit("/", 1)[0] + f"/{database}"
    home = Path(tempfile.mkdtemp(prefix="assay-bench-org-"))
    env = {**os.environ, "ASSAY_HOME": str(home), "ASSAY_DB_URL": db_url,
           "ASSAY_COLLECT_INTERVAL": "0", "ASSAY_LOG_LEVEL": "warning",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "AKIDBENCH",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    services = open_services(load_settings(home, db_url=db_url))
    try:
        ensure_schema(services)
        expected = sum(resources(a, r, kind) for a in accounts for r in regions
                       for kind in ("logs", "kms"))
        rounds = []
        for workers in (1, 2):
            assessment = setup(services, accounts, regions, f"{workers}-workers")
            result = round_of(services, assessment, workers, args.concurrency, env,
                              time.time() + args.limit)
            result["duplicates"] = result["evidence"] - expected + result["counted_twice"]
            rounds.append(result)
    finally:
        services.close()
        stub.terminate()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    report = {"accounts": args.accounts, "regions": len(regions), "sources": len(KEYWORDS),
              "expected_evidence": expected, "rounds": rounds,
              "speed_up": round(rounds[1]["shards_per_minute"] / rounds[0]["shards_per_minute"], 2),
              "jobs_lost": sum(r["jobs_lost"] for r in rounds),
              "duplicates": sum(r["duplicates"] for r in rounds)}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
