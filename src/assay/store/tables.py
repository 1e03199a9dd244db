"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/versions`` create them;
this module is what the queries use. Timestamps are epoch seconds (the wire's own unit)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Instance-wide documents: the instance's identity, Audit Manager settings, account status.
instance = sa.Table(
    "instance",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
)

# One row (id 1) counting changes to access keys and to the account status. Servers cache keys
# and status per process and compare this counter on every request (service/access_cache.py).
access_version = sa.Table(
    "access_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    # The principal (IAM role or user ARN) the key acts as; filled at start for older keys.
    sa.Column("principal_arn", sa.String(2048), index=True),
)

# What happened to a custom control: created, updated, a keyword put in its canonical case.
control_history = sa.Table(
    "control_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(2048), nullable=False),
    sa.Index("ix_control_history_control", "control_id", "id"),
)

controls = sa.Table(
    "controls",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("testing_information", sa.Text),
    sa.Column("action_plan_title", sa.Text),
    sa.Column("action_plan_instructions", sa.Text),
    sa.Column("mapping_sources", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
)

frameworks = sa.Table(
    "frameworks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("compliance_type", sa.String(100)),
    sa.Column("logo", sa.String(255)),
    # [{"id", "name", "controls": [control id, ...]}]: order matters and sets are small.
    sa.Column("control_sets", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
)

# Which custom frameworks use a control: keeps DeleteControl honest without scanning JSON.
framework_controls = sa.Table(
    "framework_controls",
    metadata,
    sa.Column("framework_id", sa.String(36), sa.ForeignKey("frameworks.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("control_id", sa.String(36), primary_key=True),
    sa.Index("ix_framework_controls_control", "control_id"),
)

# Tags by resource id (not ARN): ARNs carry the caller's region, the resource is one.
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# Framework sharing (StartAssessmentFrameworkShare ...). A SENT row lives in the sender's
# instance, a RECEIVED row in the recipient's (the same instance when the destination is its
# own account). ``payload`` carries the framework and its custom controls for the recipient.
framework_shares = sa.Table(
    "framework_shares",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("direction", sa.String(8), nullable=False),  # SENT | RECEIVED
    sa.Column("framework_id", sa.String(36), nullable=False),
    sa.Column("framework_name", sa.String(300), nullable=False),
    sa.Column("framework_description", sa.Text),
    sa.Column("compliance_type", sa.String(100)),
    sa.Column("source_account", sa.String(12), nullable=False),
    sa.Column("destination_account", sa.String(12), nullable=False),
    sa.Column("destination_region", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("comment", sa.String(500)),
    sa.Column("standard_controls_count", sa.Integer),
    sa.Column("custom_controls_count", sa.Integer),
    sa.Column("payload", sa.JSON),
    sa.Column("expiration_time", sa.Float, nullable=False),
    sa.Column("creation_time", sa.Float, nullable=False),
    sa.Column("last_updated", sa.Float, nullable=False),
    sa.Index("ix_framework_shares_direction", "direction", "creation_time"),
)

# Other Assay instances (or AWS accounts) this instance delivers framework shares to.
peers = sa.Table(
    "peers",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("endpoint_url", sa.String(2048), nullable=False),
    sa.Column("access_key_id", sa.String(128), nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # The key this instance issued to the peer: deliveries and answers from the peer's account
    # are accepted only when signed with it (NULL: none accepted until it is registered).
    sa.Column("inbound_key_id", sa.String(128)),
)

# ---------------------------------------------------------------------------- assessments
# An assessment holds a snapshot of its framework taken at creation (as Audit Manager does):
# later edits to the framework or its controls do not change a running audit.

assessments = sa.Table(
    "assessments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("region", sa.String(32), nullable=False),
    # Extra regions collection covers (Assay's own; the wire shapes have no place for them).
    sa.Column("collection_regions", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("framework_id", sa.String(36), nullable=False),
    sa.Column("framework_name", sa.String(300), nullable=False),
    sa.Column("framework_description", sa.Text),
    sa.Column("compliance_type", sa.String(100)),
    sa.Column("reports_destination", sa.JSON, nullable=False),
    sa.Column("scope", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(2048), nullable=False),
    # Deleting an assessment hides it; its evidence stays in the append-only ledger.
    sa.Column("deleted_at", sa.Float),
)

assessment_roles = sa.Table(
    "assessment_roles",
    metadata,
    sa.Column("assessment_id", sa.String(36), sa.ForeignKey("assessments.id"), primary_key=True),
    sa.Column("role_arn", sa.String(2048), primary_key=True),
    sa.Column("role_type", sa.String(32), nullable=False),
)

assessment_control_sets = sa.Table(
    "assessment_control_sets",
    metadata,
    sa.Column("assessment_id", sa.String(36), sa.ForeignKey("assessments.id"), primary_key=True),
    sa.Column("id", sa.String(300), primary_key=True),  # Audit Manager uses the set's name
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)

assessment_controls = sa.Table(
    "assessment_controls",
    metadata,
    sa.Column("assessment_id", sa.String(36), sa.ForeignKey("assessments.id"), primary_key=True),
    sa.Column("control_set_id", sa.String(300), primary_key=True),
    sa.Column("control_id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("testing_information", sa.Text),
    sa.Column("action_plan_title", sa.Text),
    sa.Column("action_plan_instructions", sa.Text),
    sa.Column("domain_id", sa.String(2048), nullable=False),
    sa.Column("mapping_sources", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("response", sa.String(16)),
    sa.Index("ix_assessment_controls_control", "control_id"),
)

control_comments = sa.Table(
    "control_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("author_name", sa.String(128), nullable=False),
    sa.Column("author_arn", sa.String(2048), nullable=False),
    sa.Column("body", sa.String(500), nullable=False),
    sa.Column("posted_at", sa.Float, nullable=False),
    sa.Index("ix_control_comments_control", "assessment_id", "control_set_id", "control_id"),
)

delegations = sa.Table(
    "delegations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), sa.ForeignKey("assessments.id"), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("role_arn", sa.String(2048), nullable=False),
    sa.Column("role_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("comment", sa.String(350)),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_delegations_assessment", "assessment_id"),
    sa.Index("ix_delegations_role", "role_arn"),
)

change_logs = sa.Table(
    "change_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300)),
    sa.Column("control_id", sa.String(36)),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_name", sa.String(2048), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(2048), nullable=False),
    sa.Index("ix_change_logs_assessment", "assessment_id", "id"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("recipient_arn", sa.String(2048), nullable=False),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("assessment_name", sa.String(300), nullable=False),
    sa.Column("control_set_id", sa.String(300)),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("event_time", sa.Float, nullable=False),
    sa.Column("source", sa.String(128), nullable=False),
    # Where publishing to SNS or the webhook failed: kept, shown, never silently dropped.
    sa.Column("delivery_error", sa.Text),
    sa.Index("ix_notifications_recipient", "recipient_arn", "event_time"),
)

# ---------------------------------------------------------------------------- the ledger
# Evidence records are immutable. Each append batch takes a contiguous range of positions
# (``seq``) and chains its records inside the batch: chain_hash(first) = sha256(GENESIS +
# record_hash), chain_hash(n) = sha256(chain_hash(n-1) + record_hash(n)); its last chain hash is
# the batch root its seal signs. Review state lives beside records, never in them.

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("folder_id", sa.String(36), nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("record", sa.Text, nullable=False),  # canonical JSON, exactly as hashed
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("appended_at", sa.Float, nullable=False),
    sa.Index("ix_evidence_folder", "folder_id", "seq"),
    sa.Index("ix_evidence_assessment", "assessment_id", "seq"),
)

# One per control, data source and day, with Audit Manager's counters kept up to date by the
# same transaction that appends (so GetEvidenceFolders* never scans evidence).
evidence_folders = sa.Table(
    "evidence_folders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("data_source", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("compliant", sa.Integer, nullable=False, default=0),
    sa.Column("noncompliant", sa.Integer, nullable=False, default=0),
    sa.Column("inconclusive", sa.Integer, nullable=False, default=0),
    sa.Column("configuration_data", sa.Integer, nullable=False, default=0),
    sa.Column("manual", sa.Integer, nullable=False, default=0),
    sa.Column("compliance_check", sa.Integer, nullable=False, default=0),
    sa.Column("compliance_issues", sa.Integer, nullable=False, default=0),
    sa.Column("user_activity", sa.Integer, nullable=False, default=0),
    sa.Column("resources_included", sa.Integer, nullable=False, default=0),
    sa.Column("report_selected", sa.Integer, nullable=False, default=0),
    sa.Column("event_sources", sa.JSON, nullable=False),  # distinct AWS services seen
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_evidence_folders_control", "assessment_id", "control_set_id", "control_id", "day"),
)

evidence_selection = sa.Table(
    "evidence_selection",
    metadata,
    sa.Column("evidence_id", sa.String(36), primary_key=True),
    sa.Column("folder_id", sa.String(36), nullable=False),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("selected_at", sa.Float, nullable=False),
    sa.Index("ix_evidence_selection_folder", "folder_id"),
)

# One signed seal per append batch. ``link`` orders the batches (the only thing appenders
# serialize on): chain_hash(link) = sha256(chain_hash(link-1) + batch_root). The batch covers
# records first_seq..seq. format 1: seals made before batches (the chain ran over every record,
# batch_root = chain_hash); format 2: batch seals (``service/ledger.py``).
ledger_seals = sa.Table(
    "ledger_seals",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("chain_hash", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("sealed_at", sa.Float, nullable=False),
    sa.Column("link", sa.BigInteger, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("batch_root", sa.String(64), nullable=False),
    sa.Column("format", sa.Integer, nullable=False),
    sa.UniqueConstraint("link", name="uq_ledger_seals_link"),
)

# Counters taken without holding any lock across a batch: ``seq`` is the next free record
# position (appenders reserve ranges from it in a transaction of their own).
ledger_counters = sa.Table(
    "ledger_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Files uploaded through GetEvidenceFileUploadUrl, waiting to be imported as evidence.
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("file_name", sa.String(300), primary_key=True),
    sa.Column("owner_arn", sa.String(2048), nullable=False),
    sa.Column("blob_hash", sa.String(64)),
    sa.Column("size", sa.BigInteger),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("uploaded_at", sa.Float),
)

# ---------------------------------------------------------------------------- reports
assessment_reports = sa.Table(
    "assessment_reports",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("author_arn", sa.String(2048), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # IN_PROGRESS | COMPLETE | FAILED
    sa.Column("failure_reason", sa.Text),
    # Where it went: {"destinationType": "S3", "destination": "s3://..."} or {} (Assay's store)
    sa.Column("destination", sa.JSON, nullable=False),
    # Its path in that destination (what ValidateAssessmentReportIntegrity's s3RelativePath names),
    # and for Assay's own store the blob holding the zip.
    sa.Column("relative_path", sa.String(2048)),
    sa.Column("blob_hash", sa.String(64)),
    sa.Column("size", sa.BigInteger),
    sa.Column("evidence_count", sa.Integer),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("completed_at", sa.Float),
    # CreateAssessmentReport's queryStatement: the report holds exactly what it returns.
    sa.Column("query_statement", sa.Text),
    sa.Index("ix_assessment_reports_assessment", "assessment_id", "created_at"),
)

# ---------------------------------------------------------------------------- collection
collection_runs = sa.Table(
    "collection_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # manual | schedule
    # RUNNING | COMPLETE | INTERRUPTED (its process died; run again)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("added", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    sa.Column("errors", sa.Integer, nullable=False, default=0),
    sa.Column("summary", sa.JSON),  # per control and data source
    # Jobs: how many shards the planner made, and requests AWS throttled that then succeeded
    # on a retry (counted apart from failures).
    sa.Column("shards", sa.Integer, nullable=False, default=0),
    sa.Column("throttled", sa.Integer, nullable=False, default=0),
    # Who runs the shards: "queue" (procrastinate workers) or "inline:<host>:<pid>" (the
    # embedded default), so a run a crashed process left RUNNING can be told apart.
    sa.Column("dispatcher", sa.String(100)),
    sa.Index("ix_collection_runs_assessment", "assessment_id", "started_at"),
)

# One row per shard of a run: (account, region, source type[, part]) collected by one job.
# QUEUED -> RUNNING -> DONE | FAILED (every source of the shard failed). A shard's evidence,
# failures and final state are written by the job itself; the run is finished by whichever
# job completes its last shard.
collection_shards = sa.Table(
    "collection_shards",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("shard", sa.String(200), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("source_type", sa.String(32), nullable=False),
    sa.Column("part", sa.String(100), nullable=False),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("added", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    sa.Column("throttled", sa.Integer, nullable=False, default=0),
    sa.Column("errors", sa.Integer, nullable=False, default=0),
    sa.Column("counts", sa.JSON),  # [[control set, control, source type, added, duplicates]]
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Index("ix_collection_shards_status", "run_id", "status"),
)

# Where each source stands per account and region: when it last ran and succeeded (frequency
# windows), and a resumable cursor (CloudTrail log files read so far).
collection_state = sa.Table(
    "collection_state",
    metadata,
    sa.Column("assessment_id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("source_type", sa.String(32), primary_key=True),
    sa.Column("keyword", sa.String(100), primary_key=True),
    sa.Column("last_run_at", sa.Float),
    sa.Column("last_success_at", sa.Float),
    sa.Column("cursor", sa.Text),
)

# Every failure, against the control, account and region, with the AWS error. Never silent.
collection_failures = sa.Table(
    "collection_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("source_type", sa.String(32), nullable=False),
    sa.Column("keyword", sa.String(100), nullable=False),
    sa.Column("error_code", sa.String(128), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.Float, nullable=False),
    sa.Index("ix_collection_failures_run", "run_id"),
    sa.Index("ix_collection_failures_assessment", "assessment_id", "occurred_at"),
)

# ---------------------------------------------------------------------------- console work
# Signed-out console sessions, until the cookie would have expired anyway: every server sharing
# the database refuses them, also after a restart.
ended_sessions = sa.Table(
    "ended_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("principal_arn", sa.String(2048), nullable=False),
    sa.Column("ended_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_ended_sessions_expires", "expires_at"),
)

# A failing control given to a principal to fix by a date (OPEN | DONE | CANCELLED).
control_assignments = sa.Table(
    "control_assignments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("assignee_arn", sa.String(2048), nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(2048), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_control_assignments_assignee", "assignee_arn", "status"),
    sa.Index("ix_control_assignments_control", "assessment_id", "control_set_id", "control_id"),
)

# Risk acceptance of failing checks: one resource of a control, or (resource NULL) the whole
# control. PENDING until the approver decides; APPROVED ones count as accepted until expires_at
# (then EXPIRED); REJECTED and REVOKED never count.
risk_exceptions = sa.Table(
    "risk_exceptions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("resource", sa.String(2048)),
    sa.Column("justification", sa.String(1000), nullable=False),
    sa.Column("requested_by", sa.String(2048), nullable=False),
    sa.Column("approver_arn", sa.String(2048), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("decided_at", sa.Float),
    sa.Index("ix_risk_exceptions_assessment", "assessment_id", "status"),
    sa.Index("ix_risk_exceptions_approver", "approver_arn", "status"),
)

# Until when a manual evidence item (a penetration test report, a policy) stands as evidence.
# Beside the ledger, like the report selection: records themselves never change.
evidence_expiry = sa.Table(
    "evidence_expiry",
    metadata,
    sa.Column("evidence_id", sa.String(36), primary_key=True),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("set_by", sa.String(2048), nullable=False),
    sa.Index("ix_evidence_expiry_control", "assessment_id", "control_set_id", "control_id"),
)


# ---------------------------------------------------------------------------- evidence finder
# The ledger's records flattened onto Audit Manager's evidence record schema (CloudTrail Lake's
# names: ``finder/schema.py``), one row per included resource. Filled while the evidence finder
# is enabled (backfill over existing evidence, then by every append); emptied when disabled.
# Rebuildable at any time from ``evidence``: the ledger stays the record.
evidence_finder = sa.Table(
    "evidence_finder",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_version", sa.String(8)),
    sa.Column("event_category", sa.String(32)),
    sa.Column("event_type", sa.String(64)),
    sa.Column("event_id", sa.String(48), nullable=False),
    sa.Column("event_time", sa.DateTime, nullable=False),
    sa.Column("aws_region", sa.String(32)),
    sa.Column("recipient_account_id", sa.String(12)),
    sa.Column("aws_account_id", sa.String(12)),
    sa.Column("aws_organization", sa.String(2048)),
    sa.Column("compliance_check", sa.String(32)),
    sa.Column("data_source", sa.String(64)),
    sa.Column("event_name", sa.String(256)),
    sa.Column("event_source", sa.String(128)),
    sa.Column("evidence_aws_account_id", sa.String(12)),
    sa.Column("evidence_by_type", sa.String(32)),
    sa.Column("iam_id", sa.String(2048)),
    sa.Column("evidence_id", sa.String(36), nullable=False),
    sa.Column("evidence_time", sa.DateTime),
    sa.Column("assessment_id", sa.String(36), nullable=False),
    sa.Column("control_set_id", sa.String(300), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("control_name", sa.String(300)),
    sa.Column("control_domain_name", sa.String(300)),
    sa.Column("framework_name", sa.String(300)),
    sa.Column("framework_id", sa.String(36)),
    sa.Column("service", sa.String(64)),
    sa.Column("service_category", sa.String(32)),
    sa.Column("resource_arn", sa.String(2048)),
    sa.Column("resource_type", sa.String(256)),
    sa.Column("evidence_folder_id", sa.String(36)),
    sa.Column("description", sa.Text),
    sa.Column("manual_evidence_s3_resource_path", sa.String(2048)),
    sa.Column("evidence_folder_name", sa.String(10)),
    sa.Column("resource_compliance_check", sa.String(32)),
    # 2 failed, 1 inconclusive, 0 passed (finder/schema.py): "failed first" read off an index.
    sa.Column("result_rank", sa.Integer, nullable=False),
    # The console's filters, each leading with what narrows most, then time for its ordering.
    sa.Index("ix_evidence_finder_time", "event_time"),
    sa.Index("ix_evidence_finder_rank", "result_rank", "event_time"),
    sa.Index("ix_evidence_finder_assessment", "assessment_id", "control_set_id", "event_time"),
    sa.Index("ix_evidence_finder_account", "evidence_aws_account_id", "event_time"),
    sa.Index("ix_evidence_finder_check", "compliance_check", "event_time"),
    sa.Index("ix_evidence_finder_source", "data_source", "event_time"),
    sa.Index("ix_evidence_finder_resource", "resource_arn"),
    sa.Index("ix_evidence_finder_evidence", "evidence_id"),
)
