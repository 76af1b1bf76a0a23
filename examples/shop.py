"""A shop's product catalogue as a veritask toolkit, written the way a user would.

One tool, `product`, looks a product up by name and returns its price, stock,
supplier, days until the next delivery and weight. The catalogue is invented
and lives in this module (`CATALOGUE`), so answers to questions about it can
be computed exactly; `bench/suites/make_toolkit_suites.py` builds the `shop`
evaluation suite from it.

Names are matched forgivingly (case, surrounding whitespace, a leading
"a"/"an"/"the", simple plurals such as "Widgets" or "Batteries") but never
guessed: any other name raises `ToolError(kind="NotFound")` with suggestions.

Use it with `veritask --import examples.shop --toolkit shop ...` from the
repository root, or `from examples.shop import shop`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TypedDict, TypeVar, cast

from veritask import Source, ToolError, Toolkit, ToolResult, tool
from veritask.types import Confidence, ConfidenceMethod, JSONValue

SOURCE = "shop catalogue"

T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    """One catalogue row."""

    sku: str
    name: str
    price_usd: float
    in_stock: int
    supplier: str
    restock_days: int
    weight_kg: float


CATALOGUE: tuple[Record, ...] = (
    Record("SH-1001", "Widget", 4.25, 320, "Acme Supply", 7, 0.15),
    Record("SH-1002", "Sprocket", 2.80, 1150, "Kestrel Tools", 12, 0.09),
    Record("SH-1003", "Gadget", 18.99, 64, "Northwind Traders", 21, 0.42),
    Record("SH-1004", "Gizmo", 27.50, 38, "Northwind Traders", 14, 0.61),
    Record("SH-1005", "Brass Hinge", 3.15, 870, "Blue Harbor Metals", 5, 0.12),
    Record("SH-1006", "Copper Wire", 11.40, 205, "Blue Harbor Metals", 9, 1.30),
    Record("SH-1007", "Steel Bracket", 1.95, 1420, "Blue Harbor Metals", 6, 0.22),
    Record("SH-1008", "Oak Shelf", 46.00, 27, "Fairfield Goods", 30, 6.80),
    Record("SH-1009", "Lamp", 34.90, 52, "Fairfield Goods", 18, 2.10),
    Record("SH-1010", "Kettle", 29.95, 73, "Fairfield Goods", 10, 1.45),
    Record("SH-1011", "Teapot", 22.40, 41, "Fairfield Goods", 25, 0.95),
    Record("SH-1012", "Battery", 1.60, 2600, "Acme Supply", 4, 0.05),
    Record("SH-1013", "Garden Hose", 39.00, 19, "Fairfield Goods", 16, 3.40),
    Record("SH-1014", "Padlock", 12.75, 148, "Kestrel Tools", 8, 0.48),
    Record("SH-1015", "Toolbox", 58.00, 23, "Kestrel Tools", 20, 4.75),
    Record("SH-1016", "Hammer", 16.50, 96, "Kestrel Tools", 11, 0.85),
    Record("SH-1017", "Ladder", 129.00, 9, "Northwind Traders", 35, 11.20),
    Record("SH-1018", "Wrench", 14.20, 132, "Kestrel Tools", 13, 0.70),
    Record("SH-1019", "Doorknob", 8.60, 310, "Blue Harbor Metals", 15, 0.38),
    Record("SH-1020", "Flashlight", 19.80, 88, "Acme Supply", 9, 0.33),
    Record("SH-1021", "Rubber Mallet", 13.30, 57, "Kestrel Tools", 19, 0.92),
    Record("SH-1022", "Solar Panel", 245.00, 12, "Northwind Traders", 42, 14.50),
    Record("SH-1023", "Drill", 89.90, 31, "Kestrel Tools", 17, 1.85),
    Record("SH-1024", "Bucket", 6.45, 215, "Fairfield Goods", 3, 0.80),
    Record("SH-1025", "Cable Tie", 0.35, 5400, "Acme Supply", 2, 0.01),
)


class Product(TypedDict):
    """What `product` returns; each key may be referenced as `$task.key`."""

    name: str
    price_usd: float
    in_stock: int
    supplier: str
    restock_days: int
    """Days until the next delivery."""
    weight_kg: float


# -- name matching ------------------------------------------------------------

_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)


def _normalize(text: str) -> str:
    text = " ".join(text.strip().strip(".?!\"'").split()).casefold()
    return _ARTICLE.sub("", text)


_BY_NAME: dict[str, Record] = {_normalize(r.name): r for r in CATALOGUE}


def _singulars(key: str) -> list[str]:
    """Singular forms to try for a plural key: "batteries" → "battery", "widgets" → "widget"."""
    out = []
    if key.endswith("ies"):
        out.append(key[:-3] + "y")
    if key.endswith("es"):
        out.append(key[:-2])
    if key.endswith("s"):
        out.append(key[:-1])
    return out


def find(name: str) -> tuple[Record, str]:
    """The record named `name` and how it matched ("exact", "normalized" or "plural").

    Raises ToolError(kind="NotFound") with close names when nothing matches.
    """
    for record in CATALOGUE:
        if record.name == name:
            return record, "exact"
    key = _normalize(name)
    if key in _BY_NAME:
        return _BY_NAME[key], "normalized"
    for singular in _singulars(key):
        if singular in _BY_NAME:
            return _BY_NAME[singular], "plural"
    raise ToolError(
        f"no product named {name.strip()!r} in the {SOURCE}{_did_you_mean(key)}",
        kind="NotFound",
    )


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, list(_BY_NAME), n=3, cutoff=0.6)
    words = set(key.split())
    for k in _BY_NAME:
        if k not in close and words & set(k.split()):
            close.append(k)
    names = [_BY_NAME[k].name for k in close[:3]]
    if not names:
        return f"; it has {len(CATALOGUE)} products, none with a similar name."
    return "; did you mean " + " or ".join(repr(n) for n in names) + "?"


# -- the tool -----------------------------------------------------------------


@tool(name="product", idempotent=True, inline=True)
def product(name: str) -> Product:
    """One product of our shop: price in US dollars, units in stock, supplier,
    days until restock, weight.

    Args:
        name: the product's name, e.g. "Widget" or "Brass Hinge".
    """
    record, match = find(name)
    value = Product(
        name=record.name,
        price_usd=record.price_usd,
        in_stock=record.in_stock,
        supplier=record.supplier,
        restock_days=record.restock_days,
        weight_kg=record.weight_kg,
    )
    fields: dict[str, JSONValue] = {"sku": record.sku, **value}
    source = Source(
        tool="product", query={"name": name}, source=SOURCE, record_id=record.sku, fields=fields
    )
    confidence = Confidence(score=1.0, method=ConfidenceMethod.TOOL, signals={"match": match})
    return _tool_result(value, [source], confidence)


def _tool_result(value: T, evidence: list[Source], confidence: Confidence) -> T:
    """Wrap `value` in a ToolResult while keeping the tool's declared return type."""
    return cast(T, ToolResult(value=value, evidence=evidence, confidence=confidence))


