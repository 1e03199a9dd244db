"""The console's evidence search in a real browser: filters, failed-first sorting, the SQL of
each filter set, CSV and XLSX exports of what is shown, counts by control domain, a
delegate's narrowed view, and the control page's filtered evidence table. Expected rows are
counted from the seeded evidence records."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import quote

import openpyxl
import orjson
import pytest
import sqlalchemy as sa
from conftest import sign_in
from playwright.sync_api import expect

from assay.model.evidence import COMPLIANT_RESULTS, NONCOMPLIANT_RESULTS
from assay.store import tables


@pytest.fixture(scope="module")
def finder_on(server, world):
    admin = server.client()
    admin.update_settings(evidenceFinderEnabled=True)
    server.services.finder.wait(120)
    state = admin.get_settings(attribute="EVIDENCE_FINDER_ENABLEMENT")["settings"]
    assert state["evidenceFinderEnablement"]["enablementStatus"] == "ENABLED"
    return world


def seeded_rows(server) -> list[dict]:
    """One row per evidence item and included resource (at least one), from the ledger."""
    library = server.services.library
    with server.services.store.read() as conn:
        domains = {(r.control_set_id, r.control_id): library.domains.get(r.domain_id)
                   for r in conn.execute(sa.select(tables.assessment_controls))}
        records = [orjson.loads(r) for r in conn.execute(
            sa.select(tables.evidence.c.record)).scalars()]
    rows = []
    for record in records:
        domain = domains.get((record["controlSetId"], record["controlId"]))
        check = record.get("complianceCheck")
        result = ("failed" if check in NONCOMPLIANT_RESULTS else
                  "passed" if check in COMPLIANT_RESULTS else "inconclusive")
        for resource in record.get("resourcesIncluded") or [{}]:
            rows.append({"id": record["id"], "set": record["controlSetId"],
                         "control": record["controlId"], "result": result,
                         "account": record.get("evidenceAwsAccountId"),
                         "arn": resource.get("arn"), "source": record["dataSource"],
                         "domain": domain.name if domain else None,
                         "day": datetime.fromtimestamp(record["time"], timezone.utc)
                         .strftime("%Y-%m-%d")})
    return rows


def download(page, link_name: str) -> bytes:
    with page.expect_download() as caught:
        page.get_by_role("link", name=link_name).first.click()
    return open(caught.value.path(), "rb").read()


def test_search_filters_sorts_shows_sql_and_exports(server, finder_on, page, shot):
    world, rows = finder_on, seeded_rows(server)
    sign_in(page, world.owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evidence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Evidence search")
    first = page.locator("table.evidence-results tbody tr").first
    expect(first).to_have_class("result-row-failed")  # failed first by default
    shot(page, "evidence-search")

    # One account, failed checks, one day, one data source: a page's worth of rows.
    account, day = "444455556666", sorted({r["day"] for r in rows})[-2]
    expected = [r for r in rows if r["account"] == account and r["result"] == "failed"
                and r["day"] == day and r["source"] == "AWS Security Hub"]
    assert 0 < len(expected) <= 50
    page.get_by_label("From day").fill(day)
    page.get_by_label("To day").fill(day)
    page.get_by_label("Account").fill(account)
    page.get_by_label("Result", exact=True).select_option("failed")
    page.get_by_label("Data source").select_option("AWS Security Hub")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.evidence-results tbody tr")).to_have_count(len(expected))
    expect(page.locator("table.evidence-results .result-fail")).to_have_count(len(expected))
    page.get_by_text("The query for these filters").click()
    sql = page.locator(".finder-sql pre code").inner_text()
    assert f"eventData.evidenceAwsAccountId = '{account}'" in sql
    assert "eventData.complianceCheck IN ('FAILED', 'NON_COMPLIANT')" in sql
    assert f"eventTime >= TIMESTAMP '{day} 00:00:00'" in sql
    shot(page, "evidence-search-filtered")

    exported = list(csv.DictReader(io.StringIO(download(page, "Export CSV").decode())))
    assert Counter(r["evidenceId"] for r in exported) == Counter(r["id"] for r in expected)
    book = openpyxl.load_workbook(io.BytesIO(download(page, "Export XLSX")))
    values = list(book.active.values)
    assert values[0][0] == "eventTime" and len(values) == len(expected) + 1

    # By resource ARN.
    arn = next(r["arn"] for r in rows if r["arn"])
    page.goto("/console/evidence?" + f"resource_arn={quote(arn, safe='')}&sort=newest")
    everything = list(csv.DictReader(io.StringIO(download(page, "Export CSV").decode())))
    assert len(everything) == len([r for r in rows if r["arn"] == arn])
    times = [r["eventTime"] for r in everything]
    assert times == sorted(times, reverse=True)


def test_counts_by_control_domain_in_the_export(server, finder_on, page):
    rows = seeded_rows(server)
    sign_in(page, finder_on.auditor, "/console/evidence")
    exported = list(csv.DictReader(io.StringIO(download(page, "Export CSV").decode())))
    assert Counter(r["controlDomainName"] or None for r in exported) == \
        Counter(r["domain"] for r in rows)
    ranks = {"failed": 0, "inconclusive": 1, "passed": 2}
    order = [0 if r["complianceCheck"] in NONCOMPLIANT_RESULTS else
             2 if r["complianceCheck"] in COMPLIANT_RESULTS else 1 for r in exported]
    assert order == sorted(order) and set(ranks.values()) >= set(order)


def test_a_delegate_searches_only_its_control_set(server, finder_on, page, shot):
    world, rows = finder_on, seeded_rows(server)
    sign_in(page, world.delegate, "/console/evidence?sort=control")
    shot(page, "evidence-search-delegate")
    exported = list(csv.DictReader(io.StringIO(download(page, "Export CSV").decode())))
    assert {r["controlSetId"] for r in exported} == {world.delegated_set}
    assert len(exported) == len([r for r in rows if r["set"] == world.delegated_set])
    # Typing another set's control into the URL: still only its own evidence.
    page.goto(f"/console/evidence?control_name={quote(world.other_control['name'])}")
    expect(page.locator("table.evidence-results")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No evidence matches")


def test_the_control_page_filters_and_sorts_the_same_way(server, finder_on, page, shot):
    world, rows = finder_on, seeded_rows(server)
    control = world.control
    mine = [r for r in rows if r["control"] == control["id"] and r["set"] == control["set"]]
    passed = [r for r in mine if r["result"] == "passed"]
    sign_in(page, world.owner, f"/console/assessments/{world.assessment_id}/controls/"
                               f"{control['id']}?set={quote(control['set'], safe='')}")
    section = page.locator("#evidence-search")
    expect(section.get_by_role("heading", name="Evidence: filter and sort")).to_be_visible()
    section.get_by_label("Result", exact=True).select_option("passed")
    section.get_by_label("Sort").select_option("oldest")
    section.get_by_role("button", name="Search").click()
    section = page.locator("#evidence-search")
    shown = section.locator("table.evidence-results tbody tr")
    expect(shown).to_have_count(min(len(passed), 50))
    expect(section.locator(".result-fail")).to_have_count(0)
    shot(page, "control-evidence-filtered")
    exported = list(csv.DictReader(io.StringIO(download(page, "Export CSV").decode())))
    assert Counter(r["evidenceId"] for r in exported) == Counter(r["id"] for r in passed)
    times = [r["eventTime"] for r in exported]
    assert times == sorted(times)


def test_a_report_of_the_search_results(server, finder_on, page, shot):
    world, rows = finder_on, seeded_rows(server)
    account = "111122223333"
    expected = {r["id"] for r in rows if r["account"] == account and r["result"] == "failed"}
    sign_in(page, world.owner)
    page.goto(f"/console/evidence?account={account}&result=failed")
    section = page.locator("section").filter(has=page.get_by_role(
        "heading", name="A report of these results"))
    section.get_by_label("Report name").fill("failed-in-111122223333")
    section.get_by_role("button", name="Build report").click()
    expect(page.locator(".flash-ok")).to_contain_text("being built from the evidence")
    report_id = page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    server.services.reports.wait(120)
    record = next(r for r in server.services.reports.records() if r["id"] == report_id)
    assert record["status"] == "COMPLETE" and record["evidenceCount"] == len(expected)
    shot(page, "evidence-search-report")
