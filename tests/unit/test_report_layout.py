"""Report paths and names, the streaming zip writer, and the verifier's key ids."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.reports import layout
from assay.reports.verify import key_id_of as verifier_key_id
from assay.reports.zipstream import ZipStreamWriter
from assay.service.signing import key_id_of

S3URL = re.compile(r"^(S|s)3:\/\/[a-zA-Z0-9\-\.\(\)\'\*\_\!\=\+\@\:\s\,\?\/]+$")  # the model's


def test_segments_are_safe_and_never_empty():
    assert layout.segment("FY26 SOC 2: prod & staging") == "FY26_SOC_2_prod_staging"
    assert layout.segment("../../etc/passwd") == "etc_passwd"
    assert layout.segment("..") == "unnamed" and layout.segment("") == "unnamed"
    assert layout.segment("日本語", fallback="x") == "x"
    assert len(layout.segment("a" * 500, 80)) == 80


def test_evidence_names_follow_audit_managers():
    record = {"time": 1780000000.0 + 3723, "eventSource": "iam.amazonaws.com",
              "eventName": "ListUsers", "evidenceAwsAccountId": "111122223333"}
    name = layout.evidence_base_name(record, "0b8f7a52-7d0e-4c0a-9a3f-3c1f0f6b2e11")
    assert re.match(r"^\d\d-\d\d-\d\d_iam_ListUsers_111122223333_0b8f7a527d0e$", name)
    manual = layout.evidence_base_name({"time": 0, "evidenceByType": "Manual",
                                        "eventName": "ImportEvidence"}, "ab" * 18)
    assert manual.split("_")[1] == "manual"
    assert layout.manual_file_name("base", "my policy (v2).pdf") == "base_my_policy_v2_.pdf"


def test_relative_paths_fit_the_s3url_pattern_for_both_destinations():
    root = layout.root("FY26: audit", "a" * 8, "q2.final", "r" * 8)
    own = layout.relative_path({}, root)
    s3 = layout.relative_path({"destinationType": "S3", "destination": "s3://bucket/pre/fix/"},
                              root)
    assert own == f"s3://assay/{root}.zip"
    assert s3 == f"s3://bucket/pre/fix/{root}.zip"
    assert S3URL.match(own) and S3URL.match(s3)
    assert layout.normalise_relative_path(f"S3://bucket/pre/fix/{root}/") + ".zip" == s3
    with pytest.raises(ValueError):
        layout.relative_path({"destination": "https://example.com/x"}, root)


def test_the_verifier_names_keys_as_the_instance_does():
    key = Ed25519PrivateKey.generate().public_key()
    assert verifier_key_id(key) == key_id_of(key)


def test_zip_stream_writer_makes_ordinary_zips_with_zip64_when_needed(tmp_path):
    path = tmp_path / "many.zip"
    with path.open("wb") as out, ZipStreamWriter(out) as archive:
        for i in range(70_000):  # more than the classic 65,535 entries
            archive.write(f"root/évidence/{i}.json", b'{"i": %d}' % i)
        size, digest = archive.write_stream("root/big.bin", (b"x" * 1_000_000 for _ in range(3)),
                                            compress=False)
    assert size == 3_000_000
    with zipfile.ZipFile(path) as archive:
        assert len(archive.infolist()) == 70_001
        assert archive.testzip() is None
        assert archive.read("root/évidence/69999.json") == b'{"i": 69999}'
    if shutil.which("unzip"):
        done = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_zip_stream_writer_reports_sizes_and_hashes():
    import hashlib

    buffer = io.BytesIO()
    with ZipStreamWriter(buffer) as archive:
        assert archive.write("a.txt", b"hello") == (5, hashlib.sha256(b"hello").hexdigest())
    with zipfile.ZipFile(buffer) as archive:
        assert archive.read("a.txt") == b"hello"
