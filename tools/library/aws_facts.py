"""AWS facts used by the builders: the Security Hub control table, the Config managed rule
table and the conformance packs (all from tools/library/sources), plus short titles for the
Security Hub controls that we wrote ourselves, and the functions that turn these facts into
API-shaped ControlMappingSource dicts.

Only identifiers and mappings come from the tables. Every sentence here is ours.
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

if str(common.REPO / "src") not in sys.path:
    sys.path.insert(0, str(common.REPO / "src"))  # assay.library: the loader the output must satisfy

# Short titles of the Security Hub controls, written by us from each control's id, category,
# Config rule and resource type. They state the condition a passing resource meets.
HUB_TITLES: dict[str, str] = {
    "Account.1": "Security contact details are registered for the account",
    "Account.2": "The account is managed as part of an AWS Organization",
    "ACM.1": "ACM certificates are renewed before they expire",
    "APIGateway.1": "API Gateway stages have execution logging turned on",
    "APIGateway.2": "API Gateway REST stages use client certificates towards the backend",
    "APIGateway.3": "API Gateway REST stages send traces to AWS X-Ray",
    "APIGateway.4": "API Gateway APIs are protected by a WAF web ACL",
    "APIGateway.5": "API Gateway REST API caches are encrypted at rest",
    "APIGateway.8": "API Gateway routes require an authorization type",
    "APIGateway.9": "API Gateway V2 stages have access logging configured",
    "AutoScaling.1": "Auto Scaling groups behind a load balancer use its health checks",
    "AutoScaling.2": "Auto Scaling groups span more than one Availability Zone",
    "AutoScaling.3": "Auto Scaling launch configurations require IMDSv2",
    "AutoScaling.4": "Auto Scaling launch configurations keep the metadata hop limit at 1",
    "Autoscaling.5": "Auto Scaling launch configurations do not assign public IP addresses",
    "AutoScaling.6": "Auto Scaling groups use several instance types across zones",
    "AutoScaling.9": "Auto Scaling groups are built from launch templates",
    "CloudFormation.1": "CloudFormation stacks publish events to an SNS topic",
    "CloudFront.1": "CloudFront distributions define a default root object",
    "CloudFront.2": "CloudFront S3 origins are reached through an origin access identity",
    "CloudFront.3": "CloudFront distributions require HTTPS from viewers",
    "CloudFront.4": "CloudFront distributions have an origin failover group",
    "CloudFront.5": "CloudFront distributions write access logs",
    "CloudFront.6": "CloudFront distributions are protected by a WAF web ACL",
    "CloudFront.7": "CloudFront distributions serve a custom TLS certificate",
    "CloudFront.8": "CloudFront distributions with custom certificates use SNI",
    "CloudFront.9": "CloudFront encrypts traffic to custom origins",
    "CloudFront.10": "CloudFront does not use deprecated SSL protocols towards origins",
    "CloudFront.12": "CloudFront distributions do not point at missing S3 origins",
    "CloudTrail.1": "A multi-Region CloudTrail trail records read and write management events",
    "CloudTrail.2": "CloudTrail log files are encrypted with a KMS key",
    "CloudTrail.3": "At least one CloudTrail trail is enabled",
    "CloudTrail.4": "CloudTrail log file integrity validation is on",
    "CloudTrail.5": "CloudTrail trails deliver to CloudWatch Logs",
    "CloudTrail.6": "The S3 bucket holding CloudTrail logs is not publicly accessible",
    "CloudTrail.7": "The S3 bucket holding CloudTrail logs has access logging on",
    "CloudWatch.1": "An alarm fires when the root user is used",
    "CloudWatch.2": "An alarm fires on unauthorized API calls",
    "CloudWatch.3": "An alarm fires on console sign-in without MFA",
    "CloudWatch.4": "An alarm fires on IAM policy changes",
    "CloudWatch.5": "An alarm fires on CloudTrail configuration changes",
    "CloudWatch.6": "An alarm fires on failed console sign-ins",
    "CloudWatch.7": "An alarm fires when KMS keys are disabled or scheduled for deletion",
    "CloudWatch.8": "An alarm fires on S3 bucket policy changes",
    "CloudWatch.9": "An alarm fires on AWS Config configuration changes",
    "CloudWatch.10": "An alarm fires on security group changes",
    "CloudWatch.11": "An alarm fires on network ACL changes",
    "CloudWatch.12": "An alarm fires on network gateway changes",
    "CloudWatch.13": "An alarm fires on route table changes",
    "CloudWatch.14": "An alarm fires on VPC changes",
    "CloudWatch.15": "CloudWatch alarms have actions configured",
    "CloudWatch.16": "CloudWatch log groups keep data for the required period",
    "CloudWatch.17": "CloudWatch alarm actions are enabled",
    "CodeBuild.1": "CodeBuild source repository URLs carry no credentials",
    "CodeBuild.2": "CodeBuild environment variables hold no clear-text AWS credentials",
    "CodeBuild.3": "CodeBuild logs stored in S3 are encrypted",
    "CodeBuild.4": "CodeBuild projects send logs to CloudWatch Logs or S3",
    "CodeBuild.5": "CodeBuild project environments do not run in privileged mode",
    "Config.1": "AWS Config is recording in the account and Region",
    "DMS.1": "DMS replication instances are not public",
    "DynamoDB.1": "DynamoDB tables scale capacity with demand",
    "DynamoDB.2": "DynamoDB tables have point-in-time recovery on",
    "DynamoDB.3": "DAX clusters are encrypted at rest",
    "DynamoDB.4": "DynamoDB tables are covered by a backup plan",
    "EC2.1": "EBS snapshots cannot be restored by anyone",
    "EC2.2": "Default VPC security groups allow no traffic",
    "EC2.3": "Attached EBS volumes are encrypted",
    "EC2.4": "Stopped EC2 instances are removed after a set period",
    "EC2.6": "VPC flow logging is on in every VPC",
    "EC2.7": "EBS encryption by default is on",
    "EC2.8": "EC2 instances require IMDSv2",
    "EC2.9": "EC2 instances have no public IPv4 address",
    "EC2.10": "VPCs use an interface endpoint for the EC2 service",
    "EC2.12": "Elastic IP addresses are not left unattached",
    "EC2.13": "Security groups do not open port 22 to the internet",
    "EC2.14": "Security groups do not open port 3389 to the internet",
    "EC2.15": "Subnets do not auto-assign public IP addresses",
    "EC2.16": "Network ACLs that are not in use are removed",
    "EC2.17": "EC2 instances use a single network interface",
    "EC2.18": "Security groups open only authorized ports to the internet",
    "EC2.19": "Security groups do not expose high-risk ports to everyone",
    "EC2.20": "Both tunnels of each site-to-site VPN connection are up",
    "EC2.21": "Network ACLs do not open SSH or RDP ports to the internet",
    "EC2.22": "Unused security groups are removed",
    "EC2.23": "Transit gateways do not accept VPC attachments automatically",
    "EC2.24": "EC2 instances do not use paravirtual virtualization",
    "EC2.25": "EC2 launch templates do not assign public IP addresses",
    "EC2.28": "EBS volumes are covered by a backup plan",
    "EC2.29": "EC2 instances run inside a VPC",
    "ECR.1": "ECR private repositories scan images on push",
    "ECR.2": "ECR private repositories make image tags immutable",
    "ECR.3": "ECR repositories have a lifecycle policy",
    "ECS.1": "ECS task definitions in host network mode do not run as root",
    "ECS.2": "ECS services do not assign public IP addresses automatically",
    "ECS.3": "ECS task definitions do not share the host process namespace",
    "ECS.4": "ECS containers run without privileged mode",
    "ECS.5": "ECS containers have read-only root file systems",
    "ECS.8": "ECS task definitions pass no secrets in environment variables",
    "ECS.10": "ECS Fargate services run the latest platform version",
    "ECS.12": "ECS clusters have Container Insights on",
    "EFS.1": "EFS file systems encrypt data at rest with KMS",
    "EFS.2": "EFS file systems are covered by a backup plan",
    "EFS.3": "EFS access points enforce a root directory",
    "EFS.4": "EFS access points enforce a user identity",
    "EKS.2": "EKS clusters run a supported Kubernetes version",
    "ElastiCache.1": "ElastiCache Redis clusters take automatic backups",
    "ElastiCache.2": "ElastiCache Redis clusters apply minor version upgrades automatically",
    "ElastiCache.3": "ElastiCache replication groups fail over automatically",
    "ElastiCache.4": "ElastiCache replication groups are encrypted at rest",
    "ElastiCache.5": "ElastiCache replication groups are encrypted in transit",
    "ElastiCache.6": "Older ElastiCache Redis replication groups require Redis AUTH",
    "ElastiCache.7": "ElastiCache clusters use a custom subnet group",
    "ElasticBeanstalk.1": "Elastic Beanstalk environments report enhanced health",
    "ElasticBeanstalk.2": "Elastic Beanstalk managed platform updates are on",
    "ELB.1": "Application Load Balancers redirect HTTP to HTTPS",
    "ELB.2": "Classic Load Balancers with TLS listeners use ACM certificates",
    "ELB.3": "Classic Load Balancer listeners use HTTPS or TLS",
    "ELB.4": "Application Load Balancers drop invalid HTTP headers",
    "ELB.5": "Load balancers write access logs",
    "ELB.6": "Load balancers have deletion protection on",
    "ELB.7": "Classic Load Balancers drain connections on deregistration",
    "ELB.8": "Classic Load Balancer TLS listeners use a strong predefined policy",
    "ELB.9": "Classic Load Balancers balance across zones",
    "ELB.10": "Classic Load Balancers span several Availability Zones",
    "ELB.12": "Application Load Balancers use a defensive or strictest desync mode",
    "ELB.13": "Application, Network and Gateway Load Balancers span several zones",
    "ELB.14": "Classic Load Balancers use a defensive or strictest desync mode",
    "EMR.1": "EMR primary nodes have no public IP address",
    "ES.1": "Elasticsearch domains are encrypted at rest",
    "ES.2": "Elasticsearch domains are reachable only from a VPC",
    "ES.3": "Elasticsearch domains encrypt traffic between nodes",
    "ES.4": "Elasticsearch error logs go to CloudWatch Logs",
    "ES.5": "Elasticsearch domains have audit logging on",
    "ES.6": "Elasticsearch domains have at least three data nodes",
    "ES.7": "Elasticsearch domains have at least three dedicated master nodes",
    "ES.8": "Elasticsearch domain connections use a current TLS policy",
    "GuardDuty.1": "GuardDuty is enabled",
    "IAM.1": "No customer-managed IAM policy grants full administrative rights",
    "IAM.2": "IAM users receive permissions only through groups or roles",
    "IAM.3": "IAM access keys are rotated within 90 days",
    "IAM.4": "The root user has no access keys",
    "IAM.5": "IAM users with a console password use MFA",
    "IAM.6": "The root user is protected by a hardware MFA device",
    "IAM.7": "The IAM password policy is strong",
    "IAM.8": "IAM credentials unused for 90 days are turned off",
    "IAM.9": "The root user is protected by MFA",
    "IAM.10": "The IAM password policy meets the stricter baseline",
    "IAM.11": "The IAM password policy requires an upper-case letter",
    "IAM.12": "The IAM password policy requires a lower-case letter",
    "IAM.13": "The IAM password policy requires a symbol",
    "IAM.14": "The IAM password policy requires a number",
    "IAM.15": "The IAM password policy requires 14 or more characters",
    "IAM.16": "The IAM password policy blocks password reuse",
    "IAM.17": "The IAM password policy expires passwords within 90 days",
    "IAM.18": "A role exists for managing incidents with AWS Support",
    "IAM.19": "All IAM users use MFA",
    "IAM.20": "The root user is not used for everyday work",
    "IAM.21": "Customer-managed IAM policies avoid wildcard service actions",
    "IAM.22": "IAM credentials unused for 45 days are removed",
    "IAM.26": "Expired SSL/TLS certificates are removed from IAM",
    "IAM.27": "IAM identities do not have the AWSCloudShellFullAccess policy attached",
    "IAM.28": "IAM Access Analyzer external access analyzer is enabled",
    "EC2.53": "Security groups do not allow ingress from 0.0.0.0/0 to remote administration ports",
    "EC2.54": "Security groups do not allow ingress from ::/0 to remote administration ports",
    "S3.20": "S3 general purpose buckets have MFA Delete enabled",
    "S3.22": "S3 general purpose buckets log object-level write events",
    "S3.23": "S3 general purpose buckets log object-level read events",
    "Kinesis.1": "Kinesis data streams are encrypted at rest",
    "KMS.1": "Customer-managed IAM policies do not allow decryption on all KMS keys",
    "KMS.2": "Inline IAM policies do not allow decryption on all KMS keys",
    "KMS.3": "KMS keys are not scheduled for deletion unintentionally",
    "KMS.4": "KMS key rotation is on",
    "Lambda.1": "Lambda function policies do not allow public invocation",
    "Lambda.2": "Lambda functions use a supported runtime",
    "Lambda.3": "Lambda functions run inside a VPC",
    "Lambda.5": "VPC-attached Lambda functions span several zones",
    "NetworkFirewall.3": "Network Firewall policies have a rule group attached",
    "NetworkFirewall.4": "Network Firewall policies drop or forward full packets by default",
    "NetworkFirewall.5": "Network Firewall policies drop or forward fragmented packets by default",
    "NetworkFirewall.6": "Stateless Network Firewall rule groups are not empty",
    "Opensearch.1": "OpenSearch domains are encrypted at rest",
    "Opensearch.2": "OpenSearch domains are reachable only from a VPC",
    "Opensearch.3": "OpenSearch domains encrypt traffic between nodes",
    "Opensearch.4": "OpenSearch error logs go to CloudWatch Logs",
    "Opensearch.5": "OpenSearch domains have audit logging on",
    "Opensearch.6": "OpenSearch domains have at least three data nodes",
    "Opensearch.7": "OpenSearch domains use fine-grained access control",
    "Opensearch.8": "OpenSearch domain connections use a current TLS policy",
    "RDS.1": "RDS snapshots are not public",
    "RDS.2": "RDS DB instances are not publicly accessible",
    "RDS.3": "RDS DB instances are encrypted at rest",
    "RDS.4": "RDS snapshots are encrypted at rest",
    "RDS.5": "RDS DB instances run in several Availability Zones",
    "RDS.6": "RDS DB instances have enhanced monitoring on",
    "RDS.7": "RDS clusters have deletion protection on",
    "RDS.8": "RDS DB instances have deletion protection on",
    "RDS.9": "RDS DB instances publish logs to CloudWatch Logs",
    "RDS.10": "RDS DB instances accept IAM authentication",
    "RDS.11": "RDS DB instances take automatic backups",
    "RDS.12": "RDS clusters accept IAM authentication",
    "RDS.13": "RDS minor version upgrades are applied automatically",
    "RDS.14": "Aurora MySQL clusters have backtracking on",
    "RDS.15": "RDS clusters run in several Availability Zones",
    "RDS.16": "RDS clusters copy tags to their snapshots",
    "RDS.17": "RDS DB instances copy tags to their snapshots",
    "RDS.18": "RDS DB instances run inside a VPC",
    "RDS.19": "An RDS event subscription covers critical cluster events",
    "RDS.20": "An RDS event subscription covers critical instance events",
    "RDS.21": "An RDS event subscription covers parameter group events",
    "RDS.22": "An RDS event subscription covers security group events",
    "RDS.23": "RDS DB instances do not listen on the engine's default port",
    "RDS.24": "RDS clusters use a custom administrator user name",
    "RDS.25": "RDS DB instances use a custom administrator user name",
    "RDS.26": "RDS DB instances are covered by a backup plan",
    "Redshift.1": "Redshift clusters are not publicly accessible",
    "Redshift.2": "Redshift connections are encrypted in transit",
    "Redshift.3": "Redshift clusters take automated snapshots",
    "Redshift.4": "Redshift clusters have audit logging on",
    "Redshift.6": "Redshift clusters upgrade major versions automatically",
    "Redshift.7": "Redshift clusters use enhanced VPC routing",
    "Redshift.8": "Redshift clusters use a custom administrator user name",
    "Redshift.9": "Redshift clusters use a custom database name",
    "S3.1": "S3 Block Public Access is on for the account",
    "S3.2": "S3 buckets do not allow public reads",
    "S3.3": "S3 buckets do not allow public writes",
    "S3.4": "S3 buckets encrypt objects server-side",
    "S3.5": "S3 bucket policies require TLS",
    "S3.6": "S3 bucket policies do not grant other accounts sensitive actions",
    "S3.7": "S3 buckets replicate across Regions",
    "S3.8": "S3 Block Public Access is on for each bucket",
    "S3.9": "S3 buckets have server access logging on",
    "S3.10": "Versioned S3 buckets have lifecycle rules",
    "S3.11": "S3 buckets send event notifications",
    "S3.12": "S3 buckets do not use ACLs to grant access",
    "S3.13": "S3 buckets have lifecycle rules",
    "S3.14": "S3 buckets have versioning on",
    "SageMaker.1": "SageMaker notebook instances have no direct internet access",
    "SageMaker.2": "SageMaker notebook instances run in a custom VPC",
    "SageMaker.3": "SageMaker notebook users have no root access",
    "SecretsManager.1": "Secrets Manager secrets rotate automatically",
    "SecretsManager.2": "Secrets Manager rotations succeed",
    "SecretsManager.3": "Unused Secrets Manager secrets are removed",
    "SecretsManager.4": "Secrets Manager secrets rotate within the set number of days",
    "SNS.1": "SNS topics are encrypted at rest with KMS",
    "SNS.2": "SNS topics log the delivery status of notifications",
    "SQS.1": "SQS queues are encrypted at rest",
    "SSM.1": "EC2 instances are managed by Systems Manager",
    "SSM.2": "Managed instances are compliant with their patch baseline",
    "SSM.3": "Managed instances are compliant with their associations",
    "SSM.4": "SSM documents are not public",
    "WAF.1": "Global WAF Classic web ACLs write logs",
    "WAF.2": "Regional WAF Classic rules have conditions",
    "WAF.3": "Regional WAF Classic rule groups have rules",
    "WAF.4": "Regional WAF Classic web ACLs have rules or rule groups",
    "WAF.6": "Global WAF Classic rules have conditions",
    "WAF.7": "Global WAF Classic rule groups have rules",
    "WAF.8": "Global WAF Classic web ACLs have rules or rule groups",
    "WAF.10": "WAFv2 web ACLs have rules or rule groups",
    "WAF.11": "WAFv2 web ACLs write logs",
}

# Short names of the services behind Security Hub control prefixes, for prose.
SERVICE_NAMES = {
    "Account": "AWS account", "ACM": "AWS Certificate Manager", "APIGateway": "Amazon API Gateway",
    "AutoScaling": "Amazon EC2 Auto Scaling", "CloudFormation": "AWS CloudFormation",
    "CloudFront": "Amazon CloudFront", "CloudTrail": "AWS CloudTrail", "CloudWatch": "Amazon CloudWatch",
    "CodeBuild": "AWS CodeBuild", "Config": "AWS Config", "DMS": "AWS Database Migration Service",
    "DynamoDB": "Amazon DynamoDB", "EC2": "Amazon EC2", "ECR": "Amazon ECR", "ECS": "Amazon ECS",
    "EFS": "Amazon EFS", "EKS": "Amazon EKS", "ElastiCache": "Amazon ElastiCache",
    "ElasticBeanstalk": "AWS Elastic Beanstalk", "ELB": "Elastic Load Balancing", "EMR": "Amazon EMR",
    "ES": "Amazon Elasticsearch Service", "GuardDuty": "Amazon GuardDuty", "IAM": "AWS IAM",
    "Kinesis": "Amazon Kinesis", "KMS": "AWS KMS", "Lambda": "AWS Lambda",
    "NetworkFirewall": "AWS Network Firewall", "Opensearch": "Amazon OpenSearch Service",
    "RDS": "Amazon RDS", "Redshift": "Amazon Redshift", "S3": "Amazon S3", "SageMaker": "Amazon SageMaker",
    "SecretsManager": "AWS Secrets Manager", "SNS": "Amazon SNS", "SQS": "Amazon SQS",
    "SSM": "AWS Systems Manager", "WAF": "AWS WAF",
}

# First words of titles that are ordinary words (lower-cased mid-sentence); all other first
# words are names (Lambda, Network Firewall, Classic Load Balancers...) and keep their case.
_COMMON_FIRST_WORDS = {
    "An", "A", "The", "Security", "Unused", "Customer-managed", "Managed", "At", "Default",
    "Attached", "Stopped", "Subnets", "Both", "Transit", "Older", "No", "All", "Inline",
    "Stateless", "Versioned", "Global", "Regional",
}


# Words of Config rule names spelled as acronyms or product names in derived titles.
_RULE_WORDS = {
    "acm": "ACM", "alb": "ALB", "ami": "AMI", "api": "API", "apigateway": "API Gateway",
    "apigatewayv2": "API Gateway V2", "appsync": "AppSync", "aurora": "Aurora", "cmk": "CMK",
    "cloudfront": "CloudFront", "cloudtrail": "CloudTrail", "cloudwatch": "CloudWatch",
    "codebuild": "CodeBuild", "db": "DB", "dms": "DMS", "dns": "DNS", "dynamodb": "DynamoDB",
    "ebs": "EBS", "ec2": "EC2", "ecr": "ECR", "ecs": "ECS", "efs": "EFS", "eks": "EKS",
    "elasticache": "ElastiCache", "elb": "ELB", "elbv2": "ELBv2", "emr": "EMR", "fsx": "FSx",
    "guardduty": "GuardDuty", "http": "HTTP", "https": "HTTPS", "iam": "IAM", "imdsv2": "IMDSv2",
    "ip": "IP", "ipv4": "IPv4", "ipv6": "IPv6", "kms": "KMS", "mfa": "MFA", "mq": "MQ",
    "msk": "MSK", "nacl": "NACL", "opensearch": "OpenSearch", "rds": "RDS", "rsa": "RSA",
    "s3": "S3", "sagemaker": "SageMaker", "sg": "security group", "sns": "SNS", "sqs": "SQS",
    "ssl": "SSL", "ssm": "SSM", "tls": "TLS", "vpc": "VPC", "waf": "WAF", "wafv2": "WAFv2",
}


def rule_title(rule_name: str) -> str:
    """A readable title derived from a Config rule name (a fact): 's3-bucket-mfa-delete-enabled'
    -> 'S3 bucket MFA delete enabled'. Used for controls we have not titled by hand."""
    words = [_RULE_WORDS.get(w, w) for w in rule_name.split("-") if w]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def hub_title(control_id: str) -> str:
    """Our short title of a Security Hub control: hand-written, else derived from its rule name."""
    if control_id in HUB_TITLES:
        return HUB_TITLES[control_id]
    return rule_title(hub_by_id()[control_id]["config_rule_name"])


def hub_condition(control_id: str) -> str:
    """What a passing resource meets, as it reads after 'so that' or 'checks that'."""
    if control_id in HUB_TITLES:
        return title_in_sentence(HUB_TITLES[control_id])
    return f"it passes the AWS Config check {hub_by_id()[control_id]['config_rule_name']}"


def title_in_sentence(title: str) -> str:
    """A title as it reads after 'so that ...' or 'checks that ...'."""
    first = title.split(" ", 1)[0]
    return title[0].lower() + title[1:] if first in _COMMON_FIRST_WORDS else title


SEVERITY_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, "": 4}
NIST_RE = re.compile(r"NIST\.800-53\.r5 ([A-Z]{2}-\d+(?:\(\d+\))?)")
NIST_PACK = "Operational-Best-Practices-for-NIST-800-53-rev-5"


def hub_prefix(control_id: str) -> str:
    """Canonical service prefix of a Security Hub control id ("Autoscaling.5" -> "AutoScaling")."""
    prefix = control_id.split(".", 1)[0]
    for known in SERVICE_NAMES:
        if known.lower() == prefix.lower():
            return known
    return prefix


@functools.cache
def hub_rows() -> tuple[dict, ...]:
    return tuple(common.read_tsv("aws-security-hub-controls.tsv"))


@functools.cache
def hub_by_id() -> dict[str, dict]:
    return {r["control_id"]: r for r in hub_rows()}


@functools.cache
def config_rules() -> dict[str, dict]:
    return {r["identifier"]: r for r in common.read_tsv("aws-config-managed-rules.tsv")}


def active_hub_rows() -> list[dict]:
    """Rows of the Security Hub controls that are in service (status `active`)."""
    return [r for r in hub_rows() if r["status"] == "active"]


def _did_you_mean(name: str, known) -> str:
    import difflib

    by_lower = {k.lower(): k for k in known}
    hits = [by_lower[name.lower()]] if name.lower() in by_lower else []
    hits += [h for h in difflib.get_close_matches(name, list(known), n=3, cutoff=0.75) if h not in hits]
    return f" (did you mean {', '.join(hits[:3])}?)" if hits else ""


def hub_problem(control_id: str) -> str | None:
    """Why a Security Hub control id cannot be used as evidence, or None when it can.

    Unknown ids (with close matches suggested) and retired controls (which produce no findings,
    so would count as evidence while showing nothing) are refused. Source: the status and notes
    columns of tools/library/sources/aws-security-hub-controls.tsv.
    """
    row = hub_by_id().get(control_id)
    if row is None:
        return (f"unknown Security Hub control {control_id!r}"
                + _did_you_mean(control_id, [r["control_id"] for r in active_hub_rows()]))
    if row["status"] != "active":
        note = row["notes"].split(";")[0].strip() if row["notes"] else ""
        return f"Security Hub control {control_id} is retired" + (f" ({note})" if note else "")
    return None


def config_problem(identifier: str) -> str | None:
    """Why an AWS Config managed rule identifier cannot be used, or None when it can."""
    if identifier in config_rules():
        return None
    return f"unknown AWS Config managed rule {identifier!r}" + _did_you_mean(identifier, config_rules())


def require_hub(control_id: str) -> dict:
    """The table row of a usable Security Hub control; ValueError naming it otherwise."""
    problem = hub_problem(control_id)
    if problem:
        raise ValueError(problem)
    return hub_by_id()[control_id]


def require_config(identifier: str) -> dict:
    """The table row of a known Config managed rule; ValueError naming it otherwise."""
    problem = config_problem(identifier)
    if problem:
        raise ValueError(problem)
    return config_rules()[identifier]


@functools.cache
def conformance_pack(name: str) -> tuple[str, ...]:
    return tuple(
        r["config_rule_identifier"]
        for r in common.read_tsv("aws-conformance-pack-rules.tsv")
        if r["conformance_pack"] == name
    )


def hub_nist_ids(row: dict) -> list[str]:
    return NIST_RE.findall(row["related_requirements"])


def split_resource_types(text: str) -> list[str]:
    return [t.strip(" +") for t in text.split(",") if t.strip(" +")]


def trigger_phrase(trigger: str) -> str:
    t = trigger.lower()
    if "configuration changes" in t and "periodic" in t:
        return "on configuration changes and on a schedule"
    if "periodic" in t:
        return "on a schedule"
    if "change" in t:
        return "whenever a covered resource changes"
    return "as AWS Config schedules it"


# --------------------------------------------------------------------- source dicts

# Why an API snapshot or a CloudTrail event can only support a requirement: neither carries a
# verdict. Used for every AWS_API_Call and AWS_Cloudtrail source in the library.
TYPE_REASONS = {
    "AWS_API_Call": "an API snapshot shows settings for a reviewer to read; it has no pass or fail",
    "AWS_Cloudtrail": "CloudTrail events show what was done, not that the requirement is met",
}


def with_strength(source: dict, strength: str, reason: str | None = None) -> dict:
    """`source` with its mapping strength (see assay.library): `tests` only for Security Hub and
    Config sources; `supports` needs a reason (API calls and CloudTrail have a fixed one).
    Raises ValueError for an impossible combination."""
    stype = source["sourceType"]
    if stype in TYPE_REASONS:
        strength, reason = "supports", TYPE_REASONS[stype]
    if strength not in ("tests", "supports"):
        raise ValueError(f"{source['sourceName']}: strength {strength!r}")
    if strength == "supports" and not reason:
        raise ValueError(f"{source['sourceName']}: a supports mapping needs a reason")
    out = {**source, "strength": strength}
    out.pop("strengthReason", None)
    if strength == "supports":
        out["strengthReason"] = reason
    # The loader puts the strength sentence in front of the description: leave room for it.
    from assay.library import TEXT_MAX, strength_description

    lead = len(strength_description(strength, reason, "")) + 1
    if "sourceDescription" in out:
        out["sourceDescription"] = common.clip(out["sourceDescription"], TEXT_MAX - lead)
    return out


def hub_source(control_id: str) -> dict:
    row = require_hub(control_id)
    return {
        "sourceName": f"Security Hub {control_id}",
        "sourceDescription": (
            f"Security Hub findings for control {control_id}, which checks that {hub_condition(control_id)}. "
            "Each finding names a resource and whether it passed."
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Security_Hub",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": control_id},
        "troubleshootingText": (
            f"Security Hub must be enabled, with a standard that includes {control_id}, in every "
            "account and Region in scope."
            + (
                f" The check relies on AWS Config recording and the rule {row['config_rule_name']}."
                if row["config_rule_name"]
                else ""
            )
        ),
    }


def config_source(identifier: str) -> dict:
    rule = require_config(identifier)
    types = split_resource_types(rule["resource_types"])
    scope = f" It covers {', '.join(types)}." if types else " It evaluates the account as a whole."
    return {
        "sourceName": f"Config rule {rule['rule_name']}",
        "sourceDescription": (
            f"Compliance results of the AWS Config managed rule {rule['rule_name']} "
            f"({identifier}), evaluated {trigger_phrase(rule['trigger_type'])}.{scope}"
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Config",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": identifier},
        "troubleshootingText": (
            f"AWS Config must be recording, and the managed rule {identifier} deployed (on its own "
            "or through a conformance pack), in every account and Region in scope."
        ),
    }


def api_source(keyword: str, purpose: str, frequency: str = "DAILY") -> dict:
    client, _, operation = keyword.partition("_")
    return {
        "sourceName": f"API call {client} {operation}",
        "sourceDescription": f"A {frequency.lower()} snapshot of the {client} {operation} response: {purpose}",
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_API_Call",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword},
        "sourceFrequency": frequency,
        "troubleshootingText": (
            f"The collection role in each account needs permission to call {client} {operation} "
            "(read-only; for example through the SecurityAudit managed policy)."
        ),
    }


def trail_source(keyword: str, purpose: str) -> dict:
    prefix, _, event = keyword.partition("_")
    return {
        "sourceName": f"CloudTrail {prefix} {event}",
        "sourceDescription": (
            f"CloudTrail records of {event} events from {prefix}.amazonaws.com: {purpose}"
        ),
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": keyword},
        "troubleshootingText": (
            "A CloudTrail trail or event data store must record management events in every "
            "account and Region in scope, and the collection role needs cloudtrail:LookupEvents."
        ),
    }


def manual_source(name: str, what: str) -> dict:
    return {
        "sourceName": name,
        "sourceDescription": what,
        "sourceSetUpOption": "Procedural_Controls_Mapping",
        "sourceType": "MANUAL",
    }
