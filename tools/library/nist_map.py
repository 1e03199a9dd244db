"""The evidence map: which AWS data sources evidence each NIST SP 800-53 Rev. 5 control.

    sources_for("AC-2")            -> API-shaped ControlMappingSource dicts (no sourceId)
    automated_sources_for("AC-2")  -> only the automated ones (may be empty)
    merged_sources(["AC-2", "IA-2"]) -> automated sources of several controls, de-duplicated

Used by the NIST and FedRAMP builders and by the builders of frameworks that map their
requirements to NIST controls, so the same requirement has the same sources everywhere.

Where the sources come from, in order of preference (at most MAX_AUTOMATED per control):
1. EVIDENCE: our hand-written mapping of controls to AWS API call snapshots and CloudTrail
   events. An enhancement gets only what is listed for it: it never silently inherits the
   base control's sources, because e.g. listing IAM users evidences AC-2 but not AC-2(5).
   Strength `supports` (no verdict).
2. The NIST 800-53 r5 mapping of the Security Hub table (active controls only): each Security
   Hub control plus the Config rule behind it, chosen round-robin across services, most severe
   first. Strength `tests`: AWS states the check evidences the control.
3. EXTRA_HUB / EXTRA_CONFIG: Security Hub controls and Config rules we judged relevant where
   the fact table gives no NIST mapping. Strength `supports`.
4. PACK_RULES: the rules of AWS's NIST 800-53 rev 5 conformance pack that no Security Hub
   control covers, assigned to controls by us. Strength `supports`.
Controls with none of these get one MANUAL source saying what to upload.
"""
from __future__ import annotations

import copy
import functools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_facts  # noqa: E402
import oscal  # noqa: E402

MAX_AUTOMATED = 10

