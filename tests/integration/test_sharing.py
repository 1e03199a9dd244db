"""Framework sharing through boto3: the workflow of share requests within one instance (its
own account, another Region) and between two instances (peers), with injected time for the
120-day expiry."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from support import AssayServer, walk
from typer.testing import CliRunner

from assay.cli import app

DAY = 86400
MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def make_framework(client, name: str) -> dict:
    """A custom framework with two custom controls and two standard controls."""
    controls = [client.create_control(name=f"{name} control {i}", description="d",
                                      controlMappingSources=MANUAL)["control"] for i in (1, 2)]
    standard = client.list_controls(controlType="Standard", maxResults=2)["controlMetadataList"]
    return client.create_assessment_framework(
        name=name, description=f"{name} description", complianceType="Internal",
        controlSets=[{"name": "Custom", "controls": [{"id": c["id"]} for c in controls]},
                     {"name": "Standard", "controls": [{"id": c["id"]} for c in standard]}],
    )["framework"]


def shares(client, request_type: str) -> dict[str, dict]:
    return {s["id"]: s for s in walk(client.list_assessment_framework_share_requests,
                                     "assessmentFrameworkShareRequests", requestType=request_type)}


def received_for(client, framework_id: str) -> dict:
    [found] = [s for s in shares(client, "RECEIVED").values() if s["frameworkId"] == framework_id
               and s["status"] in ("ACTIVE", "EXPIRING")]
    return found


def custom_frameworks(client) -> dict[str, dict]:
    return {m["name"]: m for m in walk(client.list_assessment_frameworks, "frameworkMetadataList",
                                       frameworkType="Custom")}


@pytest.fixture
def clock(server):
    """Move this instance's sharing clock; put it back afterwards."""
    def shift(days: float, *servers):
        for s in servers or (server,):
            s.services.sharing.clock = lambda: time.time() + days * DAY
    yield shift
    server.services.sharing.clock = time.time


# --------------------------------------------------------------------------- one instance


def test_share_to_own_account_accept(server, admin):
    account = server.services.account_id
    framework = make_framework(admin, "Shared locally")
    sent = admin.start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount=account, destinationRegion="eu-west-1",
        comment="for Europe")["assessmentFrameworkShareRequest"]
    assert sent["status"] == "ACTIVE" and sent["comment"] == "for Europe"
    assert (sent["sourceAccount"], sent["destinationAccount"]) == (account, account)
    assert (sent["standardControlsCount"], sent["customControlsCount"]) == (2, 2)
    assert sent["frameworkName"] == "Shared locally" and sent["complianceType"] == "Internal"
    assert (sent["expirationTime"] - sent["creationTime"]).days == 120

    received = received_for(admin, framework["id"])
    assert received["id"] != sent["id"] and received["status"] == "ACTIVE"
    assert shares(admin, "SENT")[sent["id"]]["status"] == "ACTIVE"

    # An open request can be neither deleted nor answered by the wrong side.
    assert error_of(admin.delete_assessment_framework_share, requestId=sent["id"],
                    requestType="SENT")["Error"]["Code"] == "ValidationException"
    wrong = error_of(admin.update_assessment_framework_share, requestId=received["id"],
                     requestType="RECEIVED", action="REVOKE")
    assert wrong["fields"][0]["name"] == "action"
    assert error_of(admin.update_assessment_framework_share, requestId=sent["id"],
                    requestType="RECEIVED", action="ACCEPT")["Error"]["Code"] == \
        "ResourceNotFoundException"

    accepted = admin.update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="ACCEPT",
    )["assessmentFrameworkShareRequest"]
    assert accepted["status"] == "SHARED"
    assert shares(admin, "SENT")[sent["id"]]["status"] == "SHARED"
    # The copy: a name collision in one library gets a suffix; custom controls are copied,
    # standard controls are the same ids.
    copy = admin.get_assessment_framework(
        frameworkId=custom_frameworks(admin)["Shared locally (shared)"]["id"])["framework"]
    original = admin.get_assessment_framework(frameworkId=framework["id"])["framework"]
    assert [s["name"] for s in copy["controlSets"]] == ["Custom", "Standard"]
    assert [c["name"] for c in copy["controlSets"][0]["controls"]] == [
        "Shared locally control 1 (shared)", "Shared locally control 2 (shared)"]
    assert [c["id"] for c in copy["controlSets"][1]["controls"]] == [
        c["id"] for c in original["controlSets"][1]["controls"]]
    assert copy["description"] == "Shared locally description"

    # Answered requests can be deleted, each side its own.
    admin.delete_assessment_framework_share(requestId=sent["id"], requestType="SENT")
    assert sent["id"] not in shares(admin, "SENT")
    assert shares(admin, "RECEIVED")[received["id"]]["status"] == "SHARED"
    admin.delete_assessment_framework_share(requestId=received["id"], requestType="RECEIVED")
    assert received["id"] not in shares(admin, "RECEIVED")


