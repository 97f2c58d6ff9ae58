"""Reviews: human decisions on a verdict (model + use [+ scope]). A review counts while it has not
expired and the model's license is still the one it was made on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from catalog.audit import now, record_event
from catalog.db import chunked
from catalog.errors import InvalidRecord, ModelNotFound, RecordNotFound
from catalog.policies import USES
from catalog.tables import Model, Review

DECISIONS = ("approved", "rejected", "needs-legal")


def _text(value: Any, name: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise InvalidRecord(f"{name} is text of 1 to {limit} characters")
    return value


def add_review(
    session: Session,
    *,
    model: str,
    use: str,
    decision: str,
    comment: str,
    by: str,
    ticket: str | None = None,
    expires: datetime | None = None,
    scope: str | None = None,
) -> Review:
    """Record a decision on the model's verdict for a use, on the license the model has now."""
    row = session.get(Model, model)
    if row is None or row.missing:
        raise ModelNotFound(model)
    if use not in USES:
        raise InvalidRecord(f"unknown use {use!r}; expected one of {', '.join(USES)}")
    if decision not in DECISIONS:
        raise InvalidRecord(f"decision must be one of {', '.join(DECISIONS)}")
    if expires is not None:
        expires = _utc(expires)
        if expires <= now():
            raise InvalidRecord("expires must be in the future")
    review = Review(
        model_id=model,
        use=use,
        scope=_text(scope, "scope", 100, required=False),
        decision=decision,
        comment=_text(comment, "comment", 4000) or "",
        ticket=_text(ticket, "ticket", 200, required=False),
        expires=expires,
        license_ids=sorted(_model_licenses(session, model)),
        created_by=by,
        created_at=now(),
    )
    session.add(review)
    session.flush()
    return review


def _model_licenses(session: Session, model: str) -> tuple[str, ...]:
    """The model's licenses as the engine sees them (curations applied)."""
    from catalog.lineage import load_lineage

    return load_lineage(session, [model]).models[model].license_ids


def _utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def list_reviews(session: Session, *, model: str | None = None) -> list[Review]:
    query = select(Review).order_by(col(Review.id))
    if model is not None:
        query = query.where(Review.model_id == model)
    return list(session.exec(query))


def delete_review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise RecordNotFound(f"no review {review_id}")
    session.delete(review)
    session.flush()
    return review


def latest_reviews(
    session: Session, model_ids: Iterable[str], *, uses: Sequence[str], scope: str | None = None
) -> dict[tuple[str, str], Review]:
    """Each (model, use)'s newest review: the scope's own if there is one, else an unscoped one."""
    found: dict[tuple[str, str], tuple[bool, int, Review]] = {}
    for chunk in chunked(sorted(set(model_ids))):
        query = select(Review).where(
            col(Review.use).in_(list(uses)), col(Review.model_id).in_(chunk)
        )
        for review in session.exec(query):
            if review.scope not in (None, scope):
                continue
            key, rank = (review.model_id, review.use), (review.scope is not None, review.id or 0)
            if key not in found or rank > found[key][:2]:
                found[key] = (*rank, review)
    return {key: entry[2] for key, entry in found.items()}


def review_standing(review: Review, license_ids: Iterable[str]) -> tuple[bool, str]:
    """Whether the review counts now, and why not when it does not."""
    if review.expires is not None and _utc(review.expires) <= now():
        return False, f"expired on {review.expires:%Y-%m-%d}; it no longer counts"
    current = sorted(license_ids)
    if review.license_ids is not None and sorted(review.license_ids) != current:
        return False, (
            f"made on license {', '.join(review.license_ids)}, but the model now has "
            f"{', '.join(current)}; it no longer counts"
        )
    return True, "current"


def review_dict(review: Review, license_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """The review as verdicts and the API show it; with license_ids, whether it still counts."""
    body: dict[str, Any] = {
        "id": review.id,
        "model": review.model_id,
        "use": review.use,
        "decision": review.decision,
        "by": review.created_by,
        "at": review.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": review.expires.strftime("%Y-%m-%dT%H:%M:%SZ") if review.expires else None,
        "comment": review.comment,
        "ticket": review.ticket,
        "scope": review.scope,
        "license_ids": review.license_ids,
    }
    if license_ids is not None:
        body["counts"], body["status"] = review_standing(review, license_ids)
    return body


def record_review(
    session: Session, *, by: str, remote_addr: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Add a review with its audit event, commit, and return it."""
    review = add_review(session, by=by, **fields)
    record_event(
        session,
        actor=by,
        action="review.add",
        target=f"model:{review.model_id}#{review.use}",
        after=review_dict(review),
        remote_addr=remote_addr,
    )
    recorded = review_dict(review)
    session.commit()
    return recorded


def remove_review(
    session: Session, review_id: int, *, by: str, remote_addr: str | None = None
) -> None:
    """Delete a review with its audit event and commit."""
    review = delete_review(session, review_id)
    record_event(
        session,
        actor=by,
        action="review.delete",
        target=f"model:{review.model_id}#{review.use}",
        before=review_dict(review),
        remote_addr=remote_addr,
    )
    session.commit()


def record_reviews(
    session: Session,
    *,
    models: list[str],
    by: str,
    remote_addr: str | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    """The same decision for several models, all or none, each with its audit event."""
    if len(set(models)) != len(models):
        raise InvalidRecord("a model is listed twice")
    recorded = []
    for model in models:
        review = add_review(session, model=model, by=by, **fields)
        recorded.append(review_dict(review))
        record_event(
            session,
            actor=by,
            action="review.add",
            target=f"model:{model}#{review.use}",
            after=recorded[-1],
            remote_addr=remote_addr,
        )
    session.commit()
    return recorded
