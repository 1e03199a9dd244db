"""Framework sharing: StartAssessmentFrameworkShare and its workflow (docs/sharing.md).

An Assay instance is one account. A share to the instance's own account is delivered locally:
a SENT row and a RECEIVED row side by side. A share to another account goes to a registered
peer instance over Assay's internal, SigV4-signed endpoint (api/handlers/sharing.py), and every
answer (accept, decline, revoke) is told to the other side the same way, so both sides read
the same status.

Statuses. Stored: ACTIVE (awaiting the recipient), REPLICATING (being delivered to a peer),
SHARED (accepted: the recipient has its copy), DECLINED, REVOKED, FAILED (delivery failed).
Read: an ACTIVE request within the last 30 days of its 120 reads EXPIRING, and after them
EXPIRED (as does one left REPLICATING); both are computed from ``expirationTime`` at read
time, with ``clock``.

A request's two rows have different ids (one instance may hold both): the RECEIVED row's id is
derived from the SENT row's, so either side can name the other's without storing it."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import sqlalchemy as sa

from ..store import tables
from . import paging
from .auth import SHARE_FRAMEWORKS, Caller
from .errors import AccessDeniedError, NotFoundError, ServiceError, ValidationError

if TYPE_CHECKING:
    from botocore.credentials import Credentials

log = logging.getLogger("assay.sharing")

SENT, RECEIVED = "SENT", "RECEIVED"
ACTIVE, REPLICATING, SHARED = "ACTIVE", "REPLICATING", "SHARED"
EXPIRING, EXPIRED, FAILED = "EXPIRING", "EXPIRED", "FAILED"
DECLINED, REVOKED = "DECLINED", "REVOKED"
DAY = 86400
LIFETIME = 120 * DAY  # Audit Manager: recipients have 120 days to answer
EXPIRING_WINDOW = 30 * DAY  # ... and are reminded in the last 30
PEER_TIMEOUT = 15  # seconds
RESOURCE = "assessmentFrameworkShareRequest"
FRAMEWORK_NAME_MAX = CONTROL_NAME_MAX = 300
_NAMESPACE = uuid.UUID("2f4b8a3e-5d1c-4e7a-9b60-3c8d2e1f0a57")
_ACTIONS = {RECEIVED: {"ACCEPT": SHARED, "DECLINE": DECLINED}, SENT: {"REVOKE": REVOKED}}
# Who tells whom: the recipient reports SHARED / DECLINED to the sender, the sender REVOKED.
_TOLD_TO = {SHARED: SENT, DECLINED: SENT, REVOKED: RECEIVED}
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")


def received_id(sent_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"received:{sent_id}"))


def free_name(name: str, taken: set[str], limit: int) -> str:
    """``name``, or ``name (shared)``, ``name (shared 2)``, ... : the first one not taken."""
    number = 1
    candidate = name
    while candidate in taken:
        suffix = " (shared)" if number == 1 else f" (shared {number})"
        candidate = name[:limit - len(suffix)] + suffix
        number += 1
    return candidate


@dataclass(frozen=True)
class Peer:
    account_id: str
    endpoint_url: str
    access_key_id: str
    created_at: float
    inbound_key_id: str | None = None  # the key this instance issued to the peer


def _peer_of(row) -> Peer:
    return Peer(row.account_id, row.endpoint_url, row.access_key_id, row.created_at,
                row.inbound_key_id)


class PeerUnavailable(ServiceError):
    """The other instance of a share could not be told; nothing changed here."""

    code = "InternalServerException"
    status = 500


class SharingService:
    def __init__(self, services):
        self.services = services
        self.store = services.store
        self.account_id = services.account_id
        # Injectable for tests of the 120-day expiry.
        self.clock: Callable[[], float] = time.time

    # -- peers (host administration, like access keys) ---------------------------------

    def add_peer(self, account_id: str, endpoint_url: str, access_key_id: str,
                 secret_access_key: str, inbound_key_id: str) -> Peer:
        """Register a peer: where it is, the key it issued to this instance (to call it), and
        ``inbound_key_id``, the key this instance issued to it: the only key whose signature
        a delivery or an answer from ``account_id`` is accepted with."""
        if not _ACCOUNT_RE.match(account_id or ""):
            raise ValidationError.field("account", "An account id is 12 digits.")
        if account_id == self.account_id:
            raise ValidationError.field("account", f"{account_id} is this instance's own "
                                                   "account; shares to it are delivered locally.")
        if not re.match(r"^https?://[^/\s]+", endpoint_url or ""):
            raise ValidationError.field("endpointUrl", "The endpoint URL is http(s)://host[:port].")
        if not access_key_id or not secret_access_key:
            raise ValidationError.field("accessKeyId", "A peer needs an access key and its secret.")
        if self.services.keys.authenticate(inbound_key_id or "") is None:
            raise ValidationError.field("inboundKeyId", (
                f"{inbound_key_id or '(none)'} is not an active access key of this instance: "
                "create one for the peer (assay keys create) and give its id."))
        secret = self.services.keys.cipher.encrypt(secret_access_key.encode()).decode()
        values = dict(endpoint_url=endpoint_url.rstrip("/"), access_key_id=access_key_id,
                      secret_encrypted=secret, created_at=time.time(),
                      inbound_key_id=inbound_key_id)
        with self.store.write() as conn:
            updated = conn.execute(tables.peers.update()
                                   .where(tables.peers.c.account_id == account_id).values(**values))
            if updated.rowcount == 0:
                conn.execute(tables.peers.insert().values(account_id=account_id, **values))
            return self._peer(conn, account_id)

    def peers(self) -> list[Peer]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(tables.peers).order_by(tables.peers.c.account_id)).all()
        return [_peer_of(r) for r in rows]

    def remove_peer(self, account_id: str) -> None:
        with self.store.write() as conn:
            removed = conn.execute(tables.peers.delete()
                                   .where(tables.peers.c.account_id == account_id))
            if removed.rowcount == 0:
                raise NotFoundError("peer", account_id)

    def _require_signed_by(self, conn: sa.Connection, caller: Caller, account: str) -> None:
        """A delivery or answer "from" ``account`` must be signed with the key this instance
        issued to that peer; any other key (a local process owner's, another peer's) is
        refused, whatever the body claims."""
        peer = self._peer(conn, account) if account != self.account_id else None
        if peer is None or not peer.inbound_key_id or caller.key_id != peer.inbound_key_id:
            raise AccessDeniedError(
                f"{caller.arn} may not speak for account {account}: only the key issued to that "
                "peer (assay peers add --inbound-key-id) may deliver or answer its shares.")

    def _peer(self, conn: sa.Connection, account_id: str) -> Peer | None:
        row = conn.execute(sa.select(tables.peers)
                           .where(tables.peers.c.account_id == account_id)).first()
        return row and _peer_of(row)

    # -- the Audit Manager operations ----------------------------------------------------

    def start(self, caller: Caller, framework_id: str, destination_account: str,
              destination_region: str, comment: str | None) -> dict[str, Any]:
        caller.require(SHARE_FRAMEWORKS)
        if framework_id in self.services.library.frameworks:
            raise ValidationError.field("frameworkId", "Standard frameworks are in every "
                                        "library already; only custom frameworks are shared.")
        local = destination_account == self.account_id
        if local and destination_region == caller.region:
            raise ValidationError.field("destinationRegion", (
                "The destination is this account and Region, which already has the framework."))
        now = self.clock()
        with self.store.write() as conn:
            if not local and self._peer(conn, destination_account) is None:
                raise ValidationError.field("destinationAccount", (
                    f"Account {destination_account} is neither this instance's account "
                    f"({self.account_id}) nor a registered peer (assay peers add)."))
            framework = self.services.frameworks.describe(conn, caller.region, framework_id)
            self._refuse_duplicate(conn, framework_id, destination_account, destination_region)
            row = self._new_row(framework, destination_account, destination_region, comment, now)
            row["status"] = ACTIVE if local else REPLICATING
            conn.execute(tables.framework_shares.insert().values(**row))
            if local:
                conn.execute(tables.framework_shares.insert().values(**self._received(row)))
            sent = self._row(conn, row["id"], SENT)
        if not local:
            delivered = self._deliver(sent)
            shares = tables.framework_shares
            with self.store.write() as conn:
                # Only a request still being delivered: the recipient may have answered already.
                conn.execute(shares.update().where(
                    (shares.c.id == row["id"]) & (shares.c.direction == SENT)
                    & (shares.c.status == REPLICATING)
                ).values(status=delivered, last_updated=self.clock()))
        with self.store.read() as conn:
            return self._describe(self._row(conn, row["id"], SENT))

    def redeliver_stale(self, older_than: float = 300) -> int:
        """Deliver again the shares a crash left REPLICATING (delivery is idempotent at the
        recipient); the schedule calls this on every tick. Returns how many were retried."""
        shares = tables.framework_shares
        cutoff = self.clock() - older_than
        with self.store.read() as conn:
            stale = conn.execute(sa.select(shares).where(
                shares.c.direction == SENT, shares.c.status == REPLICATING,
                shares.c.last_updated < cutoff)).all()
        for sent in stale:
            delivered = self._deliver(sent)
            with self.store.write() as conn:
                conn.execute(shares.update().where(
                    (shares.c.id == sent.id) & (shares.c.direction == SENT)
                    & (shares.c.status == REPLICATING)
                ).values(status=delivered, last_updated=self.clock()))
        return len(stale)

    def list(self, caller: Caller, request_type: str, token: str | None,
             max_results: int | None) -> tuple[list[dict], str | None]:
        caller.require(SHARE_FRAMEWORKS)
        shares = tables.framework_shares
        with self.store.read() as conn:
            rows = conn.execute(sa.select(shares).where(shares.c.direction == request_type)
                                .order_by(shares.c.creation_time.desc(), shares.c.id)).all()
        items = [self._describe(row) for row in rows]
        return paging.page(items, token, max_results, f"shares:{request_type}")

    def update(self, caller: Caller, request_id: str, request_type: str,
               action: str) -> dict[str, Any]:
        caller.require(SHARE_FRAMEWORKS)
        new_status = _ACTIONS[request_type].get(action)
        if new_status is None:
            allowed = " or ".join(_ACTIONS[request_type])
            raise ValidationError.field("action", f"A {request_type} share request takes "
                                                  f"{allowed}, not {action}.")
        with self.store.read() as conn:
            row = self._row(conn, request_id, request_type)
        self._require_open(row, action)
        # One transaction around the copy into the library, the status change and telling the
        # other side: if any of it fails (the other instance cannot be told), nothing changes.
        with self.store.write() as conn:
            if action == "ACCEPT":
                self._copy_into_library(caller, row, conn)
            moved = conn.execute(self._transition(row.id, row.direction, new_status))
            if moved.rowcount == 0:
                raise ValidationError.field("requestId", "The share request changed "
                                                         "meanwhile; read it again.")
            self._tell_other_side(conn, row, new_status)
        with self.store.read() as conn:
            return self._describe(self._row(conn, request_id, request_type))

    def delete(self, caller: Caller, request_id: str, request_type: str) -> None:
        caller.require(SHARE_FRAMEWORKS)
        with self.store.write() as conn:
            row = self._row(conn, request_id, request_type)
            status = self.status(row)
            if status in (ACTIVE, REPLICATING, EXPIRING):
                raise ValidationError.field("requestId", (
                    f"The share request is {status}; revoke or decline it first (Audit Manager "
                    "keeps open requests)."))
            conn.execute(tables.framework_shares.delete().where(
                (tables.framework_shares.c.id == request_id)
                & (tables.framework_shares.c.direction == request_type)))

    # -- the internal endpoint: what a peer tells this instance --------------------------

    def receive(self, caller: Caller, request: dict[str, Any], payload: dict[str, Any]) -> dict:
        """A peer delivers a share to this instance's account. Delivery is idempotent."""
        caller.require(SHARE_FRAMEWORKS)
        if request["destinationAccount"] != self.account_id:
            raise ValidationError.field("destinationAccount", (
                f"This instance is account {self.account_id}, not {request['destinationAccount']}."))
        source = request["sourceAccount"]
        with self.store.write() as conn:
            if self._peer(conn, source) is None:
                # Answers go back over the peer list, so a sender this instance cannot answer
                # is refused up front rather than left waiting for 120 days.
                raise ValidationError.field("sourceAccount", (
                    f"Account {source} is not a registered peer of account {self.account_id}; "
                    "register it there with assay peers add."))
            self._require_signed_by(conn, caller, source)
            row = self._sent_row_from(request, payload)
            existing = conn.execute(sa.select(tables.framework_shares.c.id).where(
                tables.framework_shares.c.id == received_id(row["id"]))).first()
            if existing is None:
                conn.execute(tables.framework_shares.insert().values(**self._received(row)))
            return self._describe(self._row(conn, received_id(row["id"]), RECEIVED))

    def told(self, caller: Caller, sent_id: str, status: str) -> dict:
        """The other side of a share answered: the recipient SHARED or DECLINED it, or the
        sender REVOKED it. Repeating an answer is harmless."""
        caller.require(SHARE_FRAMEWORKS)
        direction = _TOLD_TO.get(status)
        if direction is None:
            raise ValidationError.field("status", f"{status} is not an answer to a share request.")
        request_id = sent_id if direction == SENT else received_id(sent_id)
        with self.store.write() as conn:
            row = self._row(conn, request_id, direction)
            # Only the other side of this share may answer it: its account's registered key.
            self._require_signed_by(conn, caller, row.destination_account if direction == SENT
                                    else row.source_account)
            if row.status != status:
                # A recipient may answer before the sender has marked its delivery done.
                self._require_open(row, status, (ACTIVE, EXPIRING, REPLICATING))
                conn.execute(self._transition(row.id, direction, status, (ACTIVE, REPLICATING)))
            return self._describe(self._row(conn, request_id, direction))

    # -- rows and statuses ----------------------------------------------------------------

    def status(self, row) -> str:
        now = self.clock()
        # A delivery a crash left REPLICATING ends like an unanswered request.
        if row.status in (ACTIVE, REPLICATING) and now >= row.expiration_time:
            return EXPIRED
        if row.status == ACTIVE and now >= row.expiration_time - EXPIRING_WINDOW:
            return EXPIRING
        return row.status

    def _require_open(self, row, action: str, open_statuses=(ACTIVE, EXPIRING)) -> None:
        status = self.status(row)
        if status not in open_statuses:
            raise ValidationError.field("requestId", (
                f"The share request is {status}; only an ACTIVE or EXPIRING request can take "
                f"{action}."))

    def _transition(self, request_id: str, direction: str, status: str,
                    open_statuses: tuple[str, ...] = (ACTIVE,)):
        """Move an open, unexpired request to ``status`` (a no-op if it changed meanwhile)."""
        shares = tables.framework_shares
        return shares.update().where(
            (shares.c.id == request_id) & (shares.c.direction == direction)
            & shares.c.status.in_(open_statuses) & (shares.c.expiration_time > self.clock())
        ).values(status=status, last_updated=self.clock())

    def _row(self, conn: sa.Connection, request_id: str, direction: str):
        shares = tables.framework_shares
        row = conn.execute(sa.select(shares).where(
            (shares.c.id == request_id) & (shares.c.direction == direction))).first()
        if row is None:
            raise NotFoundError(RESOURCE, request_id,
                                f"There is no {direction} share request {request_id}.")
        return row

    def _describe(self, row) -> dict[str, Any]:
        return {
            "id": row.id, "frameworkId": row.framework_id, "frameworkName": row.framework_name,
            "frameworkDescription": row.framework_description or None,
            "status": self.status(row), "sourceAccount": row.source_account,
            "destinationAccount": row.destination_account,
            "destinationRegion": row.destination_region,
            "expirationTime": row.expiration_time, "creationTime": row.creation_time,
            "lastUpdated": row.last_updated, "comment": row.comment or None,
            "standardControlsCount": row.standard_controls_count,
            "customControlsCount": row.custom_controls_count,
            "complianceType": row.compliance_type or None,
        }

    def _refuse_duplicate(self, conn, framework_id: str, account: str, region: str) -> None:
        shares = tables.framework_shares
        rows = conn.execute(sa.select(shares).where(
            (shares.c.direction == SENT) & (shares.c.framework_id == framework_id)
            & (shares.c.destination_account == account)
            & (shares.c.destination_region == region))).all()
        if any(self.status(r) in (ACTIVE, EXPIRING, REPLICATING) for r in rows):
            raise ValidationError.field("frameworkId", (
                f"This framework already has an open share request to {account} in {region}."))

    def _new_row(self, framework: dict, account: str, region: str, comment: str | None,
                 now: float) -> dict[str, Any]:
        """A SENT row with a snapshot of the framework and its custom controls: the recipient
        gets the framework as it was when shared, as in Audit Manager."""
        # Imported here: frameworks as code (and its JSON Schema) load only when a share is
        # made, not in every process that opens the services.
        from ..fac.canonical import share_definition

        controls = {c["id"]: c for s in framework["controlSets"] for c in s["controls"]}
        custom = [c for c in controls.values() if c["type"] == "Custom"]
        payload = {
            "controlSets": [{"name": s["name"],
                             "controls": [{"id": c["id"], "type": c["type"]} for c in s["controls"]]}
                            for s in framework["controlSets"]],
            "controls": [{"id": c["id"], **share_definition(c)} for c in custom],
        }
        return dict(
            id=str(uuid.uuid4()), direction=SENT, framework_id=framework["id"],
            framework_name=framework["name"], framework_description=framework.get("description"),
            compliance_type=framework.get("complianceType"), source_account=self.account_id,
            destination_account=account, destination_region=region, comment=comment,
            standard_controls_count=len(controls) - len(custom),
            custom_controls_count=len(custom), payload=payload,
            expiration_time=now + LIFETIME, creation_time=now, last_updated=now,
        )

    def _received(self, sent: dict[str, Any]) -> dict[str, Any]:
        payload = {**sent["payload"], "sentRequestId": sent["id"]}
        return {**sent, "id": received_id(sent["id"]), "direction": RECEIVED, "status": ACTIVE,
                "payload": payload}

    @staticmethod
    def _sent_row_from(request: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return dict(
            id=request["id"], direction=SENT, framework_id=request["frameworkId"],
            framework_name=request["frameworkName"],
            framework_description=request.get("frameworkDescription"),
            compliance_type=request.get("complianceType"),
            source_account=request["sourceAccount"],
            destination_account=request["destinationAccount"],
            destination_region=request["destinationRegion"], comment=request.get("comment"),
            standard_controls_count=request.get("standardControlsCount"),
            custom_controls_count=request.get("customControlsCount"), payload=payload,
            expiration_time=request["expirationTime"], creation_time=request["creationTime"],
            last_updated=request["lastUpdated"], status=ACTIVE,
        )

    # -- accepting: the copy into the recipient's library ----------------------------------

    def _copy_into_library(self, caller: Caller, row, conn: sa.Connection) -> None:
        """Create the shared custom controls and the framework in ``conn``'s transaction,
        renaming on a name collision (``name (shared)``), standard controls by id."""
        payload = row.payload
        library = self.services.library
        missing = sorted({c["id"] for s in payload["controlSets"] for c in s["controls"]
                          if c["type"] == "Standard" and c["id"] not in library.controls})
        if missing:
            raise ValidationError.field("requestId", (
                "The shared framework uses standard controls this library does not have "
                f"({', '.join(missing)}); decline it, or accept it on a newer Assay."))
        control_names = set(conn.execute(sa.select(tables.controls.c.name)).scalars())
        framework_names = set(conn.execute(sa.select(tables.frameworks.c.name)).scalars())
        framework_names |= {f.name for f in library.frameworks.values()}
        ids = {}
        for control in payload["controls"]:
            definition = {k: v for k, v in control.items() if k != "id"}
            definition["name"] = free_name(definition["name"], control_names, CONTROL_NAME_MAX)
            control_names.add(definition["name"])
            ids[control["id"]] = self.services.controls.create(caller, definition, conn)["id"]
        self.services.frameworks.create(caller, {
            "name": free_name(row.framework_name, framework_names, FRAMEWORK_NAME_MAX),
            "description": row.framework_description or None,
            "complianceType": row.compliance_type or None,
            "controlSets": [{"name": s["name"],
                             "controls": [{"id": ids.get(c["id"], c["id"])} for c in s["controls"]]}
                            for s in payload["controlSets"]],
        }, conn)

    # -- the other side -------------------------------------------------------------------

    def _tell_other_side(self, conn: sa.Connection, row, status: str) -> None:
        sent_id = row.id if row.direction == SENT else row.payload["sentRequestId"]
        if row.source_account == row.destination_account == self.account_id:
            direction = _TOLD_TO[status]
            conn.execute(self._transition(sent_id if direction == SENT else received_id(sent_id),
                                          direction, status))
            return
        account = row.destination_account if row.direction == SENT else row.source_account
        self._call_peer(self._peer_access(conn, account), "PUT", f"/_assay/shares/{sent_id}",
                        {"status": status}, row.destination_region)

    def _deliver(self, sent) -> str:
        """Send a SENT request to its destination peer: ACTIVE once it has it, FAILED if not."""
        request = {**self._describe(sent), "status": ACTIVE}
        try:
            with self.store.read() as conn:
                access = self._peer_access(conn, sent.destination_account)
            self._call_peer(access, "POST", "/_assay/shares",
                            {"request": request, "payload": sent.payload},
                            sent.destination_region)
        except PeerUnavailable as exc:
            log.warning("share %s: %s", sent.id, exc.message)
            return FAILED
        return ACTIVE

    def _peer_access(self, conn: sa.Connection, account: str) -> tuple[Peer, Credentials]:
        row = conn.execute(sa.select(tables.peers)
                           .where(tables.peers.c.account_id == account)).first()
        if row is None:
            raise PeerUnavailable(f"Account {account} is not a registered peer (assay peers "
                                  "add); the share cannot be answered.")
        secret = self.services.keys.cipher.decrypt(row.secret_encrypted.encode()).decode()
        peer = _peer_of(row)
        from botocore.credentials import Credentials  # botocore loads only for peer calls

        return peer, Credentials(row.access_key_id, secret)

    def _call_peer(self, access: tuple[Peer, Credentials], method: str, path: str, body: dict,
                   region: str) -> dict:
        """One SigV4-signed call to a peer's internal endpoint; PeerUnavailable if it fails."""
        peer, credentials = access
        account = peer.account_id
        url = peer.endpoint_url + path
        data = json.dumps(body).encode()
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=data,
                             headers={"content-type": "application/json"})
        SigV4Auth(credentials, "auditmanager", region).add_auth(request)
        prepared = request.prepare()
        http = urllib.request.Request(url, data=data, method=method, headers=dict(prepared.headers))
        try:
            with urllib.request.urlopen(http, timeout=PEER_TIMEOUT) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            raise PeerUnavailable(f"Account {account} at {peer.endpoint_url} refused: "
                                  f"{exc.code} {detail}")
        except (urllib.error.URLError, OSError) as exc:
            raise PeerUnavailable(f"Account {account} at {peer.endpoint_url} could not be "
                                  f"reached: {exc}")
