"""SOC 2: the 2017 Trust Services Criteria (with the 2022 revised points of focus) by id.

The criteria text is copyrighted by the AICPA: only the criterion ids (CC1.1 ... P8.1) are used.
Every title, description, test and action plan is written by Assay's authors.
"""
from extra_common import AM, BC, C, CM, DEV, DP, GRC, IAM, IR, LOG, NET, PHY, PRIV, SAT, TP, VM  # noqa: F401

KEY_PREFIX = "SOC2/"
NAME_PREFIX = ""
PROVENANCE = (
    "Criterion identifiers of the AICPA 2017 Trust Services Criteria for Security, Availability, "
    "Processing Integrity, Confidentiality, and Privacy (revised points of focus 2022). Only the "
    "identifiers are the AICPA's: titles, descriptions, test procedures and action plans are written "
    "by Assay's authors and are not the criteria text; obtain the criteria from the AICPA."
)
FRAMEWORK = {
    "key": "soc2-tsc-2017",
    "name": "SOC 2 (2017 Trust Services Criteria)",
    "description": (
        "Controls for a SOC 2 examination, one per Trust Services Criterion: the common criteria "
        "CC1-CC9 (security) and the additional criteria for availability (A1), confidentiality (C1), "
        "processing integrity (PI1) and privacy (P1-P8). Criterion ids are the AICPA's; the wording "
        "is Assay's. Technical criteria collect evidence from AWS; entity-level criteria ask for "
        "documents. Remove the control sets for categories outside the report's scope."
    ),
    "complianceType": "SOC 2",
}

CC1 = [
    C("CC1.1", "Commitment to integrity and ethical values", GRC,
      "Leadership sets and models standards of conduct, staff acknowledge a code of conduct, and "
      "deviations are identified and dealt with.",
      "Inspect the code of conduct, signed acknowledgements for a sample of staff, and how reported "
      "deviations were handled.",
      manual="code of conduct, acknowledgement records for sampled staff, and the process for "
             "handling reported violations."),
    C("CC1.2", "Board oversight of internal control", GRC,
      "A board or equivalent body, independent of management, oversees the design and operation of "
      "internal control, including security.",
      "Inspect board or committee minutes showing security and control matters reviewed in the period.",
      manual="board or audit committee charter and minutes covering security oversight."),
    C("CC1.3", "Structures, reporting lines and authority", GRC,
      "Management defines the organization's structure, reporting lines, and the authority and "
      "responsibility for security and the system, including for cloud accounts.",
      "Inspect the organization chart, role descriptions for security responsibilities, and the AWS "
      "account structure with owners.",
      auto="@org @contacts",
      manual="organization chart and documented security roles and responsibilities."),
    C("CC1.4", "Competent workforce", SAT,
      "The entity attracts, develops and keeps people competent for their roles, including security "
      "skills, with background checks where appropriate.",
      "Inspect hiring requirements, background checks and training records for sampled staff.",
      manual="job descriptions, background check evidence and training records for sampled staff."),
    C("CC1.5", "Accountability for internal control", GRC,
      "People are held accountable for their internal control duties through performance measures, "
      "reviews and consequences.",
      "Inspect performance review criteria and evidence they include control responsibilities.",
      manual="performance management procedure showing control responsibilities are evaluated."),
]

CC2 = [
    C("CC2.1", "Quality information for internal control", LOG,
      "The entity produces and uses relevant, timely and reliable information to run its controls, "
      "such as complete configuration, activity and security-finding records.",
      "Confirm configuration recording, audit logging and findings aggregation are on and complete "
      "across accounts and Regions.",
      auto="@config_recorder @trail @securityhub",
      manual="inventory of information sources used to operate controls and how completeness is checked."),
    C("CC2.2", "Internal communication of security responsibilities", SAT,
      "Objectives, policies and responsibilities for internal control are communicated to staff, and "
      "staff have a channel to report concerns.",
      "Inspect policy publication, onboarding communication and the internal reporting channel.",
      manual="evidence of internal policy communication (intranet page, onboarding material) and the "
             "whistleblowing or security reporting channel."),
    C("CC2.3", "External communication", GRC,
      "Commitments, system descriptions and security responsibilities are communicated to customers "
      "and other external parties, and they can report issues.",
      "Inspect customer-facing terms, the system description and the external vulnerability or "
      "incident reporting channel.",
      auto="@contacts",
      manual="customer agreements or terms stating security commitments, and the public security "
             "contact (e.g. security.txt)."),
]

