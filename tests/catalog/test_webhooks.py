"""Webhooks against a real HTTP receiver on 127.0.0.1: signed bodies, retries with backoff, a log."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.curations import record_curation
from catalog.errors import InvalidRecord
from catalog.reviews import record_review
from catalog.tables import Review, WebhookDelivery
from catalog.verdicts import refresh_verdicts
from catalog.webhooks import add_webhook, deliver_due, deliveries
from ingest.snapshot import import_snapshot


class Receiver:
    """Records what it is sent; answers 500 to the first `failures` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = receiver.failures > 0
                receiver.failures -= 1
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        import_snapshot(
            session, [json.dumps({"id": "acme/mystery", "cardData": {"license": "other"}})]
        )
        refresh_verdicts(session)
        session.commit()
        yield session


def _verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Modelcatalog-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(
        "sha256=" + expected.hexdigest(), headers["X-Modelcatalog-Signature"]
    )


def test_a_verdict_change_is_sent_signed_with_the_shared_secret(
    db: Session, receiver: Receiver
) -> None:
    hook, secret = add_webhook(db, url=receiver.url, events=["verdict.changed"], by="ada")
    record_curation(
        db,
        repo="acme/mystery",
        kind="model",
        field="license",
        value="mit",
        source="LICENSE@1",
        comment="MIT",
        by="rita",
    )
    assert deliver_due(db) >= 1
    changed = [b for b in receiver.bodies() if b["model"] == "acme/mystery"]
    assert {(b["from"], b["to"]) for b in changed} == {("unknown", "allowed")}
    headers, body = receiver.received[0]
    assert _verifies(secret, headers, body)
    assert not _verifies("another secret", headers, body)
    log = deliveries(db, hook.id or 0)
    assert all(d["state"] == "delivered" and d["attempts"] == 1 for d in log)


def test_a_failing_receiver_is_retried_with_growing_backoff_until_it_answers(db: Session) -> None:
    receiver = Receiver(failures=2)
    try:
        hook, _ = add_webhook(db, url=receiver.url, events=["license.changed"], by="ada")
        import_snapshot(
            db,
            [json.dumps({"id": "acme/mystery", "sha": "2" * 40, "cardData": {"license": "mit"}})],
        )
        db.commit()
        waits = []
        for _ in range(3):
            assert deliver_due(db) == 1
            assert deliver_due(db) == 0  # not due again until its backoff has passed
            delivery = db.get(WebhookDelivery, deliveries(db, hook.id or 0)[0]["id"])
            assert delivery is not None
            db.refresh(delivery)
            waits.append(delivery.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC))
            db.execute(
                update(WebhookDelivery).values(
                    next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
                )
            )
            db.commit()
        log = deliveries(db, hook.id or 0)[0]
        assert (log["state"], log["attempts"], log["last_status"]) == ("delivered", 3, 204)
        assert waits[1] > waits[0]  # the wait doubled after the second failure
        assert receiver.bodies()[0] == {
            **receiver.bodies()[0],
            "event": "license.changed",
            "from": "other",
            "to": "mit",
        }
        assert len({body for _, body in receiver.received}) == 1  # every retry sends the same bytes
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_an_expired_review_is_announced_once(db: Session, receiver: Receiver) -> None:
    add_webhook(db, url=receiver.url, events=["review.expired"], by="ada")
    made = record_review(
        db,
        model="acme/mystery",
        use="commercial",
        decision="approved",
        comment="ok",
        expires=datetime.now(UTC) + timedelta(days=1),
        by="rita",
    )
    deliver_due(db)
    assert receiver.received == []
    db.execute(
        update(Review)
        .where(Review.id == made["id"])
        .values(expires=datetime.now(UTC) - timedelta(minutes=1))
    )
    db.commit()
    deliver_due(db)
    deliver_due(db)
    assert [(b["event"], b["review"]) for b in receiver.bodies()] == [
        ("review.expired", made["id"])
    ]


def test_only_http_urls_and_known_events_are_accepted(db: Session) -> None:
    with pytest.raises(InvalidRecord, match="http"):
        add_webhook(db, url="file:///etc/passwd", events=["verdict.changed"], by="ada")
    with pytest.raises(InvalidRecord, match="events"):
        add_webhook(db, url="http://127.0.0.1:9/x", events=["everything"], by="ada")
