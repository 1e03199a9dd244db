"""Parallel appends to the ledger: several processes (and threads) file evidence into the same
folder at once, through the call the collection runner makes (``CollectionService.append``),
with overlapping ids; one process is SIGKILLed in the middle of a batch while it holds the
ledger head. Afterwards every acknowledged record is there exactly once, the killed batch is
not, re-running the killed worker files what it had not, the folder's counters add up (read
through boto3), and `assay ledger verify` is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from support import one_control_assessment, walk

from assay.service.ledger import EvidenceDraft, ledger_uuid
from assay.store import tables

ASSAY = str(Path(sys.executable).with_name("assay"))
SOURCES = [{"sourceName": "sign-ins", "sourceType": "AWS_Cloudtrail",
            "sourceSetUpOption": "System_Controls_Mapping",
            "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                              "keywordValue": "signin_ConsoleLogin"}}]
BATCHES, SIZE, SHARED = 5, 40, 10
DAY = "2026-11-30"

WORKER = r'''
import sys, time
import orjson
from assay.config import load_settings
from assay.service import open_services
from assay.service.ledger import EvidenceDraft, Ledger

home, db_url, assessment_id, control_id, name, day, batches, size, shared, die_at = sys.argv[1:11]
batches, size, shared, die_at = int(batches), int(size), int(shared), int(die_at)
services = open_services(load_settings(home, db_url=db_url))
current = {"batch": -1}
original = Ledger._lock_head

def pausing(self, conn):
    head = original(self, conn)
    if current["batch"] == die_at:
        print("LINKING", flush=True)
        time.sleep(120)  # killed here: holding the head, its rows written, nothing committed
    return head

Ledger._lock_head = pausing

def draft(identity):
    return EvidenceDraft(assessment_id, "Set", control_id, day, identity, {
        "dataSource": "AWS CloudTrail", "sourceType": "AWS_Cloudtrail",
        "evidenceByType": "User activity", "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "time": 1.0, "identity": identity,
        "payload": {"eventID": identity}})

for batch in range(batches):
    current["batch"] = batch
    drafts = [draft(f"{name}-{batch}-{i}") for i in range(size - shared)]
    drafts += [draft(f"shared-{batch}-{i}") for i in range(shared)]  # every worker files these
    result = services.collection.append(drafts)
    print("ACK " + orjson.dumps({"batch": batch, "added": result.added,
                                 "duplicates": result.duplicates}).decode(), flush=True)
services.close()
'''


def evidence_id(assessment_id: str, control_id: str, identity: str) -> str:
    return ledger_uuid("|".join((assessment_id, "Set", control_id, "AWS CloudTrail", DAY, identity)))


def expected_ids(assessment_id: str, control_id: str, workers: list[str]) -> set[str]:
    identities = {f"{w}-{b}-{i}" for w in workers for b in range(BATCHES) for i in range(SIZE - SHARED)}
    identities |= {f"shared-{b}-{i}" for b in range(BATCHES) for i in range(SHARED)}
    return {evidence_id(assessment_id, control_id, identity) for identity in identities}


@pytest.fixture
def assessment(server):
    assessment_id, control_id = one_control_assessment(server, f"parallel {os.urandom(4).hex()}",
                                                       SOURCES)
    return {"id": assessment_id, "control_id": control_id}


def verify(server) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSAY_DB_URL": server.services.settings.database_url}
    return subprocess.run([ASSAY, "ledger", "verify", "--home", str(server.home)], env=env,
                          capture_output=True, text=True, timeout=300)


def start_worker(server, script: Path, assessment: dict, name: str, die_at: int = -1):
    return subprocess.Popen(
        [sys.executable, str(script), str(server.home), server.services.settings.database_url,
         assessment["id"], assessment["control_id"], name, DAY, str(BATCHES), str(SIZE),
         str(SHARED), str(die_at)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acks(lines: list[str]) -> list[dict]:
    return [orjson.loads(line[4:]) for line in lines if line.startswith("ACK ")]


def stored_ids(server, assessment_id: str) -> list[str]:
    with server.services.store.read() as conn:
        return list(conn.execute(sa.select(tables.evidence.c.id).where(
            tables.evidence.c.assessment_id == assessment_id)).scalars())


def check_folder_through_api(server, assessment: dict, count: int) -> None:
    """The folder's counters and its evidence, as an Audit Manager client reads them."""
    client = server.client()
    folders = client.get_evidence_folders_by_assessment_control(
        assessmentId=assessment["id"], controlSetId="Set",
        controlId=assessment["control_id"])["evidenceFolders"]
    assert [f["totalEvidence"] for f in folders] == [count]
    listed = [item["id"] for item in walk(
        client.get_evidence_by_evidence_folder, "evidence", page_size=1000,
        assessmentId=assessment["id"], controlSetId="Set", evidenceFolderId=folders[0]["id"])]
    assert len(listed) == len(set(listed)) == count


