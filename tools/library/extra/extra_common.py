"""Shared machinery for the hand-authored standard frameworks in tools/library/extra/.

Each framework is a content module (cis_aws_v3.py, pci_dss_v4.py, hipaa_security.py,
soc2_tsc.py, gdpr.py) holding a table of controls written in our words, and a tiny builder
(build_*.py) whose main() calls build() here to write src/assay/library/data/<name>.json.

A control row names its automated evidence with tokens:

    sh:IAM.9          AWS_Security_Hub control id (aws-security-hub-controls.tsv)
    cfg:IAM_PASSWORD_POLICY   AWS_Config managed rule identifier (aws-config-managed-rules.tsv)
    api:iam_GetCredentialReport   AWS_API_Call, a read-only botocore operation without
                                  required parameters (collectors call it bare)
    ct:signin_ConsoleLogin        AWS_Cloudtrail <event source prefix>_<EventName>
    @root_mfa         a bundle from BUNDLES below (bundles may nest)

A Security Hub token also adds the AWS Config rule behind that control, when there is one.

and, when automation cannot show the whole requirement, `manual`: what the owner uploads.
Rows may also list NIST SP 800-53 r5 controls (`nist`); when tools/library/nist_map.py exists,
its sources_for() adds the evidence mapped to those NIST controls (capped, see NIST_CAP) to rows
that already have automated evidence of their own. A NIST id written `~AC-2` is recorded as
corresponding but contributes no evidence (its AWS checks are broader than the requirement).

Output is deterministic: keys sorted, rows in table order, sources in a fixed order.
"""
from __future__ import annotations

import csv
import functools
import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CONTENT_DIR = Path(os.environ.get("ASSAY_CONTENT_DIR", REPO.parent / "shared" / "content"))
DATA_DIR = REPO / "src" / "assay" / "library" / "data"

# Control domains (the loader's list).
IAM = "identity-and-access-management"
LOG = "logging-and-monitoring"
DP = "data-protection"
NET = "network-security"
IR = "incident-response"
CM = "configuration-management"
VM = "vulnerability-management"
BC = "business-continuity-and-resilience"
GRC = "governance-risk-and-compliance"
AM = "asset-management"
SAT = "security-awareness-and-training"
PHY = "physical-and-environmental-security"
TP = "third-party-and-supply-chain"
PRIV = "privacy"
DEV = "secure-development"
DOMAINS = (IAM, LOG, DP, NET, IR, CM, VM, BC, GRC, AM, SAT, PHY, TP, PRIV, DEV)

# Limits of the botocore auditmanager model (sourceName: the project keeps it to 100).
LIMITS = {
    "control_name": 300,
    "description": 1000,
    "testingInformation": 1000,
    "actionPlanTitle": 300,
    "actionPlanInstructions": 1000,
    "sourceName": 100,
    "sourceDescription": 1000,
    "keywordValue": 100,
    "controlSetName": 300,
    "frameworkDescription": 1000,
    "complianceType": 100,
}
KEYWORD_RE = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")
SOURCE_ORDER = ("AWS_Security_Hub", "AWS_Config", "AWS_API_Call", "AWS_Cloudtrail")
PREFIX_TYPE = {"sh": "AWS_Security_Hub", "cfg": "AWS_Config", "api": "AWS_API_Call", "ct": "AWS_Cloudtrail"}
# At most this many automated sources are taken from nist_map per control, so a broad NIST
# control (AC-2, SI-4) cannot bury the hand-picked evidence.
NIST_CAP = 6

