"""Build a report: stream the selected evidence into a zip, then the PDF summary, README,
checksums and the signed digest.

The builder knows nothing of the database: it takes the assessment as a ``ReportContext`` and
the evidence and ledger seals as iterators in ledger order, so memory holds one evidence record
at a time plus per-control counters (bounded by the framework, not by the evidence count).
Everything it signs it checks first: a record whose bytes no longer match the ledger's hash, a
file that no longer matches its SHA-256 or a record no seal covers stops the build, so a report
never launders tampered evidence under a fresh signature.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator

import orjson

from ..model.evidence import compliance_bucket, describe_resource
from . import layout
from .digest import DigestWriter, iso, read_chunks
from .pdf import PdfError, render_pdf
from .zipstream import ZipStreamWriter

if TYPE_CHECKING:  # reports/ imports nothing of service/ at run time (service/ imports us)
    from ..service.signing import Signer

# The PDF lists at most this many items and day rows per control; the zip holds everything.
# They bound the PDF (Typst needs about 2 MB per control page) whatever the evidence count.
ITEMS_LISTED_PER_CONTROL = 12
DAYS_LISTED_PER_CONTROL = 31
HEARTBEAT_EVERY = 500


class BuildError(Exception):
    """The report cannot be built; the message says why, for the report's failure reason."""


@dataclass
class ReportContext:
    """What the report says about its assessment (everything but the evidence)."""

    report: dict[str, Any]          # id, name, description, author, authorArn, createdAt
    assessment: dict[str, Any]      # id, name, description, status, region, framework, accounts,
                                    # owners, evidenceTotals (the whole assessment's counts)
    control_sets: list[dict[str, Any]]  # [{id, status, controls: [{id, name, status, ...}]}]
    relative_path: str              # the report's s3RelativePath
    # Risk exceptions of the assessment, every status (service.worklist's dicts, times as ISO
    # text, plus "active": in force when the report was built). Active ones make the failed
    # checks they cover count as accepted, apart from passed and failed.
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def root(self) -> str:
        return layout.root(self.assessment["name"], self.assessment["id"], self.report["name"],
                           self.report["id"])


@dataclass(frozen=True)
class EvidenceRow:
    seq: int
    id: str
    control_set_id: str
    control_id: str
    record: str          # canonical JSON, exactly as the ledger hashed it
    record_hash: str


@dataclass(frozen=True)
class SealRow:
    """A ledger seal. Format 2 seals cover records first_seq..seq of one batch (batch_root: the
    last record's chain hash inside the batch; link: the batch's place in the chain of seals);
    format 1 seals (older ledgers) cover the records after the seal before them."""

    seq: int
    day: str
    chain_hash: str
    key_id: str
    signature: str
    link: int | None = None
    first_seq: int | None = None
    batch_root: str | None = None
    format: int = 1

    def digest_entry(self) -> dict:
        entry = {"seq": self.seq, "day": self.day, "chainHash": self.chain_hash,
                 "keyId": self.key_id, "signature": self.signature}
        if self.format == 2:
            entry.update(format=2, link=self.link, firstSeq=self.first_seq,
                         batchRoot=self.batch_root)
        return entry


@dataclass
class BuildResult:
    evidence_count: int = 0
    file_count: int = 0
    manual_files: int = 0
    signed_at: float = 0.0


