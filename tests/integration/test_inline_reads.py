"""Store reads on the event loop (api/app.py): a handler registered as a store read runs on
the loop on SQLite (on PostgreSQL, on a worker thread); one that asks to write after all is
stopped before it writes
(``Store.nonblocking`` -> ``WouldBlock``) and runs again on a worker thread, so its write
happens exactly once and the loop never waits for SQLite's write lock."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from starlette.testclient import TestClient
from support import MANUAL_SOURCE, Identity, backends, database_url, signed_request

from assay.api import wire
from assay.api.app import create_app
from assay.api.handlers import STORE_READS
from assay.config import load_settings
from assay.service import open_services
from assay.store import WouldBlock

URL = "http://testserver"


@pytest.fixture(params=backends())
def app(request, tmp_path):
    db_url, database = database_url(request.param, tmp_path / "home")
    services = open_services(load_settings(tmp_path / "home", db_url=db_url))
    new = services.keys.create("admin", "admin")
    admin = Identity(new.key.access_key_id, new.secret_access_key, new.key.arn, "admin", "admin")
    app = create_app(services)
    yield app, admin
    app.api.threads.shutdown()
    services.close()
    if database is not None:
        database.drop()


def test_a_write_inside_nonblocking_is_refused_before_it_starts(app):
    services = app[0].state.services
    with services.store.nonblocking():
        with services.store.read() as conn:  # reads go on
            assert conn is not None
        with pytest.raises(WouldBlock):
            with services.store.write():
                raise AssertionError("a write transaction was opened")


def test_a_store_read_that_writes_runs_again_on_a_thread_and_writes_once(app):
    app, admin = app
    assert "ListControls" in STORE_READS
    threads: list[str] = []
    listed = app.api.handlers["ListControls"]
    prefix = uuid.uuid4().hex

    def list_and_create(svc, caller, params):
        threads.append(threading.current_thread().name)
        svc.controls.create(caller, {"name": f"{prefix} made by call {len(threads)}",
                                     "controlMappingSources": MANUAL_SOURCE})
        return listed(svc, caller, params)

    app.api.handlers["ListControls"] = list_and_create
    app.api.inline_reads = True  # the mechanism, on both stores
    with TestClient(app, base_url=URL) as client:
        answer = signed_request(URL, admin, "GET", "/controls?controlType=Custom",
                                client=client)
    assert answer.status_code == 200, answer.text
    names = [c["name"].split(" ", 1)[1] for c in answer.json()["controlMetadataList"]
             if c["name"].startswith(prefix)]
    # First on the loop, stopped at its write; then on a worker thread, where it wrote.
    assert len(threads) == 2 and not threads[0].startswith("assay-api")
    assert threads[1].startswith("assay-api")
    assert names == ["made by call 2"]


def test_store_reads_answer_from_the_loop(app):
    app, admin = app
    threads: list[str] = []
    got = app.api.handlers["GetControl"]

    def get_control(svc, caller, params):
        threads.append(threading.current_thread().name)
        return got(svc, caller, params)

    app.api.handlers["GetControl"] = get_control
    with TestClient(app, base_url=URL) as client:
        created = signed_request(URL, admin, "POST", "/controls", client=client, body=(
            b'{"name": "c", "controlMappingSources": [{"sourceName": "m", '
            b'"sourceSetUpOption": "Procedural_Controls_Mapping", "sourceType": "MANUAL"}]}'))
        assert created.status_code == 200, created.text
        control_id = created.json()["control"]["id"]
        answer = signed_request(URL, admin, "GET", f"/controls/{control_id}", client=client)
        missing = signed_request(URL, admin, "GET", f"/controls/{uuid.uuid4()}", client=client)
    assert answer.status_code == 200 and answer.json()["control"]["name"] == "c"
    assert missing.status_code == 404
    assert missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    on_thread = not app.state.services.store.is_sqlite
    assert [name.startswith("assay-api") for name in threads] == [on_thread, on_thread]


def test_no_route_of_the_server_is_taken_for_an_operation(app):
    """Operations are served before Starlette's router (``AssayApp``): none of the server's own
    routes may have a path an operation's URI template also matches."""
    app, _ = app
    own = [route for route in app.routes if getattr(route, "path", "") != "/{path:path}"]
    assert own
    for route in own:
        path = re.sub(r"\{[^}]+\}", "x", route.path) or "/"
        for method in getattr(route, "methods", None) or ["GET", "POST", "PUT", "DELETE"]:
            assert wire.match(method, path) is None, (method, route.path)
