"""CloudTrail log ingestion: events per second from gzipped trail log files in S3 into the
ledger (the whole collection path: read, decompress, parse, match, file, hash-chain, seal,
count into folders), against just reading, decompressing and parsing the same files, in the
same run, from the same S3 (a moto server on loopback).

Run: `python bench/cloudtrail.py [--files 20 --events 1000]` or `make bench`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import orjson
from moto.server import ThreadedMotoServer

ACCOUNT, REGION, BUCKET = "123456789012", "us-east-1", "bench-trail"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_logs(s3, files: int, events: int, start: dt.datetime) -> list[str]:
    keys = []
    for f in range(files):
        when = start + dt.timedelta(minutes=5 * f)
        records = [{
            "eventVersion": "1.09", "eventTime": (when + dt.timedelta(seconds=e % 300)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": REGION,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/u{e % 50}",
                             "accountId": ACCOUNT, "userName": f"u{e % 50}"},
            "sourceIPAddress": "198.51.100.7", "userAgent": "Mozilla/5.0",
            "eventID": str(uuid.uuid4()), "requestID": str(uuid.uuid4()),
            "eventType": "AwsConsoleSignIn", "recipientAccountId": ACCOUNT,
            "responseElements": {"ConsoleLogin": "Success"},
        } for e in range(events)]
        key = (f"trail/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{when:%Y/%m/%d}/"
               f"{ACCOUNT}_CloudTrail_{REGION}_{when:%Y%m%dT%H%M}Z_{f:016d}.json.gz")
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))
        keys.append(key)
    return keys


def parse_only(s3, keys: list[str]) -> tuple[int, float]:
    start, count = time.perf_counter(), 0
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        with gzip.GzipFile(fileobj=body) as stream:
            count += len(orjson.loads(stream.read())["Records"])
    return count, time.perf_counter() - start


def ingest(endpoint: str, files: int, events: int, start: dt.datetime) -> tuple[int, float]:
    from assay.jobs import InlineRunner
    from assay.config import load_settings
    from assay.service import open_services

    home = Path(tempfile.mkdtemp(prefix="assay-bench-ct-"))
    services = open_services(load_settings(home, cloudtrail_s3_uri=f"s3://{BUCKET}/trail",
                                           collect_workers=1))
    caller = services.system()
    owner = services.keys.create("bench-owner", "process-owner").key.arn
    control = services.controls.create(caller, {"name": "sign-ins", "controlMappingSources": [{
        "sourceName": "ConsoleLogin", "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "signin_ConsoleLogin"}}]})
    framework = services.frameworks.create(caller, {"name": "bench", "controlSets": [
        {"name": "Set", "controls": [{"id": control["id"]}]}]})
    assessment = services.assessments.create(caller, {
        "name": "bench", "frameworkId": framework["id"], "scope": {"awsAccounts": [{"id": ACCOUNT}]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": owner}],
        "assessmentReportsDestination": {}})["assessment"]["metadata"]["id"]
    from assay.store import tables
    with services.store.write() as conn:  # the files predate the run: start the audit before them
        conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment)
                     .values(created_at=start.timestamp() - 60))
    began = time.perf_counter()
    result = InlineRunner(services).run(caller, assessment)
    elapsed = time.perf_counter() - began
    assert result.errors == 0, result.failures
    services.close()
    return result.added, elapsed


def main(argv: list[str] | None = None) -> dict:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's request log
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args(argv)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION})
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=3)
        keys = write_logs(s3, args.files, args.events, start)
        parsed, parse_seconds = parse_only(s3, keys)
        ingested, ingest_seconds = ingest(endpoint, args.files, args.events, start)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    report = {
        "events": parsed,
        "decompress_and_parse_events_per_second": round(parsed / parse_seconds),
        "ingest_into_ledger_events_per_second": round(ingested / ingest_seconds),
        "ratio_to_parse_only": round((ingested / ingest_seconds) / (parsed / parse_seconds), 3),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