# --------------------------------------------------------------------------------------------
# Evidence bundles: groups of sources that evidence one technical fact, reused across
# frameworks. Each is kept narrow; a control lists the bundles that really bear on it.
# --------------------------------------------------------------------------------------------
BUNDLES: dict[str, str] = {
    # identity and access
    "root_mfa": (
        "sh:IAM.9 sh:IAM.6 cfg:ROOT_ACCOUNT_MFA_ENABLED cfg:ROOT_ACCOUNT_HARDWARE_MFA_ENABLED "
        "api:iam_GetAccountSummary api:iam_ListVirtualMFADevices"
    ),
    "root_keys": "sh:IAM.4 cfg:IAM_ROOT_ACCESS_KEY_CHECK api:iam_GetAccountSummary",
    "root_use": "sh:CloudWatch.1 api:iam_GetCredentialReport ct:signin_ConsoleLogin",
    "user_mfa": (
        "sh:IAM.5 sh:IAM.19 cfg:MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS cfg:IAM_USER_MFA_ENABLED "
        "api:iam_GetCredentialReport api:iam_ListVirtualMFADevices ct:iam_DeactivateMFADevice"
    ),
    "password_policy": (
        "sh:IAM.7 sh:IAM.10 sh:IAM.15 sh:IAM.16 cfg:IAM_PASSWORD_POLICY "
        "api:iam_GetAccountPasswordPolicy ct:iam_UpdateAccountPasswordPolicy "
        "ct:iam_DeleteAccountPasswordPolicy"
    ),
    "unused_creds": (
        "sh:IAM.8 sh:IAM.22 cfg:IAM_USER_UNUSED_CREDENTIALS_CHECK api:iam_GetCredentialReport"
    ),
    "key_rotation": "sh:IAM.3 cfg:ACCESS_KEYS_ROTATED api:iam_GetCredentialReport",
    "admin_policies": (
        "sh:IAM.1 sh:IAM.21 cfg:IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS "
        "cfg:IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS api:iam_GetAccountAuthorizationDetails"
    ),
    "policy_changes": (
        "ct:iam_CreatePolicy ct:iam_CreatePolicyVersion ct:iam_AttachUserPolicy "
        "ct:iam_AttachRolePolicy ct:iam_AttachGroupPolicy ct:iam_PutUserPolicy ct:iam_PutRolePolicy "
        "ct:iam_PutGroupPolicy"
    ),
    "group_permissions": (
        "sh:IAM.2 cfg:IAM_USER_NO_POLICIES_CHECK cfg:IAM_USER_GROUP_MEMBERSHIP_CHECK "
        "cfg:IAM_NO_INLINE_POLICY_CHECK"
    ),
    "user_inventory": (
        "api:iam_ListUsers api:iam_ListRoles api:iam_ListGroups api:iam_GetCredentialReport"
    ),
    "user_lifecycle": (
        "ct:iam_CreateUser ct:iam_DeleteUser ct:iam_CreateLoginProfile ct:iam_DeleteLoginProfile "
        "ct:iam_AddUserToGroup ct:iam_RemoveUserFromGroup"
    ),
    "key_lifecycle": "ct:iam_CreateAccessKey ct:iam_UpdateAccessKey ct:iam_DeleteAccessKey",
    "credential_changes": (
        "ct:iam_UpdateLoginProfile ct:iam_CreateLoginProfile ct:iam_ChangePassword "
        "ct:iam_EnableMFADevice ct:iam_DeactivateMFADevice"
    ),
    "federation": (
        "api:sso-admin_ListInstances api:iam_ListSAMLProviders api:iam_ListOpenIDConnectProviders "
        "api:organizations_DescribeOrganization"
    ),
    "kms_access": (
        "sh:KMS.1 sh:KMS.2 cfg:IAM_CUSTOMER_POLICY_BLOCKED_KMS_ACTIONS "
        "cfg:IAM_INLINE_POLICY_BLOCKED_KMS_ACTIONS"
    ),
    "workload_privilege": (
        "sh:ECS.1 sh:ECS.4 sh:CodeBuild.5 sh:SageMaker.3 sh:EFS.3 sh:EFS.4 "
        "cfg:ECS_TASK_DEFINITION_NONROOT_USER cfg:ECS_CONTAINERS_NONPRIVILEGED "
        "cfg:ECS_TASK_DEFINITION_PID_MODE_CHECK"
    ),
    "instance_roles": (
        "cfg:EC2_INSTANCE_PROFILE_ATTACHED api:ec2_DescribeIamInstanceProfileAssociations"
    ),
    "db_iam_auth": (
        "sh:RDS.10 sh:RDS.12 cfg:RDS_INSTANCE_IAM_AUTHENTICATION_ENABLED "
        "cfg:RDS_CLUSTER_IAM_AUTHENTICATION_ENABLED"
    ),
    "default_admins": (
        "sh:RDS.24 sh:RDS.25 sh:Redshift.8 sh:Redshift.9 cfg:RDS_CLUSTER_DEFAULT_ADMIN_CHECK "
        "cfg:RDS_INSTANCE_DEFAULT_ADMIN_CHECK cfg:REDSHIFT_DEFAULT_ADMIN_CHECK "
        "cfg:REDSHIFT_DEFAULT_DB_NAME_CHECK"
    ),
    "secrets": (
        "sh:SecretsManager.1 sh:SecretsManager.2 sh:SecretsManager.4 "
        "cfg:SECRETSMANAGER_ROTATION_ENABLED_CHECK "
        "cfg:SECRETSMANAGER_SCHEDULED_ROTATION_SUCCESS_CHECK "
        "cfg:SECRETSMANAGER_SECRET_PERIODIC_ROTATION api:secretsmanager_ListSecrets"
    ),
    "unused_secrets": "sh:SecretsManager.3 cfg:SECRETSMANAGER_SECRET_UNUSED",
    "hardcoded_creds": (
        "sh:CodeBuild.2 sh:ECS.8 cfg:CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK "
        "cfg:ECS_NO_ENVIRONMENT_SECRETS"
    ),
    "access_analyzer": "api:accessanalyzer_ListAnalyzers ct:access-analyzer_DeleteAnalyzer",
    "org": (
        "sh:Account.2 cfg:ACCOUNT_PART_OF_ORGANIZATIONS api:organizations_DescribeOrganization "
        "api:organizations_ListAccounts"
    ),
    "org_changes": (
        "ct:organizations_CreateAccount ct:organizations_InviteAccountToOrganization "
        "ct:organizations_LeaveOrganization ct:organizations_RemoveAccountFromOrganization "
        "ct:organizations_AttachPolicy ct:organizations_DetachPolicy ct:organizations_UpdatePolicy"
    ),
    "contacts": "cfg:SECURITY_ACCOUNT_INFORMATION_PROVIDED api:account_GetContactInformation",
    # logging and monitoring
    "trail": (
        "sh:CloudTrail.1 sh:CloudTrail.3 cfg:MULTI_REGION_CLOUD_TRAIL_ENABLED cfg:CLOUD_TRAIL_ENABLED "
        "cfg:CLOUDTRAIL_SECURITY_TRAIL_ENABLED api:cloudtrail_DescribeTrails"
    ),
    "trail_tamper": (
        "ct:cloudtrail_StopLogging ct:cloudtrail_DeleteTrail ct:cloudtrail_UpdateTrail "
        "ct:cloudtrail_PutEventSelectors"
    ),
    "trail_integrity": "sh:CloudTrail.4 cfg:CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
    "trail_encryption": "sh:CloudTrail.2 cfg:CLOUD_TRAIL_ENCRYPTION_ENABLED",
    "trail_cwl": "sh:CloudTrail.5 cfg:CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED",
    "s3_data_events": "cfg:CLOUDTRAIL_S3_DATAEVENTS_ENABLED api:cloudtrail_DescribeTrails",
    "service_logs": (
        "sh:APIGateway.1 sh:CloudFront.5 sh:ELB.5 sh:S3.9 sh:RDS.9 sh:Redshift.4 sh:Opensearch.5 "
        "sh:WAF.11 sh:CodeBuild.4 sh:ECS.12 cfg:API_GWV2_ACCESS_LOGS_ENABLED "
        "cfg:EKS_CLUSTER_LOGGING_ENABLED cfg:REDSHIFT_AUDIT_LOGGING_ENABLED sh:ES.4 sh:Opensearch.4 "
        "sh:APIGateway.3 cfg:APPSYNC_LOGGING_ENABLED cfg:ECS_TASK_DEFINITION_LOG_CONFIGURATION "
        "cfg:ELASTIC_BEANSTALK_LOGS_TO_CLOUDWATCH"
    ),
    "flow_logs": (
        "sh:EC2.6 cfg:VPC_FLOW_LOGS_ENABLED api:ec2_DescribeFlowLogs ct:ec2_DeleteFlowLogs"
    ),
    "log_retention": (
        "sh:CloudWatch.16 cfg:CW_LOGGROUP_RETENTION_PERIOD_CHECK api:logs_DescribeLogGroups "
        "ct:logs_DeleteRetentionPolicy ct:logs_PutRetentionPolicy"
    ),
    "log_protection": (
        "cfg:CLOUDWATCH_LOG_GROUP_ENCRYPTED ct:logs_DeleteLogGroup ct:logs_DeleteLogStream "
        "ct:s3_DeleteBucketPolicy ct:s3_PutBucketPolicy"
    ),
    "config_recorder": (
        "sh:Config.1 api:config_DescribeConfigurationRecorders "
        "api:config_DescribeConfigurationRecorderStatus api:config_DescribeDeliveryChannels "
        "ct:config_StopConfigurationRecorder ct:config_DeleteConfigurationRecorder "
        "ct:config_DeleteDeliveryChannel"
    ),
    "alarm_plumbing": (
        "api:logs_DescribeMetricFilters api:cloudwatch_DescribeAlarms api:sns_ListSubscriptions"
    ),
    "alarm_actions": (
        "sh:CloudWatch.15 sh:CloudWatch.17 cfg:CLOUDWATCH_ALARM_ACTION_CHECK "
        "cfg:CLOUDWATCH_ALARM_ACTION_ENABLED_CHECK api:cloudwatch_DescribeAlarms"
    ),
    "metric_alarms": (
        "sh:CloudWatch.1 sh:CloudWatch.2 sh:CloudWatch.3 sh:CloudWatch.4 sh:CloudWatch.5 "
        "sh:CloudWatch.6 sh:CloudWatch.7 sh:CloudWatch.8 sh:CloudWatch.9 sh:CloudWatch.10 "
        "sh:CloudWatch.11 sh:CloudWatch.12 sh:CloudWatch.13 sh:CloudWatch.14 @alarm_plumbing"
    ),
    "guardduty": (
        "sh:GuardDuty.1 cfg:GUARDDUTY_ENABLED_CENTRALIZED api:guardduty_ListDetectors "
        "ct:guardduty_DeleteDetector ct:guardduty_UpdateDetector"
    ),
    "guardduty_findings": "cfg:GUARDDUTY_NON_ARCHIVED_FINDINGS",
    "securityhub": (
        "cfg:SECURITYHUB_ENABLED api:securityhub_DescribeHub api:securityhub_GetEnabledStandards "
        "ct:securityhub_DisableSecurityHub ct:securityhub_BatchDisableStandards"
    ),
    "signin_events": "ct:signin_ConsoleLogin ct:signin_CheckMfa",
    # network
    "admin_ports": (
        "sh:EC2.13 sh:EC2.14 sh:EC2.21 cfg:INCOMING_SSH_DISABLED cfg:RESTRICTED_INCOMING_TRAFFIC "
        "cfg:NACL_NO_UNRESTRICTED_SSH_RDP api:ec2_DescribeSecurityGroups api:ec2_DescribeNetworkAcls"
    ),
    "sg_ports": (
        "sh:EC2.18 sh:EC2.19 cfg:VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS "
        "api:ec2_DescribeSecurityGroupRules"
    ),
    "sg_changes": (
        "ct:ec2_AuthorizeSecurityGroupIngress ct:ec2_AuthorizeSecurityGroupEgress "
        "ct:ec2_RevokeSecurityGroupIngress ct:ec2_RevokeSecurityGroupEgress "
        "ct:ec2_CreateSecurityGroup ct:ec2_DeleteSecurityGroup"
    ),
    "nacl_changes": (
        "ct:ec2_CreateNetworkAcl ct:ec2_CreateNetworkAclEntry ct:ec2_DeleteNetworkAcl "
        "ct:ec2_DeleteNetworkAclEntry ct:ec2_ReplaceNetworkAclEntry "
        "ct:ec2_ReplaceNetworkAclAssociation"
    ),
    "default_sg": "sh:EC2.2 cfg:VPC_DEFAULT_SECURITY_GROUP_CLOSED",
    "routing": (
        "cfg:NO_UNRESTRICTED_ROUTE_TO_IGW cfg:INTERNET_GATEWAY_AUTHORIZED_VPC_ONLY "
        "api:ec2_DescribeRouteTables api:ec2_DescribeInternetGateways"
    ),
    "route_changes": (
        "ct:ec2_CreateRoute ct:ec2_CreateRouteTable ct:ec2_ReplaceRoute "
        "ct:ec2_ReplaceRouteTableAssociation ct:ec2_DeleteRouteTable ct:ec2_DeleteRoute "
        "ct:ec2_DisassociateRouteTable"
    ),
    "gateway_changes": (
        "ct:ec2_CreateCustomerGateway ct:ec2_DeleteCustomerGateway ct:ec2_AttachInternetGateway "
        "ct:ec2_CreateInternetGateway ct:ec2_DeleteInternetGateway ct:ec2_DetachInternetGateway"
    ),
    "vpc_changes": (
        "ct:ec2_CreateVpc ct:ec2_DeleteVpc ct:ec2_ModifyVpcAttribute "
        "ct:ec2_CreateVpcPeeringConnection ct:ec2_AcceptVpcPeeringConnection "
        "ct:ec2_DeleteVpcPeeringConnection"
    ),
    "network_inventory": (
        "api:ec2_DescribeVpcs api:ec2_DescribeSubnets api:ec2_DescribeRouteTables "
        "api:ec2_DescribeVpcPeeringConnections api:ec2_DescribeTransitGateways "
        "api:ec2_DescribeVpnConnections"
    ),
    "private_endpoints": "sh:EC2.10 cfg:SERVICE_VPC_ENDPOINT_ENABLED api:ec2_DescribeVpcEndpoints",
    "in_vpc": (
        "sh:EC2.29 sh:Lambda.3 sh:Opensearch.2 sh:ES.2 cfg:INSTANCES_IN_VPC cfg:LAMBDA_INSIDE_VPC"
    ),
    "public_ips": (
        "sh:EC2.9 sh:EC2.15 sh:Autoscaling.5 cfg:EC2_INSTANCE_NO_PUBLIC_IP "
        "cfg:SUBNET_AUTO_ASSIGN_PUBLIC_IP_DISABLED cfg:AUTOSCALING_LAUNCH_CONFIG_PUBLIC_IP_DISABLED "
        "cfg:EC2_LAUNCH_TEMPLATE_PUBLIC_IP_DISABLED"
    ),
    "s3_public": (
        "sh:S3.1 sh:S3.2 sh:S3.3 sh:S3.8 cfg:S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC "
        "cfg:S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED cfg:S3_BUCKET_PUBLIC_READ_PROHIBITED "
        "cfg:S3_BUCKET_PUBLIC_WRITE_PROHIBITED cfg:S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS"
    ),
    "s3_policy_changes": "ct:s3_PutBucketPolicy ct:s3_DeleteBucketPolicy ct:s3_PutBucketAcl",
    "s3_access_control": (
        "sh:S3.6 sh:S3.12 cfg:S3_BUCKET_ACL_PROHIBITED cfg:S3_BUCKET_BLACKLISTED_ACTIONS_PROHIBITED "
        "cfg:S3_BUCKET_POLICY_NOT_MORE_PERMISSIVE"
    ),
    "data_stores_private": (
        "sh:RDS.1 sh:RDS.2 sh:EC2.1 sh:Redshift.1 sh:DMS.1 sh:EMR.1 sh:Opensearch.2 sh:SageMaker.1 "
        "sh:Lambda.1 sh:SSM.4 cfg:RDS_INSTANCE_PUBLIC_ACCESS_CHECK "
        "cfg:RDS_SNAPSHOTS_PUBLIC_PROHIBITED cfg:EBS_SNAPSHOT_PUBLIC_RESTORABLE_CHECK "
        "cfg:REDSHIFT_CLUSTER_PUBLIC_ACCESS_CHECK cfg:EKS_ENDPOINT_NO_PUBLIC_ACCESS "
        "cfg:MQ_NO_PUBLIC_ACCESS"
    ),
    "waf": (
        "sh:WAF.2 sh:WAF.3 sh:WAF.6 sh:WAF.7 sh:CloudFront.6 cfg:ALB_WAF_ENABLED "
        "cfg:API_GW_ASSOCIATED_WITH_WAF cfg:CLOUDFRONT_ASSOCIATED_WITH_WAF "
        "cfg:APPSYNC_ASSOCIATED_WITH_WAF cfg:WAFV2_WEBACL_NOT_EMPTY cfg:WAFV2_RULEGROUP_NOT_EMPTY "
        "cfg:WAF_GLOBAL_WEBACL_NOT_EMPTY cfg:WAF_REGIONAL_WEBACL_NOT_EMPTY"
    ),
    "waf_logging": "sh:WAF.1 sh:WAF.11 cfg:WAF_CLASSIC_LOGGING_ENABLED cfg:WAFV2_LOGGING_ENABLED",
    "network_firewall": (
        "sh:NetworkFirewall.3 sh:NetworkFirewall.4 sh:NetworkFirewall.5 sh:NetworkFirewall.6 "
        "cfg:NETFW_POLICY_DEFAULT_ACTION_FULL_PACKETS "
        "cfg:NETFW_POLICY_DEFAULT_ACTION_FRAGMENT_PACKETS api:network-firewall_ListFirewalls"
    ),
    "ddos": (
        "cfg:SHIELD_ADVANCED_ENABLED_AUTORENEW cfg:SHIELD_DRT_ACCESS api:shield_GetSubscriptionState"
    ),
    "imds": (
        "sh:EC2.8 sh:AutoScaling.3 sh:AutoScaling.4 cfg:EC2_IMDSV2_CHECK "
        "cfg:AUTOSCALING_LAUNCHCONFIG_REQUIRES_IMDSV2 cfg:EC2_TOKEN_HOP_LIMIT_CHECK"
    ),
    "vpn": (
        "sh:EC2.20 cfg:VPC_VPN_2_TUNNELS_UP api:ec2_DescribeVpnConnections "
        "api:ec2_DescribeClientVpnEndpoints"
    ),
    # data protection
    "enc_storage": (
        "sh:EC2.3 sh:EC2.7 sh:S3.4 sh:EFS.1 cfg:ENCRYPTED_VOLUMES cfg:EC2_EBS_ENCRYPTION_BY_DEFAULT "
        "cfg:S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED cfg:S3_DEFAULT_ENCRYPTION_KMS "
        "cfg:EFS_ENCRYPTED_CHECK api:ec2_GetEbsEncryptionByDefault"
    ),
    "enc_databases": (
        "sh:RDS.3 sh:RDS.4 sh:DynamoDB.3 sh:Opensearch.1 sh:ES.1 sh:ElastiCache.4 "
        "cfg:RDS_STORAGE_ENCRYPTED cfg:RDS_SNAPSHOT_ENCRYPTED cfg:DYNAMODB_TABLE_ENCRYPTED_KMS "
        "cfg:REDSHIFT_CLUSTER_KMS_ENABLED cfg:OPENSEARCH_ENCRYPTED_AT_REST "
        "cfg:ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST cfg:DYNAMODB_TABLE_ENCRYPTION_ENABLED "
        "cfg:REDSHIFT_CLUSTER_CONFIGURATION_CHECK"
    ),
    "enc_other": (
        "sh:Kinesis.1 sh:SNS.1 sh:SQS.1 sh:CodeBuild.3 cfg:KINESIS_STREAM_ENCRYPTED "
        "cfg:SNS_ENCRYPTED_KMS cfg:CLOUDWATCH_LOG_GROUP_ENCRYPTED cfg:BACKUP_RECOVERY_POINT_ENCRYPTED "
        "cfg:EKS_SECRETS_ENCRYPTED cfg:SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED "
        "cfg:SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED cfg:SECRETSMANAGER_USING_CMK "
        "cfg:API_GW_CACHE_ENABLED_AND_ENCRYPTED"
    ),
    "enc_transit": (
        "sh:ELB.1 sh:ELB.2 sh:ELB.3 sh:ELB.8 sh:S3.5 sh:CloudFront.3 sh:CloudFront.9 sh:CloudFront.10 "
        "sh:Redshift.2 sh:Opensearch.3 sh:Opensearch.8 sh:ElastiCache.5 "
        "cfg:ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK cfg:ELB_TLS_HTTPS_LISTENERS_ONLY "
        "cfg:ELB_PREDEFINED_SECURITY_POLICY_SSL_CHECK cfg:S3_BUCKET_SSL_REQUESTS_ONLY "
        "cfg:CLOUDFRONT_VIEWER_POLICY_HTTPS cfg:CLOUDFRONT_SECURITY_POLICY_CHECK "
        "cfg:REDSHIFT_REQUIRE_TLS_SSL cfg:API_GW_SSL_ENABLED api:elbv2_DescribeSSLPolicies sh:ES.3"
    ),
    "certificates": (
        "sh:ACM.1 cfg:ACM_CERTIFICATE_EXPIRATION_CHECK cfg:ACM_CERTIFICATE_RSA_CHECK "
        "cfg:ELB_ACM_CERTIFICATE_REQUIRED cfg:ELBV2_ACM_CERTIFICATE_REQUIRED api:acm_ListCertificates "
        "api:iam_ListServerCertificates sh:CloudFront.7 sh:CloudFront.8"
    ),
    "kms_keys": (
        "sh:KMS.3 sh:KMS.4 cfg:CMK_BACKING_KEY_ROTATION_ENABLED "
        "cfg:KMS_CMK_NOT_SCHEDULED_FOR_DELETION api:kms_ListKeys api:kms_ListAliases"
    ),
    "kms_changes": (
        "ct:kms_DisableKey ct:kms_ScheduleKeyDeletion ct:kms_PutKeyPolicy ct:kms_DisableKeyRotation "
        "ct:kms_CreateGrant ct:kms_RevokeGrant"
    ),
    "data_discovery": (
        "api:macie2_GetMacieSession api:macie2_ListClassificationJobs api:macie2_DescribeBuckets "
        "api:macie2_ListFindings"
    ),
    "retention": (
        "sh:S3.10 sh:S3.13 cfg:S3_LIFECYCLE_POLICY_CHECK cfg:S3_VERSION_LIFECYCLE_POLICY_CHECK"
    ),
    "data_integrity": (
        "sh:S3.14 cfg:S3_BUCKET_VERSIONING_ENABLED cfg:S3_BUCKET_DEFAULT_LOCK_ENABLED"
    ),
    "deletion_protection": (
        "sh:RDS.7 sh:RDS.8 sh:ELB.6 cfg:RDS_CLUSTER_DELETION_PROTECTION_ENABLED "
        "cfg:RDS_INSTANCE_DELETION_PROTECTION_ENABLED cfg:ELB_DELETION_PROTECTION_ENABLED"
    ),
    "data_deletion_events": (
        "ct:s3_DeleteBucket ct:rds_DeleteDBInstance ct:rds_DeleteDBCluster ct:dynamodb_DeleteTable "
        "ct:ec2_DeleteVolume ct:ec2_DeleteSnapshot"
    ),
    # resilience
    "backups": (
        "sh:DynamoDB.2 sh:DynamoDB.4 sh:EC2.28 sh:EFS.2 sh:ElastiCache.1 sh:RDS.11 sh:RDS.26 "
        "sh:Redshift.3 cfg:DB_INSTANCE_BACKUP_ENABLED cfg:DYNAMODB_PITR_ENABLED "
        "cfg:EC2_RESOURCES_PROTECTED_BY_BACKUP_PLAN cfg:S3_RESOURCES_PROTECTED_BY_BACKUP_PLAN "
        "cfg:AURORA_RESOURCES_PROTECTED_BY_BACKUP_PLAN "
        "cfg:BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK api:backup_ListBackupPlans "
        "api:backup_ListProtectedResources api:backup_ListBackupJobs cfg:DYNAMODB_IN_BACKUP_PLAN "
        "cfg:EBS_IN_BACKUP_PLAN cfg:EFS_IN_BACKUP_PLAN cfg:RDS_IN_BACKUP_PLAN "
        "cfg:FSX_RESOURCES_PROTECTED_BY_BACKUP_PLAN cfg:EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN"
    ),
    "backup_protection": (
        "cfg:BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED cfg:BACKUP_RECOVERY_POINT_ENCRYPTED "
        "cfg:BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK api:backup_ListBackupVaults "
        "ct:backup_DeleteBackupPlan ct:backup_DeleteRecoveryPoint ct:backup_DeleteBackupVault"
    ),
    "restore_tests": "api:backup_ListRestoreJobs api:backup_ListRestoreTestingPlans",
    "replication": "cfg:S3_BUCKET_REPLICATION_ENABLED api:backup_ListCopyJobs",
    "high_availability": (
        "sh:RDS.5 sh:RDS.15 sh:AutoScaling.2 sh:ELB.10 sh:ELB.13 sh:Opensearch.6 sh:ElastiCache.3 "
        "sh:Lambda.5 sh:CloudFront.4 cfg:RDS_MULTI_AZ_SUPPORT cfg:RDS_CLUSTER_MULTI_AZ_ENABLED "
        "cfg:AUTOSCALING_MULTIPLE_AZ cfg:ELBV2_MULTIPLE_AZ cfg:ELB_CROSS_ZONE_LOAD_BALANCING_ENABLED"
    ),
    "capacity": (
        "sh:DynamoDB.1 cfg:DYNAMODB_AUTOSCALING_ENABLED cfg:DYNAMODB_THROUGHPUT_LIMIT_CHECK "
        "cfg:LAMBDA_CONCURRENCY_CHECK cfg:AUTOSCALING_GROUP_ELB_HEALTHCHECK_REQUIRED "
        "cfg:EC2_INSTANCE_DETAILED_MONITORING_ENABLED api:autoscaling_DescribeAutoScalingGroups "
        "api:cloudwatch_DescribeAlarms"
    ),
    # configuration, vulnerabilities, assets
    "patching": (
        "sh:SSM.1 sh:SSM.2 sh:SSM.3 cfg:EC2_INSTANCE_MANAGED_BY_SSM "
        "cfg:EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK "
        "cfg:EC2_MANAGEDINSTANCE_ASSOCIATION_COMPLIANCE_STATUS_CHECK "
        "api:ssm_DescribeInstanceInformation api:ssm_DescribePatchBaselines "
        "api:ssm_ListResourceComplianceSummaries"
    ),
    "managed_updates": (
        "sh:RDS.13 sh:ElasticBeanstalk.2 sh:Redshift.6 sh:EKS.2 sh:ElastiCache.2 sh:Lambda.2 "
        "sh:ECS.10 cfg:RDS_AUTOMATIC_MINOR_VERSION_UPGRADE_ENABLED "
        "cfg:ELASTIC_BEANSTALK_MANAGED_UPDATES_ENABLED cfg:EKS_CLUSTER_SUPPORTED_VERSION "
        "cfg:ELASTICACHE_AUTO_MINOR_VERSION_UPGRADE_CHECK cfg:LAMBDA_FUNCTION_SETTINGS_CHECK "
        "cfg:ECS_FARGATE_LATEST_PLATFORM_VERSION"
    ),
    "vuln_scanning": (
        "sh:ECR.1 cfg:ECR_PRIVATE_IMAGE_SCANNING_ENABLED api:inspector2_ListCoverage "
        "api:inspector2_ListFindings api:ecr_GetRegistryScanningConfiguration"
    ),
    "baseline_config": (
        "cfg:APPROVED_AMIS_BY_ID cfg:APPROVED_AMIS_BY_TAG "
        "cfg:CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK api:config_DescribeConformancePacks "
        "api:config_DescribeConfigRules api:ssm_ListAssociations"
    ),
    "inventory": (
        "sh:Config.1 sh:EC2.4 sh:EC2.22 sh:SSM.1 cfg:EC2_STOPPED_INSTANCE cfg:EC2_VOLUME_INUSE_CHECK "
        "cfg:EIP_ATTACHED cfg:REQUIRED_TAGS api:config_GetDiscoveredResourceCounts "
        "api:resourcegroupstaggingapi_GetResources api:ec2_DescribeInstances"
    ),
    "change_pipeline": (
        "sh:CloudFormation.1 cfg:CLOUDFORMATION_STACK_NOTIFICATION_CHECK "
        "cfg:CODEPIPELINE_DEPLOYMENT_COUNT_CHECK cfg:CODEDEPLOY_AUTO_ROLLBACK_MONITOR_ENABLED "
        "api:cloudformation_ListStacks api:codepipeline_ListPipelines "
        "cfg:CODEDEPLOY_LAMBDA_ALLATONCE_TRAFFIC_SHIFT_DISABLED"
    ),
    "build_security": (
        "sh:CodeBuild.1 sh:CodeBuild.2 sh:CodeBuild.5 cfg:CODEBUILD_PROJECT_SOURCE_REPO_URL_CHECK "
        "cfg:CODEBUILD_PROJECT_ENVVAR_AWSCRED_CHECK cfg:CODEBUILD_PROJECT_ARTIFACT_ENCRYPTION "
        "api:codebuild_ListProjects"
    ),
    "malware": "@guardduty cfg:SES_MALWARE_SCANNING_ENABLED api:inspector2_ListCoverage",
    # incident response
    "ir_tooling": (
        "api:ssm-incidents_ListResponsePlans api:ssm-contacts_ListContacts api:events_ListRules "
        "api:sns_ListTopics"
    ),
}

