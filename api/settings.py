"""The service's settings: read once from the environment (by create_app), coerced, validated.

The typed object is passed down: the database URL to catalog.db, Hub access to the crawler, demo
settings to the demo runner. No other module reads the environment. marshmallow does the coercion
and validation, as it does for request input; each field's data_key is the variable's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from demo_runner.settings import ComputeType, DemoSettings, Device
from ingest.connection import HubSettings

GB = 2**30


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


def _database_url(value: str) -> None:
    try:
        make_url(value)
    except ArgumentError as exc:
        raise ValidationError(
            "not a database URL (sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB)"
        ) from exc


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
    secret_key = fields.String(data_key="MODELCATALOG_SECRET_KEY", validate=validate.Length(min=16))
    anonymous = fields.Enum(Anonymous, by_value=True, data_key="MODELCATALOG_ANONYMOUS")
    rate_limit_anonymous = fields.String(
        data_key="MODELCATALOG_RATE_LIMIT_ANONYMOUS", validate=_rate_limit
    )
    rate_limit_token = fields.String(data_key="MODELCATALOG_RATE_LIMIT_TOKEN", validate=_rate_limit)


@dataclass(frozen=True)
class Settings:
    database_url: str
    demo: DemoSettings
    hub: HubSettings = field(default_factory=HubSettings)
    access: AccessSettings = field(default_factory=AccessSettings)

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
        )
        access = AccessSettings(
            secret_key=values.get("secret_key"),
            anonymous=values.get("anonymous", Anonymous.READ),
            rate_limit_anonymous=values.get(
                "rate_limit_anonymous", base.access.rate_limit_anonymous
            ),
            rate_limit_token=values.get("rate_limit_token", base.access.rate_limit_token),
        )
        return cls(
            database_url=values.get("database_url", base.database_url),
            demo=demo,
            hub=hub,
            access=access,
        )