def test_decline_and_revoke(server, admin):
    account = server.services.account_id
    framework = make_framework(admin, "Declined and revoked")
    before = set(custom_frameworks(admin))
    start = dict(frameworkId=framework["id"], destinationAccount=account,
                 destinationRegion="ap-south-1")
    first = admin.start_assessment_framework_share(**start)["assessmentFrameworkShareRequest"]
    # One open request per framework and destination.
    assert error_of(admin.start_assessment_framework_share, **start)["Error"]["Code"] == \
        "ValidationException"
    received = received_for(admin, framework["id"])
    declined = admin.update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="DECLINE",
    )["assessmentFrameworkShareRequest"]
    assert declined["status"] == "DECLINED"
    assert shares(admin, "SENT")[first["id"]]["status"] == "DECLINED"

    second = admin.start_assessment_framework_share(**start)["assessmentFrameworkShareRequest"]
    received = received_for(admin, framework["id"])
    revoked = admin.update_assessment_framework_share(
        requestId=second["id"], requestType="SENT", action="REVOKE",
    )["assessmentFrameworkShareRequest"]
    assert revoked["status"] == "REVOKED"
    assert shares(admin, "RECEIVED")[received["id"]]["status"] == "REVOKED"
    late = error_of(admin.update_assessment_framework_share, requestId=received["id"],
                    requestType="RECEIVED", action="ACCEPT")
    assert "REVOKED" in late["Error"]["Message"]
    assert set(custom_frameworks(admin)) == before


def test_expiry(server, admin, clock):
    account = server.services.account_id
    framework = make_framework(admin, "Expiring")
    sent = admin.start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount=account,
        destinationRegion="sa-east-1")["assessmentFrameworkShareRequest"]
    received = received_for(admin, framework["id"])

    clock(89)
    assert shares(admin, "SENT")[sent["id"]]["status"] == "ACTIVE"
    clock(91)  # within the last 30 of 120 days
    assert shares(admin, "SENT")[sent["id"]]["status"] == "EXPIRING"
    assert shares(admin, "RECEIVED")[received["id"]]["status"] == "EXPIRING"
    clock(121)
    assert shares(admin, "SENT")[sent["id"]]["status"] == "EXPIRED"
    assert shares(admin, "RECEIVED")[received["id"]]["status"] == "EXPIRED"
    late = error_of(admin.update_assessment_framework_share, requestId=received["id"],
                    requestType="RECEIVED", action="ACCEPT")
    assert "EXPIRED" in late["Error"]["Message"]
    admin.delete_assessment_framework_share(requestId=received["id"], requestType="RECEIVED")
    admin.delete_assessment_framework_share(requestId=sent["id"], requestType="SENT")


def test_an_expiring_request_can_still_be_accepted(server, admin, clock):
    account = server.services.account_id
    framework = make_framework(admin, "Late but in time")
    admin.start_assessment_framework_share(frameworkId=framework["id"], destinationAccount=account,
                                           destinationRegion="ca-central-1")
    clock(100)
    received = received_for(admin, framework["id"])
    assert received["status"] == "EXPIRING"
    accepted = admin.update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="ACCEPT",
    )["assessmentFrameworkShareRequest"]
    assert accepted["status"] == "SHARED"


