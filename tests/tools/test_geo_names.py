"""Name normalisation and the tiered name index behind the geo tools."""

from __future__ import annotations

import pytest

from veritask.toolkits.geo.names import (
    COUNTRY_ALIASES,
    NameIndex,
    is_code_like,
    normalize,
    strip_state_words,
    useful_alternate_name,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Netherlands", "netherlands"),
        ("Côte d'Ivoire", "Cote d’Ivoire"),
        ("St. John's", "Saint John’s"),
        ("Port-Vila", "Port Vila"),
        ("Trinidad & Tobago", "Trinidad and Tobago"),
        ("Nuku'alofa", "Nuku‘alofa"),
        ("U.S. Virgin Islands", "US Virgin Islands"),
        ("Tórshavn", "Torshavn"),
        ("Bodø", "Bodo"),
        ("  BOGOTÁ ", "bogota"),
    ],
)
def test_spellings_of_one_name_normalise_alike(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_normalize_keeps_non_latin_letters_and_a_lone_the() -> None:
    assert normalize("Москва") == "москва"
    assert normalize("The") == "the"
    assert normalize("") == ""


def test_strip_state_words() -> None:
    assert strip_state_words(normalize("Republic of Finland")) == "finland"
    assert strip_state_words(normalize("People's Republic of China")) == "china"
    assert strip_state_words("republic") == "republic"  # never strips to nothing


def test_is_code_like() -> None:
    assert is_code_like("US") and is_code_like("GBR") and is_code_like("U.S.A.")
    assert not is_code_like("us") and not is_code_like("Peru") and not is_code_like("X")


@pytest.mark.parametrize(
    ("name", "useful"),
    [("Kiev", True), ("Munchen", True), ("IEV", False), ("Ko", False),
     ("a jia ni ya", False), ("Москва", False), ("Bogotá", True)],
)  # fmt: skip
def test_useful_alternate_name(name: str, useful: bool) -> None:
    assert useful_alternate_name(name) is useful


def test_index_prefers_own_names_over_aliases() -> None:
    index: NameIndex[str] = NameIndex()
    index.add_name("Niger", "NE")
    index.add_name("Nigeria", "NG")
    index.add_alias("Niger", "XX")  # an alias can never shadow a real name
    match = index.lookup("niger")
    assert match is not None and match.ids == ("NE",) and match.via == "name"
    assert [t.via for t in index.lookup_tiers("NIGER")] == ["name", "alias"]
    assert index.lookup("Narnia") is None


def test_index_keeps_every_record_of_a_shared_name() -> None:
    index: NameIndex[int] = NameIndex()
    index.add_name("Springfield", 1)
    index.add_name("Springfield", 2)
    index.add_name("Springfield", 2)
    match = index.lookup("springfield")
    assert match is not None and match.ids == (1, 2)


def test_suggestions_show_display_names() -> None:
    index: NameIndex[str] = NameIndex()
    index.add_name("Argentina", "AR")
    index.add_alias("Argentine Republic", "AR")
    names = {"AR": "Argentina"}
    assert index.suggest("Argentinia", names.__getitem__) == ["Argentina"]
    assert index.suggest("zzzz", names.__getitem__) == []


def test_ambiguous_aliases_list_every_country() -> None:
    assert set(COUNTRY_ALIASES["Congo"]) == {"CG", "CD"}
    assert set(COUNTRY_ALIASES["Korea"]) == {"KR", "KP"}
