"""The evidence ledger: tamper with a record, a blob and the chain, and `assay ledger verify`
names each one; an untouched ledger verifies clean. Also: re-appends add nothing, and a batch
import killed mid-flight leaves all of it or none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa
from support import assay_in_process

from assay.service.ledger import EvidenceDraft, chain_next, sha256_hex
from assay.store import tables

ASSAY = str(Path(sys.executable).with_name("assay"))
MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


def verify(server, own_process: bool = False) -> subprocess.CompletedProcess:
    """`assay ledger verify` on the server's instance: its exit code, stdout and stderr;
    ``own_process``: as a user types it, else in this process (support.assay_in_process)."""
    env = {"ASSAY_DB_URL": server.services.settings.database_url}
    args = ["ledger", "verify", "--home", str(server.home)]
    if own_process:
        return subprocess.run([ASSAY, *args], env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=120)
    return assay_in_process(*args, env=env)


@pytest.fixture(scope="module")
def populated(server):
    admin = server.client()
    control = admin.create_control(name="ledger control", controlMappingSources=MANUAL)["control"]
    framework = admin.create_assessment_framework(name="ledger framework", controlSets=[
        {"name": "Set", "controls": [{"id": control["id"]}]}])["framework"]
    assessment = admin.create_assessment(
        name="ledger", frameworkId=framework["id"], scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]
    aid = assessment["metadata"]["id"]
    upload = admin.get_evidence_file_upload_url(fileName="config.txt")
    assert httpx.put(upload["uploadUrl"], content=b"password policy: 14 chars").status_code == 200
    for batch in range(3):
        items = [{"textResponse": f"answer {batch}-{i}"} for i in range(3)]
        if batch == 0:
            items.append({"evidenceFileName": upload["evidenceFileName"]})
        assert admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control["id"],
            manualEvidence=items)["errors"] == []
    return {"assessment_id": aid, "control_id": control["id"]}


def rows(server):
    with server.services.store.read() as conn:
        return conn.execute(sa.select(tables.evidence).order_by(tables.evidence.c.seq)).all()


def test_untouched_ledger_is_clean(server, populated):
    done = verify(server, own_process=True)
    assert done.returncode == 0, done.stderr
    assert "ledger OK: 10 records" in done.stdout


def test_edited_record_is_named(server, populated):
    target = rows(server)[4]
    record = orjson.loads(target.record)
    record["textResponse"] = "something else"
    with server.services.store.write() as conn:
        conn.execute(tables.evidence.update().where(tables.evidence.c.seq == target.seq)
                     .values(record=orjson.dumps(record).decode()))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert f"altered: record #{target.seq} ({target.id})" in done.stderr
    finally:
        with server.services.store.write() as conn:
            conn.execute(tables.evidence.update().where(tables.evidence.c.seq == target.seq)
                         .values(record=target.record))
    assert verify(server).returncode == 0


def test_rehashed_and_rechained_edit_is_caught_by_the_seals(server, populated):
    """An attacker who recomputes the record hash and every chain hash after it still cannot
    forge the seals."""
    all_rows = rows(server)
    target = all_rows[2]
    record = orjson.loads(target.record)
    record["textResponse"] = "forged"
    text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    chain = all_rows[1].chain_hash
    updates = []
    for row in all_rows[2:]:
        body = text if row.seq == target.seq else row.record
        record_hash = sha256_hex(body.encode())
        chain = chain_next(chain, record_hash)
        updates.append((row.seq, body, record_hash, chain))
    with server.services.store.write() as conn:
        for seq, body, record_hash, chain_hash in updates:
            conn.execute(tables.evidence.update().where(tables.evidence.c.seq == seq).values(
                record=body, record_hash=record_hash, chain_hash=chain_hash))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert "chain:" in done.stderr and "at or before #" in done.stderr
    finally:
        with server.services.store.write() as conn:
            for row in all_rows[2:]:
                conn.execute(tables.evidence.update().where(tables.evidence.c.seq == row.seq).values(
                    record=row.record, record_hash=row.record_hash, chain_hash=row.chain_hash))
    assert verify(server).returncode == 0


def test_deleted_record_is_named(server, populated):
    all_rows = rows(server)
    target = all_rows[5]
    with server.services.store.write() as conn:
        conn.execute(tables.evidence.delete().where(tables.evidence.c.seq == target.seq))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert f"removed: record #{target.seq}" in done.stderr
        assert all_rows[4].id in done.stderr and all_rows[6].id in done.stderr
    finally:
        with server.services.store.write() as conn:
            conn.execute(tables.evidence.insert().values(**target._mapping))
    assert verify(server).returncode == 0


def test_inserted_record_is_named(server, populated):
    last = rows(server)[-1]
    forged = dict(last._mapping)
    record = orjson.loads(last.record)
    record["id"] = forged["id"] = "99999999-9999-4999-8999-999999999999"
    forged["record"] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    forged["record_hash"] = sha256_hex(forged["record"].encode())
    forged["chain_hash"] = chain_next(last.chain_hash, forged["record_hash"])
    forged["seq"] = last.seq + 1
    with server.services.store.write() as conn:
        conn.execute(tables.evidence.insert().values(**forged))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert f"inserted: record #{forged['seq']} ({forged['id']})" in done.stderr
    finally:
        with server.services.store.write() as conn:
            conn.execute(tables.evidence.delete().where(tables.evidence.c.seq == forged["seq"]))
    assert verify(server).returncode == 0


def test_edited_chain_link_is_named(server, populated):
    target = rows(server)[3]
    with server.services.store.write() as conn:
        conn.execute(tables.evidence.update().where(tables.evidence.c.seq == target.seq)
                     .values(chain_hash="f" * 64))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert f"chain: record #{target.seq} ({target.id})" in done.stderr
    finally:
        with server.services.store.write() as conn:
            conn.execute(tables.evidence.update().where(tables.evidence.c.seq == target.seq)
                         .values(chain_hash=target.chain_hash))
    assert verify(server).returncode == 0


def test_altered_blob_is_named(server, populated):
    with_file = next(r for r in rows(server) if "file" in orjson.loads(r.record))
    digest = orjson.loads(with_file.record)["file"]["sha256"]
    path = Path(server.services.blobs.path_hint(digest))
    original = path.read_bytes()
    path.write_bytes(original.replace(b"14", b"08"))
    try:
        done = verify(server)
        assert done.returncode == 1
        assert f"blob: record #{with_file.seq} ({with_file.id})" in done.stderr
        assert "config.txt no longer matches" in done.stderr
    finally:
        path.write_bytes(original)
    assert verify(server).returncode == 0


def test_appending_the_same_evidence_again_adds_nothing(server, populated):
    before = rows(server)
    record = orjson.loads(before[0].record)
    draft = EvidenceDraft(record["assessmentId"], record["controlSetId"], record["controlId"],
                          record["collectionDay"], f"text:{sha256_hex(record['textResponse'].encode())}",
                          {k: v for k, v in record.items() if k not in
                           ("id", "evidenceFolderId", "assessmentId", "controlSetId", "controlId",
                            "collectionDay")})
    assert draft.evidence_id == before[0].id
    with server.services.store.write() as conn:
        result = server.services.ledger.append(conn, [draft, draft], author="test")
    assert result.added == [] and result.duplicates == [before[0].id, before[0].id]
    assert len(rows(server)) == len(before)


KILLER = r'''
import sys, time
from assay.config import load_settings
from assay.service import open_services
from assay.service.ledger import EvidenceDraft, Ledger

home, db_url, assessment_id, control_id = sys.argv[1:5]
services = open_services(load_settings(home, db_url=db_url))
original = Ledger._count_into_folder

def slow(self, *args, **kwargs):
    original(self, *args, **kwargs)
    print("APPENDING", flush=True)
    time.sleep(60)  # killed here: rows are written but the transaction never commits

Ledger._count_into_folder = slow
drafts = [EvidenceDraft(assessment_id, "Set", control_id, "2026-11-27", f"kill-{i}",
                        {"dataSource": "Manual", "evidenceByType": "Manual", "time": 1.0,
                         "textResponse": f"kill {i}"}) for i in range(50)]
with services.store.write() as conn:
    services.ledger.append(conn, drafts, author="killer")
'''


def test_kill_during_batch_leaves_all_or_nothing(server, populated, tmp_path):
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    before = len(rows(server))
    process = subprocess.Popen(
        [sys.executable, str(script), str(server.home), server.services.settings.database_url,
         populated["assessment_id"], populated["control_id"]],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "APPENDING"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(0.2)
    assert len(rows(server)) == before  # none of the batch
    assert verify(server).returncode == 0
    # The ledger still takes appends after the crash, and the batch lands whole.
    admin = server.client()
    assert admin.batch_import_evidence_to_assessment_control(
        assessmentId=populated["assessment_id"], controlSetId="Set",
        controlId=populated["control_id"],
        manualEvidence=[{"textResponse": f"after {i}"} for i in range(50)])["errors"] == []
    assert len(rows(server)) == before + 50
    assert verify(server).returncode == 0