# ------------------------------------------------------------------ API call snapshots
API_PURPOSE: dict[str, str] = {
    "iam_GetCredentialReport": "every IAM user and the root user with password and access key status, last use and MFA state.",
    "iam_ListUsers": "the IAM users that exist, when each was created and when its password was last used.",
    "iam_ListRoles": "the IAM roles with their trust policies and maximum session duration.",
    "iam_ListGroups": "the IAM groups used to hand out permissions.",
    "iam_GetAccountAuthorizationDetails": "users, groups, roles and policies with the permissions attached to each, in one document.",
    "iam_GetAccountPasswordPolicy": "the password rules IAM users must follow: length, character classes, reuse and expiry.",
    "iam_GetAccountSummary": "account-wide IAM figures, including whether the root user has MFA and access keys.",
    "iam_ListVirtualMFADevices": "the virtual MFA devices and the users they belong to.",
    "iam_ListSAMLProviders": "the SAML identity providers the account trusts for federated sign-in.",
    "iam_ListOpenIDConnectProviders": "the OpenID Connect identity providers the account trusts.",
    "sso-admin_ListInstances": "the IAM Identity Center instance that manages workforce access centrally, if there is one.",
    "organizations_ListAccounts": "the member accounts of the organization (answered by the management account).",
    "accessanalyzer_ListAnalyzers": "the IAM Access Analyzer analyzers that flag access granted outside the zone of trust.",
    "cloudtrail_DescribeTrails": "the trails, whether they cover all Regions or the whole organization, where they deliver, and their encryption and log file validation settings.",
    "cloudtrail_ListEventDataStores": "the CloudTrail Lake event data stores that keep events searchable.",
    "logs_DescribeLogGroups": "the CloudWatch Logs log groups with retention period, stored bytes and KMS key.",
    "logs_DescribeMetricFilters": "the metric filters that turn log events into metrics that can raise alarms.",
    "cloudwatch_DescribeAlarms": "the CloudWatch alarms, what each watches and whom it notifies.",
    "config_DescribeConfigurationRecorders": "what AWS Config records: all resource types or a chosen list.",
    "config_DescribeConfigurationRecorderStatus": "whether the AWS Config recorder is running and when it last recorded.",
    "config_DescribeDeliveryChannels": "where AWS Config delivers configuration history and snapshots.",
    "config_DescribeConfigRules": "the AWS Config rules deployed, with their parameters.",
    "config_DescribeComplianceByConfigRule": "the compliance state of each AWS Config rule.",
    "config_DescribeConformancePacks": "the AWS Config conformance packs deployed.",
    "config_DescribeConfigurationAggregators": "the AWS Config aggregators that gather configuration data across accounts and Regions.",
    "config_GetDiscoveredResourceCounts": "how many resources of each type AWS Config has found.",
    "config_DescribeConfigRuleEvaluationStatus": "whether each AWS Config rule is evaluating without errors.",
    "securityhub_DescribeHub": "whether Security Hub is enabled, and since when.",
    "securityhub_GetEnabledStandards": "the Security Hub standards that are switched on and their status.",
    "securityhub_ListFindingAggregators": "whether Security Hub findings are gathered into one Region.",
    "guardduty_ListDetectors": "the GuardDuty detectors; an empty list means threat detection is off in that Region.",
    "inspector2_ListCoverage": "the resources Amazon Inspector scans for vulnerabilities and their scan status.",
    "ecr_GetRegistryScanningConfiguration": "how images pushed to the ECR registry are scanned.",
    "ssm_ListComplianceSummaries": "patch and association compliance counts across managed nodes.",
    "ssm_DescribePatchBaselines": "the patch baselines that define which patches are approved.",
    "ssm_DescribeInstanceInformation": "the managed nodes Systems Manager can reach, with agent and platform versions.",
    "ssm_ListAssociations": "the State Manager associations that keep nodes in their intended configuration.",
    "ssm_DescribeMaintenanceWindows": "the Systems Manager maintenance windows and their schedules.",
    "ec2_DescribeSecurityGroups": "the security groups with their inbound and outbound rules.",
    "ec2_DescribeNetworkAcls": "the network ACLs with their rules and subnet associations.",
    "ec2_DescribeRouteTables": "the route tables and where each route sends traffic.",
    "ec2_DescribeInternetGateways": "the internet gateways and the VPCs they are attached to.",
    "ec2_DescribeNatGateways": "the NAT gateways that give private subnets outbound access.",
    "ec2_DescribeVpcEndpoints": "the VPC endpoints that keep traffic to AWS services off the internet.",
    "ec2_DescribeVpcPeeringConnections": "the peering connections to other VPCs and accounts.",
    "ec2_DescribeTransitGatewayAttachments": "the transit gateway attachments that join VPCs and other networks.",
    "ec2_DescribeVpnConnections": "the site-to-site VPN connections and the state of their tunnels.",
    "ec2_DescribeClientVpnEndpoints": "the Client VPN endpoints used for remote access, with their split-tunnel and session timeout settings.",
    "ec2_DescribeFlowLogs": "the VPC flow logs and where they deliver.",
    "ec2_DescribeInstances": "the EC2 instances with their image, network placement and tags.",
    "ec2_GetEbsEncryptionByDefault": "whether new EBS volumes are encrypted by default in the Region.",
    "directconnect_DescribeConnections": "the Direct Connect links to external networks.",
    "network-firewall_ListFirewalls": "the AWS Network Firewall firewalls deployed.",
    "kms_ListKeys": "the KMS keys in the account and Region.",
    "kms_ListAliases": "the KMS key aliases, which show what each key is used for.",
    "acm_ListCertificates": "the ACM certificates with their status and expiry dates.",
    "acm-pca_ListCertificateAuthorities": "the private certificate authorities and their status.",
    "secretsmanager_ListSecrets": "the secrets held in Secrets Manager and their rotation settings (never the values).",
    "backup_ListBackupPlans": "the AWS Backup plans.",
    "backup_ListBackupVaults": "the backup vaults with their encryption keys and number of recovery points.",
    "backup_ListProtectedResources": "the resources that have at least one backup.",
    "backup_ListBackupJobs": "recent backup jobs and whether they completed.",
    "backup_ListRestoreJobs": "recent restore jobs, which show that backups have been tested.",
    "autoscaling_DescribeAutoScalingGroups": "the Auto Scaling groups with their Availability Zones and capacity.",
    "s3_ListBuckets": "the S3 buckets and when they were created.",
    "rds_DescribeDBInstances": "the RDS DB instances with their encryption, backup and network settings.",
    "dynamodb_ListTables": "the DynamoDB tables.",
    "macie2_ListClassificationJobs": "the Amazon Macie jobs that search S3 for sensitive data.",
    "resourcegroupstaggingapi_GetResources": "tagged resources with their tags, such as owner and purpose.",
    "license-manager_ListLicenseConfigurations": "the License Manager configurations that track software licence use.",
    "events_ListRules": "the EventBridge rules that route events, such as findings, to automated responses.",
    "sns_ListTopics": "the SNS topics used to send notifications.",
    "ssm-incidents_ListResponsePlans": "the Incident Manager response plans.",
    "ssm-incidents_ListIncidentRecords": "the incidents tracked in Incident Manager.",
    "health_DescribeEvents": "AWS Health events: service issues, scheduled changes and security notifications.",
    "shield_GetSubscriptionState": "whether AWS Shield Advanced protection is subscribed.",
    "cloudfront_ListDistributions": "the CloudFront distributions with their TLS and WAF settings.",
    "route53_ListHostedZones": "the Route 53 hosted zones the organization serves DNS from.",
    "route53resolver_ListResolverDnssecConfigs": "whether DNSSEC validation is on for DNS resolution in each VPC.",
    "lambda_ListCodeSigningConfigs": "the Lambda code signing configurations that admit only signed code.",
    "signer_ListSigningProfiles": "the AWS Signer code signing profiles.",
}

