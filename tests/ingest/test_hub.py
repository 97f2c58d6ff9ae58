"""The crawler end to end: the real huggingface_hub client against tests/fakehub on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.cli import main
from catalog.compliance_checks import check_model
from catalog.policies import load_policy
from catalog.tables import Dataset, LicenseObservation, Model
from ingest.connection import HubSettings
from ingest.errors import HubUnreachable
from ingest.hub import Crawler, CrawlOptions
from tests.catalog.test_search_index import assert_saved_index_is_current
from tests.fakehub import FakeHub
from tests.fakehub.server import card_readme
from tests.hubdata import real_models

ROOT = Path(__file__).parents[2]


def model(
    repo_id: str, modified: str = "2025-01-01T00:00:00.000Z", sha: str = "1" * 40, **card
) -> dict:
    tags = [f"license:{card['license']}"] if isinstance(card.get("license"), str) else []
    return {
        "id": repo_id,
        "author": repo_id.split("/")[0],
        "sha": sha,
        "lastModified": modified,
        "tags": tags,
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "cardData": card,
    }


@pytest.fixture
def hub(fakehub_server: FakeHub) -> Iterator[FakeHub]:
    yield fakehub_server.reset(page_size_cap=50)
    fakehub_server.reset()


@pytest.fixture
def real_hub(hub: FakeHub) -> FakeHub:
    for info in real_models():
        hub.add_model(info)
    return hub


def crawl(
    engine: Engine, hub: FakeHub, retries: int = 6, token: str | None = None, **options
) -> object:
    hub_settings = HubSettings(endpoint=hub.url, token=token, retries=retries)
    return Crawler(engine, CrawlOptions(hub=hub_settings, page_size=50, **options)).run()


def models(engine: Engine) -> dict[str, Model]:
    with Session(engine) as session:
        return {m.id: m for m in session.exec(select(Model))}


def test_a_full_crawl_stores_every_listed_model_with_its_card_fields(
    engine: Engine, real_hub: FakeHub
) -> None:
    summary = crawl(engine, real_hub)
    stored = models(engine)
    listed = {m["id"] for m in real_models()}
    assert listed <= set(stored)
    assert summary.new == len(listed)
    kokoro = stored["hexgrad/Kokoro-82M"]
    assert kokoro.license_ids == ["apache-2.0"]
    assert kokoro.pipeline_tag == "text-to-speech"
    assert kokoro.languages == ["en"]
    assert kokoro.sha == "f3ff3571791e39611d31c381e3a41a3af07b4987"
    # One listing pass, not one request per model.
    listing = [r for r in real_hub.requests if r.startswith("/api/models?")]
    assert len(listing) == (len(listed) + 49) // 50


def test_a_second_crawl_only_touches_what_changed(sqlite_engine: Engine, hub: FakeHub) -> None:
    for i in range(120):
        hub.add_model(
            model(
                f"org/m{i:03d}", modified=f"2025-01-{1 + i % 28:02d}T00:00:00.000Z", license="mit"
            )
        )
    crawl(sqlite_engine, hub)
    hub.add_model(
        model("org/m005", modified="2025-03-01T00:00:00.000Z", sha="2" * 40, license="apache-2.0")
    )
    hub.requests.clear()
    summary = crawl(sqlite_engine, hub)
    assert (summary.new, summary.updated) == (0, 1)
    assert summary.seen < 10
    assert len([r for r in hub.requests if r.startswith("/api/models?")]) == 1
    assert models(sqlite_engine)["org/m005"].license_ids == ["apache-2.0"]
    with Session(sqlite_engine) as session:
        assert_saved_index_is_current(session)


def test_resync_makes_a_full_pass(sqlite_engine: Engine, hub: FakeHub) -> None:
    for i in range(60):
        hub.add_model(model(f"org/m{i:03d}", license="mit"))
    crawl(sqlite_engine, hub)
    summary = crawl(sqlite_engine, hub, resync=True)
    assert summary.unchanged == 60


def test_filters_author_and_search_narrow_the_crawl(
    sqlite_engine: Engine, real_hub: FakeHub
) -> None:
    crawl(sqlite_engine, real_hub, filters=("license:mit",), datasets=False, lineage_depth=0)
    stored = models(sqlite_engine)
    assert stored and all(m.license_ids == ["mit"] for m in stored.values())
    expected = {m["id"] for m in real_models() if "license:mit" in (m.get("tags") or [])}
    assert set(stored) == expected


def test_limit_stops_after_that_many_models(sqlite_engine: Engine, real_hub: FakeHub) -> None:
    summary = crawl(sqlite_engine, real_hub, limit=70, datasets=False, lineage_depth=0)
    assert summary.seen == 70 and len(models(sqlite_engine)) == 70


def test_lineage_closure_fetches_bases_and_datasets_and_records_the_missing(
    sqlite_engine: Engine, hub: FakeHub
) -> None:
    hub.add_model(
        model(
            "org/child",
            license="apache-2.0",
            base_model="org/base",
            datasets=["org/data", "org/ghost-data"],
        )
    )
    hub.add_model(model("org/base", license="llama2", base_model="org/ghost"))
    hub.add_dataset(
        {
            "id": "org/data",
            "sha": "d" * 40,
            "lastModified": "2025-01-01T00:00:00.000Z",
            "cardData": {"license": "cc-by-nc-4.0"},
        }
    )
    summary = crawl(sqlite_engine, hub, filters=("license:apache-2.0",), datasets=False)
    stored = models(sqlite_engine)
    assert not stored["org/base"].missing and stored["org/ghost"].missing
    with Session(sqlite_engine) as session:
        assert session.get(Dataset, "org/data").license_ids == ["cc-by-nc-4.0"]
        assert session.get(Dataset, "org/ghost-data").missing
        verdict = check_model(session, "org/child", use="commercial", policy=load_policy("default"))
    assert summary.missing == 2
    assert verdict["verdict"] == "unknown"
    assert {"ancestor-missing", "dataset-missing", "license-conflict"} <= {
        r["code"] for r in verdict["reasons"]
    }


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 1, "times": 2},
        {"status": 500, "times": 2},
        {"status": 503, "times": 1},
        {"break_off": True, "times": 1},
        {"delay": 0.5, "times": 1},
    ],
    ids=["429-retry-after", "500", "503", "page-breaks-off", "slow"],
)
def test_transient_faults_are_retried_and_nothing_is_lost(
    sqlite_engine: Engine, hub: FakeHub, fault: dict
) -> None:
    for i in range(120):
        hub.add_model(model(f"org/m{i:03d}", license="mit"))
    injected = hub.inject("/api/models", **fault)
    started = time.monotonic()
    summary = crawl(sqlite_engine, hub, datasets=False)
    assert injected.hits == fault["times"]
    assert summary.new == 120 and len(models(sqlite_engine)) == 120
    if fault.get("retry_after"):
        assert time.monotonic() - started >= 2  # waited as Retry-After said, twice


def test_a_hub_that_keeps_failing_ends_the_run_with_what_was_fetched_kept(
    sqlite_engine: Engine, hub: FakeHub
) -> None:
    for i in range(120):
        hub.add_model(model(f"org/m{i:03d}", license="mit"))
    hub.inject("/api/models", break_off=True, times=100, skip=1)
    with pytest.raises(HubUnreachable, match="cannot be reached"):
        crawl(sqlite_engine, hub, retries=2, datasets=False)
    assert len(models(sqlite_engine)) == 50  # the first page, committed before the failure


def test_an_unreachable_endpoint_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
    subprocess.run(
        [sys.executable, "-m", "api.cli", "init", "--no-seed"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", "hub"],
        env={**env, "MODELCATALOG_HUB_RETRIES": "2"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr


def test_gated_cards_need_a_token_and_accepted_terms(sqlite_engine: Engine, hub: FakeHub) -> None:
    info = model("org/gated", license="llama2")
    info["gated"] = "manual"
    card = info.pop("cardData")
    hub.add_model({**info, "cardData": None}, files={"README.md": card_readme(card)})
    crawl(sqlite_engine, hub, datasets=False)
    stored = models(sqlite_engine)["org/gated"]
    assert stored.gated == "manual"
    assert stored.card_errors and "GatedRepo" in stored.card_errors[0]

    hub.tokens.add("hf_secret")
    hub.accepted.add(("hf_secret", "org/gated"))
    crawl(sqlite_engine, hub, datasets=False, resync=True, token="hf_secret")
    with Session(sqlite_engine) as session:
        session.exec(select(Model)).all()
    # Unchanged sha: the record is not rewritten, so force a change to see the card read.
    hub.add_model(
        {**info, "sha": "9" * 40, "cardData": None}, files={"README.md": card_readme(card)}
    )
    crawl(sqlite_engine, hub, datasets=False, resync=True, token="hf_secret")
    stored = models(sqlite_engine)["org/gated"]
    assert stored.card_errors == [] and stored.license_ids == ["llama2"]


def test_malformed_cards_are_recorded_and_the_crawl_goes_on(
    sqlite_engine: Engine, hub: FakeHub
) -> None:
    hub.add_model(
        {**model("org/bad-yaml"), "cardData": None},
        files={"README.md": b"---\nlicense: [mit\n---\nhello"},
    )
    hub.add_model(
        model(
            "org/wrong-types",
            license=["mit", 3],
            base_model={"not": "a string"},
            language=7,
            downloads="many",
        )
    )
    hub.add_model(model("org/huge", license="mit", notes="x" * 400_000))
    hub.add_model(model("org/fine", license="mit"))
    summary = crawl(sqlite_engine, hub, datasets=False)
    stored = models(sqlite_engine)
    assert summary.errors == 3
    assert stored["org/bad-yaml"].card_errors[0].startswith("card YAML")
    assert any("base_model" in e for e in stored["org/wrong-types"].card_errors)
    assert stored["org/wrong-types"].license_ids == [
        "mit",
        "unknown",
    ]  # 3 is no license: never guessed
    assert stored["org/huge"].card_data is None and "limit" in stored["org/huge"].card_errors[0]
    assert stored["org/huge"].license_ids == ["mit"]
    assert stored["org/fine"].card_errors == []


def test_a_license_change_between_crawls_is_kept_as_history(engine: Engine, hub: FakeHub) -> None:
    hub.add_model(
        model(
            "tiiuae/falcon-40b",
            modified="2023-05-29T00:00:00.000Z",
            license="other",
            license_name="tii-falcon-llm",
        )
    )
    crawl(engine, hub, datasets=False)
    hub.add_model(
        model(
            "tiiuae/falcon-40b",
            modified="2023-05-31T00:00:00.000Z",
            sha="2" * 40,
            license="apache-2.0",
        )
    )
    crawl(engine, hub, datasets=False)
    with Session(engine) as session:
        history = session.exec(select(LicenseObservation).order_by(LicenseObservation.id)).all()
    assert [(h.declared_license, h.license_ids) for h in history] == [
        ("other", ["tii-falcon-llm"]),
        ("apache-2.0", ["apache-2.0"]),
    ]


def _export(db: Path) -> list[str]:
    out = db.with_suffix(".jsonl")
    CliRunner().invoke(
        main, ["export", str(out)], env={"DATABASE_URL": f"sqlite:///{db}"}, catch_exceptions=False
    )
    return out.read_text().splitlines()


def test_a_crawl_killed_midway_resumes_to_the_same_catalog(tmp_path: Path) -> None:
    records = tmp_path / "hub.jsonl"
    infos = [
        model(
            f"org/m{i:03d}",
            modified=f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z",
            license="mit",
        )
        for i in range(400)
    ]
    records.write_text("\n".join(json.dumps(i) for i in infos) + "\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakehub", str(records), "0", "0.3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        results = []
        for name, kill in (("killed", True), ("whole", False)):
            db = tmp_path / f"{name}.db"
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "HF_ENDPOINT": url}
            subprocess.run(
                [sys.executable, "-m", "api.cli", "init", "--no-seed"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            command = [
                sys.executable,
                "-m",
                "api.cli",
                "ingest",
                "hub",
                "--page-size",
                "50",
                "--no-datasets",
            ]
            if kill:
                crawl_process = subprocess.Popen(
                    command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
                )
                for line in crawl_process.stderr:
                    if "page 3:" in line:
                        break
                os.kill(crawl_process.pid, signal.SIGKILL)
                crawl_process.wait()
                crawl_process.stderr.close()
                assert 100 <= len(_export(db)) < 400
            finished = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
            )
            assert finished.returncode == 0, finished.stderr
            results.append(_export(db))
        assert len(results[1]) == 400
        assert results[0] == results[1]
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
