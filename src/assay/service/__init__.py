"""The use cases. ``api/`` and ``console/`` are two faces of this layer: neither touches the
store directly, and every role check and every change record happens here."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..library import Library, load_library
from ..store import Store
from ..store.blobs import BlobStore, open_blob_store
from .access_cache import AccessCache
from .account import AccountService, Organization, delete_all_custom_content
from .activity import Notifier
from .assessments import AssessmentService
from .collection import CollectionService
from .auth import Caller, system_caller
from .buckets import BucketPolicy
from .controls import ControlService
from .evidence import EvidenceService
from .finder import FinderService
from .frameworks import FrameworkService
from .insights import InsightsService
from .instance import ensure_account_id
from .keys import KeyService, load_cipher
from .ledger import Ledger
from .reports import ReportService
from .review import ReviewService
from .posture import PostureService
from .sessions import SessionService
from .worklist import WorklistService
from .sharing import SharingService
from .signing import Signer, load_signer
from .tagging import TagService


@dataclass
class Services:
    settings: Settings
    store: Store
    library: Library
    account_id: str
    keys: KeyService
    tags: TagService
    controls: ControlService
    frameworks: FrameworkService
    account: AccountService
    signer: Signer
    blobs: BlobStore
    ledger: Ledger
    notifier: Notifier
    assessments: AssessmentService
    review: ReviewService
    evidence: EvidenceService
    insights: InsightsService
    collection: CollectionService
    sessions: SessionService
    worklist: WorklistService
    posture: PostureService
    # Set right after construction: they use the other services.
    sharing: SharingService = None
    reports: ReportService = None
    finder: FinderService = None

    def system(self, region: str | None = None) -> Caller:
        return system_caller(region or self.settings.default_region, self.account_id)

    def close(self) -> None:
        self.store.dispose()


def open_services(settings: Settings, library: Library | None = None) -> Services:
    """Open the store (migrating it), load the library and wire the services together."""
    private_home(settings.home)
    store = Store(settings.database_url)
    store.migrate()
    with store.write() as conn:
        account_id = ensure_account_id(conn, settings.account_id)
    library = library or load_library()
    access_cache = AccessCache()
    keys = KeyService(store, load_cipher(settings.secret_key, settings.home), account_id,
                      access_cache)
    keys.adopt_legacy_keys()
    tags = TagService(store)
    controls = ControlService(store, library, account_id, tags)
    frameworks = FrameworkService(store, library, account_id, tags, controls)
    account = AccountService(store, keys.principal_problem, access_cache,
                             organization_lookup=_own_organization)
    account.on_delete_all.append(delete_all_custom_content)
    signer = load_signer(settings.home, settings.signing_key)
    blobs = open_blob_store(settings.blobs_url)
    ledger = Ledger(store, signer, blobs)
    ledger.ensure_head()
    notifier = Notifier(store, lambda conn: account.settings_document(conn).get("snsTopic"),
                        settings.webhook_url)
    assessments = AssessmentService(store, library, account_id, frameworks, tags, notifier,
                                    keys.principal_problem, account.settings_document)
    assessments.buckets = BucketPolicy(settings.s3_buckets.split(","), account.settings_document)
    review = ReviewService(store, assessments, notifier, keys.principal_problem)
    key_role_of = keys.role_of
    evidence = EvidenceService(store, ledger, blobs, signer, assessments, notifier, account_id,
                               lambda: settings.base_url)
    worklist = WorklistService(store, assessments, notifier, key_role_of,
                               f"arn:aws:iam::{account_id}:role/assay")
    insights = InsightsService(store, library, worklist.now)
    collection = CollectionService(store, ledger, notifier, assessments)
    tags.resolvers["control"] = lambda conn, cid: (
        "standard" if cid in library.controls else ("custom" if controls.exists(conn, cid) else None))
    tags.resolvers["assessmentFramework"] = frameworks.kind_of
    tags.resolvers["assessment"] = assessments.kind_of
    services = Services(settings, store, library, account_id, keys, tags, controls, frameworks,
                        account, signer, blobs, ledger, notifier, assessments, review, evidence,
                        insights, collection, SessionService(store), worklist,
                        PostureService(store, library, worklist.now))
    services.sharing = SharingService(services)
    services.reports = ReportService(services)
    services.finder = FinderService(services)
    ledger.on_append.append(services.finder.index_appended)
    account.finder = services.finder
    # "Collect now" is wired by the jobs layer above (assay.jobs.attach), which builds on this.
    return services


def private_home(home) -> None:
    """Assay's home (database, keys, blobs, reports) exists and only its owner can enter it:
    0700, whatever the umask (an existing home that others could read is tightened)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if home.stat().st_mode & 0o077:
        home.chmod(0o700)


def _own_organization() -> Organization | None:
    """The AWS Organization of Assay's own AWS credentials (standard boto3 configuration): its
    id, management account and accounts (DescribeOrganization, ListAccounts), or None when
    there are no credentials or they are not in an organization."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("organizations", config=Config(
            connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1}))
        organization = client.describe_organization()["Organization"]
        accounts = frozenset(a["Id"] for page in client.get_paginator("list_accounts").paginate()
                             for a in page["Accounts"])
        return Organization(organization["Id"], organization["MasterAccountId"], accounts)
    except (BotoCoreError, ClientError):
        return None
