"""The evidence ledger: append-only, hash-chained, sealed with the instance's Ed25519 key.

Every evidence record is canonical JSON, addressed by its SHA-256. Appends come in batches, and
N workers append at once without waiting for each other's work:

1. ``prepare`` (no lock, no write): ids, duplicate check against the ledger, canonical JSON and
   SHA-256 of every record, and the chain inside the batch: ``chain(first) = sha256(GENESIS +
   record_hash)``, ``chain(n) = sha256(chain(n-1) + record_hash(n))``.
2. A contiguous range of positions (``seq``) is reserved from a counter in a transaction of its
   own (PostgreSQL), so no lock is held across the batch, and the records are inserted in one
   COPY (PostgreSQL) or executemany (SQLite).
3. Folder counters are incremented under their rows' locks (only batches filing into the same
   folder meet there).
4. The link, the only serialized step: lock the head row, ``link = head + 1``, ``chain(link) =
   sha256(chain(link-1) + batch_root)`` where the batch root is its last record's chain hash,
   sign the seal (``BATCH_SEAL_FORMAT``), write it and the head, commit.

A batch is one transaction: a worker that dies mid-batch leaves nothing but an unused range of
positions, which no seal claims. Ids are deterministic (UUIDv5 of where the evidence belongs and
what it observed, per collection day), so appending the same observation twice adds it once: a
re-run or a crash mid-run neither duplicates nor loses. ``verify`` proves every record against
its batch and every batch against the signed chain of seals.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import groupby
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Iterator, NamedTuple

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
# Seals of format 1 (before batches): the chain ran over every record in position order.
SEAL_FORMAT = "assay-ledger-seal/v1|{seq}|{chain_hash}|{day}"
# Seals of format 2: one per batch of records first_seq..seq, chained in link order.
BATCH_SEAL_FORMAT = "assay-ledger-seal/v2|{link}|{first_seq}|{seq}|{batch_root}|{chain_hash}|{day}"
_NS_BYTES = LEDGER_NS.bytes
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_ID_CHUNK = 1000
_COLUMNS = ("seq", "id", "assessment_id", "control_set_id", "control_id", "folder_id", "time",
            "record", "record_hash", "chain_hash", "appended_at")
_COPY = f"COPY evidence ({', '.join(_COLUMNS)}) FROM STDIN"
_INSERT = f"INSERT INTO evidence ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_next(previous: str, record_hash: str) -> str:
    return sha256_hex((previous + record_hash).encode())


def day_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def ledger_uuid(key: str) -> str:
    """``str(uuid.uuid5(LEDGER_NS, key))`` (RFC 9562 section 5.5), built from the SHA-1 digest's
    hex directly: the same ids, without UUID objects or byte arrays per record on the
    ingestion path. The version nibble becomes 5; the variant's two top bits become 10."""
    h = hashlib.sha1(_NS_BYTES + key.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def draft_id_prefix(assessment_id: str, control_set_id: str, control_id: str, data_source: str,
                    day: str) -> str:
    """What every evidence id of one control, data source and day is made from, before the
    identity: ``ledger_uuid(draft_id_prefix(...) + identity)`` is the draft's evidence id."""
    return "|".join((assessment_id, control_set_id, control_id, data_source, day, ""))


def folder_id(assessment_id: str, control_set_id: str, control_id: str, data_source: str,
              day: str) -> str:
    return ledger_uuid(f"folder|{assessment_id}|{control_set_id}|{control_id}|{data_source}|{day}")


def seal_message(seal: Any) -> bytes:
    """The bytes a seal's signature covers (a ``ledger_seals`` row or an object with its
    attributes), by its format."""
    if seal.format == 1:
        return SEAL_FORMAT.format(seq=seal.seq, chain_hash=seal.chain_hash, day=seal.day).encode()
    return BATCH_SEAL_FORMAT.format(link=seal.link, first_seq=seal.first_seq, seq=seal.seq,
                                    batch_root=seal.batch_root, chain_hash=seal.chain_hash,
                                    day=seal.day).encode()


class EvidenceDraft(NamedTuple("_Draft", [
        ("assessment_id", str), ("control_set_id", str), ("control_id", str), ("day", str),
        ("identity", str), ("record", dict), ("evidence_id", str)])):
    """Evidence to file under one assessment control. ``record`` holds the Audit Manager
    Evidence fields (dataSource, eventSource, ..., complianceCheck) plus Assay's own
    (region, keyword, sourceType, payload, file); ``identity`` is what makes it unique.

    Built as ``EvidenceDraft(assessment_id, control_set_id, control_id, day, identity,
    record)``; ``evidence_id`` (UUIDv5 of all but the record) is computed then, once. A tuple,
    not a frozen dataclass: one is built per event and control on the ingestion path."""

    __slots__ = ()

    def __new__(cls, assessment_id: str, control_set_id: str, control_id: str, day: str,
                identity: str, record: dict[str, Any]) -> "EvidenceDraft":
        evidence_id = ledger_uuid("|".join((assessment_id, control_set_id, control_id,
                                            record["dataSource"], day, identity)))
        return super().__new__(cls, assessment_id, control_set_id, control_id, day, identity,
                               record, evidence_id)

    @classmethod
    def under(cls, prefix: str, assessment_id: str, control_set_id: str, control_id: str,
              day: str, identity: str, record: dict[str, Any]) -> "EvidenceDraft":
        """The same draft as ``EvidenceDraft(...)``, its id from ``prefix`` =
        ``draft_id_prefix(assessment_id, control_set_id, control_id, record["dataSource"],
        day)`` made once for many drafts (the collection files thousands under one control)."""
        return tuple.__new__(cls, (assessment_id, control_set_id, control_id, day, identity,
                                   record, ledger_uuid(prefix + identity)))

    @property
    def data_source(self) -> str:
        return self.record["dataSource"]


@dataclass
class AppendResult:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    seal_seq: int | None = None


@dataclass(slots=True)
class PreparedRecord:
    """A draft as the ledger will store it: its record, canonical JSON and SHA-256."""

    evidence_id: str
    draft: EvidenceDraft
    folder_id: str
    record: dict[str, Any]
    text: str
    record_hash: str
    chain_hash: str = GENESIS  # in its batch, set by ``_chain``


@dataclass
class PreparedBatch:
    """Drafts made into records by ``Ledger.prepare``, outside any lock: ``records`` are new to
    the ledger (in draft order), ``duplicates`` the ids of drafts repeated in the batch or
    already in the ledger."""

    records: list[PreparedRecord]
    duplicates: list[str]


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
_COUNTERS = ("total", "compliant", "noncompliant", "inconclusive", "configuration_data", "manual",
             "compliance_check", "compliance_issues", "user_activity", "resources_included")


def _chain(records: list[PreparedRecord]) -> None:
    """Chain a batch's records in order (positions are not part of the chain, so this needs
    no lock): chain(first) = sha256(GENESIS + record_hash), then each on the one before."""
    chain = GENESIS
    for r in records:
        chain = r.chain_hash = chain_next(chain, r.record_hash)


def _rows(records: list[PreparedRecord], first_seq: int, now: float) -> list[tuple]:
    """Evidence rows of a chained batch at positions first_seq.., in ``_COLUMNS`` order."""
    return [(seq, r.evidence_id, r.draft.assessment_id, r.draft.control_set_id,
             r.draft.control_id, r.folder_id, float(r.record.get("time") or now), r.text,
             r.record_hash, r.chain_hash, now)
            for seq, r in enumerate(records, first_seq)]


# The position counter's advance on PostgreSQL, one statement in its own transaction whose
# commit does not wait for the WAL flush (``set_config(..., true)`` is SET LOCAL: this
# transaction only). Safe because WAL is flushed in order: a crash can lose the advance only
# with every later commit, the batch that uses the positions included, and positions no
# committed batch holds are free to hand out again. Saves a flush (about 0.3 ms here) per
# append, on the one row every appender updates.
_RESERVE_RELAXED = sa.text(
    "UPDATE ledger_counters SET value = value + :count WHERE name = 'seq' "
    "AND set_config('synchronous_commit', 'off', true) IS NOT NULL RETURNING value")


def _dialect_insert(conn: sa.Connection):
    """INSERT with ON CONFLICT support for the connection's database."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class Ledger:
    def __init__(self, store: Store, signer: Signer, blobs: BlobStore):
        self.store = store
        self.signer = signer
        self.blobs = blobs
        # Called inside the append's transaction with [(seq, record)] of what it added (the
        # evidence finder indexes them).
        self.on_append: list[Callable[[sa.Connection, list[tuple[int, dict]]], None]] = []

    # -- append ---------------------------------------------------------------------------

    def append_batch(self, drafts: Iterable[EvidenceDraft], author: str) -> AppendResult:
        """Append drafts in a transaction of their own: records are prepared (duplicate check,
        canonical JSON, hashes) before the write transaction begins, so parallel appenders only
        wait for each other to link their batches. The batch lands whole or not at all."""
        batch = self.prepare(drafts)
        if not batch.records:
            return AppendResult(duplicates=batch.duplicates)
        with self.store.write() as conn:
            return self.append(conn, batch, author)

    def append(self, conn: sa.Connection, drafts: Iterable[EvidenceDraft] | PreparedBatch,
               author: str, folder_names: dict[tuple[str, str, str], str] | None = None
               ) -> AppendResult:
        """Append drafts (or a batch ``prepare`` made) inside the caller's write transaction, so
        the batch lands whole or not at all with whatever else the caller writes.

        Drafts whose id is already in the ledger are skipped as duplicates (``duplicates``);
        ``added`` lists the ids appended, ``seal_seq`` the position of the batch's seal.
        """
        batch = drafts if isinstance(drafts, PreparedBatch) else self.prepare(drafts, conn)
        result = AppendResult(duplicates=list(batch.duplicates))
        records = batch.records
        now = time.time()
        while records:
            first = self._reserve(conn, len(records))
            rows = _rows(records, first, now)
            try:
                with conn.begin_nested():
                    self._insert(conn, rows)
                break
            except (sa.exc.IntegrityError, conn.dialect.dbapi.IntegrityError):
                # Another appender filed some of these since ``prepare``: they are duplicates
                # now. The reserved range stays unused (no seal claims it).
                taken = self._existing(conn, [r.evidence_id for r in records])
                if not taken:
                    raise
                result.duplicates.extend(r.evidence_id for r in records if r.evidence_id in taken)
                records = [r for r in records if r.evidence_id not in taken]
                _chain(records)  # rare: chained again without them
        if not records:
            return result
        if self.on_append:
            appended = [(first + i, r.record) for i, r in enumerate(records)]
            for hook in self.on_append:
                hook(conn, appended)
        by_folder = sorted(records, key=lambda r: r.folder_id)  # one lock order for everyone
        for fid, group in groupby(by_folder, key=lambda r: r.folder_id):
            members = list(group)
            self._count_into_folder(conn, fid, members[0].draft, [m.record for m in members],
                                    author, now)
        result.added = [r.evidence_id for r in records]
        result.seal_seq = self._link(conn, first, first + len(records) - 1,
                                     records[-1].chain_hash, now)
        return result

    def prepare(self, drafts: Iterable[EvidenceDraft],
                conn: sa.Connection | None = None) -> PreparedBatch:
        """Turn drafts into ledger records without writing or locking anything: drop repeats and
        ids already in the ledger (read through ``conn`` or a read transaction of its own), then
        build each record with its folder and ids, its canonical JSON and SHA-256, and chain
        them in draft order."""
        fresh: dict[str, EvidenceDraft] = {}
        duplicates: list[str] = []
        for draft in drafts:
            evidence_id = draft.evidence_id
            if evidence_id in fresh:
                duplicates.append(evidence_id)
            else:
                fresh[evidence_id] = draft
        if fresh:
            if conn is None:
                with self.store.read() as reader:
                    existing = self._existing(reader, list(fresh))
            else:
                existing = self._existing(conn, list(fresh))
            for evidence_id in existing:
                duplicates.append(evidence_id)
                del fresh[evidence_id]
        folders: dict[tuple, str] = {}
        records = []
        dumps, sort_keys, sha256 = orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.sha256
        for evidence_id, draft in fresh.items():
            assessment_id, control_set_id, control_id, day, _, base, _ = draft
            key = (assessment_id, control_set_id, control_id, base["dataSource"], day)
            fid = folders.get(key)
            if fid is None:
                fid = folders[key] = folder_id(*key)
            record = {**base, "id": evidence_id, "evidenceFolderId": fid,
                      "assessmentId": assessment_id, "controlSetId": control_set_id,
                      "controlId": control_id, "collectionDay": day}
            text = dumps(record, option=sort_keys)  # canonical_json, without a call per record
            records.append(PreparedRecord(evidence_id, draft, fid, record, text.decode(),
                                          sha256(text).hexdigest()))
        _chain(records)
        return PreparedBatch(records, duplicates)

    def ensure_head(self) -> None:
        """Create the chain head row once, before any append: appenders lock it FOR UPDATE,
        and a row that does not exist yet cannot be locked."""
        with self.store.write() as conn:
            if get_document(conn, "ledger_head") is not None:
                return
            try:
                with conn.begin_nested():
                    conn.execute(tables.instance.insert().values(
                        name="ledger_head", value={"link": 0, "chain_hash": GENESIS, "records": 0}))
            except sa.exc.IntegrityError:
                pass  # another process created it first

    @staticmethod
    def _existing(conn: sa.Connection, ids: list[str]) -> set[str]:
        """Which of these ids the ledger holds. Straight to the driver: a statement with a
        thousand bound values is costly to build through SQLAlchemy, once per batch."""
        found: set[str] = set()
        cursor = conn.connection.driver_connection.cursor()
        try:
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start:start + _ID_CHUNK]
                if conn.dialect.name == "postgresql":
                    # One array literal, not a list psycopg adapts item by item (ids are UUIDs:
                    # nothing in them needs quoting).
                    cursor.execute("SELECT id FROM evidence WHERE id = ANY(%s::text[])",
                                   ("{" + ",".join(chunk) + "}",))
                else:
                    cursor.execute(f"SELECT id FROM evidence WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk)
                found.update(row[0] for row in cursor.fetchall())
        finally:
            cursor.close()
        return found

    def _reserve(self, conn: sa.Connection, count: int) -> int:
        """The first of ``count`` consecutive free positions. On PostgreSQL the counter is
        advanced in a transaction of its own, so its row lock lasts one statement, not the
        batch, and that commit does not wait for its WAL flush (``_RESERVE_RELAXED``); on
        SQLite the write transaction already holds the database lock."""
        if conn.dialect.name == "sqlite":
            counter = tables.ledger_counters
            return conn.execute(counter.update().where(counter.c.name == "seq")
                                .values(value=counter.c.value + count)
                                .returning(counter.c.value)).scalar_one() - count + 1
        with self.store.connect() as own:
            own = own.execution_options(isolation_level="AUTOCOMMIT")
            return own.execute(_RESERVE_RELAXED, {"count": count}).scalar_one() - count + 1

    @staticmethod
    def _insert(conn: sa.Connection, rows: list[tuple]) -> None:
        # Straight to the driver: COPY on PostgreSQL, executemany on SQLite. Rows go in id
        # order so that two batches sharing ids wait for each other in one order (no deadlock).
        rows.sort(key=lambda row: row[1])
        driver = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor = driver.cursor()
            try:
                cursor.executemany(_INSERT, rows)
            finally:
                cursor.close()

    def _link(self, conn: sa.Connection, first_seq: int, seq: int, batch_root: str,
              now: float) -> int:
        """Chain the batch to the ledger and seal it: the one step appenders take in turn (the
        head row stays locked until the caller's transaction commits)."""
        head = self._lock_head(conn)
        link = int(head["link"]) + 1
        chain = chain_next(head["chain_hash"], batch_root)
        seal = {"seq": seq, "day": day_of(now), "chain_hash": chain, "key_id": self.signer.key_id,
                "sealed_at": now, "link": link, "first_seq": first_seq, "batch_root": batch_root,
                "format": 2}
        seal["signature"] = self.signer.sign(seal_message(SimpleNamespace(**seal)))
        conn.execute(tables.ledger_seals.insert().values(**seal))
        put_document(conn, "ledger_head", {"link": link, "chain_hash": chain,
                                           "records": int(head.get("records", 0)) + seq - first_seq + 1})
        return seq

    def _lock_head(self, conn: sa.Connection) -> dict[str, Any]:
        # One row holds the chain head; locking it serializes the link step on PostgreSQL (on
        # SQLite the write transaction already holds the database lock).
        return conn.execute(
            sa.select(tables.instance.c.value).where(tables.instance.c.name == "ledger_head")
            .with_for_update()
        ).scalar_one()

    def _count_into_folder(self, conn: sa.Connection, fid: str, draft: EvidenceDraft,
                           records: list[dict], author: str, now: float) -> None:
        """Add records to their folder's counters, under the folder row's lock (concurrent
        appenders to one folder add up instead of overwriting each other)."""
        f = tables.evidence_folders
        locked = sa.select(f).where(f.c.id == fid).with_for_update()
        folder = conn.execute(locked).first()
        if folder is None:
            insert = (_dialect_insert(conn)(f).values(
                id=fid, assessment_id=draft.assessment_id, control_set_id=draft.control_set_id,
                control_id=draft.control_id, data_source=draft.data_source, day=draft.day,
                author=author, event_sources=[], updated_at=now,
                report_selected=0, **{name: 0 for name in _COUNTERS}).on_conflict_do_nothing())
            conn.execute(insert)
            folder = conn.execute(locked).one()
        counts = {name: getattr(folder, name) for name in _COUNTERS}
        sources = set(folder.event_sources)
        # Counted by kind (a batch of one source has one or two kinds), not record by record.
        kinds = Counter((r.get("complianceCheck"), r.get("evidenceByType")) for r in records)
        for (check, by_type), n in kinds.items():
            bucket = compliance_bucket(check)
            counts["total"] += n
            counts[bucket] += n
            counter = _TYPE_COUNTERS.get(by_type)
            if counter:
                counts[counter] += n
            if counter == "compliance_check" and bucket == "noncompliant":
                counts["compliance_issues"] += n
        counts["resources_included"] += sum(len(r["resourcesIncluded"]) for r in records
                                            if r.get("resourcesIncluded"))
        sources.update(r.get("eventSource") for r in records)
        sources.discard(None)
        sources.discard("")
        conn.execute(f.update().where(f.c.id == fid).values(
            **counts, event_sources=sorted(sources), updated_at=now))

    # -- read -----------------------------------------------------------------------------

    @staticmethod
    def record_of(row) -> dict[str, Any]:
        return orjson.loads(row.record)

    def current_head(self) -> dict[str, Any]:
        """``head`` in a read transaction of its own (for `assay ledger verify`)."""
        with self.store.read() as conn:
            return self.head(conn)

    def head(self, conn: sa.Connection) -> dict[str, Any]:
        """``{"link": batches linked, "chain_hash": the chain over them, "records": count}``."""
        return get_document(conn, "ledger_head") or {"link": 0, "chain_hash": GENESIS, "records": 0}

    # -- verify ---------------------------------------------------------------------------

    def verify(self, public_keys: dict[str, Any] | None = None,
               stats: dict[str, int] | None = None) -> Iterator[Finding]:
        """Re-hash every record and blob, walk every batch's chain and the chain of seals, and
        check every seal's signature.

        Yields a Finding per problem; none means the ledger is intact. ``public_keys`` maps key
        ids to Ed25519 public keys (default: this instance's own key). ``stats``, if given, is
        filled with the number of ``records`` and ``batches`` checked.
        """
        keys = public_keys or {self.signer.key_id: self.signer.public_key}
        with self.store.read() as conn:
            seals = conn.execute(sa.select(tables.ledger_seals)
                                 .order_by(tables.ledger_seals.c.link)).all()
            yield from self._verify_seals(seals, self.head(conn), keys)
            rows = conn.execution_options(yield_per=1000).execute(
                sa.select(tables.evidence).order_by(tables.evidence.c.seq))
            walk = _BatchWalk(seals)
            for row in rows:
                yield from walk.row(row)
                yield from self._verify_blobs(row)
            yield from walk.finish()
        if stats is not None:
            stats.update(records=walk.records, batches=len(seals))

    @staticmethod
    def _verify_seals(seals: list, head: dict[str, Any], keys: dict[str, Any]) -> Iterator[Finding]:
        """Signatures, and the chain over batches in link order."""
        previous, expected = GENESIS, 1
        for seal in seals:
            if seal.link > expected:
                yield Finding("removed", None, None,
                              f"the seal(s) of batch(es) #{expected}-#{seal.link - 1} are missing, "
                              "with the records they covered")
                previous = None
            key = keys.get(seal.key_id)
            if key is None:
                yield Finding("seal", seal.seq, None, f"sealed with unknown key {seal.key_id}")
            elif not verify_signature(key, seal.signature, seal_message(seal)):
                yield Finding("seal", seal.seq, None, "the seal's signature is invalid")
            follows = (seal.batch_root == seal.chain_hash if seal.format == 1 else
                       previous is None or chain_next(previous, seal.batch_root) == seal.chain_hash)
            if not follows:
                yield Finding("chain", seal.seq, None,
                              f"the seal of batch #{seal.link} does not follow from the one before")
            previous, expected = seal.chain_hash, seal.link + 1
        if int(head.get("link", 0)) >= expected:
            yield Finding("removed", None, None,
                          f"the ledger head is at batch #{head['link']} but seals end at "
                          f"#{expected - 1}")

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


class _BatchWalk:
    """Checks records, in position order, against the batches their seals describe: each
    position of a batch present once, each record chained to the one before it in the batch,
    the last one's chain hash equal to the sealed batch root, and no record outside a batch."""

    def __init__(self, seals: list):
        self.batches = sorted(seals, key=lambda seal: seal.first_seq)
        # Format 1 batches continue the chain of the seal before them; format 2 start afresh.
        previous = {seal.link: GENESIS for seal in seals}
        for before, seal in zip(seals, seals[1:]):
            previous[seal.link] = before.chain_hash
        self.seed = {seal.link: GENESIS if seal.format == 2 else previous[seal.link]
                     for seal in seals}
        self.index = 0
        self.expected: int | None = None   # next position of the current batch
        self.chain: str | None = None
        self.previous_id: str | None = None
        self.records = 0

    def row(self, row) -> Iterator[Finding]:
        self.records += 1
        while self.index < len(self.batches) and self.batches[self.index].seq < row.seq:
            yield from self._close(row.id)
        batch = self.batches[self.index] if self.index < len(self.batches) else None
        altered = sha256_hex(row.record.encode()) != row.record_hash
        if altered:
            yield Finding("altered", row.seq, row.id,
                          "its content no longer matches its recorded SHA-256")
        if batch is None or row.seq < batch.first_seq:
            yield Finding("inserted", row.seq, row.id,
                          f"record #{row.seq} is not covered by any seal (appended outside Assay)")
        else:
            if self.expected is None:
                self.expected, self.chain = batch.first_seq, self.seed[batch.link]
            if row.seq > self.expected:
                yield self._removed(self.expected, row.seq - 1, row.id)
                self.chain = None  # the link to the removed record cannot be recomputed
            if not altered and self.chain is not None and \
                    chain_next(self.chain, row.record_hash) != row.chain_hash:
                yield Finding("chain", row.seq, row.id,
                              "its chain hash does not follow from the previous record "
                              "(edited, re-chained or inserted)")
            self.chain, self.expected = row.chain_hash, row.seq + 1
            if row.seq == batch.seq and row.chain_hash != batch.batch_root:
                yield Finding("chain", batch.seq, None,
                              f"the chain at this sealed position differs from the seal of records "
                              f"#{batch.first_seq}-#{batch.seq}: a record at or before "
                              f"#{batch.seq} was altered, removed or inserted")
        self.previous_id = row.id

    def finish(self) -> Iterator[Finding]:
        while self.index < len(self.batches):
            yield from self._close(None)

    def _close(self, next_id: str | None) -> Iterator[Finding]:
        batch = self.batches[self.index]
        start = batch.first_seq if self.expected is None else self.expected
        if start <= batch.seq:
            yield self._removed(start, batch.seq, next_id)
        self.index += 1
        self.expected = self.chain = None

    def _removed(self, first: int, last: int, next_id: str | None) -> Finding:
        missing = f"#{first}" if first == last else f"#{first}-#{last}"
        return Finding("removed", first, None,
                       f"record(s) {missing} are missing between "
                       f"{self.previous_id or 'the start'} and {next_id or 'the end'}")
