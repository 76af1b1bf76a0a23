"""The example toolkits (`examples.shop`, `examples.transit`) and their suites.

The tools must return the catalogue's records, match names forgivingly but
never guess, and carry evidence; every example plan must be a valid plan over
the toolkit's tools; and the suites in `bench/suites/` must be exactly what
the generator writes from the data, with answers the tools themselves give.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from examples import shop as shop_mod
from examples import transit as transit_mod

from veritask import Plan, Toolkit
from veritask.errors import ToolError
from veritask.tools import default_registry
from veritask.tools.registry import ToolResult

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "bench" / "suites"
SHARED_DEV = ROOT / ".." / "shared" / "bench" / "dev.jsonl"
ALWAYS_AVAILABLE = ("calc", "larger")
REF = re.compile(r"\$([A-Za-z_][\w-]*)(?:\.(\w+))?")


def value_of(result: object) -> Any:
    assert isinstance(result, ToolResult), "the example tools return evidence with every value"
    assert result.evidence, "every value names its record"
    return result.value


def not_found(fn: Any, *args: str) -> ToolError:
    with pytest.raises(ToolError) as info:
        fn(*args)
    assert info.value.kind == "NotFound"
    assert not info.value.retryable
    return info.value


def load_generator() -> ModuleType:
    path = SUITES / "make_toolkit_suites.py"
    spec = importlib.util.spec_from_file_location("make_toolkit_suites", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def rows(name: str) -> list[dict[str, Any]]:
    text = (SUITES / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- shop ---------------------------------------------------------------------


def test_product_returns_the_catalogue_record_with_evidence() -> None:
    result = shop_mod.product("Brass Hinge")
    assert isinstance(result, ToolResult)
    assert result.value == {
        "name": "Brass Hinge",
        "price_usd": 3.15,
        "in_stock": 870,
        "supplier": "Blue Harbor Metals",
        "restock_days": 5,
        "weight_kg": 0.12,
    }
    (source,) = result.evidence
    assert source.tool == "product"
    assert source.source == "shop catalogue"
    assert source.record_id == "SH-1005"
    assert source.query == {"name": "Brass Hinge"}
    assert source.fields["price_usd"] == 3.15


def test_every_product_is_found_by_its_own_name() -> None:
    names = [r.name for r in shop_mod.CATALOGUE]
    assert len(names) == len(set(names)) >= 20
    assert len({r.sku for r in shop_mod.CATALOGUE}) == len(names)
    for record in shop_mod.CATALOGUE:
        assert value_of(shop_mod.product(record.name))["in_stock"] == record.in_stock


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("widget", "Widget"),
        ("  Widget ", "Widget"),
        ("the Widget", "Widget"),
        ("a widget", "Widget"),
        ("Widgets", "Widget"),
        ("WIDGETS", "Widget"),
        ("Batteries", "Battery"),
        ("brass  hinges", "Brass Hinge"),
        ("an Oak Shelf", "Oak Shelf"),
        ("Toolboxes", "Toolbox"),
        ("The Cable Ties", "Cable Tie"),
    ],
)
def test_product_names_match_forgivingly(asked: str, meant: str) -> None:
    assert value_of(shop_mod.product(asked))["name"] == meant


@pytest.mark.parametrize(
    ("asked", "suggested"),
    [("Widgit", "Widget"), ("Brass Nail", "Brass Hinge"), ("Gadgett", "Gadget")],
)
def test_unknown_product_is_not_found_with_a_suggestion(asked: str, suggested: str) -> None:
    err = not_found(shop_mod.product, asked)
    assert "did you mean" in str(err) and repr(suggested) in str(err)


@pytest.mark.parametrize("asked", ["Flux Capacitor", "Widg", "Brass", "Steel Ladder", ""])
def test_product_never_guesses(asked: str) -> None:
    not_found(shop_mod.product, asked)


# -- transit ------------------------------------------------------------------


def test_station_returns_the_record_with_evidence() -> None:
    result = transit_mod.station("Fenwick Cross")
    assert isinstance(result, ToolResult)
    assert result.value == {
        "name": "Fenwick Cross",
        "line": "Harbour",
        "interchange_with": ["Meadow"],
        "zone": 1,
        "daily_passengers": 46800,
        "opened": 1968,
        "step_free": True,
    }
    (source,) = result.evidence
    assert (source.tool, source.record_id) == ("station", "FWX")


def test_network_is_connected_and_consistent() -> None:
    codes = set(transit_mod.BY_CODE)
    assert len(codes) == len(transit_mod.STATIONS) >= 18
    on_routes = {c for ln in transit_mod.LINES for c in ln.route}
    assert on_routes == codes
    for ln in transit_mod.LINES:
        for a, b in itertools.pairwise(ln.route):
            assert (a, b) in transit_mod.SEGMENTS or (b, a) in transit_mod.SEGMENTS
    for s in transit_mod.STATIONS:
        assert s.line in transit_mod.lines_at(s.code)


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("cobalt quay", "Cobalt Quay"),
        ("  Cobalt   Quay ", "Cobalt Quay"),
        ("the Cobalt Quay station", "Cobalt Quay"),
        ("Cobalt Quay Station", "Cobalt Quay"),
        ("CBQ", "Cobalt Quay"),
        ("saltmarsh", "Saltmarsh"),
    ],
)
def test_station_names_match_forgivingly(asked: str, meant: str) -> None:
    assert value_of(transit_mod.station(asked))["name"] == meant


@pytest.mark.parametrize(
    ("asked", "suggested"),
    [("Alderbrok", "Alderbrook"), ("Fenwick Central", "Fenwick Cross"), ("Quilon", "Quillon")],
)
def test_unknown_station_is_not_found_with_a_suggestion(asked: str, suggested: str) -> None:
    err = not_found(transit_mod.station, asked)
    assert "did you mean" in str(err) and repr(suggested) in str(err)
    err = not_found(transit_mod.travel_minutes, "Wexley", asked)
    assert repr(suggested) in str(err)


@pytest.mark.parametrize("asked", ["Maple Junction", "Cobalt", "Port Velda", "XYZ"])
def test_station_never_guesses(asked: str) -> None:
    not_found(transit_mod.station, asked)


def floyd_warshall() -> dict[tuple[str, str], int]:
    """All-pairs shortest minutes, computed independently of the tool's Dijkstra."""
    codes = list(transit_mod.BY_CODE)
    inf = 10**9
    dist = {(a, b): 0 if a == b else inf for a in codes for b in codes}
    for (a, b), minutes in transit_mod.SEGMENTS.items():
        dist[a, b] = dist[b, a] = min(dist[a, b], minutes)
    for k in codes:
        for i in codes:
            for j in codes:
                if dist[i, k] + dist[k, j] < dist[i, j]:
                    dist[i, j] = dist[i, k] + dist[k, j]
    return dist


