"""Test harness: a real Assay server on an ephemeral port, real clients, real databases."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson
import psycopg
import uvicorn
from botocore.config import Config

from assay.api import wire
from assay.api.app import SERVER_OPTIONS, create_app
from assay.config import load_settings
from assay.service import Services, open_services

PG_ADMIN_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Output members whose model pattern Audit Manager itself does not honour: the settings' SNS
# topic is returned as the ARN it was given, and a report's presigned URL (AWS's too) has a
# port and a query string that the URL pattern does not allow.
PATTERN_EXEMPT = {"settings.snsTopic", "preSignedUrl.link"}
# The S3 buckets the tests' operator allows Assay to use on callers' behalf (s3_buckets;
# README: Security model). Any other bucket is refused.
TEST_BUCKETS = "audit-reports,audit-uploads,reports,no-such-report-bucket,encrypted-reports"


def backends() -> list[str]:
    return [b.strip() for b in os.environ.get("ASSAY_TEST_BACKENDS", "sqlite,postgresql").split(",")
            if b.strip()]


class PostgresDatabase:
    """A throw-away database on the test PostgreSQL server: empty, or (``migrated``) a copy of
    one this process migrated to the newest revision (see ``_migrated_template``)."""

    def __init__(self, migrated: bool = False):
        self.name = f"assay_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"{template}')
        self.url = _database_url(self.name)

    def drop(self) -> None:
        _drop_database(self.name)


def _database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def _drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_TEMPLATE: list[str] = []


def _migrated_template() -> str:
    """The name of a database migrated to the newest revision, made once per process (each
    xdist worker has its own; conftest drops it when the session ends). PostgreSQL copies it
    file by file: a new instance's database in about 0.3 s instead of about 1 s of migrations
    (and the server's CPU for them), some 80 times a run. Nothing stays connected to it, as
    CREATE DATABASE ... TEMPLATE requires. The migrations themselves are tested from empty
    databases (test_migrations, test_ledger_upgrade)."""
    if not _TEMPLATE:
        from assay.store import Store

        name = f"assay_test_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        store = Store(_database_url(name))
        try:
            store.migrate()
        except BaseException:
            store.dispose()
            _drop_database(name)
            raise
        store.dispose()
        _TEMPLATE.append(name)
    return _TEMPLATE[0]


def drop_migrated_template() -> None:
    """Drop this process's migrated template database, if it made one."""
    while _TEMPLATE:
        _drop_database(_TEMPLATE.pop())


def database_url(backend: str, home: Path, migrated: bool = False) -> tuple[str, Any]:
    """(SQLAlchemy URL, PostgresDatabase to drop or None) of a new database on ``backend``:
    SQLite in ``home``, or a throw-away PostgreSQL database (``migrated``: already at the
    newest revision, for tests that open an instance rather than test its migrations)."""
    if backend == "sqlite":
        return f"sqlite:///{home / 'assay.db'}", None
    database = PostgresDatabase(migrated)
    return database.url, database


@dataclass
class Identity:
    key_id: str
    secret: str
    arn: str
    role: str
    name: str


@dataclass
class AssayServer:
    """One running instance: its services, URL and an admin identity."""

    services: Services
    url: str
    home: Path
    backend: str
    admin: Identity
    _server: uvicorn.Server = field(repr=False, default=None)
    _thread: threading.Thread = field(repr=False, default=None)
    _database: Any = field(repr=False, default=None)

    @classmethod
    def start(cls, home: Path, backend: str, **settings) -> "AssayServer":
        # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY, and keep-alive responses are
        # not held back by Nagle's algorithm.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # A given ``db_url`` is the caller's database (kept at stop); else a fresh one.
        db_url, database = ((settings.pop("db_url"), None) if "db_url" in settings
                            else database_url(backend, home, migrated=True))
        settings.setdefault("public_url", f"http://127.0.0.1:{port}")
        config = load_settings(home, db_url=db_url, **settings)
        services = open_services(config)
        new = services.keys.create("admin", "admin")
        server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning",
                                               lifespan="off", **SERVER_OPTIONS))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.time() + 10
        while not server.started and time.time() < deadline:
            time.sleep(0.01)
        admin = Identity(new.key.access_key_id, new.secret_access_key, new.key.arn, "admin", "admin")
        return cls(services, f"http://127.0.0.1:{port}", home, backend, admin, server, thread,
                   database)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.services.close()
        if self._database is not None:
            self._database.drop()

    def identity(self, role: str, name: str | None = None) -> Identity:
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        new = self.services.keys.create(name, role)
        return Identity(new.key.access_key_id, new.secret_access_key, new.key.arn, role, name)

    def client(self, identity: Identity | None = None, region: str = "us-east-1", strict=True,
               validate=True):
        """A boto3 client. ``validate=False`` turns botocore's own parameter validation off, so
        bad input reaches the server and its validation is what the test sees."""
        identity = identity or self.admin
        client = api_client(self.url, identity.key_id, identity.secret, region, validate)
        if strict:
            client.meta.events.register("before-parse.auditmanager.*", check_response_shape)
        return client


