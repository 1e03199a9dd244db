"""CIS Amazon Web Services Foundations Benchmark v3.0.0: recommendation ids with our own titles.

The benchmark text is copyrighted by the Center for Internet Security: only its recommendation
numbers are used here. Titles, descriptions, tests and remediation are written by Assay's
authors. The Security Hub mappings (aws-security-hub-controls.tsv, April 2023) cite CIS v1.2.0
and v1.4.0; they were carried to the v3.0.0 numbering by matching what each recommendation
checks (e.g. v1.4.0 3.9 VPC flow logs is v3.0.0 3.7), together with the rules of AWS's
CIS v1.4 conformance packs.
"""
from extra_common import AM, BC, C, CM, DP, GRC, IAM, IR, LOG, NET, VM  # noqa: F401

KEY_PREFIX = "CIS-AWS-v3.0/"
NAME_PREFIX = ""
PROVENANCE = (
    "Recommendation numbers of the CIS Amazon Web Services Foundations Benchmark v3.0.0 (Center for "
    "Internet Security). Only the numbers are CIS's: every title, description, test procedure and "
    "action plan here is written by Assay's authors and is not the benchmark text; obtain the "
    "benchmark from CIS. Evidence mappings use the related-requirement facts of AWS Security Hub "
    "controls (which cite CIS v1.2.0/v1.4.0, carried to v3.0.0 by meaning) and AWS's CIS conformance "
    "packs (aws-config-rules, CC0)."
)
FRAMEWORK = {
    "key": "cis-aws-foundations-v3.0",
    "name": "CIS AWS Foundations Benchmark v3.0.0",
    "description": (
        "Configuration baseline for the foundational security of an AWS account: identity and access "
        "management, storage, logging, monitoring and networking. Each control is one recommendation "
        "of CIS Amazon Web Services Foundations Benchmark v3.0.0, identified by its number, with "
        "titles and guidance written by Assay. Most recommendations are evidenced automatically from "
        "Security Hub, AWS Config, API snapshots and CloudTrail; the rest ask for a document."
    ),
    "complianceType": "CIS",
}

_MF = ("Confirm a CloudWatch Logs metric filter on the multi-Region trail's log group matches {what}, "
       "an alarm on that metric is in OK or ALARM state (not INSUFFICIENT_DATA) with an action, and "
       "the SNS topic has at least one confirmed subscriber. Security Hub {sh} must pass.")
_MF_ACT = ("Send the multi-Region trail to CloudWatch Logs, add a metric filter for {what}, create an "
           "alarm (threshold 1 in 5 minutes) that notifies an SNS topic with a monitored subscriber.")


def _monitor(id, title, what, sh, events):
    return C(id, title, LOG,
             f"Unexpected {what} should reach a person within minutes, not at the next audit. The "
             "account streams CloudTrail to CloudWatch Logs and alarms on a metric filter for these "
             "events, notifying a monitored channel.",
             _MF.format(what=what, sh=sh),
             auto=f"sh:{sh} @trail_cwl @alarm_plumbing {events}",
             act=_MF_ACT.format(what=what))


