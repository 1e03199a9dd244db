"""The review console in a real browser: signing in, the review work of a process owner, a
delegate's narrowed view, an auditor who only reads, CSRF, reports, keys, library and
collection pages. Every page visited is saved as a screenshot under test-artifacts/console/."""

from __future__ import annotations

import io
import time
import zipfile
from urllib.parse import quote

import pytest
from conftest import sign_in
from playwright.sync_api import expect

from assay.service.ledger import EvidenceDraft, day_of


def control_path(world, control: dict | None = None) -> str:
    control = control or world.control
    return (f"/console/assessments/{world.assessment_id}/controls/{control['id']}"
            f"?set={quote(control['set'], safe='')}")


def forms_that_change(page) -> int:
    """POST forms on the page other than signing out."""
    return page.locator("form[method=post]:not([action$='/sign-out'])").count()


def check_labels(page) -> None:
    """Every visible input, select and textarea has an accessible name."""
    unnamed = page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')].filter(el => {
          if (el.closest('[hidden]')) return false;
          const label = el.id && document.querySelector(`label[for="${el.id}"]`);
          return !label && !el.getAttribute('aria-label') && !el.closest('label');
        }).map(el => el.outerHTML)""")
    assert not unnamed, f"inputs without a label: {unnamed}"
    levels = page.evaluate(
        "() => [...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), f"heading levels skip: {levels}"


# -- signing in -------------------------------------------------------------------------------

def test_sign_in_session_and_sign_out(server, world, page, context, shot):
    page.goto("/console/assessments")
    assert page.url == f"{server.url}/console/sign-in?next=%2Fconsole%2Fassessments"
    shot(page, "sign-in")
    check_labels(page)

    page.get_by_label("Access key ID").fill(world.owner.key_id)
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an active Assay key")
    shot(page, "sign-in-refused")

    sign_in(page, world.owner, "/console/assessments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessments")
    cookie = next(c for c in context.cookies() if c["name"] == "assay_console")
    assert cookie["httpOnly"] and cookie["sameSite"] in ("Lax", "Strict")
    assert cookie["path"] == "/console"
    assert world.owner.secret not in cookie["value"]

    # Keyboard basics: the first Tab reaches the skip link, which jumps to the content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto("/console/assessments")
    assert "/console/sign-in" in page.url

    # The old cookie is refused after signing out.
    context.add_cookies([{**cookie}])
    page.goto("/console/assessments")
    assert "/console/sign-in" in page.url


def test_revoking_the_key_ends_its_sessions_at_once(server, world, page, shot):
    temporary = server.identity("process-owner")
    sign_in(page, temporary)
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessments")
    server.services.keys.revoke(temporary.key_id)
    page.goto("/console/assessments")
    assert "/console/sign-in" in page.url
    expect(page.get_by_role("status")).to_contain_text("no longer active")


# -- the owner's review work ------------------------------------------------------------------

def test_owner_reviews_a_control(server, world, page, shot):
    sign_in(page, world.owner)
    shot(page, "assessments")
    check_labels(page)
    row = page.get_by_role("row").filter(has_text="FY26 CIS AWS review")
    expect(row).to_contain_text("CIS AWS Foundations Benchmark v3.0.0")
    expect(row).to_contain_text("111122223333")
    expect(page.locator("svg.chart")).to_have_count(1)  # compliance by domain

    row.get_by_role("link", name="FY26 CIS AWS review").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("FY26 CIS AWS review")
    expect(page.locator("svg.chart")).to_have_count(3)   # states by domain, score, per day
    expect(page.get_by_role("heading", name=world.delegated_set)).to_be_visible()
    expect(page.locator("#delegations-section")).to_contain_text("dan")
    check_labels(page)
    shot(page, "assessment")

    page.get_by_role("link", name=world.control["name"], exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.control["name"])
    check_labels(page)
    shot(page, "control")

    # Read the evidence: the folders by day, each item's result and full JSON.
    folder = page.locator("details.folder").first
    expect(folder.locator("table.evidence tbody tr").first).to_be_visible()
    folder.locator("details.json summary").first.click()
    expect(folder.locator("details.json pre").first).to_contain_text('"evidenceFolderId"')
    expect(page.locator("#evidence-section")).to_contain_text("PASSED")
    expect(page.locator("#evidence-section")).to_contain_text("root-mfa-policy.pdf")

    # Comment.
    page.get_by_label("Add a comment").fill("Evidence reviewed with the cloud team.")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Comment added.")
    expect(page.locator("#comments-section")).to_contain_text(
        "Evidence reviewed with the cloud team.")

    # A text response.
    page.get_by_label("Text response").fill("Root access keys were removed on 2026-11-02.")
    page.get_by_role("button", name="Add text response").click()
    expect(page.locator(".flash-ok")).to_have_text("Text response added.")
    expect(page.locator("#evidence-section")).to_contain_text("Root access keys were removed")

    # Upload a file with the file picker, and another by dropping it on the drop zone.
    page.locator("#file-input").set_input_files(files=[{
        "name": "access-review.csv", "mimeType": "text/csv",
        "buffer": b"user,last_used\nalice,2026-11-20\n"}])
    expect(page.locator("#evidence-section")).to_contain_text("access-review.csv", timeout=20000)
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File(['key rotation runbook'], 'rotation-runbook.txt',
                                {type: 'text/plain'}));
        const zone = document.querySelector('.dropzone');
        const init = {dataTransfer: data, bubbles: true, cancelable: true};
        zone.dispatchEvent(new DragEvent('dragover', init));
        zone.dispatchEvent(new DragEvent('drop', init));
    }""")
    expect(page.locator("#evidence-section")).to_contain_text("rotation-runbook.txt", timeout=20000)
    shot(page, "control-after-review")

    # Select evidence for the report: one item by its checkbox, then a whole folder.
    folder = page.locator("details.folder").first
    folder.locator("input[type=checkbox][name=evidence]").first.check()
    folder.get_by_role("button", name="Save report selection").click()
    expect(page.locator(".flash-ok")).to_contain_text("1 of")
    page.locator("details.folder").nth(1).get_by_role("button", name="Select whole folder").click()
    expect(page.locator(".flash-ok")).to_contain_text("Every item of the folder is in the report")

    # Change the control's status.
    page.get_by_label("Control status").select_option("REVIEWED")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".flash-ok")).to_contain_text("Status is now reviewed")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reviewed")
    expect(page.locator(".timeline")).to_contain_text("Reviewed")

    # The same state through the API: the console went through the same services.
    api = server.client(world.owner, strict=False)
    control = next(c for s in api.get_assessment(assessmentId=world.assessment_id)
                   ["assessment"]["framework"]["controlSets"] if s["id"] == world.control["set"]
                   for c in s["controls"] if c["id"] == world.control["id"])
    assert control["status"] == "REVIEWED"
    assert any(c["commentBody"] == "Evidence reviewed with the cloud team."
               for c in control["comments"])
    assert control["assessmentReportEvidenceCount"] >= 2


