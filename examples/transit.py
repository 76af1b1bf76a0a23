"""The rail network of Harrowmere, an invented city, as a veritask toolkit.

Three tools with different shapes:

- `station(name)` → a station's line, fare zone, daily passengers, year opened
  and whether it is step-free;
- `travel_minutes(origin, destination)` → the shortest journey time in minutes
  over the network (per-segment minutes in `SEGMENTS`; changing lines is
  counted as free);
- `line(name)` → a line's colour, number of stations, length and opening year;
  its `name` is one of a fixed set (`Literal`), so the planner sees the choices.

Station names are matched forgivingly (case, surrounding whitespace, a leading
"the", a trailing "station", the three-letter station code) but never guessed:
any other name raises `ToolError(kind="NotFound")` with suggestions. The data
lives in this module so `bench/suites/make_toolkit_suites.py` can compute the
`transit` suite's answers from it.
"""

from __future__ import annotations

import difflib
import heapq
import re
from dataclasses import dataclass
from typing import Literal, TypedDict, TypeVar, cast

from veritask import Source, ToolError, Toolkit, ToolResult, tool
from veritask.types import Confidence, ConfidenceMethod, JSONValue

SOURCE = "Harrowmere Rail network data"

T = TypeVar("T")

LineName = Literal["Harbour", "Meadow", "Crown"]


@dataclass(frozen=True)
class StationRecord:
    code: str
    name: str
    line: str
    zone: int
    daily_passengers: int
    opened: int
    step_free: bool


@dataclass(frozen=True)
class LineRecord:
    name: str
    colour: str
    length_km: float
    opened: int
    route: tuple[str, ...]
    """Station codes end to end."""


STATIONS: tuple[StationRecord, ...] = (
    # Harbour line
    StationRecord("ALD", "Alderbrook", "Harbour", 3, 8400, 1968, False),
    StationRecord("CBQ", "Cobalt Quay", "Harbour", 1, 21300, 1968, True),
    StationRecord("FWX", "Fenwick Cross", "Harbour", 1, 46800, 1968, True),
    StationRecord("MRS", "Marrow Street", "Harbour", 1, 52100, 1968, True),
    StationRecord("TLP", "Tallis Park", "Harbour", 2, 12650, 1971, False),
    StationRecord("JNR", "Juniper Row", "Harbour", 2, 9900, 1971, True),
    StationRecord("HLG", "Hollin Gate", "Harbour", 3, 6150, 1975, False),
    StationRecord("SLM", "Saltmarsh", "Harbour", 4, 3820, 1975, True),
    # Meadow line
    StationRecord("SBE", "Sable End", "Meadow", 4, 2940, 1991, True),
    StationRecord("WXL", "Wexley", "Meadow", 3, 7310, 1984, False),
    StationRecord("RVH", "Ravensholm", "Meadow", 2, 11480, 1984, True),
    StationRecord("LTH", "Lantern Hill", "Meadow", 1, 33700, 1984, True),
    StationRecord("ORV", "Orchard Vale", "Meadow", 2, 14220, 1984, False),
    StationRecord("BRW", "Brindle Wharf", "Meadow", 3, 5560, 1988, True),
    # Crown line
    StationRecord("KSF", "Kestrel Fields", "Crown", 4, 4480, 2009, True),
    StationRecord("GRF", "Greyfriars", "Crown", 3, 10230, 2009, True),
    StationRecord("QLN", "Quillon", "Crown", 1, 18750, 2009, True),
    StationRecord("PNX", "Pennycross", "Crown", 2, 13040, 2009, True),
    StationRecord("DMH", "Dunmore Heath", "Crown", 3, 6870, 2012, True),
    StationRecord("THB", "Thornbury", "Crown", 4, 3150, 2015, True),
)
"""Each station under the line that first served it; interchanges appear in several routes."""

