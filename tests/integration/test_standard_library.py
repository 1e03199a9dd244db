"""Every standard framework through the API: listed, read in full, and assessed; and the README's
`assay library stats` table holds (no framework is less automated than it says)."""

from __future__ import annotations

import re
from pathlib import Path

from support import walk

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
