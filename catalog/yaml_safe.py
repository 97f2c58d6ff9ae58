"""YAML read with PyYAML's safe loader, through libyaml where PyYAML was built with it.

`yaml.safe_load` runs PyYAML's own parser, written in Python: the license knowledge base (80 kB)
takes it about 0.1 s, at every start of the app, of a web worker and of a command. libyaml's
parser reads it ten times faster. Both build plain data only (no tag constructs an object), and
tests/catalog/test_yaml_safe.py checks that they read every bundled file alike.
"""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """The one document in `text`, as yaml.safe_load reads it; raises yaml.YAMLError."""
    return yaml.load(text, Loader=SafeLoader)
