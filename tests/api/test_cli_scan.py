"""scan, bom and check --bom as a CI job runs them: exit codes, SARIF, JUnit, BOM round trips."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from api.cli import main, report_json
from tests.documents import assert_valid_bom, assert_valid_sarif, bom_twins
from tests.fakehub import FakeHub

TREE = Path(__file__).parents[1] / "ingest" / "scan_tree"


@pytest.fixture
def cli(tmp_path: Path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HF_ENDPOINT": "http://127.0.0.1:9"}
    runner = CliRunner()

    def run(*args: str, **extra_env: str):
        return runner.invoke(main, list(args), env={**env, **extra_env}, catch_exceptions=False)

    assert run("init").exit_code == 0
    return run


def _project(tmp_path: Path, source: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text(source)
    return root


def test_scan_without_check_lists_findings_and_exits_zero(cli) -> None:
    result = cli("scan", str(TREE))
    assert result.exit_code == 0
    assert "tiiuae/falcon-40b" in result.output and "from_pretrained()" in result.output
    assert "skipped: local-path 4, no-owner 2, unresolved 3" in result.output


def test_scan_json_lists_models_datasets_and_skips(cli) -> None:
    report = json.loads(cli("scan", "--format", "json", str(TREE)).stdout)
    assert len(report["models"]) == 12 and len(report["datasets"]) == 4
    assert report["skipped"] == {"local-path": 4, "no-owner": 2, "unresolved": 3}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_report_json_reads_back_as_what_it_was_given(report) -> None:
    text = report_json(report)
    assert json.loads(text) == report
    # Each top-level key on a line of its own, after the opening brace.
    assert len([line for line in text.splitlines() if line.startswith('  "')]) == len(report)


def test_scan_json_puts_each_finding_on_a_line(cli) -> None:
    text = cli("scan", "--format", "json", str(TREE)).stdout
    report = json.loads(text)
    lines = text.splitlines()
    for finding in report["findings"]:
        assert "    " + json.dumps(finding) in {line.rstrip(",") for line in lines}


def test_scan_check_passes_when_every_model_is_cleared(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, 'AutoModel.from_pretrained("tiiuae/falcon-40b")\n')
    assert cli("scan", "--check", "--no-fetch", str(root)).exit_code == 0


def test_scan_check_fails_on_a_forbidden_model(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, 'pipeline("text-generation", model="mosaicml/mpt-30b-chat")\n')
    result = cli("scan", "--check", "--no-fetch", str(root))
    assert result.exit_code == 1
    assert "forbidden" in result.output


def test_scan_fail_on_conditional_also_fails_conditional_models(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, 'AutoModel.from_pretrained("meta-llama/Llama-2-7b-hf")\n')
    assert cli("scan", "--check", "--no-fetch", str(root)).exit_code == 0
    failing = cli("scan", "--check", "--no-fetch", "--fail-on", "conditional", str(root))
    assert failing.exit_code == 1


def test_scan_check_takes_use_and_policy(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, 'AutoModel.from_pretrained("mosaicml/mpt-30b-chat")\n')
    assert cli("scan", "--check", "--no-fetch", "--use", "research", str(root)).exit_code == 0
    assert cli("scan", "--check", "--no-fetch", "--policy", "lenient", str(root)).exit_code == 2


def test_scan_sarif_points_at_the_line_that_loads_an_uncleared_model(cli) -> None:
    result = cli("scan", "--check", "--no-fetch", "--format", "sarif", str(TREE))
    assert result.exit_code == 1
    log = assert_valid_sarif(result.stdout)
    results = log["runs"][0]["results"]
    [xgen] = [r for r in results if "Salesforce/xgen-7b-8k-inst" in r["message"]["text"]]
    assert xgen["ruleId"] == "model-forbidden" and xgen["level"] == "error"
    assert "cell 2" in xgen["message"]["text"]
    [mpt] = [r for r in results if r["message"]["text"].startswith("mosaicml/mpt-7b ")]
    location = mpt["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("src/app/loaders.py")
    assert location["region"] == {"startLine": 16}
    assert not [r for r in results if "tiiuae/falcon-40b" in r["message"]["text"]]
    assert sum(r["ruleId"] == "model-unresolved" for r in results) == 3


def test_scan_sarif_and_junit_need_check(cli) -> None:
    assert cli("scan", "--format", "sarif", str(TREE)).exit_code == 2


def test_check_junit_has_one_case_per_model_and_failures_for_the_gate(cli) -> None:
    result = cli("check", "--format", "junit", "tiiuae/falcon-40b", "mosaicml/mpt-30b-chat")
    assert result.exit_code == 1
    suite = ElementTree.fromstring(result.stdout).find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["mosaicml/mpt-30b-chat"].find("failure").get("type") == "forbidden"
    assert cases["tiiuae/falcon-40b"].find("failure") is None


def test_round_trip_scan_bom_check_gives_the_verdicts_check_gives(cli, tmp_path: Path) -> None:
    bom_file = tmp_path / "models.cdx.json"
    assert cli("bom", "--from-scan", str(TREE), "-o", str(bom_file)).exit_code == 0
    bom = assert_valid_bom(bom_file.read_text())
    ids = json.loads(cli("scan", "--format", "json", str(TREE)).stdout)["models"]
    assert len([c for c in bom["components"] if c["type"] == "machine-learning-model"]) == len(ids)
    from_bom = cli("check", "--json", "--bom", str(bom_file))
    direct = cli("check", "--json", *ids)
    assert from_bom.exit_code == direct.exit_code == 1

    def verdicts(output: str) -> dict[str, tuple]:
        answers = [json.loads(line) for line in output.splitlines()]
        return {v["model"]: (v["verdict"], v["reasons"], v["obligations"]) for v in answers}

    assert verdicts(from_bom.stdout) == verdicts(direct.stdout)


def test_bom_notes_where_a_scan_found_each_model(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, '\nAutoModel.from_pretrained("tiiuae/falcon-40b")\n')
    bom = assert_valid_bom(cli("bom", "--from-scan", str(root)).stdout)
    [component] = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    found_in = [p["value"] for p in component["properties"] if p["name"] == "modelcatalog:found-in"]
    assert found_in == [f"{root.as_posix()}/app.py:2"]


def test_bom_of_repo_ids_writes_to_stdout(cli) -> None:
    bom = assert_valid_bom(cli("bom", "bigscience/bloom").stdout)
    models = [c["name"] for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert models == ["bigscience/bloom"]


def test_bom_without_models_is_a_usage_error(cli, tmp_path: Path) -> None:
    root = _project(tmp_path, "print('no models here')\n")
    assert cli("bom", "--from-scan", str(root)).exit_code == 2
    assert cli("bom").exit_code == 2


def _bom_with_an_unmapped_model(tmp_path: Path) -> Path:
    """Another tool's BOM: falcon-40b, and an in-house model that maps to no Hub repo."""
    bom_file = tmp_path / "other.json"
    components = [
        {"type": "machine-learning-model", "name": "tiiuae/falcon-40b"},
        {"type": "machine-learning-model", "name": "our ranker"},
    ]
    bom_file.write_text(json.dumps({"bomFormat": "CycloneDX", "components": components}))
    return bom_file