SECTION_1 = [
    C("1.1", "Account contact details are current", GRC,
      "The primary contact of each account (name, company, address, phone, email) reaches people "
      "who can act for the organization, so AWS can report abuse or compromise and the account can "
      "be recovered. Use a monitored distribution list rather than one person's mailbox.",
      "Compare the GetContactInformation snapshot with the organization's current details and "
      "confirm the email is a monitored alias; check the review record for the last 12 months.",
      auto="api:account_GetContactInformation",
      manual="record of the periodic review of account contact details (date, reviewer, accounts "
             "covered) and the owner of the contact mailbox.",
      act="Set the primary contact in Account settings (or with aws account put-contact-information) "
          "for every account; point email at a monitored alias."),
    C("1.2", "Security contact registered", IR,
      "Each account names an alternate security contact so AWS security notices reach the security "
      "team directly.",
      "Config rule security-account-information-provided is compliant for every account; spot-check "
      "that the named address is monitored.",
      auto="@contacts",
      act="Add the security alternate contact (aws account put-alternate-contact "
          "--alternate-contact-type SECURITY) in every account, using a team alias."),
    C("1.3", "Account security challenge questions set", IAM,
      "Where the account still offers security challenge questions for root recovery, they are set "
      "and the answers held securely by the account owners. AWS has been retiring this feature; "
      "accounts without it record that the item does not apply.",
      "Inspect the account settings page (screenshot) or the owner's attestation, and where the "
      "answers are stored (password vault entry, not shared in clear text).",
      manual="screenshot of the account settings showing challenge questions configured, or a note "
             "that the account no longer offers them, plus where the answers are vaulted."),
    C("1.4", "No access keys for the root user", IAM,
      "The root user has full, unrestrictable power over the account. Programmatic keys for it are "
      "long-lived and easily leaked, so none should exist; automation uses roles.",
      "Security Hub IAM.4 passes and the GetAccountSummary snapshot shows AccountAccessKeysPresent = 0 "
      "in every account. CloudTrail CreateAccessKey events by the root identity must be absent.",
      auto="@root_keys ct:iam_CreateAccessKey",
      act="Sign in as root, delete any access keys under Security credentials, and move their users to "
          "IAM roles."),
    C("1.5", "MFA on the root user", IAM,
      "The root user signs in only with a second factor, so a stolen password alone cannot take over "
      "the account.",
      "Security Hub IAM.9 passes and GetAccountSummary shows AccountMFAEnabled = 1 for every account.",
      auto="sh:IAM.9 cfg:ROOT_ACCOUNT_MFA_ENABLED api:iam_GetAccountSummary api:iam_ListVirtualMFADevices",
      act="Assign an MFA device to the root user of every account; keep the device in a controlled "
          "location with a named custodian."),
    C("1.6", "Hardware MFA on the root user", IAM,
      "Root MFA uses a dedicated hardware device (FIDO key or hardware TOTP token) rather than an "
      "app on a phone used for other things, reducing the ways the factor can be copied or lost.",
      "Security Hub IAM.6 passes; the ListVirtualMFADevices snapshot shows no virtual device assigned "
      "to the root ARN while AccountMFAEnabled = 1.",
      auto="sh:IAM.6 cfg:ROOT_ACCOUNT_HARDWARE_MFA_ENABLED api:iam_ListVirtualMFADevices api:iam_GetAccountSummary",
      manual="custody record of the root hardware MFA devices (serials, holder, storage location).",
      act="Replace virtual root MFA with a hardware device per account; record the serial and custodian."),
    C("1.7", "Root user not used for daily work", IAM,
      "Administration is done through named identities with least privilege; the root user is kept "
      "for the few tasks that require it, so its use is rare and each use is explainable.",
      "Review ConsoleLogin events whose identity type is Root and the credential report's "
      "password_last_used for <root_account>; each use must match an approved task. CloudWatch.1 "
      "shows an alarm on root activity.",
      auto="@root_use sh:IAM.4",
      manual="log of approved root-user uses in the period (date, account, task, approver).",
      act="Create administrative roles or Identity Center permission sets, stop using root, and alarm "
          "on any root sign-in."),
    C("1.8", "Passwords of 14 characters or more", IAM,
      "IAM user passwords must be at least 14 characters, which resists guessing far better than "
      "short complex passwords.",
      "Security Hub IAM.15 passes; GetAccountPasswordPolicy shows MinimumPasswordLength >= 14.",
      auto="sh:IAM.15 cfg:IAM_PASSWORD_POLICY api:iam_GetAccountPasswordPolicy ct:iam_UpdateAccountPasswordPolicy",
      act="aws iam update-account-password-policy --minimum-password-length 14 (keep other settings)."),
    C("1.9", "Password history blocks reuse", IAM,
      "IAM users cannot cycle back to a recent password; the policy remembers at least the last 24.",
      "Security Hub IAM.16 passes; GetAccountPasswordPolicy shows PasswordReusePrevention = 24.",
      auto="sh:IAM.16 cfg:IAM_PASSWORD_POLICY api:iam_GetAccountPasswordPolicy ct:iam_UpdateAccountPasswordPolicy",
      act="aws iam update-account-password-policy --password-reuse-prevention 24."),
    C("1.10", "MFA for every IAM user with a console password", IAM,
      "Any IAM user who can sign in to the console must use MFA.",
      "Security Hub IAM.5 passes; in the credential report no user has password_enabled = true "
      "with mfa_active = false.",
      auto="sh:IAM.5 cfg:MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS api:iam_GetCredentialReport "
           "api:iam_ListVirtualMFADevices ct:iam_DeactivateMFADevice",
      act="Enroll MFA for each listed user or remove the console password; deny actions without MFA "
          "through a policy condition aws:MultiFactorAuthPresent."),
    C("1.11", "No access keys created at user setup", IAM,
      "Console users are not handed access keys by default when their account is created; keys are "
      "issued later, only for a stated need, so unused keys do not accumulate.",
      "In the credential report, no console user has an access key that was never used "
      "(access_key_N_last_used_date = N/A) with a creation time matching user_creation_time. "
      "Compare CreateLoginProfile and CreateAccessKey events for the same user.",
      auto="api:iam_GetCredentialReport ct:iam_CreateAccessKey ct:iam_CreateLoginProfile",
      act="Delete never-used access keys of console users and change onboarding so keys are requested "
          "separately."),
    C("1.12", "Credentials unused for 45 days are disabled", IAM,
      "Passwords and access keys not used for 45 days or more are disabled or removed, shrinking the "
      "set of credentials an attacker could use unnoticed.",
      "Security Hub IAM.22 passes; the credential report shows no active password or key whose last "
      "use (or creation, if never used) is older than 45 days.",
      auto="sh:IAM.22 sh:IAM.8 cfg:IAM_USER_UNUSED_CREDENTIALS_CHECK api:iam_GetCredentialReport @key_lifecycle",
      act="Run the credential report weekly; deactivate stale keys and remove stale console passwords; "
          "set maxCredentialUsageAge=45 on the Config rule."),
    C("1.13", "At most one active access key per IAM user", IAM,
      "Each IAM user has no more than one active access key; two are tolerated only during a "
      "rotation, which keeps ownership and rotation of keys clear.",
      "In the credential report, no user has both access_key_1_active and access_key_2_active true "
      "outside a documented rotation window.",
      auto="api:iam_GetCredentialReport @key_lifecycle",
      act="Deactivate and delete the older key for users listed with two active keys."),
    C("1.14", "Access keys rotated within 90 days", IAM,
      "Active access keys are replaced at least every 90 days so a leaked key has a bounded life.",
      "Security Hub IAM.3 passes; the credential report shows no active key with "
      "access_key_N_last_rotated older than 90 days.",
      auto="@key_rotation @key_lifecycle",
      act="Create a new key, switch the consumer, deactivate then delete the old key; prefer roles so "
          "no key is needed."),
    C("1.15", "IAM users get permissions only through groups", IAM,
      "Policies are attached to groups (or roles), not to individual users, so access follows job "
      "function and can be reviewed per group.",
      "Security Hub IAM.2 passes; GetAccountAuthorizationDetails shows no user with "
      "AttachedManagedPolicies or UserPolicyList entries.",
      auto="@group_permissions api:iam_GetAccountAuthorizationDetails ct:iam_AttachUserPolicy ct:iam_PutUserPolicy",
      act="Move each user's directly attached or inline policies to a group for the job function and "
          "detach them from the user."),
    C("1.16", "No policies granting full administrative '*:*' access", IAM,
      "No customer managed policy allows every action on every resource. Broad administrative access, "
      "where needed, comes from a small, reviewed set of roles.",
      "Security Hub IAM.1 passes; GetAccountAuthorizationDetails shows no attached policy version with "
      "Effect Allow, Action '*' and Resource '*'.",
      auto="sh:IAM.1 cfg:IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS api:iam_GetAccountAuthorizationDetails "
           "@policy_changes",
      act="Replace '*:*' statements with the actions and resources needed; detach the policy where no "
          "one needs it."),
    C("1.17", "Support role for AWS Support incidents", IR,
      "A role with the AWSSupportAccess managed policy lets named people open and manage AWS Support "
      "cases during an incident without broader rights.",
      "Security Hub IAM.18 passes; ListPolicies shows AWSSupportAccess with AttachmentCount >= 1 and "
      "the attached entity is a role assumable by the incident team.",
      auto="sh:IAM.18 cfg:IAM_POLICY_IN_USE api:iam_ListPolicies api:iam_ListRoles",
      act="Create a role trusted by the incident responders' identities and attach AWSSupportAccess."),
    C("1.18", "EC2 instances use IAM roles for AWS access", IAM,
      "Software on EC2 instances reaches AWS APIs with temporary credentials from an instance role, "
      "never with access keys stored on the instance.",
      "Config rule ec2-instance-profile-attached is compliant; DescribeIamInstanceProfileAssociations "
      "covers every running instance that calls AWS APIs.",
      auto="@instance_roles api:ec2_DescribeInstances",
      act="Attach an instance profile with least-privilege permissions and remove keys from instance "
          "configuration files and environment."),
    C("1.19", "Expired TLS certificates removed from IAM", DP,
      "Server certificates stored in IAM that have expired are deleted, so they cannot be deployed "
      "to a load balancer or CloudFront by mistake.",
      "The ListServerCertificates snapshot shows no certificate with Expiration in the past.",
      auto="api:iam_ListServerCertificates ct:iam_UploadServerCertificate ct:iam_DeleteServerCertificate",
      act="aws iam delete-server-certificate for each expired certificate; prefer ACM, which renews."),
    C("1.20", "IAM Access Analyzer enabled in all Regions", IAM,
      "An IAM Access Analyzer (account or organization zone of trust) runs in every active Region "
      "and reports resources shared outside the trust zone.",
      "The ListAnalyzers snapshot shows an ACTIVE analyzer in each Region used; no DeleteAnalyzer "
      "events without replacement.",
      auto="@access_analyzer",
      act="Create an analyzer per Region (organization type from the delegated administrator)."),
    C("1.21", "Users managed centrally through federation or Organizations", IAM,
      "In multi-account environments, people sign in through a central identity provider (IAM "
      "Identity Center or SAML/OIDC federation) and accounts are grouped in AWS Organizations, "
      "instead of separate IAM users in each account.",
      "The snapshots show an Identity Center instance or SAML providers, and the account inside an "
      "organization; the credential report shows few or no human IAM users.",
      auto="@federation @org api:iam_GetCredentialReport",
      manual="description of the identity source and account structure: identity provider, how "
             "accounts are provisioned, and the list of any remaining IAM users with justification.",
      act="Enable IAM Identity Center with the corporate directory, grant access via permission sets, "
          "and retire per-account IAM users."),
    C("1.22", "AWSCloudShellFullAccess restricted", IAM,
      "The AWSCloudShellFullAccess managed policy lets users move files in and out of CloudShell "
      "freely; it is attached to no one, or only to a justified few.",
      "ListPolicies shows AWSCloudShellFullAccess with AttachmentCount = 0 (or only approved "
      "entities in GetAccountAuthorizationDetails); iam-policy-blacklisted-check, set to that policy "
      "ARN, is compliant.",
      auto="cfg:IAM_POLICY_BLACKLISTED_CHECK api:iam_ListPolicies api:iam_GetAccountAuthorizationDetails "
           "ct:iam_AttachUserPolicy ct:iam_AttachRolePolicy ct:iam_AttachGroupPolicy",
      act="Detach AWSCloudShellFullAccess; grant a scoped CloudShell policy where needed. Set the "
          "policyArns parameter of iam-policy-blacklisted-check to "
          "arn:aws:iam::aws:policy/AWSCloudShellFullAccess."),
]

