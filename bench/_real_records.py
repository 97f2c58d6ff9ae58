"""A catalog of the 333 real Hub records in tests/data, for the benchmarks that judge them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.db import make_engine, upgrade_schema
from catalog.licenses import knowledge_base
from catalog.registry import sync_licenses
from ingest.snapshot import import_snapshot
from tests.hubdata import real_models


def empty_catalog(path: Path) -> Engine:
    """A migrated SQLite catalog at `path` with the license knowledge base loaded."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with Session(engine) as session:
        sync_licenses(session, knowledge_base())
        session.commit()
    return engine


def real_records_catalog(path: Path) -> Engine:
    """The real records imported as a snapshot: what their own cards say."""
    engine = empty_catalog(path)
    with Session(engine) as session:
        import_snapshot(session, [json.dumps(info) for info in real_models()])
    return engine