def test_refusals(server, admin):
    account = server.services.account_id
    framework = make_framework(admin, "Refusals")
    unknown = error_of(admin.start_assessment_framework_share, frameworkId=framework["id"],
                       destinationAccount="999999999999", destinationRegion="us-east-1")
    assert unknown["fields"][0]["name"] == "destinationAccount"
    assert "999999999999" in unknown["fields"][0]["message"]
    same = error_of(admin.start_assessment_framework_share, frameworkId=framework["id"],
                    destinationAccount=account, destinationRegion="us-east-1")
    assert same["fields"][0]["name"] == "destinationRegion"
    standard = admin.list_assessment_frameworks(frameworkType="Standard")["frameworkMetadataList"][0]
    refused = error_of(admin.start_assessment_framework_share, frameworkId=standard["id"],
                       destinationAccount=account, destinationRegion="eu-west-1")
    assert refused["fields"][0]["name"] == "frameworkId"
    missing = error_of(admin.start_assessment_framework_share,
                       frameworkId="00000000-0000-4000-8000-000000000000",
                       destinationAccount=account, destinationRegion="eu-west-1")
    assert missing["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("role", ["delegate", "auditor"])
def test_sharing_needs_the_share_right(server, admin, role):
    client = server.client(server.identity(role))
    framework = make_framework(admin, f"Roles {role}")
    for call, kwargs in [
        (client.start_assessment_framework_share, dict(
            frameworkId=framework["id"], destinationAccount=server.services.account_id,
            destinationRegion="eu-west-1")),
        (client.list_assessment_framework_share_requests, dict(requestType="SENT")),
    ]:
        assert error_of(call, **kwargs)["Error"]["Code"] == "AccessDeniedException"
    owner = server.client(server.identity("process-owner"))
    assert owner.list_assessment_framework_share_requests(requestType="SENT")


def test_listing_pages(server, admin):
    account = server.services.account_id
    regions = ["eu-west-2", "eu-west-3", "eu-north-1", "eu-central-1", "ap-east-1"]
    framework = make_framework(admin, "Paged")
    ids = {admin.start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount=account, destinationRegion=region,
    )["assessmentFrameworkShareRequest"]["id"] for region in regions}
    every = walk(admin.list_assessment_framework_share_requests,
                 "assessmentFrameworkShareRequests", page_size=2, requestType="SENT")
    assert ids <= {s["id"] for s in every} and len(every) == len({s["id"] for s in every})
    times = [s["creationTime"] for s in every]
    assert times == sorted(times, reverse=True)


# --------------------------------------------------------------------------- two instances


@pytest.fixture(scope="module")
def peers(server, tmp_path_factory):
    """Two more instances, accounts 111111111111 and 222222222222, registered with each other
    with keys each issued to the other."""
    one = AssayServer.start(tmp_path_factory.mktemp("peer-one"), server.backend,
                            account_id="111111111111")
    two = AssayServer.start(tmp_path_factory.mktemp("peer-two"), server.backend,
                            account_id="222222222222")
    issued = {}  # (issuer account, holder account) -> key
    for here, there in ((one, two), (two, one)):
        issued[there.services.account_id, here.services.account_id] = there.identity(
            "process-owner", f"peer-{here.services.account_id}")
    for here, there in ((one, two), (two, one)):
        mine, theirs = here.services.account_id, there.services.account_id
        key = issued[theirs, mine]
        here.services.sharing.add_peer(theirs, there.url, key.key_id, key.secret,
                                       issued[mine, theirs].key_id)
    one.issued = two.issued = issued
    yield one, two
    one.stop()
    two.stop()


def test_between_instances_accept(peers):
    one, two = peers
    sender, recipient = one.client(), two.client(region="eu-west-1")
    framework = make_framework(sender, "Across instances")
    sent = sender.start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount="222222222222",
        destinationRegion="eu-west-1", comment="from one")["assessmentFrameworkShareRequest"]
    assert sent["status"] == "ACTIVE"
    received = received_for(recipient, framework["id"])
    assert (received["sourceAccount"], received["comment"]) == ("111111111111", "from one")
    assert received["customControlsCount"] == 2

    accepted = recipient.update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="ACCEPT",
    )["assessmentFrameworkShareRequest"]
    assert accepted["status"] == "SHARED"
    assert shares(sender, "SENT")[sent["id"]]["status"] == "SHARED"
    copy = recipient.get_assessment_framework(
        frameworkId=custom_frameworks(recipient)["Across instances"]["id"])["framework"]
    assert [c["name"] for c in copy["controlSets"][0]["controls"]] == [
        "Across instances control 1", "Across instances control 2"]
    assert copy["arn"].startswith("arn:aws:auditmanager:eu-west-1:222222222222:")