SECTION_2 = [
    C("2.1.1", "S3 bucket policies deny plain HTTP", DP,
      "Every bucket policy denies requests made without TLS (aws:SecureTransport false), so data "
      "never travels to or from S3 in clear text.",
      "Security Hub S3.5 passes for every bucket; PutBucketPolicy events show no policy removing "
      "the deny.",
      auto="sh:S3.5 cfg:S3_BUCKET_SSL_REQUESTS_ONLY api:s3_ListBuckets ct:s3_PutBucketPolicy ct:s3_DeleteBucketPolicy",
      act="Add a Deny statement for all principals and actions when aws:SecureTransport is false to each "
          "bucket policy."),
    C("2.1.2", "MFA Delete on S3 buckets", DP,
      "Buckets holding critical data have versioning with MFA Delete, so deleting object versions or "
      "turning versioning off requires the root user's MFA.",
      "For each critical bucket, the versioning configuration shows MFADelete Enabled; "
      "PutBucketVersioning events show no suspension. Versioning itself is checked by S3.14.",
      auto="sh:S3.14 cfg:S3_BUCKET_VERSIONING_ENABLED api:s3_ListBuckets ct:s3_PutBucketVersioning",
      manual="list of buckets in scope with the output of get-bucket-versioning showing MFADelete "
             "Enabled for each.",
      act="As root with MFA: aws s3api put-bucket-versioning --versioning-configuration "
          "Status=Enabled,MFADelete=Enabled --mfa '<serial> <code>'."),
    C("2.1.3", "S3 data discovered and classified", DP,
      "Data in S3 is discovered and classified (for example with Amazon Macie) so sensitive data is "
      "known and protected according to its class.",
      "Macie is enabled, discovery jobs or automated discovery cover the buckets in scope, and "
      "findings are triaged. Compare with the data classification policy.",
      auto="@data_discovery",
      manual="data classification policy and evidence that sensitive-data findings are triaged "
             "(ticket sample).",
      act="Enable Macie (organization-wide), turn on automated sensitive data discovery, route "
          "findings to the owners."),
    C("2.1.4", "S3 Block Public Access on", DP,
      "Block Public Access is enabled at account level and on buckets, so no ACL or policy can make "
      "data public by mistake.",
      "Security Hub S3.1 and S3.8 pass; Config rules show account-level and bucket-level blocks on.",
      auto="sh:S3.1 sh:S3.8 cfg:S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC "
           "cfg:S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED sh:S3.2 sh:S3.3 cfg:S3_BUCKET_PUBLIC_READ_PROHIBITED "
           "api:s3_ListBuckets",
      act="aws s3control put-public-access-block --account-id <id> with all four settings true; "
          "enforce it with an SCP."),
    C("2.2.1", "Default EBS encryption in every Region", DP,
      "New EBS volumes and snapshot copies are encrypted automatically in every Region.",
      "Security Hub EC2.7 passes; GetEbsEncryptionByDefault returns true in each Region; "
      "DisableEbsEncryptionByDefault events are absent.",
      auto="sh:EC2.7 cfg:EC2_EBS_ENCRYPTION_BY_DEFAULT api:ec2_GetEbsEncryptionByDefault sh:EC2.3 "
           "ct:ec2_DisableEbsEncryptionByDefault",
      act="aws ec2 enable-ebs-encryption-by-default in each Region (optionally set a KMS key)."),
    C("2.3.1", "RDS storage encrypted", DP,
      "RDS database storage, automated backups, replicas and snapshots are encrypted with KMS.",
      "Security Hub RDS.3 passes; DescribeDBInstances shows StorageEncrypted true for each instance.",
      auto="sh:RDS.3 sh:RDS.4 cfg:RDS_STORAGE_ENCRYPTED api:rds_DescribeDBInstances",
      act="Snapshot the unencrypted instance, copy the snapshot with encryption, restore and switch over."),
    C("2.3.2", "RDS automatic minor version upgrades", VM,
      "RDS instances take engine minor versions, which carry security fixes, automatically in "
      "their maintenance window.",
      "Security Hub RDS.13 passes; DescribeDBInstances shows AutoMinorVersionUpgrade true.",
      auto="sh:RDS.13 cfg:RDS_AUTOMATIC_MINOR_VERSION_UPGRADE_ENABLED api:rds_DescribeDBInstances",
      act="aws rds modify-db-instance --auto-minor-version-upgrade --apply-immediately."),
    C("2.3.3", "No public endpoints on RDS instances", NET,
      "Database instances have no public endpoint; clients reach them from inside the VPC or through "
      "private connectivity.",
      "Security Hub RDS.2 passes; DescribeDBInstances shows PubliclyAccessible false; ModifyDBInstance "
      "events do not turn it on.",
      auto="sh:RDS.2 cfg:RDS_INSTANCE_PUBLIC_ACCESS_CHECK api:rds_DescribeDBInstances ct:rds_ModifyDBInstance",
      act="aws rds modify-db-instance --no-publicly-accessible; place instances in private subnets."),
    C("2.4.1", "EFS file systems encrypted", DP,
      "Elastic File System file systems are encrypted at rest with KMS.",
      "Security Hub EFS.1 passes; DescribeFileSystems shows Encrypted true.",
      auto="sh:EFS.1 cfg:EFS_ENCRYPTED_CHECK api:efs_DescribeFileSystems",
      act="Create an encrypted file system, copy the data (AWS DataSync), switch mounts, delete the old one."),
]

