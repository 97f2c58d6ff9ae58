"""The append-only audit trail: every write records who, when, what, before/after and from where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from catalog.registry import utcnow as now
from catalog.tables import AuditEvent


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction, so the write and its record commit together."""
    event = AuditEvent(
        at=now(),
        actor=actor,
        action=action,
        target=target,
        before=_plain(before),
        after=_plain(after),
        remote_addr=remote_addr,
    )
    session.add(event)
    return event


def _plain(value: Any) -> Any:
    """JSON-safe copy (datetimes become ISO strings)."""
    return None if value is None else json.loads(json.dumps(value, default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"not JSON: {type(value).__name__}")


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _iso(event.at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "before": event.before,
        "after": event.after,
        "remote_addr": event.remote_addr,
    }


def list_events(
    session: Session, *, since: datetime | None = None, limit: int | None = None
) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id))
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if limit is not None:
        query = query.limit(limit)
    yield from session.exec(query)


def last_actor(session: Session, *, action: str, target: str) -> str | None:
    """Who last did `action` to `target` (for example who started a demo), from the trail."""
    query = (
        select(AuditEvent.actor)
        .where(AuditEvent.action == action, AuditEvent.target == target)
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    )
    return session.exec(query).first()