def check_response_shape(operation_model, response_dict, **_) -> None:
    """Every successful response must match the operation's output shape exactly: no member
    the model lacks (but Assay's own, `wire.ASSAY_MEMBERS`), every value of the member's type,
    every constraint met."""
    if response_dict["status_code"] >= 300:
        error_type = response_dict["headers"].get("x-amzn-ErrorType")
        assert error_type, "error responses carry x-amzn-ErrorType"
        assert "message" in orjson.loads(response_dict["body"])
        return
    shape = operation_model.output_shape
    document = orjson.loads(response_dict["body"] or b"{}")
    if shape is None:
        assert document == {}, document
        return
    for member in wire.ASSAY_MEMBERS.get(shape.name, ()):  # Assay's own, which SDKs skip
        document.pop(member, None)
    problems: list[dict] = []
    wire.validate(shape, document, "", problems)
    problems = [p for p in problems if p["name"] not in PATTERN_EXEMPT]
    assert not problems, f"{operation_model.name} response does not match its shape: {problems}"


def walk(call, key: str, page_size: int | None = None, **kwargs) -> list:
    """Every item of a listing, following nextToken (botocore has no auditmanager paginators)."""
    items, token = [], None
    while True:
        if token:
            kwargs["nextToken"] = token
        if page_size:
            kwargs["maxResults"] = page_size
        page = call(**kwargs)
        items += page[key]
        token = page.get("nextToken")
        if not token:
            return items


def one_control_assessment(server: "AssayServer", name: str, sources: list[dict],
                           destination: dict | None = None,
                           assessment_name: str | None = None) -> tuple[str, str]:
    """(assessment id, control id) of a new assessment (``assessment_name``, default ``name``)
    of one custom control ``name`` with these mapping sources, in control set "Set", over
    account 111122223333, owned by the server's admin."""
    admin = server.client()
    control = admin.create_control(name=name, controlMappingSources=sources)["control"]
    framework = admin.create_assessment_framework(name=f"{name} framework", controlSets=[
        {"name": "Set", "controls": [{"id": control["id"]}]}])["framework"]
    assessment = admin.create_assessment(
        name=assessment_name or name, frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination=destination or {})["assessment"]
    return assessment["metadata"]["id"], control["id"]


