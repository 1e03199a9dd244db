"""Assessment reports through boto3 against a real server: build in the background, download
through the signed link, verify through the API, with `assay verify` and with openssl +
sha256sum exactly as README.txt says; tampering of every kind is named; roles; failures."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import orjson
import pypdf
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import append_config_checks, assay_in_process, walk

from assay.reports import builder as report_builder
from assay.reports.pdf import render_pngs
from assay.reports.verify import verify_report
from assay.service.ledger import EvidenceDraft, day_of
from assay.service.signing import key_id_of
from assay.store import tables

# AWS's own presigned URLs do not match the model's UrlLink pattern either (ports, query).

ASSAY = str(Path(sys.executable).parent / "assay")
MANUAL = [{"sourceName": "Policy", "sourceType": "MANUAL"}]
CONFIG = [{"sourceName": "Password policy", "sourceType": "AWS_Config",
           "sourceSetUpOption": "System_Controls_Mapping",
           "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                             "keywordValue": "IAM_PASSWORD_POLICY"}}]
EVIDENCE_NAME = re.compile(r"^\d\d-\d\d-\d\d_[A-Za-z0-9.-]+_[A-Za-z0-9._-]+_\d{12}_[0-9a-f]{12}"
                           r"(\.json|_[A-Za-z0-9._-]+)$")


def code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]


def wait_for(client, report_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for report in walk(client.list_assessment_reports, "assessmentReports"):
            if report["id"] == report_id and report["status"] != "IN_PROGRESS":
                return report
        time.sleep(0.1)
    raise AssertionError(f"report {report_id} still IN_PROGRESS")


def public_pem(server, tmp_path: Path) -> Path:
    path = tmp_path / "assay-public.pem"
    path.write_text(server.services.signer.public_pem)
    return path


@pytest.fixture(scope="module")
def audit(server):
    """An assessment with automated evidence (some failed checks) and manual evidence (a file
    through the upload URL and a text response), all selected for the report."""
    admin = server.client()
    owner_id = server.identity("process-owner", "rita")
    owner = server.client(owner_id)
    suffix = str(time.time_ns())
    password = admin.create_control(
        name=f"Password policy <strong> & #1 {suffix}", description="Passwords are long.\nAnd rotated.",
        testingInformation="Read the IAM password policy.", actionPlanTitle="Fix the policy",
        actionPlanInstructions="Set a 14 character minimum.", controlMappingSources=CONFIG)["control"]
    policy = admin.create_control(name=f"Access policy {suffix}", controlMappingSources=MANUAL)["control"]
    idle = admin.create_control(name=f"Idle control {suffix}", controlMappingSources=MANUAL)["control"]
    framework = admin.create_assessment_framework(name=f"report framework {suffix}", controlSets=[
        {"name": "Identity", "controls": [{"id": password["id"]}, {"id": policy["id"]}]},
        {"name": "Operations", "controls": [{"id": idle["id"]}]}])["framework"]
    assessment = owner.create_assessment(
        name="FY26 SOC 2: prod & staging", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333", "name": "prod"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": owner_id.arn}],
        assessmentReportsDestination={})["assessment"]
    aid = assessment["metadata"]["id"]

    # Automated evidence, as the collectors append it: 12 checks over two days, 3 failed.
    now = time.time()
    drafts = []
    for i in range(12):
        when = now - 86400 * (i % 2) - i
        drafts.append(EvidenceDraft(aid, "Identity", password["id"], day_of(when), f"rule-{i}", {
            "dataSource": "AWS Config", "eventSource": "config.amazonaws.com",
            "eventName": "IAM_PASSWORD_POLICY", "evidenceByType": "Compliance check",
            "complianceCheck": "NON_COMPLIANT" if i % 4 == 0 else "COMPLIANT", "time": when,
            "evidenceAwsAccountId": "111122223333", "awsAccountId": server.services.account_id,
            "resourcesIncluded": [{"arn": f"arn:aws:iam::111122223333:user/user-{i}"}],
            "attributes": {"rule": "IAM_PASSWORD_POLICY"}, "sourceType": "AWS_Config",
            "region": "us-east-1", "payload": {"i": i}}))
    with server.services.store.write() as conn:
        server.services.ledger.append(conn, drafts, author="assay")

    upload = owner.get_evidence_file_upload_url(fileName="access policy.pdf")
    content = b"%PDF-1.4 the access policy " * 500
    assert httpx.put(upload["uploadUrl"], content=content).status_code == 200
    assert owner.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Identity", controlId=policy["id"],
        manualEvidence=[{"evidenceFileName": upload["evidenceFileName"]},
                        {"textResponse": "Reviewed by the CISO on 2026-04-01."}])["errors"] == []
    owner.update_assessment_control(assessmentId=aid, controlSetId="Identity",
                                    controlId=password["id"], commentBody="3 accounts fail: #fix $soon")
    folders = walk(owner.get_evidence_folders_by_assessment, "evidenceFolders", assessmentId=aid)
    for folder in folders:
        owner.associate_assessment_report_evidence_folder(assessmentId=aid,
                                                          evidenceFolderId=folder["id"])
    return {"aid": aid, "owner": owner_id, "controls": (password, policy, idle),
            "file": content, "framework": framework, "name": assessment["metadata"]["name"]}


@pytest.fixture(scope="module")
def built(server, audit, tmp_path_factory):
    """One COMPLETE report, downloaded through its signed link; the PDF's data captured from
    the builder (the server runs in this process) to render page images."""
    owner = server.client(audit["owner"])
    captured = {}
    real = report_builder.render_pdf

    def capture(data):
        captured["data"] = data
        return real(data)

    report_builder.render_pdf = capture
    try:
        report = owner.create_assessment_report(
            assessmentId=audit["aid"], name="fy26-q2.final", description="For the auditor")[
            "assessmentReport"]
        assert report["status"] == "IN_PROGRESS"
        assert report["author"] == audit["owner"].name
        assert report["awsAccountId"] == server.services.account_id
        done = wait_for(owner, report["id"])
    finally:
        report_builder.render_pdf = real
    assert done["status"] == "COMPLETE", server.services.reports.records()
    folder = tmp_path_factory.mktemp("report")
    url = owner.get_assessment_report_url(assessmentId=audit["aid"],
                                          assessmentReportId=report["id"])["preSignedUrl"]
    response = httpx.get(url["link"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    path = folder / url["hyperlinkName"]
    path.write_bytes(response.content)
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    return {"report": report, "zip": path, "url": url, "record": record,
            "data": captured["data"]}


def test_report_layout_and_content(server, audit, built):
    report, path = built["report"], built["zip"]
    root = f"FY26_SOC_2_prod_staging-{audit['aid']}/fy26-q2.final-{report['id']}/"
    assert built["url"]["hyperlinkName"] == f"fy26-q2.final-{report['id']}.zip"
    assert built["record"]["s3RelativePath"] == f"s3://assay/{root.rstrip('/')}.zip"
    assert built["record"]["evidenceCount"] == 14
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert all(n.startswith(root) for n in names)
        relative = {n[len(root):] for n in names}
        for fixed in ("AssessmentReportSummary.pdf", "README.txt", "checksums.sha256",
                      "digest.json", "digest.sig"):
            assert fixed in relative
        evidence = sorted(n for n in relative if n.startswith("evidence/"))
        assert len([n for n in evidence if n.endswith(".json")]) == 14
        for name in evidence:
            _, set_dir, control_dir, source, day, file_name = name.split("/")
            assert re.match(r"^\d\d-", set_dir) and re.match(r"^\d\d-", control_dir)
            assert source in ("AWS_Config", "Manual") and re.match(r"^\d{4}-\d\d-\d\d$", day)
            assert EVIDENCE_NAME.match(file_name), file_name
        assert any(n.startswith("evidence/01-Identity/01-Password_policy_strong_1_") for n in evidence)
        days = {n.split("/")[4] for n in evidence if "/AWS_Config/" in n}
        assert len(days) == 2
        # The manual file itself, streamed from the blob store, beside its record.
        manual = [n for n in evidence if n.endswith("_access_policy.pdf")]
        assert len(manual) == 1 and archive.read(root + manual[0]) == audit["file"]
        # Each evidence JSON file is the ledger record byte for byte.
        digest = orjson.loads(archive.read(root + "digest.json"))
        listed = {f["path"]: f for f in digest["files"]}
        with server.services.store.read() as conn:
            hashes = dict(conn.execute(sa.text("select id, record_hash from evidence")).all())
        for name in evidence:
            if name.endswith(".json"):
                entry = listed[name]
                assert hashes[entry["evidenceId"]] == entry["sha256"]
        assert digest["signature"]["algorithm"] == "Ed25519"
        assert digest["signature"]["keyId"] == server.services.signer.key_id
        assert digest["ledgerSeals"] and all(s["keyId"] == server.services.signer.key_id
                                             for s in digest["ledgerSeals"])
        assert digest["report"]["s3RelativePath"] == built["record"]["s3RelativePath"]
        assert set(listed) == relative - {"digest.json", "digest.sig"}


def test_report_verifies_through_the_api_offline_and_by_hand(server, audit, built, tmp_path):
    auditor = server.client(server.identity("auditor"))
    result = auditor.validate_assessment_report_integrity(
        s3RelativePath=built["record"]["s3RelativePath"])
    assert result["signatureValid"] is True and result["validationErrors"] == []
    assert result["signatureAlgorithm"] == "Ed25519"
    assert result["signatureKeyId"] == server.services.signer.key_id
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", result["signatureDateTime"])
    # The folder form of the path names the same report.
    folder_form = built["record"]["s3RelativePath"][: -len(".zip")] + "/"
    assert auditor.validate_assessment_report_integrity(
        s3RelativePath=folder_form)["signatureValid"] is True

    key = public_pem(server, tmp_path)
    done = subprocess.run([ASSAY, "verify", str(built["zip"]), "--public-key", str(key)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report OK" in done.stdout

    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(built["zip"]) as archive:
        archive.extractall(extracted)
    assert verify_report(extracted, server.services.signer.public_key).valid
    folder = next(p.parent for p in extracted.rglob("digest.json"))
    assert verify_report(folder, server.services.signer.public_key).valid
    outputs = run_readme_commands(folder, key, tmp_path)
    assert all(rc == 0 for rc, _ in outputs), outputs
    assert "Signature Verified Successfully" in outputs[0][1]


def readme_commands(folder: Path) -> list[str]:
    return [line.strip()[2:] for line in (folder / "README.txt").read_text().splitlines()
            if line.startswith("  $ ")]


def run_readme_commands(folder: Path, public_key: Path, tmp: Path) -> list[tuple[int, str]]:
    """The openssl + coreutils commands of README.txt, verbatim, in the report's folder."""
    assert shutil.which("openssl"), "the README's verification needs openssl (Debian's openssl)"
    commands = readme_commands(folder)
    assert len(commands) == 5 and commands[0].startswith("openssl pkeyutl -verify")
    scratch = tmp / f"scratch-{time.time_ns()}"
    scratch.mkdir()
    results = []
    for command in commands:
        done = subprocess.run(["sh", "-c", command], cwd=folder, capture_output=True, text=True,
                              env={**os.environ, "PUBLIC_KEY": str(public_key),
                                   "TMPDIR": str(scratch)}, timeout=120)
        results.append((done.returncode, done.stdout + done.stderr))
    return results