# What each Security Hub control checks, in our words (the ids and the Config rule behind
# each come from aws-security-hub-controls.tsv). Used for source descriptions.
SH_NOTES = {
    "Account.2": "the account belongs to an AWS Organizations organization",
    "ACM.1": "ACM certificates are renewed before they expire",
    "APIGateway.1": "API Gateway REST and WebSocket stages write execution logs",
    "APIGateway.3": "API Gateway REST stages have X-Ray tracing",
    "AutoScaling.2": "Auto Scaling groups span several Availability Zones",
    "AutoScaling.3": "launch configurations require IMDSv2",
    "AutoScaling.4": "launch configurations limit the metadata response hop count",
    "Autoscaling.5": "launch configurations do not assign public IP addresses",
    "CloudFormation.1": "CloudFormation stacks publish events to SNS",
    "CloudFront.3": "CloudFront distributions require HTTPS from viewers",
    "CloudFront.4": "CloudFront distributions have origin failover",
    "CloudFront.5": "CloudFront distributions write access logs",
    "CloudFront.6": "CloudFront distributions are protected by AWS WAF",
    "CloudFront.2": "CloudFront S3 origins are reached only through an origin access identity",
    "CloudFront.7": "CloudFront distributions use custom TLS certificates",
    "CloudFront.8": "CloudFront distributions serve HTTPS with SNI",
    "CloudFront.9": "CloudFront encrypts traffic to custom origins",
    "CloudFront.10": "CloudFront does not use deprecated SSL protocols to origins",
    "CloudTrail.1": "a multi-Region trail records read and write management events",
    "CloudTrail.2": "CloudTrail logs are encrypted with a KMS key",
    "CloudTrail.3": "at least one CloudTrail trail is enabled",
    "CloudTrail.4": "CloudTrail log file validation is enabled",
    "CloudTrail.5": "trails deliver to CloudWatch Logs",
    "CloudTrail.6": "the S3 bucket holding CloudTrail logs is not public",
    "CloudTrail.7": "the S3 bucket holding CloudTrail logs has server access logging",
    "CloudWatch.1": "a metric filter and alarm exist for root user activity",
    "CloudWatch.2": "a metric filter and alarm exist for unauthorized API calls",
    "CloudWatch.3": "a metric filter and alarm exist for console sign-in without MFA",
    "CloudWatch.4": "a metric filter and alarm exist for IAM policy changes",
    "CloudWatch.5": "a metric filter and alarm exist for CloudTrail configuration changes",
    "CloudWatch.6": "a metric filter and alarm exist for console authentication failures",
    "CloudWatch.7": "a metric filter and alarm exist for disabling or deleting customer managed keys",
    "CloudWatch.8": "a metric filter and alarm exist for S3 bucket policy changes",
    "CloudWatch.9": "a metric filter and alarm exist for AWS Config configuration changes",
    "CloudWatch.10": "a metric filter and alarm exist for security group changes",
    "CloudWatch.11": "a metric filter and alarm exist for network ACL changes",
    "CloudWatch.12": "a metric filter and alarm exist for network gateway changes",
    "CloudWatch.13": "a metric filter and alarm exist for route table changes",
    "CloudWatch.14": "a metric filter and alarm exist for VPC changes",
    "CloudWatch.15": "CloudWatch alarms have an action configured",
    "CloudWatch.16": "CloudWatch log groups keep logs for at least a year",
    "CloudWatch.17": "CloudWatch alarm actions are activated",
    "CodeBuild.1": "CodeBuild source repository URLs carry no credentials",
    "CodeBuild.2": "CodeBuild environment variables hold no clear-text credentials",
    "CodeBuild.3": "CodeBuild S3 logs are encrypted",
    "CodeBuild.4": "CodeBuild projects log builds",
    "CodeBuild.5": "CodeBuild environments do not run privileged",
    "Config.1": "AWS Config is enabled and recording",
    "DMS.1": "DMS replication instances are not public",
    "DynamoDB.1": "DynamoDB tables scale capacity with demand",
    "DynamoDB.2": "DynamoDB tables have point-in-time recovery",
    "DynamoDB.3": "DynamoDB Accelerator clusters are encrypted at rest",
    "DynamoDB.4": "DynamoDB tables are covered by a backup plan",
    "EC2.1": "EBS snapshots are not publicly restorable",
    "EC2.2": "default security groups allow no traffic",
    "EC2.3": "attached EBS volumes are encrypted",
    "EC2.4": "stopped EC2 instances are removed after a set period",
    "EC2.6": "VPC flow logging is enabled",
    "EC2.7": "EBS default encryption is enabled",
    "EC2.8": "EC2 instances require IMDSv2",
    "EC2.9": "EC2 instances have no public IPv4 address",
    "EC2.10": "EC2 reaches its API through a VPC endpoint",
    "EC2.13": "security groups do not allow 0.0.0.0/0 to port 22",
    "EC2.14": "security groups do not allow 0.0.0.0/0 to port 3389",
    "EC2.15": "subnets do not auto-assign public IP addresses",
    "EC2.18": "security groups open unrestricted inbound traffic only on authorized ports",
    "EC2.19": "security groups do not open high-risk ports to everyone",
    "EC2.20": "both tunnels of each site-to-site VPN are up",
    "EC2.21": "network ACLs do not allow 0.0.0.0/0 to ports 22 or 3389",
    "EC2.22": "unused security groups are removed",
    "EC2.23": "transit gateways do not accept VPC attachments automatically",
    "EC2.24": "EC2 instances do not use paravirtual instance types",
    "EC2.28": "EBS volumes are covered by a backup plan",
    "EC2.29": "EC2 instances run in a VPC",
    "ECR.1": "ECR private repositories scan images",
    "ECS.1": "ECS task definitions using host networking do not run as root or privileged",
    "ECS.4": "ECS containers run without privileges",
    "ECS.8": "ECS container environment variables hold no secrets",
    "ECS.10": "ECS Fargate services run the latest platform version",
    "ECS.12": "ECS clusters use Container Insights",
    "EFS.1": "EFS file systems are encrypted with KMS",
    "EFS.2": "EFS file systems are in backup plans",
    "EFS.3": "EFS access points enforce a root directory",
    "EFS.4": "EFS access points enforce a user identity",
    "EKS.2": "EKS clusters run a supported Kubernetes version",
    "ElastiCache.1": "ElastiCache Redis clusters take automatic backups",
    "ElastiCache.2": "ElastiCache applies minor version upgrades automatically",
    "ElastiCache.3": "ElastiCache replication groups fail over automatically",
    "ElastiCache.4": "ElastiCache replication groups are encrypted at rest",
    "ElastiCache.5": "ElastiCache replication groups are encrypted in transit",
    "ElasticBeanstalk.2": "Elastic Beanstalk managed platform updates are enabled",
    "ELB.1": "Application Load Balancers redirect HTTP to HTTPS",
    "ELB.2": "Classic Load Balancers with TLS listeners use ACM certificates",
    "ELB.3": "Classic Load Balancer listeners use HTTPS or TLS",
    "ELB.5": "load balancers write access logs",
    "ELB.6": "load balancers have deletion protection",
    "ELB.8": "Classic Load Balancer TLS listeners use a strong predefined policy",
    "ELB.10": "Classic Load Balancers span several Availability Zones",
    "ELB.13": "Application, Network and Gateway Load Balancers span several Availability Zones",
    "EMR.1": "EMR primary nodes have no public IP address",
    "ES.1": "Elasticsearch domains are encrypted at rest",
    "ES.2": "Elasticsearch domains are not public",
    "ES.3": "Elasticsearch domains encrypt node-to-node traffic",
    "ES.4": "Elasticsearch domain error logs go to CloudWatch Logs",
    "GuardDuty.1": "GuardDuty is enabled",
    "IAM.1": "IAM policies do not grant full '*' administrative privileges",
    "IAM.2": "IAM users have no directly attached policies",
    "IAM.3": "IAM access keys are rotated every 90 days",
    "IAM.4": "the root user has no access key",
    "IAM.5": "IAM users with a console password have MFA",
    "IAM.6": "the root user has hardware MFA",
    "IAM.7": "the IAM password policy is strong",
    "IAM.8": "unused IAM credentials are removed",
    "IAM.9": "the root user has MFA",
    "IAM.10": "the IAM password policy meets PCI DSS strength",
    "IAM.15": "the IAM password policy requires 14 or more characters",
    "IAM.16": "the IAM password policy prevents password reuse",
    "IAM.18": "a support role exists to manage incidents with AWS Support",
    "IAM.19": "all IAM users have MFA",
    "IAM.21": "customer managed policies do not allow wildcard service actions",
    "IAM.22": "IAM credentials unused for 45 days are removed",
    "Kinesis.1": "Kinesis streams are encrypted at rest",
    "KMS.1": "customer managed IAM policies do not allow decryption on all KMS keys",
    "KMS.2": "inline IAM policies do not allow decryption on all KMS keys",
    "KMS.3": "KMS keys are not unintentionally scheduled for deletion",
    "KMS.4": "KMS key rotation is enabled",
    "Lambda.1": "Lambda function policies forbid public access",
    "Lambda.2": "Lambda functions use supported runtimes",
    "Lambda.3": "Lambda functions run in a VPC",
    "Lambda.5": "VPC Lambda functions run in several Availability Zones",
    "NetworkFirewall.3": "Network Firewall policies have a rule group",
    "NetworkFirewall.4": "Network Firewall policies drop or forward full packets by default",
    "NetworkFirewall.5": "Network Firewall policies drop or forward fragmented packets by default",
    "NetworkFirewall.6": "stateless Network Firewall rule groups are not empty",
    "Opensearch.1": "OpenSearch domains are encrypted at rest",
    "Opensearch.2": "OpenSearch domains are not public",
    "Opensearch.3": "OpenSearch domains encrypt node-to-node traffic",
    "Opensearch.4": "OpenSearch domain error logs go to CloudWatch Logs",
    "Opensearch.5": "OpenSearch domains have audit logging",
    "Opensearch.6": "OpenSearch domains have at least three data nodes",
    "Opensearch.8": "OpenSearch domains require TLS",
    "RDS.1": "RDS snapshots are private",
    "RDS.2": "RDS DB instances are not publicly accessible",
    "RDS.3": "RDS DB instances are encrypted at rest",
    "RDS.4": "RDS snapshots are encrypted at rest",
    "RDS.5": "RDS DB instances use Multi-AZ",
    "RDS.6": "RDS DB instances have enhanced monitoring",
    "RDS.7": "RDS clusters have deletion protection",
    "RDS.8": "RDS DB instances have deletion protection",
    "RDS.9": "RDS DB instances publish logs to CloudWatch Logs",
    "RDS.10": "RDS DB instances use IAM authentication",
    "RDS.11": "RDS DB instances have automatic backups",
    "RDS.12": "RDS clusters use IAM authentication",
    "RDS.13": "RDS applies minor version upgrades automatically",
    "RDS.15": "RDS clusters span several Availability Zones",
    "RDS.24": "RDS clusters do not use the default admin user name",
    "RDS.25": "RDS DB instances do not use the default admin user name",
    "RDS.26": "RDS DB instances are covered by a backup plan",
    "Redshift.1": "Redshift clusters are not public",
    "Redshift.2": "Redshift connections require TLS",
    "Redshift.3": "Redshift clusters have automatic snapshots",
    "Redshift.4": "Redshift clusters have audit logging",
    "Redshift.6": "Redshift clusters upgrade major versions automatically",
    "Redshift.7": "Redshift clusters use enhanced VPC routing",
    "Redshift.8": "Redshift clusters do not use the default admin user name",
    "Redshift.9": "Redshift clusters do not use the default database name",
    "S3.1": "S3 Block Public Access is on for the account",
    "S3.2": "S3 buckets forbid public read",
    "S3.3": "S3 buckets forbid public write",
    "S3.4": "S3 buckets have default server-side encryption",
    "S3.5": "S3 bucket policies require TLS",
    "S3.6": "S3 bucket policies do not grant sensitive actions to other accounts",
    "S3.8": "S3 Block Public Access is on for each bucket",
    "S3.9": "S3 buckets have server access logging",
    "S3.10": "versioned S3 buckets have lifecycle policies",
    "S3.11": "S3 buckets send event notifications",
    "S3.12": "S3 buckets do not use ACLs to grant access",
    "S3.13": "S3 buckets have lifecycle policies",
    "S3.14": "S3 buckets have versioning",
    "SageMaker.1": "SageMaker notebooks have no direct internet access",
    "SageMaker.3": "SageMaker notebooks do not give users root access",
    "SecretsManager.1": "Secrets Manager secrets rotate automatically",
    "SecretsManager.2": "Secrets Manager rotations succeed",
    "SecretsManager.3": "unused Secrets Manager secrets are removed",
    "SecretsManager.4": "Secrets Manager secrets rotate within a set number of days",
    "SNS.1": "SNS topics are encrypted with KMS",
    "SNS.2": "SNS topics log message delivery status",
    "SQS.1": "SQS queues are encrypted at rest",
    "SSM.1": "EC2 instances are managed by Systems Manager",
    "SSM.2": "managed instances are patch compliant",
    "SSM.3": "managed instance associations are compliant",
    "SSM.4": "SSM documents are not public",
    "WAF.1": "AWS WAF Classic global web ACLs log",
    "WAF.2": "WAF Classic regional rules have conditions",
    "WAF.3": "WAF Classic regional rule groups have rules",
    "WAF.6": "WAF Classic global rules have conditions",
    "WAF.7": "WAF Classic global rule groups have rules",
    "WAF.11": "AWS WAF web ACLs log",
}

