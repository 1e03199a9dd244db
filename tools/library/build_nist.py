"""Build the NIST SP 800-53 Rev. 5 library file: every control and enhancement of the catalog
that is not withdrawn, the full-catalog framework and the LOW, MODERATE, HIGH and PRIVACY
baselines.

    .venv/bin/python tools/library/build_nist.py

Control names and statements are NIST's (public domain), rendered from the OSCAL catalog with
parameters shown as [Assignment: ...] / [Selection: ...]. Statements longer than Audit
Manager's 1,000 characters are cut at a word boundary and say so. testingInformation starts
with our testing advice and continues with NIST's discussion, abridged. Action plans, source
texts and domains are ours. Evidence sources come from nist_map.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import nist_map  # noqa: E402
import oscal  # noqa: E402

KEY_PREFIX = "NIST-800-53-r5/"
TEXT_MAX = 1000
TRUNCATION_NOTE = "[Shortened: the full statement is in NIST SP 800-53 Rev. 5.]"

FAMILY_DOMAIN = {
    "AC": "identity-and-access-management",
    "AT": "security-awareness-and-training",
    "AU": "logging-and-monitoring",
    "CA": "governance-risk-and-compliance",
    "CM": "configuration-management",
    "CP": "business-continuity-and-resilience",
    "IA": "identity-and-access-management",
    "IR": "incident-response",
    "MA": "asset-management",
    "MP": "data-protection",
    "PE": "physical-and-environmental-security",
    "PL": "governance-risk-and-compliance",
    "PM": "governance-risk-and-compliance",
    "PS": "governance-risk-and-compliance",
    "PT": "privacy",
    "RA": "governance-risk-and-compliance",
    "SA": "secure-development",
    "SC": "network-security",
    "SI": "vulnerability-management",
    "SR": "third-party-and-supply-chain",
}
# Base controls whose subject sits better in another domain than their family's.
CONTROL_DOMAIN = {
    "AC-4": "network-security",
    "AC-17": "network-security",
    "AC-18": "network-security",
    "CM-8": "asset-management",
    "CM-12": "asset-management",
    "PM-5": "asset-management",
    **{f"PM-{n}": "privacy" for n in (18, 19, 20, 21, 22, 24, 25, 26, 27)},
    "PM-30": "third-party-and-supply-chain",
    "RA-5": "vulnerability-management",
    "SA-4": "third-party-and-supply-chain",
    "SA-9": "third-party-and-supply-chain",
    "SC-8": "data-protection",
    "SC-12": "data-protection",
    "SC-13": "data-protection",
    "SC-17": "data-protection",
    "SC-28": "data-protection",
    "SI-4": "logging-and-monitoring",
    "SI-12": "data-protection",
    "SI-19": "privacy",
}

TESTING_HINT = {
    "AC": "Compare the accounts, roles and permissions in the evidence with approved access records, and sample recent changes to confirm each was requested and approved.",
    "AT": "Check training records against the people in scope: everyone who needed the training completed it on time, and the content was reviewed.",
    "AU": "Confirm that logging is on in every account and Region in scope, that the required events are captured and kept long enough, and that someone reviews them.",
    "CA": "Check that assessments ran as planned, that their findings reached the plan of action and milestones, and that the authorization is current.",
    "CM": "Compare current configurations with the approved baselines, and sample changes to confirm each had approval, testing and a record.",
    "CP": "Check that the plan is current and tested, that backups run and can be restored, and that recovery objectives are met.",
    "IA": "Confirm that every account authenticates as required (with MFA where needed), that credentials follow policy and that unused credentials are removed.",
    "IR": "Check that the plan is current and exercised, and sample incidents to confirm they were detected, handled, reported and reviewed as the plan says.",
    "MA": "Sample maintenance records and confirm the work was scheduled, approved, done by authorized people and logged.",
    "MP": "Sample media records and confirm that media were labelled, stored, moved and sanitized as required.",
    "PE": "For cloud workloads, confirm the provider's attestation is current and covers the Regions in use; for your own sites, sample access and visitor records.",
    "PL": "Check that the plans exist, match the system as it is, were approved and are reviewed on schedule.",
    "PM": "Check that the programme documents exist, are approved and current, and that the roles they name are filled.",
    "PS": "Sample people joining, moving and leaving, and confirm that screening, agreements and access changes happened on time.",
    "PT": "Check that each processing activity has a recorded purpose and authority, and that notices and consent match what is actually done.",
    "RA": "Check that risk and vulnerability assessments are current and cover the whole system, and that every finding has a tracked decision.",
    "SA": "Check that contracts and development practices carry the required security requirements, and sample deliveries for proof they were met.",
    "SC": "Compare the network and protection settings in the evidence with the approved architecture, and confirm that exceptions are documented.",
    "SI": "Confirm that flaws are fixed in the required time, that monitoring covers every resource in scope and that alerts are acted on.",
    "SR": "Check that suppliers were assessed, that acquisition requirements were applied and that the origin of components is recorded.",
}
AUTOMATED_HINT = (
    "Assay collects evidence from the mapped AWS sources; failed findings and non-compliant "
    "results point at the resources to examine."
)
MANUAL_HINT = "Nothing in AWS shows this directly: review the documents uploaded for it."

FAMILY_ACTION = {
    "AC": "Remove or correct accounts and permissions that were not approved, reduce roles to least privilege, and record the approval of every change.",
    "AT": "Assign the missing training with deadlines and follow up with managers until the completion records are complete.",
    "AU": "Turn on the missing logs, send them to protected central storage with the required retention, and name someone to review them.",
    "CA": "Schedule the missing assessments, enter open findings in the plan of action and milestones with owners and dates, and renew a lapsed authorization.",
    "CM": "Bring drifted resources back to the baseline, or change the baseline through the change process, and route every change through approval.",
    "CP": "Update the plan, fix failing backups, and run a restore or failover test to prove that recovery works.",
    "IA": "Enforce MFA and the password policy, rotate or remove old credentials, and move people to federated sign-in where possible.",
    "IR": "Update the incident response plan and contact lists, close the gaps found in tests or incidents, and rehearse the plan.",
    "MA": "Put maintenance on a schedule with approvals and logs, and limit who may do it and with which tools.",
    "MP": "Label and inventory media, restrict access to it, and sanitize or destroy it before reuse or disposal.",
    "PE": "Obtain the provider's current attestation and fix any gap in the physical protection of your own sites.",
    "PL": "Update the plans to match the system, get them approved and set the next review date.",
    "PM": "Write or update the missing programme documents, get them approved and fill the roles they require.",
    "PS": "Complete the missing screening or agreements, and fix the joiner, mover and leaver process so that access changes on time.",
    "PT": "Record the purpose and authority of each processing activity, update notices and consent, and stop processing that has no basis.",
    "RA": "Run the missing assessments and record a decision (fix, accept, transfer or avoid) with an owner for each risk found.",
    "SA": "Add security requirements to contracts and to the development life cycle, and obtain the missing documentation from suppliers.",
    "SC": "Change the settings that do not match the architecture, close unneeded exposure and document the exceptions that remain.",
    "SI": "Patch or replace vulnerable components, switch on missing monitoring and work through the open alerts.",
    "SR": "Assess the suppliers that were missed, add supply chain requirements to acquisitions and record where components come from.",
}
AUTOMATED_ACTION = (
    " Start with the failed findings and non-compliant resources in the evidence: fix each one, "
    "then check that the next collection shows it passing."
)
MANUAL_ACTION = " Then upload the updated documents as evidence for this control."

BASELINE_TEXT = {
    "LOW": "the controls NIST selects for low-impact systems",
    "MODERATE": "the controls NIST selects for moderate-impact systems",
    "HIGH": "the controls NIST selects for high-impact systems",
    "PRIVACY": "the controls NIST selects for systems that process personally identifiable information",
}


def control_key(nist_id: str) -> str:
    return KEY_PREFIX + oscal.display_id(nist_id)


def domain_for(nist_id: str) -> str:
    base = oscal.base_id(nist_id)
    return CONTROL_DOMAIN.get(base, FAMILY_DOMAIN[base.split("-")[0]])


def description_for(control: oscal.CatalogControl) -> str:
    return common.clip_lines(control.statement, TEXT_MAX, TRUNCATION_NOTE)


def testing_for(control: oscal.CatalogControl, automated: bool) -> str:
    head = f"How to test: {TESTING_HINT[control.family]} {AUTOMATED_HINT if automated else MANUAL_HINT}"
    if not control.guidance:
        return head
    lead = "\n\nNIST discussion (abridged): "
    room = TEXT_MAX - len(head) - len(lead)
    if room < 80:
        return head
    guidance = common.clip_sentences(control.guidance, room)
    if guidance == control.guidance:
        lead = "\n\nNIST discussion: "
    return head + lead + guidance


def action_plan_for(control: oscal.CatalogControl, automated: bool) -> tuple[str, str]:
    title = common.clip(f"Close the gaps in {control.id} {control.title}", 300)
    text = FAMILY_ACTION[control.family] + (AUTOMATED_ACTION if automated else MANUAL_ACTION)
    return title, text


# Control names carry the framework's short name, so every name is unique in the library
# (the catalog control and each FedRAMP baseline's copy of it would otherwise share a name).
NAME_PREFIX = "NIST 800-53 r5"


def standard_control(control: oscal.CatalogControl, key: str, name_prefix: str = NAME_PREFIX) -> dict:
    sources = nist_map.sources_for(control.id)
    automated = any(s["sourceType"] != "MANUAL" for s in sources)
    title, plan = action_plan_for(control, automated)
    return {
        "key": key,
        "name": f"{name_prefix} {control.id} {control.title}",
        "description": description_for(control),
        "testingInformation": testing_for(control, automated),
        "actionPlanTitle": title,
        "actionPlanInstructions": plan,
        "domain": domain_for(control.id),
        "controlMappingSources": sources,
    }


def control_sets(ids: list[str], key_for) -> list[dict]:
    """Group display ids by family (catalog order) into control sets named after the family."""
    cat = oscal.catalog()
    sets: dict[str, list[str]] = {}
    for nid in oscal.sort_by_catalog(ids):
        c = cat.controls[nid]
        sets.setdefault(c.family_title, []).append(key_for(nid))
    return [{"name": name, "controls": keys} for name, keys in sets.items()]


def build() -> dict:
    problems = nist_map.check()
    if problems:
        raise SystemExit("nist_map problems:\n  " + "\n  ".join(problems))
    cat = oscal.catalog()
    active = cat.active()
    controls = [standard_control(c, control_key(c.id)) for c in active]
    active_ids = [c.id for c in active]
    frameworks = [
        {
            "key": "nist-800-53-r5",
            "name": "NIST SP 800-53 Revision 5",
            "description": (
                f"Every control and control enhancement of NIST SP 800-53 Revision 5 (release "
                f"{cat.version}) that is not withdrawn: {len(active_ids)} in all, grouped by family. "
                "Control names and statements are NIST's; the evidence sources map each control "
                "to AWS Security Hub, AWS Config, CloudTrail and AWS API data where AWS can show "
                "it, and to uploaded documents where it cannot."
            ),
            "complianceType": "NIST SP 800-53",
            "controlSets": control_sets(active_ids, control_key),
        }
    ]
    for baseline, path in oscal.NIST_PROFILES.items():
        ids = oscal.profile_ids(path)
        missing = [i for i in ids if i not in cat.controls or cat.controls[i].withdrawn]
        if missing:
            raise SystemExit(f"{baseline} baseline names controls not in the catalog: {missing}")
        version = oscal.profile(path)["metadata"].get("version", "")
        frameworks.append(
            {
                "key": f"nist-800-53-r5-{baseline.lower()}",
                "name": f"NIST SP 800-53 Revision 5 {baseline} baseline",
                "description": (
                    f"The NIST SP 800-53 Revision 5 {baseline} baseline from SP 800-53B (OSCAL "
                    f"profile release {version}): {BASELINE_TEXT[baseline]}, {len(ids)} controls "
                    "grouped by family."
                ),
                "complianceType": "NIST SP 800-53",
                "controlSets": control_sets(ids, control_key),
            }
        )
    return {
        "provenance": (
            f"{cat.title}, release {cat.version} (OSCAL catalog, usnistgov/oscal-content, public "
            "domain); LOW/MODERATE/HIGH/PRIVACY baselines from the SP 800-53B OSCAL profiles "
            "(release 5.1.1). Control names and statements are NIST's; statements over 1,000 "
            "characters are shortened and marked. Testing information, action plans, domains and "
            "evidence sources are Assay's (tools/library/build_nist.py, nist_map.py)."
        ),
        "controls": controls,
        "frameworks": frameworks,
    }


def main() -> Path:
    path = common.write_data("nist-800-53-r5", build())
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()