def test_pdf_has_its_sections_and_counts(server, audit, built, artifacts):
    with zipfile.ZipFile(built["zip"]) as archive:
        pdf_name = next(n for n in archive.namelist() if n.endswith("AssessmentReportSummary.pdf"))
        reader = pypdf.PdfReader(io.BytesIO(archive.read(pdf_name)))
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    password, policy, idle = audit["controls"]
    assert "ASSESSMENTREPORT" in pages[0].replace(" ", "") and audit["name"] in pages[0]
    assert audit["framework"]["name"] in pages[0] and "111122223333" in pages[0]
    assert audit["owner"].name in pages[0] and "fy26-q2.final" in pages[0]
    cover = " ".join(pages[0].split())
    assert "14 of 14 evidence items selected" in cover, cover
    assert "14 evidence items collected: 3 failed, 9 compliant, 2 inconclusive" in cover, cover
    assert "No evidence was selected" not in cover
    summary = pages[1]
    assert "Summary" in summary
    assert re.search(r"\b3\s+CONTROLS\s", summary)
    assert re.search(r"\b14\s+EVIDENCE ITEMS", summary)
    assert re.search(r"\b9\s+COMPLIANT", summary) and re.search(r"\b3\s+FAILED", summary)
    assert re.search(r"\b2\s+INCONCLUSIVE", summary)
    assert "COMPLIANCE BY CONTROL DOMAIN" in summary
    assert "Uncategorized 3 1 14 9 3 2" in summary  # controls, with failed, evidence, results
    assert "AWS Config 12 9 3 0" in summary and "Manual 2 0 0 2" in summary
    assert "2 control sets and 3 controls in scope: 2 with evidence" in summary
    assert "Contents" in text
    for control in (password, policy, idle):
        assert control["name"] in text  # user text shown verbatim (<strong>, &, #)
    control_page = next(p for p in pages if "Read the IAM password policy." in p)
    for section in ("DESCRIPTION", "TESTING INFORMATION", "ACTION PLAN", "COMMENTS",
                    "EVIDENCE BY DAY", "EVIDENCE IN THIS REPORT"):
        assert section in control_page, section
    assert "3 accounts fail: #fix $soon" in control_page
    assert "Set a 14 character minimum." in control_page and "NON_COMPLIANT" in control_page
    assert re.search(r"\b12\s+EVIDENCE ITEMS\s+9\s+COMPLIANT\s+3\s+FAILED", control_page)
    days = re.findall(r"(\d{4}-\d\d-\d\d) AWS Config (\d+) (\d+) (\d+) (\d+)", control_page)
    assert sorted(int(d[1]) for d in days) == [6, 6] and sum(int(d[3]) for d in days) == 3
    # The idle control (no evidence selected) is listed on its set's page, without a page.
    assert "1 control of this set has no evidence in this report" in text
    assert sum(idle["name"] in p for p in pages) == 1  # its set's page, not the contents
    # Evidence is linked to its files by relative paths.
    links = [a.get_object()["/A"]["/URI"] for page in reader.pages
             for a in page.get("/Annots") or [] if "/URI" in a.get_object().get("/A", {})]
    assert any(link.startswith("evidence/01-Identity/") and link.endswith(".json") for link in links)
    assert any(link.endswith("_access_policy.pdf") for link in links)
    # Nearly empty pages are folded together: controls follow one another, so only the cover,
    # the contents and the last page may be short (a control page used to hold one line).
    short = [n for n, p in enumerate(pages, 1) if len(p) < 400 and n not in (1, len(pages))
             and "Contents" not in p]
    assert not short, [pages[n - 1] for n in short]
    # Rendered pages kept as test artifacts, to look at.
    images = render_pngs(built["data"], ppi=80)
    assert len(images) == len(pages)
    for number in (1, 2, next(i for i, p in enumerate(pages, 1) if p is control_page)):
        (artifacts / f"report-{server.backend}-page-{number}.png").write_bytes(images[number - 1])
        assert images[number - 1][:8] == b"\x89PNG\r\n\x1a\n"


