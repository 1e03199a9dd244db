"""Collection at organization scale: shards per minute with 1 and with 2 `assay worker`
processes on one PostgreSQL, for a synthetic AWS Organization (default 200 member accounts x 4
regions, two API-call sources each).

AWS is a stub endpoint in its own process that answers STS (GetCallerIdentity, AssumeRole),
CloudWatch Logs DescribeLogGroups and KMS ListKeys from generated data, rendered once up front
and served by a minimal asyncio HTTP/1.1 server, so the benchmark measures Assay rather than an
emulator or its own harness. Each round collects its own assessment (same scope) with fresh
evidence, through the real path: a planner job, one job per shard, the ledger. Before each
round the database is vacuumed and analyzed, so both start from the same state of its tables.
The two rounds differ in the number of workers only.

Reports shards/minute per round, the speed-up of 2 workers over 1 (the baseline, same run),
jobs lost (shards not finished, procrastinate jobs failed) and duplicates (evidence rows against
the generated data; items a round counted twice). On a machine whose cores the workers share
with PostgreSQL and the stub, the speed-up is bounded by about 2W / (W + P + S), W, P and S being
the CPU time per shard of the workers, of PostgreSQL (the benchmark database's backends and the
server's background processes) and of the stub: each round reports them (``ms_per_shard``, from
/proc/<pid>/stat utime + stime), with the load average, the driver's own CPU (D), and what the
database's active backends ran and waited on (pg_stat_activity, sampled twice a second).

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
from pathlib import Path

import world

OWN = "100000000000"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
KEYWORDS = ["logs_DescribeLogGroups", "kms_ListKeys"]


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """utime + stime of a live process in seconds (with ``reaped``, also those of its children
    that have exited and been waited for: cutime + cstime), from /proc/<pid>/stat; 0.0 when the
    process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (proc(5)).
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


class CpuMeter:
    """CPU seconds a round costs, per party: the workers, the PostgreSQL backends serving the
    benchmark's database (sampled from pg_stat_activity, so other databases on a shared server
    are not counted) plus the server's own background processes (WAL writer, checkpointer...,
    shared with any other database), the stub endpoint, and this driver process. Also samples
    what the benchmark database's backends wait on (pg_stat_activity's wait events)."""

    def __init__(self, conninfo: str, database: str, stub_pid: int, worker_pids: list[int]):
        import psycopg

        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.database = database
        self.stub_pid = stub_pid
        self.worker_pids = worker_pids
        self.backends: dict[int, list[float]] = {}  # pid -> [first seen, last seen]
        self.background = self._background_pids()
        self.waits: dict[str, int] = {}
        self.queries: dict[str, int] = {}  # what active backends run, sampled
        self.samples = 0
        self.start = self._fixed()
        self._initial = True
        self.sample()
        self._initial = False

    def _background_pids(self) -> list[int]:
        return [pid for (pid,) in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'")]

    def _fixed(self) -> dict[str, float]:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"workers": sum(cpu_seconds(p) for p in self.worker_pids),
                "stub": cpu_seconds(self.stub_pid),
                "pg_background": sum(cpu_seconds(p) for p in self.background),
                "driver": usage.ru_utime + usage.ru_stime}

    def sample(self) -> None:
        """Read the CPU of every backend of the benchmark database and what each waits on."""
        rows = self.conn.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 60) FROM "
            "pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,)).fetchall()
        self.samples += 1
        for pid, state, wait_type, wait_event, query in rows:
            seconds = cpu_seconds(pid)
            # A backend that connects during the round counts from its start.
            seen = self.backends.setdefault(pid, [seconds if self._initial else 0.0, seconds])
            seen[1] = max(seen[1], seconds)
            if state == "active":
                key = f"{wait_type}:{wait_event}" if wait_type else "running"
                self.waits[key] = self.waits.get(key, 0) + 1
                text = " ".join(query.split())
                self.queries[text] = self.queries.get(text, 0) + 1

    def result(self, shards: int) -> dict:
        """CPU seconds per shard of each party (W workers, P PostgreSQL, S stub, D driver)."""
        self.sample()
        end = self._fixed()
        spent = {name: end[name] - self.start[name] for name in end}
        spent["pg_backends"] = sum(last - first for first, last in self.backends.values())
        self.conn.close()
        per = {name: round(value / max(1, shards) * 1000, 3) for name, value in spent.items()}
        return {"cpu_seconds": {k: round(v, 2) for k, v in spent.items()},
                "ms_per_shard": {"W": per["workers"],
                                 "P": round(per["pg_backends"] + per["pg_background"], 3),
                                 "S": per["stub"], "D": per["driver"],
                                 "P_backends": per["pg_backends"],
                                 "P_background": per["pg_background"]},
                "waits": dict(sorted(self.waits.items(), key=lambda kv: -kv[1])[:8]),
                "active_queries": dict(sorted(self.queries.items(), key=lambda kv: -kv[1])[:6]),
                "wait_samples": self.samples}


