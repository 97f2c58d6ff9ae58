"""libyaml and PyYAML's own parser read the bundled knowledge alike, and refuse what is not safe."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from catalog.yaml_safe import SafeLoader, safe_load


def _bundled() -> dict[str, str]:
    data = resources.files("catalog.data")
    files = [*data.iterdir(), *data.joinpath("policies").iterdir()]
    return {f.name: f.read_text("utf-8") for f in files if f.name.endswith(".yaml")}


def test_libyaml_is_what_reads_them() -> None:
    # The Debian and PyPI builds of PyYAML both ship it; without it the speed-up is gone.
    assert SafeLoader is yaml.CSafeLoader


@pytest.mark.parametrize("name", sorted(_bundled()))
def test_every_bundled_file_reads_as_pyyaml_reads_it(name: str) -> None:
    text = _bundled()[name]
    assert safe_load(text) == yaml.safe_load(text)


def test_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        safe_load("!!python/object/apply:os.system ['true']")


def test_nesting_too_deep_is_an_error_not_a_crash() -> None:
    with pytest.raises(yaml.YAMLError):
        safe_load("[" * 100_000 + "]" * 100_000)