def run(*args, env=None, check=True) -> subprocess.CompletedProcess:
    """A command as a user types it (``assay``, ``aws``), with ``env`` over this environment;
    ``check``: it must succeed (its stderr is the failure message)."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    if check:
        assert done.returncode == 0, done.stderr
    return done


def assay_in_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``assay *args`` run in this process (typer's CliRunner) with ``env`` over this
    environment: the same command code, exit code, stdout and stderr as `run("assay", ...)`
    without a process of its own, which costs about a second of CPU, mostly imports. For tests
    that call one command many times; each such file still runs it once as a user types it.
    An exception the command does not turn into an exit status is raised here."""
    from typer.testing import CliRunner

    from assay.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["assay", *args], result.exit_code, result.stdout,
                                       result.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_aws(**endpoint_variables: bool):
    """A moto server on loopback, and the standard boto3 configuration pointed at it:
    dummy credentials, us-east-1, and ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_<SERVICE>``
    for the services named (``moto_aws(S3=True)``; none named: every service)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its state per process, across servers: every test module starts from none
    # (another module's organization would make CreateOrganization fail here).
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"),
                           timeout=10).close()
    variables = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}
    if endpoint_variables:
        variables.update({f"AWS_ENDPOINT_URL_{name.upper()}": url for name in endpoint_variables})
    else:
        variables["AWS_ENDPOINT_URL"] = url
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def wait_for_port(port: int, seconds: float = 60) -> None:
    """Until something accepts connections on 127.0.0.1:port (a server started elsewhere)."""
    deadline = time.time() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def append_config_checks(services: Services, assessment_id: str, control_set_id: str,
                         control_id: str, results: list[str], label: str) -> None:
    """Append AWS Config compliance checks to the ledger as the collectors would, one per
    result (``"COMPLIANT"`` / ``"NON_COMPLIANT"``), for account 111122223333, today."""
    from assay.service.ledger import EvidenceDraft, day_of

    now = time.time()
    drafts = [EvidenceDraft(assessment_id, control_set_id, control_id, day_of(now),
                            f"{label}-{i}", {
        "dataSource": "AWS Config", "eventSource": "config.amazonaws.com",
        "eventName": "IAM_PASSWORD_POLICY", "evidenceByType": "Compliance check",
        "complianceCheck": result, "time": now, "evidenceAwsAccountId": "111122223333",
        "awsAccountId": services.account_id, "sourceType": "AWS_Config",
        "region": "us-east-1", "payload": {"i": i}}) for i, result in enumerate(results)]
    with services.store.write() as conn:
        services.ledger.append(conn, drafts, author="assay")


def signed_request(url: str, identity: Identity, method: str, path: str, body: bytes = b"",
                   headers: dict | None = None, client=None, region: str = "us-east-1"):
    """Send exactly ``body`` (any bytes, even what boto3 would refuse to serialize) to
    ``path``, signed with SigV4 for Audit Manager as ``identity``. Returns the httpx response."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url + path, data=body,
                         headers={"content-type": "application/json", **(headers or {})})
    SigV4Auth(Credentials(identity.key_id, identity.secret), "auditmanager",
              region).add_auth(request)
    prepared = dict(request.prepare().headers)
    if client is not None:
        return client.request(method, httpx.URL(url + path), content=body, headers=prepared)
    return httpx.request(method, httpx.URL(url + path), content=body, headers=prepared)


MANUAL_SOURCE = [{"sourceName": "m", "sourceSetUpOption": "Procedural_Controls_Mapping",
                  "sourceType": "MANUAL"}]


def small_assessment(server: AssayServer, prefix: str, owner_arn: str | None = None,
                     **assessment: Any) -> dict[str, dict]:
    """A custom control (manual source) in a one-set framework ("Set") and an assessment of
    it owned by ``owner_arn`` (the admin by default): {"control", "framework", "assessment"}."""
    admin = server.client()
    suffix = str(time.time_ns())
    control = admin.create_control(name=f"{prefix}-{suffix}",
                                   controlMappingSources=MANUAL_SOURCE)["control"]
    framework = admin.create_assessment_framework(name=f"{prefix}f-{suffix}", controlSets=[
        {"name": "Set", "controls": [{"id": control["id"]}]}])["framework"]
    assessment.setdefault("assessmentReportsDestination", {})
    created = admin.create_assessment(
        name=f"{prefix}a-{suffix}", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner_arn or server.admin.arn}],
        **assessment)["assessment"]
    return {"control": control, "framework": framework, "assessment": created}

@contextlib.contextmanager
def assay_serve(home: Path, db_url: str, workers: int = 1):
    """`assay serve` in its own process (``workers`` server processes) on ``db_url``, the
    collection schedule off; yields its base URL once it answers HTTP."""
    import subprocess
    import sys

    import httpx

    port = free_port()
    env = {**os.environ, "ASSAY_DB_URL": db_url, "ASSAY_COLLECT_INTERVAL": "0",
           "ASSAY_LOG_LEVEL": "warning"}
    # The server's log goes to a file beside the home, printed when the block fails: a 500's
    # request id is only worth something with the traceback logged under it.
    log = home.parent / f"serve-{port}.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("assay")), "serve", "--home", str(home),
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"assay serve exited: {log.read_text()}")
            try:
                if httpx.get(f"{url}/console/sign-in", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError("assay serve did not answer in 90 s")
            time.sleep(0.1)
        yield url
    except BaseException:
        print(f"--- assay serve's log ({log}) ---\n{log.read_text()}")
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api_client(url: str, key_id: str, secret: str, region: str = "us-east-1",
               validate: bool = True):
    """A boto3 Audit Manager client: no retries, so every refusal is seen. ``validate=False``
    turns botocore's own parameter validation off."""
    return boto3.client(
        "auditmanager", endpoint_url=url, region_name=region, aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate))
