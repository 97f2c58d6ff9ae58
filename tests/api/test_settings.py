"""Settings: read once from the environment, coerced, validated, with app data under instance/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.app import create_app
from api.cli import main
from api.settings import Settings, SettingsError
from demo_runner.settings import BackendKind, ComputeType, Device, ScaleSettings


def test_defaults_put_app_data_under_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings.from_environ({}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/modelcatalog.db"
    assert settings.demo.cache_dir == tmp_path / "demos"
    assert settings.demo.device is None and settings.demo.compute_type is None
    assert settings.hub.endpoint is None and settings.hub.retries == 6


def test_values_are_coerced_to_their_types(tmp_path: Path) -> None:
    settings = Settings.from_environ(
        {
            "DATABASE_URL": "postgresql+psycopg://u:p@db/catalog",
            "HF_ENDPOINT": "http://hub.internal:8080",
            "HF_TOKEN": "hf_x",
            "MODELCATALOG_HUB_RETRIES": "2",
            "MODELCATALOG_DEMO_CACHE": "/srv/demos",
            "MODELCATALOG_DEMO_CACHE_GB": "1.5",
            "MODELCATALOG_DEMO_MAX_LOADED": "3",
            "MODELCATALOG_TRUST_REMOTE_CODE": "1",
            "MODELCATALOG_DEMO_DEVICE": "cuda",
            "MODELCATALOG_DEMO_COMPUTE_TYPE": "bfloat16",
            "MODELCATALOG_DEMO_THREADS": "4",
            "UNRELATED": "ignored",
        },
        tmp_path,
    )
    assert settings.database_url == "postgresql+psycopg://u:p@db/catalog"
    assert settings.hub.endpoint == "http://hub.internal:8080" and settings.hub.retries == 2
    demo = settings.demo
    assert demo.cache_dir == Path("/srv/demos") and demo.cache_max_bytes == int(1.5 * 2**30)
    assert demo.max_loaded == 3 and demo.trust_remote_code is True and demo.threads == 4
    assert demo.device is Device.CUDA and demo.compute_type is ComputeType.BFLOAT16
    assert demo.endpoint == "http://hub.internal:8080" and demo.token == "hf_x"


def test_the_demo_backend_and_ray_sizes_are_read_with_the_rest(tmp_path: Path) -> None:
    scale = Settings.from_environ(
        {
            "MODELCATALOG_DEMO_BACKEND": "ray",
            "RAY_ADDRESS": "head.internal:6379",
            "MODELCATALOG_RAY_MODELS_PER_REPLICA": "3",
            "MODELCATALOG_RAY_MIN_REPLICAS": "0",
            "MODELCATALOG_RAY_MAX_REPLICAS": "8",
            "MODELCATALOG_RAY_REPLICA_CPUS": "0.5",
            "MODELCATALOG_RAY_BUILD_CPUS": "2",
            "MODELCATALOG_RAY_SILENT_AFTER": "90",
        },
        tmp_path,
    ).scale
    assert scale == ScaleSettings(
        backend=BackendKind.RAY,
        ray_address="head.internal:6379",
        models_per_replica=3,
        min_replicas=0,
        max_replicas=8,
        replica_cpus=0.5,
        build_cpus=2.0,
        silent_after_s=90.0,
    )
    assert Settings.from_environ({}, tmp_path).scale == ScaleSettings()  # local, nothing to start
    for address in ("auto", "local", "ray://head:10001", "10.0.0.5:6379"):
        assert (
            Settings.from_environ({"RAY_ADDRESS": address}, tmp_path).scale.ray_address == address
        )


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    settings = Settings.from_environ({"MODELCATALOG_DEMO_DEVICE": "", "HF_TOKEN": ""}, tmp_path)
    assert settings.demo.device is None and settings.hub.token is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELCATALOG_DEMO_DEVICE", "tpu"),
        ("MODELCATALOG_DEMO_COMPUTE_TYPE", "int4"),
        ("MODELCATALOG_DEMO_MAX_LOADED", "0"),
        ("MODELCATALOG_DEMO_MAX_LOADED", "two"),
        ("MODELCATALOG_DEMO_CACHE_GB", "-1"),
        ("MODELCATALOG_HUB_RETRIES", "1e9"),
        ("MODELCATALOG_TRUST_REMOTE_CODE", "maybe"),
        ("HF_ENDPOINT", "ftp://hub"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "bogus://x"),
        ("DATABASE_URL", "mysql://u@db/catalog"),
        ("DATABASE_URL", "postgresql+nodriver://u@db/catalog"),
        ("MODELCATALOG_DEMO_BACKEND", "cloud"),
        ("RAY_ADDRESS", "head"),
        ("RAY_ADDRESS", "http://head:8265"),
        ("MODELCATALOG_RAY_MODELS_PER_REPLICA", "0"),
        ("MODELCATALOG_RAY_MAX_REPLICAS", "0"),
        ("MODELCATALOG_RAY_MIN_REPLICAS", "-1"),
        ("MODELCATALOG_RAY_MIN_REPLICAS", "3"),  # above the default maximum, 2
        ("MODELCATALOG_RAY_REPLICA_CPUS", "0"),
        ("MODELCATALOG_RAY_BUILD_CPUS", "lots"),
        ("MODELCATALOG_RAY_SILENT_AFTER", "1"),  # less than two heartbeats
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"{name}={value!r}")):
        Settings.from_environ({name: value}, tmp_path)


def test_every_bad_variable_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ(
            {"MODELCATALOG_DEMO_DEVICE": "tpu", "MODELCATALOG_DEMO_THREADS": "0"}, tmp_path
        )
    assert "MODELCATALOG_DEMO_DEVICE" in str(caught.value)
    assert "MODELCATALOG_DEMO_THREADS" in str(caught.value)


def test_the_app_reads_the_environment_once_into_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("MODELCATALOG_DEMO_MAX_LOADED", "5")
    app = create_app()
    monkeypatch.setenv("MODELCATALOG_DEMO_MAX_LOADED", "7")  # later changes are not seen
    settings = app.config["SETTINGS"]
    assert settings.demo.max_loaded == 5
    assert str(app.extensions["modelcatalog.engine"].url) == f"sqlite:///{tmp_path / 'env.db'}"


def test_serve_stops_at_start_up_on_a_bad_ray_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["serve", "--workers", "2"],
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "MODELCATALOG_DEMO_BACKEND": "ray",
            "MODELCATALOG_RAY_MIN_REPLICAS": "4",
            "MODELCATALOG_RAY_MAX_REPLICAS": "2",
        },
    )
    assert result.exit_code == 1
    assert "MODELCATALOG_RAY_MIN_REPLICAS='4': more than MODELCATALOG_RAY_MAX_REPLICAS (2)" in (
        result.output
    )
    assert "Traceback" not in result.output and "modelcatalog on http" not in result.output


def test_the_command_line_reports_a_bad_setting_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["licenses", "list"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "MODELCATALOG_DEMO_DEVICE": "tpu"},
    )
    assert result.exit_code == 1
    assert "MODELCATALOG_DEMO_DEVICE='tpu'" in result.output
    assert "Traceback" not in result.output