# What each API call's snapshot shows, in our words.
API_NOTES = {
    "iam_GetAccountSummary": "account-level IAM counts, including whether the root user has MFA and access keys",
    "iam_ListVirtualMFADevices": "virtual MFA devices and the users (or root) they are assigned to",
    "iam_GetCredentialReport": "every IAM user with password, MFA and access-key status and last-use dates",
    "iam_GetAccountPasswordPolicy": "the account's IAM password policy settings",
    "iam_GetAccountAuthorizationDetails": "all IAM users, groups, roles and policies with their documents",
    "iam_ListUsers": "the IAM users of the account",
    "iam_ListRoles": "the IAM roles and their trust policies",
    "iam_ListGroups": "the IAM groups of the account",
    "iam_ListPolicies": "IAM managed policies and how many entities they are attached to",
    "iam_ListSAMLProviders": "SAML identity providers trusted by the account",
    "iam_ListOpenIDConnectProviders": "OIDC identity providers trusted by the account",
    "iam_ListServerCertificates": "server certificates stored in IAM and their expiry dates",
    "sso-admin_ListInstances": "the IAM Identity Center instance used for central sign-in",
    "organizations_DescribeOrganization": "the organization the account belongs to",
    "organizations_ListAccounts": "member accounts of the organization",
    "account_GetContactInformation": "the account's primary contact details",
    "accessanalyzer_ListAnalyzers": "IAM Access Analyzer analyzers in the Region",
    "ec2_DescribeIamInstanceProfileAssociations": "which EC2 instances use an instance profile (role)",
    "secretsmanager_ListSecrets": "secrets with rotation settings and last rotation and access dates",
    "cloudtrail_DescribeTrails": "trail settings: multi-Region, validation, KMS key, S3 bucket, log group",
    "logs_DescribeLogGroups": "log groups with retention and KMS settings",
    "logs_DescribeMetricFilters": "CloudWatch Logs metric filters and their patterns",
    "cloudwatch_DescribeAlarms": "CloudWatch alarms, their metrics and actions",
    "sns_ListSubscriptions": "SNS subscriptions that receive alarm notifications",
    "sns_ListTopics": "SNS topics used for notifications",
    "events_ListRules": "EventBridge rules that route security events",
    "config_DescribeConfigurationRecorders": "AWS Config recorder settings (what is recorded)",
    "config_DescribeConfigurationRecorderStatus": "whether each AWS Config recorder is recording",
    "config_DescribeDeliveryChannels": "where AWS Config delivers configuration history",
    "config_DescribeConformancePacks": "deployed AWS Config conformance packs",
    "config_DescribeConfigRules": "deployed AWS Config rules",
    "config_GetDiscoveredResourceCounts": "counts of resources recorded by AWS Config, by type",
    "guardduty_ListDetectors": "GuardDuty detectors in the Region",
    "securityhub_DescribeHub": "whether Security Hub is enabled in the Region",
    "securityhub_GetEnabledStandards": "Security Hub standards enabled in the Region",
    "ec2_DescribeSecurityGroups": "security groups and their rules",
    "ec2_DescribeSecurityGroupRules": "every security group rule with its ports and sources",
    "ec2_DescribeNetworkAcls": "network ACLs and their entries",
    "ec2_DescribeRouteTables": "route tables and their routes",
    "ec2_DescribeInternetGateways": "internet gateways and their VPC attachments",
    "ec2_DescribeVpcs": "the VPCs of the account",
    "ec2_DescribeSubnets": "subnets and their public-IP settings",
    "ec2_DescribeVpcPeeringConnections": "VPC peering connections",
    "ec2_DescribeTransitGateways": "transit gateways",
    "ec2_DescribeVpnConnections": "site-to-site VPN connections and tunnel status",
    "ec2_DescribeClientVpnEndpoints": "Client VPN endpoints and their authentication settings",
    "ec2_DescribeVpcEndpoints": "VPC endpoints for private access to AWS services",
    "ec2_DescribeFlowLogs": "VPC flow log configurations",
    "ec2_DescribeInstances": "EC2 instances with their images, roles, network and metadata settings",
    "ec2_GetEbsEncryptionByDefault": "whether new EBS volumes are encrypted by default in the Region",
    "network-firewall_ListFirewalls": "AWS Network Firewall firewalls",
    "shield_GetSubscriptionState": "whether Shield Advanced is subscribed",
    "elbv2_DescribeSSLPolicies": "TLS policies available to load balancer listeners",
    "acm_ListCertificates": "ACM certificates with status and renewal eligibility",
    "kms_ListKeys": "KMS keys in the Region",
    "kms_ListAliases": "KMS key aliases, showing which keys serve which purpose",
    "macie2_GetMacieSession": "whether Amazon Macie is enabled",
    "macie2_ListClassificationJobs": "Macie sensitive-data discovery jobs",
    "macie2_DescribeBuckets": "S3 buckets as Macie sees them: public access, encryption, sensitivity",
    "macie2_ListFindings": "Macie findings of sensitive data",
    "backup_ListBackupPlans": "AWS Backup plans",
    "backup_ListProtectedResources": "resources with at least one recovery point",
    "backup_ListBackupJobs": "recent backup jobs and their outcome",
    "backup_ListBackupVaults": "backup vaults, their encryption and locks",
    "backup_ListRestoreJobs": "restore jobs, showing that restores are exercised",
    "backup_ListRestoreTestingPlans": "AWS Backup restore testing plans",
    "backup_ListCopyJobs": "copies of recovery points to other Regions or accounts",
    "autoscaling_DescribeAutoScalingGroups": "Auto Scaling groups with capacity and health-check settings",
    "ssm_DescribeInstanceInformation": "instances managed by Systems Manager and their agent status",
    "ssm_DescribePatchBaselines": "patch baselines and their approval rules",
    "ssm_ListResourceComplianceSummaries": "patch and association compliance per managed resource",
    "ssm_ListAssociations": "State Manager associations that enforce configuration",
    "inspector2_ListCoverage": "resources scanned by Amazon Inspector",
    "inspector2_ListFindings": "Amazon Inspector vulnerability findings",
    "ecr_GetRegistryScanningConfiguration": "the ECR registry's image scanning configuration",
    "resourcegroupstaggingapi_GetResources": "tagged resources with their owner and classification tags",
    "cloudformation_ListStacks": "CloudFormation stacks and their status",
    "codepipeline_ListPipelines": "release pipelines",
    "codebuild_ListProjects": "CodeBuild projects",
    "ssm-incidents_ListResponsePlans": "Incident Manager response plans",
    "ssm-contacts_ListContacts": "Incident Manager on-call contacts and escalation plans",
    "rds_DescribeDBInstances": "RDS DB instances with encryption, public access, backup and upgrade settings",
    "rds_DescribeDBClusters": "Aurora and Multi-AZ DB clusters with encryption and backup settings",
    "efs_DescribeFileSystems": "EFS file systems and their encryption",
    "s3_ListBuckets": "the S3 buckets of the account (scope for bucket-level checks)",
    "dynamodb_ListTables": "DynamoDB tables",
    "lambda_ListFunctions": "Lambda functions with runtimes, roles and VPC settings",
    "eks_ListClusters": "EKS clusters",
    "ecr_DescribeRepositories": "ECR repositories with scan-on-push and tag immutability settings",
    "cloudfront_ListDistributions": "CloudFront distributions with viewer protocol, TLS and WAF settings",
    "elbv2_DescribeLoadBalancers": "Application, Network and Gateway Load Balancers",
    "route53_ListHostedZones": "Route 53 hosted zones",
    "securityhub_GetFindings": "active Security Hub findings with severity and workflow status",
    "organizations_ListRoots": "the organization root, whose policy types show SCPs are on",
    "ssm_DescribeMaintenanceWindows": "maintenance windows that schedule patching and changes",
    "ssm_ListDocuments": "Systems Manager documents, including runbooks",
    "ec2_DescribeImages": "AMIs owned by the account (golden images)",
    "ec2_DescribeLaunchTemplates": "launch templates used to build instances",
    "ec2_DescribeSnapshots": "EBS snapshots with encryption state",
    "ec2_DescribeVolumes": "EBS volumes with encryption state",
    "ec2_DescribeRegions": "the Regions enabled for the account (where data may reside)",
}