# ------------------------------------------------------------------ CloudTrail events
TRAIL_PURPOSE: dict[str, str] = {
    "iam_CreateUser": "IAM users being created.",
    "iam_DeleteUser": "IAM users being removed.",
    "iam_UpdateUser": "IAM users being renamed or moved to another path.",
    "iam_CreateRole": "IAM roles being created.",
    "iam_CreateLoginProfile": "IAM users being given a console password.",
    "iam_DeleteLoginProfile": "console access being taken away from IAM users.",
    "iam_UpdateAccessKey": "access keys being switched on or off.",
    "iam_CreateAccessKey": "new access keys being issued.",
    "iam_AttachUserPolicy": "managed policies being attached directly to users.",
    "iam_AttachRolePolicy": "managed policies being attached to roles.",
    "iam_PutUserPolicy": "inline policies being written on users.",
    "iam_PutRolePolicy": "inline policies being written on roles.",
    "iam_CreatePolicyVersion": "customer-managed policies being changed.",
    "iam_UpdateAccountPasswordPolicy": "the account password policy being changed.",
    "iam_DeleteAccountPasswordPolicy": "the account password policy being removed.",
    "iam_DeactivateMFADevice": "MFA being switched off for a user.",
    "signin_ConsoleLogin": "console sign-ins, successful and failed, with whether MFA was used.",
    "signin_SwitchRole": "console users switching into another role.",
    "sso_Authenticate": "sign-ins to the IAM Identity Center access portal.",
    "sts_AssumeRole": "roles being assumed: by whom, from where and for how long.",
    "sts_AssumeRoleWithSAML": "federated users signing in through a SAML identity provider.",
    "sts_AssumeRoleWithWebIdentity": "federated users or workloads signing in through an OpenID Connect provider.",
    "ssm_StartSession": "Session Manager sessions being opened on managed nodes.",
    "ssm_TerminateSession": "Session Manager sessions being closed.",
    "ssm_SendCommand": "commands being run on managed nodes through Run Command.",
    "ec2-instance-connect_SendSSHPublicKey": "temporary SSH keys being pushed to instances through EC2 Instance Connect.",
    "cloudtrail_StopLogging": "a trail being stopped.",
    "cloudtrail_DeleteTrail": "a trail being deleted.",
    "cloudtrail_UpdateTrail": "trail settings being changed.",
    "cloudtrail_PutEventSelectors": "changes to which events a trail records.",
    "logs_DeleteLogGroup": "log groups being deleted.",
    "logs_PutRetentionPolicy": "log retention periods being changed.",
    "logs_DeleteRetentionPolicy": "log retention limits being removed.",
    "s3_PutBucketPolicy": "bucket policies being changed, the usual way data is shared with other accounts or the public.",
    "s3_PutBucketAcl": "bucket ACLs being changed.",
    "s3_PutPublicAccessBlock": "bucket Block Public Access settings being changed.",
    "s3_PutBucketEncryption": "bucket default encryption being set or changed.",
    "s3_DeleteBucketEncryption": "default encryption being removed from a bucket.",
    "config_StopConfigurationRecorder": "AWS Config recording being stopped.",
    "cloudformation_UpdateStack": "CloudFormation stacks being changed.",
    "cloudformation_ExecuteChangeSet": "reviewed change sets being applied to stacks.",
    "cloudformation_SetStackPolicy": "stack policies that guard resources from updates being changed.",
    "ec2_AuthorizeSecurityGroupIngress": "inbound rules being added to security groups.",
    "ec2_CreateRoute": "routes being added to route tables.",
    "ec2_AttachInternetGateway": "internet gateways being attached to VPCs.",
    "ec2_RunInstances": "instances being launched.",
    "ec2_TerminateInstances": "instances being terminated.",
    "ec2_ModifyInstanceAttribute": "instance settings being changed.",
    "ec2_DisableEbsEncryptionByDefault": "EBS encryption by default being switched off.",
    "kms_ScheduleKeyDeletion": "KMS keys being scheduled for deletion.",
    "kms_DisableKey": "KMS keys being disabled.",
    "kms_DisableKeyRotation": "automatic key rotation being switched off.",
    "guardduty_DeleteDetector": "GuardDuty being switched off.",
    "guardduty_UpdateDetector": "GuardDuty settings being changed.",
    "guardduty_ArchiveFindings": "GuardDuty findings being archived.",
    "securityhub_DisableSecurityHub": "Security Hub being switched off.",
    "securityhub_BatchUpdateFindings": "findings being triaged: workflow status, notes and severity changes.",
    "backup_DeleteBackupPlan": "backup plans being deleted.",
    "backup_DeleteRecoveryPoint": "backups being deleted.",
}

