"""Registry writes on SQLite and PostgreSQL: upserts, edges, license history, stored verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from catalog.registry import mark_missing, upsert_models
from catalog.tables import LicenseObservation, LineageEdge, Model, ModelVerdict
from catalog.verdicts import refresh_verdicts
from ingest.cards import model_record
from ingest.snapshot import import_snapshot
from tests.hubdata import real_models

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def record(repo_id: str, license_id: str, sha: str, **card):
    return model_record(
        {
            "id": repo_id,
            "sha": sha,
            "lastModified": "2025-01-01T00:00:00.000Z",
            "cardData": {"license": license_id, **card},
        }
    )


def test_a_license_change_between_imports_is_kept_as_history(engine: Engine) -> None:
    with Session(engine) as session:
        upsert_models(session, [record("acme/m", "tii-falcon-llm", "a1")], now=T0)
        upsert_models(
            session, [record("acme/m", "tii-falcon-llm", "a1")], now=T0 + timedelta(days=1)
        )
        upsert_models(session, [record("acme/m", "apache-2.0", "b2")], now=T0 + timedelta(days=2))
        session.commit()
        history = session.exec(select(LicenseObservation).order_by(LicenseObservation.id)).all()
    assert [(h.declared_license, h.sha) for h in history] == [
        ("tii-falcon-llm", "a1"),
        ("apache-2.0", "b2"),
    ]
    assert history[0].last_seen.replace(tzinfo=UTC) == T0 + timedelta(days=1)
    assert history[1].first_seen.replace(tzinfo=UTC) == T0 + timedelta(days=2)


def test_upsert_counts_new_updated_and_unchanged(engine: Engine) -> None:
    with Session(engine) as session:
        first = upsert_models(session, [record("acme/a", "mit", "1"), record("acme/b", "mit", "1")])
        second = upsert_models(
            session,
            [
                record("acme/a", "mit", "1"),
                record("acme/b", "mit", "2"),
                record("acme/c", "mit", "1"),
            ],
        )
        session.commit()
    assert first.counts == {"new": 2, "updated": 0, "unchanged": 0}
    assert second.counts == {"new": 1, "updated": 1, "unchanged": 1}
    assert second.changed_ids == ["acme/c", "acme/b"]


def test_an_update_replaces_the_lineage_edges(engine: Engine) -> None:
    with Session(engine) as session:
        upsert_models(session, [record("acme/m", "mit", "1", base_model="org/old")])
        upsert_models(session, [record("acme/m", "mit", "2", base_model=["org/x", "org/y"])])
        session.commit()
        edges = session.exec(select(LineageEdge).order_by(LineageEdge.base_id)).all()
    assert [(e.base_id, e.relation) for e in edges] == [("org/x", "merge"), ("org/y", "merge")]


def test_a_missing_placeholder_is_filled_when_the_model_arrives(engine: Engine) -> None:
    with Session(engine) as session:
        assert mark_missing(session, "model", ["org/base"]) == 1
        result = upsert_models(session, [record("org/base", "mit", "1")])
        session.commit()
        model = session.get(Model, "org/base")
    assert result.counts["updated"] == 1
    assert model is not None and not model.missing


def test_stored_verdicts_follow_an_ancestors_change(engine: Engine) -> None:
    with Session(engine) as session:
        upsert_models(
            session,
            [
                record("org/base", "apache-2.0", "1"),
                record("org/child", "apache-2.0", "1", base_model="org/base"),
            ],
        )
        refresh_verdicts(session)
        upsert_models(session, [record("org/base", "cc-by-nc-4.0", "2")])
        refresh_verdicts(session, ["org/base"])
        session.commit()
        stored = session.get(ModelVerdict, ("org/child", "commercial", "default"))
    assert stored is not None and stored.verdict == "forbidden"


def test_the_333_real_hub_records_import_on_both_databases(engine: Engine) -> None:
    import json

    lines = [json.dumps(info) for info in real_models()]
    with Session(engine) as session:
        report = import_snapshot(session, lines)
        count = len(session.exec(select(Model.id)).all())
    assert report.bad_lines == []
    assert report.models.counts["new"] == count == len(lines)