def test_a_share_left_replicating_by_a_crash_is_delivered_again(peers):
    one, two = peers
    sender = one.client()
    framework = make_framework(sender, "Half sent")
    real_deliver = one.services.sharing._deliver
    one.services.sharing._deliver = lambda sent: "REPLICATING"  # the process died mid-delivery
    try:
        sent = sender.start_assessment_framework_share(
            frameworkId=framework["id"], destinationAccount="222222222222",
            destinationRegion="us-east-1")["assessmentFrameworkShareRequest"]
    finally:
        one.services.sharing._deliver = real_deliver
    assert sent["status"] == "REPLICATING"
    assert one.services.sharing.redeliver_stale() == 0  # too recent to be stuck
    assert one.services.sharing.redeliver_stale(older_than=-1) == 1
    assert shares(sender, "SENT")[sent["id"]]["status"] == "ACTIVE"
    assert received_for(two.client(), framework["id"])["sourceAccount"] == "111111111111"
    assert one.services.sharing.redeliver_stale(older_than=-1) == 0


def test_between_instances_decline_revoke_and_expiry(peers):
    one, two = peers
    sender, recipient = one.client(), two.client()
    framework = make_framework(sender, "Across and back")
    start = dict(frameworkId=framework["id"], destinationAccount="222222222222",
                 destinationRegion="us-east-1")
    first = sender.start_assessment_framework_share(**start)["assessmentFrameworkShareRequest"]
    recipient.update_assessment_framework_share(
        requestId=received_for(recipient, framework["id"])["id"], requestType="RECEIVED",
        action="DECLINE")
    assert shares(sender, "SENT")[first["id"]]["status"] == "DECLINED"

    second = sender.start_assessment_framework_share(**start)["assessmentFrameworkShareRequest"]
    received = received_for(recipient, framework["id"])
    sender.update_assessment_framework_share(requestId=second["id"], requestType="SENT",
                                             action="REVOKE")
    assert shares(recipient, "RECEIVED")[received["id"]]["status"] == "REVOKED"
    recipient.delete_assessment_framework_share(requestId=received["id"], requestType="RECEIVED")
    assert second["id"] in shares(sender, "SENT")

    third = sender.start_assessment_framework_share(**start)["assessmentFrameworkShareRequest"]
    received = received_for(recipient, framework["id"])
    try:
        for instance in (one, two):
            instance.services.sharing.clock = lambda: time.time() + 121 * DAY
        assert shares(sender, "SENT")[third["id"]]["status"] == "EXPIRED"
        assert shares(recipient, "RECEIVED")[received["id"]]["status"] == "EXPIRED"
    finally:
        for instance in (one, two):
            instance.services.sharing.clock = time.time
    assert "Across and back" not in custom_frameworks(recipient)