# What each CloudTrail event shows when it occurs, in our words.
CT_NOTES = {
    "signin_ConsoleLogin": "console sign-ins, with MFA use, success or failure and identity type (root or user)",
    "signin_CheckMfa": "MFA checks during console sign-in",
}
MANUAL_NAME_WORDS = 9


# --------------------------------------------------------------------------------------------
# Reference tables
# --------------------------------------------------------------------------------------------
def _read_tsv(name: str) -> list[dict[str, str]]:
    with open(CONTENT_DIR / name, newline="", encoding="utf-8") as f:
        return [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(f, delimiter="\t")]


@functools.cache
def security_hub() -> dict[str, dict[str, str]]:
    return {r["control_id"]: r for r in _read_tsv("aws-security-hub-controls.tsv")}


@functools.cache
def config_rules() -> dict[str, dict[str, str]]:
    return {r["identifier"]: r for r in _read_tsv("aws-config-managed-rules.tsv")}


@functools.cache
def conformance_packs() -> dict[str, set[str]]:
    packs: dict[str, set[str]] = {}
    for r in _read_tsv("aws-conformance-pack-rules.tsv"):
        packs.setdefault(r["conformance_pack"], set()).add(r["config_rule_identifier"])
    return packs


@functools.cache
def _botocore():
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _service_model(client: str):
    return _botocore().get_service_model(client)