# control -> (API call keywords, CloudTrail keywords). Our judgement; see the module docstring.
EVIDENCE: dict[str, tuple[list[str], list[str]]] = {
    # Access control
    "AC-2": (["iam_GetCredentialReport", "iam_ListUsers", "iam_ListRoles"],
             ["iam_CreateUser", "iam_DeleteUser", "iam_CreateLoginProfile"]),
    "AC-2(1)": (["sso-admin_ListInstances", "iam_ListSAMLProviders", "iam_ListOpenIDConnectProviders"], []),
    "AC-2(2)": (["iam_GetCredentialReport"], ["iam_DeleteUser", "iam_DeleteLoginProfile"]),
    "AC-2(3)": (["iam_GetCredentialReport"], ["iam_UpdateAccessKey", "iam_DeleteLoginProfile"]),
    "AC-2(4)": (["cloudtrail_DescribeTrails"], ["iam_CreateUser", "iam_UpdateUser", "iam_DeleteUser"]),
    "AC-2(7)": (["iam_GetAccountAuthorizationDetails", "iam_ListRoles"], ["iam_AttachRolePolicy"]),
    "AC-2(12)": (["guardduty_ListDetectors"], ["signin_ConsoleLogin"]),
    "AC-2(13)": ([], ["iam_DeleteLoginProfile", "iam_UpdateAccessKey"]),
    "AC-3": (["iam_GetAccountAuthorizationDetails", "accessanalyzer_ListAnalyzers"],
             ["iam_PutRolePolicy", "iam_AttachRolePolicy", "iam_CreatePolicyVersion"]),
    "AC-3(7)": (["iam_ListRoles", "iam_ListGroups"], []),
    "AC-4": (["ec2_DescribeSecurityGroups", "ec2_DescribeRouteTables", "ec2_DescribeVpcEndpoints"], []),
    "AC-5": (["iam_GetAccountAuthorizationDetails", "organizations_ListAccounts"], []),
    "AC-6": (["iam_GetAccountAuthorizationDetails", "accessanalyzer_ListAnalyzers"],
             ["iam_AttachUserPolicy", "iam_AttachRolePolicy", "iam_PutUserPolicy"]),
    "AC-6(1)": (["iam_GetAccountAuthorizationDetails"], []),
    "AC-6(2)": ([], ["signin_SwitchRole", "sts_AssumeRole"]),
    "AC-6(5)": (["iam_GetAccountSummary", "iam_GetCredentialReport"], []),
    "AC-6(7)": (["iam_GetCredentialReport", "accessanalyzer_ListAnalyzers"], []),
    "AC-6(9)": (["cloudtrail_DescribeTrails"], ["sts_AssumeRole", "signin_SwitchRole"]),
    "AC-6(10)": (["iam_GetAccountAuthorizationDetails"], []),
    "AC-7": ([], ["signin_ConsoleLogin", "sso_Authenticate"]),
    "AC-12": (["iam_ListRoles"], []),
    "AC-14": ([], ["s3_PutBucketPolicy", "s3_PutBucketAcl"]),
    "AC-17": (["ssm_DescribeInstanceInformation", "ec2_DescribeClientVpnEndpoints"],
              ["signin_ConsoleLogin", "ssm_StartSession", "ec2-instance-connect_SendSSHPublicKey"]),
    "AC-17(1)": (["cloudtrail_DescribeTrails"], ["ssm_StartSession", "ssm_TerminateSession"]),
    "AC-17(3)": (["ec2_DescribeClientVpnEndpoints", "ec2_DescribeVpnConnections"], []),
    "AC-17(4)": ([], ["ssm_StartSession", "ssm_SendCommand"]),
    "AC-21": ([], ["s3_PutBucketPolicy"]),
    "AC-22": ([], ["s3_PutBucketPolicy", "s3_PutBucketAcl", "s3_PutPublicAccessBlock"]),
    # Audit and accountability
    "AU-2": (["cloudtrail_DescribeTrails"], ["cloudtrail_StopLogging", "cloudtrail_PutEventSelectors"]),
    "AU-3": (["cloudtrail_DescribeTrails"], []),
    "AU-3(1)": (["cloudtrail_DescribeTrails", "ec2_DescribeFlowLogs"], []),
    "AU-4": (["logs_DescribeLogGroups"], []),
    "AU-5": (["cloudwatch_DescribeAlarms"], ["cloudtrail_StopLogging", "cloudtrail_DeleteTrail"]),
    "AU-5(2)": (["cloudwatch_DescribeAlarms"], []),
    "AU-6": (["securityhub_DescribeHub", "cloudwatch_DescribeAlarms", "logs_DescribeMetricFilters"],
             ["securityhub_BatchUpdateFindings"]),
    "AU-6(1)": (["events_ListRules", "securityhub_DescribeHub"], []),
    "AU-6(3)": (["securityhub_ListFindingAggregators", "config_DescribeConfigurationAggregators"], []),
    "AU-6(4)": (["securityhub_ListFindingAggregators", "cloudtrail_DescribeTrails"], []),
    "AU-6(5)": (["guardduty_ListDetectors"], []),
    "AU-7": (["cloudtrail_ListEventDataStores", "logs_DescribeLogGroups"], []),
    "AU-7(1)": (["cloudtrail_ListEventDataStores"], []),
    "AU-9": (["cloudtrail_DescribeTrails"], ["cloudtrail_DeleteTrail", "cloudtrail_StopLogging", "logs_DeleteLogGroup"]),
    "AU-9(2)": (["cloudtrail_DescribeTrails"], []),
    "AU-9(3)": (["cloudtrail_DescribeTrails"], []),
    "AU-9(4)": (["iam_GetAccountAuthorizationDetails"], []),
    "AU-10": (["cloudtrail_DescribeTrails"], []),
    "AU-11": (["logs_DescribeLogGroups"], ["logs_PutRetentionPolicy", "logs_DeleteRetentionPolicy"]),
    "AU-12": (["cloudtrail_DescribeTrails", "config_DescribeConfigurationRecorderStatus", "ec2_DescribeFlowLogs"],
              ["cloudtrail_StopLogging"]),
    "AU-12(1)": (["cloudtrail_DescribeTrails"], []),
    "AU-12(3)": ([], ["cloudtrail_UpdateTrail", "cloudtrail_PutEventSelectors"]),
    # Assessment, authorization and monitoring
    "CA-2": (["securityhub_GetEnabledStandards", "config_DescribeConformancePacks"], []),
    "CA-7": (["securityhub_GetEnabledStandards", "config_DescribeConfigurationRecorderStatus", "guardduty_ListDetectors"],
             ["securityhub_DisableSecurityHub", "config_StopConfigurationRecorder", "guardduty_DeleteDetector"]),
    "CA-7(4)": (["securityhub_GetEnabledStandards", "config_DescribeComplianceByConfigRule"], []),
    "CA-9": (["ec2_DescribeVpcPeeringConnections", "ec2_DescribeTransitGatewayAttachments", "ec2_DescribeVpcEndpoints"], []),
    # Configuration management
    "CM-2": (["config_DescribeConfigurationRecorders", "ssm_DescribePatchBaselines"], []),
    "CM-2(2)": (["config_DescribeConformancePacks", "ssm_ListAssociations"], []),
    "CM-2(3)": (["config_DescribeDeliveryChannels"], []),
    "CM-3": (["config_DescribeConfigurationRecorderStatus"],
             ["cloudformation_ExecuteChangeSet", "cloudformation_UpdateStack", "config_StopConfigurationRecorder"]),
    "CM-5": (["iam_GetAccountAuthorizationDetails"], ["cloudformation_SetStackPolicy"]),
    "CM-5(1)": (["cloudtrail_DescribeTrails"], ["cloudformation_UpdateStack", "ec2_ModifyInstanceAttribute"]),
    "CM-6": (["config_DescribeConfigRules", "config_DescribeComplianceByConfigRule"], []),
    "CM-6(1)": (["config_DescribeConformancePacks", "ssm_ListAssociations"], []),
    "CM-7": (["ec2_DescribeSecurityGroups"], ["ec2_AuthorizeSecurityGroupIngress"]),
    "CM-7(1)": (["ec2_DescribeSecurityGroups"], []),
    "CM-8": (["config_GetDiscoveredResourceCounts", "ec2_DescribeInstances", "resourcegroupstaggingapi_GetResources"], []),
    "CM-8(1)": (["config_DescribeConfigurationRecorderStatus"], ["ec2_RunInstances", "ec2_TerminateInstances"]),
    "CM-8(2)": (["config_DescribeConfigurationRecorders", "ssm_DescribeInstanceInformation"], []),
    "CM-8(3)": (["ssm_DescribeInstanceInformation", "guardduty_ListDetectors"], []),
    "CM-8(4)": (["resourcegroupstaggingapi_GetResources"], []),
    "CM-10": (["license-manager_ListLicenseConfigurations"], []),
    "CM-12": (["s3_ListBuckets", "rds_DescribeDBInstances", "dynamodb_ListTables"], []),
    "CM-12(1)": (["macie2_ListClassificationJobs"], []),
    # Contingency planning
    "CP-6": (["backup_ListBackupVaults"], []),
    "CP-7": (["autoscaling_DescribeAutoScalingGroups"], []),
    "CP-9": (["backup_ListBackupPlans", "backup_ListProtectedResources", "backup_ListBackupJobs"],
             ["backup_DeleteBackupPlan", "backup_DeleteRecoveryPoint"]),
    "CP-9(1)": (["backup_ListRestoreJobs"], []),
    "CP-9(8)": (["backup_ListBackupVaults"], []),
    "CP-10": (["backup_ListRestoreJobs", "backup_ListProtectedResources"], []),
    "CP-8": (["ec2_DescribeVpnConnections", "directconnect_DescribeConnections"], []),
    "CP-8(2)": (["ec2_DescribeVpnConnections", "directconnect_DescribeConnections"], []),
    # Identification and authentication
    "IA-2": (["iam_GetCredentialReport", "sso-admin_ListInstances"], ["signin_ConsoleLogin", "sso_Authenticate"]),
    "IA-2(1)": (["iam_GetAccountSummary", "iam_GetCredentialReport", "iam_ListVirtualMFADevices"], ["iam_DeactivateMFADevice"]),
    "IA-2(2)": (["iam_GetCredentialReport", "iam_ListVirtualMFADevices"], ["iam_DeactivateMFADevice"]),
    "IA-4": (["iam_ListUsers"], ["iam_CreateUser", "iam_DeleteUser"]),
    "IA-5": (["iam_GetCredentialReport", "iam_GetAccountPasswordPolicy"], ["iam_CreateAccessKey", "iam_UpdateAccountPasswordPolicy"]),
    "IA-5(1)": (["iam_GetAccountPasswordPolicy"], ["iam_UpdateAccountPasswordPolicy", "iam_DeleteAccountPasswordPolicy"]),
    "IA-5(2)": (["acm_ListCertificates", "acm-pca_ListCertificateAuthorities"], []),
    "IA-5(6)": (["secretsmanager_ListSecrets"], []),
    "IA-5(7)": (["secretsmanager_ListSecrets"], []),
    "IA-8": (["iam_ListSAMLProviders", "iam_ListOpenIDConnectProviders"],
             ["sts_AssumeRoleWithSAML", "sts_AssumeRoleWithWebIdentity"]),
    "IA-8(2)": (["iam_ListSAMLProviders", "iam_ListOpenIDConnectProviders"], []),
    "IA-11": (["iam_ListRoles"], []),
    # Incident response
    "IR-4": (["ssm-incidents_ListResponsePlans", "guardduty_ListDetectors"], ["securityhub_BatchUpdateFindings"]),
    "IR-4(1)": (["events_ListRules", "ssm-incidents_ListResponsePlans"], []),
    "IR-5": (["guardduty_ListDetectors", "securityhub_DescribeHub"], ["securityhub_BatchUpdateFindings", "guardduty_ArchiveFindings"]),
    "IR-5(1)": (["ssm-incidents_ListIncidentRecords"], []),
    "IR-6(1)": (["events_ListRules", "sns_ListTopics"], []),
    # Maintenance
    "MA-2": (["ssm_DescribeMaintenanceWindows"], []),
    "MA-4": (["ssm_DescribeInstanceInformation"], ["ssm_StartSession", "ssm_SendCommand"]),
    # Risk assessment
    "RA-5": (["inspector2_ListCoverage", "ecr_GetRegistryScanningConfiguration", "ssm_ListComplianceSummaries"], []),
    "RA-5(2)": (["inspector2_ListCoverage"], []),
    # System and communications protection
    "SC-5": (["shield_GetSubscriptionState", "cloudfront_ListDistributions"], []),
    "SC-7": (["ec2_DescribeSecurityGroups", "ec2_DescribeNetworkAcls", "ec2_DescribeRouteTables"],
             ["ec2_AuthorizeSecurityGroupIngress", "ec2_CreateRoute", "ec2_AttachInternetGateway"]),
    "SC-7(3)": (["ec2_DescribeInternetGateways", "ec2_DescribeNatGateways"], []),
    "SC-7(4)": (["ec2_DescribeVpnConnections", "directconnect_DescribeConnections"], []),
    "SC-7(5)": (["ec2_DescribeSecurityGroups", "ec2_DescribeNetworkAcls"], []),
    "SC-7(7)": (["ec2_DescribeClientVpnEndpoints"], []),
    "SC-7(8)": (["network-firewall_ListFirewalls"], []),
    "SC-10": (["ec2_DescribeClientVpnEndpoints"], ["ssm_TerminateSession"]),
    "SC-8": (["acm_ListCertificates", "cloudfront_ListDistributions"], []),
    "SC-12": (["kms_ListKeys", "kms_ListAliases"], ["kms_ScheduleKeyDeletion", "kms_DisableKey", "kms_DisableKeyRotation"]),
    "SC-13": (["kms_ListKeys"], []),
    "SC-17": (["acm_ListCertificates", "acm-pca_ListCertificateAuthorities"], []),
    "SC-20": (["route53_ListHostedZones"], []),
    "SC-21": (["route53resolver_ListResolverDnssecConfigs"], []),
    "SC-22": (["route53_ListHostedZones"], []),
    "SC-28": (["ec2_GetEbsEncryptionByDefault", "kms_ListKeys"], ["ec2_DisableEbsEncryptionByDefault", "s3_DeleteBucketEncryption"]),
    "SC-28(1)": (["ec2_GetEbsEncryptionByDefault"], ["s3_PutBucketEncryption", "s3_DeleteBucketEncryption"]),
    # System and information integrity
    "SI-2": (["ssm_ListComplianceSummaries", "ssm_DescribePatchBaselines", "inspector2_ListCoverage"], []),
    "SI-2(2)": (["ssm_ListComplianceSummaries"], []),
    "SI-3": (["guardduty_ListDetectors", "inspector2_ListCoverage"], ["guardduty_DeleteDetector"]),
    "SI-4": (["guardduty_ListDetectors", "securityhub_DescribeHub", "cloudwatch_DescribeAlarms"],
             ["guardduty_DeleteDetector", "guardduty_UpdateDetector", "securityhub_DisableSecurityHub"]),
    "SI-4(2)": (["guardduty_ListDetectors", "events_ListRules"], []),
    "SI-4(4)": (["ec2_DescribeFlowLogs", "guardduty_ListDetectors"], []),
    "SI-4(5)": (["cloudwatch_DescribeAlarms", "sns_ListTopics"], []),
    "SI-5": (["health_DescribeEvents"], []),
    "SI-6": (["securityhub_GetEnabledStandards", "config_DescribeConfigRuleEvaluationStatus"], []),
    "SI-7": (["lambda_ListCodeSigningConfigs", "signer_ListSigningProfiles"], []),
}