def test_between_instances_failures_change_nothing(peers):
    one, two = peers
    sender, recipient = one.client(), two.client()
    framework = make_framework(sender, "Unanswerable")
    peer = next(p for p in two.services.sharing.peers() if p.account_id == "111111111111")
    key = one.issued["111111111111", "222222222222"]  # the key one issued to two
    sent = sender.start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount="222222222222",
        destinationRegion="us-east-1")["assessmentFrameworkShareRequest"]
    received = received_for(recipient, framework["id"])
    # The sender cannot be told: the accept fails and leaves nothing behind.
    two.services.sharing.add_peer("111111111111", "http://127.0.0.1:9", key.key_id, key.secret,
                                  peer.inbound_key_id)
    try:
        failed = error_of(recipient.update_assessment_framework_share, requestId=received["id"],
                          requestType="RECEIVED", action="ACCEPT")
        assert failed["Error"]["Code"] == "InternalServerException"
        assert "111111111111" in failed["Error"]["Message"]
        assert "Unanswerable" not in custom_frameworks(recipient)
        assert not [c for c in walk(recipient.list_controls, "controlMetadataList",
                                    controlType="Custom") if c["name"].startswith("Unanswerable")]
        assert shares(recipient, "RECEIVED")[received["id"]]["status"] == "ACTIVE"
        assert shares(sender, "SENT")[sent["id"]]["status"] == "ACTIVE"
    finally:
        two.services.sharing.add_peer("111111111111", peer.endpoint_url, key.key_id, key.secret,
                                      peer.inbound_key_id)
    assert recipient.update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="ACCEPT",
    )["assessmentFrameworkShareRequest"]["status"] == "SHARED"

    # A recipient that does not know the sender refuses the delivery: the request FAILED.
    two.services.sharing.remove_peer("111111111111")
    try:
        other = make_framework(sender, "Undeliverable")
        failed = sender.start_assessment_framework_share(
            frameworkId=other["id"], destinationAccount="222222222222",
            destinationRegion="us-east-1")["assessmentFrameworkShareRequest"]
        assert failed["status"] == "FAILED"
        assert not [s for s in shares(recipient, "RECEIVED").values()
                    if s["frameworkId"] == other["id"]]
        sender.delete_assessment_framework_share(requestId=failed["id"], requestType="SENT")
    finally:
        two.services.sharing.add_peer("111111111111", peer.endpoint_url, key.key_id, key.secret,
                                      peer.inbound_key_id)


