"""The use cases. ``api/`` and ``console/`` are two faces of this layer: neither touches the
store directly, and every role check and every change record happens here."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..library import Library, load_library
from ..store import Store
from ..store.blobs import BlobStore, open_blob_store
from .account import AccountService, delete_all_custom_content
from .activity import Notifier
from .assessments import AssessmentService
from .collection import CollectionService
from .auth import Caller, system_caller
from .controls import ControlService
from .evidence import EvidenceService
from .frameworks import FrameworkService
from .insights import InsightsService
from .instance import ensure_account_id
from .keys import KeyService, load_cipher
from .ledger import Ledger
from .reports import ReportService
from .review import ReviewService
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
    # Set right after construction: they use the other services.
    sharing: SharingService = None
    reports: ReportService = None

    def system(self, region: str | None = None) -> Caller:
        return system_caller(region or self.settings.default_region, self.account_id)

    def close(self) -> None:
        self.store.dispose()


def open_services(settings: Settings, library: Library | None = None) -> Services:
    """Open the store (migrating it), load the library and wire the services together."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    store.migrate()
    with store.write() as conn:
        account_id = ensure_account_id(conn, settings.account_id)
    library = library or load_library()
    keys = KeyService(store, load_cipher(settings.secret_key, settings.home), account_id)
    tags = TagService(store)
    controls = ControlService(store, library, account_id, tags)
    frameworks = FrameworkService(store, library, account_id, tags, controls)
    is_active_key_arn = lambda conn, arn: keys.by_arn(conn, arn) is not None  # noqa: E731
    account = AccountService(store, is_active_key_arn, organization_lookup=_own_organization)
    account.on_delete_all.append(delete_all_custom_content)
    signer = load_signer(settings.home, settings.signing_key)
    blobs = open_blob_store(settings.blobs_url)
    ledger = Ledger(store, signer, blobs)
    ledger.ensure_head()
    notifier = Notifier(store, lambda conn: account.settings_document(conn).get("snsTopic"),
                        settings.webhook_url)
    assessments = AssessmentService(store, library, account_id, frameworks, tags, notifier,
                                    is_active_key_arn, account.settings_document)
    review = ReviewService(store, assessments, notifier,
                           lambda conn, arn: getattr(keys.by_arn(conn, arn), "role", None))
    evidence = EvidenceService(store, ledger, blobs, signer, assessments, notifier, account_id,
                               lambda: settings.base_url)
    insights = InsightsService(store, library)
    collection = CollectionService(store, ledger, notifier, assessments)
    tags.resolvers["control"] = lambda conn, cid: (
        "standard" if cid in library.controls else ("custom" if controls.exists(conn, cid) else None))
    tags.resolvers["assessmentFramework"] = frameworks.kind_of
    tags.resolvers["assessment"] = assessments.kind_of
    services = Services(settings, store, library, account_id, keys, tags, controls, frameworks,
                        account, signer, blobs, ledger, notifier, assessments, review, evidence,
                        insights, collection)
    services.sharing = SharingService(services)
    services.reports = ReportService(services)
    # "Collect now" is wired by the jobs layer above (assay.jobs.attach), which builds on this.
    return services


def _own_organization() -> str | None:
    """The AWS Organization of Assay's own AWS credentials (standard boto3 configuration), or
    None when there are none or they are not in an organization."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("organizations", config=Config(
            connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1}))
        return client.describe_organization()["Organization"]["Id"]
    except (BotoCoreError, ClientError):
        return None
