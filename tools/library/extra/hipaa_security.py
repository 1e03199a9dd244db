"""HIPAA Security Rule, 45 CFR Part 164 Subpart C (sections 164.308 to 164.316).

Section numbers and the titles of standards and implementation specifications are those of the
regulation (US federal law, public domain). Descriptions, tests and action plans are ours.
Automated evidence follows the rules AWS's "Operational Best Practices for HIPAA Security"
conformance pack deploys (aws-config-rules, CC0), placed by what each rule shows.
"""
from extra_common import AM, BC, C, CM, DP, GRC, IAM, IR, LOG, NET, PHY, SAT, TP, VM  # noqa: F401

KEY_PREFIX = "HIPAA/"
NAME_PREFIX = ""
PROVENANCE = (
    "Section numbers and titles from the HIPAA Security Rule, 45 CFR Part 164 Subpart C "
    "(164.308 Administrative safeguards, 164.310 Physical safeguards, 164.312 Technical safeguards, "
    "164.314 Organizational requirements, 164.316 Policies and procedures and documentation "
    "requirements), eCFR, U.S. Government Publishing Office; public domain. Descriptions, test "
    "procedures and action plans are written by Assay's authors and are not legal advice. Evidence "
    "mappings follow AWS's Operational Best Practices for HIPAA Security conformance pack "
    "(aws-config-rules, CC0)."
)
FRAMEWORK = {
    "key": "hipaa-security-rule",
    "name": "HIPAA Security Rule",
    "description": (
        "The standards and implementation specifications of the HIPAA Security Rule (45 CFR 164.308 "
        "to 164.316) for protecting electronic protected health information (ePHI) on AWS. Each "
        "control is one standard or implementation specification, marked required or addressable. "
        "An addressable specification must still be assessed: implement it, or document why an "
        "equivalent measure or none is reasonable. Technical safeguards are evidenced from AWS; "
        "administrative, physical and organizational ones mostly by documents."
    ),
    "complianceType": "HIPAA",
}

_R = "Implementation specification (required). "
_A = ("Implementation specification (addressable: implement, or document why an alternative or "
      "nothing is reasonable). ")
_S = "Standard. "