def test_owner_builds_a_report_and_downloads_it(server, world, page, shot):
    # Some evidence must be selected: select a folder of the other set through the console.
    sign_in(page, world.owner, quote(control_path(world, world.other_control), safe=""))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.other_control["name"])
    page.locator("details.folder").first.get_by_role("button", name="Select whole folder").click()
    expect(page.locator(".flash-ok")).to_contain_text("in the report")

    page.get_by_role("link", name="Reports").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessment reports")
    check_labels(page)
    page.get_by_label("Report name").fill("Q4 evidence for the auditor")
    page.get_by_label("Description (optional)").fill("Selected by the console test")
    page.get_by_role("button", name="Create report").click()
    expect(page.locator(".flash-ok")).to_contain_text("is being built")
    # The page refreshes itself while the report builds.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Complete", timeout=60000)
    shot(page, "report")

    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download zip").click()
    download = downloaded.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    names = archive.namelist()
    assert any(n.endswith("AssessmentReportSummary.pdf") for n in names), names
    assert len(names) > 3

    page.get_by_role("link", name="Check integrity").click()
    expect(page.locator("#integrity")).to_contain_text("intact")
    expect(page.locator("#integrity")).to_contain_text("Ed25519")
    shot(page, "report-integrity")

    page.get_by_role("link", name="Reports", exact=True).first.click()
    expect(page.get_by_role("row").filter(has_text="Q4 evidence for the auditor")).to_contain_text(
        "Complete")
    shot(page, "reports")


# -- a delegate sees only its control set -----------------------------------------------------

