"""Building an assessment report of N evidence items: items per second and peak memory,
against writing the same evidence JSON to a plain zip (Python's zipfile) in the same run.

Each side runs in its own fresh process (so ``ru_maxrss`` is its own high-water mark) over the
same SQLite database: N records appended to the ledger in sealed batches of 1,000 and all
selected for the report. The report side is the whole build: stream records from the database,
check each against its ledger hash, write the zip, typeset the PDF, sign the digest, store the
zip in the blob store. The baseline only reads the records and zips them.

Run: `python bench/report.py [--items 100000]` (default 20,000), or `make bench`. Prints JSON
and records the result in bench/README.md (section "report").
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import world

HERE = Path(__file__).parent
DEFAULT_ITEMS = 20_000
CONTROLS = 20


def setup(home: Path, items: int) -> str:
    """A framework of CONTROLS controls, an assessment, ``items`` evidence records spread over
    the controls and 10 days (a failed check in every 7), all selected for the report."""
    import sqlalchemy as sa

    from assay.config import load_settings
    from assay.service import open_services
    from assay.service.ledger import EvidenceDraft, day_of
    from assay.store import tables

    services = open_services(load_settings(home))
    _, caller = world.admin(services)
    controls = world.controls(services, caller, [f"bench control {i}" for i in range(CONTROLS)])
    assessment = world.assessment(services, caller, {"Set A": controls[:CONTROLS // 2],
                                                     "Set B": controls[CONTROLS // 2:]})
    now = time.time()
    for start in range(0, items, 1000):
        drafts = []
        for i in range(start, min(items, start + 1000)):
            control = controls[i % CONTROLS]
            when = now - 86400 * (i % 10) - i
            drafts.append(EvidenceDraft(
                assessment, "Set A" if i % CONTROLS < CONTROLS // 2 else "Set B", control,
                day_of(when), f"bench-{i}", {
                    "dataSource": "AWS Config", "eventSource": "config.amazonaws.com",
                    "eventName": "IAM_PASSWORD_POLICY", "evidenceByType": "Compliance check",
                    "complianceCheck": "NON_COMPLIANT" if i % 7 == 0 else "COMPLIANT",
                    "time": when, "evidenceAwsAccountId": "111122223333",
                    "resourcesIncluded": [{"arn": f"arn:aws:iam::111122223333:user/u{i}"}],
                    "attributes": {"rule": "IAM_PASSWORD_POLICY"}, "region": "us-east-1",
                    "payload": {"ConfigRuleName": "iam-password-policy", "Annotation": "x" * 400,
                                "ResourceId": f"u{i}", "Index": i}}))
        with services.store.write() as conn:
            services.ledger.append(conn, drafts, author="bench")
    e = tables.evidence
    with services.store.write() as conn:
        conn.execute(tables.evidence_selection.insert().from_select(
            ["evidence_id", "folder_id", "assessment_id", "selected_at"],
            sa.select(e.c.id, e.c.folder_id, e.c.assessment_id, sa.literal(now))
            .where(e.c.assessment_id == assessment)))
    services.close()
    return assessment


def child(kind: str, home: Path, assessment: str) -> dict:
    """One measured run, in this (fresh) process."""
    import sqlalchemy as sa

    from assay.config import load_settings
    from assay.service import open_services
    from assay.store import tables

    services = open_services(load_settings(home))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if kind == "report":
        report = services.reports.create(services.system(), {
            "assessmentId": assessment, "name": f"bench-{time.time_ns()}"}, background=False)
        record = next(r for r in services.reports.records() if r["id"] == report["id"])
        assert record["status"] == "COMPLETE", record["failureReason"]
        items, size = record["evidenceCount"], record["size"]
    else:
        e, s = tables.evidence, tables.evidence_selection
        query = (sa.select(e.c.id, e.c.record).join(s, s.c.evidence_id == e.c.id)
                 .where(s.c.assessment_id == assessment).order_by(e.c.seq))
        target = home / "plain.zip"
        items = 0
        with services.store.read() as conn, zipfile.ZipFile(target, "w",
                                                            zipfile.ZIP_DEFLATED) as archive:
            for row in conn.execution_options(yield_per=500).execute(query):
                archive.writestr(f"evidence/{row.id}.json", row.record)
                items += 1
        size = target.stat().st_size
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"items": items, "seconds": round(seconds, 2),
            "items_per_second": round(items / seconds), "zip_mb": round(size / 1e6, 1),
            "peak_rss_mb": round(peak / 1024, 1),
            "rss_growth_mb": round((peak - before) / 1024, 1)}


def measure(kind: str, home: Path, assessment: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--home", str(home),
                           "--assessment", assessment], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


_ROW = re.compile(r"^\| ([\d,]+) \|.*\|$", re.M)
_INTRO = (
    "`bench/report.py [--items N]`: build an assessment report of N evidence items (stream from "
    "the database, check every record against its ledger hash, zip, PDF, signed digest, store the "
    "zip) against writing the same JSON records to a plain zip with Python's `zipfile`. Each side "
    "runs in a fresh process over the same SQLite database; peak is that process's maximum RSS, "
    "growth the part the work added after start-up.")
_NOTES = (
    "Records stream one at a time, the zip's central directory and the digest's lists are "
    "spooled to disk, and the PDF lists at most 12 items and 31 day rows per control (the zip "
    "holds everything), so the build's memory does not follow N: what growth there is at "
    "100,000 items is digest.json (about 300 bytes per file), mapped from its file while Ed25519 "
    "signs it whole. The plain zip's growth is `zipfile`'s per-entry bookkeeping. The report zip "
    "is larger than the plain one because Audit Manager's layout has long paths (stored twice per "
    "entry) and the report adds the PDF, checksums and digest. The PDF is typeset in a child "
    "process (Typst keeps its caches for the life of a process); its memory grows with the "
    "controls that have evidence (about 2 MB per control page), not with the evidence count.")


def record_in_readme(result: dict) -> None:
    """Replace (or add) the "report" section of bench/README.md, keeping the other sections,
    and in it the rows of other item counts."""
    path = HERE / "README.md"
    text = path.read_text() if path.exists() else (
        "# Benchmarks\n\nRun them all with `make bench` (`python bench/run.py`), or one with "
        "`python bench/<name>.py`.\n")
    pattern = re.compile(r"^## report\b.*?(?=^## |\Z)", re.S | re.M)
    old = pattern.search(text)
    rows = {int(m[1].replace(",", "")): m[0] for m in _ROW.finditer(old[0])} if old else {}
    report, plain = result["report"], result["plain_zip"]
    rows[result["items"]] = (
        f"| {result['items']:,} | {report['items_per_second']:,} | "
        f"{plain['items_per_second']:,} | {result['speed_ratio']} | {report['peak_rss_mb']} | "
        f"{report['rss_growth_mb']} | {plain['rss_growth_mb']} | {report['zip_mb']} | "
        f"{plain['zip_mb']} | {result['date']}, {result['machine']} |")
    section = (
        "## report: building an assessment report\n\n" + textwrap.fill(_INTRO, 96) + "\n\n"
        "| items | report items/s | plain zip items/s | ratio | report peak RSS MB | "
        "report growth MB | plain zip growth MB | report zip MB | plain zip MB | run |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        + "\n".join(rows[n] for n in sorted(rows)) + "\n\n" + textwrap.fill(_NOTES, 96) + "\n")
    if old:
        rest = text[old.end():]
        text = text[:old.start()] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--no-record", action="store_true", help="do not update bench/README.md")
    parser.add_argument("--child", choices=("report", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--assessment", help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])
    if args.child:
        print(json.dumps(child(args.child, args.home, args.assessment)))
        return {}
    home = Path(tempfile.mkdtemp(prefix="assay-bench-report-"))
    started = time.perf_counter()
    assessment = setup(home, args.items)
    setup_seconds = round(time.perf_counter() - started, 1)
    plain = measure("plain", home, assessment)
    report = measure("report", home, assessment)
    result = {"items": args.items, "setup_seconds": setup_seconds, "report": report,
              "plain_zip": plain,
              "speed_ratio": round(report["items_per_second"] / plain["items_per_second"], 2),
              "date": time.strftime("%Y-%m-%d"),
              "machine": f"{platform.machine()}, Python {platform.python_version()}"}
    print(json.dumps(result, indent=2))
    if not args.no_record:
        record_in_readme(result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
