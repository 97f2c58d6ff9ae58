"""The knowledge base covers every Hub id, cites sources, and agrees with ScanCode/DPI or says why not."""

from __future__ import annotations

import csv
import json

import pytest

from catalog.errors import KnowledgeBaseError
from catalog.licenses import knowledge_base, parse_knowledge_base
from catalog.policies import load_policy
from tests.conftest import DATA

CATEGORY_RANKS = [{"id": c, "rank": r} for c, r in knowledge_base().category_rank.items()]
HUB_IDS = [
    row["hf_id"]
    for row in csv.DictReader(
        (DATA / "hub_license_ids.tsv").read_text().splitlines(), delimiter="\t"
    )
]

# Which of our categories each ScanCode category is compatible with.
SCANCODE_COMPATIBLE = {
    "Permissive": {"permissive"},
    "Public Domain": {"public-domain"},
    "Copyleft Limited": {"weak-copyleft"},
    "Copyleft": {"copyleft"},
    # ScanCode files non-free terms (CC NC, research licenses) under Source-available.
    "Source-available": {"non-commercial", "research-only"},
}


def test_every_hub_license_id_has_an_entry() -> None:
    kb = knowledge_base()
    assert len(HUB_IDS) == 85
    assert [i for i in HUB_IDS if i not in kb.licenses] == []


def test_every_entry_cites_a_source_url() -> None:
    for entry in knowledge_base().licenses.values():
        assert entry.source.startswith(("https://", "http://")), entry.id


def test_custom_entries_are_marked_as_not_hub_ids() -> None:
    kb = knowledge_base()
    assert {e.id for e in kb.licenses.values() if not e.hub} == set(kb.licenses) - set(HUB_IDS)


def test_categories_agree_with_scancode_or_say_why() -> None:
    scancode = {
        row["license_key"]: row["category"]
        for row in csv.DictReader(
            (DATA / "scancode_subset.tsv").read_text().splitlines(), delimiter="\t"
        )
    }
    for entry in knowledge_base().licenses.values():
        if not entry.scancode:
            continue
        assert entry.scancode in scancode, f"{entry.id}: unknown ScanCode key {entry.scancode}"
        compatible = SCANCODE_COMPATIBLE.get(scancode[entry.scancode], set())
        if entry.category not in compatible:
            assert entry.differs, (
                f"{entry.id} is {entry.category}, ScanCode says {scancode[entry.scancode]}, and no reason is given"
            )


def test_commercial_use_agrees_with_dpi_classes_or_says_why() -> None:
    dpi = json.loads((DATA / "dpi_license_classes.json").read_text())
    commercial = load_policy("default").uses["commercial"]
    for entry in knowledge_base().licenses.values():
        if not entry.dpi:
            continue
        use = dpi[entry.dpi][0]
        forbidden = commercial.categories[entry.category] == "forbidden" or any(
            commercial.limitations.get(t.code) == "forbidden" for t in entry.limitations
        )
        if use == "All":
            assert not forbidden or entry.differs, entry.id
        elif use in ("NC", "Acad"):
            assert forbidden or entry.differs, entry.id


def test_llama2_carries_the_user_threshold_and_acceptable_use_policy() -> None:
    llama2 = knowledge_base().get("llama2")
    threshold = [t for t in llama2.conditions if t.code == "user-threshold"]
    assert threshold and threshold[0].threshold == 700_000_000
    assert "acceptable-use-policy" in llama2.condition_codes()
    assert "no-outputs-to-improve-other-llms" in llama2.limitation_codes()


@pytest.mark.parametrize(
    ("declared", "name", "link", "expected"),
    [
        ("apache-2.0", None, None, ["apache-2.0"]),
        ("Apache 2.0", None, None, ["apache-2.0"]),
        ("MIT License", None, None, ["mit"]),
        ("cc-by-nc-4.0 ", None, None, ["cc-by-nc-4.0"]),
        ("CC-BY-NC-SA-4.0", None, None, ["cc-by-nc-sa-4.0"]),
        (["mit", "apache-2.0"], None, None, ["mit", "apache-2.0"]),
        (["mit", "Apache 2.0", "MIT"], None, None, ["mit", "apache-2.0"]),
        ("other", "llama-license", None, ["llama1"]),
        (
            "other",
            None,
            "https://github.com/facebookresearch/llama/blob/main/MODEL_CARD.md",
            ["other"],
        ),
        (
            "other",
            "deepseek",
            "https://github.com/deepseek-ai/DeepSeek-LLM/blob/main/LICENSE-MODEL",
            ["deepseek"],
        ),
        ("other", "tongyi-qianwen", None, ["tongyi-qianwen"]),
        ("other", "qwen-research", None, ["qwen-research"]),
        ("other", "Falcon-180B TII License", None, ["falcon-180b-tii"]),
        ("other", "my-own-license", "https://example.com/license", ["other"]),
        ("other", None, None, ["other"]),
        ("tii-falcon-llm", None, None, ["tii-falcon-llm"]),
        ("not-a-license", None, None, ["unknown"]),
        (None, None, None, ["unknown"]),
        (42, None, None, ["unknown"]),
        ("", None, None, ["unknown"]),
    ],
)
def test_card_licenses_resolve_to_ids_and_unrecognised_ones_stay_unknown(
    declared, name, link, expected
) -> None:
    assert knowledge_base().resolve(declared, name, link) == expected