CC3 = [
    C("CC3.1", "Objectives clear enough to assess risk", GRC,
      "The entity states its objectives, including service commitments and system requirements, "
      "clearly enough to identify and assess risks to them.",
      "Inspect documented objectives and service commitments and their link to the risk assessment.",
      manual="documented service commitments and system requirements."),
    C("CC3.2", "Risk identification and analysis", GRC,
      "Risks to objectives are identified across the entity, analyzed for likelihood and impact, and "
      "used to decide how to manage them.",
      "Inspect the risk assessment for the period; technical inputs include vulnerability and "
      "security findings.",
      auto="api:inspector2_ListFindings api:securityhub_GetFindings",
      manual="risk assessment with its method, scope, dates and results."),
    C("CC3.3", "Fraud risk", GRC,
      "The risk assessment considers fraud: incentives, opportunities (such as excessive access) and "
      "rationalization.",
      "Inspect the fraud risk section of the risk assessment and the controls addressing it.",
      auto="@admin_policies",
      manual="fraud risk assessment or the fraud section of the risk assessment."),
    C("CC3.4", "Changes that affect internal control", GRC,
      "Significant changes, internal or external (new services, vendors, regulations, leadership), "
      "are identified and their effect on controls assessed.",
      "Inspect how significant changes in the period were assessed for control impact.",
      manual="records of significant changes in the period and their risk assessment."),
]

CC4 = [
    C("CC4.1", "Ongoing and separate evaluations", GRC,
      "The entity checks that controls are present and working, through continuous monitoring and "
      "periodic separate evaluations such as internal audits or penetration tests.",
      "Confirm continuous evaluation (Security Hub standards, Config conformance packs) and inspect "
      "separate evaluations in the period.",
      auto="@securityhub api:config_DescribeConformancePacks api:config_DescribeConfigRules",
      manual="internal audit or control self-assessment reports and penetration test reports for the "
             "period."),
    C("CC4.2", "Deficiencies communicated and corrected", GRC,
      "Control deficiencies are reported in time to those responsible for correcting them, including "
      "senior management and the board when significant.",
      "Sample deficiencies and findings and trace them to owners, remediation and closure.",
      auto="api:securityhub_GetFindings",
      manual="deficiency or findings tracker with owners, dates and status; reports to management."),
]

CC5 = [
    C("CC5.1", "Control activities that reduce risk", GRC,
      "Control activities are chosen and built to bring risks to acceptable levels, mixing manual and "
      "automated, preventive and detective controls.",
      "Inspect the mapping of risks to controls; confirm preventive guardrails exist (e.g. SCPs).",
      auto="@org",
      manual="risk and control matrix."),
    C("CC5.2", "General controls over technology", CM,
      "General controls over technology infrastructure, security management and acquisition, "
      "development and maintenance support the achievement of objectives.",
      "Confirm baseline configuration is monitored (Config rules, conformance packs) and "
      "infrastructure changes go through controlled pipelines.",
      auto="@baseline_config @config_recorder",
      manual="IT general controls description."),
    C("CC5.3", "Policies and procedures that deploy controls", GRC,
      "Controls are put into practice through policies stating what is expected and procedures "
      "saying how, reviewed and kept current.",
      "Inspect the policy set, approval and review dates.",
      manual="information security policy set with approval and last review dates."),
]

