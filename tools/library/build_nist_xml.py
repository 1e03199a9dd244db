"""Build the NIST frameworks published as OSCAL XML: SP 800-171 Rev. 3 and CSF 2.0.

    .venv/bin/python tools/library/build_nist_xml.py

Titles, statements, assessment objectives and assessment objects are NIST's (public domain),
read from tools/library/sources at build time. What evidences each requirement is ours, in
tools/library/frameworks/evidence/<framework>.yaml (same `tests`/`supports`/`why` fields as a
framework file), plus, for SP 800-171 r3:
- the requirement's source controls in SP 800-53 r5 (the OSCAL `reference` links), whose
  evidence is added as `supports` (build_frameworks.nist_sources);
- the Security Hub controls AWS maps to the same-numbered SP 800-171 r2 requirement, as
  `supports` (r3 revised the text, so the r2 mapping cannot settle an r3 requirement).
Rows are assembled here and built by build_frameworks (one set of rules for every framework).
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_facts  # noqa: E402
import build_frameworks  # noqa: E402
import common  # noqa: E402

NS = {"o": "http://csrc.nist.gov/ns/oscal/1.0"}
EVIDENCE_DIR = build_frameworks.FRAMEWORKS_DIR / "evidence"
SP171_FILE = "nist-sp800-171-r3/NIST_SP800-171_rev3_catalog.xml"
CSF_FILE = "nist-csf-2.0/NIST_CSF_v2.0_catalog.xml"

# Families of SP 800-171 r3 (03.01 ... 03.17) and CSF 2.0 categories, to control domains.
SP171_DOMAINS = {
    "03.01": "identity-and-access-management", "03.02": "security-awareness-and-training",
    "03.03": "logging-and-monitoring", "03.04": "configuration-management",
    "03.05": "identity-and-access-management", "03.06": "incident-response",
    "03.07": "configuration-management", "03.08": "data-protection",
    "03.09": "governance-risk-and-compliance", "03.10": "physical-and-environmental-security",
    "03.11": "vulnerability-management", "03.12": "governance-risk-and-compliance",
    "03.13": "network-security", "03.14": "vulnerability-management",
    "03.15": "governance-risk-and-compliance", "03.16": "secure-development",
    "03.17": "third-party-and-supply-chain",
}
CSF_DOMAINS = {
    "GV.OC": "governance-risk-and-compliance", "GV.RM": "governance-risk-and-compliance",
    "GV.RR": "governance-risk-and-compliance", "GV.PO": "governance-risk-and-compliance",
    "GV.OV": "governance-risk-and-compliance", "GV.SC": "third-party-and-supply-chain",
    "ID.AM": "asset-management", "ID.RA": "vulnerability-management",
    "ID.IM": "governance-risk-and-compliance", "PR.AA": "identity-and-access-management",
    "PR.AT": "security-awareness-and-training", "PR.DS": "data-protection",
    "PR.PS": "configuration-management", "PR.IR": "business-continuity-and-resilience",
    "DE.CM": "logging-and-monitoring", "DE.AE": "logging-and-monitoring",
    "RS.MA": "incident-response", "RS.AN": "incident-response", "RS.CO": "incident-response",
    "RS.MI": "incident-response", "RC.RP": "business-continuity-and-resilience",
    "RC.CO": "business-continuity-and-resilience",
}
_NIST_REF = re.compile(r"^([A-Z]{2})-0*(\d+)(?:\(0*(\d+)\))?$")


def _tree(name: str) -> ET.Element:
    return ET.fromstring(common.read_source(name))


def _text(element: ET.Element, params: dict[str, str]) -> str:
    """Text of an element with OSCAL parameter inserts written as [Assignment: ...]."""
    out = [element.text or ""]
    for child in element:
        if child.tag.endswith("insert"):
            out.append(f"[Assignment: {params.get(child.get('id-ref'), 'organization-defined value')}]")
        else:
            out.append(_text(child, params))
        out.append(child.tail or "")
    return common.squash("".join(out))


def _statement(part: ET.Element, params: dict[str, str]) -> str:
    """A statement part with its lettered items, one per line."""
    lines = []
    for p in part.findall("o:p", NS):
        lines.append(_text(p, params))
    for item in part.findall("o:part", NS):
        label = next((x.get("value") for x in item.findall("o:prop", NS) if x.get("name") == "label"), "")
        label = label.rsplit(".", 1)[-1] + "." if label else ""  # SR-03.01.01.c.01 -> 01.
        lines.append(f"{label} {_statement(item, params)}".strip())
    return "\n".join(line for line in lines if line)


def _evidence(name: str) -> dict[str, dict]:
    path = EVIDENCE_DIR / name
    return (common.load_yaml(path.read_text(encoding="utf-8")) or {}).get("rows", {}) if path.exists() else {}


def _nist_id(title: str) -> str | None:
    m = _NIST_REF.match(title.strip())
    return f"{m[1]}-{m[2]}" + (f"({m[3]})" if m[3] else "") if m else None


def _r2_hub_map() -> dict[str, list[str]]:
    """SP 800-171 r2 requirement id ("3.1.1") -> active Security Hub controls AWS maps to it."""
    out: dict[str, list[str]] = {}
    for row in aws_facts.active_hub_rows():
        for rid in filter(None, (x.strip() for x in row["nist_800_171_r2"].split(","))):
            out.setdefault(rid, []).append(row["control_id"])
    return out


def sp171_doc() -> dict:
    root = _tree(SP171_FILE)
    resources = {r.get("uuid"): (r.findtext("o:title", "", NS) or "")
                 for r in root.iter(f"{{{NS['o']}}}resource")}
    overlay = _evidence("nist-800-171-r3.yaml")
    r2 = _r2_hub_map()
    groups = sorted(root.findall("o:group", NS), key=lambda g: g.get("id"))
    control_sets = []
    for group in groups:
        family = group.get("id").removeprefix("SP_800_171_")
        rows = []
        for control in group.findall("o:control", NS):
            props = {p.get("name"): p.get("value") for p in control.findall("o:prop", NS)}
            if props.get("status") == "withdrawn":
                continue
            rid = props["sort-id"]
            params = {p.get("id"): common.squash("".join(p.find("o:usage", NS).itertext()))
                      if p.find("o:usage", NS) is not None else (p.findtext("o:label", "", NS) or "value")
                      for p in control.findall("o:param", NS)}
            # The requirement's text sits in its nested security_requirement control (SR-...).
            inner = next((c for c in control.findall("o:control", NS)
                          if c.get("class") == "security_requirement"), control)
            statement = next(p for p in inner.findall("o:part", NS) if p.get("name") == "statement")
            objectives = [_text(p.find("o:p", NS), params) for p in control.findall("o:part", NS)
                          if p.get("name") == "assessment-objective" and p.find("o:p", NS) is not None]
            examine = [common.squash("".join(p.itertext()))
                       for m in control.findall("o:part", NS)
                       if m.get("name") == "assessment-method"
                       and any(x.get("value") == "EXAMINE" for x in m.findall("o:prop", NS))
                       for objects in m.findall("o:part", NS) for p in objects.findall("o:p", NS)]
            sources = [_nist_id(resources.get(link.get("href", "#")[1:], ""))
                       for link in control.findall("o:link", NS) if link.get("rel") == "reference"]
            nist = " ".join(s for s in sources if s)
            r2_id = ".".join(str(int(x)) for x in rid.split("."))  # 03.01.01 -> 3.1.1
            row = {
                "id": rid,
                "title": control.findtext("o:title", "", NS),
                "domain": SP171_DOMAINS[family],
                "source": f"NIST SP 800-171 Rev. 3 (May 2024), requirement {rid}; OSCAL catalog "
                          f"(usnistgov/oscal-content @ 3b3cdee)",
                "description": common.clip_lines(_statement(statement, params) or control.findtext(
                    "o:title", "", NS), 1000, "[Shortened: see SP 800-171 r3.]"),
                "testing": common.clip("Determine if: " + "; ".join(objectives) + " (SP 800-171A r3)", 1000),
                "manual": common.clip("documents that show the requirement is met, as SP 800-171A r3 "
                                      "lists them: " + "; ".join(examine[:12]) + ".", 900),
                "nist": nist,
            }
            hubs = r2.get(r2_id, [])
            extra = overlay.get(rid, {})
            row["tests"] = list(extra.get("tests", []))
            row["supports"] = list(extra.get("supports", [])) + [f"sh:{c}" for c in hubs
                                                                  if f"sh:{c}" not in extra.get("tests", [])]
            if hubs or extra.get("why"):
                row["why"] = extra.get("why") or (
                    f"AWS maps these checks to SP 800-171 r2 {r2_id}; r3 revised the requirement, so "
                    "they inform it without settling it")
            rows.append(row)
        control_sets.append({"name": f"{family} {group.findtext('o:title', '', NS)}", "controls": rows})
    return {
        "output": "nist-800-171-r3.json.gz", "key_prefix": "NIST-800-171-r3/", "short_name": "NIST 800-171 r3",
        "provenance": (
            "NIST SP 800-171 Rev. 3 (May 2024) and SP 800-171A Rev. 3: requirement titles, statements, "
            "assessment objectives and assessment objects from NIST's OSCAL catalog "
            "(usnistgov/oscal-content @ 3b3cdee, public domain; tools/library/sources). Evidence "
            "mappings are Assay's (tools/library/frameworks/evidence/nist-800-171-r3.yaml), with the "
            "SP 800-53 r5 source controls NIST names for each requirement and AWS's SP 800-171 r2 "
            "mappings of Security Hub controls as supporting evidence."),
        "official_count": {"count": 97, "cite": (
            "NIST SP 800-171 Rev. 3 (May 2024): 97 security requirements in 17 families (the OSCAL "
            "catalog also keeps 33 withdrawn ids)")},
        "framework": {
            "key": "nist-800-171-r3",
            "name": "NIST SP 800-171 Revision 3",
            "description": (
                "Security requirements for protecting Controlled Unclassified Information (CUI) in "
                "non-federal systems: the 97 requirements of NIST SP 800-171 Rev. 3 in 17 families, with "
                "NIST's statements and the SP 800-171A Rev. 3 assessment objectives as testing "
                "information. AWS evidence supports requirements; none is settled by a check alone."),
            "complianceType": "NIST SP 800-171",
        },
        "control_sets": control_sets,
    }


def csf_doc() -> dict:
    root = _tree(CSF_FILE)
    overlay = _evidence("nist-csf-2.0.yaml")
    control_sets = []
    for function in root.findall("o:group", NS):
        for category in function.findall("o:control", NS):
            rows = []
            for sub in category.findall("o:control", NS):
                statement = next((p for p in sub.findall("o:part", NS) if p.get("name") == "statement"), None)
                examples = [_text(p.find("o:p", NS), {}) for p in sub.findall("o:part", NS)
                            if p.get("name") == "example" and p.find("o:p", NS) is not None]
                if statement is None or statement.find("o:p", NS) is None or not examples:
                    continue  # a CSF 1.1 id kept as a withdrawn placeholder (2.0 gives every outcome examples)
                text = _text(statement.find("o:p", NS), {})
                sid = sub.get("id")
                row = {
                    "id": sid, "title": common.clip(text, 240), "domain": CSF_DOMAINS[category.get("id")],
                    "source": f"NIST Cybersecurity Framework 2.0 (CSWP 29, February 2024), subcategory {sid}; "
                              "OSCAL catalog (usnistgov/oscal-content @ 3b3cdee)",
                    "description": common.clip(f"{text}. Implementation examples: " + "; ".join(examples), 1000),
                    "testing": common.clip(
                        f"Examine how the organization achieves the outcome '{text}': the policy or "
                        "procedure that assigns it, the records that show it operating in the period, "
                        "and any automated evidence listed below.", 1000),
                    "manual": common.clip(f"documents showing the outcome is achieved: {text}.", 900),
                }
                extra = overlay.get(sid, {})
                for field in ("tests", "supports", "why"):
                    if extra.get(field):
                        row[field] = extra[field]
                rows.append(row)
            if rows:
                name = f"{category.get('id')} {category.findtext('o:title', '', NS)}".replace(",", "")
                control_sets.append({"name": name, "controls": rows})
    return {
        "output": "nist-csf-2.0.json.gz", "key_prefix": "NIST-CSF-2.0/", "short_name": "NIST CSF 2.0",
        "provenance": (
            "NIST Cybersecurity Framework 2.0 (CSWP 29, February 2024): functions, categories, "
            "subcategory outcomes and implementation examples from NIST's OSCAL catalog "
            "(usnistgov/oscal-content @ 3b3cdee, public domain; tools/library/sources). Evidence "
            "mappings are Assay's (tools/library/frameworks/evidence/nist-csf-2.0.yaml)."),
        "official_count": {"count": 106, "cite": (
            "NIST CSWP 29, The NIST Cybersecurity Framework (CSF) 2.0 (February 2024): 6 functions, "
            "22 categories, 106 subcategories")},
        "framework": {
            "key": "nist-csf-2.0",
            "name": "NIST Cybersecurity Framework 2.0",
            "description": (
                "The outcomes of the NIST Cybersecurity Framework 2.0: 106 subcategories in 22 categories "
                "of the six functions Govern, Identify, Protect, Detect, Respond and Recover, with NIST's "
                "implementation examples. Most outcomes are shown by documents; technical ones are "
                "evidenced from AWS."),
            "complianceType": "NIST CSF",
        },
        "control_sets": control_sets,
    }


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(out_dir) if out_dir else common.DATA_DIR
    written = []
    errors = []
    for doc in (sp171_doc(), csf_doc()):
        try:
            payload = build_frameworks.build_payload(doc, doc["output"])
        except build_frameworks.BuildError as e:
            errors.append(str(e))
            continue
        # NIST's statements and objectives make these files large: stored gzip-compressed.
        path = common.write_data(doc["output"].removesuffix(".json.gz"), payload, data_dir=out_dir,
                                 force_gzip=True)
        tests = sum(any(s.get("strength") == "tests" for s in c["controlMappingSources"])
                    for c in payload["controls"])
        print(f"wrote {path.name}: {len(payload['controls'])} controls, {tests} tested by automated evidence")
        written.append(path)
    if errors:
        raise build_frameworks.BuildError("\n".join(errors))
    return written


if __name__ == "__main__":
    main()
