"""A ledger written before batch seals (one chain over every record, format 1 seals) is still
proved by `assay ledger verify` after the upgrade, takes new batches after it, and tampering
with its old records is still named."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from support import backends, database_url

from assay.config import load_settings
from assay.service import open_services
from assay.service.ledger import GENESIS, SEAL_FORMAT, EvidenceDraft, chain_next, day_of, sha256_hex
from assay.service.signing import load_signer
from assay.store import Store, tables

ASSAY = str(Path(sys.executable).with_name("assay"))


def verify(home: Path, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([ASSAY, "ledger", "verify", "--home", str(home)],
                          env={**os.environ, "ASSAY_DB_URL": url}, capture_output=True, text=True,
                          timeout=120)


def write_legacy_ledger(store: Store, home: Path) -> None:
    """What the ledger looked like at revision 0005: seq-ordered chain, a v1 seal per append."""
    signer = load_signer(home, None)
    now = time.time()
    chain, seq, rows, seals = GENESIS, 0, [], []
    for batch in ([1, 2, 3], [4, 5]):
        for n in batch:
            seq += 1
            record = orjson.dumps({"id": f"legacy-{n}", "dataSource": "Manual",
                                   "textResponse": f"answer {n}"}, option=orjson.OPT_SORT_KEYS).decode()
            record_hash = sha256_hex(record.encode())
            chain = chain_next(chain, record_hash)
            rows.append({"seq": seq, "id": f"00000000-0000-4000-8000-00000000000{n}",
                         "assessment_id": "a", "control_set_id": "Set", "control_id": "c",
                         "folder_id": "f", "time": now, "record": record,
                         "record_hash": record_hash, "chain_hash": chain, "appended_at": now})
        day = day_of(now)
        seals.append({"seq": seq, "day": day, "chain_hash": chain, "key_id": signer.key_id,
                      "sealed_at": now, "signature": signer.sign(
                          SEAL_FORMAT.format(seq=seq, chain_hash=chain, day=day).encode())})
    evidence = sa.table("evidence", *[sa.column(c) for c in rows[0]])
    legacy_seals = sa.table("ledger_seals", *[sa.column(c) for c in seals[0]])
    with store.engine.begin() as conn:
        conn.execute(evidence.insert(), rows)
        conn.execute(legacy_seals.insert(), seals)
        conn.execute(tables.instance.insert().values(
            name="ledger_head", value={"seq": seq, "chain_hash": chain}))


@pytest.mark.parametrize("backend", backends())
def test_a_ledger_from_before_batches_still_verifies(backend, tmp_path):
    url, database = database_url(backend, tmp_path)
    store = Store(url)
    try:
        store.upgrade("0005")
        write_legacy_ledger(store, tmp_path)
        store.dispose()

        done = verify(tmp_path, url)  # migrates to the newest revision first
        assert done.returncode == 0, done.stderr
        assert "ledger OK: 5 records in 2 sealed batches" in done.stdout

        services = open_services(load_settings(tmp_path, db_url=url))
        try:
            result = services.ledger.append_batch([EvidenceDraft(
                "a", "Set", "c", "2026-11-30", f"new-{i}",
                {"dataSource": "Manual", "evidenceByType": "Manual", "textResponse": f"new {i}"})
                for i in range(3)], author="test")
            assert len(result.added) == 3 and result.seal_seq == 8
            done = verify(tmp_path, url)
            assert done.returncode == 0, done.stderr
            assert "ledger OK: 8 records in 3 sealed batches" in done.stdout

            # Rewriting an old record, its hash and every chain hash after it in its batch
            # cannot forge the old seal.
            with services.store.write() as conn:
                old = conn.execute(sa.select(tables.evidence).where(
                    tables.evidence.c.seq.in_([1, 2, 3])).order_by(tables.evidence.c.seq)).all()
                forged = old[1].record.replace("answer 2", "forged")
                forged_hash = sha256_hex(forged.encode())
                second = chain_next(old[0].chain_hash, forged_hash)
                third = chain_next(second, old[2].record_hash)
                conn.execute(tables.evidence.update().where(tables.evidence.c.seq == 2).values(
                    record=forged, record_hash=forged_hash, chain_hash=second))
                conn.execute(tables.evidence.update().where(tables.evidence.c.seq == 3).values(
                    chain_hash=third))
            done = verify(tmp_path, url)
            assert done.returncode == 1
            assert "chain: record #3: the chain at this sealed position differs" in done.stderr
        finally:
            services.close()
    finally:
        store.dispose()
        if database is not None:
            database.drop()
