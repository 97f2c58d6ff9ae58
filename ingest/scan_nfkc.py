"""Which non-ASCII bytes could spell part of a loader's name once Python has read them.

Python reads identifiers NFKC-normalised: pipeline written with a fullwidth p (U+FF50) is
`pipeline`. So a file can call a loader without the name's bytes in it, and the scanner must not
skip such a file unread (scan_python.may_load, and the grep prefilter, ingest/scan_grep.py). Most
non-ASCII text in code cannot do that: NFKC leaves `é`, `“`, `—` and CJK as they are. A
character can add an ASCII letter or underscore to the normalised text only if NFKC turns that
character, alone, into text holding one (the Kelvin sign into `K`, the ligature `ﬁ` into
`fi`): NFKC decomposes each character on its own and then only composes, and composing never
makes an ASCII character (it can only absorb one, `e` and a combining accent into `é`), nor
do its decompositions vanish (no character normalises to nothing).

SPELLING lists those characters for the Unicode versions it was generated under (the same
table for Python 3.11, 3.12 and 3.13), `python -m ingest.scan_nfkc` prints it anew, and a test
holds it to the running Python's unicodedata. Under another Unicode version any byte over 0x7f
counts, as it safely always could.
"""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections.abc import Iterator

# The versions SPELLING was generated under, each giving the same table.
UNICODE_VERSIONS = ("14.0.0", "15.0.0", "15.1.0")
# The code points whose NFKC form holds an ASCII letter or an underscore, as ranges.
SPELLING = (
    (0xAA, 0xAA), (0xBA, 0xBA), (0x132, 0x133), (0x13F, 0x140), (0x149, 0x149), (0x17F, 0x17F),
    (0x1C4, 0x1CC), (0x1F1, 0x1F3), (0x2B0, 0x2B0), (0x2B2, 0x2B3), (0x2B7, 0x2B8),
    (0x2E1, 0x2E3), (0x1D2C, 0x1D2C), (0x1D2E, 0x1D2E), (0x1D30, 0x1D31), (0x1D33, 0x1D3A),
    (0x1D3C, 0x1D3C), (0x1D3E, 0x1D43), (0x1D47, 0x1D49), (0x1D4D, 0x1D4D), (0x1D4F, 0x1D50),
    (0x1D52, 0x1D52), (0x1D56, 0x1D58), (0x1D5B, 0x1D5B), (0x1D62, 0x1D65), (0x1D9C, 0x1D9C),
    (0x1DA0, 0x1DA0), (0x1DBB, 0x1DBB), (0x1E9A, 0x1E9A), (0x2071, 0x2071), (0x207F, 0x207F),
    (0x2090, 0x2093), (0x2095, 0x209C), (0x20A8, 0x20A8), (0x2100, 0x2103), (0x2105, 0x2106),
    (0x2109, 0x210E), (0x2110, 0x2113), (0x2115, 0x2116), (0x2119, 0x211D), (0x2120, 0x2122),
    (0x2124, 0x2124), (0x2128, 0x2128), (0x212A, 0x212A), (0x212C, 0x212D), (0x212F, 0x2131),
    (0x2133, 0x2134), (0x2139, 0x2139), (0x213B, 0x213B), (0x2145, 0x2149), (0x2160, 0x217F),
    (0x249C, 0x24E9), (0x2C7C, 0x2C7D), (0x3250, 0x3250), (0x32CC, 0x32CF), (0x3371, 0x337A),
    (0x3380, 0x33DF), (0x33FF, 0x33FF), (0xA7F2, 0xA7F4), (0xFB00, 0xFB06), (0xFE33, 0xFE34),
    (0xFE4D, 0xFE4F), (0xFF21, 0xFF3A), (0xFF3F, 0xFF3F), (0xFF41, 0xFF5A), (0x107A5, 0x107A5),
    (0x1D400, 0x1D454), (0x1D456, 0x1D49C), (0x1D49E, 0x1D49F), (0x1D4A2, 0x1D4A2),
    (0x1D4A5, 0x1D4A6), (0x1D4A9, 0x1D4AC), (0x1D4AE, 0x1D4B9), (0x1D4BB, 0x1D4BB),
    (0x1D4BD, 0x1D4C3), (0x1D4C5, 0x1D505), (0x1D507, 0x1D50A), (0x1D50D, 0x1D514),
    (0x1D516, 0x1D51C), (0x1D51E, 0x1D539), (0x1D53B, 0x1D53E), (0x1D540, 0x1D544),
    (0x1D546, 0x1D546), (0x1D54A, 0x1D550), (0x1D552, 0x1D6A3), (0x1F110, 0x1F12E),
    (0x1F130, 0x1F14F), (0x1F16A, 0x1F16C), (0x1F190, 0x1F190),
)  # fmt: skip
_ANY_NON_ASCII = b"[\x80-\xff]"


def spelling_characters() -> Iterator[str]:
    for first, last in SPELLING:
        yield from map(chr, range(first, last + 1))


def computed_spelling() -> list[tuple[int, int]]:
    """SPELLING as this Python's unicodedata gives it (about a quarter of a second)."""
    wanted = set(string.ascii_letters + "_")
    ranges: list[tuple[int, int]] = []
    for point in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue  # surrogates: no file decodes to one
        if wanted.isdisjoint(unicodedata.normalize("NFKC", chr(point))):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


@functools.cache
def pattern() -> bytes:
    """A regular expression (bytes; as grep -E and Python's re read it) found in every file
    whose source, decoded as the scanner decodes it (UTF-8, else Latin-1), holds one of the
    SPELLING characters: their UTF-8 sequences, and the bytes that are such a character in
    Latin-1. Any byte over 0x7f, where this Python's Unicode is not SPELLING's."""
    if unicodedata.unidata_version not in UNICODE_VERSIONS:
        return _ANY_NON_ASCII
    last_bytes: dict[bytes, set[int]] = {}
    latin_1 = set()
    for character in spelling_characters():
        encoded = character.encode()
        last_bytes.setdefault(encoded[:-1], set()).add(encoded[-1])
        if ord(character) <= 0xFF:
            latin_1.add(ord(character))
    # Each alternative: a sequence's leading bytes, then a set of its last byte; or one byte.
    # Each opens with a byte, which lets Python's re skip to the next such byte. No byte here is
    # below 0x80, so none has a meaning in a regular expression.
    alternatives = [
        prefix + b"[" + bytes(sorted(last)) + b"]" for prefix, last in last_bytes.items()
    ]
    alternatives += [bytes([byte]) for byte in sorted(latin_1)]
    return b"|".join(alternatives)


@functools.cache
def _compiled() -> re.Pattern[bytes]:
    return re.compile(pattern())


def may_spell_a_name(data: bytes) -> bool:
    """Whether these bytes hold a character NFKC turns into text with an ASCII letter or `_`."""
    return not data.isascii() and _compiled().search(data) is not None


def _print_spelling() -> None:
    items = [f"(0x{first:X}, 0x{last:X})" for first, last in computed_spelling()]
    print(f"# Unicode {unicodedata.unidata_version}")
    print("SPELLING = (")
    line = "   "
    for item in items:
        if len(line) + len(item) + 2 > 99:
            print(line)
            line = "   "
        line += f" {item},"
    print(line)
    print(")  # fmt: skip")


if __name__ == "__main__":
    _print_spelling()
