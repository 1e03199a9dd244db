"""Build data/aws-fsbp.json: one standard control per row of aws-security-hub-controls.tsv and
the framework `aws-fsbp`.

    .venv/bin/python tools/library/build_fsbp.py

From the table we take only facts: control id, severity, category, schedule, Config rule,
resource types. Titles (aws_facts.HUB_TITLES), descriptions, testing information and action
plans are written by us, templated from those facts.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_facts  # noqa: E402
import common  # noqa: E402

KEY_PREFIX = "AWS-FSBP/"

# Rows whose category column is empty.
DOMAIN_FALLBACK = {
    "ELB.1": "data-protection",
    "KMS.4": "data-protection",
    "Lambda.3": "network-security",
    "Kinesis.3": "business-continuity-and-resilience",
    "RDS.8": "data-protection",
}
# (words in the category, domain), first match wins.
CATEGORY_DOMAIN = [
    (("encryption", "data protection", "data protect", "data deletion", "data integrity"), "data-protection"),
    (("backup", "resilience", "high availability"), "business-continuity-and-resilience"),
    (("logging",), "logging-and-monitoring"),
    (("detection",), "logging-and-monitoring"),
    (("vulnerability", "patch"), "vulnerability-management"),
    (("inventory",), "asset-management"),
    (("compliance",), "governance-risk-and-compliance"),
    (("resource configuration",), "configuration-management"),
    (("secure development",), "secure-development"),
    (("network", "protective services"), "network-security"),
    (("access",), "identity-and-access-management"),
]
ADVICE = {
    "identity-and-access-management": "Agree the change with the owners of the affected identities or resources first, so that nobody loses access they still need.",
    "logging-and-monitoring": "Send the logs or alerts to a central, access-restricted destination and make sure someone watches it.",
    "data-protection": "Turning on encryption or protection for an existing resource can require a copy, a snapshot restore or a rebuild: plan a maintenance window.",
    "network-security": "Check which workloads depend on a network path before closing it, and replace broad rules with narrow ones.",
    "business-continuity-and-resilience": "After the change, test a restore or a failover so you know recovery works.",
    "vulnerability-management": "Schedule the upgrade or patch through change management and test it before it reaches production.",
    "asset-management": "Tag or remove the resource so that every resource has a known owner and purpose.",
    "configuration-management": "Make the same fix in your infrastructure-as-code templates, so the setting does not drift back.",
    "governance-risk-and-compliance": "Record the decision and its owner, so the next review can see why the setting is as it is.",
    "secure-development": "Fix the build or deployment definition in source control; move any exposed secret to a secrets store and rotate it.",
}


def domain_for(row: dict) -> str:
    if row["control_id"] in DOMAIN_FALLBACK:
        return DOMAIN_FALLBACK[row["control_id"]]
    category = row["category"].lower()
    for words, domain in CATEGORY_DOMAIN:
        if any(w in category for w in words):
            return domain
    raise SystemExit(f"{row['control_id']}: no domain for category {row['category']!r}")


def _schedule(row: dict) -> str:
    s = row["schedule_type"].lower()
    if "periodic" in s:
        return "on a schedule"
    if "change" in s:
        return "whenever a covered resource changes"
    return "as Security Hub schedules it"


def _resources(row: dict) -> list[str]:
    types = aws_facts.split_resource_types(row["resource_types"])
    return [t for t in types if t not in ("AWS account", "AWS::::Account")]


def description_for(row: dict) -> str:
    cid = row["control_id"]
    title = aws_facts.hub_title(cid)
    parts = [f"{title}."]
    facts = []
    if row["severity"]:
        facts.append(f"{row['severity'].lower()} severity")
    if row["category"]:
        facts.append(f"category {row['category']}")
    parts.append(
        f"AWS Security Hub evaluates this as control {cid}"
        + (f" ({'; '.join(facts)})" if facts else "")
        + f", {_schedule(row)}."
    )
    if row["config_rule_identifier"]:
        parts.append(
            f"The verdict comes from the AWS Config managed rule {row['config_rule_name']} "
            f"({row['config_rule_identifier']})."
        )
    else:
        parts.append("No AWS Config managed rule is listed for it, so the evidence is the Security Hub finding itself.")
    types = _resources(row)
    if types:
        parts.append(f"It applies to {', '.join(types)} resources.")
    elif row["resource_types"]:
        parts.append("It evaluates the account as a whole.")
    return " ".join(parts)


def testing_for(row: dict) -> str:
    cid = row["control_id"]
    text = (
        f"Review the Security Hub findings for {cid} in every account and Region in scope. A "
        "resource passes when its finding's compliance status is PASSED. Examine every FAILED "
        "finding; a WARNING or NOT_AVAILABLE status usually means AWS Config is not recording the "
        "resource type, which is itself a gap to close."
    )
    if row["config_rule_identifier"]:
        text += (
            f" The results of the Config rule {row['config_rule_name']} give the same verdict per "
            "resource, and their history shows when a resource changed state."
        )
    text += " Suppressed findings need a recorded, approved exception."
    return text


def action_plan_for(row: dict, domain: str) -> tuple[str, str]:
    cid = row["control_id"]
    title = aws_facts.hub_title(cid)
    text = (
        f"For each resource with a failed {cid} finding, change its configuration so that "
        f"{aws_facts.hub_condition(cid)}. {ADVICE[domain]} Security Hub re-evaluates {_schedule(row)}; "
        "confirm that the finding turns PASSED. If a resource is out of scope on purpose, record "
        "why and who approved it, then suppress its finding."
    )
    return f"Remediate failed {cid} findings", text


def _natural(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def build() -> dict:
    rows = sorted(aws_facts.active_hub_rows(), key=lambda r: _natural(r["control_id"]))
    controls = []
    sets: dict[str, list[str]] = {}
    for row in rows:
        cid = row["control_id"]
        domain = domain_for(row)
        # The control is the Security Hub check itself, so its finding (and the rule behind it)
        # settles it.
        sources = [aws_facts.with_strength(aws_facts.hub_source(cid), "tests")]
        if row["config_rule_identifier"]:
            sources.append(aws_facts.with_strength(
                aws_facts.config_source(row["config_rule_identifier"]), "tests"))
        plan_title, plan = action_plan_for(row, domain)
        key = KEY_PREFIX + cid
        controls.append(
            {
                "key": key,
                "name": f"AWS FSBP {cid} {aws_facts.hub_title(cid)}",
                "description": description_for(row),
                "testingInformation": testing_for(row),
                "actionPlanTitle": plan_title,
                "actionPlanInstructions": plan,
                "domain": domain,
                "controlMappingSources": sources,
            }
        )
        sets.setdefault(aws_facts.hub_prefix(cid), []).append(key)
    control_sets = [{"name": name, "controls": sets[name]} for name in sorted(sets, key=str.lower)]
    framework = {
        "key": "aws-fsbp",
        "name": "AWS Foundational Security Best Practices",
        "description": (
            f"AWS Security Hub's security checks for AWS resources, one control per Security Hub "
            f"control in service ({len(controls)} in all, as of November 2026; retired controls "
            "are left out), grouped by AWS service. It also "
            "includes the checks Security Hub runs only for its CIS and PCI DSS standards. Each "
            "control is evidenced by the Security Hub finding and, where there is one, the AWS "
            "Config rule behind it."
        ),
        "complianceType": "AWS Foundational Security Best Practices",
        "controlSets": control_sets,
    }
    return {
        "provenance": (
            "Control ids, severities, categories, schedules, Config rules, resource types and status "
            "from tools/library/sources/aws-security-hub-controls.tsv (facts from the AWS Security "
            "Hub CSPM user guide, refreshed 2026-11-30). Titles, descriptions, testing information "
            "and action plans written for Assay (tools/library/build_fsbp.py); titles not written by "
            "hand are derived from the Config rule name."
        ),
        "controls": controls,
        "frameworks": [framework],
    }


def main() -> Path:
    path = common.write_data("aws-fsbp", build())
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()
