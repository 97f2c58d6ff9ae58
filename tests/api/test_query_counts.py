"""The model page loads the model's lineage once and judges every use from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event

MODEL = "meta-llama/Llama-2-7b-chat-hf"  # a fine-tune: its lineage has two levels


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.extensions["modelcatalog.engine"]

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_model_page_runs_as_few_queries_as_the_api_detail(app: Flask) -> None:
    client = app.test_client()
    client.get(f"/models/{MODEL}")  # warm caches (knowledge base, policies)
    with counted(app) as page:
        assert client.get(f"/models/{MODEL}").status_code == 200
    with counted(app) as detail:
        assert client.get(f"/api/v1/models/{MODEL}").status_code == 200
    # The model, two lineage levels (models, bases, datasets and curations each), the license
    # history.
    assert len(detail) <= 10, detail
    # The page also asks once for the reviews of its verdicts (every use at once).
    assert len(page) == len(detail) + 1, page
    assert len([s for s in page if "FROM review" in s]) == 1
    lineage_loads = [s for s in page if "FROM model_base" in s]
    assert len(lineage_loads) == 2  # one per lineage level, not one per use