_SIGNIN_EVENTS = frozenset({"ConsoleLogin", "CheckMfa", "SwitchRole", "ExitRole"})
# Event source prefixes whose botocore service has another name (the quick path; anything
# else falls back to scanning every service model).
_PREFIX_SERVICE = {"monitoring": "cloudwatch", "access-analyzer": "accessanalyzer", "elasticloadbalancing": "elbv2"}


def _event_prefix(model) -> str:
    prefix = model.endpoint_prefix
    if prefix.startswith("api.") and "." not in prefix[4:]:
        prefix = prefix[4:]
    return prefix


@functools.cache
def _event_sources() -> dict[str, frozenset[str]]:
    """CloudTrail event source prefix -> operation names, over every service (slow: ~3 s)."""
    out: dict[str, set[str]] = {"signin": set(_SIGNIN_EVENTS)}
    for name in _botocore().get_available_services():
        m = _service_model(name)
        out.setdefault(_event_prefix(m), set()).update(m.operation_names)
    return {k: frozenset(v) for k, v in out.items()}


@functools.cache
def _quick_events(prefix: str) -> frozenset[str]:
    if prefix == "signin":
        return _SIGNIN_EVENTS
    name = _PREFIX_SERVICE.get(prefix, prefix)
    if name in _botocore().get_available_services():
        m = _service_model(name)
        if _event_prefix(m) == prefix:
            return frozenset(m.operation_names)
    return frozenset()


