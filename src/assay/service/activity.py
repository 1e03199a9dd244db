"""What happened to an assessment: the change log (GetChangeLogs) and notifications
(ListNotifications, plus the SNS topic of the settings and an optional webhook).

Both are written in the same transaction as the change they describe. Publishing to SNS or the
webhook happens after commit; a failed delivery is kept on the notification, never dropped.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from ..store import Store, tables
from . import paging
from .auth import Caller

log = logging.getLogger("assay.notify")


def log_change(conn: sa.Connection, caller: Caller, assessment_id: str, object_type: str,
               object_name: str, action: str, control_set_id: str | None = None,
               control_id: str | None = None) -> None:
    conn.execute(tables.change_logs.insert().values(
        assessment_id=assessment_id, control_set_id=control_set_id, control_id=control_id,
        object_type=object_type, object_name=object_name[:2048], action=action,
        created_at=time.time(), created_by=caller.arn))


def change_logs(conn: sa.Connection, assessment_id: str, control_set_id: str | None,
                control_id: str | None, token: str | None, max_results: int | None):
    query = sa.select(tables.change_logs).where(tables.change_logs.c.assessment_id == assessment_id)
    if control_set_id:
        query = query.where(tables.change_logs.c.control_set_id == control_set_id)
    if control_id:
        query = query.where(tables.change_logs.c.control_id == control_id)
    rows, next_token = paging.page_query(
        conn, query.order_by(tables.change_logs.c.created_at, tables.change_logs.c.id), token,
        max_results,
        f"changelogs:{assessment_id}:{control_set_id}:{control_id}")
    return [{"objectType": r.object_type, "objectName": r.object_name, "action": r.action,
             "createdAt": r.created_at, "createdBy": r.created_by} for r in rows], next_token


class Notifier:
    def __init__(self, store: Store, sns_topic: Callable[[sa.Connection], str | None],
                 webhook_url: str = "", sns_client_factory: Callable[[str], Any] | None = None):
        self.store = store
        self.sns_topic = sns_topic
        self.webhook_url = webhook_url
        self.sns_client_factory = sns_client_factory or _sns_client

    def record(self, conn: sa.Connection, recipients: set[str], assessment: sa.Row,
               description: str, control_set_id: str | None = None,
               source: str = "Assay") -> list[dict[str, Any]]:
        """Store one notification per recipient; return them for ``publish`` after commit."""
        now = time.time()
        rows = [{
            "id": f"{int(now * 1000)}_{uuid.uuid4()}", "recipient_arn": arn,
            "assessment_id": assessment.id, "assessment_name": assessment.name,
            "control_set_id": control_set_id, "description": description[:2048],
            "event_time": now, "source": source,
        } for arn in sorted(recipients)]
        if rows:
            conn.execute(tables.notifications.insert(), rows)
            topic = self.sns_topic(conn)
            for row in rows:
                row["_topic"] = topic
        return rows

    def publish(self, rows: list[dict[str, Any]]) -> None:
        """Send notifications to the SNS topic and webhook once their transaction has
        committed (``Store.after_commit``); keep any failure on the row."""
        if rows:
            self.store.after_commit(lambda: self._send(rows))

    def _send(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            message = self.as_api(row)
            errors = []
            topic = row.get("_topic")
            if topic:
                try:
                    region = topic.split(":")[3] or None
                    self.sns_client_factory(region).publish(
                        TopicArn=topic, Subject="Assay notification"[:100],
                        Message=json.dumps({**message, "recipient": row["recipient_arn"]}))
                except Exception as exc:  # any delivery failure is recorded, not raised
                    errors.append(f"SNS {topic}: {exc}")
            if self.webhook_url:
                try:
                    request = urllib.request.Request(
                        self.webhook_url, method="POST",
                        data=json.dumps({**message, "recipient": row["recipient_arn"]}).encode(),
                        headers={"content-type": "application/json"})
                    with urllib.request.urlopen(request, timeout=5) as response:
                        response.read()
                except Exception as exc:
                    errors.append(f"webhook {self.webhook_url}: {exc}")
            if errors:
                log.warning("notification %s not delivered: %s", row["id"], "; ".join(errors))
                with self.store.write() as conn:
                    conn.execute(tables.notifications.update()
                                 .where(tables.notifications.c.id == row["id"])
                                 .values(delivery_error="; ".join(errors)))

    @staticmethod
    def as_api(row) -> dict[str, Any]:
        get = row.get if isinstance(row, dict) else row._mapping.get
        return {"id": get("id"), "assessmentId": get("assessment_id"),
                "assessmentName": get("assessment_name"), "controlSetId": get("control_set_id"),
                "controlSetName": get("control_set_id"), "description": get("description"),
                "eventTime": get("event_time"), "source": get("source")}

    def list_for(self, caller: Caller, token: str | None, max_results: int | None):
        with self.store.read() as conn:
            query = (sa.select(tables.notifications)
                     .where(tables.notifications.c.recipient_arn == caller.arn)
                     .order_by(tables.notifications.c.event_time.desc(), tables.notifications.c.id))
            rows, next_token = paging.page_query(conn, query, token, max_results,
                                                 f"notifications:{caller.arn}")
        return [self.as_api(r) for r in rows], next_token


def _sns_client(region: str | None):
    import boto3
    from botocore.config import Config

    return boto3.client("sns", region_name=region, config=Config(
        connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 2}))