def test_travel_minutes_is_the_shortest_path_everywhere() -> None:
    expected = floyd_warshall()
    for (a, b), minutes in expected.items():
        name_a, name_b = transit_mod.BY_CODE[a].name, transit_mod.BY_CODE[b].name
        result = transit_mod.travel_minutes(name_a, name_b)
        assert value_of(result) == minutes, (name_a, name_b)
        route = result.evidence[0].fields["route"]
        assert route[0] == name_a and route[-1] == name_b


def test_travel_minutes_evidence_names_the_route() -> None:
    result = transit_mod.travel_minutes("Alderbrook", "Cobalt Quay")
    assert value_of(result) == 4
    assert result.evidence[0].fields == {"minutes": 4, "route": ["Alderbrook", "Cobalt Quay"]}


def test_line_takes_only_the_known_names() -> None:
    assert value_of(transit_mod.line("Crown")) == {
        "name": "Crown",
        "colour": "purple",
        "stations": 8,
        "length_km": 13.2,
        "opened": 2009,
    }
    spec = transit_mod.transit.registry().get("line")
    assert spec.check_args({"name": "Meadow"}) == []
    assert spec.check_args({"name": "Purple"}), "a name outside the Literal is refused"
    assert set(spec.input_schema["properties"]["name"]["enum"]) == {"Harbour", "Meadow", "Crown"}


