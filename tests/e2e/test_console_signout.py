"""Issue 18, finding 8, through HTTP against real servers: a signed-out console cookie stays
refused after a restart and on another server sharing the database, and X-Forwarded-For from
an untrusted peer does not get around the sign-in throttle."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import uvicorn

from assay.api.app import SERVER_OPTIONS, create_app
from assay.console.signin import MAX_FAILURES
from assay.service import open_services


def signed_in(url: str, identity) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False)
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = client.post("/console/sign-in", data={
        "csrf": token, "access_key_id": identity.key_id,
        "secret_access_key": identity.secret, "next": "/console/assessments"})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/console/assessments")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


class OtherServer:
    """A second Assay server process-alike over the same database and home: as another
    machine behind the load balancer, or this one after a restart."""

    def __init__(self, settings):
        self.services = open_services(settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.services), lifespan="off",
                                                    log_level="warning", **SERVER_OPTIONS))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.01)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.services.close()


def test_a_signed_out_cookie_is_refused_after_restart_and_on_other_servers(server):
    person = server.identity("auditor")
    client = signed_in(server.url, person)
    cookie = client.cookies.get("assay_console", path="/console")
    other = OtherServer(server.services.settings)
    try:
        # The cookie works on the other server while the session lasts ...
        elsewhere = httpx.Client(base_url=other.url, cookies={"assay_console": cookie})
        assert elsewhere.get("/console/assessments").status_code == 200
        answer = client.post("/console/sign-out", data={"csrf": csrf_of(client)})
        assert answer.status_code == 303
        # ... and is refused there once signed out here, as on this one.
        for url in (server.url, other.url):
            replay = httpx.Client(base_url=url, cookies={"assay_console": cookie})
            answer = replay.get("/console/assessments")
            assert answer.status_code == 303 and "/console/sign-in" in answer.headers["location"]
    finally:
        other.stop()
    # A fresh start of the services over the same database (a restart) still refuses it.
    restarted = OtherServer(server.services.settings)
    try:
        replay = httpx.Client(base_url=restarted.url, cookies={"assay_console": cookie})
        assert replay.get("/console/assessments").status_code == 303
    finally:
        restarted.stop()


def test_rotating_x_forwarded_for_does_not_get_around_the_throttle(server):
    victim = server.identity("process-owner")
    client = httpx.Client(base_url=server.url)
    statuses = []
    for n in range(MAX_FAILURES + 2):
        form = client.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        answer = client.post("/console/sign-in", data={
            "csrf": token, "access_key_id": victim.key_id, "secret_access_key": "wrong"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"})
        statuses.append(answer.status_code)
    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
    assert statuses[MAX_FAILURES:] == [429, 429]
    # Someone else from the same (loopback) address still signs in.
    signed_in(server.url, server.identity("auditor"))