def test_delegate_sees_only_its_control_set(server, world, page, shot):
    sign_in(page, world.delegate)
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Reports")
    page.get_by_role("link", name="FY26 CIS AWS review").first.click()
    expect(page.get_by_role("heading", name=world.delegated_set)).to_be_visible()
    expect(page.get_by_role("heading", name=world.other_set)).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(world.other_control["name"])
    shot(page, "delegate-assessment")

    # Typing the URL of a control of another set: refused, and nothing of it is shown.
    response = page.goto(control_path(world, world.other_control))
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("body")).not_to_contain_text(world.other_control["name"])
    shot(page, "delegate-refused")
    folders, _ = server.services.evidence.folders_by_control(
        server.services.system(), world.assessment_id, world.other_control["set"],
        world.other_control["id"], None, 1)
    response = page.goto(f"/console/assessments/{world.assessment_id}/folders/{folders[0]['id']}"
                         f"?set={quote(world.other_control['set'], safe='')}")
    assert response.status in (403, 404)
    response = page.goto(f"/console/assessments/{world.assessment_id}/history"
                         f"?set={quote(world.other_set, safe='')}")
    assert response.status == 403

    # Its own control: it can work on it.
    page.goto(control_path(world))
    expect(page.get_by_label("Add a comment")).to_be_visible()
    page.get_by_label("Add a comment").fill("Done on my side.")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".flash-ok")).to_have_text("Comment added.")
    shot(page, "delegate-control")

    # The inbox: its delegation and notifications; it submits the set for review.
    page.get_by_role("link", name="Inbox").click()
    expect(page.locator(".delegation")).to_contain_text(world.delegated_set)
    expect(page.locator(".notes")).to_contain_text("delegated control set")
    check_labels(page)
    shot(page, "delegate-inbox")
    page.get_by_label("Note for the process owners").fill("All controls checked.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash-ok")).to_contain_text("submitted for review")
    expect(page.locator(".delegation")).to_contain_text("Under review")

    # The owner sees it in its notifications, and sends the set back.
    page.context.clear_cookies()
    sign_in(page, world.owner, "/console/inbox")
    expect(page.locator(".notes")).to_contain_text("was submitted for review by dan")
    page.goto(f"/console/assessments/{world.assessment_id}")
    section = page.locator("details.set").filter(has=page.get_by_role("heading",
                                                                       name=world.delegated_set))
    section.get_by_label("Comment for the delegate").fill("Please add the key rotation evidence.")
    section.get_by_role("button", name="Send back").click()
    expect(page.locator(".flash-ok")).to_contain_text("sent back")


def test_owner_delegates_a_control_set(server, world, page):
    sign_in(page, world.owner, f"/console/assessments/{world.assessment_id}")
    page.get_by_label("Control set", exact=True).select_option(world.sets[2])
    page.get_by_label("Delegate", exact=True).select_option(label="erin")
    page.get_by_label("Comment (optional)").fill("Logging is yours this year.")
    page.get_by_role("button", name="Delegate", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text("delegated")
    expect(page.locator("#delegations-section")).to_contain_text("erin")
    # Delegating the same set to the same person again is refused, with the service's reason.
    page.get_by_label("Control set", exact=True).select_option(world.sets[2])
    page.get_by_label("Delegate", exact=True).select_option(label="erin")
    page.get_by_role("button", name="Delegate", exact=True).click()
    expect(page.locator(".flash-error")).to_contain_text("already delegated")
    # And removed again.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Remove the delegation of {world.sets[2]} to erin").click()
    expect(page.locator(".flash-ok")).to_contain_text("Delegation removed")
    expect(page.locator("#delegations-section table")).not_to_contain_text("erin")


# -- an auditor reads, and changes nothing ----------------------------------------------------

def test_auditor_reads_and_cannot_change_anything(server, world, page, context, shot):
    sign_in(page, world.auditor, quote(control_path(world), safe=""))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.control["name"])
    expect(page.locator("#evidence-section table.evidence").first).to_be_visible()
    assert forms_that_change(page) == 0
    expect(page.locator("input[type=file]")).to_have_count(0)
    shot(page, "auditor-control")
    page.goto(f"/console/assessments/{world.assessment_id}")
    assert forms_that_change(page) == 0
    page.goto("/console/reports")
    assert forms_that_change(page) == 0
    shot(page, "auditor-reports")
    page.goto("/console/settings")
    expect(page.locator("body")).not_to_contain_text("Access keys")
    assert forms_that_change(page) == 0

    # A forged POST, with a valid CSRF token of the auditor's own session: refused.
    page.goto(control_path(world))
    token = page.evaluate("() => document.cookie")  # HttpOnly: the session is not readable
    assert "assay_console=" not in token
    csrf = _csrf_of(page, context)
    before = _comments(server, world)
    response = context.request.post(
        f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}/comment"
        f"?set={quote(world.control['set'], safe='')}",
        form={"csrf": csrf, "comment": "forged"}, max_redirects=0)
    assert response.status == 403
    assert "not authorized" in response.text() or "not a process owner" in response.text()
    response = context.request.post(
        f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}/status"
        f"?set={quote(world.control['set'], safe='')}",
        form={"csrf": csrf, "status": "INACTIVE"}, max_redirects=0)
    assert response.status == 403
    response = context.request.post("/console/settings/keys",
                                    form={"csrf": csrf, "name": "sneaky", "role": "admin"},
                                    max_redirects=0)
    assert response.status == 403
    response = context.request.post(
        f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}/upload"
        f"?set={quote(world.control['set'], safe='')}",
        data=b"x", headers={"x-csrf-token": csrf, "x-file-name": "x.txt"})
    assert response.status == 403
    assert _comments(server, world) == before
    assert "sneaky" not in {k.name for k in server.services.keys.list()}


