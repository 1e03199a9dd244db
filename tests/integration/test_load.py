"""The API under concurrent load, through `assay serve` processes and boto3: 64 writers at once
lose nothing and meet no error, and a key revoked through one server is refused by every other
server process sharing the database on its very next request (servers cache keys)."""

from __future__ import annotations

import html
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from support import api_client, assay_serve, backends, database_url, walk

from assay.config import load_settings
from assay.service import open_services

WRITERS = 64
MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


@pytest.fixture(params=backends())
def instance(request, tmp_path):
    """A home and an empty database (``backend``), with keys made by the operator on the host."""
    home = tmp_path / "home"
    db_url, database = database_url(request.param, home)
    services = open_services(load_settings(home, db_url=db_url))
    yield home, db_url, services
    services.close()
    if database is not None:
        database.drop()


def test_64_concurrent_writers_lose_nothing(instance):
    home, db_url, services = instance
    admin = services.keys.create("admin", "admin")
    caller = services.keys.caller(admin.key, "us-east-1")
    # An assessment of 8 controls: every writer reviews one, 8 writers share each.
    controls = [services.controls.create(caller, {"name": f"reviewed {i}",
                                                   "controlMappingSources": MANUAL})["id"]
                for i in range(8)]
    framework = services.frameworks.create(caller, {"name": "load", "controlSets": [
        {"name": "Set A", "controls": [{"id": c} for c in controls]}]})
    assessment = services.assessments.create(caller, {
        "name": "load", "frameworkId": framework["id"],
        "scope": {"awsAccounts": [{"id": "111122223333"}]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": admin.key.arn}],
        "assessmentReportsDestination": {}})["assessment"]["metadata"]["id"]

    with assay_serve(home, db_url) as url:
        clients = [api_client(url, admin.key.access_key_id, admin.secret_access_key)
                   for _ in range(WRITERS)]
        start = threading.Barrier(WRITERS)

        def writer(i: int) -> dict:
            """Create two controls, rename one, delete the other, comment on and set the
            status of an assessment control; return what the server acknowledged."""
            client, done = clients[i], {}
            start.wait()
            try:
                kept = client.create_control(name=f"writer {i} kept",
                                             controlMappingSources=MANUAL)["control"]["id"]
                gone = client.create_control(name=f"writer {i} gone",
                                             controlMappingSources=MANUAL)["control"]["id"]
                done["created"] = [kept, gone]
                client.update_control(controlId=kept, name=f"writer {i} renamed",
                                      description=f"updated by writer {i}",
                                      controlMappingSources=MANUAL)
                done["renamed"] = kept
                client.delete_control(controlId=gone)
                done["deleted"] = gone
                client.update_assessment_control(
                    assessmentId=assessment, controlSetId="Set A",
                    controlId=controls[i % 8], controlStatus="UNDER_REVIEW",
                    commentBody=f"comment of writer {i}")
                done["comment"] = (controls[i % 8], f"comment of writer {i}")
            except ClientError as error:
                done["error"] = f"{error.response['Error']['Code']}: {error}"
            return done

        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(writer, range(WRITERS)))

        assert [r["error"] for r in results if "error" in r] == []
        reader = clients[0]
        custom = {c["id"]: c["name"] for c in walk(reader.list_controls, "controlMetadataList",
                                                  controlType="Custom")}
        for i, done in enumerate(results):
            assert custom.get(done["renamed"]) == f"writer {i} renamed"
            assert reader.get_control(controlId=done["renamed"])["control"]["description"] \
                == f"updated by writer {i}"
            assert done["deleted"] not in custom
            with pytest.raises(ClientError) as caught:
                reader.get_control(controlId=done["deleted"])
            assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert len(custom) == 8 + WRITERS

        seen = reader.get_assessment(assessmentId=assessment)["assessment"]["framework"]
        comments = {control["id"]: sorted(c["commentBody"] for c in control.get("comments", []))
                    for control in seen["controlSets"][0]["controls"]}
        statuses = {control["id"]: control["status"] for control in seen["controlSets"][0]["controls"]}
        for control_id in controls:
            expected = sorted(r["comment"][1] for r in results if r["comment"][0] == control_id)
            assert comments[control_id] == expected
            assert statuses[control_id] == "UNDER_REVIEW"