CC6 = [
    C("CC6.1", "Logical access controls over protected information assets", IAM,
      "Access to information assets is controlled by identity, authentication and authorization "
      "mechanisms and network boundaries, with encryption protecting data at rest.",
      "Confirm central identity, MFA, least-privilege policies, private data stores, restricted "
      "network access and encryption at rest, across accounts.",
      auto="@federation @root_mfa @user_mfa @admin_policies @s3_public @admin_ports @enc_storage "
           "@enc_databases @kms_keys",
      manual="logical access security policy and the inventory of protected information assets."),
    C("CC6.2", "User registration and deregistration", IAM,
      "People are registered and authorized before they get credentials, and their credentials are "
      "removed when they no longer need access.",
      "Sample joiners (approval before access) and leavers (removal on time) against IAM and "
      "identity-provider events; check the credential report for stale credentials.",
      auto="@user_lifecycle @unused_creds @key_lifecycle",
      manual="joiner and leaver lists for the period with approval and removal dates."),
    C("CC6.3", "Role-based access with least privilege", IAM,
      "Access is granted, changed and removed by role, following least privilege and separating "
      "incompatible duties; access is reviewed periodically.",
      "Inspect periodic access reviews; confirm permissions are granted through groups or roles and "
      "no full-admin policies are attached broadly.",
      auto="@group_permissions @admin_policies @policy_changes @access_analyzer",
      manual="access review records for the period and the role/permission matrix."),
    C("CC6.4", "Physical access restricted", PHY,
      "Physical access to facilities and protected assets (data centers, offices, media) is "
      "restricted to authorized people. For AWS infrastructure this is AWS's responsibility, shown "
      "by its own SOC 2 report.",
      "Inspect badge access reviews for the entity's sites and AWS's SOC 2 report for data centers.",
      manual="office physical access review and the AWS SOC 2 report (AWS Artifact) as a subservice "
             "organization report."),
    C("CC6.5", "Secure disposal of assets", AM,
      "Protection of data on physical assets ends only after the data can no longer be read or "
      "recovered, e.g. by wiping, destruction or crypto-shredding.",
      "Inspect disposal records for entity devices; KMS key deletion events show crypto-shredding.",
      auto="ct:kms_ScheduleKeyDeletion @data_deletion_events",
      manual="asset disposal procedure and certificates of destruction or wipe records."),
    C("CC6.6", "Protection against threats from outside the system boundary", NET,
      "Boundary protections (firewalls, WAF, restricted ports, private endpoints, DDoS protection) "
      "guard against threats from outside the system.",
      "Confirm no admin ports open to the internet, WAF on public web endpoints, no unintended public "
      "data stores or instances.",
      auto="@admin_ports @sg_ports @default_sg @waf @public_ips @data_stores_private @network_firewall",
      manual="network diagram showing trust boundaries and external entry points."),
    C("CC6.7", "Restricted transmission and movement of data", DP,
      "Data moving between systems or leaving the entity goes only to authorized parties and is "
      "protected in transit.",
      "Confirm TLS is required on endpoints and S3, certificates are valid, and data store sharing "
      "outside the account is controlled.",
      auto="@enc_transit @certificates @s3_access_control @access_analyzer",
      manual="data transmission standard and approved external data transfers."),
    C("CC6.8", "Prevention and detection of unauthorized or malicious software", VM,
      "Controls prevent or detect unauthorized or malicious software: approved images, malware "
      "detection, vulnerability scanning and change restrictions.",
      "Confirm GuardDuty and Inspector coverage, image scanning, and that instances use approved AMIs.",
      auto="@malware @vuln_scanning cfg:APPROVED_AMIS_BY_ID cfg:APPROVED_AMIS_BY_TAG",
      manual="anti-malware standard and endpoint protection coverage report."),
]

