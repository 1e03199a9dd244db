"""Where everything goes in a report, named as Audit Manager names it.

```
<assessment name>-<assessment id>/<report name>-<report id>/
    AssessmentReportSummary.pdf
    README.txt                      how to verify, with `assay verify` or openssl + sha256sum
    checksums.sha256                `sha256sum -c` input: every file above and below
    digest.json                     every file's size and SHA-256, the ledger seals; signed
    digest.sig                      Ed25519 signature of digest.json (64 raw bytes)
    evidence/<NN-control set>/<NN-control>/<data source>/<YYYY-MM-DD>/
        HH-MM-SS_<service>_<event>_<account>_<id12>.json          one per evidence item
        HH-MM-SS_<service>_<event>_<account>_<id12>_<file name>   a manual evidence file
```

Every path segment is reduced to ``[A-Za-z0-9._-]`` so that the paths survive every file
system, ``sha256sum`` prints them unescaped, and the report's S3 path fits the ``S3Url``
pattern of ValidateAssessmentReportIntegrity.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlparse

SUMMARY_PDF = "AssessmentReportSummary.pdf"
README = "README.txt"
CHECKSUMS = "checksums.sha256"
DIGEST = "digest.json"
SIGNATURE = "digest.sig"
EVIDENCE_DIR = "evidence"
# Files that are not listed in digest.json: the digest itself and its signature.
UNLISTED = frozenset({DIGEST, SIGNATURE})
# What ValidateAssessmentReportIntegrity calls the reports kept in Assay's own store.
ASSAY_STORE_BUCKET = "assay"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def segment(text: str | None, limit: int = 80, fallback: str = "unnamed") -> str:
    """One safe path segment: runs of other characters become ``_``; never empty, never
    hidden (no leading dot), at most ``limit`` characters."""
    cleaned = _UNSAFE.sub("_", (text or "").strip()).lstrip("._").rstrip("_")[:limit].rstrip("_")
    if not cleaned:
        return fallback
    return cleaned


def assessment_folder(name: str, assessment_id: str) -> str:
    return f"{segment(name, 100, 'assessment')}-{assessment_id}"


def report_folder(name: str, report_id: str) -> str:
    return f"{segment(name, 100, 'report')}-{report_id}"


def root(assessment_name: str, assessment_id: str, report_name: str, report_id: str) -> str:
    """The report's folder inside the zip (and the zip's name without ``.zip``)."""
    return (f"{assessment_folder(assessment_name, assessment_id)}/"
            f"{report_folder(report_name, report_id)}")


def control_set_dir(position: int, name: str) -> str:
    return f"{position + 1:02d}-{segment(name, 60, 'control-set')}"


def control_dir(position: int, name: str) -> str:
    return f"{position + 1:02d}-{segment(name, 60, 'control')}"


def evidence_dir(control_set: str, control: str, data_source: str, day: str) -> str:
    """``control_set`` and ``control`` are the folders from the two functions above."""
    return (f"{EVIDENCE_DIR}/{control_set}/{control}/{segment(data_source, 40, 'source')}/"
            f"{segment(day, 10, 'undated')}")


def service_of(record: dict[str, Any]) -> str:
    source = record.get("eventSource") or ""
    if source.endswith(".amazonaws.com"):
        source = source[: -len(".amazonaws.com")]
    if not source:
        source = "manual" if record.get("evidenceByType") == "Manual" else "aws"
    return segment(source, 40, "aws")


def evidence_base_name(record: dict[str, Any], evidence_id: str) -> str:
    """``HH-MM-SS_<service>_<event>_<account>_<id12>``, as Audit Manager names evidence files."""
    when = time.gmtime(float(record.get("time") or 0))
    account = record.get("evidenceAwsAccountId") or record.get("awsAccountId") or "000000000000"
    return "_".join((
        time.strftime("%H-%M-%S", when), service_of(record),
        segment(record.get("eventName"), 60, "event"), segment(account, 12, "account"),
        evidence_id.replace("-", "")[:12]))


def manual_file_name(base: str, original: str | None) -> str:
    """The manual evidence file beside its record, keeping its own name and extension."""
    return f"{base}_{segment(original, 100, 'file')}"


def s3_location(destination: str) -> tuple[str, str]:
    """(bucket, prefix) of an ``s3://bucket/prefix`` report destination."""
    parsed = urlparse(destination)
    if parsed.scheme.lower() != "s3" or not parsed.netloc:
        raise ValueError(f"{destination!r} is not an s3://bucket/prefix destination")
    return parsed.netloc, parsed.path.strip("/")


def relative_path(destination: dict | None, report_root: str) -> str:
    """The report's path in its destination: what ValidateAssessmentReportIntegrity's
    ``s3RelativePath`` names. On S3, the zip's own URL; in Assay's store, the same shape under
    the pseudo bucket ``assay``."""
    if destination and destination.get("destination"):
        bucket, prefix = s3_location(destination["destination"])
        key = f"{prefix}/{report_root}.zip" if prefix else f"{report_root}.zip"
        return f"s3://{bucket}/{key}"
    return f"s3://{ASSAY_STORE_BUCKET}/{report_root}.zip"


def normalise_relative_path(path: str) -> str:
    """Accept the zip's URL with or without ``.zip`` or a trailing ``/`` (the folder form)."""
    path = path.strip().rstrip("/")
    if path[:5].lower() == "s3://":
        path = "s3://" + path[5:]
    if path.endswith(".zip"):
        path = path[:-4]
    return path
