"""One Settings object: command-line flags over ``ASSAY_*`` environment variables over an
optional ``<home>/assay.toml`` over defaults. docs/configuration.md lists every setting."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

DEFAULT_PORT = 8765


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path("~/.assay").expanduser())
    # Database: SQLite file under home unless a PostgreSQL URL is given.
    db_url: str = ""
    # Where evidence payloads, uploads and reports go: a local folder or s3://bucket/prefix.
    blob_url: str = ""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # The public URL clients use to reach this server (signed upload/download links).
    public_url: str = ""
    # Key that encrypts access-key secrets at rest (Fernet). Defaults to <home>/secret.key.
    secret_key: str = ""
    # PEM file of the Ed25519 key that signs ledger seals and reports. Defaults to
    # <home>/signing-key.pem (created on first start).
    signing_key: str = ""
    # An optional URL that receives every notification as JSON (POST).
    webhook_url: str = ""
    # Account id that ARNs carry; generated once per instance when empty.
    account_id: str = ""
    default_region: str = "us-east-1"
    # Collection. The role assumed in member accounts (docs/iam/assay-member-role.yaml), and
    # the ExternalId its trust policy asks for.
    member_role: str = "AssayMemberRole"
    member_external_id: str = ""
    # s3://bucket/prefix of a (organization) trail's log files: read directly instead of
    # through LookupEvents.
    cloudtrail_s3_uri: str = ""
    # Buckets (comma-separated names) Assay may read and write on a caller's behalf: manual
    # evidence from s3ResourcePath and report destinations (service/buckets.py).
    s3_buckets: str = ""
    # `assay serve` collects by itself every this many seconds (0 turns the schedule off).
    collect_interval: int = 900
    # How many shards (account x region x source) one process collects at once on the
    # embedded default; `assay worker --concurrency` sets it for workers.
    collect_workers: int = 4
    # Seconds between a worker's heartbeats; a worker silent for 3 heartbeats is stalled and
    # its jobs run again on another worker.
    worker_heartbeat: int = 10
    # Days the per-run detail of a finished collection run is kept: its shards (one row per
    # job) and its failures. Each assessment's latest run is always kept whole, and every run
    # keeps its totals and per-control summary. Pruned by an hourly periodic job on the
    # workers, and on each round of `assay serve`'s schedule on the embedded default.
    collect_retention_days: float = 7.0
    log_level: str = "info"
    # Reverse proxies whose X-Forwarded-For is believed: comma-separated addresses or networks
    # (e.g. "10.0.0.5, 10.1.0.0/16"). Empty (the default): no header is believed, the client
    # address is the TCP peer's.
    trusted_proxies: str = ""
    # Console sign-in with OpenID Connect (docs/console.md). Off while oidc_issuer is empty.
    oidc_issuer: str = ""            # e.g. https://login.example.com/realms/audit
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid email profile"
    # The claim naming the principal: its value (an email's local part) is the principal's
    # name, arn:aws:iam::<account>:role/<name>, as an access key of that name has.
    oidc_principal_claim: str = "email"
    oidc_groups_claim: str = "groups"
    # Groups to roles: "assay-admins=admin, grc=process-owner, it-ops=delegate, audit=auditor".
    # A person in several mapped groups gets the strongest role; in none, no sign-in.
    oidc_roles: str = ""
    # Evidence finder bounds: rows one query may return, seconds of database time it may take.
    finder_max_rows: int = 1_000_000
    finder_seconds: float = 60.0

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'assay.db'}"

    @property
    def blobs_url(self) -> str:
        return self.blob_url or f"file://{self.home / 'blobs'}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


_INT_FIELDS = {"port", "collect_interval", "collect_workers", "finder_max_rows",
               "worker_heartbeat"}
_FLOAT_FIELDS = {"finder_seconds", "collect_retention_days"}


def load_settings(home: str | Path | None = None, **overrides) -> Settings:
    """Resolve settings. ``home`` and ``overrides`` come from command-line flags."""
    env = os.environ
    home_path = Path(home or env.get("ASSAY_HOME") or "~/.assay").expanduser().resolve()
    values: dict[str, object] = {"home": home_path}

    toml_file = home_path / "assay.toml"
    if toml_file.is_file():
        with toml_file.open("rb") as fh:
            document = tomllib.load(fh)
        values.update(_known(document.get("assay", document)))

    for f in fields(Settings):
        if f.name == "home":
            continue
        value = env.get(f"ASSAY_{f.name.upper()}")
        if value is not None and value != "":
            values[f.name] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in _INT_FIELDS:
        if name in values:
            values[name] = int(values[name])
    for name in _FLOAT_FIELDS:
        if name in values:
            values[name] = float(values[name])
    if float(values.get("collect_retention_days", 0)) < 0:
        raise ValueError("collect_retention_days (ASSAY_COLLECT_RETENTION_DAYS) must be 0 or "
                         "more days")
    return replace(Settings(), **values)


def settings_environment(settings: Settings) -> dict[str, str]:
    """``ASSAY_*`` variables that make ``load_settings()`` in another process (a server worker)
    resolve exactly ``settings``: every setting, as the environment overrides assay.toml."""
    variables = {"ASSAY_HOME": str(settings.home)}
    for f in fields(Settings):
        if f.name != "home":
            variables[f"ASSAY_{f.name.upper()}"] = str(getattr(settings, f.name))
    return variables


def _known(document: dict) -> dict:
    names = {f.name for f in fields(Settings)} - {"home"}
    unknown = set(document) - names
    if unknown:
        raise ValueError(f"assay.toml: unknown setting(s): {', '.join(sorted(unknown))}")
    return dict(document)