# -- toolkits -----------------------------------------------------------------

TOOLKITS = [shop_mod.shop, transit_mod.transit]


@pytest.mark.parametrize("toolkit", TOOLKITS, ids=lambda t: t.name)
def test_example_plans_are_well_formed(toolkit: Toolkit) -> None:
    assert 4 <= len(toolkit.examples) <= 6
    specs = {s.name: s for s in toolkit.specs}
    for name in ALWAYS_AVAILABLE:
        specs[name] = default_registry().get(name)
    for question, raw in toolkit.examples:
        plan = Plan.model_validate(raw)
        assert question.endswith("?")
        fields_of = {}
        for task in plan.tasks:
            assert task.tool in specs, f"{question}: unknown tool {task.tool!r}"
            spec = specs[task.tool]
            assert set(task.args) <= set(spec.param_names), question
            assert set(spec.required_params) <= set(task.args), question
            for value in task.args.values():
                for ref, field in REF.findall(str(value)):
                    assert ref in fields_of, f"{question}: ${ref} is not an earlier task"
                    if field:
                        assert field in (fields_of[ref] or ()), f"{question}: ${ref}.{field}"
            fields_of[task.id] = spec.output_fields
        for ref, field in REF.findall(plan.answer_template or ""):
            assert ref in fields_of
            if field:
                assert field in (fields_of[ref] or ())


@pytest.mark.parametrize("toolkit", TOOLKITS, ids=lambda t: t.name)
def test_vocabulary_names_real_terms(toolkit: Toolkit) -> None:
    terms = set()
    for spec in toolkit.specs:
        terms |= {spec.name, *spec.param_names, *(spec.output_fields or ())}
    assert set(toolkit.vocabulary) <= terms
    assert toolkit.description and toolkit.notes


def toolkit_words(toolkit: Toolkit) -> set[str]:
    """Every word the planner is shown for `toolkit`."""
    parts = [toolkit.name, toolkit.description, toolkit.notes]
    for spec in toolkit.specs:
        parts += [spec.name, spec.fn.__doc__ or "", json.dumps(spec.input_schema)]
        parts += sorted(spec.output_fields or ())
    for term, words in toolkit.vocabulary.items():
        parts += [term, *words]
    for question, plan in toolkit.examples:
        parts += [question, json.dumps(plan)]
    return set(re.findall(r"[a-z]+", " ".join(parts).lower()))


# -- suites -------------------------------------------------------------------


def test_suites_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = load_generator().write_suites(tmp_path)
    assert {p.name for p in written} == {"shop.jsonl", "transit.jsonl"}
    for path in written:
        assert path.read_text() == (SUITES / path.name).read_text(), (
            f"bench/suites/{path.name} is stale: run bench/suites/make_toolkit_suites.py"
        )


def test_geo_dev_suite_is_an_unchanged_copy() -> None:
    if not SHARED_DEV.is_file():
        pytest.skip("shared dev suite not beside the repository")
    assert (SUITES / "geo-dev.jsonl").read_bytes() == SHARED_DEV.read_bytes()


@pytest.mark.parametrize("toolkit", TOOLKITS, ids=lambda t: t.name)
def test_suite_shape(toolkit: Toolkit) -> None:
    suite = rows(toolkit.name)
    assert 40 <= len(suite) <= 50
    assert [r["id"] for r in suite] == [f"{toolkit.name}-{i:03d}" for i in range(1, len(suite) + 1)]
    kinds = {r["kind"] for r in suite}
    assert kinds == {"lookup", "sum", "difference", "ratio", "compare", "scale", "unanswerable"}
    questions = [r["question"] for r in suite]
    assert len(set(questions)) == len(questions)
    examples = {q.lower() for q, _ in toolkit.examples}
    assert not examples & {q.lower() for q in questions}, "example questions leak into the suite"
    for r in suite:
        if r["kind"] == "unanswerable":
            assert r["answer"] is None
        else:
            assert r["answer"] is not None
        if isinstance(r["answer"], float):
            assert r["tolerance"] == 0.01
        else:
            assert r["tolerance"] is None


