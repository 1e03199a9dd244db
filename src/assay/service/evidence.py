"""Evidence folders and evidence, report selection, and manual evidence (uploads, S3 objects and
text responses) appended to the ledger."""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import time
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import quote

import orjson
import sqlalchemy as sa

from ..model.evidence import MANUAL, NOT_APPLICABLE, evidence_attributes
from ..store import Store, tables
from ..store.blobs import BlobStore, BlobTooLarge, S3BlobStore, read_chunks
from . import paging
from .access import assessment_access
from .activity import Notifier, log_change
from .assessments import AssessmentService
from .auth import IMPORT_EVIDENCE, Caller
from .errors import AccessDeniedError, NotFoundError, ServiceError, ValidationError
from .ledger import EvidenceDraft, Ledger, day_of
from .signing import Signer

log = logging.getLogger("assay.evidence")

MAX_FILE_BYTES = 100 * 1024 * 1024
UPLOAD_URL_SECONDS = 15 * 60
# Fields of a ledger record that the Evidence shape carries.
_EVIDENCE_FIELDS = ("dataSource", "evidenceAwsAccountId", "time", "eventSource", "eventName",
                    "evidenceByType", "resourcesIncluded", "attributes", "iamId",
                    "complianceCheck", "awsOrganization", "awsAccountId", "evidenceFolderId", "id")