def test_check_bom_reports_components_it_cannot_map_and_fails(cli, tmp_path: Path) -> None:
    bom_file = _bom_with_an_unmapped_model(tmp_path)
    result = cli("check", "--bom", str(bom_file))
    assert result.exit_code == 1
    assert "our ranker maps to no Hub repo id" in result.stderr
    assert "tiiuae/falcon-40b" in result.stdout


@pytest.mark.parametrize("content", ["{not json", '{"bomFormat": "SPDX"}'])
def test_check_bom_with_a_bad_file_is_a_usage_error(cli, tmp_path: Path, content: str) -> None:
    bom_file = tmp_path / "bad.json"
    bom_file.write_text(content)
    result = cli("check", "--bom", str(bom_file))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_check_without_ids_or_bom_is_a_usage_error(cli) -> None:
    assert cli("check").exit_code == 2


def test_check_bom_reports_unmapped_components_in_junit_and_json_too(cli, tmp_path: Path) -> None:
    bom_file = _bom_with_an_unmapped_model(tmp_path)
    junit = cli("check", "--format", "junit", "--bom", str(bom_file))
    assert junit.exit_code == 1
    suite = ElementTree.fromstring(junit.stdout).find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    [failed] = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed.get("name") == "our ranker"
    lines = [
        json.loads(line)
        for line in cli("check", "--json", "--bom", str(bom_file)).stdout.splitlines()
    ]
    assert {"unmapped": {"name": "our ranker", "purl": None, "bom-ref": None}} in lines