# -- the toolkit --------------------------------------------------------------

EXAMPLES = [
    (
        "How many Sprockets are in stock?",
        {
            "goal": "Units of Sprocket in stock",
            "tasks": [{"id": "a", "tool": "product", "args": {"name": "Sprocket"}}],
            "answer_template": "There are {$a.in_stock} Sprockets in stock.",
        },
    ),
    (
        "Who supplies the Oak Shelf?",
        {
            "goal": "Supplier of the Oak Shelf",
            "tasks": [{"id": "a", "tool": "product", "args": {"name": "Oak Shelf"}}],
            "answer_template": "The Oak Shelf is supplied by {$a.supplier}.",
        },
    ),
    (
        "What do a Hammer and a Wrench cost together?",
        {
            "goal": "Combined price of a Hammer and a Wrench",
            "tasks": [
                {"id": "a", "tool": "product", "args": {"name": "Hammer"}},
                {"id": "b", "tool": "product", "args": {"name": "Wrench"}},
                {
                    "id": "total",
                    "tool": "calc",
                    "args": {"expression": "$a.price_usd + $b.price_usd"},
                },
            ],
            "answer_template": "Together they cost {$total} US dollars.",
        },
    ),
    (
        "Which is heavier, a Drill or a Lamp?",
        {
            "goal": "The heavier of Drill and Lamp",
            "tasks": [
                {"id": "a", "tool": "product", "args": {"name": "Drill"}},
                {"id": "b", "tool": "product", "args": {"name": "Lamp"}},
                {
                    "id": "c",
                    "tool": "larger",
                    "args": {
                        "first": "$a.name",
                        "first_value": "$a.weight_kg",
                        "second": "$b.name",
                        "second_value": "$b.weight_kg",
                    },
                },
            ],
            "answer_template": "The {$c} is heavier.",
        },
    ),
    (
        "How much do 4 Teapots weigh?",
        {
            "goal": "Weight of 4 Teapots",
            "tasks": [
                {"id": "a", "tool": "product", "args": {"name": "Teapot"}},
                {"id": "w", "tool": "calc", "args": {"expression": "4 * $a.weight_kg"}},
            ],
            "answer_template": "4 Teapots weigh {$w} kg.",
        },
    ),
    (
        "How many more days until the Ladder is restocked than the Doorknob?",
        {
            "goal": "Difference in restock days, Ladder minus Doorknob",
            "tasks": [
                {"id": "a", "tool": "product", "args": {"name": "Ladder"}},
                {"id": "b", "tool": "product", "args": {"name": "Doorknob"}},
                {
                    "id": "d",
                    "tool": "calc",
                    "args": {"expression": "$a.restock_days - $b.restock_days"},
                },
            ],
            "answer_template": "The Ladder is restocked {$d} days later.",
        },
    ),
]

shop = Toolkit(
    name="shop",
    description="Products of our shop: prices, stock, suppliers, restock times and weights.",
    tools=[product],
    examples=EXAMPLES,
    vocabulary={
        "product": ["item", "goods", "catalogue", "sell", "sold"],
        "price_usd": ["price", "cost", "costs", "expensive", "cheap", "cheaper", "dollars"],
        "in_stock": ["stock", "units", "inventory", "available", "left", "have"],
        "supplier": ["supplier", "supplies", "supplied", "vendor", "maker", "makes"],
        "restock_days": ["restock", "restocked", "delivery", "delivered", "arrive", "days"],
        "weight_kg": ["weight", "weigh", "weighs", "heavy", "heavier", "light", "kilograms", "kg"],
    },
    notes=(
        "Call product once per product named in the question, with the name as written "
        "(singular or plural both work). Prices are US dollars per unit, weights kilograms "
        "per unit; for several units multiply with calc. The catalogue has no colours, "
        "ratings, sizes or sales figures: a question about those has no answer."
    ),
)

__all__ = ["CATALOGUE", "EXAMPLES", "SOURCE", "Product", "Record", "find", "product", "shop"]
