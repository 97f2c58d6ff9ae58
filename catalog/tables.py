"""The registry's tables (SQLModel). Migrations in catalog/migrations follow these definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel


def _json(**kwargs: Any) -> Any:
    return Field(default=None, sa_column=Column(JSON, **kwargs))


class License(SQLModel, table=True):
    """A knowledge-base license, mirrored into the database so queries can join and count."""

    id: str = Field(primary_key=True)
    name: str
    category: str = Field(index=True)
    spdx: str | None = None
    url: str | None = None


class Task(SQLModel, table=True):
    """A use-case: a Hub pipeline tag such as text-generation."""

    id: str = Field(primary_key=True)
    name: str


class Model(SQLModel, table=True):
    # Sort orders of the search API (revision 0002).
    __table_args__ = (
        Index("ix_model_downloads", "downloads"),
        Index("ix_model_likes", "likes"),
        Index("ix_model_last_modified", "last_modified"),
        Index("ix_model_created_at", "created_at"),
        # Deep pages skip rows inside the index (revision 0005).
        Index("ix_model_page_downloads", "downloads", "id", "missing"),
        Index("ix_model_page_likes", "likes", "id", "missing"),
    )
    id: str = Field(primary_key=True)  # the Hub repo id, owner/name
    author: str | None = Field(default=None, index=True)
    sha: str | None = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    downloads: int = 0
    likes: int = 0
    pipeline_tag: str | None = Field(default=None, index=True)
    library_name: str | None = Field(default=None, index=True)
    languages: list[str] | None = _json()
    tags: list[str] | None = _json()
    gated: str | None = None  # false | auto | manual, as the Hub says
    disabled: bool = False
    private: bool = False
    declared_license: str | None = None  # the card's own value, verbatim (a list is joined by ", ")
    license_name: str | None = None
    license_link: str | None = None
    license_ids: list[str] | None = _json()  # resolved through the knowledge base
    license_category: str | None = Field(default=None, index=True)
    card_data: dict[str, Any] | None = _json()
    card_errors: list[str] | None = _json()
    summary: str | None = Field(default=None, sa_column=Column(Text))
    # A model referenced as a base but not found on the Hub: kept so verdicts can say so.
    missing: bool = False
    ingested_at: datetime | None = None
    # The catalog version of this row's last change, so the search index reads only what changed.
    search_version: int = Field(default=0, index=True)
    content_digest: str | None = None  # of the normalised record (revision 0008)


class Dataset(SQLModel, table=True):
    id: str = Field(primary_key=True)
    author: str | None = Field(default=None, index=True)
    sha: str | None = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    downloads: int = 0
    likes: int = 0
    languages: list[str] | None = _json()
    tags: list[str] | None = _json()
    task_categories: list[str] | None = _json()
    gated: str | None = None
    disabled: bool = False
    declared_license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    license_ids: list[str] | None = _json()
    license_category: str | None = Field(default=None, index=True)
    card_data: dict[str, Any] | None = _json()
    card_errors: list[str] | None = _json()
    missing: bool = False
    ingested_at: datetime | None = None
    content_digest: str | None = None  # of the normalised record (revision 0008)


class LineageEdge(SQLModel, table=True):
    """A lineage edge: a model and one of its base models, with how it derives from it."""

    __tablename__ = "model_base"
    model_id: str = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    base_id: str = Field(primary_key=True, index=True)  # may name a model not (yet) in the catalog
    relation: str = "finetune"  # finetune | adapter | quantized | merge


class ModelDataset(SQLModel, table=True):
    """An edge from a model to a dataset it was trained on."""

    __tablename__ = "model_dataset"
    model_id: str = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    dataset_id: str = Field(primary_key=True, index=True)


class LicenseObservation(SQLModel, table=True):
    """A declared license seen on a repo between two times; a change starts a new row."""

    __tablename__ = "license_observation"
    __table_args__ = (Index("ix_license_observation_repo", "repo_kind", "repo_id"),)
    id: int | None = Field(default=None, primary_key=True)
    repo_kind: str  # model | dataset
    repo_id: str
    sha: str | None = None
    declared_license: str | None = None
    license_ids: list[str] | None = _json()
    first_seen: datetime
    last_seen: datetime


class ModelVerdict(SQLModel, table=True):
    """A verdict computed when data changed, so search can filter and count by it."""

    __tablename__ = "model_verdict"
    __table_args__ = (
        Index("ix_model_verdict_lookup", "use", "policy", "verdict"),
        Index("ix_model_verdict_model", "use", "policy", "model_id", "verdict"),
    )
    model_id: str = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    use: str = Field(primary_key=True)
    policy: str = Field(primary_key=True)
    verdict: str
    effective_category: str | None = None


class CrawlState(SQLModel, table=True):
    """Where a Hub crawl stands, so a killed run resumes and the next run is incremental."""

    __tablename__ = "crawl_state"
    key: str = Field(primary_key=True)  # one per (endpoint, kind, query)
    cursor_url: str | None = None  # the next page of the run in progress
    high_water: datetime | None = (
        None  # lastModified of the newest item seen in the run in progress
    )
    completed_through: datetime | None = None  # high_water of the last completed run
    started_at: datetime | None = None
    completed_at: datetime | None = None


class ModelLicense(SQLModel, table=True):
    """A model's resolved license ids, one row each, so search can filter and count by license."""

    __tablename__ = "model_license"
    __table_args__ = (Index("ix_model_license_license_id", "license_id", "model_id"),)
    model_id: str = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    license_id: str = Field(primary_key=True)