def api_call_problem(keyword: str) -> str | None:
    """None if `keyword` is a read-only operation callable without parameters, else why not."""
    client, sep, op = keyword.partition("_")
    if not sep:
        return "no underscore"
    if client not in _botocore().get_available_services():
        return f"no botocore service {client!r}"
    model = _service_model(client)
    if op not in model.operation_names:
        return f"{client} has no operation {op}"
    if not re.match(r"^(List|Describe|Get)[A-Z]", op):
        return "not a List/Describe/Get operation"
    shape = model.operation_model(op).input_shape
    if shape is not None and shape.required_members:
        return f"requires parameters {shape.required_members}"
    return None


def cloudtrail_problem(keyword: str) -> str | None:
    prefix, sep, event = keyword.partition("_")
    if not sep:
        return "no underscore"
    if event in _quick_events(prefix):
        return None
    events = _event_sources().get(prefix)
    if events is None:
        return f"no event source {prefix}.amazonaws.com"
    if event not in events:
        return f"{prefix} has no event {event}"
    return None


def keyword_problem(source_type: str, keyword: str) -> str | None:
    if not (1 <= len(keyword) <= LIMITS["keywordValue"]) or not KEYWORD_RE.match(keyword):
        return "keyword breaks Audit Manager's keywordValue pattern or length"
    if source_type == "AWS_Security_Hub":
        return None if keyword in security_hub() else "not in aws-security-hub-controls.tsv"
    if source_type == "AWS_Config":
        return None if keyword in config_rules() else "not in aws-config-managed-rules.tsv"
    if source_type == "AWS_API_Call":
        return api_call_problem(keyword)
    if source_type == "AWS_Cloudtrail":
        return cloudtrail_problem(keyword)
    return f"unknown source type {source_type}"


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One control as authored: an id, a short title and our prose."""

    id: str
    title: str
    domain: str
    desc: str
    test: str
    auto: str = ""
    manual: str | None = None
    act: str | None = None
    nist: str = ""
    extra: dict = field(default_factory=dict)


def C(id, title, domain, desc, test, auto="", manual=None, act=None, nist="", **extra) -> Row:
    return Row(id, title, domain, " ".join(desc.split()), " ".join(test.split()), " ".join(auto.split()),
               " ".join(manual.split()) if manual else None, " ".join(act.split()) if act else None,
               nist, extra)


def expand(tokens: str, _seen: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Expand a token string into ordered, de-duplicated (sourceType, keyword) pairs."""
    out: list[tuple[str, str]] = []
    for tok in tokens.split():
        if tok.startswith("@"):
            name = tok[1:]
            if name in _seen:
                raise ValueError(f"bundle cycle at {name}")
            if name not in BUNDLES:
                raise KeyError(f"unknown bundle {name}")
            pairs = expand(BUNDLES[name], _seen + (name,))
        else:
            prefix, sep, kw = tok.partition(":")
            if not sep or prefix not in PREFIX_TYPE:
                raise ValueError(f"bad token {tok!r}")
            pairs = [(PREFIX_TYPE[prefix], kw)]
            # A Security Hub control brings the AWS Config rule it runs, so the control is
            # evidenced whether an account uses Security Hub or only AWS Config.
            rule = security_hub().get(kw, {}).get("config_rule_identifier") if prefix == "sh" else None
            if rule and rule in config_rules():
                pairs.append(("AWS_Config", rule))
        for p in pairs:
            if p not in out:
                out.append(p)
    return out


def _ct_note(keyword: str) -> str:
    if keyword in CT_NOTES:
        return CT_NOTES[keyword]
    event = keyword.partition("_")[2]
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+", event)
    words = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in parts)
    return f"each '{words}' call, with caller identity, time, source address and parameters"


_TROUBLE = {
    "AWS_Security_Hub": "No evidence: Security Hub must be enabled with a standard that includes {kw} in "
                        "every account and Region in scope.",
    "AWS_Config": "No evidence: AWS Config must be recording and the managed rule {kw} deployed (alone or "
                  "in a conformance pack) in every account and Region in scope.",
    "AWS_API_Call": "No evidence: the collection role needs read-only permission for this call (the "
                    "SecurityAudit managed policy covers it) in every account in scope.",
    "AWS_Cloudtrail": "No events: a trail must record management events in the account and Region, and "
                      "the collection role needs cloudtrail:LookupEvents. No events can also mean the "
                      "action did not happen in the period.",
}


