"""Where a worker's CPU goes per CloudTrail event, stage by stage: the ablation behind the
"cloudtrail" section of bench/README.md.

In one thread of one process, with the log files in memory (no S3 server, no runner, no
threads), the same files as ``bench/cloudtrail.py`` go through ever more of the collection
path, each stage into a fresh assessment, and each stage's best round counts (thread CPU time
per event):

- ``parse``: decompress and parse (the benchmark's baseline, less S3);
- ``+observe``: the trail reader's matching and an ``Observation`` per event;
- ``+file``: the collection's filing (records, drafts and their ids), appending nothing;
- ``+prepare``: and ``Ledger.prepare`` (duplicate check, canonical JSON, SHA-256, chain);
- ``+append``: and the whole append (rows, folder counters, link, seal, commit).

It reaches into the collection's internals (``Collection._file``, ``TrailLogReader._read_file``)
on purpose: those are the stages. Run: `python bench/cloudtrail_stages.py [--files 10
--rounds 3 --backends sqlite,postgresql]` or `python bench/run.py cloudtrail_stages`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import tempfile
import time
from pathlib import Path

import cloudtrail as ct
import world


class MemoryS3:
    """put_object and get_object over a dict: the files without a server."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803 - boto3's
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 - boto3's names
        return {"Body": io.BytesIO(self.objects[Key])}


def run_backend(backend: str, files: int, rounds: int) -> dict[str, float]:
    from assay.collect.base import Target
    from assay.collect.cloudtrail import TrailLogReader
    from assay.config import load_settings
    from assay.jobs.work import Collection, _Tally
    from assay.service import open_services

    s3 = MemoryS3()
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=3)
    account = str(ct.FIRST_ACCOUNT)
    keys = ct.write_logs(s3, account, files, 1000, start)
    events = files * 1000
    home = Path(tempfile.mkdtemp(prefix=f"assay-bench-stages-{backend}-"))
    results: dict[str, float] = {}
    with world.scratch_database(backend, home) as db_url:
        services = open_services(load_settings(home, db_url=db_url, collect_workers=1))
        collection = Collection(services)
        collection.sessions.own = lambda: (None, account)  # no STS: the account is known
        target = Target(account, ct.REGION, lambda name: None)

        def reader(plan) -> TrailLogReader:
            return TrailLogReader(target, [r.keyword for r in plan.sources],
                                  s3_uri=f"s3://{ct.BUCKET}/trail", since=plan.created_at,
                                  now=time.time(), s3_client=s3)

        def parse(plan) -> None:
            ct.parse_only(keys, s3)

        def observe(plan) -> None:
            trail = reader(plan)
            for key in keys:
                for _ in trail._read_file(key):
                    pass

        def filing(append):
            def run(plan) -> None:
                requests = {r.keyword: r for r in plan.sources}
                trail = reader(plan)
                tally = _Tally(counts={}, failures=[], states=[])
                collection._append = append
                pairs = ((requests[keyword], observation) for key in keys
                         for keyword, observation in trail._read_file(key))
                collection._file(plan, pairs, tally, None, time.time())
                if tally.pending:
                    append(tally.pending, tally)
            return run

        whole = Collection._append.__get__(collection)
        stages = [("parse", parse), ("+observe", observe),
                  ("+file", filing(lambda batch, tally: None)),
                  ("+prepare", filing(lambda batch, tally: services.ledger.prepare(batch))),
                  ("+append", filing(whole))]
        for name, stage in stages:
            best = None
            for round_ in range(rounds):
                assessment = ct.new_assessment(services, account, start,
                                               f"{len(results)}-{round_}-{time.time_ns()}")
                plan = services.collection.plan_of_run(assessment)
                gc.collect()
                cpu = time.thread_time()
                stage(plan)
                spent = time.thread_time() - cpu
                best = spent if best is None else min(best, spent)
            results[name] = round(best / events * 1e6, 2)
        services.close()
    results["ratio"] = round(results["parse"] / results["+append"], 3)
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10, help="log files of 1,000 events")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    reports = [{"backend": backend, "us_per_event": run_backend(backend, args.files, args.rounds)}
               for backend in [b.strip() for b in args.backends.split(",") if b.strip()]]
    print(json.dumps(reports, indent=2))
    return reports


if __name__ == "__main__":
    main()
