"""Resources as people read them: an ARN split into its fields, and the AWS console page that
shows the resource where there is one.

ARN format (AWS General Reference, "Amazon Resource Names"):
``arn:<partition>:<service>:<region>:<account-id>:<resource-type>/<resource-id>`` (or ``:``
between type and id, or no type at all).
"""

from __future__ import annotations

from urllib.parse import quote

# (service, resource type) -> the console page of a regional resource, by its id.
_REGIONAL_PAGES = {
    ("ec2", "instance"): "ec2/home?region={region}#InstanceDetails:instanceId={id}",
    ("ec2", "security-group"): "ec2/home?region={region}#SecurityGroup:groupId={id}",
    ("ec2", "volume"): "ec2/home?region={region}#VolumeDetails:volumeId={id}",
    ("ec2", "vpc"): "vpcconsole/home?region={region}#VpcDetails:VpcId={id}",
    ("lambda", "function"): "lambda/home?region={region}#/functions/{id}",
    ("rds", "db"): "rds/home?region={region}#database:id={id}",
    ("kms", "key"): "kms/home?region={region}#/kms/keys/{id}",
    ("cloudtrail", "trail"): "cloudtrailv2/home?region={region}#/trails/{arn}",
}
_CONSOLE_HOSTS = {"aws": "console.aws.amazon.com", "aws-us-gov": "console.amazonaws-us-gov.com",
                  "aws-cn": "console.amazonaws.cn"}


def parse_arn(text: str | None) -> dict[str, str] | None:
    """``{"partition", "service", "region", "account", "type", "id"}`` of an ARN, or None when
    ``text`` is not one (Config evidence names a bare account id, for example)."""
    if not text or not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) != 6:
        return None
    _, partition, service, region, account, resource = parts
    kind, identifier = "", resource
    if service == "s3" and not account:  # arn:aws:s3:::bucket or arn:aws:s3:::bucket/key
        kind = "object" if "/" in resource else "bucket"
    else:
        for separator in ("/", ":"):
            if separator in resource:
                kind, identifier = resource.split(separator, 1)
                break
    return {"partition": partition, "service": service, "region": region, "account": account,
            "type": kind, "id": identifier}


def console_url(arn: str | None, region: str | None = None) -> str | None:
    """The AWS Management Console page of the resource an ARN names, for the resource types the
    console has a stable page for; None otherwise."""
    fields = parse_arn(arn)
    if fields is None:
        return None
    host = _CONSOLE_HOSTS.get(fields["partition"])
    if host is None:
        return None
    service, kind, ident = fields["service"], fields["type"], fields["id"]
    region = fields["region"] or region or "us-east-1"
    q = lambda value: quote(value, safe="")  # noqa: E731
    if service == "s3" and kind == "bucket":
        return f"https://{host.replace('console.', 's3.console.', 1)}/s3/buckets/{q(ident)}"
    if service == "iam" and kind in ("user", "role", "group", "policy"):
        name = ident.rsplit("/", 1)[-1]
        page = {"user": "users/details", "role": "roles/details", "group": "groups/details",
                "policy": "policies/details"}[kind]
        target = q(arn) if kind == "policy" else q(name)
        return f"https://{host}/iam/home#/{page}/{target}"
    page = _REGIONAL_PAGES.get((service, kind))
    if page is not None:
        return f"https://{host}/" + page.format(region=region, id=q(ident.split(":")[0]), arn=q(arn))
    return None