def test_processes_append_at_once_and_one_is_killed_mid_batch(server, assessment, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    names = ["w1", "w2", "w3"]
    victim = start_worker(server, script, assessment, "w3", die_at=2)
    others = [start_worker(server, script, assessment, name) for name in names[:2]]
    victim_lines = []
    for line in victim.stdout:
        if line.strip() == "LINKING":
            break
        victim_lines.append(line)
    else:
        pytest.fail(f"the victim never reached its third batch: {victim.stderr.read()}")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    acknowledged = acks(victim_lines)
    assert [a["batch"] for a in acknowledged] == [0, 1]
    for process in others:
        out, errors = process.communicate(timeout=600)
        assert process.returncode == 0, errors
        acknowledged += acks(out.splitlines())

    ids = stored_ids(server, assessment["id"])
    assert len(ids) == len(set(ids))  # nothing twice
    acked = {i for a in acknowledged for i in a["added"] + a["duplicates"]}
    assert acked <= set(ids)          # nothing acknowledged lost
    killed = {evidence_id(assessment["id"], assessment["control_id"], f"w3-2-{i}")
              for i in range(SIZE - SHARED)}
    assert not killed & set(ids)      # the killed batch left nothing
    added = [i for a in acknowledged for i in a["added"]]
    assert len(added) == len(set(added)) == len(ids)  # each record added by exactly one appender
    assert verify(server).returncode == 0

    # The killed worker runs again (as its job would): it adds what it had not, nothing twice.
    rerun = start_worker(server, script, assessment, "w3")
    out, errors = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, errors
    ids = stored_ids(server, assessment["id"])
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(assessment["id"], assessment["control_id"], names)
    check_folder_through_api(server, assessment, len(ids))
    done = verify(server)
    assert done.returncode == 0, done.stderr
    assert "ledger OK" in done.stdout


def test_threads_append_at_once(server, assessment):
    """Threads of one process share its engine (on SQLite: one database, one writer at a time)."""
    day = DAY
    names = [f"t{n}" for n in range(4)]
    results, failures = [], []

    def work(name: str) -> None:
        try:
            for batch in range(BATCHES):
                identities = [f"{name}-{batch}-{i}" for i in range(SIZE - SHARED)]
                identities += [f"shared-{batch}-{i}" for i in range(SHARED)]
                drafts = [EvidenceDraft(assessment["id"], "Set", assessment["control_id"], day,
                                        identity, {"dataSource": "AWS CloudTrail",
                                                   "evidenceByType": "User activity",
                                                   "eventSource": "signin.amazonaws.com",
                                                   "time": 1.0, "identity": identity})
                          for identity in identities]
                results.append(server.services.collection.append(drafts))
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's name
            failures.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert failures == []
    ids = stored_ids(server, assessment["id"])
    expected = expected_ids(assessment["id"], assessment["control_id"], names)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    added = [i for r in results for i in r.added]
    assert sorted(added) == sorted(ids)
    duplicates = [i for r in results for i in r.duplicates]
    assert len(added) + len(duplicates) == len(names) * BATCHES * SIZE
    check_folder_through_api(server, assessment, len(ids))
    done = verify(server)
    assert done.returncode == 0, done.stderr


def test_ids_filed_by_another_appender_after_prepare_become_duplicates(server, assessment):
    """The duplicate check runs before the write transaction; what another appender commits in
    between is caught by the unique index, and the rest of the batch still lands."""
    drafts = [EvidenceDraft(assessment["id"], "Set", assessment["control_id"], DAY, f"race-{i}",
                            {"dataSource": "AWS CloudTrail", "evidenceByType": "User activity",
                             "eventSource": "signin.amazonaws.com", "time": 1.0})
              for i in range(10)]
    ledger = server.services.ledger
    prepared = ledger.prepare(drafts)
    assert prepared.duplicates == [] and len(prepared.records) == 10
    first = ledger.append_batch(drafts[:4], author="another worker")
    with server.services.store.write() as conn:
        result = ledger.append(conn, prepared, author="this worker")
    ids = [d.evidence_id for d in drafts]
    assert first.added == ids[:4]
    assert result.duplicates == ids[:4] and result.added == ids[4:]
    assert sorted(stored_ids(server, assessment["id"])) == sorted(ids)
    check_folder_through_api(server, assessment, 10)
    done = verify(server)
    assert done.returncode == 0, done.stderr


def test_text_lands_as_filed_through_copy_and_executemany(server, assessment):
    """Rows go to PostgreSQL by COPY and to SQLite by executemany: a control set id with tabs,
    newlines and backslashes, and records with escapes and non-ASCII text, read back as they
    were filed, and verify."""
    from assay.service.ledger import canonical_json

    odd = "Set\t1 \\n\n\r\\ é ✓"
    payload = {"text": "tab\t back\\slash \"q\" \u2028 é \\\\N", "n": [1.5, None]}
    drafts = [EvidenceDraft(assessment["id"], odd, assessment["control_id"], DAY, f"odd-{i}",
                            {"dataSource": "AWS CloudTrail", "evidenceByType": "User activity",
                             "time": 1.5, "payload": payload}) for i in range(3)]
    result = server.services.collection.append(drafts)
    assert sorted(result.added) == sorted(d.evidence_id for d in drafts)
    e = tables.evidence
    with server.services.store.read() as conn:
        rows = conn.execute(sa.select(e.c.id, e.c.control_set_id, e.c.time, e.c.record)
                            .where(e.c.assessment_id == assessment["id"],
                                   e.c.control_set_id == odd)).all()
    assert len(rows) == 3 and {row.control_set_id for row in rows} == {odd}
    for row in rows:
        record = orjson.loads(row.record)
        assert record["payload"] == payload and record["controlSetId"] == odd
        assert row.time == record["time"] and canonical_json(record).decode() == row.record
    done = verify(server)
    assert done.returncode == 0, done.stderr