@dataclass
class _Counts:
    total: int = 0
    compliant: int = 0
    failed: int = 0
    inconclusive: int = 0
    accepted: int = 0  # failed checks a risk exception accepts

    def add(self, result: str) -> None:
        self.total += 1
        setattr(self, result, getattr(self, result) + 1)

    def merge(self, other: "_Counts") -> None:
        for name in ("total", "compliant", "failed", "inconclusive", "accepted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _ControlState:
    info: dict[str, Any]
    set_dir: str
    control_dir: str
    anchor: str
    counts: _Counts = field(default_factory=_Counts)
    days: dict[tuple[str, str], _Counts] = field(default_factory=lambda: defaultdict(_Counts))
    failed_items: list[dict] = field(default_factory=list)
    other_items: list[dict] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"{layout.EVIDENCE_DIR}/{self.set_dir}/{self.control_dir}"

    def day_folder(self, source: str, day: str) -> str:
        return layout.evidence_dir(self.set_dir, self.control_dir, source, day)


def build_report(out: BinaryIO, context: ReportContext, evidence: Iterable[EvidenceRow],
                 seals: Iterable[SealRow], open_blob: Callable[[str], BinaryIO], signer: "Signer",
                 generated_at: float | None = None,
                 heartbeat: Callable[[int], None] | None = None) -> BuildResult:
    """Write the report zip to ``out``. ``evidence`` and ``seals`` must be in ledger order."""
    generated_at = time.time() if generated_at is None else generated_at
    root = context.root + "/"
    controls = _index_controls(context)
    digest = DigestWriter()
    result = BuildResult()
    first_day = last_day = None
    by_source: dict[str, _Counts] = defaultdict(_Counts)
    try:
        with ZipStreamWriter(out, mtime=generated_at) as archive:
            def add(path: str, data: bytes | Iterator[bytes], compress: bool = True, **extra):
                if isinstance(data, bytes):
                    size, sha256 = archive.write(root + path, data, compress)
                else:
                    size, sha256 = archive.write_stream(root + path, data, compress)
                digest.add_file(path, size, sha256, **extra)
                digest.add_checksum(path, sha256)
                result.file_count += 1
                return size, sha256

            for row, seal in _with_seals(evidence, seals, digest):
                data = row.record.encode()
                if hashlib.sha256(data).hexdigest() != row.record_hash:
                    raise BuildError(
                        f"Evidence {row.id} (ledger record #{row.seq}) no longer matches its "
                        "SHA-256 in the ledger; run `assay ledger verify`.")
                record = orjson.loads(data)
                state = controls.get((row.control_set_id, row.control_id))
                if state is None:
                    raise BuildError(f"Evidence {row.id} belongs to control {row.control_id} of "
                                     f"control set '{row.control_set_id}', which the assessment "
                                     "does not have.")
                day = record.get("collectionDay") or time.strftime(
                    "%Y-%m-%d", time.gmtime(float(record.get("time") or 0)))
                source = record.get("dataSource") or "Unknown"
                folder = state.day_folder(source, day)
                base = layout.evidence_base_name(record, row.id)
                path = f"{folder}/{base}.json"
                add(path, data, evidenceId=row.id, ledgerSeq=row.seq)
                file_path = None
                blob = record.get("file") or {}
                if blob.get("sha256"):
                    file_path = f"{folder}/{layout.manual_file_name(base, blob.get('name'))}"
                    _, sha256 = add(file_path, _blob_chunks(open_blob, blob["sha256"], row),
                                    compress=_compressible(blob.get("name")), evidenceId=row.id)
                    if sha256 != blob["sha256"]:
                        raise BuildError(
                            f"The file {blob.get('name')} of evidence {row.id} no longer matches "
                            "its SHA-256; run `assay ledger verify`.")
                    result.manual_files += 1
                bucket = compliance_bucket(record.get("complianceCheck"))
                if bucket == "noncompliant":
                    bucket = "accepted" if _accepted(context.exceptions, row, record) else "failed"
                state.counts.add(bucket)
                state.days[(day, source)].add(bucket)
                by_source[source].add(bucket)
                _sample(state, record, row, bucket, path, file_path, blob.get("name"))
                first_day = min(first_day or day, day)
                last_day = max(last_day or day, day)
                result.evidence_count += 1
                if heartbeat and result.evidence_count % HEARTBEAT_EVERY == 0:
                    heartbeat(result.evidence_count)

            data = _pdf_data(context, controls, by_source, result, first_day, last_day,
                             generated_at, signer.key_id)
            if heartbeat:
                heartbeat(result.evidence_count)
            try:
                pdf = render_pdf(data)
            except PdfError as exc:
                raise BuildError(str(exc)) from exc
            add(layout.SUMMARY_PDF, pdf, compress=False)
            add("risk-exceptions.json", orjson.dumps(context.exceptions,
                                                     option=orjson.OPT_INDENT_2))
            add(layout.README, readme(context, signer.key_id, result, generated_at).encode())
            size, sha256 = archive.write_stream(root + layout.CHECKSUMS, digest.checksums())
            digest.add_file(layout.CHECKSUMS, size, sha256)
            result.file_count += 1
            result.signed_at = time.time()
            header = _digest_header(context, result, generated_at, size, sha256)
            signed, signature = digest.sign(header, signer, result.signed_at)
            with signed:
                archive.write_stream(root + layout.DIGEST, read_chunks(signed))
            archive.write(root + layout.SIGNATURE, signature, compress=False)
    finally:
        digest.close()
    return result


def _accepted(exceptions: list[dict], row: EvidenceRow, record: dict) -> bool:
    """Whether an exception in force accepts this failed check: one for its whole control, or
    for one of the resources it names (the same rule as service/checks.covering)."""
    resources = {r.get("arn") or r.get("value") for r in record.get("resourcesIncluded") or []
                 if isinstance(r, dict)}
    return any(x["active"] and x["controlSetId"] == row.control_set_id
               and x["controlId"] == row.control_id
               and (x["resource"] is None or x["resource"] in resources) for x in exceptions)


def _with_seals(evidence: Iterable[EvidenceRow], seals: Iterable[SealRow],
                digest: DigestWriter) -> Iterator[tuple[EvidenceRow, SealRow]]:
    """Pair each record with the seal it is chained under (the first at or after it), listing
    each seal in the digest once. Both streams are in ledger order."""
    seal_iter = iter(seals)
    current = next(seal_iter, None)
    listed = None
    previous_seq = 0
    for row in evidence:
        if row.seq <= previous_seq:
            raise BuildError("Evidence must arrive in ledger order.")
        previous_seq = row.seq
        while current is not None and current.seq < row.seq:
            current = next(seal_iter, None)
        if current is None or (current.first_seq is not None and row.seq < current.first_seq):
            raise BuildError(f"Evidence {row.id} (ledger record #{row.seq}) is not covered by "
                             "any ledger seal; run `assay ledger verify`.")
        if listed != current.seq:
            digest.add_seal(current.digest_entry())
            listed = current.seq
        yield row, current


def _blob_chunks(open_blob, sha256: str, row: EvidenceRow) -> Iterator[bytes]:
    try:
        stream = open_blob(sha256)
    except Exception as exc:
        raise BuildError(f"The file of evidence {row.id} ({sha256}) cannot be read from the "
                         f"blob store: {exc}") from exc
    with stream:
        yield from read_chunks(stream)


_STORED_EXTENSIONS = {"pdf", "png", "jpg", "jpeg", "gif", "zip", "gz", "tgz", "bz2", "xz",
                      "7z", "docx", "xlsx", "pptx", "mp4", "webp", "heic"}


def _compressible(name: str | None) -> bool:
    return (name or "").rsplit(".", 1)[-1].lower() not in _STORED_EXTENSIONS


def _index_controls(context: ReportContext) -> dict[tuple[str, str], _ControlState]:
    out = {}
    for set_position, control_set in enumerate(context.control_sets):
        set_dir = layout.control_set_dir(set_position, control_set["id"])
        for position, control in enumerate(control_set["controls"]):
            out[(control_set["id"], control["id"])] = _ControlState(
                control, set_dir, layout.control_dir(position, control["name"]),
                f"control-{set_position + 1}-{position + 1}")
    return out


def _sample(state: _ControlState, record: dict, row: EvidenceRow, bucket: str, path: str,
            file_path: str | None, file_name: str | None) -> None:
    """Keep the first items of each control for the PDF's list, failed checks first."""
    target = state.failed_items if bucket == "failed" else state.other_items
    if len(target) >= ITEMS_LISTED_PER_CONTROL:
        return
    when = time.gmtime(float(record.get("time") or 0))
    resources = record.get("resourcesIncluded") or []
    resource = None
    if resources:
        resource = describe_resource(resources[0])  # readable fields, never raw JSON
        if resource and len(resources) > 1:
            resource += f" (+{len(resources) - 1} more)"
    target.append({
        "day": time.strftime("%Y-%m-%d", when), "time": time.strftime("%H:%M:%S", when),
        "service": record.get("eventSource") or record.get("dataSource") or "",
        "event": record.get("eventName") or "", "result": bucket,
        "check": record.get("complianceCheck") or ("—" if record.get("evidenceByType") != "Manual"
                                                   else "manual"),
        "account": record.get("evidenceAwsAccountId") or record.get("awsAccountId") or "",
        "resource": resource, "path": path, "name": path.rsplit("/", 1)[-1],
        "file": file_path, "fileName": file_name,
    })


def _pdf_data(context: ReportContext, controls: dict, by_source: dict, result: BuildResult,
              first_day, last_day, generated_at: float, key_id: str) -> dict[str, Any]:
    domains: dict[str, dict] = {}
    control_sets = []
    totals = _Counts()
    with_evidence = failing = 0
    for set_position, control_set in enumerate(context.control_sets):
        set_counts = _Counts()
        entries = []
        for control in control_set["controls"]:
            state = controls[(control_set["id"], control["id"])]
            counts = state.counts
            set_counts.merge(counts)
            with_evidence += counts.total > 0
            failing += counts.failed > 0
            domain = domains.setdefault(control.get("domain") or "Uncategorized", {
                "name": control.get("domain") or "Uncategorized", "controls": 0,
                "controlsFailing": 0, "evidence": 0, "compliant": 0, "failed": 0,
                "inconclusive": 0})
            domain["controls"] += 1
            domain["controlsFailing"] += counts.failed > 0
            domain["evidence"] += counts.total
            domain["compliant"] += counts.compliant
            domain["failed"] += counts.failed
            domain["inconclusive"] += counts.inconclusive
            items = (state.failed_items + state.other_items)[:ITEMS_LISTED_PER_CONTROL]
            days = sorted(state.days.items())
            entries.append({
                **{k: control.get(k) for k in ("id", "name", "status", "response", "description",
                                               "testingInformation", "actionPlanTitle",
                                               "actionPlanInstructions")},
                "domain": control.get("domain") or "Uncategorized",
                "sources": control.get("sources") or [],
                "comments": control.get("comments") or [],
                "anchor": state.anchor, "folder": state.folder,
                "evidence": counts.total, "compliant": counts.compliant, "failed": counts.failed,
                "inconclusive": counts.inconclusive, "accepted": counts.accepted,
                "days": [{"day": day, "source": source, "total": c.total,
                          "compliant": c.compliant, "failed": c.failed,
                          "inconclusive": c.inconclusive,
                          "folder": state.day_folder(source, day)}
                         for (day, source), c in days[-DAYS_LISTED_PER_CONTROL:]],
                "moreDays": max(0, len(days) - DAYS_LISTED_PER_CONTROL),
                "items": items, "moreItems": counts.total - len(items),
            })
        totals.merge(set_counts)
        control_sets.append({"name": control_set["id"], "status": control_set.get("status"),
                             "anchor": f"set-{set_position + 1}", "controls": entries,
                             "evidence": set_counts.total, "compliant": set_counts.compliant,
                             "failed": set_counts.failed,
                             "inconclusive": set_counts.inconclusive})
    report = context.report
    return {
        "report": {"id": report["id"], "name": report["name"],
                   "description": report.get("description"), "author": report["author"],
                   "authorArn": report["authorArn"],
                   "generatedAt": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(generated_at)),
                   "path": context.relative_path, "keyId": key_id},
        "assessment": context.assessment,
        "totals": {"controlSets": len(context.control_sets), "controls": len(controls),
                   "controlsWithEvidence": with_evidence, "controlsFailing": failing,
                   "evidence": totals.total, "compliant": totals.compliant,
                   "failed": totals.failed, "inconclusive": totals.inconclusive,
                   "accepted": totals.accepted, "files": result.manual_files, "firstDay": first_day, "lastDay": last_day,
                   "dataSources": [{"name": name, "evidence": c.total, "compliant": c.compliant,
                                    "failed": c.failed, "inconclusive": c.inconclusive}
                                   for name, c in sorted(by_source.items())]},
        "domains": sorted(domains.values(), key=lambda d: d["name"]),
        "controlSets": control_sets,
        "exceptions": context.exceptions,
    }


