"""The command line as a user runs it: init, check (exit codes, JSON), licenses, snapshot in and out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main


@pytest.fixture
def cli(tmp_path: Path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert run("init").exit_code == 0
    return run


def test_check_exits_zero_when_every_model_is_allowed_or_conditional(cli) -> None:
    result = cli("check", "tiiuae/falcon-40b", "meta-llama/Llama-2-7b-hf")
    assert result.exit_code == 0
    assert "allowed" in result.output and "conditional" in result.output


def test_check_exits_one_when_any_model_is_forbidden(cli) -> None:
    result = cli("check", "tiiuae/falcon-40b", "mosaicml/mpt-30b-chat")
    assert result.exit_code == 1
    assert "forbids commercial use" in result.output


def test_check_reports_an_unknown_repo_id_without_crashing(cli) -> None:
    result = cli("check", "nobody/nothing")
    assert result.exit_code == 1
    assert "not in the catalog" in result.output


def test_check_json_prints_one_verdict_per_line(cli) -> None:
    result = cli("check", "--json", "mosaicml/mpt-30b-chat", "bigscience/bloom")
    verdicts = [json.loads(line) for line in result.output.splitlines()]
    assert [v["model"] for v in verdicts] == ["mosaicml/mpt-30b-chat", "bigscience/bloom"]
    assert verdicts[0]["reasons"][0]["code"] == "license-non-commercial"


def test_check_with_a_bad_policy_is_a_usage_error(cli) -> None:
    result = cli("check", "--policy", "lenient", "bigscience/bloom")
    assert result.exit_code == 2
    assert "unknown policy" in result.output


def test_a_policy_file_that_is_not_utf8_is_a_usage_error(cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(b"\xff\xfe name: mine\n")
    result = cli("check", "--policy", str(policy), "bigscience/bloom")
    assert result.exit_code == 2
    assert "cannot read policy" in result.output


def test_check_with_a_bad_use_is_a_usage_error(cli) -> None:
    assert cli("check", "--use", "resell", "bigscience/bloom").exit_code == 2


def test_check_accepts_a_policy_file(cli, tmp_path: Path) -> None:
    policy = (Path(__file__).parents[2] / "catalog/data/policies/default.yaml").read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(
        policy.replace("deny: []", "deny: [open-rail]").replace("name: default", "name: mine")
    )
    result = cli("check", "--json", "--policy", str(path), "bigscience/bloom")
    assert result.exit_code == 1
    assert json.loads(result.output)["policy"] == "mine"


def test_check_strict_policy_blocks_non_commercial_training_data(cli, tmp_path: Path) -> None:
    snapshot = tmp_path / "extra.jsonl"
    snapshot.write_text(
        json.dumps(
            {
                "id": "acme/alpaca-tune",
                "cardData": {"license": "apache-2.0", "datasets": ["tatsu-lab/alpaca"]},
            }
        )
        + "\n"
    )
    assert cli("ingest", "snapshot", str(snapshot)).exit_code == 0
    assert cli("check", "acme/alpaca-tune").exit_code == 0  # conditional under default
    strict = cli("check", "--policy", "strict", "--json", "acme/alpaca-tune")
    assert strict.exit_code == 1
    assert json.loads(strict.output)["verdict"] == "forbidden"


def test_licenses_list_filters_by_category(cli) -> None:
    result = cli("licenses", "list", "--category", "community")
    ids = {line.split()[0] for line in result.output.splitlines()}
    assert {"llama2", "llama3", "gemma"} <= ids
    assert "mit" not in ids


def test_licenses_show_prints_terms_and_source(cli) -> None:
    result = cli("licenses", "show", "llama2")
    assert "700 million" in result.output
    assert "source: https://" in result.output


def test_licenses_show_unknown_id_is_a_usage_error(cli) -> None:
    assert cli("licenses", "show", "nope").exit_code == 2


def test_snapshot_import_reports_bad_lines_and_keeps_the_rest(cli, tmp_path: Path) -> None:
    snapshot = tmp_path / "s.jsonl"
    snapshot.write_text(
        "\n".join(
            [
                json.dumps({"id": "acme/good", "cardData": {"license": "mit"}}),
                "{not json",
                json.dumps(["a", "list"]),
                json.dumps({"kind": "space", "id": "acme/x"}),
                json.dumps(
                    {"id": "acme/typed", "cardData": {"license": 5, "base_model": {"a": 1}}}
                ),
            ]
        )
    )
    result = cli("ingest", "snapshot", str(snapshot))
    assert result.exit_code == 0
    assert "line 2: skipped" in result.output
    assert "line 3: skipped" in result.output
    assert "line 4: skipped" in result.output
    assert "models: 2 new" in result.output
    assert cli("check", "acme/good").exit_code == 0


def test_export_then_import_round_trips(cli, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert cli("export", str(first)).exit_code == 0
    other = CliRunner().invoke(
        main, ["init", "--no-seed"], env={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    )
    assert other.exit_code == 0
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    assert CliRunner().invoke(main, ["ingest", "snapshot", str(first)], env=env).exit_code == 0
    assert CliRunner().invoke(main, ["export", str(second)], env=env).exit_code == 0
    assert first.read_text() == second.read_text()
    assert len(first.read_text().splitlines()) == 39


def test_snapshot_import_says_what_it_skipped_and_why(cli, tmp_path: Path) -> None:
    def line(license_id: str, modified: str) -> str:
        return json.dumps(
            {"id": "acme/edited", "lastModified": modified, "cardData": {"license": license_id}}
        )

    snapshot = tmp_path / "s.jsonl"
    snapshot.write_text(line("mit", "2024-05-01T00:00:00.000Z"))
    assert "models: 1 new" in cli("ingest", "snapshot", str(snapshot)).output
    snapshot.write_text(line("apache-2.0", "2024-05-01T00:00:00.000Z"))
    assert "models: 0 new, 1 updated" in cli("ingest", "snapshot", str(snapshot)).output
    snapshot.write_text(line("gpl-3.0", "2020-01-01T00:00:00.000Z"))
    result = cli("ingest", "snapshot", str(snapshot))
    assert "1 skipped" in result.output
    assert "acme/edited: skipped: older than the catalog's copy" in result.output


def test_check_fail_on_conditional_stops_on_obligations(cli) -> None:
    assert cli("check", "meta-llama/Llama-2-7b-hf").exit_code == 0
    result = cli(
        "check", "--fail-on", "conditional", "meta-llama/Llama-2-7b-hf", "tiiuae/falcon-40b"
    )
    assert result.exit_code == 1
    assert "1 of 2 not cleared" in result.output
    assert cli("check", "--fail-on", "conditional", "tiiuae/falcon-40b").exit_code == 0


def test_check_fail_on_forbidden_lets_unknown_pass(cli) -> None:
    assert cli("check", "--fail-on", "forbidden", "nobody/nothing").exit_code == 0
    assert cli("check", "--fail-on", "forbidden", "mosaicml/mpt-30b-chat").exit_code == 1
    assert cli("check", "--fail-on", "sometimes", "bigscience/bloom").exit_code == 2


def test_a_policy_file_with_an_organisation_settles_thresholds(cli, tmp_path: Path) -> None:
    from importlib import resources

    import yaml

    text = resources.files("catalog.data.policies").joinpath("default.yaml").read_text("utf-8")
    document = yaml.safe_load(text)
    document["organisation"] = {"monthly_active_users": 900_000_000}
    policy = tmp_path / "org.yaml"
    policy.write_text(yaml.safe_dump(document))
    result = cli("check", "--json", "--policy", str(policy), "meta-llama/Llama-2-7b-chat-hf")
    verdict = json.loads(result.output.splitlines()[0])
    assert result.exit_code == 1 and verdict["verdict"] == "forbidden"
    assert any("900,000,000" in r["text"] for r in verdict["reasons"])


def test_a_bad_organisation_in_a_policy_file_is_a_usage_error(cli, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("uses: {}\norganisation: {monthly_active_users: many}\n")
    assert cli("check", "--policy", str(policy), "bigscience/bloom").exit_code == 2


def test_init_resolves_stored_licenses_again_when_the_rules_change(cli, tmp_path: Path) -> None:
    """A catalog made under older rules (stored ids and verdicts) is re-judged by `init`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    stale = '["tongyi-qianwen"]'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model (id, downloads, likes, disabled, private, missing, declared_license,"
                " license_name, license_ids, license_category, card_data)"
                " VALUES ('Qwen/Qwen1.5-0.5B-Chat', 0, 0, 0, 0, 0, 'other', 'tongyi-qianwen-research',"
                " :stale, 'community', :card)"
            ),
            {
                "stale": stale,
                "card": '{"license": "other", "license_name": "tongyi-qianwen-research"}',
            },
        )
        connection.execute(
            text(
                "INSERT INTO model_verdict VALUES ('Qwen/Qwen1.5-0.5B-Chat', 'commercial', 'default', 'conditional', 'community')"
            )
        )
        connection.execute(text("UPDATE catalog_version SET rules_digest = 'older rules'"))
    result = cli("init", "--no-seed")
    assert "License rules changed: 1 models" in result.output
    with engine.connect() as connection:
        ids = connection.execute(
            text("SELECT license_ids FROM model WHERE id = 'Qwen/Qwen1.5-0.5B-Chat'")
        ).scalar()
        stored = connection.execute(
            text(
                "SELECT verdict FROM model_verdict WHERE model_id = 'Qwen/Qwen1.5-0.5B-Chat' AND policy = 'default'"
            )
        ).scalar()
    assert json.loads(ids) == ["tongyi-qianwen-research"] and stored == "forbidden"
    assert "License rules changed" not in cli("init", "--no-seed").output


