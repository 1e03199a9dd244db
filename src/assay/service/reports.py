"""Assessment reports: CreateAssessmentReport, ListAssessmentReports, DeleteAssessmentReport,
GetAssessmentReportUrl and ValidateAssessmentReportIntegrity.

A report is built in the background from the evidence selected for it (``evidence_selection``)
by ``reports.builder``, which streams records and files from the ledger and blob store into a
zip. The zip goes to the assessment's S3 destination (``s3://bucket/prefix/<assessment
folder>/<report folder>.zip``) or, with no destination, into Assay's own blob store.

Status is IN_PROGRESS -> COMPLETE | FAILED. Audit Manager's shapes have no place for a failure
reason, so Assay keeps it in ``failure_reason`` and shows it where a user looks: the
ValidationException GetAssessmentReportUrl answers for a FAILED report carries it, the author
gets a notification with it (ListNotifications, SNS, webhook), and ``assay report list`` prints
it. While a build runs it writes a heartbeat (in ``completed_at``); a build whose heartbeat
stopped for ``STALE_AFTER`` seconds (its server was stopped) is marked FAILED, so it never
stays IN_PROGRESS forever and can be deleted.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator
from urllib.parse import quote

import sqlalchemy as sa

from ..model.controls import source_names_with_strength
from ..reports import layout
from ..reports.builder import BuildError, EvidenceRow, ReportContext, SealRow, build_report
from ..store import tables
from ..store.blobs import LocalBlobStore, S3BlobStore, read_chunks
from . import paging
from .access import assessment_access
from .activity import log_change
from .auth import READ_REPORTS, WRITE_REPORTS, Caller
from .buckets import bucket_of
from .errors import NotFoundError, ValidationError

log = logging.getLogger("assay.reports")

URL_SECONDS = 15 * 60
STALE_AFTER = 10 * 60        # no heartbeat for this long: the build died with its server
HEARTBEAT_SECONDS = 15
MAX_CONCURRENT_BUILDS = 2
MAX_API_ERRORS = 1000        # ValidateAssessmentReportIntegrity lists at most this many


class ReportService:
    def __init__(self, services):
        self.services = services
        self.store = services.store
        self.s3_client_factory = _s3_client
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_BUILDS)
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._beats: dict[str, float] = {}
        # Builds go to the job queue when one is attached (assay.jobs.attach): report_id -> None.
        self.dispatch: Callable[[str], None] | None = None

    # -- CreateAssessmentReport -----------------------------------------------------------

    def create(self, caller: Caller, params: dict[str, Any], background: bool = True) -> dict:
        caller.require(WRITE_REPORTS)
        query = params.get("queryStatement")
        if query:  # checked now, so a bad query is refused, not a FAILED report later
            self.services.finder.evidence_ids_query(caller, query, params["assessmentId"])
        report_id = str(uuid.uuid4())
        now = time.time()
        with self.store.write() as conn:
            access = assessment_access(conn, caller, params["assessmentId"])
            access.require_owner(WRITE_REPORTS)
            assessment = access.assessment
            destination = dict(assessment.reports_destination or {})
            root = layout.root(assessment.name, assessment.id, params["name"], report_id)
            try:
                relative = layout.relative_path(destination, root)
            except ValueError as exc:
                raise ValidationError.field("assessmentReportsDestination", str(exc))
            conn.execute(tables.assessment_reports.insert().values(
                id=report_id, assessment_id=assessment.id, name=params["name"],
                description=params.get("description"), author=caller.name,
                author_arn=caller.arn, status="IN_PROGRESS", destination=destination,
                relative_path=relative, query_statement=query, created_at=now))
            log_change(conn, caller, assessment.id, "ASSESSMENT_REPORT", params["name"], "CREATE")
            row = self._row(conn, assessment.id, report_id)
            result = self._as_api(row, assessment.name)
        # The build reads the report's row: it starts once that row is committed.
        self.store.after_commit(lambda: self._start_build(report_id, background))
        return {**result, "awsAccountId": self.services.account_id}

    def _start_build(self, report_id: str, background: bool) -> None:
        if background and self.dispatch is not None:
            self.dispatch(report_id)
        elif background:
            thread = threading.Thread(target=self._build, args=(report_id,),
                                      name=f"assay-report-{report_id[:8]}", daemon=True)
            with self._lock:
                self._threads[report_id] = thread
                thread.start()
        else:
            self._build(report_id)

    def coverage(self, caller: Caller, assessment_id: str) -> dict[str, int]:
        """What a new report of the assessment would hold against the whole assessment:
        ``AssessmentService.evidence_totals`` (``selected`` is what the report takes).
        Raises AccessDeniedError / ResourceNotFoundError as reading the assessment does."""
        caller.require(READ_REPORTS)
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            return self.services.assessments.evidence_totals(conn, assessment_id)

    # -- ListAssessmentReports ------------------------------------------------------------

    def list(self, caller: Caller, token: str | None, max_results: int | None):
        caller.require(READ_REPORTS)
        self._expire_stale()
        with self.store.read() as conn:
            rows, next_token = paging.page_query(conn, _listing(), token, max_results, "reports")
        return [self._as_api(row, row.assessment_name) for row in rows], next_token

    def records(self, assessment_id: str | None = None,
                caller: Caller | None = None) -> list[dict[str, Any]]:
        """Every report with what the API cannot carry (failure reason, path, size): for
        ``assay report list`` on the host (no caller) and the console (its signed-in caller)."""
        if caller is not None:
            caller.require(READ_REPORTS)
            if assessment_id:
                with self.store.read() as conn:
                    assessment_access(conn, caller, assessment_id)
        self._expire_stale()
        with self.store.read() as conn:
            query = _listing()
            if assessment_id:
                query = query.where(tables.assessment_reports.c.assessment_id == assessment_id)
            return [{**self._as_api(row, row.assessment_name),
                     "failureReason": row.failure_reason, "s3RelativePath": row.relative_path,
                     "size": row.size, "evidenceCount": row.evidence_count,
                     "completedAt": row.completed_at if row.status != "IN_PROGRESS" else None}
                    for row in conn.execute(query)]

    # -- DeleteAssessmentReport -----------------------------------------------------------

    def delete(self, caller: Caller, assessment_id: str, report_id: str) -> None:
        caller.require(WRITE_REPORTS)
        self._expire_stale()
        with self.store.write() as conn:
            assessment_access(conn, caller, assessment_id).require_owner(WRITE_REPORTS)
            row = self._row(conn, assessment_id, report_id)
            if row.status == "IN_PROGRESS":
                raise ValidationError.field(
                    "assessmentReportId", f"Assessment report {row.name} is still being built; "
                    "delete it once it is COMPLETE or FAILED.")
            conn.execute(tables.assessment_reports.delete()
                         .where(tables.assessment_reports.c.id == report_id))
            log_change(conn, caller, assessment_id, "ASSESSMENT_REPORT", row.name, "DELETE")
            shared = row.blob_hash and conn.execute(
                sa.select(tables.assessment_reports.c.id)
                .where(tables.assessment_reports.c.blob_hash == row.blob_hash)).first()
        # As Audit Manager does: if the stored copy cannot be removed, the metadata still goes.
        try:
            if row.status == "COMPLETE" and row.destination.get("destination"):
                bucket, key = self._s3_object(row)
                self.s3_client_factory().delete_object(Bucket=bucket, Key=key)
            elif row.blob_hash and not shared:
                _delete_blob(self.services.blobs, row.blob_hash)
        except Exception as exc:
            log.warning("report %s: could not delete the stored zip: %s", report_id, exc)

    # -- GetAssessmentReportUrl -----------------------------------------------------------

    def url(self, caller: Caller, assessment_id: str, report_id: str) -> dict[str, str]:
        caller.require(READ_REPORTS)
        self._expire_stale()
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            row = self._row(conn, assessment_id, report_id)
        self._require_complete(row)
        name = layout.report_folder(row.name, row.id) + ".zip"
        if row.destination.get("destination"):
            bucket, key = self._s3_object(row)
            link = self.s3_client_factory().generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key,
                                      "ResponseContentDisposition": f'attachment; filename="{name}"'},
                ExpiresIn=URL_SECONDS)
        else:
            expires = int(time.time()) + URL_SECONDS
            link = (f"{self.services.settings.base_url}/_assay/reports/{quote(row.id)}.zip"
                    f"?expires={expires}"
                    f"&signature={self.services.signer.link_signature('download', row.id, expires)}")
        return {"hyperlinkName": name, "link": link}

    def open_download(self, report_id: str, expires: str, signature: str
                      ) -> tuple[str, int, Iterator[bytes]]:
        """The GET behind a download link (Assay's own store): check the link, then stream the
        zip. Returns (file name, size, chunks)."""
        self.services.signer.check_link("download", report_id, expires, signature)
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.assessment_reports).where(
                tables.assessment_reports.c.id == report_id)).first()
        if row is None or row.status != "COMPLETE" or not row.blob_hash:
            raise NotFoundError("assessmentReport", report_id)
        stream = self.services.blobs.open(row.blob_hash)

        def chunks() -> Iterator[bytes]:
            with stream:
                yield from read_chunks(stream)

        return layout.report_folder(row.name, row.id) + ".zip", row.size, chunks()

    def download(self, report_id: str, target: Path) -> Path:
        """Copy a COMPLETE report's zip to ``target`` (``assay report download``)."""
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.assessment_reports).where(
                tables.assessment_reports.c.id == report_id)).first()
        if row is None:
            raise NotFoundError("assessmentReport", report_id)
        self._require_complete(row)
        if target.is_dir():
            target = target / (layout.report_folder(row.name, row.id) + ".zip")
        with self._open_stored(row) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        return target

    # -- ValidateAssessmentReportIntegrity ------------------------------------------------

    def validate(self, caller: Caller, s3_relative_path: str) -> dict[str, Any]:
        """Re-check the stored copy of a report Assay built, with the instance's public key.
        ``s3RelativePath`` is the report's path as ``assay report list`` and the report's
        README.txt give it: ``s3://bucket/prefix/<assessment>-<id>/<report>-<id>.zip`` on an
        S3 destination, ``s3://assay/<assessment>-<id>/<report>-<id>.zip`` in Assay's store
        (with or without ``.zip``)."""
        from ..reports.verify import Verification, verify_report  # reports.verify imports us

        caller.require(READ_REPORTS)
        wanted = layout.normalise_relative_path(s3_relative_path) + ".zip"
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.assessment_reports).where(
                tables.assessment_reports.c.relative_path == wanted)).first()
            if row is None:
                raise NotFoundError("assessmentReport", s3_relative_path,
                                    f"No assessment report of this instance is stored at "
                                    f"{s3_relative_path}.")
            assessment_access(conn, caller, row.assessment_id)
        self._require_complete(row)
        try:
            with self._open_stored(row) as stream, tempfile.TemporaryFile(
                    prefix="assay-validate-", dir=self._scratch()) as copy:
                if not getattr(stream, "seekable", lambda: False)():
                    shutil.copyfileobj(stream, copy, 1024 * 1024)  # S3: zips need seeking
                    copy.seek(0)
                    stream = copy
                result = verify_report(stream, self.services.signer.public_key)
        except FileNotFoundError as exc:
            result = Verification(errors=[f"missing: {row.relative_path} ({exc})"])
        except Exception as exc:  # the stored object is gone or unreadable
            if _is_missing(exc):
                result = Verification(errors=[f"missing: {row.relative_path} (no longer in "
                                              "its destination)"])
            else:
                raise
        errors = result.errors
        if len(errors) > MAX_API_ERRORS:
            errors = errors[:MAX_API_ERRORS - 1] + [
                f"... and {len(errors) - MAX_API_ERRORS + 1} more problems (run `assay verify` "
                "on the downloaded report for all of them)"]
        return {"signatureValid": result.signature_valid,
                "signatureAlgorithm": result.algorithm or "",
                "signatureDateTime": result.signed_at or "",
                "signatureKeyId": result.key_id or "",
                "validationErrors": [e[:2048] for e in errors]}

    # -- building -------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the builds this process started (tests, benchmarks, shutdown)."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            with self._lock:
                threads = [t for t in self._threads.values()
                           if t is not threading.current_thread() and t.is_alive()]
            if not threads:
                return
            for thread in threads:
                thread.join(None if deadline is None else max(0.0, deadline - time.time()))
            if deadline is not None and time.time() >= deadline:
                return

    def build(self, report_id: str) -> None:
        """Build a report created IN_PROGRESS (the report job); failures are recorded on it."""
        self._build(report_id)

    def _build(self, report_id: str) -> None:
        with self._lock:
            self._threads.setdefault(report_id, threading.current_thread())
        try:
            with self._slots:
                self._build_now(report_id)
        except BuildError as exc:
            self._finish_failed(report_id, str(exc))
        except Exception as exc:  # any other failure is a reason too: shown, never silent
            log.exception("report %s failed", report_id)
            self._finish_failed(report_id, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._threads.pop(report_id, None)
                self._beats.pop(report_id, None)

    def _build_now(self, report_id: str) -> None:
        self._beats[report_id] = 0.0
        self._heartbeat(report_id, 0)
        with tempfile.TemporaryFile(prefix="assay-report-", suffix=".zip",
                                    dir=self._scratch()) as archive:
            with self.store.read() as conn:
                row = conn.execute(sa.select(tables.assessment_reports).where(
                    tables.assessment_reports.c.id == report_id)).first()
                if row is None or row.status != "IN_PROGRESS":
                    return
                if row.destination.get("destination"):
                    # Still a bucket an admin allows (service/buckets.py)? Checked when the
                    # assessment was given it, and again now: the allowance may have ended.
                    bucket = bucket_of(row.destination["destination"])
                    if bucket not in self.services.assessments.buckets.allowed(conn):
                        raise BuildError(f"S3 bucket {bucket} is no longer one that Assay may "
                                         "write to on a caller's behalf (s3_buckets setting).")
                    self._check_bucket(row)  # before the work, not after it
                context = self._context(conn, row)
                chosen = self._chosen(row)
                result = build_report(
                    archive, context, self._evidence(conn, chosen),
                    self._seals(conn, chosen), self.services.blobs.open,
                    self.services.signer, heartbeat=lambda n: self._heartbeat(report_id, n))
            size = archive.tell()
            archive.seek(0)
            blob_hash = None
            if row.destination.get("destination"):
                bucket, key = self._s3_object(row)
                try:
                    self.s3_client_factory().upload_fileobj(
                        archive, bucket, key, ExtraArgs=self._encryption(),
                        Callback=lambda _: self._heartbeat(report_id, result.evidence_count))
                except Exception as exc:
                    raise BuildError(f"Could not write the report to s3://{bucket}/{key}: {exc}")
            else:
                blob_hash, size = self.services.blobs.put(
                    self._beating(read_chunks(archive), report_id, result.evidence_count))
        now = time.time()
        with self.store.write() as conn:
            updated = conn.execute(
                tables.assessment_reports.update()
                .where(tables.assessment_reports.c.id == report_id,
                       tables.assessment_reports.c.status == "IN_PROGRESS")
                .values(status="COMPLETE", blob_hash=blob_hash, size=size, failure_reason=None,
                        evidence_count=result.evidence_count, completed_at=now)).rowcount
            pending = []
            if updated:
                assessment = self._assessment(conn, row.assessment_id)
                pending = self.services.notifier.record(
                    conn, {row.author_arn}, assessment,
                    f"Assessment report {row.name} is ready: {result.evidence_count} evidence "
                    f"item(s), {row.relative_path}." + coverage_warning(
                        result.evidence_count,
                        self.services.assessments.evidence_totals(conn, assessment.id)))
        if not updated:  # expired as stale meanwhile: keep the database and the store agreeing
            log.warning("report %s finished after it was marked FAILED; discarding it", report_id)
            return
        self.services.notifier.publish(pending)

    def _encryption(self) -> dict[str, str]:
        """S3 server-side encryption of a report written to an S3 destination: SSE-KMS with the
        settings' ``kmsKey`` (Audit Manager's customer managed key), or the bucket's default
        encryption when it is DEFAULT. A key S3 cannot use fails the build, with S3's error."""
        with self.store.read() as conn:
            kms_key = self.services.account.settings_document(conn).get("kmsKey") or "DEFAULT"
        if kms_key == "DEFAULT":
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}

    def _check_bucket(self, row) -> None:
        bucket, key = self._s3_object(row)
        try:
            self.s3_client_factory().head_bucket(Bucket=bucket)
        except Exception as exc:
            if _is_missing(exc):
                raise BuildError(f"Could not write the report to s3://{bucket}/{key}: the bucket "
                                 f"{bucket} does not exist (NoSuchBucket).")
            # Anything else (e.g. no s3:ListBucket permission) is left to the upload to decide.

    def _finish_failed(self, report_id: str, reason: str) -> None:
        try:
            with self.store.write() as conn:
                row = conn.execute(sa.select(tables.assessment_reports).where(
                    tables.assessment_reports.c.id == report_id)).first()
                if row is None or row.status != "IN_PROGRESS":
                    return
                conn.execute(tables.assessment_reports.update()
                             .where(tables.assessment_reports.c.id == report_id)
                             .values(status="FAILED", failure_reason=reason[:4000],
                                     completed_at=time.time(), blob_hash=None))
                pending = self.services.notifier.record(
                    conn, {row.author_arn}, self._assessment(conn, row.assessment_id),
                    f"Assessment report {row.name} FAILED: {reason}"[:2048])
            self.services.notifier.publish(pending)
        except Exception:
            log.exception("report %s: could not record its failure (%s)", report_id, reason)

    def _heartbeat(self, report_id: str, count: int) -> None:
        now = time.time()
        if now - self._beats.get(report_id, 0.0) < HEARTBEAT_SECONDS:
            return
        self._beats[report_id] = now
        with self.store.write() as conn:
            conn.execute(tables.assessment_reports.update()
                         .where(tables.assessment_reports.c.id == report_id,
                                tables.assessment_reports.c.status == "IN_PROGRESS")
                         .values(completed_at=now, evidence_count=count))

    def _beating(self, chunks: Iterator[bytes], report_id: str, count: int) -> Iterator[bytes]:
        for chunk in chunks:
            self._heartbeat(report_id, count)
            yield chunk

    def _expire_stale(self) -> None:
        r = tables.assessment_reports
        cutoff = time.time() - STALE_AFTER
        stale_where = (r.c.status == "IN_PROGRESS",
                       sa.func.coalesce(r.c.completed_at, r.c.created_at) < cutoff)
        with self.store.read_one() as conn:
            ids = [i for i in conn.execute(sa.select(r.c.id).where(*stale_where)).scalars()
                   if i not in self._threads]
        for report_id in ids:
            self._finish_failed(report_id, "The build stopped without finishing (the server "
                                "building it was stopped or crashed); create the report again.")

    # -- reading the assessment -----------------------------------------------------------

    def _chosen(self, row) -> sa.Select:
        """The ids of the evidence a report holds: what its query returns (over this
        assessment's evidence, with the author's rights) or what was selected for reports."""
        if row.query_statement:
            return self.services.finder.evidence_ids_query(
                self.services.system(), row.query_statement, row.assessment_id)
        s = tables.evidence_selection
        return sa.select(s.c.evidence_id).where(s.c.assessment_id == row.assessment_id)

    def _evidence(self, conn: sa.Connection, chosen: sa.Select) -> Iterator[EvidenceRow]:
        e = tables.evidence
        query = (sa.select(e.c.seq, e.c.id, e.c.control_set_id, e.c.control_id, e.c.record,
                           e.c.record_hash)
                 .where(e.c.id.in_(chosen)).order_by(e.c.seq))
        for row in conn.execution_options(yield_per=500).execute(query):
            yield EvidenceRow(row.seq, row.id, row.control_set_id, row.control_id, row.record,
                              row.record_hash)

    def _seals(self, conn: sa.Connection, chosen: sa.Select) -> Iterator[SealRow]:
        e, seals = tables.evidence, tables.ledger_seals
        first = conn.execute(sa.select(sa.func.min(e.c.seq)).where(e.c.id.in_(chosen))).scalar()
        if first is None:
            return
        query = sa.select(seals).where(seals.c.seq >= first).order_by(seals.c.seq)
        for row in conn.execution_options(yield_per=500).execute(query):
            yield SealRow(row.seq, row.day, row.chain_hash, row.key_id, row.signature,
                          row.link, row.first_seq, row.batch_root, row.format)

    def _context(self, conn: sa.Connection, row) -> ReportContext:
        assessment = self._assessment(conn, row.assessment_id)
        assessments = self.services.assessments
        comments = {key: [{"author": c["authorName"], "body": c["commentBody"],
                           "posted": _when(c["postedDate"])} for c in thread]
                    for key, thread in assessments.comments(conn, assessment.id).items()}
        controls: dict[str, list] = {}
        for c in conn.execute(sa.select(tables.assessment_controls).where(
                tables.assessment_controls.c.assessment_id == assessment.id)
                .order_by(tables.assessment_controls.c.control_set_id,
                          tables.assessment_controls.c.position)):
            domain = self.services.library.domains.get(c.domain_id)
            controls.setdefault(c.control_set_id, []).append({
                "id": c.control_id, "name": c.name, "status": c.status, "response": c.response,
                "description": c.description, "testingInformation": c.testing_information,
                "actionPlanTitle": c.action_plan_title,
                "actionPlanInstructions": c.action_plan_instructions,
                "domain": domain.name if domain else "Uncategorized",
                "sources": source_names_with_strength(c.mapping_sources or []),
                "comments": comments.get((c.control_set_id, c.control_id), []),
            })
        control_sets = [{"id": s.id, "status": s.status, "controls": controls.get(s.id, [])}
                        for s in conn.execute(sa.select(tables.assessment_control_sets).where(
                            tables.assessment_control_sets.c.assessment_id == assessment.id)
                            .order_by(tables.assessment_control_sets.c.position))]
        scope = assessment.scope or {}
        return ReportContext(
            report={"id": row.id, "name": row.name, "description": row.description,
                    "author": row.author, "authorArn": row.author_arn,
                    "createdAt": row.created_at},
            assessment={
                "id": assessment.id, "name": assessment.name,
                "description": assessment.description, "status": assessment.status,
                "region": assessment.region, "createdAt": _when(assessment.created_at),
                "framework": {"id": assessment.framework_id, "name": assessment.framework_name,
                              "description": assessment.framework_description,
                              "complianceType": assessment.compliance_type},
                "accounts": [{"id": a.get("id"), "name": a.get("name"),
                              "email": a.get("emailAddress")}
                             for a in scope.get("awsAccounts") or []],
                "owners": [{"name": arn.rsplit("/", 1)[-1], "arn": arn}
                           for arn in sorted(assessments.process_owners(conn, assessment.id))],
                # The whole assessment, so the cover never looks cleaner than the truth.
                "evidenceTotals": assessments.evidence_totals(conn, assessment.id),
            },
            control_sets=control_sets, relative_path=row.relative_path,
            exceptions=self._exceptions(conn, assessment.id))

    def _exceptions(self, conn: sa.Connection, assessment_id: str) -> list[dict]:
        """The assessment's risk exceptions for the report, oldest first: every step (asked,
        decided, expired or revoked) as its status and times; ``active`` when in force now."""
        x, c = tables.risk_exceptions, tables.assessment_controls
        now = self.services.worklist.now()
        rows = conn.execute(
            sa.select(x, c.c.name.label("control_name"))
            .join(c, sa.and_(c.c.assessment_id == x.c.assessment_id,
                             c.c.control_set_id == x.c.control_set_id,
                             c.c.control_id == x.c.control_id))
            .where(x.c.assessment_id == assessment_id).order_by(x.c.created_at)).all()
        return [{"id": r.id, "controlSetId": r.control_set_id, "controlId": r.control_id,
                 "controlName": r.control_name, "resource": r.resource,
                 "justification": r.justification, "requestedBy": r.requested_by,
                 "approverArn": r.approver_arn, "approverName": r.approver_arn.rsplit("/", 1)[-1],
                 "status": "EXPIRED" if r.status == "APPROVED" and r.expires_at <= now
                 else r.status,
                 "requestedAt": _when(r.created_at), "decidedAt": _when(r.decided_at)
                 if r.decided_at else None, "expiresAt": _when(r.expires_at),
                 "active": r.status == "APPROVED" and r.expires_at > now} for r in rows]

    @staticmethod
    def _assessment(conn: sa.Connection, assessment_id: str):
        return conn.execute(sa.select(tables.assessments).where(
            tables.assessments.c.id == assessment_id)).first()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _row(conn: sa.Connection, assessment_id: str, report_id: str):
        row = conn.execute(sa.select(tables.assessment_reports).where(
            tables.assessment_reports.c.id == report_id,
            tables.assessment_reports.c.assessment_id == assessment_id)).first()
        if row is None:
            raise NotFoundError("assessmentReport", report_id)
        return row

    @staticmethod
    def _require_complete(row) -> None:
        if row.status == "IN_PROGRESS":
            raise ValidationError.field("assessmentReportId",
                                        f"Assessment report {row.name} is still being built.")
        if row.status == "FAILED":
            raise ValidationError.field("assessmentReportId",
                                        f"Assessment report {row.name} FAILED: {row.failure_reason}")

    @staticmethod
    def _s3_object(row) -> tuple[str, str]:
        bucket, key = row.relative_path[len("s3://"):].split("/", 1)
        return bucket, key

    def _open_stored(self, row) -> BinaryIO:
        if row.destination.get("destination"):
            bucket, key = self._s3_object(row)
            return self.s3_client_factory().get_object(Bucket=bucket, Key=key)["Body"]
        if not self.services.blobs.exists(row.blob_hash):
            raise FileNotFoundError("the stored zip is gone from Assay's blob store")
        return self.services.blobs.open(row.blob_hash)

    def _scratch(self) -> Path:
        folder = self.services.settings.home / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def _as_api(row, assessment_name: str) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "description": row.description,
                "assessmentId": row.assessment_id, "assessmentName": assessment_name,
                "author": row.author, "status": row.status, "creationTime": row.created_at}


