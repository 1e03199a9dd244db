"""Every standard framework through the API: listed, read in full, and assessed; and the README's
`assay library stats` table holds (no framework is less automated than it says)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import httpx
from support import append_config_checks, walk

README = Path(__file__).parents[2] / "README.md"


def test_every_standard_framework_reads_and_assesses(server):
    admin = server.client()
    library = server.services.library
    listed = walk(admin.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Standard")
    assert {f["id"] for f in listed} == set(library.frameworks)
    for meta in listed:
        framework = admin.get_assessment_framework(frameworkId=meta["id"])["framework"]
        standard = library.frameworks[meta["id"]]
        assert framework["name"] == standard.name == meta["name"]
        assert [s["name"] for s in framework["controlSets"]] == [s.name for s in standard.control_sets]
        count = sum(len(s["controls"]) for s in framework["controlSets"])
        assert count == meta["controlsCount"] == sum(len(s.control_ids) for s in standard.control_sets)
        for control in (c for s in framework["controlSets"] for c in s["controls"]):
            assert control["type"] == "Standard" and control["controlMappingSources"]
        assessment = admin.create_assessment(
            name=f"from {meta['name']}"[:300], frameworkId=meta["id"],
            scope={"awsAccounts": [{"id": "111122223333"}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]
        assessed = sum(len(s["controls"]) for s in assessment["framework"]["controlSets"])
        assert assessed == count
        domains = admin.list_control_domain_insights_by_assessment(
            assessmentId=assessment["metadata"]["id"], maxResults=100)["controlDomainInsights"]
        assert sum(d["totalControlsCount"] for d in domains) == count
        admin.delete_assessment(assessmentId=assessment["metadata"]["id"])


def test_readme_table_is_the_stats_output():
    """README's library table is exactly what `assay library stats --markdown` prints."""
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, "-m", "assay.cli", "library", "stats", "--markdown"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed.startswith("| framework | controls | control sets | automated (tests) |")
    assert printed in README.read_text(), "regenerate README's table with assay library stats --markdown"


def test_library_equivalents_command_prints_the_crosswalk():
    """`assay library equivalents` (the terminal's way to the crosswalk: the aws CLI skips
    GetControl's extra member) lists what `Library.equivalents` finds; an unknown key fails."""
    import json
    import subprocess
    import sys

    from assay.library import load_library

    def run(*args):
        return subprocess.run([sys.executable, "-m", "assay.cli", "library", "equivalents", *args],
                              capture_output=True, text=True)

    printed = json.loads(run("CIS-AWS-v3.0/2.1.2", "--json").stdout)
    library = load_library()
    cis = library.control_by_key("CIS-AWS-v3.0/2.1.2")
    assert [r["key"] for r in printed] == [e.control.key for e in library.equivalents(cis.id)]
    s3_20 = next(r for r in printed if r["key"] == "AWS-FSBP/S3.20")
    assert s3_20["sharedSources"] == ["S3_BUCKET_MFA_DELETE_ENABLED", "S3.20"]
    assert s3_20["frameworks"] == ["AWS Foundational Security Best Practices"]
    assert json.loads(run(cis.id, "--json").stdout) == printed  # by id too
    missing = run("CIS-AWS-v3.0/99.9")
    assert missing.returncode == 1 and "CIS-AWS-v3.0/99.9" in missing.stderr


def test_stats_through_the_server_agree_with_the_table(server):
    rows = {}
    for line in README.read_text().splitlines():
        found = re.match(r"^\| (.+?) \| (\d+) \| (\d+) \| (\d+) \| (\d+)% \| (\d+) \| (\d+)% \|$", line)
        if found:
            rows[found[1]] = tuple(int(found[i]) for i in range(2, 8))
    stats = {row["name"]: row for row in server.services.library.stats()}
    assert set(rows) == set(stats), "README's library table lists every framework"
    for name, (controls, sets, automated, share, evidenced, evidenced_share) in rows.items():
        actual = stats[name]
        assert (actual["controls"], actual["control_sets"], actual["automated"],
                actual["with_evidence"]) == (controls, sets, automated, evidenced)
        assert round(actual["automated_share"] * 100) == share