# Security Hub controls that the fact table does not map to NIST but that evidence these.
EXTRA_HUB: dict[str, list[str]] = {
    "AC-2(3)": ["IAM.22"],
    "AC-2(4)": ["CloudWatch.4"],
    "AC-6(5)": ["IAM.4", "IAM.9"],
    "AC-6(9)": ["CloudWatch.1"],
    "AC-7": ["CloudWatch.6"],
    "AU-2": ["CloudTrail.3"],
    "AU-5": ["CloudWatch.5"],
    "AU-5(2)": ["CloudWatch.5"],
    "AU-9": ["CloudTrail.6", "CloudTrail.7"],
    "AU-9(3)": ["CloudTrail.4"],
    "AU-12": ["CloudTrail.3"],
    "CA-7": ["Config.1"],
    "CM-3": ["CloudWatch.9"],
    "CP-8(2)": ["EC2.20"],
    "CP-9(5)": ["S3.7"],
    "CP-10(2)": ["DynamoDB.2", "RDS.11", "RDS.14"],
    "CM-7": ["EC2.14"],
    "IA-2(1)": ["IAM.9", "CloudWatch.3"],
    "IA-5(1)": ["IAM.7", "IAM.15", "IAM.16", "IAM.17"],
    "IR-7": ["IAM.18"],
    "RA-5": ["ECR.1", "SSM.2"],
    "SA-22": ["EKS.2", "Lambda.2"],
    "SC-12": ["CloudWatch.7"],
    "SI-3": ["GuardDuty.1"],
    "SI-10": ["ELB.4", "APIGateway.4", "CloudFront.6"],
    "SI-4(5)": ["CloudWatch.2"],
}

