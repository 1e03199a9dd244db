"""Issue 16 in a real browser, as a compliance manager runs the audit: the control with no
evidence because its source failed and its fix, failed checks by account and resource, an
assignment seen in the assignee's inbox, a risk accepted with an approver that expires when the
clock moves and shows in the report, every table exported and read back, and a collection's
progress updating without a reload. The insights API and reports agree with the console."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import zipfile
from urllib.parse import quote

import httpx
import openpyxl
from conftest import sign_in
from playwright.sync_api import expect
from seed import ACCOUNTS

from assay.jobs import Shard


def caller_of(server, identity):
    keys = server.services.keys
    return keys.caller(keys.authenticate(identity.key_id)[1], "us-east-1")


def signed_get(server, identity, path: str) -> dict:
    """A GET of one of Assay's own endpoints, signed with SigV4 as the AWS SDKs sign."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("GET", server.url + path)
    SigV4Auth(Credentials(identity.key_id, identity.secret), "auditmanager",
              "us-east-1").add_auth(request)
    answer = httpx.get(server.url + path, headers=dict(request.headers.items()))
    assert answer.status_code == 200, answer.text
    return answer.json()


def control_path(world, set_id: str, control_id: str) -> str:
    return (f"/console/assessments/{world.assessment_id}/controls/{control_id}"
            f"?set={quote(set_id, safe='')}")


def states(server, world) -> list[dict]:
    return server.services.posture.control_states(caller_of(server, world.owner),
                                                  world.assessment_id)["controls"]


def in_days(days: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).strftime("%Y-%m-%d")


def switch_to(page, identity, next_path: str) -> None:
    page.context.clear_cookies()
    sign_in(page, identity, quote(next_path, safe=""))


def record_run(services, aid: str, outcomes: list[tuple[dict, bool]]) -> str:
    """A finished collection run, recorded as the collection jobs record one: a shard per
    failure's account, region and source, each ending failed (True) or not."""
    collection = services.collection
    run_id = collection.start_run(aid, "schedule")
    shards = [Shard(f["account_id"], f["region"], f["source_type"], "", (f["keyword"],))
              for f, _ in outcomes]
    collection.add_shards(run_id, aid, [s.as_row() for s in shards], [])
    for shard, (failure, failed) in zip(shards, outcomes):
        collection.begin_shard(run_id, shard.key)
        collection.end_shard(run_id, aid, shard.key, failed=failed, added=0, duplicates=0,
                             throttled=0, counts=[], failures=[failure] if failed else [])
    assert collection.finish_if_complete(run_id)
    return run_id


# -- 1. gaps first ---------------------------------------------------------------------------

def test_find_the_control_whose_source_failed_and_read_its_fix(server, world, page, shot):
    services = server.services
    target = next(c for c in states(server, world) if c["state"] == "pending" and c["automated"])
    source = next(s for s in services.library.controls[target["controlId"]].mapping_sources
                  if s["sourceType"] != "MANUAL")
    failure = {"control_set_id": target["controlSetId"], "control_id": target["controlId"],
               "account_id": ACCOUNTS[1], "region": "us-east-1",
               "source_type": source["sourceType"],
               "keyword": source["sourceKeyword"]["keywordValue"],
               "error_code": "AccessDeniedException",
               "message": "User: arn:aws:sts::444455556666:assumed-role/AssayMemberRole/assay "
                          "is not authorized to perform this action"}
    record_run(services, world.assessment_id, [(failure, True)])

    sign_in(page, world.owner, quote(f"/console/assessments/{world.assessment_id}", safe=""))
    posture = page.locator("#posture")
    expect(posture.locator(".tile").filter(has_text="no evidence: source failed")).to_contain_text("1")
    shot(page, "assessment-posture")
    page.get_by_role("link", name="What is missing").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("What is missing")
    page.get_by_role("link", name="No evidence: source failed (1)").click()
    row = page.get_by_role("row").filter(has_text=target["name"])
    expect(row).to_contain_text("AccessDeniedException")
    expect(row).to_contain_text("Fix:")
    expect(row).to_contain_text("assay-member-role.yaml")
    shot(page, "missing-source-failed")
    row.get_by_role("link", name=target["name"]).click()
    state = page.locator("#state-section")
    expect(state).to_contain_text("No evidence: source failed")
    expect(state.locator("td.fix")).to_contain_text("Give Assay's role in account 444455556666")
    shot(page, "control-source-failed")


