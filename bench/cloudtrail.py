"""CloudTrail log ingestion: events per second from gzipped trail log files in S3 into the
ledger (the whole collection path: list, read, decompress, parse, match, file, prepare records,
hash, chain, insert, count into folders, link, seal, commit), against just reading,
decompressing and parsing the same files from the same S3, in the same run.

S3 is a moto server in a process of its own. Each worker is a process: with ``--workers N``, N
workers run at once (each over its own account's files, into one ledger), first reading only,
then ingesting, in the same rounds; each side's best round counts. Runs on SQLite and on
PostgreSQL (a throw-away database on ``ASSAY_BENCH_PG_URL``, default the test server).

Run: `python bench/cloudtrail.py [--files 20 --events 1000 --rounds 3 --workers 1
--backends sqlite,postgresql]`, `python bench/run.py cloudtrail`, or `make bench`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

import world

REGION, BUCKET = "us-east-1", "bench-trail"
FIRST_ACCOUNT = 123456789012


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_s3(port: int, stop) -> None:
    """The moto server, in a process of its own, until ``stop`` is set."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stop.wait()
    server.stop()


def write_logs(s3, account: str, files: int, events: int, start: dt.datetime) -> list[str]:
    """CloudTrail's own layout and record shape: console sign-ins of 50 users, 5 minutes a file."""
    keys = []
    for f in range(files):
        when = start + dt.timedelta(minutes=5 * f)
        records = [{
            "eventVersion": "1.09", "eventTime": (when + dt.timedelta(seconds=e % 300)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": REGION,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/u{e % 50}",
                             "accountId": account, "userName": f"u{e % 50}"},
            "sourceIPAddress": "198.51.100.7", "userAgent": "Mozilla/5.0",
            "eventID": str(uuid.uuid4()), "requestID": str(uuid.uuid4()),
            "eventType": "AwsConsoleSignIn", "recipientAccountId": account,
            "responseElements": {"ConsoleLogin": "Success"},
        } for e in range(events)]
        key = (f"trail/AWSLogs/{account}/CloudTrail/{REGION}/{when:%Y/%m/%d}/"
               f"{account}_CloudTrail_{REGION}_{when:%Y%m%dT%H%M}Z_{f:016d}.json.gz")
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))
        keys.append(key)
    return keys


def parse_only(keys: list[str], s3=None) -> tuple[int, float]:
    """The baseline: a fresh client (or ``s3``, any object with boto3's get_object), then
    read, decompress and parse every file; (events, seconds)."""
    import boto3

    start, count = time.perf_counter(), 0
    s3 = s3 or boto3.client("s3", region_name=REGION)
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        with gzip.GzipFile(fileobj=body) as stream:
            count += len(orjson.loads(stream.read())["Records"])
    return count, time.perf_counter() - start


