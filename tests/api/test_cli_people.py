"""The people commands: users, curate, review, audit export; `check` honours reviews."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_cli import cli  # noqa: F401 - a fixture


def test_users_add_prints_the_token_alone_on_its_last_line_and_list_and_revoke_work(cli) -> None:  # noqa: F811
    added = cli("users", "add", "rita", "--role", "reviewer")
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("mc_") and " " not in token and len(token) > 40
    assert "already exists" in cli("users", "add", "rita", "--role", "viewer").output
    assert cli("users", "add", "x", "--role", "root").exit_code == 2
    assert "rita" in cli("users", "list").output and "active" in cli("users", "list").output
    assert cli("users", "revoke", "rita").exit_code == 0
    assert "revoked" in cli("users", "list").output
    assert cli("users", "revoke", "nobody").exit_code == 2


def test_an_approved_unknown_passes_check_and_a_curation_shows_in_the_verdict(
    cli,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    repo = "OpenAssistant/oasst-sft-6-llama-30b-xor"
    first = cli("check", repo, "--json")
    assert json.loads(first.output)["verdict"] == "unknown" and first.exit_code == 1
    review = cli(
        "review",
        "add",
        repo,
        "--use",
        "commercial",
        "--decision",
        "approved",
        "--comment",
        "XOR weights: we hold a Llama licence",
        "--ticket",
        "LEGAL-9",
    )
    assert review.exit_code == 0
    passed = cli("check", repo)
    assert passed.exit_code == 0 and "approved by cli:" in passed.output
    curated = cli(
        "curate",
        repo,
        "--license",
        "llama2",
        "--source",
        "https://example.org/x",
        "--comment",
        "the card points at Llama's license",
    )
    assert curated.exit_code == 0
    verdict = json.loads(cli("check", repo, "--json").output)
    assert any(r["code"] == "curated" for r in verdict["reasons"])
    # The review was made on the old license: it no longer counts and says so.
    assert not verdict["review"]["counts"] and "no longer counts" in verdict["review"]["status"]
    exported = tmp_path / "audit.jsonl"
    assert cli("audit", "export", str(exported)).exit_code == 0
    actions = [json.loads(line)["action"] for line in exported.read_text().splitlines()]
    assert actions == ["review.add", "curation.add"]


def test_a_user_added_with_a_password_can_sign_in_with_it(cli, tmp_path: Path) -> None:  # noqa: F811
    import dataclasses

    from click.testing import CliRunner

    from api.app import create_app
    from api.cli import main
    from api.settings import Settings

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    added = CliRunner().invoke(
        main,
        ["users", "add", "rita", "--role", "reviewer", "--password"],
        env=env,
        input="s3cret-pass\ns3cret-pass\n",
    )
    assert added.exit_code == 0 and "s3cret-pass" not in added.output
    settings = Settings.defaults(tmp_path)
    settings = dataclasses.replace(settings, database_url=env["DATABASE_URL"])
    app = create_app({"WTF_CSRF_ENABLED": False}, settings)
    client = app.test_client()
    assert client.post("/signin", data={"name": "rita", "password": "wrong"}).status_code == 200
    assert (
        client.post("/signin", data={"name": "rita", "password": "s3cret-pass"}).status_code == 303
    )
