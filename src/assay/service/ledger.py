"""The evidence ledger: append-only, hash-chained, sealed with the instance's Ed25519 key.

Every evidence record is canonical JSON, addressed by its SHA-256. Records are chained in
append order: ``chain(n) = sha256(chain(n-1) + record_hash(n))``. Each append batch ends with a
seal, a signature over the new chain head, so no record is ever left unsealed: a record that was
edited, removed or inserted afterwards shows up in ``verify``. Ids are deterministic (UUIDv5 of
where the evidence belongs and what it observed, per collection day), so appending the same
observation twice adds it once: a re-run or a crash mid-run neither duplicates nor loses.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

import orjson
import sqlalchemy as sa

from ..model.evidence import (COMPLIANCE_CHECK, CONFIGURATION_DATA, MANUAL, USER_ACTIVITY,
                              compliance_bucket)
from ..store import Store, tables
from ..store.blobs import BlobStore, sha256_of
from .instance import get_document, put_document
from .signing import Signer, verify_signature

LEDGER_NS = uuid.UUID("0b8f7a52-7d0e-4c0a-9a3f-3c1f0f6b2e11")
GENESIS = "0" * 64
SEAL_FORMAT = "assay-ledger-seal/v1|{seq}|{chain_hash}|{day}"


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_next(previous: str, record_hash: str) -> str:
    return sha256_hex((previous + record_hash).encode())


def day_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def folder_id(assessment_id: str, control_set_id: str, control_id: str, data_source: str,
              day: str) -> str:
    key = f"folder|{assessment_id}|{control_set_id}|{control_id}|{data_source}|{day}"
    return str(uuid.uuid5(LEDGER_NS, key))


@dataclass(frozen=True)
class EvidenceDraft:
    """Evidence to file under one assessment control. ``record`` holds the Audit Manager
    Evidence fields (dataSource, eventSource, ..., complianceCheck) plus Assay's own
    (region, keyword, sourceType, payload, file); ``identity`` is what makes it unique."""

    assessment_id: str
    control_set_id: str
    control_id: str
    day: str
    identity: str
    record: dict[str, Any]

    @property
    def data_source(self) -> str:
        return self.record["dataSource"]

    @functools.cached_property  # asked for by the runner and the ledger: hash once
    def evidence_id(self) -> str:
        key = "|".join((self.assessment_id, self.control_set_id, self.control_id,
                        self.data_source, self.day, self.identity))
        return str(uuid.uuid5(LEDGER_NS, key))


@dataclass
class AppendResult:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    seal_seq: int | None = None


@dataclass(frozen=True)
class Finding:
    """One thing ``verify`` found wrong."""

    kind: str          # altered | removed | inserted | chain | seal | blob
    seq: int | None
    evidence_id: str | None
    detail: str

    def __str__(self) -> str:
        where = f"record #{self.seq}" if self.seq is not None else "ledger"
        who = f" ({self.evidence_id})" if self.evidence_id else ""
        return f"{self.kind}: {where}{who}: {self.detail}"


# Folder counters touched by one record, by evidenceByType.
_TYPE_COUNTERS = {
    CONFIGURATION_DATA: "configuration_data",
    MANUAL: "manual",
    COMPLIANCE_CHECK: "compliance_check",
    USER_ACTIVITY: "user_activity",
}


class Ledger:
    def __init__(self, store: Store, signer: Signer, blobs: BlobStore):
        self.store = store
        self.signer = signer
        self.blobs = blobs
        # Called inside the append's transaction with [(seq, record)] of what it added (the
        # evidence finder indexes them).
        self.on_append: list[Callable[[sa.Connection, list[tuple[int, dict]]], None]] = []

    # -- append ---------------------------------------------------------------------------

    def append(self, conn: sa.Connection, drafts: Iterable[EvidenceDraft], author: str,
               folder_names: dict[tuple[str, str, str], str] | None = None) -> AppendResult:
        """Append drafts inside the caller's transaction (so a batch lands whole or not at all).

        Drafts whose id is already in the ledger are skipped as duplicates.
        """
        result = AppendResult()
        fresh: dict[str, EvidenceDraft] = {}
        for draft in drafts:
            evidence_id = draft.evidence_id
            if evidence_id in fresh:
                result.duplicates.append(evidence_id)
            else:
                fresh[evidence_id] = draft
        if not fresh:
            return result
        existing = set()
        ids = list(fresh)
        for start in range(0, len(ids), 500):
            existing |= set(conn.execute(
                sa.select(tables.evidence.c.id).where(tables.evidence.c.id.in_(ids[start:start + 500]))
            ).scalars())
        for evidence_id in existing:
            result.duplicates.append(evidence_id)
            del fresh[evidence_id]
        if not fresh:
            return result

        seq, chain = self._lock_head(conn)
        now = time.time()
        rows, folders, appended = [], {}, []
        for evidence_id, draft in fresh.items():
            fid = folder_id(draft.assessment_id, draft.control_set_id, draft.control_id,
                            draft.data_source, draft.day)
            record = {**draft.record, "id": evidence_id, "evidenceFolderId": fid,
                      "assessmentId": draft.assessment_id, "controlSetId": draft.control_set_id,
                      "controlId": draft.control_id, "collectionDay": draft.day}
            text = canonical_json(record)
            record_hash = sha256_hex(text)
            seq += 1
            chain = chain_next(chain, record_hash)
            rows.append({
                "seq": seq, "id": evidence_id, "assessment_id": draft.assessment_id,
                "control_set_id": draft.control_set_id, "control_id": draft.control_id,
                "folder_id": fid, "time": float(record.get("time") or now),
                "record": text.decode(), "record_hash": record_hash, "chain_hash": chain,
                "appended_at": now,
            })
            folders.setdefault(fid, (draft, []))[1].append(record)
            appended.append((seq, record))
            result.added.append(evidence_id)
        conn.execute(tables.evidence.insert(), rows)
        for hook in self.on_append:
            hook(conn, appended)
        for fid, (draft, records) in folders.items():
            self._count_into_folder(conn, fid, draft, records, author, now)
        self._put_head(conn, seq, chain)
        result.seal_seq = self._seal(conn, seq, chain, now)
        return result

    def ensure_head(self) -> None:
        """Create the chain head row once, before any append: appenders lock it FOR UPDATE,
        and a row that does not exist yet cannot be locked."""
        with self.store.write() as conn:
            if get_document(conn, "ledger_head") is not None:
                return
            try:
                with conn.begin_nested():
                    conn.execute(tables.instance.insert().values(
                        name="ledger_head", value={"seq": 0, "chain_hash": GENESIS}))
            except sa.exc.IntegrityError:
                pass  # another process created it first

    def _lock_head(self, conn: sa.Connection) -> tuple[int, str]:
        # One row holds the chain head; locking it serializes appenders on PostgreSQL (on
        # SQLite the write transaction already holds the database lock).
        row = conn.execute(
            sa.select(tables.instance.c.value).where(tables.instance.c.name == "ledger_head")
            .with_for_update()
        ).one()
        return int(row.value["seq"]), row.value["chain_hash"]

    def _put_head(self, conn: sa.Connection, seq: int, chain: str) -> None:
        put_document(conn, "ledger_head", {"seq": seq, "chain_hash": chain})

    def _seal(self, conn: sa.Connection, seq: int, chain: str, now: float) -> int:
        day = day_of(now)
        signature = self.signer.sign(SEAL_FORMAT.format(seq=seq, chain_hash=chain, day=day).encode())
        conn.execute(tables.ledger_seals.insert().values(
            seq=seq, day=day, chain_hash=chain, key_id=self.signer.key_id, signature=signature,
            sealed_at=now))
        return seq

    def _count_into_folder(self, conn: sa.Connection, fid: str, draft: EvidenceDraft,
                           records: list[dict], author: str, now: float) -> None:
        folder = conn.execute(
            sa.select(tables.evidence_folders).where(tables.evidence_folders.c.id == fid)
        ).first()
        counts = dict(folder._mapping) if folder else {
            "id": fid, "assessment_id": draft.assessment_id, "control_set_id": draft.control_set_id,
            "control_id": draft.control_id, "data_source": draft.data_source, "day": draft.day,
            "author": author, "total": 0, "compliant": 0, "noncompliant": 0, "inconclusive": 0,
            "configuration_data": 0, "manual": 0, "compliance_check": 0, "compliance_issues": 0,
            "user_activity": 0, "resources_included": 0, "report_selected": 0, "event_sources": [],
        }
        sources = set(counts["event_sources"])
        for record in records:
            counts["total"] += 1
            counts[compliance_bucket(record.get("complianceCheck"))] += 1
            counter = _TYPE_COUNTERS.get(record.get("evidenceByType"))
            if counter:
                counts[counter] += 1
            if record.get("evidenceByType") == COMPLIANCE_CHECK and \
                    compliance_bucket(record.get("complianceCheck")) == "noncompliant":
                counts["compliance_issues"] += 1
            counts["resources_included"] += len(record.get("resourcesIncluded") or [])
            if record.get("eventSource"):
                sources.add(record["eventSource"])
        counts["event_sources"] = sorted(sources)
        counts["updated_at"] = now
        if folder:
            conn.execute(tables.evidence_folders.update()
                         .where(tables.evidence_folders.c.id == fid).values(**counts))
        else:
            conn.execute(tables.evidence_folders.insert().values(**counts))

    # -- read -----------------------------------------------------------------------------

    @staticmethod
    def record_of(row) -> dict[str, Any]:
        return orjson.loads(row.record)

    def head(self, conn: sa.Connection) -> dict[str, Any]:
        return get_document(conn, "ledger_head") or {"seq": 0, "chain_hash": GENESIS}

    def seals_covering(self, conn: sa.Connection, seqs: Iterable[int]) -> list[dict[str, Any]]:
        """The seals under which records at these positions are chained (the first seal at or
        after each), for report digests."""
        wanted = sorted(set(seqs))
        if not wanted:
            return []
        rows = conn.execute(
            sa.select(tables.ledger_seals).where(tables.ledger_seals.c.seq >= wanted[0])
            .order_by(tables.ledger_seals.c.seq)
        ).all()
        chosen, index = [], 0
        for row in rows:
            if index >= len(wanted):
                break
            if row.seq >= wanted[index]:
                chosen.append({"seq": row.seq, "day": row.day, "chainHash": row.chain_hash,
                               "keyId": row.key_id, "signature": row.signature})
                while index < len(wanted) and wanted[index] <= row.seq:
                    index += 1
        return chosen

    # -- verify ---------------------------------------------------------------------------

    def verify(self, public_keys: dict[str, Any] | None = None) -> Iterator[Finding]:
        """Re-hash every record and blob, walk the chain and check every seal.

        Yields a Finding per problem; none means the ledger is intact. ``public_keys`` maps key
        ids to Ed25519 public keys (default: this instance's own key).
        """
        keys = public_keys or {self.signer.key_id: self.signer.public_key}
        with self.store.read() as conn:
            seals = {row.seq: row for row in conn.execute(
                sa.select(tables.ledger_seals).order_by(tables.ledger_seals.c.seq))}
            head = self.head(conn)
            chain_at: dict[int, str] = {}
            ids_at: dict[int, str] = {}
            expected_seq, chain, previous_id = 1, GENESIS, None
            rows = conn.execution_options(yield_per=1000).execute(
                sa.select(tables.evidence).order_by(tables.evidence.c.seq))
            for row in rows:
                if row.seq > expected_seq:
                    missing = (f"#{expected_seq}" if row.seq == expected_seq + 1
                               else f"#{expected_seq}-#{row.seq - 1}")
                    yield Finding("removed", expected_seq, None,
                                  f"record(s) {missing} are missing between "
                                  f"{previous_id or 'the start'} and {row.id}")
                    chain = None  # the link to the removed record cannot be recomputed
                actual_hash = sha256_hex(row.record.encode())
                if actual_hash != row.record_hash:
                    yield Finding("altered", row.seq, row.id,
                                  "its content no longer matches its recorded SHA-256")
                elif chain is not None and chain_next(chain, row.record_hash) != row.chain_hash:
                    yield Finding("chain", row.seq, row.id,
                                  "its chain hash does not follow from the previous record "
                                  "(edited, re-chained or inserted)")
                yield from self._verify_blobs(row)
                chain = row.chain_hash
                chain_at[row.seq] = row.chain_hash
                ids_at[row.seq] = row.id
                expected_seq, previous_id = row.seq + 1, row.id
            last_seq = expected_seq - 1
            if head["seq"] > last_seq:
                yield Finding("removed", last_seq + 1, None,
                              f"the ledger head is at #{head['seq']} but records end at #{last_seq}")

        sealed_to = 0
        for seq, seal in seals.items():
            message = SEAL_FORMAT.format(seq=seq, chain_hash=seal.chain_hash, day=seal.day).encode()
            key = keys.get(seal.key_id)
            if key is None:
                yield Finding("seal", seq, None, f"sealed with unknown key {seal.key_id}")
            elif not verify_signature(key, seal.signature, message):
                yield Finding("seal", seq, None, "the seal's signature is invalid")
            elif seq in chain_at and chain_at[seq] != seal.chain_hash:
                yield Finding("chain", seq, None,
                              "the chain at this sealed position differs from the seal: a record "
                              f"at or before #{seq} was altered, removed or inserted")
            sealed_to = max(sealed_to, seq)
        for seq in sorted(s for s in chain_at if s > sealed_to):
            yield Finding("inserted", seq, ids_at[seq],
                          f"record #{seq} is not covered by any seal (appended outside Assay)")

    def _verify_blobs(self, row) -> Iterator[Finding]:
        record = orjson.loads(row.record)
        blob = (record.get("file") or {})
        digest = blob.get("sha256")
        if not digest:
            return
        if not self.blobs.exists(digest):
            yield Finding("blob", row.seq, row.id, f"its file {blob.get('name')} is missing")
            return
        with self.blobs.open(digest) as stream:
            actual, _ = sha256_of(stream)
        if actual != digest:
            yield Finding("blob", row.seq, row.id,
                          f"its file {blob.get('name')} no longer matches its SHA-256")
