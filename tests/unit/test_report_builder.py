"""The report builder without a database: synthetic assessments and ledger rows in, a zip
out; what it refuses to sign; and memory that does not grow with the evidence count."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
import tracemalloc
import zipfile

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.reports import layout
from assay.reports.builder import (BuildError, EvidenceRow, ReportContext, SealRow,
                                   build_report)
from assay.reports.verify import verify_report
from assay.service.signing import Signer

NOW = 1_780_000_000.0
FILE = b"%PDF-1.4 policy"
FILE_HASH = hashlib.sha256(FILE).hexdigest()


def context(controls: int = 3) -> ReportContext:
    return ReportContext(
        report={"id": "11111111-2222-4333-8444-555555555555", "name": "r1",
                "description": "d", "author": "olivia", "authorArn": "arn:aws:iam::1:role/olivia",
                "createdAt": NOW},
        assessment={"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "name": "Audit: FY26",
                    "description": None, "status": "ACTIVE", "region": "us-east-1",
                    "createdAt": "2026-05-01 00:00 UTC",
                    "framework": {"id": "f", "name": "SOC 2", "description": None,
                                  "complianceType": None},
                    "accounts": [{"id": "111122223333", "name": None, "email": None}],
                    "owners": [{"name": "olivia", "arn": "arn:aws:iam::1:role/olivia"}],
                    "evidenceTotals": {"evidence": 636, "compliant": 300, "failed": 214,
                                       "inconclusive": 122, "selected": 12}},
        control_sets=[{"id": "Set A", "status": "ACTIVE", "controls": [
            {"id": f"c{i}", "name": f"Control {i}", "status": "UNDER_REVIEW",
             "response": "AUTOMATE", "description": None, "testingInformation": None,
             "actionPlanTitle": None, "actionPlanInstructions": None, "domain": "Logging",
             "sources": ["AWS Config"], "comments": []} for i in range(controls)]}],
        relative_path="s3://assay/x/y.zip")


def record(i: int, control: str = "c0", with_file: bool = False) -> dict:
    out = {"id": f"{i:08d}-0000-4000-8000-000000000000", "dataSource": "AWS Config",
           "eventSource": "config.amazonaws.com", "eventName": "RULE",
           "evidenceByType": "Compliance check",
           "complianceCheck": "NON_COMPLIANT" if i % 5 == 0 else "COMPLIANT",
           "time": NOW + i, "evidenceAwsAccountId": "111122223333", "collectionDay": "2026-05-28",
           "controlId": control, "controlSetId": "Set A", "payload": {"i": i, "pad": "x" * 300}}
    if with_file:
        out.update({"dataSource": "Manual", "evidenceByType": "Manual", "complianceCheck": None,
                    "file": {"name": "policy.pdf", "sha256": FILE_HASH, "size": len(FILE)}})
    return out


def rows(count: int, controls: int = 3, files: int = 0):
    for i in range(1, count + 1):
        text = orjson.dumps(record(i, f"c{i % controls}", i <= files),
                            option=orjson.OPT_SORT_KEYS).decode()
        yield EvidenceRow(i, f"{i:08d}-0000-4000-8000-000000000000", "Set A", f"c{i % controls}",
                          text, hashlib.sha256(text.encode()).hexdigest())


def seals(last: int, every: int = 1000):
    for seq in list(range(every, last + 1, every)) + ([last] if last % every else []):
        yield SealRow(seq, "2026-05-28", "0" * 64, "k", "sig")


def blobs(digest: str):
    assert digest == FILE_HASH
    return io.BytesIO(FILE)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def build(signer, evidence, seal_rows, **kwargs) -> bytes:
    out = io.BytesIO()
    build_report(out, context(), evidence, seal_rows, blobs, signer, generated_at=NOW, **kwargs)
    return out.getvalue()


def test_a_report_verifies_and_lists_its_seals(signer, tmp_path):
    data = build(signer, rows(30, files=2), seals(30, every=10))
    path = tmp_path / "r.zip"
    path.write_bytes(data)
    result = verify_report(path, signer.public_key)
    assert result.valid, result.errors
    with zipfile.ZipFile(path) as archive:
        root = layout.root("Audit: FY26", context().assessment["id"], "r1", context().report["id"])
        digest = orjson.loads(archive.read(f"{root}/digest.json"))
        assert [s["seq"] for s in digest["ledgerSeals"]] == [10, 20, 30]
        files = [f for f in digest["files"] if f["path"].endswith("_policy.pdf")]
        assert len(files) == 2 and all(f["sha256"] == FILE_HASH for f in files)
        assert digest["report"]["evidenceCount"] == 30
        sums = archive.read(f"{root}/checksums.sha256").decode().splitlines()
        assert len(sums) == len(digest["files"]) - 1  # all but checksums.sha256 itself
        assert all(line[64:66] == "  " for line in sums)


def test_a_record_that_no_longer_matches_the_ledger_stops_the_build(signer):
    evidence = list(rows(5))
    evidence[2] = replace(evidence[2], record=evidence[2].record.replace("RULE", "EDITED"))
    with pytest.raises(BuildError, match="ledger record #3"):
        build(signer, evidence, seals(5))


def test_a_file_that_no_longer_matches_stops_the_build(signer):
    def altered(digest):
        return io.BytesIO(FILE + b"!")

    with pytest.raises(BuildError, match="policy.pdf .*no longer matches"):
        build_report(io.BytesIO(), context(), rows(3, files=1), seals(3), altered, signer)


def test_unsealed_evidence_and_unknown_controls_stop_the_build(signer):
    with pytest.raises(BuildError, match="not covered by any ledger seal"):
        build(signer, rows(10), seals(5, every=5))
    stray = next(rows(1))
    stray = replace(stray, control_id="nope")
    with pytest.raises(BuildError, match="does not have"):
        build(signer, [stray], seals(1))


def _peak(count: int, signer) -> int:
    tracemalloc.start()
    try:
        build_report(_Sink(), context(), rows(count), seals(count), blobs, signer,
                     generated_at=NOW)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class _Sink(io.RawIOBase):
    def writable(self):
        return True

    def write(self, data):
        return len(data)


def test_memory_does_not_grow_with_the_evidence_count(signer):
    small, large = _peak(1_000, signer), _peak(10_000, signer)
    # 10 times the evidence, about the same memory (the PDF's data and one record at a time).
    assert large < small * 1.5 + 2_000_000, (small, large)