def _csrf_of(page, context) -> str:
    """The auditor's CSRF token: its pages carry it in the sign-out form."""
    return page.locator("form[action$='/sign-out'] input[name=csrf]").get_attribute("value")


def _comments(server, world) -> list:
    api = server.client(world.owner, strict=False)
    for control_set in api.get_assessment(assessmentId=world.assessment_id)["assessment"][
            "framework"]["controlSets"]:
        for control in control_set["controls"]:
            if control["id"] == world.control["id"] and control_set["id"] == world.control["set"]:
                return control["comments"]
    return []


# -- CSRF ---------------------------------------------------------------------------------------

def test_a_form_without_its_csrf_token_is_refused(server, world, page, context):
    sign_in(page, world.owner, quote(control_path(world), safe=""))
    before = _comments(server, world)
    action = (f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}/comment"
              f"?set={quote(world.control['set'], safe='')}")
    for form in ({"comment": "no token"}, {"comment": "wrong token", "csrf": "x" * 43}):
        response = context.request.post(action, form=form, max_redirects=0)
        assert response.status == 403, response.status
        assert "CSRF" in response.text()
    # The real form, with its token removed by a script, is refused too.
    page.locator("#comments-section input[name=csrf]").evaluate("el => el.remove()")
    page.get_by_label("Add a comment").fill("token stripped")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    response = context.request.post(
        f"/console/assessments/{world.assessment_id}/controls/{world.control['id']}/upload"
        f"?set={quote(world.control['set'], safe='')}",
        data=b"x", headers={"x-file-name": "x.txt"})
    assert response.status == 403
    # The sign-in form carries its own token (a double-submit cookie).
    response = context.request.post("/console/sign-in", form={
        "access_key_id": world.owner.key_id, "secret_access_key": world.owner.secret},
        max_redirects=0)
    assert response.status == 403
    assert _comments(server, world) == before


# -- admin: settings and keys -------------------------------------------------------------------

def test_admin_creates_and_revokes_a_key(server, world, page, shot):
    sign_in(page, server.admin, "/console/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings and keys")
    check_labels(page)
    shot(page, "settings")
    page.get_by_label("Name", exact=True).fill("console-made")
    page.get_by_label("Role", exact=True).select_option("auditor")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-secret").inner_text()
    key_id = page.locator("#new-key-id").inner_text()
    assert len(secret) == 40 and key_id.startswith("AKAS")
    assert server.services.keys.authenticate(key_id)[0] == secret
    shot(page, "settings-new-key")
    page.goto("/console/settings")
    expect(page.locator("body")).not_to_contain_text(secret)  # shown once

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke console-made").click()
    expect(page.locator(".flash-ok")).to_contain_text("revoked")
    assert server.services.keys.authenticate(key_id) is None

    # A key issued to a principal that is not a key name (issue 14 case 5).
    principal = f"arn:aws:iam::{server.services.account_id}:role/ConsoleAuditors"
    page.get_by_label("Principal ARN").fill(principal)
    page.get_by_label("Role", exact=True).select_option("auditor")
    page.get_by_role("button", name="Create key").click()
    key_id = page.locator("#new-key-id").inner_text()
    assert server.services.keys.authenticate(key_id)[1].arn == principal
    page.goto("/console/settings")
    expect(page.locator("table.data").last).to_contain_text(principal)