SECTION_3 = [
    C("3.1", "Multi-Region CloudTrail trail recording", LOG,
      "A multi-Region trail records read and write management events for the account, giving an "
      "account-wide history of API activity.",
      "Security Hub CloudTrail.1 passes; DescribeTrails shows IsMultiRegionTrail true with logging "
      "on; no StopLogging or DeleteTrail events without an approved change.",
      auto="sh:CloudTrail.1 sh:CloudTrail.3 cfg:MULTI_REGION_CLOUD_TRAIL_ENABLED api:cloudtrail_DescribeTrails "
           "@trail_tamper",
      act="Create an organization or multi-Region trail with management events (Read and Write)."),
    C("3.2", "Trail log file integrity validation", LOG,
      "Trails write signed digest files so any change to or deletion of a delivered log file can be "
      "detected.",
      "Security Hub CloudTrail.4 passes; DescribeTrails shows LogFileValidationEnabled true.",
      auto="@trail_integrity api:cloudtrail_DescribeTrails ct:cloudtrail_UpdateTrail",
      act="aws cloudtrail update-trail --name <trail> --enable-log-file-validation."),
    C("3.3", "AWS Config recording in every Region", CM,
      "AWS Config records the configuration of all supported resources, including global ones in one "
      "Region, everywhere the account operates.",
      "Security Hub Config.1 passes; the recorder snapshots show recording on, allSupported true and "
      "a working delivery channel per Region.",
      auto="@config_recorder",
      act="Set up a recorder for all resource types and a delivery channel in each Region (or use a "
          "delegated organization setup)."),
    C("3.4", "Access logging on the CloudTrail S3 bucket", LOG,
      "The bucket receiving CloudTrail logs has server access logging, so reads and deletions of "
      "log files are themselves recorded.",
      "Security Hub CloudTrail.7 passes for the trail bucket (DescribeTrails names it).",
      auto="sh:CloudTrail.7 cfg:S3_BUCKET_LOGGING_ENABLED api:cloudtrail_DescribeTrails ct:s3_PutBucketLogging",
      act="Enable server access logging on the trail bucket to a separate, restricted log bucket."),
    C("3.5", "Trail logs encrypted with a customer managed KMS key", LOG,
      "Trails encrypt log files with a customer managed KMS key, adding a key policy check to every "
      "read of the logs.",
      "Security Hub CloudTrail.2 passes; DescribeTrails shows a KmsKeyId for each trail.",
      auto="@trail_encryption api:cloudtrail_DescribeTrails ct:cloudtrail_UpdateTrail",
      act="Create a KMS key whose policy lets CloudTrail encrypt and auditors decrypt; update-trail "
          "--kms-key-id."),
    C("3.6", "Rotation enabled for customer managed symmetric KMS keys", DP,
      "Customer created symmetric KMS keys rotate their key material automatically.",
      "Security Hub KMS.4 passes; DisableKeyRotation events are absent.",
      auto="sh:KMS.4 cfg:CMK_BACKING_KEY_ROTATION_ENABLED api:kms_ListKeys ct:kms_DisableKeyRotation "
           "ct:kms_EnableKeyRotation",
      act="aws kms enable-key-rotation --key-id <id> for each customer managed symmetric key."),
    C("3.7", "Flow logs for every VPC", LOG,
      "Every VPC records flow logs (at least rejected traffic) for investigation of network activity.",
      "Security Hub EC2.6 passes; DescribeFlowLogs covers every VPC in DescribeVpcs.",
      auto="@flow_logs api:ec2_DescribeVpcs",
      act="aws ec2 create-flow-logs --resource-type VPC --traffic-type REJECT (or ALL) for each VPC."),
    C("3.8", "S3 object-level logging of write events", LOG,
      "A trail records S3 data events for writes (PutObject, DeleteObject...) on buckets, so changes "
      "to stored objects can be traced to an identity.",
      "Config rule cloudtrail-s3-dataevents-enabled is compliant; the trail's event selectors include "
      "S3 data events of type WriteOnly or All.",
      auto="@s3_data_events ct:cloudtrail_PutEventSelectors",
      act="aws cloudtrail put-event-selectors with a data resource AWS::S3::Object for all buckets, "
          "ReadWriteType WriteOnly or All."),
    C("3.9", "S3 object-level logging of read events", LOG,
      "A trail records S3 data events for reads (GetObject...) on buckets, so access to stored data "
      "can be traced.",
      "Config rule cloudtrail-s3-dataevents-enabled is compliant; the trail's event selectors include "
      "S3 data events of type ReadOnly or All.",
      auto="@s3_data_events ct:cloudtrail_PutEventSelectors",
      act="aws cloudtrail put-event-selectors with a data resource AWS::S3::Object, ReadWriteType "
          "ReadOnly or All."),
]