ADMINISTRATIVE = [
    C("164.308(a)(1)(i)", "Security management process", GRC,
      _S + "A program to prevent, detect, contain and correct security violations, built from risk "
           "analysis, risk management, sanctions and regular review of system activity.",
      "Confirm the four implementation specifications below are in place and tied together: risks "
      "identified feed the risk plan, and activity review feeds incident handling. Security Hub "
      "and Config show the continuous detective part.",
      auto="@securityhub @config_recorder",
      manual="security management program document naming its owner, scope (systems holding ePHI) and "
             "how risk analysis, risk management, sanctions and activity review work together."),
    C("164.308(a)(1)(ii)(A)", "Risk analysis", GRC,
      _R + "An accurate and thorough assessment of threats and vulnerabilities to the "
           "confidentiality, integrity and availability of all ePHI the entity creates, receives, "
           "maintains or transmits, including where it lives in AWS.",
      "Inspect the latest risk analysis: it covers every system and data flow holding ePHI (compare "
      "with the resource inventory), rates likelihood and impact, and is updated after significant "
      "changes. Findings from Inspector, Security Hub and Macie should appear as inputs.",
      auto="@inventory @data_discovery api:inspector2_ListFindings",
      manual="the current risk analysis with its date, scope (ePHI inventory and data flows), method "
             "and results."),
    C("164.308(a)(1)(ii)(B)", "Risk management", GRC,
      _R + "Security measures chosen and implemented to bring the risks found in the analysis down to "
           "a reasonable and appropriate level.",
      "Trace a sample of high risks from the analysis to implemented measures or accepted-risk "
      "decisions; confirm automated findings are tracked to closure.",
      auto="@securityhub api:securityhub_GetFindings",
      manual="risk treatment plan or register: each risk with its measure, owner, due date and status, "
             "and signed risk acceptances."),
    C("164.308(a)(1)(ii)(C)", "Sanction policy", GRC,
      _R + "Workforce members who fail to follow security policies face appropriate, documented "
           "sanctions.",
      "Inspect the sanction policy, its communication to staff, and records of sanctions applied in "
      "the period (redacted).",
      manual="sanction policy and evidence it is applied (redacted sanction records or HR attestation)."),
    C("164.308(a)(1)(ii)(D)", "Information system activity review", LOG,
      _R + "Records of system activity (audit logs, access reports, security incident tracking) are "
           "reviewed regularly.",
      "Confirm logging is on (trails, service and network logs) and that someone reviews it: sample "
      "review records or alert tickets for the period. Findings from GuardDuty and Security Hub are "
      "triaged.",
      auto="@trail @service_logs @flow_logs @guardduty @securityhub sh:RDS.6 sh:S3.11",
      manual="activity review procedure and a sample of completed reviews or triaged alerts with "
             "dates and reviewers."),
    C("164.308(a)(2)", "Assigned security responsibility", GRC,
      _S + "One security official is named as responsible for developing and implementing the "
           "security policies and procedures.",
      "Inspect the appointment letter or organization chart naming the security official and their "
      "documented responsibilities.",
      auto="@contacts",
      manual="document naming the HIPAA security official, with responsibilities and date of "
             "appointment."),
    C("164.308(a)(3)(i)", "Workforce security", IAM,
      _S + "Workforce members get the access to ePHI their role needs and no more, and those who should "
           "not have access are kept out.",
      "Review IAM configuration for least privilege (no full administrator policies, no direct user "
      "policies, MFA) and compare access lists with the roles that need ePHI.",
      auto="@admin_policies @group_permissions @user_mfa @s3_public",
      manual="access control policy describing role-based access to ePHI and the approved role list."),
    C("164.308(a)(3)(ii)(A)", "Authorization and/or supervision", IAM,
      _A + "People who work with ePHI, or where it can be accessed, are authorized or supervised.",
      "Sample users with access to ePHI systems and find the approval for each; check that roles "
      "granting access are limited to approved groups.",
      auto="@user_inventory @user_lifecycle",
      manual="access request and approval records for a sample of workforce members with ePHI access."),
    C("164.308(a)(3)(ii)(B)", "Workforce clearance procedure", IAM,
      _A + "A procedure decides whether a workforce member's access to ePHI is appropriate before it is "
           "granted, such as background checks sized to the access.",
      "Inspect the clearance procedure and sample its records for recent hires with ePHI access.",
      manual="workforce clearance procedure and completed clearance records for sampled hires."),
    C("164.308(a)(3)(ii)(C)", "Termination procedures", IAM,
      _A + "Access to ePHI ends when employment or the engagement ends, or when clearance is withdrawn.",
      "Compare the leavers list with IAM and identity provider events: accounts deleted or disabled "
      "promptly; the credential report shows no active credentials for leavers.",
      auto="@user_lifecycle @key_lifecycle @unused_creds",
      manual="leavers list for the period with the date each person's access was removed."),
    C("164.308(a)(4)(i)", "Information access management", IAM,
      _S + "Policies and procedures authorize access to ePHI consistent with the Privacy Rule.",
      "Inspect the access management policy and confirm technical access rules follow it: "
      "least-privilege policies, private data stores, KMS key access limited.",
      auto="@admin_policies @kms_access @data_stores_private @access_analyzer @routing @in_vpc @public_ips",
      manual="information access management policy and procedure."),
    C("164.308(a)(4)(ii)(A)", "Isolating health care clearinghouse functions", NET,
      _R + "A health care clearinghouse that is part of a larger organization keeps its ePHI separate "
           "from the rest of the organization. Not applicable to entities without a clearinghouse.",
      "Confirm clearinghouse workloads run in separate accounts or VPCs with no routes or trust from "
      "other business units; or record that no clearinghouse function exists.",
      auto="@org @network_inventory",
      manual="description of how clearinghouse systems are isolated (separate accounts, network "
             "boundaries), or a statement that the entity has no clearinghouse function."),
    C("164.308(a)(4)(ii)(B)", "Access authorization", IAM,
      _A + "Access to ePHI, whether through a workstation, program, process or other mechanism, is "
           "granted only through a defined authorization.",
      "Sample roles and permission sets that reach ePHI and trace each to an approval; check for "
      "policy changes outside the approval process in CloudTrail.",
      auto="@policy_changes api:iam_GetAccountAuthorizationDetails",
      manual="access authorization procedure and approvals for sampled roles or users."),
    C("164.308(a)(4)(ii)(C)", "Access establishment and modification", IAM,
      _A + "Users' rights to access workstations, programs or processes are established, documented, "
           "reviewed and changed through a procedure.",
      "Inspect periodic access review records and compare them with IAM user, group and role "
      "changes in CloudTrail.",
      auto="@user_lifecycle @user_inventory @policy_changes",
      manual="most recent access review (who reviewed what, removals made) and the review procedure."),
    C("164.308(a)(5)(i)", "Security awareness and training", SAT,
      _S + "A security awareness and training program for all workforce members, including management.",
      "Inspect the training program and completion records; confirm everyone with ePHI access "
      "completed it in the period.",
      manual="training program content, schedule and completion records for the period."),
    C("164.308(a)(5)(ii)(A)", "Security reminders", SAT,
      _A + "Periodic security updates and reminders keep the workforce aware between trainings.",
      "Inspect a sample of reminders sent in the period (dates, audience, content).",
      manual="copies of security reminders sent in the period."),
    C("164.308(a)(5)(ii)(B)", "Protection from malicious software", VM,
      _A + "Procedures guard against, detect and report malicious software.",
      "Confirm threat detection is on (GuardDuty), instances are managed and patched, and anti-malware "
      "is deployed on workloads; sample how a malware finding was handled.",
      auto="@malware @patching @managed_updates",
      manual="anti-malware standard and evidence of deployment on servers and workstations."),
    C("164.308(a)(5)(ii)(C)", "Log-in monitoring", LOG,
      _A + "Log-in attempts are monitored and discrepancies reported.",
      "Confirm console sign-ins are recorded, alarms exist for failed sign-ins and sign-ins without "
      "MFA, and GuardDuty runs; sample alerts and their handling.",
      auto="@signin_events sh:CloudWatch.3 sh:CloudWatch.6 @guardduty @alarm_plumbing",
      manual="procedure for reviewing failed log-ins and a sample of reviewed alerts."),
    C("164.308(a)(5)(ii)(D)", "Password management", IAM,
      _A + "Procedures for creating, changing and safeguarding passwords.",
      "Check the IAM password policy and the identity provider's password settings; confirm secrets "
      "are stored in a manager and rotated.",
      auto="@password_policy @secrets @key_rotation @hardcoded_creds sh:CodeBuild.1",
      manual="password standard and the identity provider's password policy settings (screenshot)."),
    C("164.308(a)(6)(i)", "Security incident procedures", IR,
      _S + "Policies and procedures address security incidents.",
      "Inspect the incident response plan and confirm detection sources feed it (GuardDuty, Security "
      "Hub, alarms with actions).",
      auto="@guardduty @securityhub @alarm_actions @ir_tooling",
      manual="security incident response policy and plan, with roles and contact lists."),
    C("164.308(a)(6)(ii)", "Response and reporting", IR,
      _R + "Suspected or known incidents are identified and responded to, harmful effects mitigated as "
           "far as practicable, and incidents and outcomes documented.",
      "Sample incidents or high-severity findings from the period and confirm each was triaged, "
      "contained, documented and, if it was a breach, reported.",
      auto="@guardduty_findings api:securityhub_GetFindings @ir_tooling",
      manual="incident log for the period with a sample of incident reports (timeline, impact, "
             "mitigation, notification decision)."),
    C("164.308(a)(7)(i)", "Contingency plan", BC,
      _S + "Policies and procedures to respond to emergencies or failures (fire, vandalism, system "
           "failure, natural disaster) that damage systems holding ePHI.",
      "Inspect the contingency plan and check its technical measures exist: backups, multi-AZ "
      "deployments, replication.",
      auto="@backups @high_availability @capacity",
      manual="contingency plan covering backup, disaster recovery and emergency mode, with owners."),
    C("164.308(a)(7)(ii)(A)", "Data backup plan", BC,
      _R + "Retrievable exact copies of ePHI are created and maintained.",
      "Confirm every ePHI data store is covered by a backup plan or point-in-time recovery, backup "
      "jobs succeed, and recovery points are protected from deletion.",
      auto="@backups @backup_protection",
      manual="data backup plan listing ePHI data stores, frequency, retention and copy locations."),
    C("164.308(a)(7)(ii)(B)", "Disaster recovery plan", BC,
      _R + "Procedures to restore any loss of data.",
      "Inspect the disaster recovery plan; confirm replicated copies or cross-Region backups exist "
      "for ePHI and restore jobs have been run.",
      auto="@replication @restore_tests @high_availability",
      manual="disaster recovery plan with recovery objectives and restore procedures."),
    C("164.308(a)(7)(ii)(C)", "Emergency mode operation plan", BC,
      _R + "Procedures keep critical business processes, and the protection of ePHI, running while "
           "operating in emergency mode.",
      "Inspect the emergency mode plan: which processes continue, which security controls stay on, "
      "and who decides.",
      manual="emergency mode operation plan."),
    C("164.308(a)(7)(ii)(D)", "Testing and revision procedures", BC,
      _A + "Contingency plans are tested and revised periodically.",
      "Inspect the most recent contingency test report and resulting plan changes; restore jobs "
      "and restore testing plans give technical evidence.",
      auto="@restore_tests",
      manual="contingency plan test report (date, scenario, results) and revision history."),
    C("164.308(a)(7)(ii)(E)", "Applications and data criticality analysis", BC,
      _A + "The relative criticality of applications and data is assessed to set recovery priorities.",
      "Inspect the criticality analysis and compare its ranking with backup and recovery settings.",
      auto="api:resourcegroupstaggingapi_GetResources",
      manual="applications and data criticality analysis with recovery priorities."),
    C("164.308(a)(8)", "Evaluation", GRC,
      _S + "Periodic technical and non-technical evaluations, and evaluations after environmental or "
           "operational changes, show how well security policies and procedures meet the rule.",
      "Inspect the latest evaluation report; confirm continuous technical evaluation through Security "
      "Hub standards and Config conformance packs.",
      auto="@securityhub api:config_DescribeConformancePacks",
      manual="most recent HIPAA security evaluation report and remediation tracking."),
    C("164.308(b)(1)", "Business associate contracts and other arrangements", TP,
      _S + "A covered entity lets a business associate create, receive, maintain or transmit ePHI "
           "only with satisfactory written assurances that it will safeguard the information.",
      "Compare the list of business associates with signed agreements.",
      manual="list of business associates handling ePHI with the status of each agreement."),
    C("164.308(b)(3)", "Written contract or other arrangement", TP,
      _R + "The assurances are documented in a written contract or other arrangement that meets "
           "164.314(a).",
      "Sample business associate agreements and check they contain the required terms.",
      manual="signed business associate agreements for sampled associates (including the AWS BAA "
             "where AWS holds ePHI)."),
]