# -- library and collection ---------------------------------------------------------------------

def test_library_search_and_sources(server, world, page, shot):
    sign_in(page, world.delegate, "/console/library")
    expect(page.get_by_role("link", name="CIS AWS Foundations Benchmark v3.0.0")).to_be_visible()
    check_labels(page)
    shot(page, "library")
    page.get_by_role("link", name="CIS AWS Foundations Benchmark v3.0.0").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("CIS AWS Foundations")
    shot(page, "library-framework")

    page.goto("/console/library")
    page.get_by_role("searchbox").fill("IAM_ROOT_ACCESS_KEY_CHECK")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("matching")
    expect(page.locator("table.data")).to_contain_text("1.4 No access keys for the root user")
    check_labels(page)
    shot(page, "library-search")
    page.get_by_role("link", name="1.4 No access keys for the root user").first.click()
    expect(page.locator("table.data").first).to_contain_text("IAM_ROOT_ACCESS_KEY_CHECK")
    expect(page.locator("table.data").first).to_contain_text("AWS Security Hub")
    # Each source says whether it settles the requirement (tests) or only supports it.
    expect(page.locator("table.data").first).to_contain_text("Tests the requirement")
    expect(page.locator("table.data").first).to_contain_text(
        "Supports the requirement without settling it")
    # Crosswalk: the same check tests controls of other frameworks.
    expect(page.get_by_role("heading", name="Equivalent controls in other frameworks")).to_be_visible()
    expect(page.locator("#equivalents")).to_contain_text("Shared tests sources")
    shot(page, "library-control")


def test_control_page_says_which_keywords_were_taken_in_another_case(server, world, page, shot):
    """Issue 14 case 4: the correction is in the control's change history, shown on its page."""
    control = server.client().create_control(name="Users listed (upper-case keyword)",
                                             controlMappingSources=[{
        "sourceName": "users", "sourceType": "AWS_API_Call",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST",
                          "keywordValue": "IAM_LISTUSERS"}}])["control"]
    sign_in(page, world.delegate, f"/console/library/controls/{control['id']}")
    expect(page.locator("#keyword-corrections")).to_contain_text(
        "'IAM_LISTUSERS' was taken as the AWS_API_Call keyword 'iam_ListUsers'")
    history = page.get_by_role("region", name="Change history")
    expect(history).to_contain_text("Keyword corrected")
    expect(history).to_contain_text("Create")
    expect(page.get_by_role("region", name="Evidence sources")).to_contain_text("iam_ListUsers")
    check_labels(page)
    shot(page, "library-control-keyword-corrected")