CC7 = [
    C("CC7.1", "Detection of configuration changes and vulnerabilities", VM,
      "Configuration monitoring and vulnerability management detect changes that introduce weaknesses "
      "and newly discovered vulnerabilities.",
      "Confirm Config recording and rules, Security Hub standards, Inspector scanning and patch "
      "compliance are in place; sample how findings were handled.",
      auto="@config_recorder @securityhub @vuln_scanning @patching",
      manual="vulnerability management procedure with remediation timelines by severity."),
    C("CC7.2", "Monitoring for anomalies and attacks", LOG,
      "System components are monitored for anomalies that may indicate attacks, errors or "
      "disasters, and anomalies are analyzed.",
      "Confirm audit logs, threat detection and alarms with actions; sample alerts and analysis.",
      auto="@trail @guardduty @metric_alarms @alarm_actions @flow_logs",
      manual="security monitoring procedure and a sample of analyzed alerts."),
    C("CC7.3", "Evaluation of security events", IR,
      "Security events are evaluated to decide whether they are incidents, using defined criteria.",
      "Sample high-severity findings and confirm each was classified against the criteria.",
      auto="@guardduty_findings api:securityhub_GetFindings",
      manual="event classification criteria and sampled triage records."),
    C("CC7.4", "Incident response", IR,
      "Identified incidents are handled by a defined program: roles, containment, eradication, "
      "communication and lessons learned.",
      "Inspect the incident response plan, its last test, and records of incidents in the period.",
      auto="@ir_tooling sh:IAM.18",
      manual="incident response plan, test or tabletop records, and incident reports for the period."),
    C("CC7.5", "Recovery from incidents", BC,
      "Activities to recover from incidents are identified, developed and carried out, including "
      "restoring from backups and communicating.",
      "Inspect recovery records for incidents; confirm backups and restore capability exist.",
      auto="@backups @restore_tests",
      manual="recovery procedures and post-incident reports showing recovery actions."),
]

CC8 = [
    C("CC8.1", "Change management", CM,
      "Changes to infrastructure, data, software and procedures are authorized, designed, tested, "
      "approved and implemented in a controlled way, and emergency changes are handled.",
      "Sample changes from CloudTrail and the deployment pipeline and trace each to an approved "
      "ticket with testing evidence; confirm infrastructure drift is detected.",
      auto="@change_pipeline cfg:CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK @build_security",
      manual="change management procedure and a sample of change tickets with approval and test "
             "evidence."),
]

CC9 = [
    C("CC9.1", "Mitigation of business disruption risks", BC,
      "Risks of business disruption are identified and mitigated through business continuity "
      "planning, resilience and insurance.",
      "Inspect the business continuity plan and confirm multi-AZ and backup protections for critical "
      "systems.",
      auto="@high_availability @backups",
      manual="business continuity plan and business impact analysis."),
    C("CC9.2", "Vendor and business partner risk", TP,
      "Risks from vendors and business partners are assessed and managed: due diligence, contracts "
      "with security terms, and periodic review of their assurance reports.",
      "Inspect the vendor inventory, risk ratings and reviews of SOC reports for critical vendors.",
      manual="vendor inventory with risk tiers, contracts and the latest assurance report review for "
             "critical vendors (including AWS)."),
]

A1 = [
    C("A1.1", "Capacity management", BC,
      "Current processing capacity and use are monitored and evaluated so capacity can be added "
      "before it limits availability commitments.",
      "Confirm scaling and capacity alarms exist and inspect capacity reviews.",
      auto="@capacity",
      manual="capacity planning review for the period."),
    C("A1.2", "Environmental protection, backup and recovery infrastructure", BC,
      "Environmental protections, backup processes and recovery infrastructure are designed, run "
      "and monitored to meet availability commitments.",
      "Confirm backup coverage, protected recovery points, multi-AZ deployments and replication.",
      auto="@backups @backup_protection @high_availability @replication",
      manual="backup and recovery architecture description with recovery objectives."),
    C("A1.3", "Recovery plan testing", BC,
      "Recovery procedures are tested periodically to confirm they support availability commitments.",
      "Inspect the recovery test report; restore jobs show restores were exercised.",
      auto="@restore_tests",
      manual="disaster recovery test report (scenario, results, RTO/RPO achieved, follow-ups)."),
]