# AWS Config managed rules we judged relevant beyond the tables.
EXTRA_CONFIG: dict[str, list[str]] = {
    "AC-14": ["S3_BUCKET_PUBLIC_READ_PROHIBITED", "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED"],
    "AC-22": ["S3_BUCKET_PUBLIC_READ_PROHIBITED", "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
              "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC"],
    "AU-11": ["CW_LOGGROUP_RETENTION_PERIOD_CHECK"],
    "CM-8(4)": ["REQUIRED_TAGS"],
    "CP-9(5)": ["S3_BUCKET_REPLICATION_ENABLED"],
    "SI-10": ["ALB_WAF_ENABLED", "API_GW_ASSOCIATED_WITH_WAF"],
}

# Rules of the NIST 800-53 rev 5 conformance pack that no Security Hub control covers, with
# the controls we assign them to.
PACK_RULES: dict[str, list[str]] = {
    "ALB_WAF_ENABLED": ["SC-7", "SC-5"],
    "API_GW_ASSOCIATED_WITH_WAF": ["SC-7", "SC-5"],
    "API_GW_CACHE_ENABLED_AND_ENCRYPTED": ["SC-28", "SC-28(1)"],
    "CLOUDTRAIL_S3_DATAEVENTS_ENABLED": ["AU-2", "AU-3", "AU-12"],
    "CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION": ["SC-28", "SC-13"],
    "DYNAMODB_IN_BACKUP_PLAN": ["CP-9", "CP-10"],
    "DYNAMODB_TABLE_ENCRYPTED_KMS": ["SC-28", "SC-12", "SC-13"],
    "DYNAMODB_THROUGHPUT_LIMIT_CHECK": ["CP-2(2)", "SC-5"],
    "EBS_IN_BACKUP_PLAN": ["CP-9", "CP-10"],
    "EBS_OPTIMIZED_INSTANCE": ["CP-2(2)"],
    "EC2_INSTANCE_PROFILE_ATTACHED": ["AC-6", "IA-5(7)"],
    "EC2_VOLUME_INUSE_CHECK": ["CM-8"],
    "ECS_CONTAINERS_READONLY_ACCESS": ["AC-6", "CM-7"],
    "ELBV2_ACM_CERTIFICATE_REQUIRED": ["SC-8", "SC-17", "SC-23"],
    "IAM_NO_INLINE_POLICY_CHECK": ["AC-2", "AC-3", "AC-6"],
    "IAM_USER_GROUP_MEMBERSHIP_CHECK": ["AC-2", "AC-3", "AC-6"],
    "LAMBDA_DLQ_CHECK": ["CP-10"],
    "NO_UNRESTRICTED_ROUTE_TO_IGW": ["SC-7", "SC-7(5)", "AC-4"],
    "REDSHIFT_CLUSTER_CONFIGURATION_CHECK": ["SC-28", "AU-12"],
    "REDSHIFT_CLUSTER_KMS_ENABLED": ["SC-28", "SC-12"],
    "S3_BUCKET_PUBLIC_READ_PROHIBITED": ["AC-3", "AC-21", "AC-22", "SC-7"],
    "S3_BUCKET_REPLICATION_ENABLED": ["CP-6", "CP-9", "CP-10"],
    "S3_DEFAULT_ENCRYPTION_KMS": ["SC-28", "SC-28(1)", "SC-12"],
    "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED": ["SC-28", "SC-12"],
    "SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED": ["SC-28", "SC-12"],
    "SECRETSMANAGER_USING_CMK": ["SC-28", "SC-12", "IA-5(6)"],
    "SECURITYHUB_ENABLED": ["CA-7", "SI-4", "RA-5"],
}