def test_collection_status_and_failures(server, world, page, shot):
    from assay.jobs import Shard

    collection = server.services.collection  # a recorded run, as the collection jobs record one
    run_id = collection.start_run(world.assessment_id, "manual")
    shard = Shard("444455556666", "us-east-1", "AWS_Config", "", ("IAM_ROOT_ACCESS_KEY_CHECK",))
    collection.add_shards(run_id, world.assessment_id, [shard.as_row()], [])
    collection.begin_shard(run_id, shard.key)
    failure = {"control_set_id": world.control["set"], "control_id": world.control["id"],
               "account_id": "444455556666", "region": "us-east-1",
               "source_type": "AWS_Config", "keyword": "IAM_ROOT_ACCESS_KEY_CHECK",
               "error_code": "NoSuchConfigRuleException",
               "message": "The rule iam-root-access-key-check is not deployed in 444455556666."}
    collection.end_shard(run_id, world.assessment_id, shard.key, failed=True, added=0,
                         duplicates=0, throttled=0, counts=[], failures=[failure])
    assert collection.finish_if_complete(run_id)
    sign_in(page, world.owner, "/console/collection")
    expect(page.get_by_role("heading", level=1)).to_have_text("Evidence collection")
    shot(page, "collection")
    page.get_by_role("link", name="FY26 CIS AWS review").click()
    expect(page.locator("body")).to_contain_text("AWS Security Hub")  # the ledger's side
    expect(page.locator("body")).to_contain_text("NoSuchConfigRuleException")
    expect(page.locator("body")).to_contain_text("is not deployed in 444455556666")
    check_labels(page)
    shot(page, "collection-assessment")

    # Collection is set and started from here, as from `assay`.
    page.get_by_label("Regions to collect in").fill("us-east-1 eu-west-1")
    page.get_by_role("button", name="Save regions").click()
    expect(page.locator(".flash-ok")).to_contain_text("eu-west-1, us-east-1")
    assert collection.plan(server.services.system(), world.assessment_id).regions == \
        ["eu-west-1", "us-east-1"]
    page.get_by_label("Regions to collect in").fill("moon-base-1")
    page.get_by_role("button", name="Save regions").click()
    expect(page.locator("body")).to_contain_text("not AWS region names")
    launched = []
    collection.launcher, original = (lambda caller, aid: launched.append((caller.arn, aid)),
                                     collection.launcher)
    try:
        page.goto(f"/console/assessments/{world.assessment_id}/collection")
        page.get_by_role("button", name="Collect now").click()
        expect(page.locator(".flash-ok")).to_contain_text("Collection started")
        assert launched == [(world.owner.arn, world.assessment_id)]
    finally:
        collection.launcher = original
        server.services.assessments.set_regions(server.services.system(), world.assessment_id,
                                                ["us-east-1"])


def test_admin_changes_settings(server, world, page, shot):
    sign_in(page, server.admin, "/console/settings")
    page.get_by_label("SNS topic ARN for notifications").fill("arn:aws:sns:us-east-1:111122223333:audit")
    page.get_by_label("Default report destination").fill("s3://audit-reports/fy26")
    page.get_by_label("Default process owners (key names)").fill(world.owner.name)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-ok")).to_contain_text("Settings saved")
    settings = server.services.account.get_settings(server.services.system(), "ALL")
    assert settings["snsTopic"] == "arn:aws:sns:us-east-1:111122223333:audit"
    assert settings["defaultAssessmentReportsDestination"]["destination"] == "s3://audit-reports/fy26"
    assert settings["defaultProcessOwners"] == [{"roleType": "PROCESS_OWNER", "roleArn": world.owner.arn}]
    shot(page, "settings-saved")
    page.get_by_label("Default report destination").fill("ftp://nope")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("body")).to_contain_text("defaultAssessmentReportsDestination.destination")
    # Back to what the other tests expect.
    page.get_by_label("SNS topic ARN for notifications").fill("")
    page.get_by_label("Default report destination").fill("")
    page.get_by_label("Default process owners (key names)").fill("")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-ok")).to_contain_text("Settings saved")


