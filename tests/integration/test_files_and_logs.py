"""Issue 18, files and logs: under umask 022, `assay serve` keeps its home 0700 and its SQLite
database (with -wal and -shm) 0600; bearer links and failing statements' parameters never
reach its logs."""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
import sqlalchemy as sa
from botocore.config import Config

from assay.store import Store
from support import PostgresDatabase, backends, free_port, wait_for_port

ASSAY = str(Path(sys.executable).parent / "assay")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module", params=backends())
def served(request, tmp_path_factory):
    home, port = tmp_path_factory.mktemp("files") / "home", free_port()
    env = {**os.environ, "ASSAY_COLLECT_INTERVAL": "0", "ASSAY_LOG_LEVEL": "info"}
    database = None
    if request.param == "postgresql":
        database = PostgresDatabase()
        env["ASSAY_DB_URL"] = database.url
    log = tmp_path_factory.mktemp("files-log") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen([ASSAY, "serve", "--home", str(home), "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: os.umask(0o022))
    try:
        wait_for_port(port)
        yield request.param, home, f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=30)
        if database is not None:
            database.drop()


def client(home: Path, url: str):
    credentials = configparser.ConfigParser()
    credentials.read(home / "credentials")
    section = credentials["assay"]
    return boto3.client("auditmanager", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=section["aws_access_key_id"],
                        aws_secret_access_key=section["aws_secret_access_key"],
                        config=Config(retries={"total_max_attempts": 1}))


def test_home_is_0700_and_the_database_0600(served):
    backend, home, url, _ = served
    client(home, url).get_account_status()  # the database is open and written
    assert mode(home) == 0o700
    for name in ("secret.key", "signing-key.pem", "credentials"):
        assert mode(home / name) == 0o600, name
    if backend == "sqlite":
        for name in ("assay.db", "assay.db-wal", "assay.db-shm"):
            assert (home / name).exists(), name
            assert mode(home / name) == 0o600, (name, oct(mode(home / name)))


def test_bearer_links_are_not_logged(served):
    _, home, url, log = served
    am = client(home, url)
    link = am.get_evidence_file_upload_url(fileName="diagram.png")
    signature = parse_qs(urlsplit(link["uploadUrl"]).query)["signature"][0]
    assert httpx.put(link["uploadUrl"], content=b"diagram").status_code == 200
    deadline = time.time() + 10
    while "/_assay/uploads/" not in log.read_text() and time.time() < deadline:
        time.sleep(0.1)
    written = log.read_text()
    assert "/_assay/uploads/" in written  # the request is logged ...
    assert signature not in written       # ... without the credential
    assert "signature=REDACTED" in written


def test_failing_statements_keep_their_parameters_out_of_errors(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (:id, :body)"),
                         {"id": 1, "body": "confidential salary figures"})
    assert "confidential salary figures" not in str(caught.value)
    assert mode(tmp_path / "x.db") == 0o600
    store.dispose()
