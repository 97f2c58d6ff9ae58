"""Verdicts where CI systems look: SARIF 2.1.0 for code scanning, JUnit XML for test reports."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import metadata
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

from catalog.compliance_checks import DEFAULT_FAIL_ON, failing, subject
from catalog.policies import OUTCOME_RANK
from ingest.scan import ScanResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/modelcatalog/modelcatalog"
# Characters XML 1.0 cannot hold at all, even escaped (card text can carry them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

RULES = {
    "model-forbidden": ("error", "A model the code loads is forbidden for this use."),
    "model-unknown": ("error", "A model the code loads cannot be cleared: a human must look."),
    "model-conditional": ("warning", "A model the code loads is allowed only under obligations."),
    "model-unresolved": ("note", "A model-loading call whose repo id is not known before running."),
    "dataset-forbidden": ("error", "A dataset the code loads is forbidden for this use."),
    "dataset-unknown": ("error", "A dataset the code loads cannot be cleared: a human must look."),
    "dataset-conditional": (
        "warning",
        "A dataset the code loads is allowed only under obligations.",
    ),
}


def failing_verdicts(fail_on: str) -> set[str]:
    """The verdicts that fail a gate run with `--fail-on fail_on` (the one rule: catalog.compliance_checks)."""
    return {v for v in OUTCOME_RANK if failing([{"model": v, "verdict": v}], fail_on)}


def _version() -> str:
    try:
        return metadata.version("modelcatalog")
    except metadata.PackageNotFoundError:
        return "0"


def _location(path: str, line: int | None) -> dict[str, Any]:
    # A URI reference relative to the scanned folder: spaces and the like percent-encoded.
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(path)}}
    if line:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _kind(verdict: dict[str, Any]) -> str:
    return "model" if "model" in verdict else "dataset"


def _verdict_results(
    scan: ScanResult, verdicts: dict[tuple[str, str], dict[str, Any]], fail_on: str
) -> list[dict[str, Any]]:
    results = []
    for finding in scan.findings:
        verdict = verdicts.get((finding.kind, finding.repo_id))
        if verdict is None or verdict["verdict"] == "allowed":
            continue
        rule = f"{finding.kind}-{verdict['verdict']}"
        # The gate decides the level: what fails the run is an error, the rest a warning.
        level = "error" if verdict["verdict"] in failing_verdicts(fail_on) else "warning"
        why = verdict["reasons"][0]["text"] if verdict["reasons"] else "obligations apply"
        where = f" (notebook cell {finding.cell})" if finding.cell else ""
        results.append(
            {
                "ruleId": rule,
                "level": level,
                "message": {
                    "text": f"{finding.repo_id} is {verdict['verdict']} for {verdict['use']} use "
                    f"under the {verdict['policy']} policy{where}: {why}"
                },
                # Notebook lines count within a cell, not the file: point at the file only.
                "locations": [_location(finding.path, None if finding.cell else finding.line)],
                "properties": {finding.kind: finding.repo_id, "how": finding.how},
            }
        )
    return results


def _unresolved_results(scan: ScanResult) -> list[dict[str, Any]]:
    return [
        {
            "ruleId": "model-unresolved",
            "level": "note",
            "message": {"text": f"{skipped.how} loads {skipped.value}: not known before running"},
            "locations": [_location(skipped.path, None if skipped.cell else skipped.line)],
        }
        for skipped in scan.skipped
        if skipped.reason == "unresolved"
    ]


def sarif_report(scan: ScanResult, verdicts: Sequence[dict[str, Any]], fail_on: str) -> str:
    """A SARIF 2.1.0 log: one result per place that loads a model or dataset that is not cleared."""
    by_repo = {(_kind(v), subject(v)): v for v in verdicts}
    rules = [
        {
            "id": rule,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rule, (level, text) in RULES.items()
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelcatalog",
                        "version": _version(),
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": _verdict_results(scan, by_repo, fail_on) + _unresolved_results(scan),
            }
        ],
    }
    return json.dumps(log, indent=2)


def junit_report(
    verdicts: Sequence[dict[str, Any]],
    fail_on: str = DEFAULT_FAIL_ON,
    unmapped: Sequence[dict[str, str | None]] = (),
) -> str:
    """JUnit XML: one test case per model or dataset; a verdict that fails the gate is a failure,
    and so is each BOM model component that maps to no Hub repo id (`unmapped`)."""
    failed = failing_verdicts(fail_on)
    failures = sum(1 for v in verdicts if v["verdict"] in failed) + len(unmapped)
    suites = ElementTree.Element("testsuites", name="modelcatalog")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name="modelcatalog check",
        tests=str(len(verdicts) + len(unmapped)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    if unmapped:  # the BOM reader (defusedxml, packageurl) only for a report that needs it
        from catalog.bom_read import component_name
    for component in unmapped:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname="modelcatalog.unmapped",
            name=_NOT_XML.sub("", component_name(component)),
        )
        failure = ElementTree.SubElement(case, "failure", message="unmapped", type="unmapped")
        failure.text = "a model component of the BOM that maps to no Hub repo id"
    for verdict in verdicts:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            # Datasets in a class of their own: a model and a dataset can share an id.
            classname=_NOT_XML.sub(
                "",
                f"modelcatalog.{'' if 'model' in verdict else 'datasets.'}"
                f"{verdict['use']}.{verdict['policy']}",
            ),
            name=_NOT_XML.sub("", subject(verdict)),
        )
        lines = [f"{r['code']}: {r['text']}" for r in verdict["reasons"]]
        lines += [f"obligation {o['code']}: {o['text']}" for o in verdict["obligations"]]
        lines = list(dict.fromkeys(lines))  # the same obligation reached through several ancestors
        if verdict["verdict"] in failed:
            failure = ElementTree.SubElement(
                case, "failure", message=f"{verdict['verdict']}", type=verdict["verdict"]
            )
            failure.text = _NOT_XML.sub("", "\n".join(lines))
        elif lines:
            ElementTree.SubElement(case, "system-out").text = _NOT_XML.sub("", "\n".join(lines))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)
