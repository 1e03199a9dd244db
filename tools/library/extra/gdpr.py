"""GDPR (Regulation (EU) 2016/679): the articles bearing on security and accountability.

Article numbers and official article titles are those of the regulation as published in the
Official Journal of the European Union (L 119, 4.5.2016). Descriptions, tests and action plans
are ours. Article 5 is split into its principles and Article 32 into its listed measures,
because they are evidenced differently.
"""
from extra_common import BC, C, DEV, DP, GRC, IAM, IR, LOG, PRIV, TP  # noqa: F401

KEY_PREFIX = "GDPR/"
NAME_PREFIX = ""
PROVENANCE = (
    "Article numbers and titles of Regulation (EU) 2016/679 (General Data Protection Regulation), "
    "OJ L 119, 4.5.2016, p. 1, source EUR-Lex, (c) European Union, reuse authorised under "
    "Commission Decision 2011/833/EU. Paragraph labels of Articles 5 and 32 are ours. "
    "Descriptions, test procedures and action plans are written by Assay's authors; they are not "
    "the regulation text and not legal advice."
)
FRAMEWORK = {
    "key": "gdpr",
    "name": "GDPR (Regulation (EU) 2016/679)",
    "description": (
        "The GDPR articles that govern the security of processing and the accountability of "
        "controllers and processors: principles, lawful basis, data subject rights with technical "
        "impact, records, processors, security measures, breach notification, impact assessments, "
        "the data protection officer and international transfers. Article numbers and titles are "
        "the regulation's; guidance is Assay's. Evidence is mostly documentary, with AWS evidence "
        "for encryption, access control, logging, backup and resilience."
    ),
    "complianceType": "GDPR",
}

PRINCIPLES = [
    C("Art.5(1)(a)", "Principles: lawfulness, fairness and transparency", PRIV,
      "Personal data is processed lawfully, fairly and in a way that is transparent to the data "
      "subject.",
      "Inspect the records of processing for a lawful basis per activity and the privacy notices "
      "given to data subjects.",
      manual="privacy notices and the lawful basis recorded for each processing activity."),
    C("Art.5(1)(b)", "Principles: purpose limitation", PRIV,
      "Personal data is collected for specified, explicit and legitimate purposes and not further "
      "processed in a way incompatible with them.",
      "Compare purposes in the records of processing with actual uses; inspect compatibility "
      "assessments for new uses.",
      manual="purpose statements per processing activity and compatibility assessments for new uses."),
    C("Art.5(1)(c)", "Principles: data minimisation", PRIV,
      "Only personal data that is adequate, relevant and necessary for the purpose is processed.",
      "Inspect the data inventory for fields without a purpose; Macie findings show where personal "
      "data actually sits.",
      auto="@data_discovery",
      manual="personal data inventory mapping each data category to its purpose."),
    C("Art.5(1)(d)", "Principles: accuracy", PRIV,
      "Personal data is accurate and kept up to date; inaccurate data is erased or corrected "
      "without delay.",
      "Inspect data quality and rectification procedures and a sample of rectification requests.",
      manual="rectification procedure and sample of handled rectification requests."),
    C("Art.5(1)(e)", "Principles: storage limitation", PRIV,
      "Personal data is kept in identifiable form no longer than needed for its purposes.",
      "Compare the retention schedule with lifecycle rules and log retention on stores holding "
      "personal data.",
      auto="@retention @log_retention",
      manual="retention schedule per data category and evidence of deletion at end of retention."),
    C("Art.5(1)(f)", "Principles: integrity and confidentiality", DP,
      "Personal data is protected by appropriate technical and organisational measures against "
      "unauthorised or unlawful processing, accidental loss, destruction or damage.",
      "Confirm stores of personal data are encrypted and not public, and security findings are "
      "monitored; the measures themselves are evidenced in detail under Art.32(1)(a)-(d).",
      auto="@s3_public @enc_storage @securityhub",
      manual="information security policy applying to personal data."),
    C("Art.5(2)", "Principles: accountability", GRC,
      "The controller is responsible for, and able to demonstrate, compliance with the principles.",
      "Inspect the privacy compliance program: policies, records of processing, DPIAs, training and "
      "audits.",
      auto="@config_recorder @trail",
      manual="privacy compliance program documentation and the latest internal privacy audit."),
]

