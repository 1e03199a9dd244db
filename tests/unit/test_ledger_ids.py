"""Evidence and folder ids are UUIDv5 (RFC 9562) in the ledger's namespace: the fast builder
gives exactly what ``uuid.uuid5`` gives, so ids of evidence filed before it stay the same."""

from __future__ import annotations

import uuid

from assay.service.ledger import LEDGER_NS, EvidenceDraft, folder_id, ledger_uuid


def test_ledger_uuid_is_uuid5():
    for key in ["", "a", "folder|x|Set|c|AWS CloudTrail|2026-11-30", "é|ü|✓" * 40,
                *(f"assessment|Set|control|AWS Config|2026-11-30|rule-{i}" for i in range(500))]:
        assert ledger_uuid(key) == str(uuid.uuid5(LEDGER_NS, key))


def test_draft_and_folder_ids():
    draft = EvidenceDraft("a1", "Set", "c1", "2026-11-30", "AWS_Config|RULE|111122223333|r1",
                          {"dataSource": "AWS Config"})
    assert draft.evidence_id == str(uuid.uuid5(
        LEDGER_NS, "a1|Set|c1|AWS Config|2026-11-30|AWS_Config|RULE|111122223333|r1"))
    assert draft.data_source == "AWS Config"
    assert folder_id("a1", "Set", "c1", "AWS Config", "2026-11-30") == str(uuid.uuid5(
        LEDGER_NS, "folder|a1|Set|c1|AWS Config|2026-11-30"))


def test_a_draft_under_a_prefix_is_the_same_draft():
    from assay.service.ledger import draft_id_prefix

    record = {"dataSource": "AWS CloudTrail"}
    prefix = draft_id_prefix("a1", "Set", "c1", "AWS CloudTrail", "2026-11-30")
    for identity in ("AWS_Cloudtrail|signin_ConsoleLogin|111122223333|e1", "", "é|x"):
        made = EvidenceDraft("a1", "Set", "c1", "2026-11-30", identity, record)
        under = EvidenceDraft.under(prefix, "a1", "Set", "c1", "2026-11-30", identity, record)
        assert under == made and under.evidence_id == made.evidence_id
        assert isinstance(under, EvidenceDraft) and under.data_source == "AWS CloudTrail"
