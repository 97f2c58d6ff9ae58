"""The service's settings: read once from the environment (by create_app), coerced, validated.

The typed object is passed down: the database URL to catalog.db, Hub access to the crawler, demo
settings to the demo runner. No other module reads the environment. marshmallow does the coercion
and validation, as it does for request input; each field's data_key is the variable's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from demo_runner.settings import BackendKind, ComputeType, DemoSettings, Device, ScaleSettings
from ingest.connection import HubSettings

GB = 2**30


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


_DATABASE_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB"


def _database_url(value: str) -> None:
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValidationError(f"not a database URL ({_DATABASE_URL_FORMS})") from exc
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValidationError(f"the catalog runs on SQLite or PostgreSQL ({_DATABASE_URL_FORMS})")
    try:  # the driver the URL names, e.g. postgresql+asyncpg, must be installed
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        raise ValidationError(f"its driver cannot be loaded ({exc})") from exc


# host:port of a head, ray://host:port (Ray Client), auto (this machine's cluster) or local (a new one)
RAY_ADDRESS = re.compile(r"auto|local|ray://[^\s/]+:\d+|[^\s/:]+:\d+")


def _ray_address(value: str) -> None:
    if not RAY_ADDRESS.fullmatch(value):
        raise ValidationError("HOST:PORT of the Ray head, ray://HOST:PORT, auto or local")


class Anonymous(Enum):
    """What callers without a token or a sign-in may do."""

    READ = "read"  # search, verdicts and pages
    NONE = "none"  # nothing but health checks and signing in


def _rate_limit(value: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ValidationError("a rate limit such as 300/minute or 10/second;1000/hour") from exc


@dataclass(frozen=True)
class AccessSettings:
    secret_key: str | None = None  # None: a random key per process (sign-ins end on restart)
    anonymous: Anonymous = Anonymous.READ
    rate_limit_anonymous: str = "300/minute"
    rate_limit_token: str = "3000/minute"


class EnvironmentSchema(Schema):
    """The variables the service reads; every one is optional."""

    class Meta:
        unknown = EXCLUDE

    database_url = fields.String(data_key="DATABASE_URL", validate=_database_url)
    hub_endpoint = fields.Url(data_key="HF_ENDPOINT", schemes={"http", "https"}, require_tld=False)
    hub_token = fields.String(data_key="HF_TOKEN")
    hub_retries = fields.Integer(
        data_key="MODELCATALOG_HUB_RETRIES", validate=validate.Range(min=1, max=100)
    )
    demo_cache = fields.String(data_key="MODELCATALOG_DEMO_CACHE", validate=validate.Length(min=1))
    demo_cache_gb = fields.Float(
        data_key="MODELCATALOG_DEMO_CACHE_GB", validate=validate.Range(min=0, min_inclusive=False)
    )
    demo_max_loaded = fields.Integer(
        data_key="MODELCATALOG_DEMO_MAX_LOADED", validate=validate.Range(min=1, max=64)
    )
    trust_remote_code = fields.Boolean(data_key="MODELCATALOG_TRUST_REMOTE_CODE")
    demo_device = fields.Enum(Device, by_value=True, data_key="MODELCATALOG_DEMO_DEVICE")
    demo_compute_type = fields.Enum(
        ComputeType, by_value=True, data_key="MODELCATALOG_DEMO_COMPUTE_TYPE"
    )
    demo_threads = fields.Integer(
        data_key="MODELCATALOG_DEMO_THREADS", validate=validate.Range(min=1, max=256)
    )
    demo_max_builds = fields.Integer(
        data_key="MODELCATALOG_DEMO_MAX_BUILDS", validate=validate.Range(min=1, max=16)
    )
    demo_max_queued = fields.Integer(
        data_key="MODELCATALOG_DEMO_MAX_QUEUED", validate=validate.Range(min=0, max=1000)
    )
    demo_job_ttl = fields.Float(
        data_key="MODELCATALOG_DEMO_JOB_TTL", validate=validate.Range(min=1, max=7 * 86400)
    )
    demo_lookup_ttl = fields.Float(
        data_key="MODELCATALOG_DEMO_LOOKUP_TTL", validate=validate.Range(min=0, max=86400)
    )
    demo_max_streams = fields.Integer(
        data_key="MODELCATALOG_DEMO_MAX_STREAMS", validate=validate.Range(min=1, max=1024)
    )
    demo_max_streams_total = fields.Integer(
        data_key="MODELCATALOG_DEMO_MAX_STREAMS_TOTAL", validate=validate.Range(min=1, max=4096)
    )
    demo_request_seconds = fields.Float(
        data_key="MODELCATALOG_DEMO_REQUEST_SECONDS", validate=validate.Range(min=1, max=3600)
    )
    demo_backend = fields.Enum(BackendKind, by_value=True, data_key="MODELCATALOG_DEMO_BACKEND")
    ray_address = fields.String(data_key="RAY_ADDRESS", validate=_ray_address)
    ray_models_per_replica = fields.Integer(
        data_key="MODELCATALOG_RAY_MODELS_PER_REPLICA", validate=validate.Range(min=1, max=64)
    )
    ray_min_replicas = fields.Integer(
        data_key="MODELCATALOG_RAY_MIN_REPLICAS", validate=validate.Range(min=0, max=1000)
    )
    ray_max_replicas = fields.Integer(
        data_key="MODELCATALOG_RAY_MAX_REPLICAS", validate=validate.Range(min=1, max=1000)
    )
    ray_replica_cpus = fields.Float(
        data_key="MODELCATALOG_RAY_REPLICA_CPUS",
        validate=validate.Range(min=0, max=256, min_inclusive=False),
    )
    ray_build_cpus = fields.Float(
        data_key="MODELCATALOG_RAY_BUILD_CPUS",
        validate=validate.Range(min=0, max=256, min_inclusive=False),
    )
    # Builders beat every HEARTBEAT_S (5 s); less than two beats would fail healthy builds.
    ray_silent_after = fields.Float(
        data_key="MODELCATALOG_RAY_SILENT_AFTER", validate=validate.Range(min=10, max=86400)
    )
    base_url = fields.Url(
        data_key="MODELCATALOG_BASE_URL", schemes={"http", "https"}, require_tld=False
    )
    trusted_proxies = fields.Integer(
        data_key="MODELCATALOG_TRUSTED_PROXIES", validate=validate.Range(min=0, max=10)
    )
    search_cache = fields.Integer(
        data_key="MODELCATALOG_SEARCH_CACHE", validate=validate.Range(min=0, max=100_000)
    )
    secret_key = fields.String(data_key="MODELCATALOG_SECRET_KEY", validate=validate.Length(min=16))
    anonymous = fields.Enum(Anonymous, by_value=True, data_key="MODELCATALOG_ANONYMOUS")
    rate_limit_anonymous = fields.String(
        data_key="MODELCATALOG_RATE_LIMIT_ANONYMOUS", validate=_rate_limit
    )
    rate_limit_token = fields.String(data_key="MODELCATALOG_RATE_LIMIT_TOKEN", validate=_rate_limit)

    @validates_schema
    def replicas_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        low = data.get("ray_min_replicas", ScaleSettings.min_replicas)
        high = data.get("ray_max_replicas", ScaleSettings.max_replicas)
        if low > high:
            raise ValidationError(
                f"more than MODELCATALOG_RAY_MAX_REPLICAS ({high})",
                field_name="MODELCATALOG_RAY_MIN_REPLICAS",
            )


@dataclass(frozen=True)
class WebSettings:
    # Absolute links are built from base_url, or from trusted proxies' X-Forwarded-* headers;
    # with neither they are relative, never built from a client's Host header.
    base_url: str | None = None
    trusted_proxies: int = 0
    # Search answers kept per catalog version (api.answer_cache); 0 answers every search anew.
    search_cache: int = 512


@dataclass(frozen=True)
class Settings:
    database_url: str
    demo: DemoSettings
    hub: HubSettings = field(default_factory=HubSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    web: WebSettings = field(default_factory=WebSettings)
    scale: ScaleSettings = field(default_factory=ScaleSettings)  # the demo backend, Ray's sizes

    @classmethod
    def defaults(cls, instance_path: Path) -> Settings:
        """App data under Flask's instance folder: the SQLite catalog and the demo cache."""
        return cls(
            database_url=f"sqlite:///{instance_path / 'modelcatalog.db'}",
            demo=DemoSettings(cache_dir=instance_path / "demos"),
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], instance_path: Path) -> Settings:
        """Settings from environment variables; an empty variable counts as unset."""
        given = {name: value for name, value in environ.items() if value != ""}
        try:
            values: dict[str, Any] = EnvironmentSchema().load(given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{name}={given.get(name, '')!r}: {' '.join(map(str, messages))}"
                for name, messages in sorted(exc.normalized_messages().items())
            )
            raise SettingsError(f"invalid settings: {problems}") from None
        base = cls.defaults(instance_path)
        hub = HubSettings(
            endpoint=values.get("hub_endpoint"),
            token=values.get("hub_token"),
            retries=values.get("hub_retries", base.hub.retries),
        )
        demo = DemoSettings(
            cache_dir=Path(values["demo_cache"]) if "demo_cache" in values else base.demo.cache_dir,
            cache_max_bytes=int(values["demo_cache_gb"] * GB)
            if "demo_cache_gb" in values
            else base.demo.cache_max_bytes,
            max_loaded=values.get("demo_max_loaded", base.demo.max_loaded),
            trust_remote_code=values.get("trust_remote_code", False),
            endpoint=hub.endpoint,
            token=hub.token,
            device=values.get("demo_device"),
            compute_type=values.get("demo_compute_type"),
            threads=values.get("demo_threads", base.demo.threads),
            max_builds=values.get("demo_max_builds", base.demo.max_builds),
            max_queued=values.get("demo_max_queued", base.demo.max_queued),
            job_ttl_s=values.get("demo_job_ttl", base.demo.job_ttl_s),
            lookup_ttl_s=values.get("demo_lookup_ttl", base.demo.lookup_ttl_s),
            max_streams=values.get("demo_max_streams", base.demo.max_streams),
            max_streams_total=values.get("demo_max_streams_total", base.demo.max_streams_total),
            request_timeout_s=values.get("demo_request_seconds", base.demo.request_timeout_s),
        )
        access = AccessSettings(
            secret_key=values.get("secret_key"),
            anonymous=values.get("anonymous", Anonymous.READ),
            rate_limit_anonymous=values.get(
                "rate_limit_anonymous", base.access.rate_limit_anonymous
            ),
            rate_limit_token=values.get("rate_limit_token", base.access.rate_limit_token),
        )
        web = WebSettings(
            base_url=values["base_url"].rstrip("/") if "base_url" in values else None,
            trusted_proxies=values.get("trusted_proxies", 0),
            search_cache=values.get("search_cache", base.web.search_cache),
        )
        return cls(
            database_url=values.get("database_url", base.database_url),
            demo=demo,
            hub=hub,
            access=access,
            web=web,
            scale=_scale(values),
        )


def _scale(values: dict[str, Any]) -> ScaleSettings:
    base = ScaleSettings()
    return ScaleSettings(
        backend=values.get("demo_backend", base.backend),
        ray_address=values.get("ray_address"),
        models_per_replica=values.get("ray_models_per_replica", base.models_per_replica),
        min_replicas=values.get("ray_min_replicas", base.min_replicas),
        max_replicas=values.get("ray_max_replicas", base.max_replicas),
        replica_cpus=values.get("ray_replica_cpus", base.replica_cpus),
        build_cpus=values.get("ray_build_cpus", base.build_cpus),
        silent_after_s=values.get("ray_silent_after", base.silent_after_s),
    )