SECTION_4 = [
    _monitor("4.1", "Alarm on unauthorized API calls", "AccessDenied and UnauthorizedOperation errors",
             "CloudWatch.2", ""),
    _monitor("4.2", "Alarm on console sign-in without MFA", "console sign-ins without MFA",
             "CloudWatch.3", "ct:signin_ConsoleLogin"),
    _monitor("4.3", "Alarm on root user activity", "use of the root user", "CloudWatch.1",
             "ct:signin_ConsoleLogin"),
    _monitor("4.4", "Alarm on IAM policy changes", "IAM policy creations, changes and attachments",
             "CloudWatch.4", "@policy_changes"),
    _monitor("4.5", "Alarm on CloudTrail configuration changes", "trail creation, update, stop and deletion",
             "CloudWatch.5", "@trail_tamper"),
    _monitor("4.6", "Alarm on console authentication failures", "failed console sign-ins",
             "CloudWatch.6", "ct:signin_ConsoleLogin"),
    _monitor("4.7", "Alarm on disabling or deleting customer managed keys",
             "KMS DisableKey and ScheduleKeyDeletion calls", "CloudWatch.7",
             "ct:kms_DisableKey ct:kms_ScheduleKeyDeletion"),
    _monitor("4.8", "Alarm on S3 bucket policy changes", "bucket policy, ACL and related changes",
             "CloudWatch.8", "@s3_policy_changes"),
    _monitor("4.9", "Alarm on AWS Config configuration changes", "recorder and delivery channel changes",
             "CloudWatch.9", "ct:config_StopConfigurationRecorder ct:config_DeleteConfigurationRecorder "
             "ct:config_DeleteDeliveryChannel ct:config_PutConfigurationRecorder"),
    _monitor("4.10", "Alarm on security group changes", "security group creation, rule and deletion changes",
             "CloudWatch.10", "@sg_changes"),
    _monitor("4.11", "Alarm on network ACL changes", "network ACL and entry changes", "CloudWatch.11",
             "@nacl_changes"),
    _monitor("4.12", "Alarm on network gateway changes", "internet and customer gateway changes",
             "CloudWatch.12", "@gateway_changes"),
    _monitor("4.13", "Alarm on route table changes", "route and route table changes", "CloudWatch.13",
             "@route_changes"),
    _monitor("4.14", "Alarm on VPC changes", "VPC creation, deletion, attribute and peering changes",
             "CloudWatch.14", "@vpc_changes"),
    C("4.15", "Alarm on AWS Organizations changes", LOG,
      "Changes to the organization (accounts joining or leaving, policies created, attached or "
      "detached) reach the security team within minutes.",
      "Confirm a metric filter on the management account's trail log group matches organizations "
      "write events, with an alarm and a confirmed SNS subscriber; compare with the Organizations "
      "events collected.",
      auto="@trail_cwl @alarm_plumbing @org_changes",
      act=_MF_ACT.format(what="organizations.amazonaws.com write events")),
    C("4.16", "Security Hub enabled", LOG,
      "AWS Security Hub is enabled in every account and Region in use, aggregating findings and "
      "running security standards continuously.",
      "DescribeHub succeeds and GetEnabledStandards lists the chosen standards in each Region; "
      "Config rule securityhub-enabled is compliant; no DisableSecurityHub events.",
      auto="@securityhub",
      act="Enable Security Hub organization-wide from the delegated administrator with the chosen "
          "standards."),
]

