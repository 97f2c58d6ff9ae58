"""Reviews and curations as the verdict sees them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog.compliance_checks import verdict_documents
from catalog.curations import record_curation
from catalog.errors import InvalidRecord
from catalog.policies import load_policy
from catalog.reviews import record_review
from catalog.tables import Review
from ingest.snapshot import import_snapshot


def _load(session: Session, *records: dict) -> None:
    import_snapshot(session, [json.dumps(r) for r in records])


def _verdict(session: Session, repo_id: str, scope: str | None = None) -> dict:
    policy = load_policy("default")
    return verdict_documents(session, [repo_id], use="commercial", policy=policy, scope=scope)[0]


@pytest.fixture
def db(engine: Engine):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        _load(session, {"id": "acme/mystery", "cardData": {"license": "other"}})
        yield session


def test_an_approved_unknown_passes_the_gate_and_says_why(db: Session) -> None:
    before = _verdict(db, "acme/mystery")
    assert before["verdict"] == "unknown" and not before["gate"]["passes"]
    assert before["review"] is None
    record_review(
        db,
        model="acme/mystery",
        use="commercial",
        decision="approved",
        comment="LICENSE file is MIT",
        ticket="LEGAL-7",
        by="rita",
    )
    after = _verdict(db, "acme/mystery")
    assert after["verdict"] == "unknown"  # the computed result is kept
    assert after["review"]["decision"] == "approved" and after["review"]["by"] == "rita"
    assert after["review"]["ticket"] == "LEGAL-7" and after["review"]["counts"]
    assert after["gate"] == {"passes": True, "why": after["gate"]["why"]}
    assert (
        "approved by rita" in after["gate"]["why"] and "LICENSE file is MIT" in after["gate"]["why"]
    )


def test_a_rejection_fails_the_gate_even_when_the_engine_allows(db: Session) -> None:
    _load(db, {"id": "acme/open", "cardData": {"license": "mit"}})
    assert _verdict(db, "acme/open")["gate"]["passes"]
    record_review(
        db, model="acme/open", use="commercial", decision="rejected", comment="no", by="rita"
    )
    assert not _verdict(db, "acme/open")["gate"]["passes"]


def test_an_expired_review_stops_counting_and_says_so(db: Session) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    made = record_review(
        db,
        model="acme/mystery",
        use="commercial",
        decision="approved",
        comment="ok",
        expires=soon,
        by="rita",
    )
    assert _verdict(db, "acme/mystery")["gate"]["passes"]
    db.execute(
        update(Review)
        .where(Review.id == made["id"])
        .values(expires=datetime.now(UTC) - timedelta(days=1))
    )
    db.commit()
    verdict = _verdict(db, "acme/mystery")
    assert not verdict["review"]["counts"] and "expired" in verdict["review"]["status"]
    assert not verdict["gate"]["passes"] and "expired" in verdict["gate"]["why"]


def test_a_review_made_before_a_license_change_stops_counting(db: Session) -> None:
    record_review(
        db, model="acme/mystery", use="commercial", decision="approved", comment="ok", by="rita"
    )
    _load(db, {"id": "acme/mystery", "sha": "2" * 40, "cardData": {"license": "cc-by-nc-4.0"}})
    verdict = _verdict(db, "acme/mystery")
    assert not verdict["review"]["counts"]
    assert "now has cc-by-nc-4.0" in verdict["review"]["status"]
    assert not verdict["gate"]["passes"]


def test_a_scoped_review_counts_only_for_its_scope(db: Session) -> None:
    record_review(
        db,
        model="acme/mystery",
        use="commercial",
        decision="approved",
        comment="for search",
        scope="search-team",
        by="rita",
    )
    assert _verdict(db, "acme/mystery")["review"] is None
    assert _verdict(db, "acme/mystery", scope="search-team")["gate"]["passes"]
    assert _verdict(db, "acme/mystery", scope="ads-team")["review"] is None


def test_a_review_in_the_past_or_of_an_unknown_decision_is_refused(db: Session) -> None:
    with pytest.raises(InvalidRecord, match="future"):
        record_review(
            db,
            model="acme/mystery",
            use="commercial",
            decision="approved",
            comment="x",
            expires=datetime(2020, 1, 1, tzinfo=UTC),
            by="rita",
        )
    with pytest.raises(InvalidRecord, match="decision"):
        record_review(
            db, model="acme/mystery", use="commercial", decision="maybe", comment="x", by="rita"
        )


def test_a_license_curation_feeds_the_engine_and_is_shown_as_a_reason(db: Session) -> None:
    record_curation(
        db,
        repo="acme/mystery",
        kind="model",
        field="license",
        value="mit",
        source="https://example.org/acme/mystery/LICENSE@abc123",
        comment="LICENSE file is MIT",
        by="rita",
    )
    verdict = _verdict(db, "acme/mystery")
    assert verdict["verdict"] in ("allowed", "conditional")
    assert verdict["effective_license"]["ids"] == ["mit"]
    curated = [r for r in verdict["reasons"] if r["code"] == "curated"]
    assert len(curated) == 1
    assert curated[0]["source"]["by"] == "rita" and not curated[0]["source"]["stale"]
    assert "license of acme/mystery curated by rita on" in curated[0]["text"]


def test_a_dataset_curation_reaches_every_model_trained_on_it(db: Session) -> None:
    _load(
        db,
        {"id": "acme/tuned", "cardData": {"license": "mit", "datasets": ["acme/chats"]}},
        {"id": "acme/chats", "kind": "dataset", "cardData": {"license": "mit"}},
    )
    assert _verdict(db, "acme/tuned")["verdict"] == "allowed"
    record_curation(
        db,
        repo="acme/chats",
        kind="dataset",
        field="model_generated",
        value="gpt-4",
        source="https://example.org/acme/chats/README.md@1",
        comment="answers came from GPT-4",
        by="rita",
    )
    verdict = _verdict(db, "acme/tuned")
    codes = {r["code"] for r in verdict["reasons"]}
    assert {"dataset-model-generated", "curated"} <= codes


def test_a_curation_is_flagged_stale_when_the_hubs_value_changes(db: Session) -> None:
    record_curation(
        db,
        repo="acme/mystery",
        kind="model",
        field="license",
        value="mit",
        source="LICENSE@abc",
        comment="LICENSE file is MIT",
        by="rita",
    )
    _load(db, {"id": "acme/mystery", "sha": "3" * 40, "cardData": {"license": "apache-2.0"}})
    curated = next(r for r in _verdict(db, "acme/mystery")["reasons"] if r["code"] == "curated")
    assert curated["source"]["stale"] and "stale" in curated["text"]
    assert _verdict(db, "acme/mystery")["effective_license"]["ids"] == ["mit"]  # still applied


def test_bad_curations_are_refused_with_what_is_expected(db: Session) -> None:
    base = {"repo": "acme/mystery", "kind": "model", "source": "s", "comment": "c", "by": "rita"}
    with pytest.raises(InvalidRecord, match="knowledge base"):
        record_curation(db, field="license", value="made-up-license", **base)
    with pytest.raises(InvalidRecord, match="field"):
        record_curation(db, field="model_generated", value=True, **base)
    with pytest.raises(InvalidRecord, match="owner/name"):
        record_curation(db, field="base_models", value=["../../etc"], **base)
    with pytest.raises(InvalidRecord, match="neither in the catalog"):
        record_curation(db, **{**base, "repo": "nobody/nothing"}, field="license", value="mit")


def test_the_audit_trail_refuses_updates_and_deletes_in_the_database(db: Session) -> None:
    from sqlalchemy import delete
    from sqlalchemy.exc import DatabaseError

    from catalog.tables import AuditEvent

    record_review(
        db, model="acme/mystery", use="commercial", decision="approved", comment="ok", by="rita"
    )
    for statement in (update(AuditEvent).values(actor="someone else"), delete(AuditEvent)):
        with pytest.raises(DatabaseError, match="append-only"):
            db.execute(statement)
        db.rollback()
    assert db.exec(select(AuditEvent.actor)).all() == ["rita"]
