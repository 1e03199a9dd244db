"""Control domains of the standard library (written by us) -> data/domains.json.

A domain groups controls by the security area they address, whatever framework they come
from. Its id is the control-catalog style ARN `arn:aws:controlcatalog:::domain/<key>`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DOMAINS: dict[str, tuple[str, str]] = {
    "identity-and-access-management": (
        "Identity and access management",
        "Who can reach which systems and data, and how they prove who they are: accounts, roles, "
        "permissions, credentials, multi-factor authentication and the review of access.",
    ),
    "logging-and-monitoring": (
        "Logging and monitoring",
        "Recording what happens in the environment and watching those records: audit trails, log "
        "retention and protection, metrics, alarms and threat detection.",
    ),
    "data-protection": (
        "Data protection",
        "Keeping data confidential and intact at rest and in transit: encryption, key management, "
        "media handling, retention and protection against deletion or tampering.",
    ),
    "network-security": (
        "Network security",
        "Controlling traffic into, out of and within the environment: segmentation, firewalls and "
        "security groups, public exposure, boundary protection and secure protocols.",
    ),
    "incident-response": (
        "Incident response",
        "Preparing for, detecting, handling and learning from security incidents, including "
        "reporting them to the people and authorities who must know.",
    ),
    "configuration-management": (
        "Configuration management",
        "Defining secure baselines, controlling and recording changes, and keeping systems in the "
        "configuration that was approved.",
    ),
    "vulnerability-management": (
        "Vulnerability management",
        "Finding weaknesses and fixing them in time: scanning, patching, supported versions, "
        "malware protection and the integrity of software and information.",
    ),
    "business-continuity-and-resilience": (
        "Business continuity and resilience",
        "Keeping services available and recoverable: backups, redundancy across zones and "
        "Regions, contingency plans and their tests.",
    ),
    "governance-risk-and-compliance": (
        "Governance, risk and compliance",
        "Policies, roles, risk assessment, planning, assessments and authorisation: the management "
        "system that directs and checks the security programme.",
    ),
    "asset-management": (
        "Asset management",
        "Knowing what exists and who owns it: inventories of systems, software and data, tagging, "
        "maintenance and the retirement of assets.",
    ),
    "security-awareness-and-training": (
        "Security awareness and training",
        "Making sure people know their security and privacy duties: awareness programmes, "
        "role-based training and records of who completed them.",
    ),
    "physical-and-environmental-security": (
        "Physical and environmental security",
        "Protecting facilities and equipment: physical access, visitors, power, fire, water and "
        "climate protection. For cloud workloads largely inherited from the provider.",
    ),
    "third-party-and-supply-chain": (
        "Third-party and supply chain",
        "Managing the risk that comes from suppliers, service providers and the components and "
        "software they deliver.",
    ),
    "privacy": (
        "Privacy",
        "Handling personal data lawfully and transparently: purpose, consent, notice, data subject "
        "rights, minimisation and privacy risk assessment.",
    ),
    "secure-development": (
        "Secure development",
        "Building security into systems from design to release: secure engineering, code and "
        "build pipelines, developer testing and the protection of secrets in code.",
    ),
}


def main() -> Path:
    payload = {
        "provenance": "Written for Assay by its authors (tools/library/domains.py).",
        "domains": [{"key": k, "name": n, "description": d} for k, (n, d) in DOMAINS.items()],
    }
    path = common.write_data("domains", payload, force_gzip=False)
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()
