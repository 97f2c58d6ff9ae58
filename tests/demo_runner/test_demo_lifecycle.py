"""Demo jobs under abuse: one build at a time, delete cancels and frees, failures answer repeats then expire."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError
from demo_runner.jobs import DemoManager
from demo_runner.settings import DemoSettings
from tests.demo_runner.conftest import CPU, add_tiny
from tests.fakehub import FakeHub

BUILDING = ("downloading", "converting", "loading")


def info_lookups(hub: FakeHub, repo_id: str) -> int:
    """Requests that ask the Hub about the model (model_info), not file downloads."""
    return sum(1 for r in hub.requests if r.split("?")[0] == f"/api/models/{repo_id}")


def new_manager(hub: FakeHub, tmp_path: Path, **changes) -> DemoManager:  # type: ignore[no-untyped-def]
    settings = DemoSettings(
        cache_dir=tmp_path / "demos", cache_max_bytes=2**30, endpoint=hub.url, **changes
    )
    return DemoManager(settings, choice=CPU)


def test_builds_run_one_at_a_time(hub: FakeHub, tiny_model_dir: Path, tmp_path: Path) -> None:
    add_tiny(hub, "tiny/second", tiny_model_dir)
    manager = new_manager(hub, tmp_path)
    jobs = [manager.start("tiny/llama"), manager.start("tiny/second")]
    most_at_once = 0
    while not all(job.done.is_set() for job in jobs):
        most_at_once = max(most_at_once, sum(job.state in BUILDING for job in jobs))
        time.sleep(0.002)
    assert [job.state for job in jobs] == ["ready", "ready"], [job.error for job in jobs]
    assert most_at_once == 1
    manager.close()


def test_deleting_a_building_job_cancels_it_and_frees_its_model(
    hub: FakeHub, tmp_path: Path
) -> None:
    manager = new_manager(hub, tmp_path)
    hub.inject("/api/models/tiny/llama", delay=1.0)
    job = manager.start("tiny/llama")
    time.sleep(0.3)
    assert manager.delete(job.id)
    assert job.done.wait(30)
    assert job.state == "cancelled" and job.loaded is None
    assert not manager.loaded and not manager.cache.pinned and manager.get(job.id) is None
    again = manager.wait(manager.start("tiny/llama"), timeout=120)
    assert again.state == "ready" and again.id != job.id
    manager.close()


def test_a_queued_job_deleted_before_its_turn_never_builds(
    hub: FakeHub, tiny_model_dir: Path, tmp_path: Path
) -> None:
    add_tiny(hub, "tiny/second", tiny_model_dir)
    manager = new_manager(hub, tmp_path)
    hub.inject("/api/models/tiny/llama", delay=1.0)
    first, second = manager.start("tiny/llama"), manager.start("tiny/second")
    time.sleep(0.2)
    assert second.state == "queued"
    manager.delete(second.id)
    assert second.done.wait(30) and second.state == "cancelled"
    assert info_lookups(hub, "tiny/second") == 0
    assert manager.wait(first, 120).state == "ready"
    manager.close()


def test_a_recent_failure_answers_instead_of_a_rebuild_then_expires(
    hub: FakeHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = new_manager(hub, tmp_path, job_ttl_s=1.0)
    with caplog.at_level(logging.WARNING, logger="demo_runner.jobs"):
        failed = manager.wait(manager.start("nobody/nothing"), timeout=60)
    assert failed.state == "failed"
    assert any(
        "nobody/nothing" in r.getMessage() and "not found" in r.getMessage() for r in caplog.records
    )
    lookups = info_lookups(hub, "nobody/nothing")
    for _ in range(20):
        assert manager.start("nobody/nothing") is failed
    assert info_lookups(hub, "nobody/nothing") == lookups
    assert failed.to_dict()["failed_seconds_ago"] >= 0
    time.sleep(1.2)
    assert manager.get(failed.id) is None  # expired
    retried = manager.wait(manager.start("nobody/nothing"), timeout=60)
    assert retried is not failed and info_lookups(hub, "nobody/nothing") > lookups
    assert len(manager.jobs) == 1


def test_the_hub_is_asked_once_per_model_per_window(hub: FakeHub, tmp_path: Path) -> None:
    manager = new_manager(hub, tmp_path)
    for _ in range(3):
        job = manager.wait(manager.start("tiny/llama"), timeout=120)
        assert job.state == "ready"
        manager.delete(job.id)
    assert info_lookups(hub, "tiny/llama") == 1


def test_the_build_queue_is_bounded(hub: FakeHub, tiny_model_dir: Path, tmp_path: Path) -> None:
    from demo_runner.errors import DemoBusy

    for n in range(3):
        add_tiny(hub, f"tiny/m{n}", tiny_model_dir)
    manager = new_manager(hub, tmp_path, max_queued=1)
    hub.inject("/api/models/tiny/m0", delay=1.0)
    manager.start("tiny/m0")
    manager.start("tiny/m1")
    with pytest.raises(DemoBusy) as busy:
        manager.start("tiny/m2")
    assert busy.value.status == 429 and busy.value.retry_after > 0
    manager.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELCATALOG_DEMO_MAX_BUILDS", "0"),
        ("MODELCATALOG_DEMO_MAX_BUILDS", "many"),
        ("MODELCATALOG_DEMO_JOB_TTL", "-5"),
        ("MODELCATALOG_DEMO_MAX_STREAMS", "nan"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value}, tmp_path)


def test_settings_have_safe_defaults(tmp_path: Path) -> None:
    demo = Settings.from_environ({}, tmp_path).demo
    assert demo.max_builds == 1 and demo.max_streams_total >= demo.max_streams
    assert (
        Settings.from_environ({"MODELCATALOG_DEMO_MAX_BUILDS": "2"}, tmp_path).demo.max_builds == 2
    )


def test_concurrent_start_and_delete_cycles_leave_the_manager_working(
    hub: FakeHub, tmp_path: Path
) -> None:
    manager = new_manager(hub, tmp_path)
    errors: list[BaseException] = []

    def cycle() -> None:
        try:
            for _ in range(2):
                manager.delete(manager.start("tiny/llama").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cycle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    job = manager.wait(manager.start("tiny/llama"), timeout=120)
    assert job.state == "ready", job.error
    assert list(manager.jobs) == [job.id] and list(manager.loaded) == [job.id]
    manager.close()