def test_concurrent_creates_of_one_name_make_one_and_refuse_the_rest(instance):
    """Each creator finds the name free; one insert wins, the others get the ValidationException
    the name check gives (on PostgreSQL the unique index decides, never a 500)."""
    home, db_url, services = instance
    admin = services.keys.create("admin", "admin")
    control = services.controls.create(services.system(), {"name": "in a framework",
                                                           "controlMappingSources": MANUAL})
    with assay_serve(home, db_url) as url:
        clients = [api_client(url, admin.key.access_key_id, admin.secret_access_key)
                   for _ in range(16)]
        start = threading.Barrier(len(clients))

        def create(client) -> list[str]:
            start.wait()
            outcomes = []
            for call in (
                lambda: client.create_control(name="one name", controlMappingSources=MANUAL),
                lambda: client.create_assessment_framework(name="one name", controlSets=[
                    {"name": "Set A", "controls": [{"id": control["id"]}]}]),
            ):
                try:
                    call()
                    outcomes.append("created")
                except ClientError as error:
                    outcomes.append(error.response["Error"]["Code"] + ": "
                                    + error.response["Error"]["Message"])
            return outcomes

        with ThreadPoolExecutor(len(clients)) as pool:
            outcomes = list(pool.map(create, clients))
    for kind, taken in ((0, "A custom control named 'one name' already exists."),
                        (1, "A framework named 'one name' already exists.")):
        results = sorted(o[kind] for o in outcomes)
        assert results.count("created") == 1, results
        assert set(results) - {"created"} == {
            f"ValidationException: 1 validation error detected: name: {taken}"}, results


def test_a_key_revoked_through_one_server_is_refused_by_the_others(instance):
    """Server A (one process) and server B (`--workers 2`) share one database. B's processes
    have the key cached; it is revoked through A's console; B refuses it on the next request,
    and a key created through A works on B at once."""
    home, db_url, services = instance
    admin = services.keys.create("admin", "admin")
    auditor = services.keys.create("auditor", "auditor")

    with assay_serve(home, db_url) as a, assay_serve(home, db_url, workers=2) as b:
        # Several connections, so both of B's worker processes serve (and cache) the key.
        for _ in range(8):
            client = api_client(b, auditor.key.access_key_id, auditor.secret_access_key)
            for _ in range(3):
                client.list_controls(controlType="Custom")

        with httpx.Client(base_url=a, follow_redirects=True) as browser:
            sign_in = browser.get("/console/sign-in")
            browser.post("/console/sign-in", data={
                "csrf": _csrf(sign_in.text), "access_key_id": admin.key.access_key_id,
                "secret_access_key": admin.secret_access_key}).raise_for_status()
            settings = browser.get("/console/settings")
            assert settings.status_code == 200, settings.text
            revoked = browser.post("/console/settings/keys/revoke", data={
                "csrf": _csrf(settings.text), "key_id": auditor.key.access_key_id})
            assert revoked.status_code == 200 and "revoked" in revoked.text
            created = browser.post("/console/settings/keys", data={
                "csrf": _csrf(settings.text), "name": "newcomer", "role": "auditor"})
            assert created.status_code == 200, created.text
            new_id, new_secret = _new_key(created.text)

        for _ in range(8):
            client = api_client(b, auditor.key.access_key_id, auditor.secret_access_key)
            with pytest.raises(ClientError) as caught:
                client.list_controls(controlType="Custom")
            assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
            api_client(b, new_id, new_secret).list_controls(controlType="Custom")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _new_key(page: str) -> tuple[str, str]:
    key_id = re.search(r'id="new-key-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="new-key-secret">([^<]+)<', page).group(1)
    return key_id, html.unescape(secret)


