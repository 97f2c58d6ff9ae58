"""What a Hub repo id may look like, by huggingface_hub's rules: one rule for the scanner, the BOM
reader and the command line."""

from __future__ import annotations

import re

# owner/name; the name may start with any of its characters, as the Hub's older repos do.
OWNER_AND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+")
BARE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a legacy id without an owner: gpt2


def within_hub_limits(value: str) -> bool:
    """96 characters at most, no "--" or "..", not ending in "." or "-"."""
    return (
        len(value) <= 96
        and "--" not in value
        and ".." not in value
        and not value.endswith((".", "-"))
    )


def is_repo_id(value: str) -> bool:
    """Whether `value` is an owner/name Hub repo id, whole (a trailing line break is not one)."""
    return OWNER_AND_NAME.fullmatch(value) is not None and within_hub_limits(value)