PHYSICAL = [
    C("164.310(a)(1)", "Facility access controls", PHY,
      _S + "Physical access to systems holding ePHI and the facilities housing them is limited to "
           "authorized people. For AWS-hosted systems, AWS's data center controls apply under the "
           "shared responsibility model; the entity covers its own offices.",
      "Inspect the facility access policy and AWS's third-party reports (SOC 2, ISO 27001) from "
      "AWS Artifact for data center controls.",
      manual="facility access control policy and the current AWS SOC 2 report (AWS Artifact) "
             "covering data center physical security."),
    C("164.310(a)(2)(i)", "Contingency operations", PHY,
      _A + "Facility access procedures support restoring lost data under the disaster recovery and "
           "emergency mode plans.",
      "Inspect how facility access is granted during an emergency.",
      manual="procedure for facility access during contingency operations."),
    C("164.310(a)(2)(ii)", "Facility security plan", PHY,
      _A + "Policies and procedures protect the facility and its equipment from unauthorized physical "
           "access, tampering and theft.",
      "Inspect the facility security plan for the entity's own sites.",
      manual="facility security plan for entity-controlled sites."),
    C("164.310(a)(2)(iii)", "Access control and validation procedures", PHY,
      _A + "A person's physical access is controlled and validated by role, including visitors and "
           "access to software testing and revision areas.",
      "Sample badge access lists and visitor logs.",
      manual="badge access list review and visitor log sample."),
    C("164.310(a)(2)(iv)", "Maintenance records", PHY,
      _A + "Repairs and modifications to the physical security components of a facility (doors, "
           "locks, walls, hardware) are documented.",
      "Inspect maintenance records for the period.",
      manual="maintenance records of physical security components for the period."),
    C("164.310(b)", "Workstation use", PHY,
      _S + "Policies specify the functions performed on workstations that access ePHI, how, and the "
           "physical surroundings of those workstations.",
      "Inspect the workstation use policy and its acknowledgement by staff.",
      manual="workstation use policy and staff acknowledgements."),
    C("164.310(c)", "Workstation security", PHY,
      _S + "Physical safeguards restrict workstations that access ePHI to authorized users.",
      "Inspect workstation security controls (screen locks, device management, secured locations).",
      manual="workstation security standard and device management report (screen lock, disk "
             "encryption) for endpoints that access ePHI."),
    C("164.310(d)(1)", "Device and media controls", AM,
      _S + "Policies govern receipt and removal of hardware and electronic media holding ePHI into, out "
           "of and within a facility. In AWS, storage media handling is AWS's responsibility; the "
           "entity controls snapshots, volumes and its own devices.",
      "Inspect the media control policy; confirm snapshots are private and encrypted.",
      auto="sh:EC2.1 sh:RDS.1 sh:RDS.4 cfg:EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK cfg:RDS_SNAPSHOTS_PUBLIC_PROHIBITED",
      manual="device and media control policy."),
    C("164.310(d)(2)(i)", "Disposal", AM,
      _R + "ePHI and the hardware or media holding it are finally disposed of securely.",
      "Inspect disposal records for entity devices; for AWS, rely on AWS's media sanitization "
      "attested in its SOC 2 report and on crypto-shredding (deleting KMS keys) where used.",
      auto="ct:kms_ScheduleKeyDeletion @data_deletion_events",
      manual="disposal certificates or records for entity-owned media, and AWS's attestation of "
             "media destruction."),
    C("164.310(d)(2)(ii)", "Media re-use", AM,
      _R + "ePHI is removed from electronic media before the media is reused.",
      "Inspect the re-use procedure for entity devices; AWS wipes storage before reallocation.",
      manual="media re-use and wiping procedure with sample wipe records."),
    C("164.310(d)(2)(iii)", "Accountability", AM,
      _A + "A record is kept of movements of hardware and electronic media and the person responsible.",
      "Inspect the asset register and movement log; the resource inventory shows cloud assets.",
      auto="@inventory",
      manual="hardware and media asset register with custody and movement records."),
    C("164.310(d)(2)(iv)", "Data backup and storage", BC,
      _A + "An exact, retrievable copy of ePHI is made, when needed, before equipment is moved.",
      "Confirm backups exist for data stores affected by moves or migrations.",
      auto="@backups",
      manual="records of backups taken before equipment or data store moves."),
]