LAWFULNESS = [
    C("Art.6", "Lawfulness of processing", PRIV,
      "Each processing activity rests on one of the lawful bases: consent, contract, legal "
      "obligation, vital interests, public task or legitimate interests.",
      "Inspect the basis recorded per activity; for legitimate interests, inspect the balancing "
      "test.",
      manual="lawful basis per processing activity and legitimate interest assessments."),
    C("Art.7", "Conditions for consent", PRIV,
      "Where consent is the basis, the controller can show it was given freely, specifically, "
      "informed and unambiguously, and it can be withdrawn as easily as given.",
      "Sample consent records (who, when, what text) and test the withdrawal path.",
      manual="consent records for sampled data subjects and the consent withdrawal mechanism."),
]

RIGHTS = [
    C("Art.15", "Right of access by the data subject", PRIV,
      "Data subjects can obtain confirmation of processing, a copy of their data and information on "
      "purposes, recipients, retention and source.",
      "Sample access requests and check identity verification, completeness and the one-month "
      "deadline.",
      manual="data subject request log with request and response dates and sampled responses."),
    C("Art.17", "Right to erasure ('right to be forgotten')", PRIV,
      "Data subjects can have their data erased where the grounds apply, including in backups and "
      "replicas within a defined time.",
      "Sample erasure requests and trace deletion across stores; inspect how backups expire.",
      auto="@data_deletion_events @retention",
      manual="erasure procedure covering primary stores, replicas and backups, with sampled "
             "completed requests."),
]

OBLIGATIONS = [
    C("Art.24", "Responsibility of the controller", GRC,
      "The controller implements, reviews and updates appropriate technical and organisational "
      "measures, including data protection policies, to ensure and demonstrate compliance.",
      "Inspect data protection policies, their review dates and the measures they require; "
      "continuous configuration monitoring shows technical measures operating.",
      auto="@securityhub @config_recorder",
      manual="data protection policy set with review history."),
    C("Art.25", "Data protection by design and by default", DEV,
      "Data protection is built into systems from design, and by default only the personal data "
      "necessary for each purpose is processed and made accessible.",
      "Inspect privacy review records in the development process; confirm defaults such as "
      "encryption by default, Block Public Access and private data stores.",
      auto="sh:EC2.7 sh:S3.1 cfg:EC2_EBS_ENCRYPTION_BY_DEFAULT cfg:S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC "
           "@data_stores_private",
      manual="privacy by design procedure and privacy reviews of recent changes."),
    C("Art.28", "Processor", TP,
      "Controllers use only processors giving sufficient guarantees, under a contract with the "
      "mandatory terms; processors engage sub-processors only with authorisation.",
      "Inspect the processor register and data processing agreements for the mandatory terms "
      "(including the AWS DPA).",
      manual="processor and sub-processor register with signed data processing agreements."),
    C("Art.29", "Processing under the authority of the controller or processor", IAM,
      "People acting under the controller or processor process personal data only on instructions.",
      "Confirm access to personal data is role-based and limited; inspect confidentiality "
      "undertakings of staff.",
      auto="@admin_policies @group_permissions",
      manual="staff confidentiality undertakings and the role-based access matrix for personal data."),
    C("Art.30", "Records of processing activities", GRC,
      "The controller and processor keep written records of processing activities with the content "
      "the article lists, available to the supervisory authority.",
      "Inspect the records of processing for completeness against the systems inventory.",
      auto="api:resourcegroupstaggingapi_GetResources",
      manual="records of processing activities (controller and processor records)."),
]

