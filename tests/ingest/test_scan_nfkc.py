"""The characters NFKC turns into ASCII letters: the table is this Python's Unicode, its pattern
finds each of them as the scanner decodes files, and a file may_load skips for holding none of
them cannot name a loader once normalised."""

from __future__ import annotations

import functools
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import scan_nfkc
from ingest.scan_python import TRIGGER_NAMES, _decoded, may_load

same_unicode = pytest.mark.skipif(
    unicodedata.unidata_version not in scan_nfkc.UNICODE_VERSIONS,
    reason="the table is for another Unicode version; any byte over 0x7f counts here",
)


@same_unicode
def test_the_table_is_what_this_pythons_unicode_says() -> None:
    assert scan_nfkc.computed_spelling() == list(scan_nfkc.SPELLING)


def test_no_character_normalises_to_nothing() -> None:
    # The module's argument: NFKC never drops a character, so it cannot join two letters.
    empty = [
        p for p in range(0x80, sys.maxunicode + 1) if not unicodedata.normalize("NFKC", chr(p))
    ]
    assert empty == []


@same_unicode
def test_every_listed_character_is_found_in_utf8_and_in_latin1() -> None:
    for character in scan_nfkc.spelling_characters():
        assert scan_nfkc.may_spell_a_name(character.encode()), hex(ord(character))
        if ord(character) <= 0xFF:
            assert scan_nfkc.may_spell_a_name(character.encode("latin-1")), hex(ord(character))
    assert {
        c for c in map(chr, range(0x80, 0x100)) if c in set(scan_nfkc.spelling_characters())
    } == {
        "\u00aa",
        "\u00ba",
    }


@same_unicode
@pytest.mark.parametrize(
    "text",
    [
        "café",
        "Gödel, Schrödinger",
        "“quoted” — dash … ellipsis",
        "中文注释",
        "emoji 😀",
        "µs, x², ½",
    ],
)
def test_the_non_ascii_text_code_is_full_of_is_not_taken_for_a_name(text: str) -> None:
    assert not scan_nfkc.may_spell_a_name(f"# {text}\nx = 1\n".encode())


def test_under_another_unicode_version_any_byte_over_0x7f_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scan_nfkc.pattern.cache_clear()
    scan_nfkc._compiled.cache_clear()
    monkeypatch.setattr(scan_nfkc, "UNICODE_VERSIONS", ("0.0.0",))
    try:
        assert scan_nfkc.pattern() == b"[\x80-\xff]"
        assert scan_nfkc.may_spell_a_name("café".encode())
        assert may_load("p = 'café'\n".encode()) is False  # asked NFKC, which finds no name
    finally:
        scan_nfkc.pattern.cache_clear()
        scan_nfkc._compiled.cache_clear()


@functools.cache
def _look_alikes() -> dict[str, list[str]]:
    """Each piece (one to three characters) of a trigger name, and the characters NFKC turns
    into it: from this Python's unicodedata, not from the table under test."""
    pieces = {
        name[i : i + n] for name in TRIGGER_NAMES for n in (1, 2, 3) for i in range(len(name))
    }
    found: dict[str, list[str]] = {}
    for point in range(0x80, sys.maxunicode + 1):
        normalized = unicodedata.normalize("NFKC", chr(point))
        if normalized in pieces:
            found.setdefault(normalized, []).append(chr(point))
    return found


@st.composite
def _names_written_otherwise(draw: st.DrawFn) -> str:
    """A trigger name with some of its letters written as characters NFKC turns into them, in
    text with combining marks, precomposed letters and anything else around it."""
    name = draw(st.sampled_from(TRIGGER_NAMES))
    look_alikes = _look_alikes()
    written, i = [], 0
    while i < len(name):
        n = draw(st.integers(1, 3))
        piece = name[i : i + n]
        if piece in look_alikes and draw(st.booleans()):
            written.append(draw(st.sampled_from(look_alikes[piece])))
        else:
            written.append(piece)
        i += len(piece)
    around = st.text(
        st.sampled_from("\u0301\u0323\u200d éüñł中😀(_ \n") | st.characters(), max_size=4
    )
    return draw(around) + "".join(written) + draw(around)


@same_unicode
@settings(max_examples=300, deadline=None)
@given(_names_written_otherwise(), st.sampled_from(["utf-8", "latin-1"]))
def test_a_file_may_load_skips_names_no_loader_once_normalised(text: str, encoding: str) -> None:
    data = text.encode(encoding, errors="ignore")
    normalized = unicodedata.normalize("NFKC", _decoded(data))
    if any(name in normalized for name in TRIGGER_NAMES):
        assert may_load(data)