def test_a_knowledge_base_with_an_unknown_category_is_rejected() -> None:
    document = {
        "terms": {"permissions": {}, "conditions": {}, "limitations": {}},
        "categories": CATEGORY_RANKS,
        "licenses": [{"id": "x", "name": "X", "category": "friendly", "source": "https://x"}],
    }
    with pytest.raises(KnowledgeBaseError, match="unknown category"):
        parse_knowledge_base(document)


def test_a_knowledge_base_with_an_unknown_term_code_is_rejected() -> None:
    document = {
        "terms": {"permissions": {}, "conditions": {}, "limitations": {}},
        "categories": CATEGORY_RANKS,
        "licenses": [
            {
                "id": "x",
                "name": "X",
                "category": "permissive",
                "source": "https://x",
                "conditions": ["be-nice"],
            }
        ],
    }
    with pytest.raises(KnowledgeBaseError, match="unknown term code"):
        parse_knowledge_base(document)


def _aliases() -> list[tuple[str, str, str]]:
    """(kind, alias, entry) for every license_name and license_link the knowledge base lists."""
    kb = knowledge_base()
    return [("name", a, e.id) for e in kb.licenses.values() for a in e.names] + [
        ("link", a, e.id) for e in kb.licenses.values() for a in e.links
    ]


def test_no_alias_can_capture_another_entrys_alias() -> None:
    """Where one alias is a prefix of another (tongyi-qianwen / tongyi-qianwen-research), each
    still resolves to its own entry: resolution is exact, never by substring or first match."""
    kb = knowledge_base()
    aliases = _aliases()
    pairs = [
        (a, b)
        for a in aliases
        for b in aliases
        if a[0] == b[0] and a[2] != b[2] and b[1].lower().startswith(a[1].lower())
    ]
    assert pairs, "the knowledge base has prefix pairs such as tongyi-qianwen(-research)"
    for (kind, alias, entry), (_, longer, other_entry) in pairs:
        for text, expected in ((alias, entry), (longer, other_entry)):
            args = (text, None) if kind == "name" else (None, text)
            assert kb.resolve("other", *args) == [expected], (kind, text)


@pytest.mark.parametrize(
    ("name", "link", "expected"),
    [
        ("Tongyi_Qianwen_Research", None, ["tongyi-qianwen-research"]),
        ("tongyi-qianwen-research-v2", None, ["other"]),
        ("llama3.1", None, ["llama3.1"]),
        ("llama3.1-instruct", None, ["other"]),
        (
            None,
            "https://huggingface.co/Qwen/CodeQwen1.5-7B/resolve/main/LICENSE",
            ["tongyi-qianwen-research"],
        ),
        (
            None,
            "huggingface.co/Qwen/CodeQwen1.5-7B/blob/main/LICENSE/",
            ["tongyi-qianwen-research"],
        ),
        (None, "LICENSE", ["other"]),
        (None, "https://mistral.ai/licences/MNPL-0.1.md", ["mnpl"]),
        ("MIT", None, ["mit"]),
    ],
)
def test_license_names_and_links_resolve_by_exact_normalised_match(name, link, expected) -> None:
    assert knowledge_base().resolve("other", name, link) == expected


def test_an_alias_claimed_by_two_entries_is_rejected() -> None:
    document = {
        "terms": {"permissions": {}, "conditions": {}, "limitations": {}},
        "categories": CATEGORY_RANKS,
        "licenses": [
            {
                "id": "a",
                "name": "A",
                "category": "permissive",
                "source": "https://a",
                "names": ["x-license"],
            },
            {
                "id": "b",
                "name": "B",
                "category": "permissive",
                "source": "https://b",
                "names": ["X License"],
            },
        ],
    }
    with pytest.raises(KnowledgeBaseError, match="names both"):
        parse_knowledge_base(document)