def test_serve_refuses_fewer_than_one_worker(tmp_path: Path):
    import subprocess
    import sys

    done = subprocess.run([str(Path(sys.executable).with_name("assay")), "serve", "--home",
                           str(tmp_path), "--workers", "0"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "--workers" in done.stderr


def test_an_idle_keep_alive_connection_outlives_uvicorns_default(tmp_path: Path):
    """`assay serve` keeps an idle keep-alive connection longer than uvicorn's default 5 s:
    a client (an SDK's pool, a load balancer) that sends on it 6 s later is answered on the
    same socket, not cut off ("Remote end closed connection without response")."""
    import http.client
    import time

    home = tmp_path / "home"
    db_url, _ = database_url("sqlite", home)
    with assay_serve(home, db_url) as url:
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        connection.request("GET", "/console/sign-in")
        assert connection.getresponse().read() and connection.sock is not None
        first = connection.sock
        time.sleep(6)
        connection.request("GET", "/console/sign-in")
        response = connection.getresponse()
        assert response.status == 200 and connection.sock is first
        connection.close()


LIMIT = 4  # connections the limited role may hold


@pytest.fixture
def limited_database(tmp_path):
    """A throw-away PostgreSQL database owned by a role that may hold at most ``LIMIT``
    connections (PostgreSQL refuses more with SQLSTATE 53300, as at max_connections), and
    connect() for that role."""
    import uuid

    import psycopg
    from support import PG_ADMIN_URL, PostgresDatabase

    role = f"assay_limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT {LIMIT}")
    database = PostgresDatabase()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database.name}" OWNER TO {role}')
    url = database.url.replace("://postgres@", f"://{role}@", 1)
    yield url, lambda: psycopg.connect(url.replace("+psycopg", "", 1))
    database.drop()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.skipif("postgresql" not in backends(), reason="PostgreSQL's connection limit")
def test_writers_at_the_database_connection_limit_wait_instead_of_failing(limited_database,
                                                                          tmp_path):
    """64 writers against a server whose database allows it 4 connections (its pool wants up
    to 18): connections refused for the limit are retried, so every write is acknowledged and
    stored, with 0 errors."""
    db_url, _ = limited_database
    home = tmp_path / "home"
    services = open_services(load_settings(home, db_url=db_url))
    admin = services.keys.create("admin", "admin")
    services.close()
    with assay_serve(home, db_url) as url:
        clients = [api_client(url, admin.key.access_key_id, admin.secret_access_key)
                   for _ in range(WRITERS)]
        start = threading.Barrier(WRITERS)

        def create(i: int) -> str:
            start.wait()
            try:
                return clients[i].create_control(name=f"limited {i}",
                                                 controlMappingSources=MANUAL)["control"]["id"]
            except ClientError as error:
                return f"{error.response['Error']['Code']}: {error}"

        with ThreadPoolExecutor(WRITERS) as pool:
            made = list(pool.map(create, range(WRITERS)))
        assert [m for m in made if ":" in m] == []
        stored = {c["id"] for c in walk(clients[0].list_controls, "controlMetadataList",
                                        controlType="Custom")}
        assert set(made) == stored and len(stored) == WRITERS


@pytest.mark.skipif("postgresql" not in backends(), reason="PostgreSQL's connection limit")
def test_a_database_kept_at_its_connection_limit_is_throttling_not_an_internal_error(
        limited_database, tmp_path, monkeypatch):
    """While every connection the database allows is held elsewhere, a request that needs a
    new one waits CONNECT_PATIENCE and then gets ThrottlingException (which SDKs retry), and a
    console page says the same with a 429; once a connection is free again, the next request
    succeeds."""
    import assay.store
    from support import AssayServer

    db_url, connect = limited_database
    server = AssayServer.start(tmp_path / "home", "postgresql", db_url=db_url)
    browser = httpx.Client(base_url=server.url, follow_redirects=True)
    held = []
    try:
        client = server.client()
        client.list_controls(controlType="Custom")
        sign_in = browser.get("/console/sign-in")
        browser.post("/console/sign-in", data={
            "csrf": _csrf(sign_in.text), "access_key_id": server.admin.key_id,
            "secret_access_key": server.admin.secret}).raise_for_status()
        monkeypatch.setattr(assay.store, "CONNECT_PATIENCE", 0.5)
        server.services.store.engine.dispose()  # no idle pooled connection to fall back on
        while True:  # take every connection the role may have
            try:
                held.append(connect())
            except Exception:
                break
        assert len(held) == LIMIT
        with pytest.raises(ClientError) as caught:
            client.list_controls(controlType="Custom")
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert "connection limit" in caught.value.response["Error"]["Message"]
        page = browser.get("/console/settings")
        assert page.status_code == 429 and "connection limit" in page.text
        held.pop().close()
        assert client.list_controls(controlType="Custom")["controlMetadataList"] == []
    finally:
        browser.close()
        for conn in held:
            conn.close()
        server.stop()