def members(count: int) -> list[str]:
    return [str(200000000000 + n) for n in range(count)]


def resources(account: str, region: str, kind: str) -> int:
    """How many log groups (1-5) or KMS keys (1-3) the generated account has in a region."""
    digest = int(hashlib.sha256(f"{account}/{region}/{kind}".encode()).hexdigest(), 16)
    return 1 + digest % (5 if kind == "logs" else 3)


def _response(body: str, content_type: str = "application/x-amz-json-1.1",
              status: str = "200 OK") -> bytes:
    data = body.encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _log_groups(account: str, region: str) -> bytes:
    groups = [{"logGroupName": f"/app/{n}", "creationTime": 1700000000000,
               "arn": f"arn:aws:logs:{region}:{account}:log-group:/app/{n}:*", "storedBytes": 0}
              for n in range(resources(account, region, "logs"))]
    return _response(json.dumps({"logGroups": groups}))


def _keys(account: str, region: str) -> bytes:
    keys = [{"KeyId": f"{account}-{region}-{n}",
             "KeyArn": f"arn:aws:kms:{region}:{account}:key/{account}-{region}-{n}"}
            for n in range(resources(account, region, "kms"))]
    return _response(json.dumps({"Keys": keys, "Truncated": False}))


def _assumed(member: str) -> bytes:
    return _response(
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<AssumeRoleResult><Credentials><AccessKeyId>ASIA{member}</AccessKeyId>"
        "<SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>"
        "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>"
        f"<AssumedRoleId>AROABENCH:assay</AssumedRoleId><Arn>arn:aws:sts::{member}:"
        "assumed-role/AssayMemberRole/assay-collection</Arn></AssumedRoleUser>"
        "</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId>"
        "</ResponseMetadata></AssumeRoleResponse>", "text/xml")


_CALLER = _response(
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    f"<GetCallerIdentityResult><Arn>arn:aws:iam::{OWN}:user/bench</Arn>"
    f"<UserId>AIDABENCH</UserId><Account>{OWN}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>", "text/xml")
_ROLE = re.compile(rb"RoleArn=arn%3Aaws%3Aiam%3A%3A(\d{12})%3A")


class StubAws:
    """The stub AWS endpoint: every answer is rendered once, up front (``accounts`` x
    ``regions``), and a request is parsed only as far as choosing the answer needs: the
    access key and region of its SigV4 scope (the key of an assumed role names its account),
    X-Amz-Target for the JSON services, Action and RoleArn of the STS query body. HTTP/1.1
    keep-alive, Content-Length bodies (what botocore sends). It is the benchmark's harness:
    correct answers at as little CPU as possible, so the rounds measure Assay."""

    def __init__(self, accounts: list[str], regions: list[str]):
        self.answers: dict[tuple[bytes, bytes, bytes], bytes] = {}
        for account in accounts:
            for region in regions:
                self.answers[(account.encode(), region.encode(), b"logs")] = \
                    _log_groups(account, region)
                self.answers[(account.encode(), region.encode(), b"kms")] = _keys(account, region)
        self.assumed = {account.encode(): _assumed(account) for account in accounts}

    def answer(self, head: bytes, body: bytes) -> bytes:
        """The response to one request (``head``: its lower-cased request line and headers)."""
        scope = head.find(b"credential=")
        key_id, _, region = head[scope + 11:head.find(b"/aws4_request", scope)].split(b"/", 3)[:3]
        account = key_id[4:] if key_id.startswith(b"asia") else OWN.encode()
        target = head.find(b"x-amz-target: ")
        if target >= 0:
            operation = head[target:head.find(b"\r\n", target)]
            kind = b"logs" if operation.endswith(b"describeloggroups") else \
                b"kms" if operation.endswith(b"listkeys") else b""
            found = self.answers.get((account, region, kind))
            if found is None and kind:
                render = _log_groups if kind == b"logs" else _keys
                found = self.answers[(account, region, kind)] = render(account.decode(),
                                                                       region.decode())
            if found is not None:
                return found
        elif body.startswith(b"Action=GetCallerIdentity"):
            return _CALLER
        elif body.startswith(b"Action=AssumeRole"):
            member = _ROLE.search(body).group(1)
            return self.assumed.get(member) or _assumed(member.decode())
        return _response(json.dumps({"__type": "UnknownOperationException",
                                     "message": head.split(b"\r\n", 1)[0].decode()}),
                         status="400 Bad Request")