@pytest.mark.parametrize("toolkit", TOOLKITS, ids=lambda t: t.name)
def test_unseen_questions_use_words_the_toolkit_never_does(toolkit: Toolkit) -> None:
    unseen = [r for r in rows(toolkit.name) if r.get("unseen")]
    assert 5 <= len(unseen) <= 6
    known = toolkit_words(toolkit)
    for r in unseen:
        assert r["cue"]
        for word in r["cue"]:
            assert word in re.findall(r"[a-z]+", r["question"].lower()), r["id"]
            assert word not in known, f"{r['id']}: {word!r} appears in the toolkit"


# Recompute every answer through the tools (not the data tables), from each
# line's entities, field, op and factor.


def shop_tool_value(entity: str, field: str) -> tuple[Any, str]:
    value = value_of(shop_mod.product(entity))
    return value[field], value["name"]


def transit_tool_value(entity: Any, field: str) -> tuple[Any, str]:
    if field == "travel_minutes":
        origin, destination = entity
        minutes = value_of(transit_mod.travel_minutes(origin, destination))
        return minutes, value_of(transit_mod.station(destination))["name"]
    table, _, attr = field.partition(".")
    value = value_of(transit_mod.line(entity) if table == "line" else transit_mod.station(entity))
    return value[attr], value["name"]


def answer_through_tools(row: dict[str, Any], get: Any) -> Any:
    found = [get(e, row["field"]) for e in row["entities"]]
    values = [v for v, _ in found]
    kind = row["kind"]
    if kind == "lookup":
        return values[0]
    if kind == "scale":
        return row["factor"] * values[0]
    (a, name_a), (b, name_b) = found
    if kind == "compare":
        return name_a if (a > b) == (row["op"] == "larger") else name_b
    return {
        "sum": a + b,
        "difference": a - b,
        "abs_difference": abs(a - b),
        "ratio": a / b if b else None,
    }[row["op"]]


def close(got: Any, want: Any, tolerance: float | None) -> bool:
    if isinstance(want, str) or tolerance is None:
        return bool(got == want)
    return abs(got - want) <= tolerance * abs(want)


@pytest.mark.parametrize(
    ("toolkit", "get"),
    [(shop_mod.shop, shop_tool_value), (transit_mod.transit, transit_tool_value)],
    ids=["shop", "transit"],
)
def test_suite_answers_agree_with_the_tools(toolkit: Toolkit, get: Any) -> None:
    output_fields = set()
    for spec in toolkit.specs:
        output_fields |= set(spec.output_fields or ()) | {spec.name}
    for r in rows(toolkit.name):
        if r["kind"] != "unanswerable":
            got = answer_through_tools(r, get)
            assert close(got, r["answer"], r["tolerance"]), (r["id"], got, r["answer"])
        elif r["reason"] == "unknown_entity":
            with pytest.raises(ToolError) as info:
                answer_through_tools({**r, "kind": "lookup"}, get)
            assert info.value.kind == "NotFound", r["id"]
        else:
            assert r["reason"] == "no_such_attribute"
            attr = r["field"].rpartition(".")[2]
            assert attr not in output_fields, f"{r['id']}: a tool does give {attr!r}"


def test_compare_questions_have_no_ties() -> None:
    for name, get in (("shop", shop_tool_value), ("transit", transit_tool_value)):
        for r in rows(name):
            if r["kind"] == "compare":
                a, b = (get(e, r["field"])[0] for e in r["entities"])
                assert a != b, r["id"]