TECHNICAL = [
    C("164.312(a)(1)", "Access control", IAM,
      _S + "Technical policies and procedures let only authorized persons or software programs "
           "access systems that hold ePHI.",
      "Confirm least privilege in IAM, no public data stores, network paths restricted, and KMS key "
      "access limited.",
      auto="@admin_policies @s3_public @s3_access_control @data_stores_private @admin_ports @sg_ports "
           "@default_sg @kms_access @instance_roles @workload_privilege @imds",
      manual="technical access control standard for ePHI systems."),
    C("164.312(a)(2)(i)", "Unique user identification", IAM,
      _R + "Each user gets a unique name or number so activity can be traced to a person.",
      "Confirm people sign in with individual identities (federation or IAM users), root is not "
      "used, and no shared IAM users exist.",
      auto="@root_keys @root_use @federation api:iam_GetCredentialReport",
      manual="statement of the identity naming convention and list of any shared or generic accounts "
             "with justification."),
    C("164.312(a)(2)(ii)", "Emergency access procedure", IAM,
      _R + "Procedures get needed ePHI during an emergency (break-glass access).",
      "Inspect the break-glass procedure; confirm break-glass roles exist, are MFA-protected and their "
      "use is alarmed and reviewed.",
      auto="@root_mfa api:iam_ListRoles ct:sts_AssumeRole",
      manual="emergency access procedure and log of break-glass uses in the period."),
    C("164.312(a)(2)(iii)", "Automatic logoff", IAM,
      _A + "Electronic sessions end after a set period of inactivity.",
      "Inspect session duration settings of IAM roles and Identity Center, application session "
      "timeouts and endpoint screen locks.",
      auto="api:iam_ListRoles api:sso-admin_ListInstances",
      manual="configured session timeouts (Identity Center session duration, application idle "
             "timeout, endpoint screen lock) with screenshots."),
    C("164.312(a)(2)(iv)", "Encryption and decryption", DP,
      _A + "ePHI at rest is encrypted and decrypted by a mechanism, such as KMS-backed storage "
           "encryption.",
      "Confirm all ePHI data stores are encrypted at rest (storage, databases, queues, logs and "
      "backups) and key rotation and deletion are controlled.",
      auto="@enc_storage @enc_databases @enc_other @kms_keys",
      manual="encryption standard naming algorithms and key management for ePHI."),
    C("164.312(b)", "Audit controls", LOG,
      _S + "Hardware, software or procedures record and examine activity in systems that hold or use "
           "ePHI.",
      "Confirm CloudTrail records all Regions with validation and encryption, data store and network "
      "logs are on, and logs are retained.",
      auto="@trail @trail_integrity @trail_encryption @trail_cwl @s3_data_events @service_logs @flow_logs "
           "@log_retention",
      manual="audit logging standard: which systems log what, retention, and who reviews."),
    C("164.312(c)(1)", "Integrity", DP,
      _S + "ePHI is protected from improper alteration or destruction.",
      "Confirm versioning or object lock on ePHI buckets, deletion protection on databases, and "
      "backups protected from deletion.",
      auto="@data_integrity @deletion_protection @backup_protection cfg:ECS_CONTAINERS_READONLY_ACCESS",
      manual="integrity policy for ePHI."),
    C("164.312(c)(2)", "Mechanism to authenticate electronic protected health information", DP,
      _A + "Electronic mechanisms confirm ePHI has not been altered or destroyed without "
           "authorization (for example checksums, digital signatures, log validation).",
      "Confirm log file validation on trails, versioning/object lock on ePHI buckets, and any "
      "application-level checksums.",
      auto="@trail_integrity @data_integrity",
      manual="description of integrity checks used for ePHI (checksums, signatures) where applicable."),
    C("164.312(d)", "Person or entity authentication", IAM,
      _S + "Procedures verify that a person or entity seeking access to ePHI is the one claimed.",
      "Confirm MFA for root and console users, strong password policy, and IAM database "
      "authentication where used.",
      auto="@root_mfa @user_mfa @password_policy @db_iam_auth cfg:EMR_KERBEROS_ENABLED",
      manual="authentication standard (factors required by access type)."),
    C("164.312(e)(1)", "Transmission security", NET,
      _S + "Technical measures guard against unauthorized access to ePHI sent over a network.",
      "Confirm endpoints carrying ePHI require TLS, certificates are valid, and private connectivity "
      "is used where possible.",
      auto="@enc_transit @certificates @private_endpoints @vpn @waf",
      manual="transmission security standard listing approved protocols."),
    C("164.312(e)(2)(i)", "Integrity controls", NET,
      _A + "Security measures ensure ePHI sent electronically is not modified improperly without "
           "detection until it is disposed of.",
      "Confirm TLS (which carries message integrity) on all ePHI endpoints and HTTP-to-HTTPS "
      "redirection.",
      auto="sh:ELB.1 sh:S3.5 sh:CloudFront.3 cfg:ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK "
           "cfg:S3_BUCKET_SSL_REQUESTS_ONLY cfg:ELB_TLS_HTTPS_LISTENERS_ONLY cfg:API_GW_SSL_ENABLED",
      manual="list of ePHI interfaces and the integrity protection each uses."),
    C("164.312(e)(2)(ii)", "Encryption", NET,
      _A + "ePHI is encrypted in transit whenever deemed appropriate.",
      "Confirm TLS on load balancers, CloudFront, S3, databases and caches carrying ePHI, with "
      "strong policies.",
      auto="@enc_transit @certificates",
      manual="encryption in transit standard (minimum TLS version, cipher policy)."),
]