@contextlib.contextmanager
def _console(server, identity):
    """An httpx client signed in to the console as ``identity``."""
    with httpx.Client(base_url=server.url) as browser:
        yield _sign_in(browser, identity)


def _sign_in(browser, identity):
    form = browser.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    signed_in = browser.post("/console/sign-in", data={
        "csrf": token, "access_key_id": identity.key_id, "secret_access_key": identity.secret})
    assert signed_in.status_code == 303, signed_in.text
    return browser


def test_evidence_of_an_equivalent_control_is_offered_across_assessments(server):
    """Assessment A (CIS 1.5) and B (FSBP IAM.9) over the same accounts: B's control page links
    to A's evidence (IAM.9 tests both); C, over other accounts, and A's control without
    evidence are not offered; a delegate of B who cannot read A is not shown A."""
    admin = server.client()
    library = server.services.library
    cis = library.control_by_key("CIS-AWS-v3.0/1.5")
    iam9 = library.control_by_key("AWS-FSBP/IAM.9")
    password = library.control_by_key("CIS-AWS-v3.0/1.8")  # IAM.15: not equivalent to IAM.9
    same = [{"id": "111122223333"}, {"id": "444455556666"}]

    def assessment(name, controls, accounts):
        framework = admin.create_assessment_framework(name=f"crosswalk {name}", controlSets=[
            {"name": "Identity", "controls": [{"id": c.id} for c in controls]}])["framework"]
        return admin.create_assessment(
            name=f"crosswalk {name}", frameworkId=framework["id"], scope={"awsAccounts": accounts},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]["metadata"]["id"]

    a = assessment("A", [cis, password], same)
    b = assessment("B", [iam9], list(reversed(same)))
    c = assessment("C", [cis], same[:1])
    for aid in (a, c):
        admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Identity", controlId=cis.id,
            manualEvidence=[{"textResponse": "root has a hardware MFA device"}])
    append_config_checks(server.services, a, "Identity", cis.id,
                         ["COMPLIANT", "NON_COMPLIANT"], "crosswalk")
    admin.batch_import_evidence_to_assessment_control(
        assessmentId=a, controlSetId="Identity", controlId=password.id,
        manualEvidence=[{"textResponse": "password policy document"}])

    with _console(server, server.admin) as browser:
        page = browser.get(f"/console/assessments/{b}/controls/{iam9.id}",
                           params={"set": "Identity"})
        assert page.status_code == 200, page.text
        section = page.text.split('id="related-evidence"', 1)[1].split("</section>", 1)[0]
        assert f"/console/assessments/{a}/controls/{cis.id}?set=Identity" in section
        assert "crosswalk A" in section and cis.name in section
        assert "IAM.9" in section and "3 items" in section and "1 failed" in section
        assert f"/console/assessments/{c}/" not in section  # other accounts
        assert password.id not in section  # not equivalent
        # The link leads to A's control and its evidence.
        target = browser.get(f"/console/assessments/{a}/controls/{cis.id}",
                             params={"set": "Identity"})
        assert target.status_code == 200 and "root has a hardware MFA device" in target.text
        # The library's page of the control lists its crosswalk, with the shared sources.
        library_page = browser.get(f"/console/library/controls/{cis.id}").text
        crosswalk = library_page.split('id="equivalents"', 1)[1].split("</table>", 1)[0]
        assert f"/console/library/controls/{iam9.id}" in crosswalk and "IAM.9" in crosswalk
        assert "AWS Foundational Security Best Practices" in crosswalk
        assert cis.name not in crosswalk
        # A's own page offers nothing: B has no evidence yet.
        assert 'id="related-evidence"' not in browser.get(
            f"/console/assessments/{a}/controls/{cis.id}", params={"set": "Identity"}).text

    delegate = server.identity("delegate")
    admin.batch_create_delegation_by_assessment(assessmentId=b, createDelegationRequests=[
        {"controlSetId": "Identity", "roleArn": delegate.arn, "roleType": "RESOURCE_OWNER"}])
    with _console(server, delegate) as browser:
        page = browser.get(f"/console/assessments/{b}/controls/{iam9.id}",
                           params={"set": "Identity"})
        assert page.status_code == 200, page.text
        assert 'id="related-evidence"' not in page.text
