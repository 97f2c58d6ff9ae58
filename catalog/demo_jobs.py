"""Demo job state in the catalog database: written by whichever process builds, read by every web worker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from catalog.tables import DemoJobRecord

ACTIVE = ("queued", "downloading", "converting", "loading")
FIELDS = {
    "state",
    "progress",
    "error",
    "error_status",
    "device",
    "compute_type",
    "model_key",
    "heartbeat_at",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """Some drivers give stored moments back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def create_demo_job(
    session: Session, *, job_id: str, model: str, backend: str, **fields: Any
) -> DemoJobRecord:
    now = utcnow()
    record = DemoJobRecord(
        id=job_id,
        model=model,
        backend=backend,
        state="queued",
        created_at=now,
        updated_at=now,
        heartbeat_at=now,
        **fields,
    )
    session.add(record)
    session.commit()
    session.refresh(record)
    return record


def get_demo_job(session: Session, job_id: str) -> DemoJobRecord | None:
    return session.get(DemoJobRecord, job_id)


def find_live_demo_job(session: Session, model: str, *, backend: str) -> DemoJobRecord | None:
    """The newest job for this model that is building or ready (a failed one is started again)."""
    query = (
        select(DemoJobRecord)
        .where(DemoJobRecord.model == model, DemoJobRecord.backend == backend)
        .where(col(DemoJobRecord.state) != "failed")
        .order_by(col(DemoJobRecord.created_at).desc())
    )
    return session.exec(query).first()


def update_demo_job(session: Session, job_id: str, **fields: Any) -> DemoJobRecord | None:
    """Set some of FIELDS; progress never goes back while a build runs."""
    unknown = set(fields) - FIELDS
    if unknown:
        raise ValueError(f"not demo job fields: {sorted(unknown)}")
    record = session.get(DemoJobRecord, job_id, with_for_update=True)
    if record is None:
        return None
    if "progress" in fields and fields.get("state", record.state) in ACTIVE:
        fields["progress"] = max(record.progress, fields["progress"])
    for name, value in fields.items():
        setattr(record, name, value)
    record.updated_at = utcnow()
    session.add(record)
    session.commit()
    return record


def delete_demo_job(session: Session, job_id: str) -> bool:
    record = session.get(DemoJobRecord, job_id)
    if record is None:
        return False
    session.delete(record)
    session.commit()
    return True


def fail_silent_demo_job(
    session: Session, job_id: str, *, silent_for: timedelta
) -> DemoJobRecord | None:
    """Mark a building job failed when its builder has not been heard of for `silent_for`."""
    record = session.get(DemoJobRecord, job_id, with_for_update=True)
    if record is None or record.state not in ACTIVE:
        return record
    last = _aware(record.heartbeat_at or record.updated_at)
    if utcnow() - last < silent_for:
        return record
    record.error = (
        f"the worker building this demo stopped while {record.state}: nothing heard from it since "
        f"{last.isoformat(timespec='seconds')}; start the demo again"
    )
    record.state, record.error_status = "failed", 500
    record.updated_at = utcnow()
    session.add(record)
    session.commit()
    return record


class DemoJobStore:
    """Opens sessions on one database URL; picklable, so a remote worker can write job state too."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "_engine": None}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from catalog.db import make_engine

            self._engine = make_engine(self.url)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