def source(source_type: str, keyword: str) -> dict:
    """An API-shaped ControlMappingSource (without sourceId) for one keyword."""
    problem = keyword_problem(source_type, keyword)
    if problem:
        raise ValueError(f"{source_type} {keyword}: {problem}")
    kw = {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword}
    if source_type == "AWS_Security_Hub":
        row = security_hub()[keyword]
        note = SH_NOTES.get(keyword)
        desc = (f"Security Hub control {keyword} findings: checks that {note}." if note
                else f"Security Hub control {keyword} findings ({row['category'] or 'security check'}).")
        if row["config_rule_name"]:
            desc += f" Backed by AWS Config rule {row['config_rule_name']}."
        name = f"Security Hub {keyword}"
    elif source_type == "AWS_Config":
        row = config_rules()[keyword]
        note = next((SH_NOTES[c] for c, r in sorted(security_hub().items())
                     if r["config_rule_identifier"] == keyword and c in SH_NOTES), None)
        desc = f"AWS Config managed rule {row['rule_name']}: compliance result per evaluated resource"
        desc += f" ({note})." if note else "."
        name = f"Config rule {row['rule_name']}"
    elif source_type == "AWS_API_Call":
        client, _, op = keyword.partition("_")
        note = API_NOTES.get(keyword)
        desc = f"Snapshot of {client} {op}" + (f": {note}." if note else ".")
        name = f"API {client} {op}"
    else:
        prefix, _, event = keyword.partition("_")
        desc = f"CloudTrail events {prefix}.amazonaws.com {event}: {_ct_note(keyword)}."
        name = f"CloudTrail {prefix} {event}"
    src = {"sourceName": name[: LIMITS["sourceName"]], "sourceDescription": desc,
           "sourceSetUpOption": "System_Controls_Mapping", "sourceType": source_type, "sourceKeyword": kw,
           "troubleshootingText": _TROUBLE[source_type].format(kw=keyword)}
    if source_type == "AWS_API_Call":
        src["sourceFrequency"] = "DAILY"
    return src


def manual_source(text: str) -> dict:
    words = text.split()
    short = " ".join(words[:MANUAL_NAME_WORDS]).rstrip(",;:.")
    if len(words) > MANUAL_NAME_WORDS:
        short += "..."
    name = f"Manual: {short}"
    if len(name) > LIMITS["sourceName"]:
        name = name[: LIMITS["sourceName"] - 3].rsplit(" ", 1)[0] + "..."
    return {"sourceName": name, "sourceDescription": f"Upload: {text}",
            "sourceSetUpOption": "Procedural_Controls_Mapping", "sourceType": "MANUAL"}


# --------------------------------------------------------------------------------------------
# nist_map (written by the NIST/FedRAMP builder); optional
# --------------------------------------------------------------------------------------------
@functools.cache
def _nist_map():
    path = HERE.parent / "nist_map.py"
    if not path.exists():
        return None
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    mod = importlib.import_module("nist_map")
    return getattr(mod, "sources_for", None)


def nist_available() -> bool:
    return _nist_map() is not None


def nist_sources(nist_ids: str) -> list[dict]:
    """Automated sources nist_map gives for the listed NIST controls, validated, in order."""
    fn = _nist_map()
    if fn is None or not nist_ids.split():
        return []
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for nid in nist_ids.split():
        if nid.startswith("~"):
            continue  # corresponds, but its evidence is broader than the requirement
        for s in fn(nid) or []:
            t = s.get("sourceType")
            kw = (s.get("sourceKeyword") or {}).get("keywordValue")
            if t not in SOURCE_ORDER or not kw or (t, kw) in seen:
                continue
            if keyword_problem(t, kw):
                continue  # never ship a keyword we cannot vouch for
            seen.add((t, kw))
            out.append(source(t, kw))  # our own name/description, consistent with the rest
    return out


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
def _short_list(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def control_record(content, row: Row, use_nist: bool) -> dict:
    sources = [source(t, kw) for t, kw in expand(row.auto)]
    # NIST-mapped evidence is added only where the row itself has automated evidence: for a
    # purely procedural requirement the NIST control's AWS checks would be noise.
    if use_nist and row.nist and row.auto:
        have = {(s["sourceType"], s["sourceKeyword"]["keywordValue"]) for s in sources}
        added = [s for s in nist_sources(row.nist)
                 if (s["sourceType"], s["sourceKeyword"]["keywordValue"]) not in have]
        sources += added[:NIST_CAP]
    sources.sort(key=lambda s: SOURCE_ORDER.index(s["sourceType"]))  # stable within a type
    if row.manual:
        sources.append(manual_source(row.manual))
    if not sources:
        raise ValueError(f"{row.id}: no evidence source")

    checks = [s["sourceKeyword"]["keywordValue"] for s in sources
              if s["sourceType"] in ("AWS_Security_Hub", "AWS_Config")]
    parts = []
    if row.act:
        parts.append(row.act)
    if checks:
        parts.append(f"Clear failed findings of {_short_list(checks)} in every in-scope account and Region.")
    if row.manual:
        parts.append(f"Evidence to upload: {row.manual}")
    instructions = " ".join(parts) or "Review the collected evidence against the requirement."
    if len(instructions) > LIMITS["actionPlanInstructions"]:
        instructions = instructions[: LIMITS["actionPlanInstructions"] - 1].rsplit(" ", 1)[0] + "\u2026"

    rec = {
        "key": content.KEY_PREFIX + row.id,
        "name": f"{content.NAME_PREFIX}{row.id} {row.title}",
        "description": row.desc,
        "testingInformation": row.test,
        "actionPlanTitle": row.extra.get("act_title") or row.title,
        "actionPlanInstructions": instructions,
        "domain": row.domain,
        "controlMappingSources": sources,
    }
    return rec


def check_record(rec: dict) -> list[str]:
    """Problems with one control record (limits, domain, keywords); empty when fine."""
    errs = []
    k = rec["key"]
    if not (1 <= len(rec["name"]) <= LIMITS["control_name"]) or "\\" in rec["name"]:
        errs.append(f"{k}: name length/backslash")
    for f in ("description", "testingInformation", "actionPlanInstructions"):
        if not rec.get(f) or len(rec[f]) > LIMITS[f]:
            errs.append(f"{k}: {f} empty or longer than {LIMITS[f]} ({len(rec.get(f) or '')})")
    if not rec.get("actionPlanTitle") or len(rec["actionPlanTitle"]) > LIMITS["actionPlanTitle"]:
        errs.append(f"{k}: actionPlanTitle")
    if rec["domain"] not in DOMAINS:
        errs.append(f"{k}: domain {rec['domain']}")
    if not rec["controlMappingSources"]:
        errs.append(f"{k}: no sources")
    for s in rec["controlMappingSources"]:
        if not (1 <= len(s["sourceName"]) <= LIMITS["sourceName"]):
            errs.append(f"{k}: sourceName {s['sourceName']!r}")
        if len(s.get("sourceDescription", "")) > LIMITS["sourceDescription"]:
            errs.append(f"{k}: sourceDescription too long")
        if s["sourceType"] == "MANUAL":
            if s["sourceSetUpOption"] != "Procedural_Controls_Mapping" or "sourceKeyword" in s:
                errs.append(f"{k}: bad manual source")
            continue
        p = keyword_problem(s["sourceType"], s["sourceKeyword"]["keywordValue"])
        if p:
            errs.append(f"{k}: {s['sourceType']} {s['sourceKeyword']['keywordValue']}: {p}")
        if len(s.get("troubleshootingText", "")) > 1000:
            errs.append(f"{k}: troubleshootingText too long")
        if ("sourceFrequency" in s) != (s["sourceType"] == "AWS_API_Call"):
            errs.append(f"{k}: sourceFrequency only on AWS_API_Call")
    return errs


def build_payload(content, use_nist: bool = True) -> dict:
    controls, sets, keys = [], [], set()
    for set_name, rows in content.CONTROL_SETS:
        if not (1 <= len(set_name) <= LIMITS["controlSetName"]) or "_" in set_name or "\\" in set_name:
            raise ValueError(f"bad control set name {set_name!r}")
        members = []
        for row in rows:
            rec = control_record(content, row, use_nist)
            if rec["key"] in keys:
                raise ValueError(f"duplicate control {rec['key']}")
            errs = check_record(rec)
            if errs:
                raise ValueError("; ".join(errs))
            keys.add(rec["key"])
            controls.append(rec)
            members.append(rec["key"])
        sets.append({"name": set_name, "controls": members})
    fw = dict(content.FRAMEWORK)
    fw["controlSets"] = sets
    if not (1 <= len(fw["description"]) <= LIMITS["frameworkDescription"]):
        raise ValueError("framework description length")
    if len(fw["complianceType"]) > LIMITS["complianceType"]:
        raise ValueError("complianceType length")
    provenance = content.PROVENANCE
    if use_nist and any(r.nist for _, rows in content.CONTROL_SETS for r in rows):
        provenance += (" Evidence also drawn from the NIST SP 800-53 r5 evidence map "
                       "(tools/library/nist_map.py) for the NIST controls each requirement corresponds to."
                       if nist_available() else "")
    return {"provenance": provenance, "controls": controls, "frameworks": [fw]}


def dumps(payload: dict) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def build(content, filename: str, out_dir: Path | None = None, use_nist: bool = True) -> Path:
    out_dir = Path(out_dir) if out_dir else DATA_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = build_payload(content, use_nist=use_nist)
    path = out_dir / filename
    data = dumps(payload)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    n = len(payload["controls"])
    auto = sum(any(s["sourceType"] != "MANUAL" for s in c["controlMappingSources"]) for c in payload["controls"])
    try:
        shown = path.relative_to(REPO)
    except ValueError:
        shown = path
    print(f"wrote {shown}: {n} controls, {auto} with automated evidence")
    return path