# -- 2. accounts and resources ---------------------------------------------------------------

def test_filter_failed_checks_by_account_and_follow_a_resource(server, world, page, shot):
    owner = caller_of(server, world.owner)
    account = ACCOUNTS[1]
    expected = server.services.posture.failed_checks(owner, world.assessment_id, account=account)
    sign_in(page, world.owner, quote(f"/console/assessments/{world.assessment_id}", safe=""))
    page.get_by_role("link", name="Failed checks", exact=True).click()
    page.get_by_label("Account").select_option(account)
    page.get_by_role("button", name="Filter").click()
    assert f"account={account}" in page.url
    expect(page.locator("main")).to_contain_text(f"{len(expected)} failed checks in account {account}")
    accounts = page.locator("table.checks tbody td:nth-child(3)").all_inner_texts()
    assert accounts and set(accounts) == {account}
    regions = page.locator("table.checks tbody td:nth-child(4)").all_inner_texts()
    assert "us-east-1" in regions
    # Resources are readable fields with the AWS console page, and every failed check links to
    # its remediation page from the library's data.
    s3 = page.locator("table.checks td.resource").filter(has_text=f"audit-logs-{account}").first
    expect(s3).to_contain_text("s3 bucket")
    assert s3.get_by_role("link", name="AWS console").get_attribute("href") == \
        f"https://s3.console.aws.amazon.com/s3/buckets/audit-logs-{account}"
    remediation = page.get_by_role("link", name="Remediation").first.get_attribute("href")
    assert remediation.startswith(("https://docs.aws.amazon.com/securityhub/latest/userguide/",
                                   "https://docs.aws.amazon.com/config/latest/developerguide/"))
    shot(page, "failed-checks-by-account")

    s3.get_by_role("link", name=f"audit-logs-{account}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resource")
    expect(page.locator("main")).to_contain_text("Controls it fails, across assessments")
    expect(page.locator("main table.data tbody tr").first).to_contain_text("FY26 CIS AWS review")
    shot(page, "resource")

    page.goto(f"/console/assessments/{world.assessment_id}/accounts")
    for each in ACCOUNTS:
        expect(page.locator("main")).to_contain_text(each)
    shot(page, "accounts")


# -- 3. fixes and owners ---------------------------------------------------------------------

def test_assign_a_control_and_see_it_in_the_assignees_inbox(server, world, page, shot):
    failing = next(c for c in states(server, world)
                   if c["state"] == "failing" and c["controlSetId"] == world.delegated_set)
    path = control_path(world, failing["controlSetId"], failing["controlId"])
    sign_in(page, world.owner, quote(path, safe=""))
    expect(page.locator("#state-section")).to_contain_text("Failing")
    evidence = page.locator("#evidence-section table.evidence").first
    expect(evidence.locator("thead")).to_contain_text("Account / region")
    expect(evidence.locator("tbody")).to_contain_text("us-east-1")
    expect(evidence.locator("tbody")).to_contain_text(ACCOUNTS[0])
    page.get_by_label("Assign to").select_option(label="dan (delegate)")
    page.get_by_label("Due date").fill(in_days(14))
    page.get_by_label("Note").fill("Rotate or remove the keys, then tell me.")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text(f"Assigned to dan, due {in_days(14)}")
    expect(page.locator("#owners-section")).to_contain_text("dan")
    expect(page.locator(".timeline")).to_contain_text("assigned to dan")
    shot(page, "control-assigned")

    switch_to(page, world.delegate, "/console/inbox")
    mine = page.locator("section").filter(has_text="Assigned to you")
    expect(mine).to_contain_text(failing["name"])
    expect(page.locator("ol.notes")).to_contain_text(f"assigned you {failing['name']}")
    shot(page, "inbox-assignment")
    mine.get_by_role("button", name=f"Mark {failing['name']} done").click()
    expect(page.locator(".flash-ok")).to_contain_text("is done")

    logs = server.client(world.owner, strict=False).get_change_logs(
        assessmentId=world.assessment_id, controlSetId=failing["controlSetId"],
        controlId=failing["controlId"])["changeLogs"]
    names = [entry["objectName"] for entry in logs]
    assert any("assigned to dan" in n for n in names), names
    assert any("assignment to dan done" in n for n in names), names


