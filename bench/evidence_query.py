"""The evidence finder over N evidence items, on SQLite and PostgreSQL.

Setup: an instance with the finder ENABLED (through UpdateSettings and its build) and N rows
bulk-loaded into its ``evidence_finder`` table (SQLite executemany, PostgreSQL COPY): 20
accounts, 3 regions, 50 controls in 5 control domains, 3 data sources, 30 days, a failed check
in every 5. Then, against a baseline in the same run:

- first page: the console's filtered search (one account, the last 7 days, failed checks,
  newest first; and the default failed-first order over one account) through
  ``FinderService.run`` (parse, check, rights rewrite, transpile, run), against the same
  page's hand-written SQL on the table. Measured while another thread runs the same searches
  without pause (concurrent load).
- full export: `assay evidence query "SELECT * FROM evidence" --format csv` in its own
  process (rows/s, peak RSS of that process), against a plain process that streams
  ``SELECT * FROM evidence_finder`` to csv.writer.

Run: `python bench/evidence_query.py [--items 1000000] [--backend sqlite|postgresql|both]`.
Prints JSON and records the result in bench/README.md (section "evidence_query").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import world

HERE = Path(__file__).parent
ROOT = HERE.parent
DEFAULT_ITEMS = 1_000_000
ACCOUNTS = [f"{100000000000 + i:012d}" for i in range(20)]
DOMAINS = ["Identity and access management", "Logging and monitoring", "Data protection",
           "Network security", "Incident response"]
SOURCES = ["AWS Config", "AWS Security Hub", "AWS CloudTrail"]
CHECKS = ["NON_COMPLIANT", "COMPLIANT", "PASSED", "COMPLIANT", "NOT_APPLICABLE"]
ASSESSMENT = "0f0e0d0c-0b0a-4909-8807-060504030201"
NOW = datetime(2026, 11, 30, 12, 0, 0)


def rows(items: int, columns: list[str]):
    """Deterministic finder rows, as tuples in ``columns`` order (timestamps as text, the form
    both databases take from a bulk load). Built from precomputed parts: the load measures the
    database, not Python."""
    from assay.finder.schema import RESULT_RANK, result_of

    moments = [(NOW - timedelta(seconds=i * 259)).strftime("%Y-%m-%d %H:%M:%S.%f")
               for i in range(10000)]                      # 10,000 instants over 30 days
    controls = [(f"Set {c % 5}", str(uuid.UUID(int=c)), f"Control {c}", DOMAINS[c % 5],
                 f"RULE_{c}") for c in range(50)]
    fixed = {"part": 0, "event_version": "1.0", "event_category": "Evidence",
             "event_type": "AwsAuditManagerEvidence", "recipient_account_id": "999999999999",
             "aws_account_id": "999999999999", "aws_organization": None,
             "event_source": "config.amazonaws.com", "evidence_by_type": "Compliance check",
             "iam_id": None, "assessment_id": ASSESSMENT, "framework_name": "bench",
             "framework_id": ASSESSMENT, "service": "config", "service_category": "AWS_Config",
             "resource_type": "s3:bucket", "evidence_folder_id": None, "description": None,
             "manual_evidence_s3_resource_path": None}
    varying = ["seq", "event_id", "event_time", "aws_region", "compliance_check", "data_source",
               "event_name", "evidence_aws_account_id", "evidence_id", "evidence_time",
               "control_set_id", "control_id", "control_name", "control_domain_name",
               "resource_arn", "evidence_folder_name", "resource_compliance_check", "result_rank"]
    assert set(fixed) | set(varying) == set(columns)
    order = [(True, varying.index(c)) if c in varying else (False, fixed[c]) for c in columns]
    regions = ("us-east-1", "eu-west-1", "ap-south-1")
    ranks = {check: RESULT_RANK[result_of(check)] for check in CHECKS}
    for n in range(items):
        account = ACCOUNTS[n % 20]
        control_set, control_id, control_name, domain, event = controls[n % 50]
        check = CHECKS[(n // 20) % 5]
        when = moments[(n * 7919) % 10000]
        evidence_id = f"00000000-0000-4000-8000-{n + 1:012x}"
        values = (n + 1, evidence_id + ":0", when, regions[n % 3], check, SOURCES[n % 3], event,
                  account, evidence_id, when, control_set, control_id, control_name, domain,
                  f"arn:aws:s3:::bucket-{account}-{n % 1000}", when[:10], check, ranks[check])
        yield tuple(values[v] if is_varying else v for is_varying, v in order)


def setup(home: Path, db_url: str, items: int) -> float:
    """An instance with the finder enabled and ``items`` rows loaded; returns load seconds."""
    from assay.config import load_settings
    from assay.service import open_services
    from assay.store import tables

    services = open_services(load_settings(home, db_url=db_url))
    admin = services.system()
    with services.store.write() as conn:
        conn.execute(tables.assessments.insert().values(
            id=ASSESSMENT, name="bench", region="us-east-1", collection_regions=[],
            status="ACTIVE", framework_id=ASSESSMENT, framework_name="bench",
            reports_destination={}, scope={}, created_at=time.time(), updated_at=time.time(),
            created_by=admin.arn))
    services.account.update_settings(admin, {"evidenceFinderEnabled": True})
    services.finder.wait()
    columns = list(tables.evidence_finder.c.keys())
    indexes = list(tables.evidence_finder.indexes)
    start = time.perf_counter()
    with services.store.engine.begin() as conn:  # a bulk load builds indexes once, after
        for index in indexes:
            index.drop(conn)
    raw = services.store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if services.store.is_sqlite:
            batch, sql = [], (f"INSERT INTO evidence_finder ({', '.join(columns)}) VALUES "
                              f"({', '.join('?' for _ in columns)})")
            cursor.execute("BEGIN")
            for row in rows(items, columns):
                batch.append(row)
                if len(batch) == 20000:
                    cursor.executemany(sql, batch)
                    batch = []
            cursor.executemany(sql, batch)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY evidence_finder ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows(items, columns):
                    copy.write_row(row)
            raw.commit()
    finally:
        raw.close()
    with services.store.engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")
    loaded = time.perf_counter() - start
    state = services.account.get_settings(admin, "EVIDENCE_FINDER_ENABLEMENT")
    assert state["evidenceFinderEnablement"]["enablementStatus"] == "ENABLED", state
    services.close()
    return loaded


def first_pages(home: Path, db_url: str, rounds: int = 5) -> dict:
    """Median seconds to the first page of 50 rows: finder against hand-written SQL, under a
    thread running the same searches meanwhile."""
    from assay.config import load_settings
    from assay.finder.filters import Filters, to_sql
    from assay.service import open_services

    services = open_services(load_settings(home, db_url=db_url))
    caller = services.system()
    since = (NOW - timedelta(days=7)).strftime("%Y-%m-%d")
    searches = {
        "account, 7 days, failed, newest first": (
            to_sql(Filters(account=ACCOUNTS[3], since=since, result="failed"), "newest", 51),
            f"SELECT * FROM evidence_finder WHERE evidence_aws_account_id = '{ACCOUNTS[3]}' "
            f"AND event_time >= '{since} 00:00:00' AND compliance_check IN ('FAILED', "
            "'NON_COMPLIANT') ORDER BY event_time DESC LIMIT 51"),
        "no filter, failed first (the console's default)": (
            to_sql(Filters(), "result", 51),
            "SELECT * FROM evidence_finder ORDER BY result_rank DESC, event_time DESC LIMIT 51"),
        "account, failed first (default order)": (
            to_sql(Filters(account=ACCOUNTS[5]), "result", 51),
            f"SELECT * FROM evidence_finder WHERE evidence_aws_account_id = '{ACCOUNTS[5]}' "
            "ORDER BY result_rank DESC, event_time DESC LIMIT 51"),
    }
    stop = threading.Event()

    def load() -> None:  # concurrent searches of other accounts while we measure
        n = 0
        while not stop.is_set():
            sql = to_sql(Filters(account=ACCOUNTS[n % 20], result="failed"), "newest", 51)
            list(services.finder.run(caller, sql).rows)
            n += 1

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    out = {}
    try:
        for name, (finder_sql, plain_sql) in searches.items():
            finder_times, plain_times = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                got = list(services.finder.run(caller, finder_sql).rows)
                finder_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                with services.store.engine.connect() as conn:
                    plain = conn.exec_driver_sql(plain_sql).all()
                plain_times.append(time.perf_counter() - start)
                assert len(got) == len(plain), (len(got), len(plain))
            finder, plain = statistics.median(finder_times), statistics.median(plain_times)
            out[name] = {"finder_s": round(finder, 4), "plain_sql_s": round(plain, 4),
                         "ratio": round(finder / plain, 2) if plain else None}
    finally:
        stop.set()
        loader.join(timeout=60)
        services.close()
    return out


_PLAIN_EXPORT = textwrap.dedent("""
    import csv, sys, sqlalchemy as sa
    engine = sa.create_engine(sys.argv[1])
    with engine.connect() as conn, open(sys.argv[2], "w", newline="") as out:
        writer = csv.writer(out)
        result = conn.execution_options(stream_results=True, yield_per=1000).exec_driver_sql(
            "SELECT * FROM evidence_finder")
        writer.writerow(result.keys())
        for row in result:
            writer.writerow(row)