ORGANIZATIONAL = [
    C("164.314(a)(1)", "Business associate contracts or other arrangements", TP,
      _S + "Contracts or other arrangements with business associates meet the requirements of "
           "164.314(a)(2).",
      "Compare business associates with signed agreements and check their terms.",
      manual="register of business associate agreements."),
    C("164.314(a)(2)(i)", "Business associate contracts", TP,
      _R + "The contract requires the associate to comply with the Security Rule, bind its "
           "subcontractors, and report security incidents including breaches.",
      "Check sampled agreements for the three required terms.",
      manual="sampled business associate agreements with the required clauses highlighted."),
    C("164.314(a)(2)(ii)", "Other arrangements", TP,
      _R + "Where the covered entity and associate are both government entities, other arrangements "
           "(such as a memorandum of understanding) may take the place of a contract.",
      "Inspect such arrangements, or record that none apply.",
      manual="memoranda of understanding with government business associates, or a statement that "
             "none exist."),
    C("164.314(a)(2)(iii)", "Business associate contracts with subcontractors", TP,
      _R + "The same requirements apply between a business associate and its subcontractors that "
           "handle ePHI.",
      "Sample subcontractor agreements of business associates (or the entity's own, when it is an "
      "associate).",
      manual="subcontractor agreements covering ePHI."),
    C("164.314(b)(1)", "Requirements for group health plans", TP,
      _S + "A group health plan's documents require the plan sponsor to safeguard ePHI it creates, "
           "receives, maintains or transmits for the plan. Not applicable to other entities.",
      "Inspect plan documents, or record that the entity sponsors no group health plan.",
      manual="group health plan documents with the security provisions, or a not-applicable statement."),
    C("164.314(b)(2)", "Implementation specifications for group health plans", TP,
      _R + "The plan documents make the sponsor implement safeguards, support the required separation "
           "between plan and sponsor, bind its agents, and report security incidents to the plan.",
      "Check the plan documents for each of the four provisions.",
      manual="plan document amendments showing the four sponsor obligations."),
]