# -- 4. exceptions ---------------------------------------------------------------------------

def test_accept_a_risk_with_an_approver_watch_it_expire_and_see_it_in_the_report(
        server, world, page, shot):
    services = server.services
    failing = next(c for c in states(server, world)
                   if c["state"] == "failing" and c["controlSetId"] == world.other_set)
    path = control_path(world, failing["controlSetId"], failing["controlId"])
    sign_in(page, world.owner, quote(path, safe=""))
    page.get_by_label("Accept the failed checks of").select_option(label="the whole control")
    page.get_by_label("Justification").fill("Compensating control: the legacy account is "
                                            "isolated and decommissioned next quarter.")
    page.get_by_label("Approver").select_option(label="admin (admin)")
    page.get_by_label("Expires on").fill(in_days(30))
    page.get_by_role("button", name="Request risk acceptance").click()
    expect(page.locator(".flash-ok")).to_contain_text("admin decides")
    expect(page.locator("#exceptions-section")).to_contain_text("Pending")

    switch_to(page, server.admin, "/console/inbox")
    waiting = page.locator("section").filter(has_text="waiting for your decision")
    expect(waiting).to_contain_text(failing["name"])
    shot(page, "inbox-approval")
    waiting.get_by_role("button", name=f"Approve the exception for {failing['name']}").click()
    expect(page.locator(".flash-ok")).to_contain_text("approved")

    # Counted apart everywhere, and the API agrees with the console.
    page.goto(f"/console/assessments/{world.assessment_id}")
    expect(page.locator("#posture .tile").filter(has_text="risk accepted")).to_contain_text("1")
    shot(page, "assessment")
    api = server.client(world.owner, strict=False)
    owner = caller_of(server, world.owner)

    def agree() -> dict:
        insight = api.get_insights_by_assessment(assessmentId=world.assessment_id)["insights"]
        controls = services.posture.control_states(owner, world.assessment_id)
        checks = services.posture.failed_checks(owner, world.assessment_id)
        assert insight["noncompliantEvidenceCount"] == sum(
            1 for c in checks if not c["acceptedBy"]) == sum(
            c["noncompliant"] for c in controls["controls"])
        assert insight["assessmentControlsCountByNoncompliantEvidence"] == \
            controls["counts"]["failing"]
        extension = signed_get(server, world.owner,
                               f"/_assay/insights/assessments/{world.assessment_id}")
        assert extension["evidence"] == {
            "failed": insight["noncompliantEvidenceCount"],
            "accepted": sum(1 for c in checks if c["acceptedBy"])}
        assert extension["controls"] == controls["counts"]
        return {**controls["counts"], "acceptedChecks": sum(1 for c in checks if c["acceptedBy"])}

    now = agree()
    unsigned = httpx.get(f"{server.url}/_assay/insights/assessments/{world.assessment_id}")
    assert unsigned.status_code == 403 and "Missing Authentication Token" in unsigned.text
    assert now["acceptedChecks"] == failing["noncompliant"] > 0 and now["accepted"] == 1

    # In the report: the exception and the accepted checks, counted apart.
    folders = services.evidence.folders_by_control(owner, world.assessment_id,
                                                   failing["controlSetId"], failing["controlId"],
                                                   None, 3)[0]
    for folder in folders:
        services.evidence.select_for_report(owner, world.assessment_id, folder["id"], None, True)
    report = api.create_assessment_report(name="With-exceptions",
                                          assessmentId=world.assessment_id)["assessmentReport"]
    for _ in range(120):
        listed = api.list_assessment_reports()["assessmentReports"]
        status = next(r["status"] for r in listed if r["id"] == report["id"])
        if status != "IN_PROGRESS":
            break
        time.sleep(0.5)
    assert status == "COMPLETE"
    link = api.get_assessment_report_url(assessmentReportId=report["id"],
                                         assessmentId=world.assessment_id)["preSignedUrl"]["link"]
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(link).content))
    exceptions_file = next(n for n in archive.namelist() if n.endswith("risk-exceptions.json"))
    listed = json.loads(archive.read(exceptions_file))
    assert [(x["controlId"], x["status"], x["active"]) for x in listed] == [
        (failing["controlId"], "APPROVED", True)]
    from pypdf import PdfReader

    pdf = next(n for n in archive.namelist() if n.endswith("AssessmentReportSummary.pdf"))
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read(pdf))).pages)
    flat = " ".join(text.split())
    assert "accepted with a justification" in flat and "APPROVED" in flat, flat[-3000:]

    # Thirty-one days later it has expired on its own: failed again, and said so everywhere.
    real_clock = services.worklist.clock
    services.worklist.clock = lambda: time.time() + 31 * 86400
    try:
        switch_to(page, world.owner, f"/console/assessments/{world.assessment_id}/exceptions")
        row = page.get_by_role("row").filter(has_text=failing["name"])
        expect(row).to_contain_text("Expired")
        shot(page, "exceptions-expired")
        after = agree()
        assert after["acceptedChecks"] == after["accepted"] == 0
        assert after["failing"] == now["failing"] + 1
        logs = [e["objectName"] for e in api.get_change_logs(
            assessmentId=world.assessment_id, controlSetId=failing["controlSetId"],
            controlId=failing["controlId"])["changeLogs"]]
        for step in ("requested until", "approved", "expired"):
            assert any("risk acceptance" in n and step in n for n in logs), (step, logs)
        page.goto(f"/console/assessments/{world.assessment_id}/history"
                  f"?set={quote(failing['controlSetId'], safe='')}")
        expect(page.locator("main")).to_contain_text("expired")
    finally:
        services.worklist.clock = real_clock