# Services whose Security Hub controls are preferred when a control maps to many.
SERVICE_PRIORITY = [
    "IAM", "CloudTrail", "S3", "EC2", "KMS", "GuardDuty", "Config", "RDS", "Lambda", "CloudWatch",
    "ELB", "SSM", "SecretsManager", "DynamoDB", "ECS", "EKS", "ECR", "CloudFront", "APIGateway",
    "Opensearch",
]

# ------------------------------------------------------------------ manual evidence
FAMILY_UPLOAD: dict[str, str] = {
    "AC": "access records such as access request and approval tickets, access review sign-offs, and the settings of the systems that enforce access.",
    "AT": "the training or awareness material, who had to complete it, completion records with dates, and how often it is repeated.",
    "AU": "the list of events the organization logs, log review records or reports, and the settings of the systems that produce and keep the records.",
    "CA": "assessment plans and reports, the plan of action and milestones, the authorization decision, and continuous monitoring reports.",
    "CM": "baseline configurations, change requests with their approvals and test results, and the configuration management plan.",
    "CP": "the contingency plan with its review and approval, training records, test reports and lessons learned.",
    "IA": "a description of how users, devices and services are identified and authenticated, and the settings that enforce it.",
    "IR": "the incident response plan, training and test reports, incident tickets and post-incident reviews.",
    "MA": "maintenance schedules and logs, who did the work and who approved it, and the tools and media used.",
    "MP": "media handling procedures, media inventories, transport logs, and sanitization or destruction certificates.",
    "PE": "for workloads in AWS data centers, the AWS SOC 2 or ISO/IEC 27001 report from AWS Artifact, which covers the provider's facilities; for offices and on-premises sites, access lists, visitor logs and inspection records.",
    "PL": "the system security and privacy plans, rules of behavior with signed acknowledgements, and their review history.",
    "PM": "programme-level documents: the security and privacy programme plan, appointments of key roles, the risk management strategy and records of their reviews.",
    "PS": "position risk designations, screening records, signed access agreements, and offboarding and transfer checklists.",
    "PT": "the authority and purposes for processing personal data, privacy notices, consent records and inventories of personal data.",
    "RA": "the security categorization, risk assessments, vulnerability reports and the decision taken on each risk.",
    "SA": "contracts and their security requirements, supplier and developer documentation, the development life cycle and test results.",
    "SC": "network and architecture diagrams, the settings that enforce the requirement and records of their review.",
    "SI": "flaw remediation reports, monitoring and alert handling records, and the settings of the protection tools.",
    "SR": "the supply chain risk management plan, supplier assessments, acquisition requirements and records of where components came from.",
}


@functools.cache
def _hub_candidates() -> dict[str, list[str]]:
    """NIST display id -> Security Hub control ids whose table row names it."""
    out: dict[str, list[str]] = {}
    for row in aws_facts.active_hub_rows():
        for nid in aws_facts.hub_nist_ids(row):
            out.setdefault(nid, []).append(row["control_id"])
    return out


@functools.cache
def _pack_by_control() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rule, ids in PACK_RULES.items():
        for nid in ids:
            out.setdefault(nid, []).append(rule)
    return out


def _rank_hub(ids: list[str]) -> list[str]:
    """Most severe first within each service, then round-robin across services by priority."""
    by_service: dict[str, list[str]] = {}
    rows = aws_facts.hub_by_id()
    for cid in ids:
        by_service.setdefault(aws_facts.hub_prefix(cid), []).append(cid)
    for lst in by_service.values():
        lst.sort(key=lambda c: (aws_facts.SEVERITY_RANK.get(rows[c]["severity"], 4), _natural(c)))
    order = [s for s in SERVICE_PRIORITY if s in by_service] + sorted(
        (s for s in by_service if s not in SERVICE_PRIORITY), key=str.lower
    )
    ranked: list[str] = []
    depth = 0
    while len(ranked) < len(ids):
        for s in order:
            if depth < len(by_service[s]):
                ranked.append(by_service[s][depth])
        depth += 1
    return ranked