SECTION_5 = [
    C("5.1", "Network ACLs block 0.0.0.0/0 to administration ports", NET,
      "No network ACL allows inbound traffic from anywhere to remote administration ports (22, 3389 "
      "and other admin protocols).",
      "Security Hub EC2.21 passes; DescribeNetworkAcls shows no allow entry from 0.0.0.0/0 covering "
      "22 or 3389.",
      auto="sh:EC2.21 cfg:NACL_NO_UNRESTRICTED_SSH_RDP api:ec2_DescribeNetworkAcls @nacl_changes",
      act="Replace broad inbound allow entries with specific admin source ranges or remove them; use "
          "Session Manager instead of open SSH/RDP."),
    C("5.2", "Security groups block 0.0.0.0/0 to administration ports", NET,
      "No security group allows inbound IPv4 traffic from anywhere to remote administration ports.",
      "Security Hub EC2.13 and EC2.14 pass; DescribeSecurityGroupRules shows no ingress rule from "
      "0.0.0.0/0 that covers 22 or 3389.",
      auto="sh:EC2.13 sh:EC2.14 sh:EC2.19 cfg:INCOMING_SSH_DISABLED cfg:RESTRICTED_INCOMING_TRAFFIC "
           "api:ec2_DescribeSecurityGroupRules @sg_changes",
      act="Remove 0.0.0.0/0 ingress on admin ports; allow specific ranges or use Session Manager."),
    C("5.3", "Security groups block ::/0 to administration ports", NET,
      "No security group allows inbound IPv6 traffic from anywhere to remote administration ports.",
      "DescribeSecurityGroupRules shows no ingress rule with CidrIpv6 ::/0 covering 22 or 3389; "
      "Security Hub EC2.13 and EC2.18 pass.",
      auto="sh:EC2.13 sh:EC2.18 cfg:INCOMING_SSH_DISABLED cfg:VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS "
           "api:ec2_DescribeSecurityGroupRules @sg_changes",
      act="Remove ::/0 ingress on admin ports; allow specific IPv6 ranges where truly needed."),
    C("5.4", "Default security groups left empty", NET,
      "The default security group of every VPC has no rules, so resources must be given a purpose-"
      "built group.",
      "Security Hub EC2.2 passes; DescribeSecurityGroups shows the 'default' groups with empty "
      "ingress and egress.",
      auto="@default_sg api:ec2_DescribeSecurityGroups",
      act="Move resources to dedicated groups and delete all rules of each default group."),
    C("5.5", "VPC peering routes least access", NET,
      "Routes to peered VPCs cover only the subnets and hosts that need to talk, not entire VPC "
      "ranges by default.",
      "Compare the route tables' peering routes (DescribeRouteTables, DescribeVpcPeeringConnections) "
      "with the documented peering needs; each route names a specific CIDR.",
      auto="api:ec2_DescribeRouteTables api:ec2_DescribeVpcPeeringConnections @route_changes",
      manual="list of VPC peering connections with the CIDRs each side needs and the business reason.",
      act="Narrow peering routes to the required CIDRs and remove routes for unused peering."),
    C("5.6", "EC2 metadata service requires IMDSv2", CM,
      "EC2 instances accept only session-based metadata requests (IMDSv2), which blocks many "
      "server-side request forgery paths to instance credentials.",
      "Security Hub EC2.8 passes; DescribeInstances shows MetadataOptions HttpTokens required.",
      auto="sh:EC2.8 cfg:EC2_IMDSV2_CHECK api:ec2_DescribeInstances ct:ec2_ModifyInstanceMetadataOptions",
      act="aws ec2 modify-instance-metadata-options --http-tokens required; set IMDSv2 as the account "
          "default for new instances."),
]

# The AWS conformance pack whose rules this framework must place (tests check it), and the
# rules left out on purpose.
PACK = "Operational-Best-Practices-for-CIS-AWS-v1.4-Level2"
PACK_EXCLUDED = {
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED": "v3.0.0 dropped the S3 default-encryption "
    "recommendation: S3 encrypts all new objects by default since January 2023",
}

CONTROL_SETS = [
    ("Section 1 Identity and Access Management", SECTION_1),
    ("Section 2 Storage", SECTION_2),
    ("Section 3 Logging", SECTION_3),
    ("Section 4 Monitoring", SECTION_4),
    ("Section 5 Networking", SECTION_5),
]