DOCUMENTATION = [
    C("164.316(a)", "Policies and procedures", GRC,
      _S + "Reasonable and appropriate policies and procedures implement the Security Rule, and may be "
           "changed at any time if documented.",
      "Inspect the HIPAA security policy set and its mapping to each standard.",
      manual="the security policies and procedures set, with a map to the Security Rule standards."),
    C("164.316(b)(1)", "Documentation", GRC,
      _S + "Policies, procedures and required records of actions, activities and assessments are kept "
           "in written (which may be electronic) form.",
      "Confirm the required records exist for the period (risk analysis, reviews, incidents, "
      "training).",
      manual="index of security documentation and records maintained."),
    C("164.316(b)(2)(i)", "Time limit", GRC,
      _R + "Required documentation is kept for six years from creation or from when it was last in "
           "effect, whichever is later.",
      "Inspect the document retention rule; where documentation lives in S3, lifecycle and object "
      "lock settings show retention.",
      auto="@retention @data_integrity",
      manual="documentation retention policy (six years) and where records are kept."),
    C("164.316(b)(2)(ii)", "Availability", GRC,
      _R + "Documentation is available to those responsible for implementing the procedures it covers.",
      "Confirm the policy repository is accessible to the relevant staff.",
      manual="screenshot or description of where staff access policies and procedures."),
    C("164.316(b)(2)(iii)", "Updates", GRC,
      _R + "Documentation is reviewed periodically and updated when environmental or operational "
           "changes affect the security of ePHI.",
      "Inspect document revision history for reviews within the period.",
      manual="revision history of the security policies showing periodic review."),
]

# The AWS conformance pack whose rules this framework must place (tests check it).
PACK = "Operational-Best-Practices-for-HIPAA-Security"
PACK_EXCLUDED: dict[str, str] = {}

CONTROL_SETS = [
    ("Administrative safeguards 164.308", ADMINISTRATIVE),
    ("Physical safeguards 164.310", PHYSICAL),
    ("Technical safeguards 164.312", TECHNICAL),
    ("Organizational requirements 164.314", ORGANIZATIONAL),
    ("Policies and procedures and documentation requirements 164.316", DOCUMENTATION),
]