C1 = [
    C("C1.1", "Confidential information identified and protected", DP,
      "Confidential information is identified, classified and protected according to confidentiality "
      "commitments, including encryption and access restriction.",
      "Confirm data discovery and classification tags, encryption at rest, and no public exposure of "
      "stores holding confidential data.",
      auto="@data_discovery @enc_storage @enc_databases @s3_public",
      manual="data classification policy and inventory of confidential data stores."),
    C("C1.2", "Confidential information disposed of", DP,
      "Confidential information is disposed of when retention ends, in line with commitments.",
      "Confirm lifecycle rules on stores of confidential data and inspect disposal records.",
      auto="@retention @data_deletion_events",
      manual="retention schedule and evidence of disposal at end of retention."),
]

PI1 = [
    C("PI1.1", "Processing specifications defined and communicated", GRC,
      "The entity defines and communicates what its processing should produce: data definitions, "
      "inputs, outputs and quality expectations.",
      "Inspect product or data specifications shared with users.",
      manual="data definitions and processing specifications for the in-scope services."),
    C("PI1.2", "Input completeness and accuracy", DEV,
      "Inputs are checked so that only complete, accurate and authorized data enters processing.",
      "Inspect input validation controls and error reports.",
      manual="description of input validation controls with sample error or rejection reports."),
    C("PI1.3", "Processing completeness and accuracy", DEV,
      "Processing is controlled so it is complete, accurate and timely, with errors detected and "
      "corrected.",
      "Inspect processing monitoring (job failures, reconciliations) and how errors were fixed.",
      auto="@alarm_actions",
      manual="processing monitoring and reconciliation records."),
    C("PI1.4", "Output completeness and accuracy", DEV,
      "Outputs are delivered completely, accurately and on time, only to intended recipients.",
      "Inspect output reconciliation and distribution controls.",
      manual="output review or reconciliation records."),
    C("PI1.5", "Stored data complete and accurate", DP,
      "Inputs, items in processing and outputs are stored completely and accurately, protected from "
      "unauthorized change, and kept as committed.",
      "Confirm versioning or point-in-time recovery on data stores and integrity checks.",
      auto="@data_integrity sh:DynamoDB.2 cfg:DYNAMODB_PITR_ENABLED @backups",
      manual="data storage integrity controls description."),
]

