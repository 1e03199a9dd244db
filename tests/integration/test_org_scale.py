"""Collection at organization scale, through the commands people run: on PostgreSQL, two
`assay serve --no-collect` API servers and two `assay worker` processes collect one assessment
over an AWS Organization of 20 member accounts x 2 regions (a moto server): API calls, a
Config rule deployed nowhere, and the organization trail's log files in S3 (one job per account,
region and day of files). One worker is killed with SIGKILL mid-run and started again. Every
expected evidence item is there exactly once, the ledger verifies, every failure is recorded, a report is built by a worker; and the
same assessment collected on SQLite by the in-process jobs gives the same evidence ids.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from collect_fixtures.trail import log_key, put_log, record
from support import AssayServer, backends, free_port, moto_aws, wait_for_port, walk

from assay.config import load_settings
from assay.jobs import InlineRunner
from assay.service import open_services
from assay.store import Store, tables

ASSAY = str(Path(sys.executable).with_name("assay"))
OWN = "123456789012"  # moto's default account: the organization's management account
REGIONS = ["us-east-1", "eu-west-1"]
MEMBERS = 20
OUTSIDER = "999999999999"
# The organization trail's bucket (in the management account) and its log-file prefix.
TRAIL_BUCKET, TRAIL_PREFIX = "org-trail", "trail"
SIGN_INS = 3  # console sign-ins in each member account and region, an hour ago

pytestmark = pytest.mark.skipif("postgresql" not in backends(),
                                reason="the scaled deployment runs on PostgreSQL")

# `assay worker`, with each shard taking a little longer, as AWS would: so that the SIGKILL
# lands while the worker holds jobs.
SLOW_WORKER = r'''
import sys, time
import assay.jobs.work as work
from assay.cli import main

original = work.Collection._sources

def sources_like_aws(self, *args, **kwargs):
    time.sleep(0.25)
    return original(self, *args, **kwargs)

work.Collection._sources = sources_like_aws
sys.argv = ["assay", "worker", *sys.argv[1:]]
main()
'''


def _client(service, region="us-east-1", credentials=None):
    return boto3.client(service, region_name=region, **(credentials or {}))


@pytest.fixture(scope="module")
def organization():
    """20 member accounts; in each, 2 IAM users and 1-3 CloudWatch Logs log groups per
    region (regional resources moto creates quickly), and per region a log file of the
    organization trail with ``SIGN_INS`` console sign-ins an hour ago."""
    with moto_aws() as url:
        organizations = _client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        s3 = _client("s3")
        s3.create_bucket(Bucket=TRAIL_BUCKET)
        hour_ago = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
        seed = {"users": set(), "log_groups": set(), "sign_ins": set()}
        members = []
        for n in range(MEMBERS):
            account = organizations.create_account(
                AccountName=f"member-{n}", Email=f"m{n}@example.com")[
                "CreateAccountStatus"]["AccountId"]
            members.append(account)
            credentials = _client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/AssayMemberRole",
                RoleSessionName="seed")["Credentials"]
            keys = {"aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials["SessionToken"]}
            iam = _client("iam", credentials=keys)
            for user in ("ops", "audit"):
                arn = iam.create_user(UserName=f"{user}-{n}")["User"]["Arn"]
                seed["users"].add(arn)
            for region in REGIONS:
                logs = _client("logs", region, keys)
                for k in range(1 + n % 3):
                    logs.create_log_group(logGroupName=f"/app/{n}/{k}")
                    seed["log_groups"].add((account, region, k))
                events = [record("signin.amazonaws.com", "ConsoleLogin",
                                 (hour_ago + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 event_id=f"signin-{account}-{region}-{i}", account=account,
                                 region=region) for i in range(SIGN_INS)]
                put_log(s3, TRAIL_BUCKET, log_key(TRAIL_PREFIX, hour_ago + dt.timedelta(minutes=5),
                                                  account=account, region=region), events)
                seed["sign_ins"].update(e["eventID"] for e in events)
        yield {"url": url, "members": members, "seed": seed}


TRAIL_URI = f"s3://{TRAIL_BUCKET}/{TRAIL_PREFIX}"


def source(kind, keyword):
    return {"sourceName": f"{kind} {keyword}", "sourceType": kind,
            "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}}


def _env(home: Path, db_url: str, url: str) -> dict:
    return {**os.environ, "ASSAY_HOME": str(home), "ASSAY_DB_URL": db_url,
            "ASSAY_WORKER_HEARTBEAT": "1", "ASSAY_COLLECT_INTERVAL": "0",
            "ASSAY_CLOUDTRAIL_S3_URI": TRAIL_URI,
            "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _assay(env, *args, timeout=120):
    return subprocess.run([ASSAY, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _evidence(store: Store) -> dict[str, str]:
    """Evidence id -> control id."""
    with store.read() as conn:
        return {row.id: row.control_id for row in conn.execute(
            sa.select(tables.evidence.c.id, tables.evidence.c.control_id))}


def test_two_servers_two_workers_one_killed(organization, tmp_path):
    server = AssayServer.start(tmp_path / "home", "postgresql", cloudtrail_s3_uri=TRAIL_URI)
    processes: list[subprocess.Popen] = []
    try:
        env = _env(server.home, server.services.settings.database_url, organization["url"])
        admin = server.client()
        controls = {
            "users": admin.create_control(name="Users are inventoried", controlMappingSources=[
                source("AWS_API_Call", "iam_ListUsers")])["control"]["id"],
            "logs": admin.create_control(name="Logs are kept", controlMappingSources=[
                source("AWS_API_Call", "logs_DescribeLogGroups")])["control"]["id"],
            "versioning": admin.create_control(name="Buckets keep versions", controlMappingSources=[
                source("AWS_Config", "S3_BUCKET_VERSIONING_ENABLED")])["control"]["id"],
            "sign_ins": admin.create_control(name="Console sign-ins", controlMappingSources=[
                source("AWS_Cloudtrail", "signin_ConsoleLogin")])["control"]["id"],
        }
        framework = admin.create_assessment_framework(name="organization", controlSets=[
            {"name": "Inventory", "controls": [{"id": c} for c in controls.values()]}])["framework"]
        # The delegated administrator is a member account (OWN is the management account).
        admin.register_organization_admin_account(adminAccountId=organization["members"][0])
        scope = [{"id": a} for a in organization["members"]] + [{"id": OUTSIDER}]
        assessment_id = admin.create_assessment(
            name="organization", frameworkId=framework["id"], scope={"awsAccounts": scope},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]
        regions = _assay(env, "assessment", "regions", assessment_id, "--region", REGIONS[0],
                         "--region", REGIONS[1])
        assert regions.returncode == 0, regions.stderr
        # Started 6 hours ago, so the trail's files of an hour ago are after its start.
        with server.services.store.write() as conn:
            conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                         .values(created_at=time.time() - 6 * 3600))

        # Snapshot the instance before collecting: the SQLite twin starts from it.
        sqlite_home = tmp_path / "sqlite"
        twin = Store(f"sqlite:///{sqlite_home / 'assay.db'}")
        twin.migrate()
        with server.services.store.read() as source_conn, twin.write() as target:
            for table in tables.metadata.sorted_tables:
                rows = [dict(r._mapping) for r in source_conn.execute(sa.select(table))]
                target.execute(table.delete())
                if rows:
                    target.execute(table.insert(), rows)
        twin.dispose()
        for name in ("signing-key.pem", "secret.key"):
            if (server.home / name).exists():
                (sqlite_home / name).write_bytes((server.home / name).read_bytes())

        # Two API servers, two workers.
        ports = [free_port(), free_port()]
        for port in ports:
            processes.append(subprocess.Popen(
                [ASSAY, "serve", "--no-collect", "--port", str(port)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for_port(port)
        script = tmp_path / "worker.py"
        script.write_text(SLOW_WORKER)

        def start_worker(name):
            return subprocess.Popen([sys.executable, str(script), "--concurrency", "3",
                                     "--name", name], env=env, stdout=subprocess.DEVNULL,
                                    stderr=open(tmp_path / f"{name}.log", "ab"))

        workers = {"one": start_worker("one"), "two": start_worker("two")}
        processes += workers.values()

        queued = _assay(env, "collect", "--assessment", assessment_id, "--queue", "--json")
        assert queued.returncode == 0, queued.stderr
        run_id = json.loads(queued.stdout)["runId"]

        def progress():
            row = server.services.collection.progress(server.services.system(), assessment_id)
            assert row["run_id"] == run_id
            return row

        def shown():
            """The same, as `assay jobs` shows it."""
            listed = _assay(env, "jobs", "--assessment", assessment_id, "--json")
            assert listed.returncode == 0, listed.stderr
            [row] = json.loads(listed.stdout)
            assert row["run_id"] == run_id
            return row

        # Kill one worker while both hold shards, then start it again.
        deadline = time.time() + 120
        while True:
            row = progress()
            with server.services.store.read() as conn:
                busy = conn.execute(sa.text(
                    "SELECT count(DISTINCT worker_id) FROM procrastinate_jobs "
                    "WHERE status = 'doing' AND task_name = 'assay.collect_shard'")).scalar()
            if row["done"] >= 10 and busy == 2:
                break
            assert row["status"] == "RUNNING" and time.time() < deadline, row
            time.sleep(0.1)
        workers["one"].send_signal(signal.SIGKILL)
        workers["one"].wait(timeout=30)
        killed_at = shown()
        assert killed_at["status"] == "RUNNING" and killed_at["queued"] + killed_at["running"] > 0
        processes.append(start_worker("one-again"))

        deadline = time.time() + 240
        while (row := progress())["status"] == "RUNNING":
            assert time.time() < deadline, row
            time.sleep(0.5)
        row = shown()
        assert row["status"] == "COMPLETE"
        # logs and config per account-region; IAM (a global service) once per account; the
        # trail's files per account-region and day since the start (one day, or two just
        # after midnight UTC).
        days = len({time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (
            server.services.collection.plan_of_run(assessment_id).created_at, time.time())})
        trail_shards = MEMBERS * len(REGIONS) * days
        assert row["total"] == MEMBERS * len(REGIONS) * 2 + MEMBERS + trail_shards
        assert row["queued"] == row["running"] == 0
        # Config's rule is deployed nowhere: every such shard failed, and said so.
        assert row["failed"] == MEMBERS * len(REGIONS)
        assert row["done"] == MEMBERS * len(REGIONS) + MEMBERS + trail_shards

        # Every expected item exactly once, read through both API servers.
        seed = organization["seed"]
        for port in ports:
            api = boto3.client("auditmanager", endpoint_url=f"http://127.0.0.1:{port}",
                               region_name="us-east-1", aws_access_key_id=server.admin.key_id,
                               aws_secret_access_key=server.admin.secret)
            items = {}
            for name in ("users", "logs", "sign_ins"):
                folders = walk(api.get_evidence_folders_by_assessment_control, "evidenceFolders",
                               assessmentId=assessment_id, controlSetId="Inventory",
                               controlId=controls[name])
                items[name] = [e for f in folders for e in walk(
                    api.get_evidence_by_evidence_folder, "evidence", assessmentId=assessment_id,
                    controlSetId="Inventory", evidenceFolderId=f["id"])]
            for name, expected in (("users", len(seed["users"])),
                                   ("logs", len(seed["log_groups"])),
                                   ("sign_ins", len(seed["sign_ins"]))):
                assert len(items[name]) == len({e["id"] for e in items[name]}) == expected
                assert {e["evidenceAwsAccountId"] for e in items[name]} == set(
                    organization["members"])
            assert Counter((e["evidenceAwsAccountId"], e["attributes"]["awsRegion"])
                           for e in items["sign_ins"]) == {
                (account, region): SIGN_INS for account in organization["members"]
                for region in REGIONS}
        evidence = _evidence(server.services.store)
        assert len(evidence) == len(seed["users"]) + len(seed["log_groups"]) + len(
            seed["sign_ins"])

        # Every failure recorded: the outsider once (setup), the rule per account and region.
        status = server.services.collection.status(server.services.system(), assessment_id)
        groups = {(g["source"], g["error_code"]): g["count"] for g in status["failure_groups"]}
        assert groups == {("setup", "AccountNotInOrganization"): 1,
                          ("AWS_Config S3_BUCKET_VERSIONING_ENABLED", "ConfigRuleNotFound"):
                          MEMBERS * len(REGIONS)}
        assert status["runs"][0]["errors"] == 1 + MEMBERS * len(REGIONS)
        shown = _assay(env, "status", "--assessment", assessment_id, "--limit", "5")
        assert "the first 5 of 41" in shown.stdout, shown.stdout
        verify = _assay(env, "ledger", "verify")
        assert verify.returncode == 0 and "ledger OK" in verify.stdout, verify.stderr
        # The killed worker's shards ran again: some shard was attempted twice.
        with server.services.store.read() as conn:
            attempts = conn.execute(sa.select(sa.func.max(tables.collection_shards.c.attempts))
                                    .where(tables.collection_shards.c.run_id == run_id)).scalar()
        assert attempts >= 2

        # Report builds are jobs too: an API server queues the build, a worker makes it.
        api = boto3.client("auditmanager", endpoint_url=f"http://127.0.0.1:{ports[1]}",
                           region_name="us-east-1", aws_access_key_id=server.admin.key_id,
                           aws_secret_access_key=server.admin.secret)
        report = api.create_assessment_report(name="organization", assessmentId=assessment_id)[
            "assessmentReport"]
        deadline = time.time() + 120
        while (state := [r for r in api.list_assessment_reports()["assessmentReports"]
                         if r["id"] == report["id"]][0])["status"] == "IN_PROGRESS":
            assert time.time() < deadline
            time.sleep(0.5)
        assert state["status"] == "COMPLETE"

        # The embedded default, same assessment, jobs in-process: the same evidence ids.
        services = open_services(load_settings(sqlite_home, db_url="",
                                               cloudtrail_s3_uri=TRAIL_URI))
        try:
            result = InlineRunner(services).run(services.system(), assessment_id)
            assert result.errors == 1 + MEMBERS * len(REGIONS)
            assert _evidence(services.store) == evidence
            assert list(services.ledger.verify()) == []
        finally:
            services.close()
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()


def test_queue_schedule_starts_one_run_per_assessment(tmp_path):
    """Procrastinate's periodic task replaces the lease: a tick starts one run per active
    assessment and queues its planner; a tick while that run is going starts nothing more."""
    from assay.jobs.queue import ensure_schema, make_app, start_due

    server = AssayServer.start(tmp_path / "home", "postgresql")
    try:
        admin = server.client()
        control = admin.create_control(name="Users", controlMappingSources=[
            source("AWS_API_Call", "iam_ListUsers")])["control"]["id"]
        framework = admin.create_assessment_framework(name="tick", controlSets=[
            {"name": "Identity", "controls": [{"id": control}]}])["framework"]
        assessment_id = admin.create_assessment(
            name="tick", frameworkId=framework["id"], scope={"awsAccounts": [{"id": OWN}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]
        services = server.services
        ensure_schema(services)
        app = make_app(services)
        with app.open():
            plan_run = app.assay_tasks["plan_run"]
            assert start_due(services, plan_run) == 1
            assert start_due(services, plan_run) == 0
            [job] = app.job_manager.list_jobs(task="assay.plan_run", status="todo")
        [run] = services.collection.running("queue")
        assert run.assessment_id == assessment_id and run.trigger == "schedule"
        assert job.task_kwargs == {"run_id": run.id, "due_only": True}
    finally:
        server.stop()


def test_queue_prunes_old_runs_on_a_periodic_job(tmp_path):
    """The workers prune old runs' shards and failures on an hourly periodic job, with the
    same service call as the embedded schedule (``CollectionService.prune``)."""
    from assay.jobs.queue import QUEUE_MAINTENANCE, make_app

    server = AssayServer.start(tmp_path / "home", "postgresql")
    try:
        services = server.services
        collection = services.collection
        runs = []
        for age in (30, 20):  # two runs of one assessment, finished 30 and 20 days ago
            run_id = collection.start_run("a-1", "schedule", "queue")
            collection.add_shards(run_id, "a-1", [
                {"shard": f"{OWN}/us-east-1/AWS_API_Call/iam", "account_id": OWN,
                 "region": "us-east-1", "source_type": "AWS_API_Call", "part": "iam",
                 "keywords": ["iam_ListUsers"]}], [])
            with services.store.write() as conn:
                conn.execute(tables.collection_runs.update()
                             .where(tables.collection_runs.c.id == run_id)
                             .values(status="COMPLETE", started_at=time.time() - age * 86400,
                                     finished_at=time.time() - age * 86400))
            runs.append(run_id)
        app = make_app(services)
        [periodic] = [p for (name, _), p in app.periodic_registry.periodic_tasks.items()
                      if name == "assay.prune_runs"]
        assert periodic.cron == "17 * * * *" and periodic.task.queue == QUEUE_MAINTENANCE
        assert app.assay_tasks["prune_runs"](timestamp=int(time.time())) == 1
        sh = tables.collection_shards
        with services.store.read() as conn:
            left = conn.execute(sa.select(sh.c.run_id)).scalars().all()
        assert left == [runs[1]]  # the latest run of the assessment stays whole
    finally:
        server.stop()


def test_a_filled_queue_gets_fresh_statistics(tmp_path):
    """After a planner fills the queue, its table is analyzed: PostgreSQL then knows how many
    jobs wait (a worker's fetch is planned on that), instead of the empty table it last saw."""
    from assay.jobs.queue import analyze_queue, ensure_schema, make_app

    server = AssayServer.start(tmp_path / "home", "postgresql")
    try:
        services = server.services
        ensure_schema(services)
        app = make_app(services)

        def estimate():
            with services.store.read() as conn:
                return conn.execute(sa.text(
                    "SELECT reltuples FROM pg_class WHERE relname = 'procrastinate_jobs'")).scalar()

        analyze_queue(services)
        assert estimate() <= 0  # analyzed empty (-1: never analyzed)
        with app.open():
            task = app.assay_tasks["build_report"]
            app.job_manager.batch_defer_jobs(
                [task.configure().make_new_job(report_id=f"r-{n}") for n in range(600)])
        analyze_queue(services)
        assert estimate() == 600
    finally:
        server.stop()