class ModelLanguage(SQLModel, table=True):
    __tablename__ = "model_language"
    __table_args__ = (Index("ix_model_language_language", "language", "model_id"),)
    model_id: str = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    language: str = Field(primary_key=True)


class StaleVerdict(SQLModel, table=True):
    """A model whose stored verdicts must be recomputed (it, an ancestor or a dataset changed)."""

    __tablename__ = "stale_verdict"
    model_id: str = Field(primary_key=True)


class CatalogVersion(SQLModel, table=True):
    """One row whose number goes up on every write, so caches of search counts know when to drop."""

    __tablename__ = "catalog_version"
    id: int = Field(default=1, primary_key=True)
    version: int = 0
    bitmaps_version: int | None = None  # the version the saved search bitmaps were built at
    # Random when the row is made (a server default, revision 0010): a search index built for another
    # catalog at the same URL (the database was recreated) is told apart even if versions meet again.
    epoch: int | None = Field(default=None, sa_column=Column(BigInteger))
    rules_digest: str | None = None  # the knowledge stored verdicts were computed with (0007)


class SearchBitmap(SQLModel, table=True):
    """One saved bitmap of the search index (catalog.search_index), so a restart need not rebuild it."""

    __tablename__ = "search_bitmap"
    facet: str = Field(primary_key=True)  # a facet, or live / gated / judged / cleared
    value: str = Field(primary_key=True)  # the facet value, or the policy
    bitmap: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DemoJobRecord(SQLModel, table=True):
    """A demo build's state, kept in the database so any web worker answers for it (0011)."""

    __tablename__ = "demo_job"
    id: str = Field(primary_key=True, max_length=32)
    model: str = Field(index=True)
    backend: str  # local | ray
    state: str  # queued, downloading, converting, loading, ready, failed
    progress: float = 0.0
    error: str | None = Field(default=None, sa_column=Column(Text))
    error_status: int | None = None
    device: str | None = None
    compute_type: str | None = None
    model_key: str | None = None  # the converted-model cache key (repo, revision, compute type)
    created_at: datetime
    updated_at: datetime
    heartbeat_at: datetime | None = None  # the builder's last sign of life while it works


class User(SQLModel, table=True):
    """A person or a machine with a role; only hashes of its password and API token are kept."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str  # viewer | reviewer | admin
    token_hash: str = Field(unique=True)  # sha256 of a random token: tokens are not guessable
    password_hash: str | None = None  # Werkzeug's salted hash, for signing in to the pages
    rate_limit: str | None = None  # e.g. "100/minute"; None takes the service's default
    created_at: datetime
    revoked_at: datetime | None = None


class Curation(SQLModel, table=True):
    """A reviewer's correction of one input fact of a repo; the engine uses it instead of the Hub's."""

    __table_args__ = (Index("ix_curation_repo", "repo_kind", "repo_id"),)
    id: int | None = Field(default=None, primary_key=True)
    repo_kind: str  # model | dataset
    repo_id: str
    field: str  # license | base_models | datasets | model_generated
    value: Any = _json(nullable=False)
    source: str
    comment: str
    hub_value: Any = _json()  # the Hub's own value when curated: a change makes the curation stale
    created_by: str
    created_at: datetime


class Review(SQLModel, table=True):
    """A human decision on a verdict (model + use [+ scope]); the verdict shows it beside its result."""

    __table_args__ = (Index("ix_review_model", "model_id", "use"),)
    id: int | None = Field(default=None, primary_key=True)
    model_id: str
    use: str
    scope: str | None = None
    decision: str  # approved | rejected | needs-legal
    comment: str
    ticket: str | None = None
    expires: datetime | None = None
    license_ids: list[str] | None = _json()  # the model's licenses when decided
    created_by: str
    created_at: datetime
    expiry_notified: bool = False  # "review expired" was sent


class AuditEvent(SQLModel, table=True):
    """One write: who, when, what, before and after, from where. Rows are only ever inserted."""

    __tablename__ = "audit_event"
    # last_actor(): the newest event of one action on one target (revision 0012).
    __table_args__ = (Index("ix_audit_event_action_target", "action", "target", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str
    action: str  # e.g. review.add, curation.delete, user.revoke, demo.start
    target: str
    before: Any = _json()
    after: Any = _json()
    remote_addr: str | None = None


class Webhook(SQLModel, table=True):
    """An admin-configured URL told about events, with a shared secret that signs each body."""

    id: int | None = Field(default=None, primary_key=True)
    url: str
    # Kept as given: HMAC signing needs the secret itself, so it cannot be stored hashed.
    secret: str
    events: list[str] | None = _json()
    created_by: str
    created_at: datetime


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook, and how sending it went: the delivery log and the retry queue."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(index=True)
    event: str
    body: str  # the exact JSON sent, so every retry carries the same signed bytes
    state: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None = None