def _post(url: str, body: bytes, identity=None) -> tuple[int, Any, dict]:
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"content-type": "application/json"})
    if identity:
        SigV4Auth(Credentials(identity.key_id, identity.secret), "auditmanager",
                  "us-east-1").add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def test_internal_endpoint_is_authenticated_and_checked(peers):
    one, two = peers
    url = f"{two.url}/_assay/shares"
    status, headers, _ = _post(url, b"{}")
    assert (status, headers["x-amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")
    wrong_account = {"id": "11111111-2222-4333-8444-555555555555",
                     "frameworkId": "11111111-2222-4333-8444-555555555556",
                     "frameworkName": "F", "sourceAccount": "111111111111",
                     "destinationAccount": "333333333333", "destinationRegion": "us-east-1",
                     "expirationTime": 1, "creationTime": 1, "lastUpdated": 1}
    payload = {"controlSets": [{"name": "S", "controls": [
        {"id": "11111111-2222-4333-8444-555555555557", "type": "Standard"}]}], "controls": []}
    delivery = json.dumps({"request": wrong_account, "payload": payload}).encode()
    status, headers, _ = _post(url, delivery, two.identity("delegate"))
    assert (status, headers["x-amzn-ErrorType"]) == (403, "AccessDeniedException")
    owner = two.identity("process-owner")
    status, _, body = _post(url, json.dumps({"request": {"id": "x"}, "payload": {}}).encode(), owner)
    assert status == 400
    assert {f["name"] for f in body["fields"]} >= {"request.id", "request.frameworkName",
                                                   "request.sourceAccount"}
    status, _, body = _post(url, delivery, owner)
    assert status == 400 and body["fields"][0]["name"] == "destinationAccount"

    # A sender whose key lacks the share right sees its delivery fail.
    peer = next(p for p in one.services.sharing.peers() if p.account_id == "222222222222")
    delegate, key = two.identity("delegate"), two.issued["222222222222", "111111111111"]
    one.services.sharing.add_peer("222222222222", peer.endpoint_url, delegate.key_id,
                                  delegate.secret, peer.inbound_key_id)
    try:
        framework = make_framework(one.client(), "Delegated delivery")
        sent = one.client().start_assessment_framework_share(
            frameworkId=framework["id"], destinationAccount="222222222222",
            destinationRegion="us-east-1")["assessmentFrameworkShareRequest"]
        assert sent["status"] == "FAILED"
    finally:
        one.services.sharing.add_peer("222222222222", peer.endpoint_url, key.key_id, key.secret,
                                      peer.inbound_key_id)


# --------------------------------------------------------------------------- peers CLI


def test_peers_commands(server):
    env = {"ASSAY_DB_URL": server.services.settings.db_url, "COLUMNS": "200"}
    home = str(server.home)
    runner = CliRunner()
    added = runner.invoke(app, ["peers", "add", "--home", home, "--account", "333333333333",
                                "--endpoint-url", "http://peer.example:8765/", "--access-key-id",
                                "AKASEXAMPLE", "--secret-access-key", "s3cret",
                                "--inbound-key-id", server.admin.key_id], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["peers", "list", "--home", home, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [peer] = [p for p in json.loads(listed.stdout) if p["AccountId"] == "333333333333"]
    assert peer["EndpointUrl"] == "http://peer.example:8765" and "s3cret" not in listed.output
    bad = runner.invoke(app, ["peers", "add", "--home", home, "--account", "12", "--endpoint-url",
                              "http://x", "--access-key-id", "k", "--secret-access-key", "s",
                              "--inbound-key-id", server.admin.key_id], env=env)
    assert bad.exit_code == 2 and "12 digits" in bad.output
    removed = runner.invoke(app, ["peers", "remove", "--home", home, "333333333333"], env=env)
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(app, ["peers", "remove", "--home", home, "333333333333"],
                         env=env).exit_code == 1


def _send(method: str, url: str, document: dict, identity) -> tuple[int, dict]:
    body = json.dumps(document).encode()
    request = AWSRequest(method=method, url=url, data=body,
                         headers={"content-type": "application/json"})
    SigV4Auth(Credentials(identity.key_id, identity.secret), "auditmanager",
              "us-east-1").add_auth(request)
    http = urllib.request.Request(url, data=body, method=method,
                                  headers=dict(request.prepare().headers))
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_only_the_peers_own_key_delivers_or_answers_for_it(peers):
    """Issue 18: a local process owner cannot deliver a share "from" a peer or mark a peer's
    share SHARED, and a forged payload is refused by name (it used to make ACCEPT answer 500)."""
    one, two = peers
    now = time.time()
    forged = {"id": str(uuid.uuid4()), "frameworkId": str(uuid.uuid4()),
              "frameworkName": "Forged", "sourceAccount": "111111111111",
              "destinationAccount": "222222222222", "destinationRegion": "us-east-1",
              "expirationTime": now + 86400, "creationTime": now, "lastUpdated": now}
    payload = {"controlSets": [{"name": "S", "controls": [
        {"id": str(uuid.uuid4()), "type": "Standard"}]}], "controls": []}
    local_owner = two.identity("process-owner")
    status, body = _send("POST", f"{two.url}/_assay/shares",
                         {"request": forged, "payload": payload}, local_owner)
    assert status == 403 and "111111111111" in body["message"], body
    assert not [s for s in shares(two.client(), "RECEIVED").values()
                if s["frameworkName"] == "Forged"]

    # The peer's own key, with an empty payload: refused, naming the payload.
    genuine = two.issued["222222222222", "111111111111"]  # the key two issued to one
    status, body = _send("POST", f"{two.url}/_assay/shares",
                         {"request": forged, "payload": {}}, genuine)
    assert status == 400 and "payload.controlSets" in {f["name"] for f in body["fields"]}, body

    # A forged answer: a local process owner of the sender tells it "SHARED".
    framework = make_framework(one.client(), "Answer forgery")
    sent = one.client().start_assessment_framework_share(
        frameworkId=framework["id"], destinationAccount="222222222222",
        destinationRegion="us-east-1")["assessmentFrameworkShareRequest"]
    status, body = _send("PUT", f"{one.url}/_assay/shares/{sent['id']}", {"status": "SHARED"},
                         one.identity("process-owner"))
    assert status == 403, body
    assert shares(one.client(), "SENT")[sent["id"]]["status"] == "ACTIVE"
    # The recipient's answer, signed with its registered key, still goes through.
    received = received_for(two.client(), framework["id"])
    assert two.client().update_assessment_framework_share(
        requestId=received["id"], requestType="RECEIVED", action="DECLINE",
    )["assessmentFrameworkShareRequest"]["status"] == "DECLINED"
    assert shares(one.client(), "SENT")[sent["id"]]["status"] == "DECLINED"