# -- 7. exports ------------------------------------------------------------------------------

def read_back(download) -> list[list[str]]:
    data = open(download.path(), "rb").read()
    if download.suggested_filename.endswith(".csv"):
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [["" if v is None else str(v) for v in row]
            for row in workbook.worksheets[0].iter_rows(values_only=True)]


def test_export_each_table_and_open_the_file(server, world, page):
    aid = world.assessment_id
    control = control_path(world, world.control["set"], world.control["id"])
    tables = [  # page, table, header it must have, rows it must have at least
        (f"/console/assessments/{aid}", "controls", "State", 62),
        (f"/console/assessments/{aid}/failed-checks", "failed-checks", "Account", 10),
        (control, "evidence", "Region", 3),
        (f"/console/assessments/{aid}/collection", "collection-failures", "Fix", 1),
        (f"/console/assessments/{aid}/exceptions", "exceptions", "Approver", 1),
        (f"/console/assessments/{aid}/assignments", "assignments", "Due", 1),
    ]
    sign_in(page, world.owner)
    for where, table, header, least in tables:
        page.goto(where)
        for fmt in ("CSV", "XLSX"):
            link = page.locator(f"a[href*='/export/{table}.{fmt.lower()}']").first
            with page.expect_download() as downloaded:
                link.click()
            rows = read_back(downloaded.value)
            assert header in rows[0], (table, fmt, rows[0])
            assert len(rows) - 1 >= least, (table, fmt, len(rows))
            if table == "evidence":  # account and region of every collected item
                region = rows[0].index("Region")
                assert {r[region] for r in rows[1:] if r[3] != "Manual"} == {"us-east-1"}, rows[:3]
    # A delegate's export holds only its control sets, as its pages do.
    switch_to(page, world.delegate, f"/console/assessments/{aid}")
    with page.expect_download() as downloaded:
        page.locator("a[href*='/export/controls.xlsx']").first.click()
    sets = {row[0] for row in read_back(downloaded.value)[1:]}
    assert sets == {world.delegated_set}


# -- 8. live collection progress -------------------------------------------------------------

