"""Curations survive re-crawls from the Hub stand-in, and turn stale when the Hub's value changes."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalog.compliance_checks import verdict_documents
from catalog.curations import record_curation
from catalog.policies import load_policy
from tests.fakehub import FakeHub
from tests.ingest.test_hub import crawl, hub, model  # noqa: F401 - hub is a fixture


def _curated(engine: Engine, repo_id: str) -> tuple[dict, list[dict]]:
    with Session(engine) as session:
        verdict = verdict_documents(
            session, [repo_id], use="commercial", policy=load_policy("default")
        )[0]
    return verdict, [r for r in verdict["reasons"] if r["code"] == "curated"]


def test_a_curation_survives_a_recrawl_and_turns_stale_on_an_upstream_change(
    engine: Engine,
    hub: FakeHub,  # noqa: F811 - the fixture imported above
) -> None:
    hub.add_model(model("acme/mystery", license="other"))
    crawl(engine, hub, datasets=False)
    with Session(engine) as session:
        record_curation(
            session,
            repo="acme/mystery",
            kind="model",
            field="license",
            value="apache-2.0",
            source="https://huggingface.co/acme/mystery/blob/1111/LICENSE",
            comment="the LICENSE file is Apache 2.0",
            by="rita",
        )
    crawl(engine, hub, datasets=False, resync=True)
    verdict, curated = _curated(engine, "acme/mystery")
    assert verdict["effective_license"]["ids"] == ["apache-2.0"]
    assert len(curated) == 1 and not curated[0]["source"]["stale"]

    hub.add_model(
        model("acme/mystery", modified="2025-02-01T00:00:00.000Z", sha="2" * 40, license="mit")
    )
    crawl(engine, hub, datasets=False)
    verdict, curated = _curated(engine, "acme/mystery")
    assert verdict["effective_license"]["ids"] == ["apache-2.0"]
    assert curated[0]["source"]["stale"] and "now mit" in curated[0]["text"]
