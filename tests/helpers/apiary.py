"""An invented beekeeping toolkit for planner tests (no geography, no railway)."""

from __future__ import annotations

import uuid
from typing import TypedDict

from veritask import Toolkit, tool
from veritask.planner.catalog import Catalog

SUFFIX = uuid.uuid4().hex[:6]


class Hive(TypedDict):
    colony: str
    frames: int
    honey_kg: float


@tool(name="hive", idempotent=True)
def hive(name: str) -> Hive:
    """One beehive of the apiary: its colony's queen line, its frame count and the
    honey it gave this season in kilograms.

    Args:
        name: the hive's name, e.g. "Bramble".
    """
    return Hive(colony="carniolan", frames=10, honey_kg=14.5)


APIARY = Toolkit(
    name=f"apiary{SUFFIX}",
    description="Hives of our apiary: colonies, frames, honey.",
    tools=[hive],
    examples=[
        (
            "How many frames does the Bramble hive hold?",
            {
                "tasks": [{"id": "a", "tool": "hive", "args": {"name": "Bramble"}}],
                "answer_template": "The Bramble hive holds {$a.frames} frames.",
            },
        )
    ],
)
APIARY_CATALOG = Catalog.from_toolkits([APIARY])