def _digest_header(context: ReportContext, result: BuildResult, generated_at: float,
                   checksums_size: int, checksums_sha256: str) -> dict[str, Any]:
    report, assessment = context.report, context.assessment
    return {
        "report": {"id": report["id"], "name": report["name"],
                   "description": report.get("description"), "author": report["author"],
                   "authorArn": report["authorArn"], "generatedAt": iso(generated_at),
                   "folder": context.root, "s3RelativePath": context.relative_path,
                   "evidenceCount": result.evidence_count},
        "assessment": {"id": assessment["id"], "name": assessment["name"],
                       "framework": assessment["framework"].get("name"),
                       "awsAccounts": [a["id"] for a in assessment.get("accounts") or []]},
        "checksums": {"path": layout.CHECKSUMS, "size": checksums_size,
                      "sha256": checksums_sha256},
    }


def readme(context: ReportContext, key_id: str, result: BuildResult, generated_at: float) -> str:
    report, assessment = context.report, context.assessment
    return f"""\
Assessment report {report['name']} ({report['id']})
Assessment {assessment['name']} ({assessment['id']}), framework {assessment['framework'].get('name')}
Generated {iso(generated_at)} by {report['author']} ({report['authorArn']}) with Assay.
Path for ValidateAssessmentReportIntegrity (s3RelativePath): {context.relative_path}

WHAT IS HERE
  AssessmentReportSummary.pdf   the summary: scope, results by control domain, a page per control
  evidence/                     {result.evidence_count} evidence item(s), one folder per control set,
                                control, data source and day; one JSON file per item, named
                                HH-MM-SS_<service>_<event>_<account>_<id>.json, and each manual
                                evidence file beside its record. Every evidence JSON file is the
                                ledger record byte for byte: its SHA-256 is the record's hash in
                                Assay's ledger, and digest.json gives its ledger position and the
                                seals it is chained under.
  checksums.sha256              the SHA-256 of every file above, for `sha256sum -c`
  digest.json                   every file's size and SHA-256, the ledger seals, who signed
                                (key {key_id}, Ed25519) and when
  digest.sig                    the Ed25519 signature of digest.json (64 raw bytes)

VERIFYING
The report is authentic if digest.sig is a valid signature of digest.json by the Assay
instance's public key, and every file matches digest.json: nothing missing, added or altered.
Get the public key from the instance's operator (`assay keys public > assay-public.pem`), not
from anything shipped with the report: a key that travels with the report proves nothing.

With Assay (offline: no server, no database), on the zip or on this folder:

  assay verify <report.zip or this folder> --public-key assay-public.pem

With OpenSSL 3 and coreutils alone, from inside this folder, with PUBLIC_KEY set to the path of
the public key (keep it outside this folder):

  $ openssl pkeyutl -verify -pubin -inkey "$PUBLIC_KEY" -rawin -in digest.json -sigfile digest.sig
  $ grep -qF "$(sha256sum checksums.sha256 | cut -c1-64)" digest.json && echo "checksums.sha256: listed in the signed digest.json"
  $ sha256sum --quiet -c checksums.sha256 && echo "Every listed file matches its SHA-256."
  $ cut -c67- checksums.sha256 | sort > "${{TMPDIR:-/tmp}}/assay-listed.txt"
  $ find . -type f | sed 's|^\\./||' | grep -vxE 'digest\\.json|digest\\.sig|checksums\\.sha256' | sort | diff "${{TMPDIR:-/tmp}}/assay-listed.txt" - && echo "No file is missing or added."

The first command prints "Signature Verified Successfully". The second shows that
checksums.sha256 is the one the signed digest lists; the third re-hashes every file it names;
the last compares the files present with the files listed ("<" missing, ">" added).

Through the Audit Manager API (Assay re-checks the stored copy with the instance's key):

  aws auditmanager validate-assessment-report-integrity --endpoint-url <Assay URL> \\
      --s3-relative-path {context.relative_path}
"""