class EvidenceService:
    def __init__(self, store: Store, ledger: Ledger, blobs: BlobStore, signer: Signer,
                 assessments: AssessmentService, notifier: Notifier, account_id: str,
                 base_url: Callable[[], str], s3_client_factory: Callable[[], Any] | None = None):
        self.store = store
        self.ledger = ledger
        self.blobs = blobs
        self.signer = signer
        self.assessments = assessments
        self.notifier = notifier
        self.account_id = account_id
        self.base_url = base_url
        self.s3_client_factory = s3_client_factory or _s3_client

    # -- folders --------------------------------------------------------------------------

    def folders_by_assessment(self, caller: Caller, assessment_id: str, token, max_results):
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            f = tables.evidence_folders
            query = sa.select(f).where(f.c.assessment_id == assessment_id)
            if not access.sees_everything:
                query = query.where(f.c.control_set_id.in_(sorted(access.delegated_sets)))
            rows, next_token = paging.page_query(
                conn, query.order_by(f.c.day.desc(), f.c.control_set_id, f.c.control_id,
                                     f.c.data_source), token, max_results,
                f"folders:{assessment_id}")
            return self._folders(conn, rows), next_token

    def folders_by_control(self, caller: Caller, assessment_id: str, control_set_id: str,
                           control_id: str, token, max_results):
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_set(control_set_id)
            self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            f = tables.evidence_folders
            query = sa.select(f).where(f.c.assessment_id == assessment_id,
                                       f.c.control_set_id == control_set_id,
                                       f.c.control_id == control_id)
            rows, next_token = paging.page_query(
                conn, query.order_by(f.c.day.desc(), f.c.data_source), token, max_results,
                f"folders:{assessment_id}:{control_set_id}:{control_id}")
            return self._folders(conn, rows), next_token

    def equivalent_evidence(self, caller: Caller, assessment_id: str, control_set_id: str,
                            control_id: str) -> list[dict[str, Any]]:
        """Evidence other assessments collected for this control's requirement, offered to this
        one: the controls of every other assessment over the same AWS accounts (its scope's
        account set equal to this one's, so its evidence is about the same resources) that are
        this control or equivalent to it (`Library.equivalents`: they share a `tests` source),
        with evidence, in assessments and control sets the caller may read.

        Returns ``[{"assessmentId", "assessmentName", "controlSetId", "controlId",
        "controlName", "sameControl": bool, "sharedSources": [keywordValue, ...],
        "evidence", "compliant", "failed", "lastDay": "YYYY-MM-DD"}]`` (item counts from the
        folders' counters), by assessment name then control name. Raises as
        `folders_by_control` does when the caller cannot see this control."""
        library = self.assessments.library
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_set(control_set_id)
            self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            accounts = _accounts(access.assessment.scope)
            if not accounts:
                return []
            shared = {control_id: ()}
            shared.update({e.control.id: tuple(sorted({k for _, k in e.shared}))
                           for e in library.equivalents(control_id)})
            a = tables.assessments
            others = [row for row in conn.execute(
                sa.select(a.c.id, a.c.name, a.c.scope)
                .where(a.c.deleted_at.is_(None), a.c.id != assessment_id))
                if _accounts(row.scope) == accounts]
            if not others:
                return []
            f, ac = tables.evidence_folders, tables.assessment_controls
            rows = conn.execute(
                sa.select(f.c.assessment_id, f.c.control_set_id, f.c.control_id, ac.c.name,
                          sa.func.sum(f.c.total), sa.func.sum(f.c.compliant),
                          sa.func.sum(f.c.noncompliant), sa.func.max(f.c.day))
                .join(ac, sa.and_(ac.c.assessment_id == f.c.assessment_id,
                                  ac.c.control_set_id == f.c.control_set_id,
                                  ac.c.control_id == f.c.control_id))
                .where(f.c.assessment_id.in_([o.id for o in others]),
                       f.c.control_id.in_(sorted(shared)))
                .group_by(f.c.assessment_id, f.c.control_set_id, f.c.control_id, ac.c.name)
            ).all()
            names = {o.id: o.name for o in others}
            readable: dict[str, Any] = {}
            found = []
            for aid, set_id, cid, name, total, compliant, failed, last_day in rows:
                if not total:
                    continue
                if aid not in readable:
                    try:
                        readable[aid] = assessment_access(conn, caller, aid)
                    except (AccessDeniedError, NotFoundError):
                        readable[aid] = None
                if readable[aid] is None or not readable[aid].can_see_set(set_id):
                    continue
                found.append({
                    "assessmentId": aid, "assessmentName": names[aid], "controlSetId": set_id,
                    "controlId": cid, "controlName": name, "sameControl": cid == control_id,
                    "sharedSources": list(shared[cid]), "evidence": int(total),
                    "compliant": int(compliant or 0), "failed": int(failed or 0),
                    "lastDay": last_day,
                })
        return sorted(found, key=lambda x: (x["assessmentName"], x["controlName"],
                                            x["controlSetId"]))

    def folder(self, caller: Caller, assessment_id: str, control_set_id: str, folder_id: str):
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            row = self._folder_in_set(conn, access, control_set_id, folder_id)
            return self._folders(conn, [row])[0]

    def daily_results(self, caller: Caller, assessment_id: str, since_day: str,
                      control_set_id: str | None = None,
                      control_id: str | None = None) -> dict[str, tuple[int, int]]:
        """Passed and failed checks per day (compliant and non-compliant evidence, from the
        folders' counters) since ``since_day``, for an assessment or one of its controls."""
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            f = tables.evidence_folders
            query = (sa.select(f.c.day, sa.func.sum(f.c.compliant), sa.func.sum(f.c.noncompliant))
                     .where(f.c.assessment_id == assessment_id, f.c.day >= since_day)
                     .group_by(f.c.day))
            if control_set_id is not None:
                access.require_set(control_set_id)
                query = query.where(f.c.control_set_id == control_set_id)
            elif not access.sees_everything:
                query = query.where(f.c.control_set_id.in_(sorted(access.delegated_sets)))
            if control_id is not None:
                query = query.where(f.c.control_id == control_id)
            return {day: (int(passed or 0), int(failed or 0))
                    for day, passed, failed in conn.execute(query)}

    def _folder_in_set(self, conn, access, control_set_id: str, folder_id: str):
        """The folder named by the path of GetEvidenceFolder, GetEvidenceByEvidenceFolder and
        GetEvidence, checked against the caller's rights on the folder's own control set.

        The ``controlSetId`` slot takes the folder's control set id or, as AWS accepts, the
        folder's own id: AWS's published example (aws-doc-sdk-examples,
        python/example_code/auditmanager/create_assessment_report.py) passes the folder id
        there. Anything else is a ResourceNotFoundException, as is a folder of another
        assessment; a delegate gets AccessDeniedException for a set not delegated to it."""
        if control_set_id != folder_id:
            access.require_set(control_set_id)  # refused before anything is looked up
        row = self._folder_row(conn, access.assessment.id, None, folder_id)
        if control_set_id not in (row.control_set_id, row.id):
            raise NotFoundError("evidenceFolder", folder_id,
                                f"Evidence folder {folder_id} is not in control set "
                                f"'{control_set_id}' of assessment {access.assessment.id}.")
        access.require_set(row.control_set_id)
        return row

    def _folder_row(self, conn, assessment_id: str, control_set_id: str | None, folder_id: str):
        f = tables.evidence_folders
        where = [f.c.id == folder_id, f.c.assessment_id == assessment_id]
        if control_set_id is not None:
            where.append(f.c.control_set_id == control_set_id)
        row = conn.execute(sa.select(f).where(*where)).first()
        if row is None:
            raise NotFoundError("evidenceFolder", folder_id)
        return row

    def _folders(self, conn, rows) -> list[dict[str, Any]]:
        names = {}
        if rows:
            c = tables.assessment_controls
            for r in conn.execute(sa.select(c.c.control_set_id, c.c.control_id, c.c.name).where(
                    c.c.assessment_id == rows[0].assessment_id)):
                names[(r.control_set_id, r.control_id)] = r.name
        return [{
            "name": row.day, "date": _day_epoch(row.day), "assessmentId": row.assessment_id,
            "controlSetId": row.control_set_id, "controlId": row.control_id, "id": row.id,
            "dataSource": row.data_source, "author": row.author, "totalEvidence": row.total,
            "assessmentReportSelectionCount": row.report_selected,
            "controlName": names.get((row.control_set_id, row.control_id)),
            "evidenceResourcesIncludedCount": row.resources_included,
            "evidenceByTypeConfigurationDataCount": row.configuration_data,
            "evidenceByTypeManualCount": row.manual,
            "evidenceByTypeComplianceCheckCount": row.compliance_check,
            "evidenceByTypeComplianceCheckIssuesCount": row.compliance_issues,
            "evidenceByTypeUserActivityCount": row.user_activity,
            "evidenceAwsServiceSourceCount": len(row.event_sources or []),
        } for row in rows]

    # -- evidence -------------------------------------------------------------------------

    def evidence_in_folder(self, caller: Caller, assessment_id: str, control_set_id: str,
                           folder_id: str, token, max_results):
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            self._folder_in_set(conn, access, control_set_id, folder_id)
            e, chosen = tables.evidence, tables.evidence_selection
            # The records and their report selection in one query, nothing else of the row.
            rows, next_token = paging.page_query(
                conn, sa.select(e.c.record, chosen.c.evidence_id.label("selected"))
                .outerjoin(chosen, chosen.c.evidence_id == e.c.id)
                .where(e.c.folder_id == folder_id).order_by(e.c.seq),
                token, max_results, f"evidence:{folder_id}")
            return [self.as_api(r, r.selected is not None) for r in rows], next_token

    def evidence(self, caller: Caller, assessment_id: str, control_set_id: str, folder_id: str,
                 evidence_id: str) -> dict:
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            self._folder_in_set(conn, access, control_set_id, folder_id)
            row = conn.execute(sa.select(tables.evidence).where(
                tables.evidence.c.id == evidence_id, tables.evidence.c.folder_id == folder_id)).first()
            if row is None:
                raise NotFoundError("evidence", evidence_id)
            return self.as_api(row, bool(self._selected(conn, [row.id])))

    @staticmethod
    def as_api(row, selected: bool) -> dict[str, Any]:
        record = orjson.loads(row.record)
        out = {name: record.get(name) for name in _EVIDENCE_FIELDS}
        out["attributes"] = evidence_attributes(record)
        # Records filed before every item carried a check read back as AWS answers them.
        out["complianceCheck"] = out["complianceCheck"] or NOT_APPLICABLE
        out["assessmentReportSelection"] = "Yes" if selected else "No"
        return out

    @staticmethod
    def _selected(conn, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(conn.execute(sa.select(tables.evidence_selection.c.evidence_id).where(
            tables.evidence_selection.c.evidence_id.in_(ids))).scalars())

    # -- report selection -----------------------------------------------------------------

    def select_for_report(self, caller: Caller, assessment_id: str, folder_id: str,
                          evidence_ids: list[str] | None, selected: bool):
        """Associate (or disassociate) evidence with the assessment report. ``evidence_ids``
        None means the whole folder. Returns (ids changed, per-item errors)."""
        done, errors = [], []
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            folder = self._folder_row(conn, assessment_id, None, folder_id)
            access.require_review(folder.control_set_id)
            e, s = tables.evidence, tables.evidence_selection
            in_folder = set(conn.execute(sa.select(e.c.id).where(e.c.folder_id == folder_id)).scalars())
            # A repeated id is one item: associating it twice would insert it twice.
            wanted = sorted(in_folder) if evidence_ids is None else list(dict.fromkeys(evidence_ids))
            already = self._selected(conn, list(wanted))
            now = time.time()
            for evidence_id in wanted:
                if evidence_id not in in_folder:
                    errors.append({"evidenceId": evidence_id, "errorCode": "404",
                                   "errorMessage": f"Evidence {evidence_id} is not in folder {folder_id}."})
                    continue
                if selected and evidence_id not in already:
                    conn.execute(s.insert().values(evidence_id=evidence_id, folder_id=folder_id,
                                                   assessment_id=assessment_id, selected_at=now))
                elif not selected and evidence_id in already:
                    conn.execute(s.delete().where(s.c.evidence_id == evidence_id))
                done.append(evidence_id)
            count = conn.execute(sa.select(sa.func.count()).select_from(s)
                                 .where(s.c.folder_id == folder_id)).scalar_one()
            conn.execute(tables.evidence_folders.update()
                         .where(tables.evidence_folders.c.id == folder_id)
                         .values(report_selected=count))
            if done:
                control = self.assessments.control_row(conn, assessment_id, folder.control_set_id,
                                                       folder.control_id)
                log_change(conn, caller, assessment_id, "CONTROL", control.name, "UPDATE_METADATA",
                           folder.control_set_id, folder.control_id)
        return done, errors

    # -- manual evidence ------------------------------------------------------------------

    def upload_url(self, caller: Caller, file_name: str) -> dict[str, str]:
        caller.require(IMPORT_EVIDENCE)
        safe = re.sub(r"[^\w.\- ]", "_", file_name).strip() or "evidence"
        stored_name = f"{uuid.uuid4().hex[:12]}-{safe}"[:300]
        expires = int(time.time()) + UPLOAD_URL_SECONDS
        with self.store.write() as conn:
            conn.execute(tables.uploads.insert().values(
                file_name=stored_name, owner_arn=caller.arn, created_at=time.time()))
        if isinstance(self.blobs, S3BlobStore):
            url = self.blobs.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.blobs.bucket,
                                      "Key": self._staging_key(stored_name)},
                ExpiresIn=UPLOAD_URL_SECONDS)
        else:
            signature = self.signer.link_signature("upload", stored_name, expires)
            url = (f"{self.base_url()}/_assay/uploads/{quote(stored_name)}"
                   f"?expires={expires}&signature={signature}")
        return {"evidenceFileName": stored_name, "uploadUrl": url}

    def _staging_key(self, stored_name: str) -> str:
        prefix = self.blobs.prefix  # type: ignore[attr-defined]
        return f"{prefix}/uploads/{stored_name}" if prefix else f"uploads/{stored_name}"

    def check_upload_link(self, stored_name: str, expires: str, signature: str):
        """Refuse an upload URL that was altered, has expired or was already used."""
        self.signer.check_link("upload", stored_name, expires, signature)
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.uploads).where(
                tables.uploads.c.file_name == stored_name)).first()
        if row is None:
            raise NotFoundError("upload", stored_name)
        if row.uploaded_at is not None:
            raise ValidationError.field("evidenceFileName", "This upload URL was already used.")

    def receive_upload(self, stored_name: str, expires: str, signature: str,
                       chunks: Iterable[bytes]) -> int:
        """The PUT behind an upload URL (local blob store): check the link, stream the file in."""
        self.check_upload_link(stored_name, expires, signature)
        try:
            digest, size = self.blobs.put(chunks, limit=MAX_FILE_BYTES)
        except BlobTooLarge:
            raise ValidationError.field("file", f"Evidence files are limited to {MAX_FILE_BYTES} bytes.")
        with self.store.write() as conn:
            conn.execute(tables.uploads.update().where(tables.uploads.c.file_name == stored_name)
                         .values(blob_hash=digest, size=size, uploaded_at=time.time()))
        return size

    def import_manual(self, caller: Caller, assessment_id: str, control_set_id: str,
                      control_id: str, items: list[dict]) -> list[dict]:
        """BatchImportEvidenceToAssessmentControl: items that fail are reported one by one;
        the rest land together in one transaction (a crash leaves all of them or none)."""
        errors, drafts, pending = [], [], []
        # Files are copied into the blob store before the transaction: blobs are content
        # addressed, so a crash leaves at worst an unreferenced blob, never a partial batch.
        prepared = []
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_review(control_set_id)
            caller.require(IMPORT_EVIDENCE)
            access.require_active()
            control = self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            if control.status == "INACTIVE":
                raise ValidationError.field("controlId", "The control is INACTIVE: it takes no evidence.")
            destination = access.assessment.reports_destination
        for item in items:
            try:
                prepared.append((item, self._manual_record(caller, item, destination)))
            except ServiceError as error:
                errors.append({"manualEvidence": item, "errorCode": str(error.status),
                               "errorMessage": error.message[:300]})
        now = time.time()
        day = day_of(now)
        for item, (record, identity) in prepared:
            record.update({"time": now, "awsAccountId": self.account_id,
                           "evidenceAwsAccountId": self.account_id, "iamId": caller.arn})
            drafts.append(EvidenceDraft(assessment_id, control_set_id, control_id, day, identity,
                                        record))
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_active()
            if drafts:
                self.ledger.append(conn, drafts, author=caller.name)
                for item, _ in prepared:
                    if item.get("evidenceFileName"):
                        conn.execute(tables.uploads.delete().where(
                            tables.uploads.c.file_name == item["evidenceFileName"]))
                log_change(conn, caller, assessment_id, "CONTROL", control.name, "IMPORT_EVIDENCE",
                           control_set_id, control_id)
                owners = self.assessments.process_owners(conn, assessment_id)
                pending = self.notifier.record(
                    conn, owners - {caller.arn}, access.assessment,
                    f"{caller.name} added {len(drafts)} manual evidence item(s) to {control.name}.",
                    control_set_id)
        self.notifier.publish(pending)
        return errors

    def _manual_record(self, caller: Caller, item: dict,
                       destination: dict | None = None) -> tuple[dict, str]:
        given = [k for k in ("s3ResourcePath", "evidenceFileName", "textResponse") if item.get(k)]
        if len(given) != 1:
            raise ValidationError.field(
                "manualEvidence", "Give exactly one of s3ResourcePath, evidenceFileName and textResponse.")
        base = {"dataSource": MANUAL, "evidenceByType": MANUAL, "eventName": "ImportEvidence",
                "sourceType": "MANUAL", "resourcesIncluded": [], "complianceCheck": NOT_APPLICABLE}
        if item.get("textResponse"):
            text = item["textResponse"]
            digest = hashlib.sha256(text.encode()).hexdigest()
            return ({**base, "textResponse": text,
                     "attributes": {"textResponse": text[:200]}}, f"text:{digest}")
        if item.get("evidenceFileName"):
            name = item["evidenceFileName"]
            digest, size = self._uploaded(caller, name)
            original = name.split("-", 1)[-1]
        else:
            path = item["s3ResourcePath"]
            digest, size = self._from_s3(path, destination)
            original = path.rsplit("/", 1)[-1]
        return ({**base, "file": {"name": original, "sha256": digest, "size": size,
                                  "source": item.get("s3ResourcePath") or "upload"},
                 "resourcesIncluded": [{"value": original}],
                 "attributes": {"fileName": original[:200], "sha256": digest}},
                f"file:{digest}:{original}")

    def _uploaded(self, caller: Caller, stored_name: str) -> tuple[str, int]:
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.uploads).where(
                tables.uploads.c.file_name == stored_name)).first()
        if row is None:
            raise NotFoundError("evidenceFile", stored_name,
                                f"No upload named {stored_name}: call GetEvidenceFileUploadUrl first.")
        if row.owner_arn != caller.arn:
            raise AccessDeniedError(f"The upload {stored_name} belongs to another identity.")
        if isinstance(self.blobs, S3BlobStore) and row.uploaded_at is None:
            body = self.blobs.client.get_object(Bucket=self.blobs.bucket,
                                                Key=self._staging_key(stored_name))["Body"]
            return self.blobs.put(read_chunks(body), limit=MAX_FILE_BYTES)
        if row.uploaded_at is None:
            raise ValidationError.field("evidenceFileName",
                                        f"Nothing was uploaded to the URL for {stored_name} yet.")
        return row.blob_hash, row.size

    def _from_s3(self, path: str, destination: dict | None) -> tuple[str, int]:
        """Copy an S3 object into the blob store with Assay's credentials: only from a bucket
        an admin allowed (service/buckets.py), and with one answer for every read failure, so
        that the error tells nothing about what exists."""
        with self.store.read() as conn:
            bucket, key = self.assessments.buckets.require(conn, path, "s3ResourcePath",
                                                           destination)
        if not key:
            raise ValidationError.field("s3ResourcePath", f"{path} does not name an S3 object.")
        try:
            body = self.s3_client_factory().get_object(Bucket=bucket, Key=key)["Body"]
            return self.blobs.put(read_chunks(body), limit=MAX_FILE_BYTES)
        except BlobTooLarge:
            raise ValidationError.field("s3ResourcePath",
                                        f"Evidence files are limited to {MAX_FILE_BYTES} bytes.")
        except Exception as exc:  # botocore errors: no such bucket/key, access denied
            log.info("s3ResourcePath %s could not be read: %s", path, exc)
            raise ValidationError.field("s3ResourcePath", (
                f"Could not read {path}: there is no such object, or Assay may not read it."))


def _accounts(scope: dict | None) -> frozenset[str]:
    """The AWS account ids of an assessment's scope."""
    return frozenset(a.get("id") for a in (scope or {}).get("awsAccounts") or [] if a.get("id"))


def _day_epoch(day: str) -> float:
    """A folder's ``date``: midnight UTC of its day."""
    return float(calendar.timegm(time.strptime(day, "%Y-%m-%d")))


def _s3_client():
    import boto3

    return boto3.client("s3")
