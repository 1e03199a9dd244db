"""The server's access log, without credentials in it.

Upload URLs (GetEvidenceFileUploadUrl) and report download URLs (GetAssessmentReportUrl) are
bearer links: whoever holds one may use it until it expires, so their signatures, like any
presigned S3 URL's, must not reach a log file that other people read. uvicorn logs each
request line with its query string; this filter replaces the value of every credential-bearing
query parameter with ``REDACTED`` before the line is written."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# Query parameters that carry a credential: Assay's own signed links and S3 presigned URLs.
_SECRET_PARAMS = re.compile(
    r"(?i)(?P<name>(?:^|[?&])(?:signature|x-amz-signature|x-amz-credential|"
    r"x-amz-security-token|awsaccesskeyid))=(?P<value>[^&\s\"]*)")


def redact(text: str) -> str:
    """``text`` (a path with its query, or a log line) with credential values replaced."""
    return _SECRET_PARAMS.sub(lambda m: f"{m['name']}=REDACTED", text)


class RedactLinks(logging.Filter):
    """A logging filter for uvicorn's access logger (its arguments are client, method, path
    with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with ``RedactLinks`` on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_links"] = {"()": RedactLinks}
    config["handlers"]["access"]["filters"] = ["redact_links"]
    return config
