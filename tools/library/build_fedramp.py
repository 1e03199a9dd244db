"""Build the FedRAMP Rev. 5 library file: LOW, MODERATE and HIGH baselines.

    .venv/bin/python tools/library/build_fedramp.py

Each baseline has its own standard controls (key FedRAMP-r5-<BASELINE>/<ID>), because FedRAMP
sets different parameter values per baseline. Name, statement, domain and evidence sources are
those of the NIST control (so the same requirement is evidenced the same way everywhere);
testingInformation lists FedRAMP's parameter values for that baseline (the profile's
set-parameters) and FedRAMP's additional requirements and guidance, both public domain (GSA).
FedRAMP's profiles name parameters with the SP 800-53 Rev. 5.1 ids (e.g. ac-02_odp.06); they
are shown as given.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_nist  # noqa: E402
import common  # noqa: E402
import oscal  # noqa: E402

BASELINE_NAMES = {"LOW": "Low", "MODERATE": "Moderate", "HIGH": "High"}
_PARAM_ID = re.compile(r"^([a-z]{2})-0*(\d+)(?:\.0*(\d+))?_(?:odp(?:\.\d+)?|prm_\d+)$")


def control_key(baseline: str, nist_id: str) -> str:
    return f"FedRAMP-r5-{baseline}/{oscal.display_id(nist_id)}"


def param_control(param_id: str) -> str:
    m = _PARAM_ID.match(param_id)
    if not m:
        raise ValueError(f"unexpected FedRAMP parameter id {param_id!r}")
    fam, num, enh = m.groups()
    return f"{fam.upper()}-{int(num)}" + (f"({int(enh)})" if enh else "")


def parameter_values(profile: dict) -> dict[str, list[str]]:
    """Display id -> lines 'parameter: value' from the profile's set-parameters."""
    cat = oscal.catalog()
    out: dict[str, list[str]] = {}
    for sp in profile.get("modify", {}).get("set-parameters", []):
        pid = sp["param-id"]
        values = [common.squash(c.get("description", "")) for c in sp.get("constraints", [])]
        values += [common.squash(v) for v in sp.get("values", [])]
        values = [v for v in values if v]
        if not values:
            continue
        known = cat.params.get(pid)
        label = pid
        if known and known.get("label"):
            label = f"{pid} ({common.squash(known['label'])})"
        out.setdefault(param_control(pid), []).append(f"{label}: {'; '.join(values)}")
    return out


def additional_requirements(profile: dict) -> dict[str, list[str]]:
    """Display id -> FedRAMP's additional requirement and guidance lines for the control."""
    out: dict[str, list[str]] = {}
    for alter in profile.get("modify", {}).get("alters", []):
        cid = oscal.display_id(alter["control-id"])
        for add in alter.get("adds", []):
            for part in add.get("parts", []):
                for item in part.get("parts", []) or [part]:
                    prose = common.squash(item.get("prose", ""))
                    if not prose:
                        continue
                    label = next(
                        (p["value"] for p in item.get("props", []) if p.get("name") == "label"), ""
                    )
                    out.setdefault(cid, []).append(f"{label} {prose}".strip())
    return out


def testing_for(baseline: str, control: oscal.CatalogControl, params: list[str], extra: list[str], automated: bool) -> str:
    name = BASELINE_NAMES[baseline]
    blocks: list[str] = []
    if params:
        blocks.append(f"FedRAMP {name} parameter values for {control.id}:\n" + "\n".join(f"- {p}" for p in params))
    else:
        blocks.append(
            f"FedRAMP {name} sets no parameter values for {control.id}; use the values in the "
            "system security plan."
        )
    if extra:
        blocks.append("FedRAMP requirements and guidance:\n" + "\n".join(f"- {e}" for e in extra))
    hint = f"How to test: {build_nist.TESTING_HINT[control.family]}"
    text = "\n\n".join(blocks)
    if len(text) + 2 + len(hint) <= build_nist.TEXT_MAX:
        return text + "\n\n" + hint
    return common.clip_lines(text, build_nist.TEXT_MAX, "[Shortened: see the FedRAMP baseline.]")


def build() -> dict:
    cat = oscal.catalog()
    controls: list[dict] = []
    frameworks: list[dict] = []
    versions = []
    for baseline, path in oscal.FEDRAMP_PROFILES.items():
        prof = oscal.profile(path)
        versions.append(f"{baseline} {prof['metadata'].get('version', '')} ({prof['metadata'].get('last-modified', '')[:10]})")
        ids = oscal.profile_ids(path)
        missing = [i for i in ids if i not in cat.controls or cat.controls[i].withdrawn]
        if missing:
            raise SystemExit(f"FedRAMP {baseline} names controls not in the catalog: {missing}")
        params = parameter_values(prof)
        extra = additional_requirements(prof)
        unknown = sorted(set(params) - set(ids))
        if unknown:
            raise SystemExit(f"FedRAMP {baseline} sets parameters of controls it does not include: {unknown}")
        for nid in oscal.sort_by_catalog(ids):
            control = cat.controls[nid]
            record = build_nist.standard_control(control, control_key(baseline, nid),
                                                 f"FedRAMP {BASELINE_NAMES[baseline]}")
            automated = any(s["sourceType"] != "MANUAL" for s in record["controlMappingSources"])
            record["testingInformation"] = testing_for(baseline, control, params.get(nid, []), extra.get(nid, []), automated)
            controls.append(record)
        name = BASELINE_NAMES[baseline]
        frameworks.append(
            {
                "key": f"fedramp-r5-{baseline.lower()}",
                "name": f"FedRAMP Rev. 5 {name} baseline",
                "description": (
                    f"The FedRAMP Rev. 5 {name} baseline for cloud services used by US federal "
                    f"agencies: {len(ids)} NIST SP 800-53 Rev. 5 controls with FedRAMP's parameter "
                    "values and additional requirements (shown in each control's testing "
                    "information), grouped by family."
                ),
                "complianceType": "FedRAMP",
                "controlSets": build_nist.control_sets(ids, lambda i, b=baseline: control_key(b, i)),
            }
        )
    return {
        "provenance": (
            "FedRAMP Rev. 5 baselines, OSCAL profiles from GSA/fedramp-automation ("
            + "; ".join(versions)
            + "), public domain, over the NIST SP 800-53 Rev. 5 catalog (release "
            f"{cat.version}). Control names and statements are NIST's, parameter values and "
            "additional requirements FedRAMP's; the rest is Assay's (tools/library/build_fedramp.py)."
        ),
        "controls": controls,
        "frameworks": frameworks,
    }


def main() -> Path:
    path = common.write_data("fedramp-r5", build())
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()