# -------------------------------------------------------------------------------- tampering

def rewrite(source: Path, target: Path, change) -> None:
    """Copy a zip entry by entry; ``change(name, data)`` returns new data, or None to drop it,
    and may return extra entries through ``change.extra``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = change(info.filename, src.read(info.filename))
            if data is not None:
                out.writestr(info.filename, data)
        for name, data in getattr(change, "extra", {}).items():
            out.writestr(name, data)


def flip_evidence(name, data):
    if "/evidence/" in name and name.endswith(".json") and not flip_evidence.done:
        flip_evidence.done = name
        return data[:20] + bytes([data[20] ^ 1]) + data[21:]
    return data


def drop_manual_file(name, data):
    return None if name.endswith("_access_policy.pdf") else data


def add_file(name, data):
    return data


def edit_digest(name, data):
    if name.endswith("/digest.json"):
        return data.replace(b'"evidenceCount":14', b'"evidenceCount":13')
    return data


def resign(key_id_in_digest: str | None):
    """Alter README.txt, fix its entry in digest.json and re-sign with another key; digest.json
    then names ``key_id_in_digest`` as the signer (None: the other key's own id)."""
    other = Ed25519PrivateKey.generate()
    key_id_in_digest = key_id_in_digest or key_id_of(other.public_key())

    def change(name, data):
        if name.endswith("/README.txt"):
            change.readme = data + b"\nAll good, trust me.\n"
            return change.readme
        if name.endswith("/digest.json"):
            document = data
            old_hash = hashlib.sha256(change.original_readme).hexdigest().encode()
            new_hash = hashlib.sha256(change.original_readme + b"\nAll good, trust me.\n").hexdigest().encode()
            document = document.replace(old_hash, new_hash).replace(
                f'"size":{len(change.original_readme)}'.encode(),
                f'"size":{len(change.original_readme) + 21}'.encode())
            document = re.sub(rb'"keyId":"[0-9a-f]{16}","signedAt"',
                              f'"keyId":"{key_id_in_digest}","signedAt"'.encode(), document)
            change.digest = document
            return document
        if name.endswith("/digest.sig"):
            return other.sign(change.digest)
        return data
    return change


@pytest.fixture
def tampered(server, built, tmp_path):
    """Yield a function making a tampered copy of the report; restore the stored blob after."""
    blob = Path(server.services.blobs.path_hint(_blob_hash(server, built["report"]["id"])))
    original = blob.read_bytes()

    def make(change, name: str) -> Path:
        target = tmp_path / f"{name}.zip"
        rewrite(built["zip"], target, change)
        return target

    yield make, blob
    blob.write_bytes(original)


def _blob_hash(server, report_id: str) -> str:
    with server.services.store.read() as conn:
        return conn.execute(sa.select(tables.assessment_reports.c.blob_hash).where(
            tables.assessment_reports.c.id == report_id)).scalar_one()


def test_tampering_is_named_by_the_api_offline_and_by_hand(server, built, tampered, tmp_path):
    make, blob = tampered
    auditor = server.client(server.identity("auditor"))
    key = public_pem(server, tmp_path)
    root = next(n for n in zipfile.ZipFile(built["zip"]).namelist()
                if n.endswith("/digest.json"))[: -len("digest.json")]
    with zipfile.ZipFile(built["zip"]) as archive:
        readme_bytes = archive.read(root + "README.txt")

    flip_evidence.done = None
    add_file.extra = {root + "evidence/01-Identity/planted.json": b"{}"}
    instance_signed = resign(server.services.signer.key_id)
    other_signed = resign(None)
    for change in (instance_signed, other_signed):
        change.original_readme = readme_bytes
    cases = [
        ("flipped", flip_evidence, True, lambda: f"altered: {flip_evidence.done[len(root):]}"),
        ("deleted", drop_manual_file, True, lambda: "missing: evidence/01-Identity/02-Access_policy"),
        ("added", add_file, True, lambda: "added: evidence/01-Identity/planted.json"),
        ("digest-edited", edit_digest, False, lambda: "digest.json"),
        ("resigned-claiming-instance-key", instance_signed, False, lambda: "digest.sig"),
        ("resigned-with-other-key-id", other_signed, False, lambda: "digest.sig"),
    ]
    for name, change, signature_ok, expected in cases:
        zipped = make(change, name)
        # Offline, on the zip and with the CLI.
        offline = verify_report(zipped, server.services.signer.public_key)
        assert not offline.valid, name
        assert offline.signature_valid is signature_ok, (name, offline.errors)
        assert any(expected() in e for e in offline.errors), (name, offline.errors)
        done = assay_in_process("verify", zipped, "--public-key", key)
        assert done.returncode == 1 and expected() in done.stdout, (name, done.stdout)
        # Through the API, on the stored copy.
        blob.write_bytes(zipped.read_bytes())
        result = auditor.validate_assessment_report_integrity(
            s3RelativePath=built["record"]["s3RelativePath"])
        assert result["signatureValid"] is signature_ok, (name, result)
        assert any(expected() in e for e in result["validationErrors"]), (name, result)
        # By hand: at least one of README's commands fails.
        folder = tmp_path / f"x-{name}"
        with zipfile.ZipFile(zipped) as archive:
            archive.extractall(folder)
        outputs = run_readme_commands(folder / root, key, tmp_path)
        assert any(rc != 0 for rc, _ in outputs), (name, outputs)


def _forged_zips(genuine: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Zips whose listed entries all hash right but that show other content to some tools."""
    with zipfile.ZipFile(genuine) as archive:
        infos = archive.infolist()
        entries = [(i.filename, archive.read(i.filename)) for i in infos]
    root = next(n for n, _ in entries if n.endswith("/digest.json"))[: -len("digest.json")]
    readme = root + "README.txt"
    forged_text = b"Nothing to see: every control passed.\n"
    out: dict[str, tuple[Path, str]] = {}

    # 1. The same name twice, forged copy first: unzip shows it, zipfile the genuine one.
    target = tmp_path / "duplicate.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(readme, forged_text)
        for name, data in entries:
            zipped.writestr(name, data)
    out["duplicate"] = (target, f"duplicate: {readme}")

    # 2. A directory entry carrying data.
    target = tmp_path / "directory-data.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in entries:
            zipped.writestr(name, data)
        zipped.writestr(root + "evidence/", forged_text)
    out["directory-data"] = (target, f"directory entry {root}evidence/")

    # 3. A local entry no central directory lists, in front of the genuine archive (a
    # streaming reader meets it first; zipfile and unzip skip it).
    hidden = io.BytesIO()
    with zipfile.ZipFile(hidden, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(readme, forged_text)
    local = hidden.getvalue()[: zipfile.ZipFile(io.BytesIO(hidden.getvalue())).start_dir]
    target = tmp_path / "hidden-local.zip"
    target.write_bytes(local + genuine.read_bytes())
    out["hidden-local"] = (target, "that no central directory entry lists")
    return out


def test_zips_that_show_other_content_are_refused(server, built, tampered, tmp_path):
    """Issue 18: duplicate entries, directory entries with data and local entries outside the
    central directory are refused by `assay verify` and ValidateAssessmentReportIntegrity."""
    _, blob = tampered
    auditor = server.client(server.identity("auditor"))
    key = public_pem(server, tmp_path)
    for name, (zipped, expected) in _forged_zips(built["zip"], tmp_path).items():
        done = assay_in_process("verify", zipped, "--public-key", key)
        assert done.returncode == 1 and expected in done.stdout, (name, done.stdout)
        blob.write_bytes(zipped.read_bytes())
        result = auditor.validate_assessment_report_integrity(
            s3RelativePath=built["record"]["s3RelativePath"])
        assert any(expected in e for e in result["validationErrors"]), (name, result)
    # The genuine report still verifies, with every file counted.
    assert verify_report(built["zip"], server.services.signer.public_key).valid


def test_a_missing_stored_copy_is_reported(server, audit, tmp_path):
    owner = server.client(audit["owner"])
    report = owner.create_assessment_report(assessmentId=audit["aid"], name="to-lose")[
        "assessmentReport"]
    assert wait_for(owner, report["id"])["status"] == "COMPLETE"
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    blob = Path(server.services.blobs.path_hint(_blob_hash(server, report["id"])))
    blob.unlink()
    result = owner.validate_assessment_report_integrity(s3RelativePath=record["s3RelativePath"])
    assert result["signatureValid"] is False
    assert result["validationErrors"][0].startswith("missing: ")
    owner.delete_assessment_report(assessmentId=audit["aid"], assessmentReportId=report["id"])


# ----------------------------------------------------------------------------- the workflow

def test_roles(server, audit, built):
    aid, rid = audit["aid"], built["report"]["id"]
    delegate = server.client(server.identity("delegate"))
    auditor = server.client(server.identity("auditor"))
    stranger = server.client(server.identity("process-owner"))
    path = built["record"]["s3RelativePath"]
    assert code(delegate.create_assessment_report, assessmentId=aid, name="x") == "AccessDeniedException"
    assert code(delegate.list_assessment_reports) == "AccessDeniedException"
    assert code(delegate.get_assessment_report_url, assessmentId=aid,
                assessmentReportId=rid) == "AccessDeniedException"
    assert code(delegate.validate_assessment_report_integrity,
                s3RelativePath=path) == "AccessDeniedException"
    assert code(auditor.create_assessment_report, assessmentId=aid, name="x") == "AccessDeniedException"
    assert code(auditor.delete_assessment_report, assessmentId=aid,
                assessmentReportId=rid) == "AccessDeniedException"
    assert rid in [r["id"] for r in auditor.list_assessment_reports()["assessmentReports"]]
    assert auditor.get_assessment_report_url(assessmentId=aid, assessmentReportId=rid)
    # A process owner not listed on the assessment reads reports but cannot make them.
    assert code(stranger.create_assessment_report, assessmentId=aid, name="x") == "AccessDeniedException"
    assert rid in [r["id"] for r in walk(stranger.list_assessment_reports, "assessmentReports")]
    assert code(auditor.get_assessment_report_url, assessmentId=aid,
                assessmentReportId="00000000-0000-4000-8000-000000000000") == "ResourceNotFoundException"
    assert code(auditor.validate_assessment_report_integrity,
                s3RelativePath="s3://assay/nothing-here.zip") == "ResourceNotFoundException"


def test_download_links_are_signed_and_expire(server, built):
    link = built["url"]["link"]
    assert httpx.get(link.replace("signature=", "signature=x")).status_code == 403
    assert httpx.get(re.sub(r"expires=(\d+)", lambda m: f"expires={int(m[1]) + 1}", link)
                     ).status_code == 403
    past = int(time.time()) - 5
    rid = built["report"]["id"]
    expired = (f"{server.url}/_assay/reports/{rid}.zip?expires={past}"
               f"&signature={server.services.signer.link_signature('download', rid, past)}")
    response = httpx.get(expired)
    assert response.status_code == 403 and "expired" in response.json()["message"]
    expires = re.search(r"expires=(\d+)", link)[1]
    assert int(expires) - time.time() <= 15 * 60 + 5


def test_in_progress_reports_cannot_be_deleted_or_downloaded(server, audit):
    owner = server.client(audit["owner"])
    reports = server.services.reports
    slots = [reports._slots.acquire(timeout=30) for _ in range(2)]  # hold every build slot
    try:
        report = owner.create_assessment_report(assessmentId=audit["aid"], name="pending")[
            "assessmentReport"]
        error = error_of(owner.delete_assessment_report, assessmentId=audit["aid"],
                         assessmentReportId=report["id"])
        assert error["Code"] == "ValidationException" and "still being built" in error["Message"]
        error = error_of(owner.get_assessment_report_url, assessmentId=audit["aid"],
                         assessmentReportId=report["id"])
        assert "still being built" in error["Message"]
    finally:
        for taken in slots:
            if taken:
                reports._slots.release()
    assert wait_for(owner, report["id"])["status"] == "COMPLETE"
    owner.delete_assessment_report(assessmentId=audit["aid"], assessmentReportId=report["id"])


def test_list_paging_delete_change_log_and_inactive(server, audit):
    owner = server.client(audit["owner"])
    aid = audit["aid"]
    assert code(owner.create_assessment_report, assessmentId=aid, name="q",
                queryStatement="select * from evidence") == "ValidationException"
    ids = [owner.create_assessment_report(assessmentId=aid, name=f"paging-{i}")[
        "assessmentReport"]["id"] for i in range(3)]
    for rid in ids:
        assert wait_for(owner, rid)["status"] == "COMPLETE"
    paged = walk(owner.list_assessment_reports, "assessmentReports", page_size=1)
    assert set(ids) <= {r["id"] for r in paged}
    assert len(paged) == len({r["id"] for r in paged})
    listed = next(r for r in paged if r["id"] == ids[0])
    assert listed["assessmentName"] == audit["name"] and listed["author"] == audit["owner"].name
    blob = Path(server.services.blobs.path_hint(_blob_hash(server, ids[0])))
    assert blob.exists()
    owner.delete_assessment_report(assessmentId=aid, assessmentReportId=ids[0])
    assert ids[0] not in {r["id"] for r in walk(owner.list_assessment_reports, "assessmentReports")}
    assert not blob.exists()
    assert code(owner.delete_assessment_report, assessmentId=aid,
                assessmentReportId=ids[0]) == "ResourceNotFoundException"
    logs = walk(owner.get_change_logs, "changeLogs", assessmentId=aid)
    actions = {(e["objectType"], e["action"], e["objectName"]) for e in logs}
    assert ("ASSESSMENT_REPORT", "CREATE", "paging-0") in actions
    assert ("ASSESSMENT_REPORT", "DELETE", "paging-0") in actions
    notes = owner.list_notifications()["notifications"]
    assert any("paging-1 is ready" in n["description"] for n in notes)


def test_reports_on_an_inactive_assessment(server, audit):
    owner = server.client(audit["owner"])
    framework = audit["framework"]
    closed = owner.create_assessment(
        name="closed audit", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": audit["owner"].arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    owner.update_assessment_status(assessmentId=closed, status="INACTIVE")
    report = owner.create_assessment_report(assessmentId=closed, name="after-close")[
        "assessmentReport"]
    done = wait_for(owner, report["id"])
    assert done["status"] == "COMPLETE"  # no evidence selected: the summary alone
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    assert record["evidenceCount"] == 0
    assert owner.validate_assessment_report_integrity(
        s3RelativePath=record["s3RelativePath"])["validationErrors"] == []


def test_a_build_that_died_with_its_server_ends_failed(server, audit):
    from assay.service import reports as report_service

    owner = server.client(audit["owner"])
    with server.services.store.write() as conn:
        conn.execute(tables.assessment_reports.insert().values(
            id="0d1e2f3a-0000-4000-8000-00000000abcd", assessment_id=audit["aid"],
            name="orphan", author=audit["owner"].name, author_arn=audit["owner"].arn,
            status="IN_PROGRESS", destination={}, relative_path="s3://assay/orphan.zip",
            created_at=time.time() - report_service.STALE_AFTER - 60))
    listed = {r["id"]: r for r in walk(owner.list_assessment_reports, "assessmentReports")}
    assert listed["0d1e2f3a-0000-4000-8000-00000000abcd"]["status"] == "FAILED"
    error = error_of(owner.get_assessment_report_url, assessmentId=audit["aid"],
                     assessmentReportId="0d1e2f3a-0000-4000-8000-00000000abcd")
    assert "stopped without finishing" in error["Message"]
    owner.delete_assessment_report(assessmentId=audit["aid"],
                                   assessmentReportId="0d1e2f3a-0000-4000-8000-00000000abcd")
    with server.services.store.read() as conn:
        assert conn.execute(sa.select(tables.assessment_reports).where(
            tables.assessment_reports.c.name == "orphan")).first() is None


def test_cli_lists_reports_with_their_failure_reason(server, audit, built, tmp_path):
    with server.services.store.write() as conn:
        conn.execute(tables.assessment_reports.insert().values(
            id="0d1e2f3a-0000-4000-8000-00000000cafe", assessment_id=audit["aid"],
            name="broken", author="x", author_arn=audit["owner"].arn, status="FAILED",
            failure_reason="Could not write the report to s3://gone/x.zip: NoSuchBucket",
            destination={}, relative_path="s3://assay/broken.zip", created_at=time.time()))
    try:
        env = {**os.environ, "ASSAY_DB_URL": server.services.settings.database_url,
               "ASSAY_HOME": str(server.home), "COLUMNS": "250"}
        done = subprocess.run([ASSAY, "report", "list", "--json"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        records = {r["id"]: r for r in orjson.loads(done.stdout)}
        assert "NoSuchBucket" in records["0d1e2f3a-0000-4000-8000-00000000cafe"]["failureReason"]
        assert records[built["report"]["id"]]["s3RelativePath"] == built["record"]["s3RelativePath"]
        done = subprocess.run([ASSAY, "report", "list"], capture_output=True, text=True, env=env,
                              timeout=120)
        assert "NoSuchBucket" in done.stdout and "FAILED" in done.stdout
        # `assay report download` then `assay verify` with the instance key from --home.
        done = subprocess.run([ASSAY, "report", "download", built["report"]["id"], "--out",
                               str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        zipped = next(tmp_path.glob("*.zip"))
        done = subprocess.run([ASSAY, "verify", str(zipped), "--home", str(server.home)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and "report OK" in done.stdout, done.stdout + done.stderr
    finally:
        with server.services.store.write() as conn:
            conn.execute(tables.assessment_reports.delete().where(
                tables.assessment_reports.c.name == "broken"))


def test_a_report_never_looks_cleaner_than_its_assessment(server, audit):
    """A report with nothing selected still states the assessment's own totals on its cover,
    and its notification warns (issue: "a report never looks cleaner than the truth")."""
    owner = server.client(audit["owner"])
    password = audit["controls"][0]
    aid = owner.create_assessment(
        name="nothing selected", frameworkId=audit["framework"]["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": audit["owner"].arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    append_config_checks(server.services, aid, "Identity", password["id"],
                         ["NON_COMPLIANT"] * 4 + ["COMPLIANT"] * 6, "check")
    report = owner.create_assessment_report(assessmentId=aid, name="empty")["assessmentReport"]
    assert wait_for(owner, report["id"])["status"] == "COMPLETE"
    url = owner.get_assessment_report_url(assessmentId=aid,
                                          assessmentReportId=report["id"])["preSignedUrl"]
    with zipfile.ZipFile(io.BytesIO(httpx.get(url["link"]).content)) as archive:
        pdf_name = next(n for n in archive.namelist() if n.endswith("AssessmentReportSummary.pdf"))
        cover = pypdf.PdfReader(io.BytesIO(archive.read(pdf_name))).pages[0].extract_text()
    cover = " ".join(cover.split())
    assert "0 of 10 evidence items selected" in cover, cover
    assert "10 evidence items collected: 4 failed, 6 compliant, 0 inconclusive" in cover, cover
    assert "No evidence was selected for this report" in cover, cover
    notes = [n["eventTime"] and n["description"] for n in walk(
        owner.list_notifications, "notifications") if n["assessmentId"] == aid]
    assert any("WARNING: no evidence was selected for this report; the assessment has 10 "
               "evidence item(s), 4 of them failed checks." in n for n in notes), notes
