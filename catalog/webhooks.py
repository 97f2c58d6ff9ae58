"""Webhooks: admin-configured URLs told about "verdict changed", "review expired" and "license
changed upstream". Bodies are signed with HMAC-SHA256 over "<timestamp>.<body>" using the shared
secret; failed sends are retried with exponential backoff; every delivery is logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from catalog.audit import now, record_event
from catalog.errors import InvalidRecord, RecordNotFound
from catalog.tables import Review, Webhook, WebhookDelivery

EVENTS = ("verdict.changed", "review.expired", "license.changed")
MAX_ATTEMPTS = 6
BACKOFF = timedelta(seconds=30)  # 30 s, 1 min, 2 min, 4 min, 8 min between the six attempts
SIGNATURE_HEADER = "X-Modelcatalog-Signature"
TIMESTAMP_HEADER = "X-Modelcatalog-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value; receivers recompute it and compare with hmac.compare_digest."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def add_webhook(
    session: Session, *, url: str, events: list[str], by: str, remote_addr: str | None = None
) -> tuple[Webhook, str]:
    """Register a URL for events; return it with its secret (shown once), and commit."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise InvalidRecord("a webhook URL is an http or https URL")
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise InvalidRecord(f"events are some of {', '.join(EVENTS)}")
    secret = secrets.token_urlsafe(32)
    hook = Webhook(
        url=url, secret=secret, events=sorted(set(events)), created_by=by, created_at=now()
    )
    session.add(hook)
    session.flush()
    record_event(
        session,
        actor=by,
        action="webhook.add",
        target=f"webhook:{hook.id}",
        after=webhook_dict(hook),
        remote_addr=remote_addr,
    )
    session.commit()
    return hook, secret


def remove_webhook(
    session: Session, webhook_id: int, *, by: str, remote_addr: str | None = None
) -> None:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise RecordNotFound(f"no webhook {webhook_id}")
    record_event(
        session,
        actor=by,
        action="webhook.delete",
        target=f"webhook:{webhook_id}",
        before=webhook_dict(hook),
        remote_addr=remote_addr,
    )
    session.delete(hook)
    session.commit()


def webhook_dict(hook: Webhook) -> dict[str, Any]:
    """What listings and the audit trail show: never the secret."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events,
        "by": hook.created_by,
        "at": hook.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def list_webhooks(session: Session) -> list[Webhook]:
    return list(session.exec(select(Webhook).order_by(col(Webhook.id))))


def deliveries(session: Session, webhook_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    return [_delivery_dict(d) for d in session.exec(query)]


def _delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

    return {
        "id": delivery.id,
        "event": delivery.event,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
    }


def wanted(session: Session, event: str) -> bool:
    """Whether any webhook listens for the event."""
    return any(event in (hook.events or []) for hook in session.exec(select(Webhook)))


def notify(session: Session, event: str, payload: dict[str, Any]) -> int:
    """Queue the event for every webhook that asked for it (sent by deliver_due); return how many."""
    body = json.dumps({"event": event, "at": now().strftime("%Y-%m-%dT%H:%M:%SZ"), **payload})
    queued = 0
    for hook in session.exec(select(Webhook)):
        if event in (hook.events or []):
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id or 0,
                    event=event,
                    body=body,
                    created_at=now(),
                    next_attempt_at=now(),
                )
            )
            queued += 1
    return queued


@dataclass(frozen=True)
class SendResult:
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(url: str, headers: dict[str, str], body: bytes, timeout: float = 10.0) -> SendResult:
    """POST the body; any answer but 2xx, and any network error, is a failure to retry."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return SendResult(answer.status, None)
    except urllib.error.HTTPError as exc:
        return SendResult(exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        return SendResult(None, str(getattr(exc, "reason", exc))[:500])


def _attempt(
    session: Session,
    delivery: WebhookDelivery,
    hook: Webhook | None,
    sender: Callable[..., SendResult],
) -> None:
    if hook is None:  # the webhook was removed while this waited
        delivery.state, delivery.last_error = "failed", "webhook removed"
        return
    timestamp = str(int(now().timestamp()))
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "modelcatalog-webhooks",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(hook.secret, timestamp, body),
    }
    result = sender(hook.url, headers, body)
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = result.status, result.error
    if result.ok:
        delivery.state, delivery.delivered_at = "delivered", now()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = "failed"
    else:
        delivery.next_attempt_at = now() + BACKOFF * 2 ** (delivery.attempts - 1)


def deliver_due(
    session: Session, *, sender: Callable[..., SendResult] = send, limit: int = 100
) -> int:
    """Send the deliveries that are due (first tries and retries), log each outcome; return how many."""
    queue_expired_reviews(session)
    due = list(
        session.exec(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.state == "pending", col(WebhookDelivery.next_attempt_at) <= now()
            )
            .order_by(col(WebhookDelivery.id))
            .limit(limit)
        )
    )
    for delivery in due:
        _attempt(session, delivery, session.get(Webhook, delivery.webhook_id), sender)
        session.add(delivery)
        session.commit()  # each outcome is logged at once: a crash mid-batch resends nothing twice
    return len(due)


def queue_expired_reviews(session: Session) -> None:
    """Queue "review.expired" once for every review whose expiry has passed."""
    expired = session.exec(
        select(Review).where(
            col(Review.expires).is_not(None),
            col(Review.expires) <= now(),
            col(Review.expiry_notified).is_(False),
        )
    )
    for review in expired:
        notify(
            session,
            "review.expired",
            {
                "model": review.model_id,
                "use": review.use,
                "review": review.id,
                "decision": review.decision,
            },
        )
        review.expiry_notified = True
        session.add(review)
    session.commit()


def notify_verdict_changes(
    session: Session, before: dict[tuple[str, str, str], str], after: Iterable[dict[str, Any]]
) -> None:
    """Queue "verdict.changed" for every stored verdict whose value moved."""
    if not wanted(session, "verdict.changed"):
        return  # the common case: nobody listens, so a large re-crawl pays nothing more
    for row in after:
        key = (row["model_id"], row["use"], row["policy"])
        if key in before and before[key] != row["verdict"]:
            notify(
                session,
                "verdict.changed",
                {
                    "model": key[0],
                    "use": key[1],
                    "policy": key[2],
                    "from": before[key],
                    "to": row["verdict"],
                },
            )


class WebhookDispatcher:
    """A background thread that sends due deliveries every `interval` seconds until close()."""

    def __init__(self, engine: Any, interval: float = 10.0) -> None:
        import threading

        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> WebhookDispatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        import logging

        while not self._stop.wait(self.interval):
            try:
                with Session(self.engine) as session:
                    deliver_due(session)
            except Exception:  # keep the thread alive; the next round retries
                logging.getLogger(__name__).exception("webhook delivery round failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 15)