SECURITY = [
    C("Art.32", "Security of processing", GRC,
      "Security measures are chosen for the risk to data subjects, taking into account the state of "
      "the art, costs and the nature and purposes of processing; staff with access act only on "
      "instructions. The measures listed in 32(1)(a)-(d) are below.",
      "Inspect the security risk assessment for personal data processing and the measures it "
      "selected; confirm continuous monitoring of technical measures.",
      auto="@securityhub @guardduty",
      manual="security risk assessment for personal data processing and the selected measures."),
    C("Art.32(1)(a)", "Security of processing: pseudonymisation and encryption", DP,
      "Personal data is pseudonymised and encrypted where appropriate, at rest and in transit.",
      "Confirm encryption at rest for stores holding personal data, TLS in transit, and key "
      "management; inspect pseudonymisation where used.",
      auto="@enc_storage @enc_databases @enc_other @enc_transit @kms_keys",
      manual="description of pseudonymisation techniques applied, where used."),
    C("Art.32(1)(b)", "Security of processing: confidentiality, integrity, availability and resilience", DP,
      "Systems and services that process personal data keep their confidentiality, integrity, "
      "availability and resilience on an ongoing basis.",
      "Confirm access controls, logging, integrity protections and multi-AZ resilience.",
      auto="@admin_policies @user_mfa @trail @data_integrity @high_availability",
      manual="architecture description showing resilience of systems processing personal data."),
    C("Art.32(1)(c)", "Security of processing: restoring availability after an incident", BC,
      "Availability of and access to personal data can be restored in a timely manner after a "
      "physical or technical incident.",
      "Confirm backups, protected recovery points and restore tests.",
      auto="@backups @backup_protection @restore_tests",
      manual="restore procedure and the latest restore test results."),
    C("Art.32(1)(d)", "Security of processing: regular testing and evaluation", GRC,
      "The effectiveness of the measures is tested, assessed and evaluated regularly.",
      "Inspect penetration test and audit reports; continuous evaluation comes from Security Hub and "
      "Config conformance packs.",
      auto="@securityhub api:config_DescribeConformancePacks @vuln_scanning",
      manual="penetration test and security audit reports for the period with remediation status."),
    C("Art.33", "Notification of a personal data breach to the supervisory authority", IR,
      "Breaches are notified to the supervisory authority without undue delay and within 72 hours "
      "where feasible, unless unlikely to result in risk; all breaches are documented.",
      "Inspect the breach register and notifications made, with timestamps from detection to "
      "notification; confirm detection sources are on.",
      auto="@guardduty @guardduty_findings @securityhub",
      manual="breach register (facts, effects, remedial action) and notifications sent with "
             "timelines."),
    C("Art.34", "Communication of a personal data breach to the data subject", IR,
      "When a breach is likely to result in high risk, affected data subjects are told without "
      "undue delay in clear language.",
      "Inspect the communication decision for each breach and the communications sent.",
      manual="breach communication decisions and communications sent to data subjects."),
]

DPIA = [
    C("Art.35", "Data protection impact assessment", PRIV,
      "Processing likely to result in high risk is assessed before it starts: description, "
      "necessity, risks and measures.",
      "Inspect the DPIA screening for new processing and completed DPIAs.",
      manual="DPIA screening records and completed DPIAs."),
    C("Art.36", "Prior consultation", PRIV,
      "Where a DPIA shows high residual risk, the supervisory authority is consulted before "
      "processing.",
      "Inspect consultations made, or confirm none were required.",
      manual="prior consultation records, or a statement that no DPIA left high residual risk."),
]

DPO = [
    C("Art.37", "Designation of the data protection officer", GRC,
      "A data protection officer is designated where required, and their contact details are "
      "published and given to the supervisory authority.",
      "Inspect the designation and the published contact details, or the assessment that no DPO is "
      "required.",
      manual="DPO designation, published contact details and notification to the authority."),
    C("Art.38", "Position of the data protection officer", GRC,
      "The DPO is involved in all data protection issues, resourced, independent and reports to the "
      "highest management level.",
      "Inspect the DPO's reporting line, resources and evidence of involvement.",
      manual="DPO role description, reporting line and records of involvement."),
    C("Art.39", "Tasks of the data protection officer", GRC,
      "The DPO informs and advises, monitors compliance, advises on DPIAs and cooperates with the "
      "supervisory authority.",
      "Inspect the DPO's activity reports.",
      manual="DPO annual or periodic activity report."),
]

TRANSFERS = [
    C("Art.44", "General principle for transfers", PRIV,
      "Personal data goes to third countries or international organisations only under the "
      "conditions of Chapter V.",
      "Compare the Regions and services holding personal data with approved locations; inspect the "
      "transfer register.",
      auto="api:ec2_DescribeRegions api:organizations_DescribeOrganization",
      manual="transfer register: data, destination country, recipient and transfer mechanism."),
    C("Art.45", "Transfers on the basis of an adequacy decision", PRIV,
      "Transfers to countries with an adequacy decision are identified and rely on a current "
      "decision.",
      "Check each adequacy-based transfer against the current list of adequacy decisions.",
      manual="list of adequacy-based transfers with the decision relied on."),
    C("Art.46", "Transfers subject to appropriate safeguards", PRIV,
      "Other transfers rely on appropriate safeguards, such as standard contractual clauses, with "
      "transfer impact assessments.",
      "Inspect signed standard contractual clauses and transfer impact assessments.",
      manual="standard contractual clauses and transfer impact assessments."),
]

CONTROL_SETS = [
    ("Chapter II Principles", PRINCIPLES + LAWFULNESS),
    ("Chapter III Rights of the data subject", RIGHTS),
    ("Chapter IV Section 1 General obligations", OBLIGATIONS),
    ("Chapter IV Section 2 Security of personal data", SECURITY),
    ("Chapter IV Section 3 Data protection impact assessment and prior consultation", DPIA),
    ("Chapter IV Section 4 Data protection officer", DPO),
    ("Chapter V Transfers of personal data to third countries or international organisations", TRANSFERS),
]