def new_assessment(services, account: str, start: dt.datetime, name: str) -> str:
    from assay.store import tables

    caller = services.system()
    owner = services.keys.create(f"owner-{name}", "process-owner").key.arn
    control = services.controls.create(caller, {"name": f"sign-ins {name}", "controlMappingSources": [{
        "sourceName": "ConsoleLogin", "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "signin_ConsoleLogin"}}]})
    framework = services.frameworks.create(caller, {"name": f"bench {name}", "controlSets": [
        {"name": "Set", "controls": [{"id": control["id"]}]}]})
    assessment = services.assessments.create(caller, {
        "name": f"bench {name}", "frameworkId": framework["id"],
        "scope": {"awsAccounts": [{"id": account}]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": owner}],
        "assessmentReportsDestination": {}})["assessment"]["metadata"]["id"]
    with services.store.write() as conn:  # the files predate the run: start the audit before them
        conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment)
                     .values(created_at=start.timestamp() - 60))
    return assessment


def worker(index: int, home: str, db_url: str, account: str, keys: list[str], rounds: int,
           start: dt.datetime, barrier, results, profile: str | None) -> None:
    """One worker process: per round, read only, then ingest (a fresh assessment, so every
    event is new evidence), in step with the other workers."""
    from assay.jobs import InlineRunner as Runner
    from assay.config import load_settings
    from assay.service import open_services

    services = open_services(load_settings(Path(home), db_url=db_url, collect_workers=1,
                                           cloudtrail_s3_uri=f"s3://{BUCKET}/trail"))
    runner = Runner(services)
    caller = services.system()
    profiler, profiling = None, {"on": False}
    if profile:  # the runner collects shards on threads of its own: profile them
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        collect_unit = runner._shard

        def profiled(*unit_args, **unit_kwargs):
            if not profiling["on"]:
                return collect_unit(*unit_args, **unit_kwargs)
            profiler.start()
            try:
                return collect_unit(*unit_args, **unit_kwargs)
            finally:
                profiler.stop()

        runner._shard = profiled
    for round_ in range(rounds):
        barrier.wait()
        cpu = time.process_time()
        parsed, parse_seconds = parse_only(keys)
        parse_cpu = time.process_time() - cpu
        assessment = new_assessment(services, account, start, f"{index}-{round_}")
        barrier.wait()
        profiling["on"] = profiler is not None and round_ == rounds - 1
        began, cpu = time.perf_counter(), time.process_time()
        result = runner.run(caller, assessment)
        ingest_seconds, ingest_cpu = time.perf_counter() - began, time.process_time() - cpu
        if profiling["on"]:
            Path(f"{profile}.{index}.txt").write_text(profiler.output_text(color=False))
        if result.errors or result.added != parsed:
            raise SystemExit(f"ingested {result.added} of {parsed}: {result.failures}")
        results.put((index, round_, parsed, parse_seconds, result.added, ingest_seconds,
                     parse_cpu, ingest_cpu))
    services.close()


def run_backend(backend: str, endpoint: str, accounts: list[str], keys: dict[str, list[str]],
                args, start: dt.datetime) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"assay-bench-ct-{backend}-"))
    with world.scratch_database(backend, home) as db_url:
        from assay.config import load_settings
        from assay.service import open_services

        open_services(load_settings(home, db_url=db_url)).close()  # migrate once, up front
        spawn = multiprocessing.get_context("spawn")
        barrier, results = spawn.Barrier(len(accounts)), spawn.Queue()
        processes = [spawn.Process(target=worker, args=(
            i, str(home), db_url, account, keys[account], args.rounds, start, barrier, results,
            args.profile and f"{args.profile}.{backend}")) for i, account in enumerate(accounts)]
        for process in processes:
            process.start()
        rows = [results.get(timeout=1800) for _ in range(len(accounts) * args.rounds)]
        for process in processes:
            process.join(timeout=60)
            if process.exitcode != 0:
                raise SystemExit(f"a {backend} worker failed (exit {process.exitcode})")
        verified = verify(home, db_url)
    per_round = []
    for round_ in range(args.rounds):
        mine = [r for r in rows if r[1] == round_]
        # Wall clock: all workers' events over the slowest worker's time. CPU: events per
        # second of the worker process's own CPU time (the S3 server, and PostgreSQL, are
        # other processes), which a loaded machine disturbs far less.
        per_round.append({
            "parse": round(sum(r[2] for r in mine) / max(r[3] for r in mine)),
            "ingest": round(sum(r[4] for r in mine) / max(r[5] for r in mine)),
            "parse_cpu": round(sum(r[2] for r in mine) / sum(r[6] for r in mine)),
            "ingest_cpu": round(sum(r[4] for r in mine) / sum(r[7] for r in mine)),
        })
    best = {key: max(r[key] for r in per_round) for key in per_round[0]}
    workers = len(accounts)
    return {
        "backend": backend,
        "workers": workers,
        "events_per_worker_per_round": rows[0][2],
        "decompress_and_parse_events_per_second": best["parse"],
        "ingest_into_ledger_events_per_second": best["ingest"],
        "ratio_to_parse_only": round(best["ingest"] / best["parse"], 3),
        "per_worker_cpu_parse_events_per_cpu_second": best["parse_cpu"],
        "per_worker_cpu_ingest_events_per_cpu_second": best["ingest_cpu"],
        "cpu_ratio_to_parse_only": round(best["ingest_cpu"] / best["parse_cpu"], 3),
        "rounds": per_round,
        "ledger_verified": verified,
    }


def verify(home: Path, db_url: str) -> str:
    """`assay ledger verify` over what the run appended."""
    import subprocess

    done = subprocess.run([str(Path(sys.executable).with_name("assay")), "ledger", "verify",
                           "--home", str(home)], env={**os.environ, "ASSAY_DB_URL": db_url},
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"ledger verify failed:\n{done.stderr}")
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20, help="log files per account")
    parser.add_argument("--events", type=int, default=1000, help="events per file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="worker processes at once")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--profile", help="write a pyinstrument profile of each worker's last "
                                          "ingestion to PROFILE.<backend>.<worker>.txt")
    args = parser.parse_args(argv)
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                       "AWS_EC2_METADATA_DISABLED": "true"})
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    s3_server = spawn.Process(target=serve_s3, args=(port, stop), daemon=True)
    s3_server.start()
    reports = []
    try:
        s3 = boto3.client("s3", region_name=REGION)
        for _ in range(200):
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.05)
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=3)
        accounts = [str(FIRST_ACCOUNT + i) for i in range(args.workers)]
        keys = {account: write_logs(s3, account, args.files, args.events, start)
                for account in accounts}
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            reports.append(run_backend(backend, endpoint, accounts, keys, args, start))
    finally:
        stop.set()
        s3_server.join(timeout=10)
    print(json.dumps(reports, indent=2))
    return reports


if __name__ == "__main__":
    main()