def serve_stub(port: int, accounts: list[str], regions: list[str]) -> None:
    """Serve ``StubAws`` on 127.0.0.1:``port`` (one thread, asyncio) until terminated."""
    import asyncio

    stub = StubAws(accounts, regions)

    class Connection(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end + 2].lower()  # every header line ends with CRLF
                at = head.find(b"content-length: ")
                length = int(head[at + 16:head.find(b"\r\n", at)]) if at >= 0 else 0
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4:end + 4 + length]
                self.buffer = self.buffer[end + 4 + length:]
                self.transport.write(stub.answer(head, body))

    async def main():
        server = await asyncio.get_running_loop().create_server(Connection, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


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
             deadline: float, stub_pid: int, db_url: str) -> dict:
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
        meter = CpuMeter(db_url, db_url.rsplit("/", 1)[1], stub_pid,
                         [p.pid for p in processes])
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        run_id = deferrer.collect(services.system(), assessment)
        # The harness's own polling is kept cheap (it shares the cores): the run's status row
        # four times a second, what the database's backends do twice a second.
        polls = 0
        while True:
            with services.store.read_one() as conn:
                status = conn.execute(sa.select(tables.collection_runs.c.status).where(
                    tables.collection_runs.c.id == run_id)).scalar_one()
            if status != "RUNNING" or time.time() > deadline:
                break
            polls += 1
            if polls % 2 == 0:
                meter.sample()
            time.sleep(0.25)
        elapsed = time.perf_counter() - began
        progress = services.collection.progress(services.system(), assessment)
        cpu = meter.result(progress["total"])
        load_after = os.getloadavg()[0]
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
            "errors": progress["errors"], "evidence": rows, "counted_twice": run.duplicates,
            "load_average": [round(load_before, 2), round(load_after, 2)], **cpu}


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
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    port = free_port()
    stub = multiprocessing.Process(target=serve_stub, args=(port, accounts, regions), daemon=True)
    stub.start()
    home = Path(tempfile.mkdtemp(prefix="assay-bench-org-"))
    with world.scratch_database("postgresql", home) as db_url:
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
                # Both rounds start from the same state of the tables: vacuumed, with statistics
                # (the first round would otherwise meet a never-analyzed queue table).
                with psycopg.connect(db_url, autocommit=True) as conn:
                    conn.execute("VACUUM (ANALYZE)")
                result = round_of(services, assessment, workers, args.concurrency, env,
                                  time.time() + args.limit, stub.pid, db_url)
                result["duplicates"] = result["evidence"] - expected + result["counted_twice"]
                rounds.append(result)
        finally:
            services.close()
            stub.terminate()
    report = {"started": started, "accounts": args.accounts, "regions": len(regions), "sources": len(KEYWORDS),
              "expected_evidence": expected, "rounds": rounds,
              "speed_up": round(rounds[1]["shards_per_minute"] / rounds[0]["shards_per_minute"], 2),
              "jobs_lost": sum(r["jobs_lost"] for r in rounds),
              "duplicates": sum(r["duplicates"] for r in rounds)}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