def test_history_and_paging(server, world, page, shot):
    sign_in(page, world.owner, f"/console/assessments/{world.assessment_id}/history")
    expect(page.locator("table.data")).to_contain_text("Create")
    shot(page, "history")
    # Many days of evidence: the control page lists folders a page at a time.
    page.goto(control_path(world))
    folders = page.locator("details.folder")
    expect(folders).to_have_count(8)
    page.get_by_role("link", name="Older days →").click()
    expect(page.locator("details.folder").first).to_be_visible()
    expect(page.get_by_role("link", name="First page")).to_be_visible()
    # One folder on its own page.
    folders, _ = server.services.evidence.folders_by_control(
        server.services.system(), world.assessment_id, world.control["set"], world.control["id"],
        None, 1)
    page.goto(f"/console/assessments/{world.assessment_id}/folders/{folders[0]['id']}"
              f"?set={quote(world.control['set'], safe='')}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(folders[0]["dataSource"])
    expect(page.locator("table.evidence tbody tr")).to_have_count(folders[0]["totalEvidence"])
    check_labels(page)
    shot(page, "evidence-folder")
    page.goto("/console/inbox")
    shot(page, "owner-inbox")


def test_late_evidence_shows_in_the_trend(server, world, page):
    """A check failing today, appended as the collection runner would, shows in the control's
    per-day chart and its tile."""
    services = server.services
    now = time.time()
    record = {"dataSource": "AWS Security Hub", "sourceType": "AWS_Security_Hub",
              "keyword": "IAM.4", "region": "us-east-1", "eventSource": "securityhub.amazonaws.com",
              "eventName": "IAM.4", "evidenceByType": "Compliance check",
              "evidenceAwsAccountId": "444455556666", "awsAccountId": "111122223333",
              "time": now, "complianceCheck": "FAILED", "attributes": {"title": "late"},
              "resourcesIncluded": [{"value": "late"}]}
    with services.store.write() as conn:
        services.ledger.append(conn, [EvidenceDraft(world.assessment_id, world.control["set"],
                                                    world.control["id"], day_of(now), "late-1",
                                                    record)], author="Assay collection")
    sign_in(page, world.owner, quote(control_path(world), safe=""))
    tile = page.locator(".tile").filter(has_text="failed checks, last 30 days")
    expect(tile.locator(".tile-value")).not_to_have_text("0")
    expect(page.locator("svg.chart desc").first).to_contain_text("1 failed")


@pytest.mark.parametrize("path", ["/console/static/console.css", "/console/static/console.js"])
def test_static_files_are_served_by_assay(server, page, path):
    response = page.goto(path)
    assert response.status == 200


def test_owner_closes_an_assessment(server, world, page, shot):
    owner = server.client(world.owner, strict=False)
    aid = owner.create_assessment(
        name="Closing test", frameworkId=world.framework_id,
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": world.owner.arn}],
        assessmentReportsDestination={})["assessment"]["metadata"]["id"]
    sign_in(page, world.owner, f"/console/assessments/{aid}")
    # The box must be ticked: the browser refuses the form without it.
    page.get_by_role("button", name="Make inactive").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Active")
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Make inactive").click()
    expect(page.locator(".flash-ok")).to_contain_text("inactive")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inactive")
    assert forms_that_change(page) == 0  # final and read-only
    page.locator("details.set").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reviewed")
    assert forms_that_change(page) == 0
    shot(page, "inactive-control")
    assert owner.get_assessment(assessmentId=aid)["assessment"]["metadata"]["status"] == \
        "INACTIVE"


def test_unknown_pages_and_assessments(server, world, page):
    sign_in(page, world.auditor)
    response = page.goto("/console/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    response = page.goto("/console/assessments/00000000-0000-0000-0000-000000000000")
    assert response.status == 404


def test_evidence_of_an_equivalent_control_in_another_assessment(server, world, page, shot):
    """Crosswalk in review: B's FSBP IAM.9 offers A's evidence for CIS 1.5 (IAM.9 tests both;
    same accounts), and the link opens A's control."""
    admin, owner = server.client(), server.client(world.owner, strict=False)
    library = server.services.library
    cis = library.control_by_key("CIS-AWS-v3.0/1.5")
    iam9 = library.control_by_key("AWS-FSBP/IAM.9")
    accounts = [{"id": "210987654321"}, {"id": "123456789098"}]
    ids = []
    for name, control in (("Crosswalk A", cis), ("Crosswalk B", iam9)):
        framework = admin.create_assessment_framework(name=f"{name} framework", controlSets=[
            {"name": "Identity", "controls": [{"id": control.id}]}])["framework"]
        ids.append(owner.create_assessment(
            name=name, frameworkId=framework["id"], scope={"awsAccounts": accounts},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": world.owner.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"])
    a, b = ids
    owner.batch_import_evidence_to_assessment_control(
        assessmentId=a, controlSetId="Identity", controlId=cis.id,
        manualEvidence=[{"textResponse": "Root MFA: hardware key, checked by the CISO"}])
    sign_in(page, world.owner, f"/console/assessments/{b}/controls/{iam9.id}?set=Identity")
    section = page.locator("#related-evidence")
    expect(section.get_by_role("heading", level=2)).to_contain_text(
        "Evidence for the equivalent control in other assessments over the same accounts")
    expect(section).to_contain_text("Crosswalk A")
    expect(section).to_contain_text("IAM.9")
    check_labels(page)
    shot(page, "crosswalk-evidence")
    section.get_by_role("link", name=cis.name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("1.5")
    expect(page.locator("#evidence-section")).to_contain_text("hardware key")