LINES: tuple[LineRecord, ...] = (
    LineRecord(
        "Harbour", "orange", 14.6, 1968, ("ALD", "CBQ", "FWX", "MRS", "TLP", "JNR", "HLG", "SLM")
    ),
    LineRecord("Meadow", "green", 11.8, 1984, ("SBE", "WXL", "RVH", "FWX", "LTH", "ORV", "BRW")),
    LineRecord(
        "Crown", "purple", 13.2, 2009, ("KSF", "GRF", "MRS", "QLN", "LTH", "PNX", "DMH", "THB")
    ),
)

SEGMENTS: dict[tuple[str, str], int] = {
    # Harbour
    ("ALD", "CBQ"): 4,
    ("CBQ", "FWX"): 3,
    ("FWX", "MRS"): 2,
    ("MRS", "TLP"): 3,
    ("TLP", "JNR"): 2,
    ("JNR", "HLG"): 4,
    ("HLG", "SLM"): 5,
    # Meadow
    ("SBE", "WXL"): 5,
    ("WXL", "RVH"): 3,
    ("RVH", "FWX"): 4,
    ("FWX", "LTH"): 3,
    ("LTH", "ORV"): 3,
    ("ORV", "BRW"): 4,
    # Crown
    ("KSF", "GRF"): 4,
    ("GRF", "MRS"): 3,
    ("MRS", "QLN"): 2,
    ("QLN", "LTH"): 2,
    ("LTH", "PNX"): 3,
    ("PNX", "DMH"): 4,
    ("DMH", "THB"): 5,
}
"""Minutes between adjacent stations, either direction."""

BY_CODE: dict[str, StationRecord] = {s.code: s for s in STATIONS}
LINE_BY_NAME: dict[str, LineRecord] = {ln.name: ln for ln in LINES}


class Station(TypedDict):
    """What `station` returns; each key may be referenced as `$task.key`."""

    name: str
    line: str
    interchange_with: list[str]
    zone: int
    daily_passengers: int
    opened: int
    step_free: bool


class Line(TypedDict):
    """What `line` returns; each key may be referenced as `$task.key`."""

    name: str
    colour: str
    stations: int
    length_km: float
    opened: int


# -- name matching ------------------------------------------------------------

_THE = re.compile(r"^the\s+", re.IGNORECASE)
_STATION = re.compile(r"\s+station$", re.IGNORECASE)


def _normalize(text: str) -> str:
    text = " ".join(text.strip().strip(".?!\"'").split()).casefold()
    return _STATION.sub("", _THE.sub("", text))


_BY_KEY: dict[str, StationRecord] = {_normalize(s.name): s for s in STATIONS}


def find_station(name: str) -> tuple[StationRecord, str]:
    """The station named `name` and how it matched ("exact", "normalized" or "code")."""
    for s in STATIONS:
        if s.name == name:
            return s, "exact"
    key = _normalize(name)
    if key in _BY_KEY:
        return _BY_KEY[key], "normalized"
    if key.upper() in BY_CODE:
        return BY_CODE[key.upper()], "code"
    close = difflib.get_close_matches(key, list(_BY_KEY), n=3, cutoff=0.6)
    words = set(key.split())
    close += [k for k in _BY_KEY if k not in close and words & set(k.split())]
    names = [_BY_KEY[k].name for k in close[:3]]
    hint = (
        "; did you mean " + " or ".join(repr(n) for n in names) + "?"
        if names
        else f"; the network has {len(STATIONS)} stations, none with a similar name."
    )
    raise ToolError(
        f"no station named {name.strip()!r} on the Harrowmere network{hint}", kind="NotFound"
    )


def lines_at(code: str) -> list[str]:
    """Names of the lines calling at station `code`, oldest first."""
    return [ln.name for ln in LINES if code in ln.route]