@pytest.mark.parametrize(
    "repo_id", ["", "owner/", "/", "o/n\nx", "a\tb/c", "../../etc/passwd", "a/b/c"]
)
@pytest.mark.parametrize("command", ["check", "bom"])
def test_an_id_that_cannot_be_a_repo_id_is_a_usage_error(cli, command: str, repo_id: str) -> None:
    result = cli(command, repo_id)
    assert result.exit_code == 2
    assert "not a Hub repo id" in result.output and "Traceback" not in result.output


def test_a_legacy_id_without_an_owner_is_still_checked(cli) -> None:
    result = cli("check", "gpt2")  # not in the test catalog: judged unknown, not refused
    assert (result.exit_code, result.stdout.split()[:2]) == (1, ["gpt2", "unknown"])


def test_bom_notes_a_notebook_finding_by_cell_and_line(cli, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    cells = [
        {"cell_type": "code", "source": ["x = 1\n"]},
        {"cell_type": "code", "source": ["\n", 'AutoModel.from_pretrained("tiiuae/falcon-40b")\n']},
    ]
    (root / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    bom = assert_valid_bom(cli("bom", "--from-scan", str(root)).stdout)
    [component] = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    found_in = [p["value"] for p in component["properties"] if p["name"] == "modelcatalog:found-in"]
    assert found_in == [f"{root.as_posix()}/nb.ipynb:2 (cell 2)"]  # as the scan's table shows it


def test_scan_check_fetches_models_the_catalog_lacks_from_the_hub(cli, tmp_path: Path) -> None:
    hub = FakeHub().start()
    try:
        card = {"license": "mit", "base_model": "acme/base"}
        hub.add_model({"id": "acme/new-model", "sha": "a" * 40, "cardData": card, "tags": []})
        hub.add_model({"id": "acme/base", "sha": "b" * 40, "cardData": {"license": "llama2"}})
        root = _project(tmp_path, 'AutoModel.from_pretrained("acme/new-model")\n')
        offline = cli("scan", "--check", "--no-fetch", str(root), HF_ENDPOINT=hub.url)
        assert offline.exit_code == 1  # unknown: not in the catalog
        fetched = cli("scan", "--check", "--format", "json", str(root), HF_ENDPOINT=hub.url)
    finally:
        hub.stop()
    assert fetched.exit_code == 0
    [verdict] = json.loads(fetched.stdout)["verdicts"]
    # The base model was fetched too: its community license's conditions carry down.
    assert (verdict["model"], verdict["verdict"]) == ("acme/new-model", "conditional")
    assert any(r["source"]["id"] == "acme/base" for r in verdict["reasons"])


def test_scan_check_with_an_unreachable_hub_says_so_and_judges_what_it_has(
    cli, tmp_path: Path
) -> None:
    root = _project(tmp_path, 'AutoModel.from_pretrained("acme/elsewhere")\n')
    result = cli("scan", "--check", str(root))  # HF_ENDPOINT is 127.0.0.1:9
    assert result.exit_code == 1
    assert "cannot be reached" in result.stderr


def test_pre_commit_hook_runs_scan_check() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    [hook] = hooks
    assert hook["entry"].split()[:3] == ["modelcatalog", "scan", "--check"]
    assert hook["pass_filenames"] is False and hook["language"] == "python"


def test_sarif_uris_are_encoded_and_junit_stays_well_formed(cli, tmp_path: Path) -> None:
    root = tmp_path / "my project"
    root.mkdir()
    (root / "load it.py").write_text('AutoModel.from_pretrained("mosaicml/mpt-30b-chat")\n')
    sarif = assert_valid_sarif(
        cli("scan", "--check", "--no-fetch", "--format", "sarif", str(root)).stdout
    )
    [result] = sarif["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "my%20project/load%20it.py"
    )
    junit = cli("scan", "--check", "--no-fetch", "--format", "junit", str(root)).stdout
    assert ElementTree.fromstring(junit).find("testsuite").get("failures") == "1"


def test_without_a_catalog_scan_check_says_to_run_init(tmp_path: Path) -> None:
    root = _project(tmp_path, 'AutoModel.from_pretrained("tiiuae/falcon-40b")\n')
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'catalog.db'}"}
    result = CliRunner().invoke(main, ["scan", "--check", "--no-fetch", str(root)], env=env)
    assert result.exit_code == 2
    assert "run `modelcatalog init`" in result.output


def _dataset_verdicts(output: str) -> dict[str, dict]:
    return {v["dataset"]: v for v in json.loads(output)["verdicts"] if "dataset" in v}


def test_scan_check_judges_the_datasets_the_code_loads(cli) -> None:
    result = cli("scan", "--check", "--no-fetch", "--format", "json", str(TREE))
    verdicts = _dataset_verdicts(result.stdout)
    assert {d: v["verdict"] for d, v in verdicts.items()} == {
        "bigcode/the-stack": "unknown",  # not in the bundled snapshot
        "OpenAssistant/oasst1": "allowed",  # apache-2.0: notices only
        "tatsu-lab/alpaca": "conditional",  # CC BY-NC and OpenAI outputs, capped for data
        "databricks/databricks-dolly-15k": "conditional",  # share-alike
    }
    assert [r["code"] for r in verdicts["bigcode/the-stack"]["reasons"]] == ["dataset-missing"]
    assert [r["code"] for r in verdicts["tatsu-lab/alpaca"]["reasons"]] == [
        "dataset-model-generated",
        "license-non-commercial",
        "no-commercial",
    ]
    assert verdicts["OpenAssistant/oasst1"]["effective_license"] == {
        "ids": ["apache-2.0"],
        "category": "permissive",
    }
    assert [o["code"] for o in verdicts["OpenAssistant/oasst1"]["obligations"]] == [
        "attribution",
        "include-license",
        "state-changes",
    ]


def test_the_strict_policy_judges_datasets_without_the_training_data_cap(cli) -> None:
    result = cli(
        "scan", "--check", "--no-fetch", "--policy", "strict", "--format", "json", str(TREE)
    )
    verdicts = _dataset_verdicts(result.stdout)
    assert verdicts["tatsu-lab/alpaca"]["verdict"] == "forbidden"
    assert verdicts["OpenAssistant/oasst1"]["verdict"] == "allowed"


@pytest.mark.parametrize(
    ("dataset", "fail_on", "exit_code"),
    [
        ("OpenAssistant/oasst1", "unknown", 0),
        ("tatsu-lab/alpaca", "unknown", 0),
        ("tatsu-lab/alpaca", "conditional", 1),
        ("acme/not-in-the-catalog", "unknown", 1),
        ("acme/not-in-the-catalog", "forbidden", 0),
    ],
)
def test_a_dataset_verdict_decides_the_exit_status_with_fail_on(
    cli, tmp_path: Path, dataset: str, fail_on: str, exit_code: int
) -> None:
    root = _project(tmp_path, f'from datasets import load_dataset\nload_dataset("{dataset}")\n')
    result = cli("scan", "--check", "--no-fetch", "--fail-on", fail_on, str(root))
    assert result.exit_code == exit_code
    assert f"{dataset} (dataset)" in result.stdout


def test_scan_sarif_and_junit_report_datasets_that_are_not_cleared(cli) -> None:
    sarif = assert_valid_sarif(
        cli("scan", "--check", "--no-fetch", "--format", "sarif", str(TREE)).stdout
    )
    results = sarif["runs"][0]["results"]
    datasets = {
        r["properties"]["dataset"]: (r["ruleId"], r["level"])
        for r in results
        if "dataset" in r.get("properties", {})
    }
    assert datasets == {
        "bigcode/the-stack": ("dataset-unknown", "error"),
        "tatsu-lab/alpaca": ("dataset-conditional", "warning"),
        "databricks/databricks-dolly-15k": ("dataset-conditional", "warning"),
    }
    [stack] = [r for r in results if r.get("properties", {}).get("dataset") == "bigcode/the-stack"]
    location = stack["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("configs/serve.json")
    assert location["region"] == {"startLine": 5}
    junit = cli("scan", "--check", "--no-fetch", "--format", "junit", str(TREE)).stdout
    cases = ElementTree.fromstring(junit).iter("testcase")
    dataset_cases = {
        case.get("name"): case.find("failure") is not None
        for case in cases
        if case.get("classname", "").startswith("modelcatalog.datasets.")
    }
    assert dataset_cases == {
        "bigcode/the-stack": True,
        "OpenAssistant/oasst1": False,
        "tatsu-lab/alpaca": False,
        "databricks/databricks-dolly-15k": False,
    }


def test_scan_check_fetches_datasets_the_catalog_lacks_from_the_hub(cli, tmp_path: Path) -> None:
    hub = FakeHub().start()
    try:
        card = {"license": "cc-by-nc-4.0"}
        hub.add_dataset({"id": "acme/corpus", "sha": "c" * 40, "cardData": card, "tags": []})
        root = _project(tmp_path, 'load_dataset("acme/corpus")\nload_dataset("acme/gone")\n')
        offline = cli("scan", "--check", "--no-fetch", "--format", "json", str(root))
        fetched = cli("scan", "--check", "--format", "json", str(root), HF_ENDPOINT=hub.url)
    finally:
        hub.stop()
    assert offline.exit_code == 1
    assert {d: v["verdict"] for d, v in _dataset_verdicts(offline.stdout).items()} == {
        "acme/corpus": "unknown",
        "acme/gone": "unknown",
    }
    assert fetched.exit_code == 1  # acme/gone is on no Hub: still unknown
    verdicts = _dataset_verdicts(fetched.stdout)
    assert verdicts["acme/corpus"]["verdict"] == "conditional"
    assert verdicts["acme/corpus"]["effective_license"]["ids"] == ["cc-by-nc-4.0"]
    assert [r["code"] for r in verdicts["acme/gone"]["reasons"]] == ["dataset-missing"]


@pytest.mark.parametrize("name", ["models.cdx.xml", "models.cdx"])  # by extension, else sniffed
def test_check_reads_an_xml_bom_as_its_json_twin(cli, tmp_path: Path, name: str) -> None:
    from catalog.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")  # the catalog the cli fixture made
    json_bom, xml_bom = bom_twins(engine, ["mosaicml/mpt-30b-chat", "tiiuae/falcon-40b"])
    engine.dispose()
    (tmp_path / "models.json").write_text(json_bom)
    (tmp_path / name).write_text(xml_bom)
    from_json = cli("check", "--json", "--bom", str(tmp_path / "models.json"))
    from_xml = cli("check", "--json", "--bom", str(tmp_path / name))
    assert from_json.exit_code == from_xml.exit_code == 1  # forbidden, and one unmapped model

    def verdicts(output: str) -> dict[str, tuple]:
        answers = [json.loads(line) for line in output.splitlines()]
        return {v["model"]: (v["verdict"], v["reasons"]) for v in answers if "model" in v}

    def unmapped(output: str) -> list[str | None]:
        answers = [json.loads(line) for line in output.splitlines()]
        return [v["unmapped"]["name"] for v in answers if "unmapped" in v]

    assert verdicts(from_xml.stdout) == verdicts(from_json.stdout)
    assert unmapped(from_xml.stdout) == unmapped(from_json.stdout) == ["our ranker"]
    assert {m: v for m, (v, _) in verdicts(from_xml.stdout).items()} == {
        "mosaicml/mpt-30b-chat": "forbidden",
        "tiiuae/falcon-40b": "allowed",
    }
    assert "our ranker maps to no Hub repo id" in from_xml.stderr


def test_check_refuses_an_xml_bom_with_a_dtd(cli, tmp_path: Path) -> None:
    bom_file = tmp_path / "hostile.xml"
    bom_file.write_text(
        '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components>'
        '<component type="machine-learning-model"><name>&x;</name></component>'
        "</components></bom>"
    )
    result = cli("check", "--bom", str(bom_file))
    assert result.exit_code == 2
    assert "declares a DTD or entities" in result.output and "root:" not in result.output