""")


def _timed(args: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    wrapper = ("import resource, subprocess, sys, json, time\n"
               "t = time.perf_counter()\n"
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
               "print(json.dumps([time.perf_counter() - t, resource.getrusage("
               "resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))\n")
    done = subprocess.run([sys.executable, "-c", wrapper, *args], env=env, check=True,
                          capture_output=True, text=True, timeout=1800)
    seconds, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, peak


def export(home: Path, db_url: str, items: int, scratch: Path) -> dict:
    env = {**os.environ, "ASSAY_DB_URL": db_url, "ASSAY_FINDER_MAX_ROWS": str(items + 1),
           "ASSAY_FINDER_SECONDS": "1800",
           "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    finder_csv, plain_csv = scratch / "finder.csv", scratch / "plain.csv"
    assay = str(Path(sys.executable).parent / "assay")
    finder_s, finder_rss = _timed([assay, "evidence", "query", "SELECT * FROM evidence",
                                   "--format", "csv", "--output", str(finder_csv),
                                   "--home", str(home)], env)
    # SQLAlchemy on its own: PostgreSQL through psycopg 3, as Assay's store drives it.
    plain_url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    plain_s, plain_rss = _timed([sys.executable, "-c", _PLAIN_EXPORT, plain_url, str(plain_csv)],
                                env)
    with finder_csv.open() as fh:
        written = sum(1 for _ in fh) - 1
    assert written == items, (written, items)
    return {"finder_rows_per_s": round(items / finder_s), "plain_rows_per_s":
            round(items / plain_s), "ratio": round(plain_s / finder_s, 2),
            "finder_peak_rss_mb": round(finder_rss, 1), "plain_peak_rss_mb": round(plain_rss, 1),
            "finder_csv_mb": round(finder_csv.stat().st_size / 1e6, 1)}


def run_backend(backend: str, items: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="assay-bench-finder-") as folder:
        home = Path(folder)
        with world.scratch_database(backend, home) as db_url:
            loaded = setup(home, db_url, items)
            pages = first_pages(home, db_url)
            exported = export(home, db_url, items, home)
    return {"backend": backend, "items": items, "load_rows_per_s": round(items / loaded),
            "first_page": pages, "csv_export": exported}


def record(results: list[dict]) -> None:
    stamp = f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, Python {platform.python_version()}"
    lines = ["| backend | items | search | finder first page s | plain SQL s | ratio | run |",
             "|---|---:|---|---:|---:|---:|---|"]
    for r in results:
        for name, page in r["first_page"].items():
            lines.append(f"| {r['backend']} | {r['items']:,} | {name} | {page['finder_s']} | "
                         f"{page['plain_sql_s']} | {page['ratio']} | {stamp} |")
    lines += ["", "| backend | items | export rows/s | plain rows/s | ratio | export peak RSS MB "
                  "| plain peak RSS MB | CSV MB | bulk load rows/s | run |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        e = r["csv_export"]
        lines.append(f"| {r['backend']} | {r['items']:,} | {e['finder_rows_per_s']:,} | "
                     f"{e['plain_rows_per_s']:,} | {e['ratio']} | {e['finder_peak_rss_mb']} | "
                     f"{e['plain_peak_rss_mb']} | {e['finder_csv_mb']} | "
                     f"{r['load_rows_per_s']:,} | {stamp} |")
    readme = HERE / "README.md"
    text = readme.read_text()
    marker = "<!-- evidence_query results -->"
    block = f"{marker}\n" + "\n".join(lines) + f"\n{marker}"
    if marker in text:
        text = re.sub(re.escape(marker) + ".*?" + re.escape(marker), lambda _: block, text,
                      flags=re.S)
        readme.write_text(text)
    else:
        print("bench/README.md has no evidence_query section to record into", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv if argv is not None else [])
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = [run_backend(b, args.items) for b in backends]
    print(json.dumps(results, indent=2))
    if not args.no_record:
        record(results)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main(sys.argv[1:])