def shortest_minutes(origin: str, destination: str) -> tuple[int, list[str]]:
    """(minutes, route of station codes) of the quickest journey; Dijkstra over SEGMENTS."""
    graph: dict[str, list[tuple[str, int]]] = {code: [] for code in BY_CODE}
    for (a, b), minutes in SEGMENTS.items():
        graph[a].append((b, minutes))
        graph[b].append((a, minutes))
    best = {origin: 0}
    previous: dict[str, str] = {}
    queue = [(0, origin)]
    while queue:
        dist, code = heapq.heappop(queue)
        if code == destination:
            break
        if dist > best[code]:
            continue
        for nxt, minutes in graph[code]:
            if dist + minutes < best.get(nxt, 1 << 30):
                best[nxt] = dist + minutes
                previous[nxt] = code
                heapq.heappush(queue, (dist + minutes, nxt))
    route = [destination]
    while route[-1] != origin:
        route.append(previous[route[-1]])
    return best[destination], route[::-1]


# -- the tools ----------------------------------------------------------------


def _confidence(**signals: JSONValue) -> Confidence:
    return Confidence(score=1.0, method=ConfidenceMethod.TOOL, signals=signals)


def _tool_result(value: T, evidence: list[Source], confidence: Confidence) -> T:
    """Wrap `value` in a ToolResult while keeping the tool's declared return type."""
    return cast(T, ToolResult(value=value, evidence=evidence, confidence=confidence))


def station_value(s: StationRecord) -> Station:
    return Station(
        name=s.name,
        line=s.line,
        interchange_with=[n for n in lines_at(s.code) if n != s.line],
        zone=s.zone,
        daily_passengers=s.daily_passengers,
        opened=s.opened,
        step_free=s.step_free,
    )


@tool(name="station", idempotent=True, inline=True)
def station(name: str) -> Station:
    """A station of the Harrowmere rail network: its line, lines to change to, fare zone
    (1 is the centre), passengers per day, year opened, and whether it is step-free.

    Args:
        name: the station's name, e.g. "Alderbrook" or "Cobalt Quay".
    """
    record, match = find_station(name)
    value = station_value(record)
    fields: dict[str, JSONValue] = {"code": record.code, **value}
    source = Source(
        tool="station", query={"name": name}, source=SOURCE, record_id=record.code, fields=fields
    )
    return _tool_result(value, [source], _confidence(match=match))


@tool(name="travel_minutes", idempotent=True, inline=True)
def travel_minutes(origin: str, destination: str) -> int:
    """Minutes by train between two stations of the Harrowmere network, by the quickest route
    (changing lines counts as no time).

    Args:
        origin: the station the journey starts from, e.g. "Wexley".
        destination: the station it ends at, e.g. "Thornbury".
    """
    a, a_match = find_station(origin)
    b, b_match = find_station(destination)
    minutes, route = shortest_minutes(a.code, b.code)
    source = Source(
        tool="travel_minutes",
        query={"origin": origin, "destination": destination},
        source=SOURCE,
        record_id=f"{a.code}-{b.code}",
        fields={"minutes": minutes, "route": [BY_CODE[c].name for c in route]},
    )
    return _tool_result(
        minutes, [source], _confidence(origin_match=a_match, destination_match=b_match)
    )


def line_value(ln: LineRecord) -> Line:
    return Line(
        name=ln.name,
        colour=ln.colour,
        stations=len(ln.route),
        length_km=ln.length_km,
        opened=ln.opened,
    )


@tool(name="line", idempotent=True, inline=True)
def line(name: LineName) -> Line:
    """One line of the Harrowmere network: its colour on the map, number of stations,
    length in kilometres and the year it opened.

    Args:
        name: the line: "Harbour", "Meadow" or "Crown".
    """
    record = LINE_BY_NAME[name]
    value = line_value(record)
    source = Source(
        tool="line", query={"name": name}, source=SOURCE, record_id=record.name, fields={**value}
    )
    return _tool_result(value, [source], _confidence(match="exact"))


# -- the toolkit --------------------------------------------------------------