PRIVACY = [
    C("P1.1", "Privacy notice", PRIV,
      "Data subjects are given a notice of privacy practices: what is collected, why, how it is used, "
      "shared and kept, and their choices.",
      "Inspect the privacy notice, its version history and where it is shown at collection.",
      manual="current privacy notice with version history."),
    C("P2.1", "Choice and consent", PRIV,
      "Data subjects are told their choices about collection, use and disclosure, and consent is "
      "obtained and recorded where needed.",
      "Inspect consent capture and records for a sample of data subjects.",
      manual="consent mechanism description and sample consent records."),
    C("P3.1", "Collection limited to stated purposes", PRIV,
      "Personal information is collected only as needed for the purposes in the notice.",
      "Compare data collected by the system with the notice's stated purposes.",
      manual="personal data inventory mapping each field to its purpose."),
    C("P3.2", "Explicit consent where required", PRIV,
      "Explicit consent is obtained before collecting information that requires it, such as "
      "sensitive data.",
      "Sample records of sensitive data and find the explicit consent.",
      manual="explicit consent records for sensitive data categories."),
    C("P4.1", "Use limited to stated purposes", PRIV,
      "Personal information is used only for the purposes in the notice and consented to.",
      "Inspect use restrictions and sample new uses for privacy review.",
      manual="privacy review records for new uses of personal information."),
    C("P4.2", "Retention of personal information", PRIV,
      "Personal information is kept only as long as needed for its purposes and obligations.",
      "Confirm retention schedules are configured (lifecycle rules, log retention) and followed.",
      auto="@retention @log_retention",
      manual="retention schedule for personal information."),
    C("P4.3", "Disposal of personal information", PRIV,
      "Personal information is securely disposed of at the end of retention or on valid request.",
      "Inspect disposal records and deletion events.",
      auto="@data_deletion_events",
      manual="disposal records or deletion job logs for personal information."),
    C("P5.1", "Access by data subjects", PRIV,
      "Authenticated data subjects can see the personal information held about them.",
      "Sample access requests and confirm identity checks and complete, timely answers.",
      manual="data subject access request log with response dates."),
    C("P5.2", "Correction by data subjects", PRIV,
      "Data subjects can correct or add to their information, and corrections reach third parties "
      "where needed.",
      "Sample correction requests and their handling.",
      manual="correction request log and handling records."),
    C("P6.1", "Disclosure to third parties with consent", PRIV,
      "Personal information goes to third parties only for purposes in the notice and with consent "
      "where needed.",
      "Inspect the list of third-party disclosures and their legal basis.",
      manual="register of third parties receiving personal information and the basis for each."),
    C("P6.2", "Record of authorized disclosures", PRIV,
      "A complete, accurate and timely record is kept of authorized disclosures of personal "
      "information.",
      "Inspect the disclosure log.",
      manual="disclosure log for the period."),
    C("P6.3", "Record of unauthorized disclosures", PRIV,
      "Detected or reported unauthorized disclosures, including breaches, are recorded.",
      "Inspect the breach and incident register.",
      auto="@guardduty_findings",
      manual="register of unauthorized disclosures and breaches."),
    C("P6.4", "Privacy commitments from vendors", TP,
      "Vendors and others handling personal information commit to privacy and security requirements "
      "consistent with the entity's.",
      "Inspect data processing agreements for sampled vendors.",
      manual="data processing agreements for sampled vendors."),
    C("P6.5", "Vendor notification of unauthorized disclosures", TP,
      "Vendors are obliged to report unauthorized disclosures to the entity, and such reports are "
      "acted on.",
      "Check agreements for notification clauses and sample vendor notifications.",
      manual="contract clauses requiring vendor breach notification and any notifications received."),
    C("P6.6", "Breach notification", IR,
      "Affected data subjects, regulators and others are notified of breaches and incidents as "
      "commitments and laws require.",
      "Inspect breach notification procedure and notifications made in the period.",
      manual="breach notification procedure and notifications sent."),
    C("P6.7", "Accounting of personal information held", PRIV,
      "Data subjects can obtain an account of the personal information held and its disclosures.",
      "Sample requests and the accounts provided.",
      manual="procedure and sampled responses giving data subjects an account of their information."),
    C("P7.1", "Quality of personal information", PRIV,
      "Personal information is kept accurate, complete and relevant for its purposes.",
      "Inspect data quality controls over personal information.",
      manual="data quality procedures for personal information."),
    C("P8.1", "Privacy inquiries, complaints and compliance monitoring", PRIV,
      "Privacy inquiries, complaints and disputes are received, addressed and resolved, and privacy "
      "compliance is monitored with deficiencies corrected.",
      "Inspect the complaints log and the privacy compliance review.",
      manual="privacy complaints log with resolutions and the periodic privacy compliance review."),
]

CONTROL_SETS = [
    ("CC1 Control environment", CC1),
    ("CC2 Communication and information", CC2),
    ("CC3 Risk assessment", CC3),
    ("CC4 Monitoring activities", CC4),
    ("CC5 Control activities", CC5),
    ("CC6 Logical and physical access controls", CC6),
    ("CC7 System operations", CC7),
    ("CC8 Change management", CC8),
    ("CC9 Risk mitigation", CC9),
    ("A1 Availability", A1),
    ("C1 Confidentiality", C1),
    ("PI1 Processing integrity", PI1),
    ("P1-P8 Privacy", PRIVACY),
]
