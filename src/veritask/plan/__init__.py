"""The plan core shared by the planner and the runtime: references, dependencies,
validation. It knows tools only through the protocols in `catalog`."""