EXAMPLES = [
    (
        "In which fare zone is Wexley?",
        {
            "goal": "Fare zone of Wexley",
            "tasks": [{"id": "a", "tool": "station", "args": {"name": "Wexley"}}],
            "answer_template": "Wexley is in zone {$a.zone}.",
        },
    ),
    (
        "How long does the train take from Sable End to Pennycross?",
        {
            "goal": "Journey time from Sable End to Pennycross",
            "tasks": [
                {
                    "id": "t",
                    "tool": "travel_minutes",
                    "args": {"origin": "Sable End", "destination": "Pennycross"},
                }
            ],
            "answer_template": "It takes {$t} minutes.",
        },
    ),
    (
        "How many stations does the Meadow line have?",
        {
            "goal": "Number of stations on the Meadow line",
            "tasks": [{"id": "a", "tool": "line", "args": {"name": "Meadow"}}],
            "answer_template": "The Meadow line has {$a.stations} stations.",
        },
    ),
    (
        "Which station is busier, Ravensholm or Greyfriars?",
        {
            "goal": "The busier of Ravensholm and Greyfriars",
            "tasks": [
                {"id": "a", "tool": "station", "args": {"name": "Ravensholm"}},
                {"id": "b", "tool": "station", "args": {"name": "Greyfriars"}},
                {
                    "id": "c",
                    "tool": "larger",
                    "args": {
                        "first": "$a.name",
                        "first_value": "$a.daily_passengers",
                        "second": "$b.name",
                        "second_value": "$b.daily_passengers",
                    },
                },
            ],
            "answer_template": "{$c} is busier.",
        },
    ),
    (
        "How many years after Hollin Gate did Thornbury open?",
        {
            "goal": "Years between the openings of Hollin Gate and Thornbury",
            "tasks": [
                {"id": "a", "tool": "station", "args": {"name": "Hollin Gate"}},
                {"id": "b", "tool": "station", "args": {"name": "Thornbury"}},
                {"id": "d", "tool": "calc", "args": {"expression": "$b.opened - $a.opened"}},
            ],
            "answer_template": "Thornbury opened {$d} years after Hollin Gate.",
        },
    ),
]

transit = Toolkit(
    name="transit",
    description=(
        "The Harrowmere rail network: stations (line, fare zone, passengers, year opened, "
        "step-free access), journey times between stations, and lines."
    ),
    tools=[station, travel_minutes, line],
    examples=EXAMPLES,
    vocabulary={
        "station": ["station", "stop", "stops"],
        "line": ["line", "lines", "route"],
        "zone": ["zone", "zones", "central", "centre"],
        "daily_passengers": [
            "passengers",
            "busy",
            "busier",
            "busiest",
            "quiet",
            "quieter",
            "quietest",
            "people",
            "per day",
            "daily",
        ],
        "opened": ["opened", "open", "year", "old", "older", "newer", "recently", "built"],
        "step_free": ["step-free", "accessible", "lift", "lifts", "stairs"],
        "travel_minutes": ["how long", "minutes", "journey", "trip", "travel", "get from", "train"],
        "length_km": ["long", "length", "kilometres", "km"],
        "stations": ["how many stations", "number of stations"],
        "colour": ["colour", "color", "map"],
    },
    notes=(
        "Station names go to station and travel_minutes as written; line names are only "
        "Harbour, Meadow or Crown. travel_minutes already finds the quickest route, changes "
        "included: never add up segments yourself. There are no fares, timetables or "
        "platform data: a question about those has no answer."
    ),
)

__all__ = [
    "BY_CODE",
    "EXAMPLES",
    "LINES",
    "LINE_BY_NAME",
    "SEGMENTS",
    "SOURCE",
    "STATIONS",
    "Line",
    "LineName",
    "LineRecord",
    "Station",
    "StationRecord",
    "find_station",
    "line",
    "lines_at",
    "shortest_minutes",
    "station",
    "station_value",
    "transit",
    "travel_minutes",
]