def test_collection_progress_updates_without_reloading(server, world, page, shot):
    services = server.services
    aid = world.assessment_id
    collection = services.collection
    plan = collection.plan(services.system(), aid)
    sign_in(page, world.owner, quote(f"/console/assessments/{aid}/collection", safe=""))
    page.evaluate("() => { window.notReloaded = true; }")
    # A run of three shards, recorded as the collection jobs record them.
    run_id = collection.start_run(aid, "manual")
    shards = [Shard(ACCOUNTS[0], "us-east-1", s.source_type, "", (s.keyword,))
              for s in plan.sources[:3]]
    collection.add_shards(run_id, aid, [s.as_row() for s in shards], [])
    page.reload()  # the run started after the page: open it again once, then no more reloads
    page.evaluate("() => { window.notReloaded = true; }")
    box = page.locator("#progress")
    expect(box.locator("[data-field=status]")).to_have_text("running")
    expect(box.locator("[data-field=total]")).to_have_text("3")
    second = plan.sources[1]
    failure = {"control_set_id": second.controls[0].control_set_id,
               "control_id": second.controls[0].control_id, "account_id": ACCOUNTS[0],
               "region": "us-east-1", "source_type": second.source_type,
               "keyword": second.keyword, "error_code": "ThrottlingException",
               "message": "Rate exceeded"}
    for shard, failures in ((shards[0], []), (shards[1], [failure])):
        collection.begin_shard(run_id, shard.key)
        collection.end_shard(run_id, aid, shard.key, failed=bool(failures), added=0,
                             duplicates=0, throttled=0, counts=[], failures=failures)
    expect(box.locator("[data-field=done]")).to_have_text("1")
    expect(box.locator("[data-field=failed]")).to_have_text("1")
    expect(box.locator("[data-field=errors]")).to_have_text("1")
    expect(box).to_contain_text("ThrottlingException")
    shot(page, "collection-progress")
    collection.begin_shard(run_id, shards[2].key)
    collection.end_shard(run_id, aid, shards[2].key, failed=False, added=0, duplicates=0,
                         throttled=0, counts=[], failures=[])
    assert collection.finish_if_complete(run_id)
    expect(box.locator("[data-field=status]")).to_have_text("complete")
    assert page.evaluate("() => window.notReloaded") is True


# -- 6. freshness ----------------------------------------------------------------------------

def test_manual_evidence_expires_and_is_flagged_in_the_owners_inbox(server, world, page, shot):
    services = server.services
    path = control_path(world, world.control["set"], world.control["id"])
    sign_in(page, world.owner, quote(path, safe=""))
    expect(page.locator("#state-section")).to_contain_text("days old")
    validity = page.locator("#validity-section")
    validity.get_by_label("Valid until, for root-mfa-policy.pdf").fill(in_days(10))
    validity.get_by_role("row").filter(has_text="root-mfa-policy.pdf").get_by_role(
        "button", name="Set").click()
    expect(page.locator(".flash-ok")).to_contain_text(f"valid until {in_days(10)}")
    expect(page.locator(".timeline")).to_contain_text("root-mfa-policy.pdf' valid until")
    page.goto("/console/inbox")
    expiring = page.locator("section").filter(has_text="Manual evidence expired or expiring")
    expect(expiring).to_contain_text(f"Expires {in_days(10)}")
    expect(expiring).to_contain_text(world.control["name"])

    real_clock = services.worklist.clock
    services.worklist.clock = lambda: time.time() + 11 * 86400
    try:
        page.reload()
        expect(expiring).to_contain_text("Expired")
        shot(page, "inbox-expired-evidence")
        control = next(c for c in states(server, world)
                       if c["controlId"] == world.control["id"])
        assert control["manualExpired"] == 1
    finally:
        services.worklist.clock = real_clock


# -- 5. score and trend ------------------------------------------------------------------------

def test_score_and_trend_per_assessment_set_and_domain(server, world, page, shot):
    """The assessment page shows the share of checked controls passing and of controls with
    evidence, with "since last week" deltas, for the assessment, each control set and each
    control domain: the numbers the posture service computes from the evidence folders."""
    services = server.services
    caller = services.system()
    whole = services.posture.trend(caller, world.assessment_id, 30)["groups"][0]
    domains = services.posture.trend(caller, world.assessment_id, 30, "domain")["groups"]
    assert whole["passingShare"] is not None and whole["passingDelta"] is not None  # 14 days seeded
    sign_in(page, world.owner, quote(f"/console/assessments/{world.assessment_id}", safe=""))
    line = page.locator("#score-line")
    expect(line).to_contain_text(f"{whole['passingShare']}%")
    expect(line).to_contain_text(f"since last week {whole['passingDelta']:+.1f} points")
    table = page.locator("#domain-scores")
    assert len(domains) >= 2
    for group in domains:
        row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=group["name"],
                                                                     exact=True))
        expect(row).to_contain_text(str(group["controls"]))
        if group["passingShare"] is not None:
            expect(row).to_contain_text(f"{group['passingShare']}%")
        if group["passingDelta"] is not None:
            expect(row).to_contain_text(f"{group['passingDelta']:+.1f} points")
    shot(page, "assessment-score")
