"""GetServicesInScope: the AWS services whose evidence Assay collects, by category.

Names are botocore client names (the prefix of AWS_API_Call keywords); display names and
categories are ours.
"""

from __future__ import annotations

import functools

# (name, display name, category, what Assay reads from it)
_SERVICES = (
    ("acm", "AWS Certificate Manager", "Security, Identity, & Compliance", "Certificates and their renewal status."),
    ("apigateway", "Amazon API Gateway", "Networking & Content Delivery", "APIs, stages, logging and authorizers."),
    ("autoscaling", "Amazon EC2 Auto Scaling", "Compute", "Auto Scaling groups and launch configurations."),
    ("backup", "AWS Backup", "Storage", "Backup plans, vaults and recovery points."),
    ("cloudformation", "AWS CloudFormation", "Management & Governance", "Stacks and drift status."),
    ("cloudfront", "Amazon CloudFront", "Networking & Content Delivery", "Distributions, TLS and logging settings."),
    ("cloudtrail", "AWS CloudTrail", "Management & Governance", "Trails, their status and user activity."),
    ("cloudwatch", "Amazon CloudWatch", "Management & Governance", "Metric alarms and their actions."),
    ("codebuild", "AWS CodeBuild", "Developer Tools", "Build projects and their credentials handling."),
    ("config", "AWS Config", "Management & Governance", "Recorders, rules and compliance evaluations."),
    ("dms", "AWS Database Migration Service", "Database", "Replication instances and endpoints."),
    ("dynamodb", "Amazon DynamoDB", "Database", "Tables, backups and point-in-time recovery."),
    ("ec2", "Amazon EC2", "Compute", "Instances, security groups, VPCs, volumes and snapshots."),
    ("ecr", "Amazon Elastic Container Registry", "Containers", "Repositories and image scanning."),
    ("ecs", "Amazon Elastic Container Service", "Containers", "Clusters, services and task definitions."),
    ("efs", "Amazon Elastic File System", "Storage", "File systems, encryption and backups."),
    ("eks", "Amazon Elastic Kubernetes Service", "Containers", "Clusters, endpoints and logging."),
    ("elasticache", "Amazon ElastiCache", "Database", "Cache clusters and replication groups."),
    ("elasticbeanstalk", "AWS Elastic Beanstalk", "Compute", "Environments and their settings."),
    ("elb", "Elastic Load Balancing (Classic)", "Networking & Content Delivery", "Classic load balancers and listeners."),
    ("elbv2", "Elastic Load Balancing", "Networking & Content Delivery", "Load balancers, listeners and target groups."),
    ("emr", "Amazon EMR", "Analytics", "Clusters and security configurations."),
    ("es", "Amazon OpenSearch Service", "Analytics", "Domains, encryption and access policies."),
    ("guardduty", "Amazon GuardDuty", "Security, Identity, & Compliance", "Detectors and findings."),
    ("iam", "AWS Identity and Access Management", "Security, Identity, & Compliance", "Users, roles, policies, credentials and MFA."),
    ("inspector2", "Amazon Inspector", "Security, Identity, & Compliance", "Vulnerability findings and coverage."),
    ("kinesis", "Amazon Kinesis Data Streams", "Analytics", "Streams and their encryption."),
    ("kms", "AWS Key Management Service", "Security, Identity, & Compliance", "Keys, rotation and key policies."),
    ("lambda", "AWS Lambda", "Compute", "Functions, runtimes and resource policies."),
    ("logs", "Amazon CloudWatch Logs", "Management & Governance", "Log groups, retention and metric filters."),
    ("macie2", "Amazon Macie", "Security, Identity, & Compliance", "Sensitive-data discovery jobs and findings."),
    ("network-firewall", "AWS Network Firewall", "Networking & Content Delivery", "Firewalls and policies."),
    ("organizations", "AWS Organizations", "Management & Governance", "Accounts, organizational units and policies."),
    ("rds", "Amazon RDS", "Database", "DB instances, clusters, snapshots and encryption."),
    ("redshift", "Amazon Redshift", "Analytics", "Clusters, encryption and audit logging."),
    ("route53", "Amazon Route 53", "Networking & Content Delivery", "Hosted zones and query logging."),
    ("s3", "Amazon S3", "Storage", "Buckets, encryption, public access and logging."),
    ("s3control", "Amazon S3 Control", "Storage", "Account-level public access blocks and access points."),
    ("sagemaker", "Amazon SageMaker", "Machine Learning", "Notebook instances, endpoints and models."),
    ("secretsmanager", "AWS Secrets Manager", "Security, Identity, & Compliance", "Secrets and their rotation."),
    ("securityhub", "AWS Security Hub", "Security, Identity, & Compliance", "Standards, controls and findings."),
    ("signin", "AWS Sign-In", "Security, Identity, & Compliance", "Console sign-in events."),
    ("sns", "Amazon SNS", "Application Integration", "Topics, subscriptions and encryption."),
    ("sqs", "Amazon SQS", "Application Integration", "Queues and their encryption."),
    ("ssm", "AWS Systems Manager", "Management & Governance", "Managed instances, patch and association compliance."),
    ("sso", "AWS IAM Identity Center", "Security, Identity, & Compliance", "Permission sets and assignments."),
    ("sts", "AWS Security Token Service", "Security, Identity, & Compliance", "Assumed roles and caller identity."),
    ("waf", "AWS WAF Classic", "Security, Identity, & Compliance", "Web ACLs and rules."),
    ("wafv2", "AWS WAF", "Security, Identity, & Compliance", "Web ACLs, rule groups and logging."),
)


@functools.cache
def _services() -> tuple[dict[str, str], ...]:
    return tuple(
        {"name": name, "displayName": display, "category": category, "description": description}
        for name, display, category, description in _SERVICES
    )


def services_in_scope() -> list[dict[str, str]]:
    return [dict(s) for s in _services()]
