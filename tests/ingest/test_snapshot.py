"""Snapshot import compares content, not only lastModified, and says what it skipped and why."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.tables import Model
from ingest.snapshot import import_snapshot

STAMP = "2024-05-01T10:00:00.000Z"


def lines(count: int, license_for=lambda n: "mit", modified=lambda n: STAMP) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        json.dumps(
            {
                "id": f"acme/model-{n}",
                "lastModified": modified(n),
                "pipeline_tag": "text-generation",
                "cardData": {"license": license_for(n)},
            }
        )
        for n in range(count)
    ]


def test_a_hand_edit_that_kept_last_modified_is_imported(engine: Engine) -> None:
    edited = set(range(0, 300, 20))  # 15 of 300 lines
    with Session(engine) as session:
        import_snapshot(session, lines(300))
        report = import_snapshot(
            session, lines(300, license_for=lambda n: "apache-2.0" if n in edited else "mit")
        )
        assert report.models.counts == {"new": 0, "updated": 15, "unchanged": 285}
        assert not report.models.skipped
        changed = {
            n
            for n in range(300)
            if session.get(Model, f"acme/model-{n}").declared_license == "apache-2.0"
        }
        assert changed == edited


def test_the_same_file_twice_is_all_unchanged(engine: Engine) -> None:
    with Session(engine) as session:
        import_snapshot(session, lines(50))
        report = import_snapshot(session, lines(50))
    assert report.models.counts == {"new": 0, "updated": 0, "unchanged": 50}


def test_an_older_line_with_different_content_is_skipped_with_the_reason(engine: Engine) -> None:
    with Session(engine) as session:
        import_snapshot(session, lines(3))
        older = lines(
            3, license_for=lambda n: "gpl-3.0", modified=lambda n: "2023-01-01T00:00:00.000Z"
        )
        report = import_snapshot(session, older[:1])
        assert report.models.counts["updated"] == 0
        [(repo_id, reason)] = report.models.skipped
        assert repo_id == "acme/model-0" and "older than the catalog's copy" in reason
        assert "2023-01-01" in reason and "2024-05-01" in reason
        assert session.get(Model, "acme/model-0").declared_license == "mit"


def test_a_repeated_id_is_reported(engine: Engine) -> None:
    with Session(engine) as session:
        report = import_snapshot(session, lines(2) + lines(1, license_for=lambda n: "gpl-3.0"))
    assert report.models.skipped == [
        ("acme/model-0", "repeated in the same batch: the last line wins")
    ]
