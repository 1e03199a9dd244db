"""Notifications reach the SNS topic of the settings (moto) and the webhook; a failed delivery is
kept on the notification. Concurrent reviewers all land in the change log, in order."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
import sqlalchemy as sa
from support import AssayServer, backends, moto_aws, walk

from assay.store import tables

MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


class Webhook:
    def __init__(self):
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def moto():
    with moto_aws(SNS=True, SQS=True) as url:
        yield url


@pytest.fixture(scope="module", params=backends())
def notifying(request, tmp_path_factory, moto):
    # The notifier uses the standard boto3 configuration, which `moto` points at moto.
    hook = Webhook()
    server = AssayServer.start(tmp_path_factory.mktemp("notify"), request.param, webhook_url=hook.url)
    yield server, hook, moto
    server.stop()
    hook.server.shutdown()


def aws(moto, service):
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def setup_assessment(server, owner):
    admin = server.client()
    control = admin.create_control(name=f"n-{owner.name}", controlMappingSources=MANUAL)["control"]
    framework = admin.create_assessment_framework(name=f"nf-{owner.name}", controlSets=[
        {"name": "Set", "controls": [{"id": control["id"]}]}])["framework"]
    assessment = server.client(owner).create_assessment(
        name="notify", frameworkId=framework["id"], scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner.arn}],
        assessmentReportsDestination={})["assessment"]
    return assessment["metadata"]["id"], control["id"]


def test_sns_and_webhook_receive_notifications(notifying):
    server, hook, moto = notifying
    sns, sqs = aws(moto, "sns"), aws(moto, "sqs")
    topic = sns.create_topic(Name="assay-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="assay-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    server.client().update_settings(snsTopic=topic)

    owner, delegate = server.identity("process-owner"), server.identity("delegate")
    aid, _ = setup_assessment(server, owner)
    server.client(owner).batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Set", "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER"}])

    listed = server.client(delegate).list_notifications()["notifications"]
    assert len(listed) == 1 and "delegated control set 'Set'" in listed[0]["description"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages.get("Messages", [])]
    assert any(b["id"] == listed[0]["id"] and b["recipient"] == delegate.arn for b in bodies)
    assert any(h["id"] == listed[0]["id"] for h in hook.received)


def test_failed_delivery_is_kept_on_the_notification(notifying):
    server, _, _ = notifying
    server.client().update_settings(snsTopic="arn:aws:sns:us-east-1:123456789012:does-not-exist")
    owner, delegate = server.identity("process-owner"), server.identity("delegate")
    aid, _ = setup_assessment(server, owner)
    server.client(owner).batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Set", "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER"}])
    with server.services.store.read() as conn:
        row = conn.execute(sa.select(tables.notifications).where(
            tables.notifications.c.recipient_arn == delegate.arn)).one()
    assert "does-not-exist" in row.delivery_error
    # The notification itself is still there for the delegate.
    assert server.client(delegate).list_notifications()["notifications"][0]["id"] == row.id


def test_concurrent_reviewers_all_land_in_order(notifying):
    server, _, _ = notifying
    server.client().update_settings(snsTopic="NONE")
    owner = server.identity("process-owner")
    aid, control_id = setup_assessment(server, owner)
    delegate = server.identity("delegate")
    server.client(owner).batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Set", "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER"}])
    reviewers = [server.client(owner), server.client(delegate)]

    def review(reviewer):
        for n in range(10):
            reviewers[reviewer].update_assessment_control(
                assessmentId=aid, controlSetId="Set", controlId=control_id,
                commentBody=f"reviewer {reviewer} comment {n}")

    with ThreadPoolExecutor(max_workers=2) as pool:  # the two reviewers at the same time
        list(pool.map(review, (0, 1)))
    control = server.client(owner).get_assessment(assessmentId=aid)["assessment"]["framework"][
        "controlSets"][0]["controls"][0]
    bodies = [c["commentBody"] for c in control["comments"]]
    assert sorted(bodies) == sorted(f"reviewer {r} comment {n}" for n in range(10) for r in (0, 1))
    for reviewer in (0, 1):  # each reviewer's own comments keep their order
        mine = [b for b in bodies if b.startswith(f"reviewer {reviewer} ")]
        assert mine == sorted(mine, key=lambda b: int(b.rsplit(" ", 1)[1]))
    logs = walk(server.client(owner).get_change_logs, "changeLogs", assessmentId=aid,
                controlSetId="Set", controlId=control_id)
    updates = [e for e in logs if e["action"] == "UPDATE_METADATA"]
    assert len(updates) == 20
    assert [e["createdAt"] for e in updates] == sorted(e["createdAt"] for e in updates)
    assert sorted(e["createdBy"] for e in updates) == sorted([owner.arn] * 10 + [delegate.arn] * 10)
