"""Write the `shop` and `transit` evaluation suites from the example toolkits' data.

    python bench/suites/make_toolkit_suites.py [--out DIR]

Every answer is computed here from the data in `examples/shop.py` and
`examples/transit.py`; none is typed by hand. Each question is written once
below as a `Q`: its kind, wording, the entities it names, the field it needs
and, for combining kinds, the operation. The same fields go into the suite
line, so a test can recompute each answer through the tools themselves.

Suite line fields:
    id, question, answer (number, string, or null when unanswerable),
    tolerance (relative; 0.01 for float answers, null otherwise), kind
    (lookup, sum, difference, ratio, compare, scale, unanswerable),
    entities, field, op (for sum/difference/ratio/compare), factor (scale),
    reason (unanswerable: "unknown_entity" or "no_such_attribute"),
    unseen (true when the wording uses words the toolkit never uses) and cue
    (those words).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples import shop as shop_mod  # noqa: E402
from examples import transit as transit_mod  # noqa: E402

HERE = Path(__file__).resolve().parent
FLOAT_TOLERANCE = 0.01
KINDS = ("lookup", "sum", "difference", "ratio", "compare", "scale", "unanswerable")


@dataclass(frozen=True)
class Q:
    kind: str
    question: str
    entities: Sequence[Any] = ()
    field: str | None = None
    op: str | None = None
    """sum/difference/ratio: a+b, a-b, a/b ("abs_difference": |a-b|);
    compare: "larger" or "smaller" (the name of the entity with that value)."""
    factor: float | None = None
    reason: str | None = None
    cue: Sequence[str] = ()


# -- shop -----------------------------------------------------------------------

SHOP: list[Q] = [
    # lookups
    Q("lookup", "What is the price of a Gizmo?", ["Gizmo"], "price_usd"),
    Q("lookup", "How much does the Copper Wire cost in dollars?", ["Copper Wire"], "price_usd"),
    Q("lookup", "How many Flashlights do we have in stock?", ["Flashlights"], "in_stock"),
    Q("lookup", "How many units of Steel Bracket are left?", ["Steel Bracket"], "in_stock"),
    Q("lookup", "Who supplies the Padlock?", ["Padlock"], "supplier"),
    Q("lookup", "Which supplier makes the Solar Panel?", ["Solar Panel"], "supplier"),
    Q("lookup", "In how many days will the Gadget be restocked?", ["Gadget"], "restock_days"),
    Q("lookup", "How many days until the next delivery of Buckets?", ["Buckets"], "restock_days"),
    Q("lookup", "How much does a Kettle weigh in kilograms?", ["Kettle"], "weight_kg"),
    Q("lookup", "What is the weight of the Ladder?", ["Ladder"], "weight_kg"),
    Q("lookup", "What does a Cable Tie cost?", ["Cable Tie"], "price_usd"),
    Q("lookup", "How many Batteries are in stock?", ["Batteries"], "in_stock"),
    Q("lookup", "How pricey is the Garden Hose?", ["Garden Hose"], "price_usd", cue=["pricey"]),
    Q(
        "lookup",
        "How many Doorknobs do we have on hand?",
        ["Doorknobs"],
        "in_stock",
        cue=["hand"],
    ),
    Q(
        "lookup",
        "Which firm provides the Rubber Mallet?",
        ["Rubber Mallet"],
        "supplier",
        cue=["firm", "provides"],
    ),
    Q(
        "lookup",
        "How long until the Teapot is replenished, in days?",
        ["Teapot"],
        "restock_days",
        cue=["replenished"],
    ),
    Q(
        "lookup",
        "What's the heft of a Toolbox in kilos?",
        ["Toolbox"],
        "weight_kg",
        cue=["heft", "kilos"],
    ),
    # two products combined
    Q(
        "sum",
        "What do a Gadget and a Gizmo cost together?",
        ["Gadget", "Gizmo"],
        "price_usd",
        "sum",
    ),
    Q(
        "sum",
        "How many Widgets and Sprockets are in stock altogether?",
        ["Widgets", "Sprockets"],
        "in_stock",
        "sum",
    ),
    Q(
        "sum",
        "What is the combined weight of an Oak Shelf and a Lamp in kg?",
        ["Oak Shelf", "Lamp"],
        "weight_kg",
        "sum",
    ),
    Q(
        "sum",
        "How many Padlocks and Hammers do we have in stock in total?",
        ["Padlocks", "Hammers"],
        "in_stock",
        "sum",
    ),
    Q(
        "difference",
        "How much more does the Drill cost than the Hammer?",
        ["Drill", "Hammer"],
        "price_usd",
        "difference",
    ),
    Q(
        "difference",
        "How many more Brass Hinges than Doorknobs are in stock?",
        ["Brass Hinges", "Doorknobs"],
        "in_stock",
        "difference",
    ),
    Q(
        "difference",
        "How many days later is the Solar Panel restocked than the Flashlight?",
        ["Solar Panel", "Flashlight"],
        "restock_days",
        "difference",
    ),
    Q(
        "difference",
        "How much heavier is the Garden Hose than the Kettle, in kg?",
        ["Garden Hose", "Kettle"],
        "weight_kg",
        "difference",
    ),
    Q(
        "ratio",
        "How many times as expensive as a Widget is a Lamp?",
        ["Lamp", "Widget"],
        "price_usd",
        "ratio",
    ),
    Q(
        "ratio",
        "How many times heavier is a Ladder than a Toolbox?",
        ["Ladder", "Toolbox"],
        "weight_kg",
        "ratio",
    ),
    Q(
        "ratio",
        "How many times as many Cable Ties as Batteries are in stock?",
        ["Cable Ties", "Batteries"],
        "in_stock",
        "ratio",
    ),
    # comparisons
    Q(
        "compare",
        "Which costs more, the Kettle or the Teapot?",
        ["Kettle", "Teapot"],
        "price_usd",
        "larger",
    ),
    Q(
        "compare",
        "Which is heavier, the Copper Wire or the Drill?",
        ["Copper Wire", "Drill"],
        "weight_kg",
        "larger",
    ),
    Q(
        "compare",
        "Which do we have more of in stock, Wrenches or Padlocks?",
        ["Wrenches", "Padlocks"],
        "in_stock",
        "larger",
    ),
    Q(
        "compare",
        "Which is cheaper, the Gizmo or the Lamp?",
        ["Gizmo", "Lamp"],
        "price_usd",
        "smaller",
    ),
    Q(
        "compare",
        "Which takes longer to be restocked, the Oak Shelf or the Ladder?",
        ["Oak Shelf", "Ladder"],
        "restock_days",
        "larger",
    ),
    Q(
        "compare",
        "Which weighs more, a Rubber Mallet or a Teapot?",
        ["Rubber Mallet", "Teapot"],
        "weight_kg",
        "larger",
    ),
    Q(
        "compare",
        "Which is pricier, the Flashlight or the Gadget?",
        ["Flashlight", "Gadget"],
        "price_usd",
        "larger",
        cue=["pricier"],
    ),
    # a number from the question times a field
    Q("scale", "What do 3 Widgets cost?", ["Widgets"], "price_usd", factor=3),
    Q(
        "scale",
        "How much do 12 Brass Hinges weigh in kg?",
        ["Brass Hinges"],
        "weight_kg",
        factor=12,
    ),
    Q("scale", "What would 5 Padlocks cost?", ["Padlocks"], "price_usd", factor=5),
    Q("scale", "How much do 20 Sprockets cost in dollars?", ["Sprockets"], "price_usd", factor=20),
    Q("scale", "What is the total weight of 6 Buckets?", ["Buckets"], "weight_kg", factor=6),
    # unanswerable
    Q(
        "unanswerable",
        "What is the price of a Flux Capacitor?",
        ["Flux Capacitor"],
        "price_usd",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "How many Velvet Cushions are in stock?",
        ["Velvet Cushions"],
        "in_stock",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "Who supplies the Steel Ladder?",
        ["Steel Ladder"],
        "supplier",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "What colour is the Gadget?",
        ["Gadget"],
        "colour",
        reason="no_such_attribute",
    ),
    Q(
        "unanswerable",
        "What is the customer rating of the Drill?",
        ["Drill"],
        "rating",
        reason="no_such_attribute",
    ),
]


def shop_value(entity: str, field_name: str) -> Any:
    record, _ = shop_mod.find(entity)
    return getattr(record, field_name)


# -- transit --------------------------------------------------------------------
# Fields: "station.<field>", "line.<field>", or "travel_minutes" (entities are
# [origin, destination] pairs).

TRANSIT: list[Q] = [
    # lookups
    Q("lookup", "Which fare zone is Juniper Row in?", ["Juniper Row"], "station.zone"),
    Q("lookup", "What zone is Saltmarsh station in?", ["Saltmarsh station"], "station.zone"),
    Q(
        "lookup",
        "How many passengers use Marrow Street each day?",
        ["Marrow Street"],
        "station.daily_passengers",
    ),
    Q(
        "lookup",
        "How many people pass through Orchard Vale daily?",
        ["Orchard Vale"],
        "station.daily_passengers",
    ),
    Q("lookup", "In what year did Greyfriars open?", ["Greyfriars"], "station.opened"),
    Q("lookup", "When did Brindle Wharf station open?", ["Brindle Wharf"], "station.opened"),
    Q("lookup", "Which line is Tallis Park on?", ["Tallis Park"], "station.line"),
    Q(
        "lookup",
        "How many minutes does it take to travel from Alderbrook to Quillon?",
        [["Alderbrook", "Quillon"]],
        "travel_minutes",
    ),
    Q(
        "lookup",
        "How long is the train journey from Wexley to Hollin Gate?",
        [["Wexley", "Hollin Gate"]],
        "travel_minutes",
    ),
    Q("lookup", "How many stations does the Crown line have?", ["Crown"], "line.stations"),
    Q("lookup", "How long is the Harbour line in kilometres?", ["Harbour"], "line.length_km"),
    Q("lookup", "What colour is the Meadow line on the map?", ["Meadow"], "line.colour"),
    Q("lookup", "In what year did the Crown line open?", ["Crown"], "line.opened"),
    Q(
        "lookup",
        "How long is the ride from Cobalt Quay to Dunmore Heath?",
        [["Cobalt Quay", "Dunmore Heath"]],
        "travel_minutes",
        cue=["ride"],
    ),
    Q(
        "lookup",
        "What is the footfall at Pennycross on a typical day?",
        ["Pennycross"],
        "station.daily_passengers",
        cue=["footfall", "typical"],
    ),
    Q(
        "lookup",
        "When was Kestrel Fields inaugurated?",
        ["Kestrel Fields"],
        "station.opened",
        cue=["inaugurated"],
    ),
    Q(
        "lookup",
        "How many kilometres does the Meadow line span?",
        ["Meadow"],
        "line.length_km",
        cue=["span"],
    ),
    # two things combined
    Q(
        "sum",
        "How many passengers do Fenwick Cross and Lantern Hill handle per day combined?",
        ["Fenwick Cross", "Lantern Hill"],
        "station.daily_passengers",
        "sum",
    ),
    Q(
        "sum",
        "How many minutes does a trip from Saltmarsh to Fenwick Cross and then on to "
        "Brindle Wharf take?",
        [["Saltmarsh", "Fenwick Cross"], ["Fenwick Cross", "Brindle Wharf"]],
        "travel_minutes",
        "sum",
    ),
    Q(
        "sum",
        "What is the total length of the Harbour and Crown lines in km?",
        ["Harbour", "Crown"],
        "line.length_km",
        "sum",
    ),
    Q(
        "sum",
        "What is the sum of the station counts of the Meadow and Crown lines?",
        ["Meadow", "Crown"],
        "line.stations",
        "sum",
    ),
    Q(
        "difference",
        "How many years apart did Wexley and Sable End open?",
        ["Sable End", "Wexley"],
        "station.opened",
        "abs_difference",
    ),
    Q(
        "difference",
        "How many more daily passengers does Cobalt Quay have than Quillon?",
        ["Cobalt Quay", "Quillon"],
        "station.daily_passengers",
        "difference",
    ),
    Q(
        "difference",
        "How much longer is the Harbour line than the Meadow line, in km?",
        ["Harbour", "Meadow"],
        "line.length_km",
        "difference",
    ),
    Q(
        "difference",
        "How many minutes longer is the journey from Alderbrook to Thornbury than from "
        "Alderbrook to Greyfriars?",
        [["Alderbrook", "Thornbury"], ["Alderbrook", "Greyfriars"]],
        "travel_minutes",
        "difference",
    ),
    Q(
        "ratio",
        "How many times as many daily passengers does Marrow Street have as Alderbrook?",
        ["Marrow Street", "Alderbrook"],
        "station.daily_passengers",
        "ratio",
    ),
    Q(
        "ratio",
        "How many times busier is Fenwick Cross than Saltmarsh?",
        ["Fenwick Cross", "Saltmarsh"],
        "station.daily_passengers",
        "ratio",
    ),
    Q(
        "ratio",
        "How many times longer is the Harbour line than the Meadow line?",
        ["Harbour", "Meadow"],
        "line.length_km",
        "ratio",
    ),
    # comparisons
    Q(
        "compare",
        "Which station is busier, Tallis Park or Pennycross?",
        ["Tallis Park", "Pennycross"],
        "station.daily_passengers",
        "larger",
    ),
    Q(
        "compare",
        "Which opened more recently, Brindle Wharf or Sable End?",
        ["Brindle Wharf", "Sable End"],
        "station.opened",
        "larger",
    ),
    Q(
        "compare",
        "Which is the longer line, Crown or Meadow?",
        ["Crown", "Meadow"],
        "line.length_km",
        "larger",
    ),
    Q(
        "compare",
        "Which is farther from Fenwick Cross by train, Thornbury or Saltmarsh?",
        [["Fenwick Cross", "Thornbury"], ["Fenwick Cross", "Saltmarsh"]],
        "travel_minutes",
        "larger",
    ),
    Q(
        "compare",
        "Which station is in a higher-numbered zone, Wexley or Ravensholm?",
        ["Wexley", "Ravensholm"],
        "station.zone",
        "larger",
    ),
    Q(
        "compare",
        "Which is quieter, Hollin Gate or Juniper Row?",
        ["Hollin Gate", "Juniper Row"],
        "station.daily_passengers",
        "smaller",
    ),
    Q(
        "compare",
        "Which sees more footfall, Quillon or Lantern Hill?",
        ["Quillon", "Lantern Hill"],
        "station.daily_passengers",
        "larger",
        cue=["footfall"],
    ),
    # a number from the question times a field
    Q(
        "scale",
        "How many passengers pass through Ravensholm in a 7-day week?",
        ["Ravensholm"],
        "station.daily_passengers",
        factor=7,
    ),
    Q(
        "scale",
        "How many minutes do 3 trips from Kestrel Fields to Quillon take?",
        [["Kestrel Fields", "Quillon"]],
        "travel_minutes",
        factor=3,
    ),
    Q(
        "scale",
        "How many passengers does Lantern Hill see over 30 days?",
        ["Lantern Hill"],
        "station.daily_passengers",
        factor=30,
    ),
    Q(
        "scale",
        "How many passengers use Thornbury in 365 days?",
        ["Thornbury"],
        "station.daily_passengers",
        factor=365,
    ),
    Q(
        "scale",
        "How many minutes do 10 commutes from Wexley to Lantern Hill add up to?",
        [["Wexley", "Lantern Hill"]],
        "travel_minutes",
        factor=10,
        cue=["commutes"],
    ),
    # unanswerable
    Q(
        "unanswerable",
        "What zone is Maple Junction in?",
        ["Maple Junction"],
        "station.zone",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "How long does the train take from Alderbrook to Port Velda?",
        [["Alderbrook", "Port Velda"]],
        "travel_minutes",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "When did Fenwick Central open?",
        ["Fenwick Central"],
        "station.opened",
        reason="unknown_entity",
    ),
    Q(
        "unanswerable",
        "How much is a single ticket from Wexley to Quillon?",
        [["Wexley", "Quillon"]],
        "ticket_price",
        reason="no_such_attribute",
    ),
    Q(
        "unanswerable",
        "How many platforms does Marrow Street have?",
        ["Marrow Street"],
        "station.platforms",
        reason="no_such_attribute",
    ),
]


def transit_value(entity: Any, field_name: str) -> Any:
    if field_name == "travel_minutes":
        origin, destination = entity
        a, _ = transit_mod.find_station(origin)
        b, _ = transit_mod.find_station(destination)
        return transit_mod.shortest_minutes(a.code, b.code)[0]
    table, _, attr = field_name.partition(".")
    if table == "line":
        return transit_mod.line_value(transit_mod.LINE_BY_NAME[entity])[attr]  # type: ignore[literal-required]
    if table == "station":
        record, _ = transit_mod.find_station(entity)
        return transit_mod.station_value(record)[attr]  # type: ignore[literal-required]
    raise KeyError(field_name)


def transit_label(entity: Any) -> str:
    """The name a comparison answers with: a station's or line's name, a journey's destination."""
    if isinstance(entity, list):
        return transit_mod.find_station(entity[1])[0].name
    if entity in transit_mod.LINE_BY_NAME:
        return str(entity)
    return transit_mod.find_station(entity)[0].name