def _natural(s: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


OUR_REASON = "Assay's reviewers mapped this check to {nid}; AWS's NIST 800-53 mapping does not"


@functools.cache
def _automated(nist_id: str) -> tuple[dict, ...]:
    """Sources of one NIST control, each with its strength: a Security Hub control (and the rule
    behind it) that AWS itself maps to the control `tests` it; our own additions and API or
    CloudTrail evidence `supports` it."""
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    aws_mapped = set(_hub_candidates().get(nist_id, []))
    ours = OUR_REASON.format(nid=nist_id)

    def add(source: dict, strength: str = "supports") -> bool:
        if len(out) >= MAX_AUTOMATED:
            return False
        ident = (source["sourceType"], source["sourceKeyword"]["keywordValue"])
        if ident not in seen:
            seen.add(ident)
            out.append(aws_facts.with_strength(source, strength, ours))
        return True

    def add_hub(cid: str):
        row = aws_facts.require_hub(cid)
        rule = row["config_rule_identifier"]
        needed = 1 + (1 if rule and ("AWS_Config", rule) not in seen else 0)
        if ("AWS_Security_Hub", cid) in seen or len(out) + needed > MAX_AUTOMATED:
            return
        strength = "tests" if cid in aws_mapped else "supports"
        add(aws_facts.hub_source(cid), strength)
        if rule:
            add(aws_facts.config_source(rule), strength)

    api, trail = EVIDENCE.get(nist_id, ([], []))
    for kw in api:
        add(aws_facts.api_source(kw, API_PURPOSE[kw]))
    for kw in trail:
        add(aws_facts.trail_source(kw, TRAIL_PURPOSE[kw]))
    # AWS's own mapping before ours, so the cap never crowds out evidence that tests the control.
    for cid in _rank_hub(_hub_candidates().get(nist_id, [])):
        add_hub(cid)
    for cid in EXTRA_HUB.get(nist_id, []):
        add_hub(cid)
    for rule in EXTRA_CONFIG.get(nist_id, []):
        add(aws_facts.config_source(rule))
    for rule in _pack_by_control().get(nist_id, []):
        add(aws_facts.config_source(rule))
    return tuple(out)


def automated_sources_for(nist_id: str) -> list[dict]:
    """Automated sources (API-shaped, without sourceId) evidencing a NIST control; may be empty."""
    return copy.deepcopy(list(_automated(oscal.display_id(nist_id))))


def manual_source_for(nist_id: str) -> dict:
    """The MANUAL source of a control nothing in AWS can evidence: what to upload."""
    nid = oscal.display_id(nist_id)
    control = oscal.catalog().controls.get(nid)
    family = oscal.base_id(nid).split("-")[0]
    title = control.title if control else nid
    if control and nid.endswith("-1") and "(" not in nid:
        what = (
            f"Upload the current {control.family_title.lower()} policy and procedures, showing who "
            "approved them, who owns them, who they were given to, and when they were last "
            "reviewed and updated."
        )
    else:
        what = f"Upload documents that show how {nid} ({title}) is met: {FAMILY_UPLOAD[family]}"
    return aws_facts.manual_source(f"{nid} documentation", what)


def sources_for(nist_id: str) -> list[dict]:
    """Sources for a NIST control: its automated sources, or else one MANUAL source."""
    auto = automated_sources_for(nist_id)
    return auto if auto else [manual_source_for(nist_id)]


def merged_sources(nist_ids: list[str], cap: int = MAX_AUTOMATED) -> list[dict]:
    """Automated sources of several NIST controls, de-duplicated, taking from each in turn."""
    lists = [automated_sources_for(i) for i in nist_ids]
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    depth = 0
    while len(out) < cap and any(depth < len(lst) for lst in lists):
        for lst in lists:
            if depth < len(lst) and len(out) < cap:
                s = lst[depth]
                ident = (s["sourceType"], s["sourceKeyword"]["keywordValue"])
                if ident not in seen:
                    seen.add(ident)
                    out.append(s)
        depth += 1
    return out


def check() -> list[str]:
    """Problems in the hand-written tables (unknown ids or keywords, calls that need input)."""
    import botocore.session

    problems: list[str] = []
    cat = oscal.catalog()
    active = {c.id for c in cat.active()}
    for table in (EVIDENCE, EXTRA_HUB, EXTRA_CONFIG):
        for nid in table:
            if nid not in active:
                problems.append(f"{nid}: not an active control of the catalog")
    for rule, ids in PACK_RULES.items():
        if rule not in aws_facts.conformance_pack(aws_facts.NIST_PACK):
            problems.append(f"{rule}: not in the NIST 800-53 rev 5 conformance pack")
        problems += [f"{rule} -> {i}: not an active control" for i in ids if i not in active]
    for ids in EXTRA_HUB.values():
        problems += [p for p in map(aws_facts.hub_problem, ids) if p]
    for rules in list(EXTRA_CONFIG.values()) + [list(PACK_RULES)]:
        problems += [p for p in map(aws_facts.config_problem, rules) if p]
    from assay.library import keywords

    session = botocore.session.get_session()
    for api, trail in EVIDENCE.values():
        problems += [f"{kw}: not an AWS_API_Call keyword" for kw in api if not keywords.is_valid_keyword("AWS_API_Call", kw)]
        problems += [f"{kw}: not an AWS_Cloudtrail keyword" for kw in trail if not keywords.is_valid_keyword("AWS_Cloudtrail", kw)]
        for kw in api:
            if kw not in API_PURPOSE:
                problems.append(f"{kw}: no purpose text")
                continue
            client, _, op = kw.partition("_")
            shape = session.get_service_model(client).operation_model(op).input_shape
            if shape is not None and shape.required_members:
                problems.append(f"{kw}: needs input {shape.required_members}; a collector cannot call it bare")
        problems += [f"{kw}: no purpose text" for kw in trail if kw not in TRAIL_PURPOSE]
    return problems