def test_init_saves_search_bitmaps_anew_when_their_sort_buckets_changed(
    cli, tmp_path: Path
) -> None:
    """Bitmaps saved by a version that numbered sort buckets another way are saved anew by init,
    so a server does not rebuild them at every start."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE search_bitmap SET facet = 'order:' || substr(facet, 6)"
                " WHERE facet LIKE 'sort:%'"
            )
        )
    assert "Search index saved anew" in cli("init", "--no-seed").output
    with engine.connect() as connection:
        facets = set(connection.execute(text("SELECT facet FROM search_bitmap")).scalars())
    assert "sort:downloads" in facets and not any(f.startswith("order:") for f in facets)
    assert "Search index saved anew" not in cli("init", "--no-seed").output


@pytest.mark.parametrize(
    "args", [["check", "tiiuae/falcon-40b"], ["scan", "--check", "--no-fetch", "PROJECT"]]
)
def test_the_gate_commands_judge_without_importing_the_web_layer(
    cli, tmp_path: Path, args: list[str]
) -> None:
    # A pre-commit hook runs these on every commit: the API, pages and OpenAPI document would be
    # a third of their start-up. A fresh interpreter, so that nothing else imported them first.
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text('AutoModel.from_pretrained("tiiuae/falcon-40b")\n')
    args = [str(project) if a == "PROJECT" else a for a in args]
    program = (
        "import sys\nfrom api.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exit:\n    code = exit.code\n"
        "loaded = [m for m in ('api.pages', 'api.models_api', 'flask_smorest') if m in sys.modules]\n"
        "print(code, loaded)\n"
    )
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", program], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_the_command_as_a_process_keeps_its_exit_status_and_its_whole_output(
    cli, tmp_path: Path
) -> None:
    # python -m api.cli and the console script go through run(), which freezes the collector
    # as the process ends: what the command printed, and how it exited, must be kept.
    import tomllib

    scripts = tomllib.loads(Path("pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"modelcatalog": "api.cli:run"}
    project = tmp_path / "project"
    project.mkdir()
    for n in range(300):
        (project / f"m{n}.py").write_text(f'AutoModel.from_pretrained("org/model-{n}")\n')
    (project / "bad.py").write_text('AutoModel.from_pretrained("bigscience/bloom")\n')
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True
        )

    listed = command("scan", "--format", "json", str(project))
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["findings"]) == 301
    bad = str(project / "bad.py")
    judged = command("scan", "--check", "--no-fetch", "--fail-on", "conditional", bad)
    assert judged.returncode == 1, judged.stderr  # bloom's RAIL terms: conditional
    assert "bigscience/bloom" in judged.stdout and "conditional" in judged.stdout
    assert command("scan", str(tmp_path / "missing")).returncode == 2


def test_the_gate_commands_judge_against_the_app_they_are_given(cli, tmp_path: Path) -> None:
    # An embedding program (or app.test_cli_runner()) hands the CLI its own app: that app's
    # database is judged against, not the one the environment names.
    from api.app import create_app
    from api.settings import Settings

    settings = Settings.from_environ({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}, tmp_path)
    runner = create_app(settings=settings).test_cli_runner()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}"}  # no catalog there
    result = runner.invoke(main, ["check", "tiiuae/falcon-40b"], env=env)
    assert result.exit_code == 0, result.output
    assert "allowed" in result.output