def shop_label(entity: str) -> str:
    return shop_mod.find(entity)[0].name


# -- answers --------------------------------------------------------------------


def compute(q: Q, value: Callable[[Any, str], Any], label: Callable[[Any], str]) -> Any:
    """The answer to `q` from the data."""
    if q.kind == "unanswerable":
        return None
    assert q.field is not None
    values = [value(e, q.field) for e in q.entities]
    if q.kind == "lookup":
        return values[0]
    if q.kind == "scale":
        assert q.factor is not None
        return q.factor * values[0]
    a, b = values
    if q.kind == "compare":
        if a == b:
            raise ValueError(f"tie in {q.question!r}")
        pick_first = a > b if q.op == "larger" else a < b
        return label(q.entities[0] if pick_first else q.entities[1])
    ops: dict[str | None, Callable[[Any, Any], Any]] = {
        "sum": lambda x, y: x + y,
        "difference": lambda x, y: x - y,
        "abs_difference": lambda x, y: abs(x - y),
        "ratio": lambda x, y: x / y,
    }
    return ops[q.op](a, b)


def _clean(answer: Any) -> Any:
    """Round float noise away (0.1 + 0.2 is 0.3 in the suite)."""
    if isinstance(answer, float):
        return round(answer, 6)
    return answer


def suite(
    prefix: str, questions: list[Q], value: Callable[[Any, str], Any], label: Callable[[Any], str]
) -> list[dict[str, Any]]:
    rows = []
    for i, q in enumerate(questions, start=1):
        if q.kind not in KINDS:
            raise ValueError(f"unknown kind {q.kind!r}")
        answer = _clean(compute(q, value, label))
        row: dict[str, Any] = {
            "id": f"{prefix}-{i:03d}",
            "question": q.question,
            "answer": answer,
            "tolerance": FLOAT_TOLERANCE if isinstance(answer, float) else None,
            "kind": q.kind,
            "entities": list(q.entities),
            "field": q.field,
        }
        if q.op is not None:
            row["op"] = q.op
        if q.factor is not None:
            row["factor"] = q.factor
        if q.reason is not None:
            row["reason"] = q.reason
        if q.cue:
            row["unseen"] = True
            row["cue"] = list(q.cue)
        rows.append(row)
    return rows


def build() -> dict[str, list[dict[str, Any]]]:
    """Suite name → its lines."""
    return {
        "shop": suite("shop", SHOP, shop_value, shop_label),
        "transit": suite("transit", TRANSIT, transit_value, transit_label),
    }


def write_suites(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in build().items():
        path = out_dir / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write into")
    args = parser.parse_args(argv)
    for path in write_suites(args.out):
        print(path)


if __name__ == "__main__":
    main()
