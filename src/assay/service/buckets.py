"""Which S3 buckets Assay may read and write on a caller's behalf.

Assay's own AWS credentials usually reach far more than any one caller should (every bucket of
the account it runs in). A caller who could name any bucket would borrow them: read someone
else's object into evidence and a report (``s3ResourcePath``), or write reports where the
caller cannot (``assessmentReportsDestination``). So an S3 path a caller gives is used only
when its bucket is one an admin allowed:

- the ``s3_buckets`` setting (``ASSAY_S3_BUCKETS``, comma-separated; assay.toml), which only
  the operator of the host sets;
- the bucket of the settings' ``defaultAssessmentReportsDestination``, which only an admin
  changes (UpdateSettings);
- for manual evidence, also the bucket of the assessment's own report destination, itself
  allowed when the assessment was given it.

A refusal says the same whether or not the bucket or object exists, and reading an allowed
bucket's object reports one failure for "no such object" and "not allowed", so an error never
tells a caller what else is stored.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import urlparse

import sqlalchemy as sa

from .errors import ValidationError


def bucket_of(uri: str | None) -> str | None:
    """The bucket of ``s3://bucket/...``, or None for anything else."""
    if not uri:
        return None
    parsed = urlparse(uri)
    return parsed.netloc if parsed.scheme == "s3" and parsed.netloc else None


class BucketPolicy:
    def __init__(self, configured: Iterable[str],
                 settings_document: Callable[[sa.Connection], dict[str, Any]]):
        self.configured = frozenset(b.strip() for b in configured if b and b.strip())
        self.settings_document = settings_document

    def allowed(self, conn: sa.Connection, destination: dict | None = None) -> set[str]:
        """The buckets allowed now; ``destination`` adds an assessment's report destination."""
        buckets = set(self.configured)
        default = (self.settings_document(conn).get("defaultAssessmentReportsDestination")
                   or {}).get("destination")
        for uri in (default, (destination or {}).get("destination")):
            if bucket_of(uri):
                buckets.add(bucket_of(uri))
        return buckets

    def require(self, conn: sa.Connection, uri: str, field: str,
                destination: dict | None = None) -> tuple[str, str]:
        """(bucket, key) of ``uri`` when its bucket is allowed; else ``ValidationError`` on
        ``field``, worded the same whatever exists there."""
        bucket = bucket_of(uri)
        if bucket is None:
            raise ValidationError.field(field, "An S3 path is s3://bucket/key.")
        if bucket not in self.allowed(conn, destination):
            raise ValidationError.field(field, (
                f"Assay does not use S3 bucket {bucket} on a caller's behalf: an admin allows "
                "buckets with the s3_buckets setting or the default report destination "
                "(README: Security model)."))
        return bucket, urlparse(uri).path.lstrip("/")