def _when(epoch: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else None


def _delete_blob(blobs, digest: str) -> None:
    if isinstance(blobs, LocalBlobStore):
        Path(blobs.path_hint(digest)).unlink(missing_ok=True)
    elif isinstance(blobs, S3BlobStore):
        blobs.client.delete_object(Bucket=blobs.bucket, Key=blobs._key(digest))


def coverage_warning(in_report: int, whole: dict[str, int]) -> str:
    """The warning a report's notification carries when it holds less than its assessment
    (``whole`` as ``AssessmentService.evidence_totals``), or "" when it holds everything."""
    if in_report >= whole["evidence"]:
        return ""
    if in_report == 0:
        return (f" WARNING: no evidence was selected for this report; the assessment has "
                f"{whole['evidence']} evidence item(s), {whole['failed']} of them failed checks.")
    return (f" Note: it covers {in_report} of the assessment's {whole['evidence']} evidence "
            f"item(s) ({whole['failed']} failed checks in the assessment).")


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound")


def _s3_client():
    import boto3

    return boto3.client("s3")


def _listing() -> sa.Select:
    """Reports of assessments that still exist, newest first, with their assessment's name."""
    r, a = tables.assessment_reports, tables.assessments
    return (sa.select(r, a.c.name.label("assessment_name"))
            .join(a, a.c.id == r.c.assessment_id).where(a.c.deleted_at.is_(None))
            .order_by(r.c.created_at.desc(), r.c.id))
