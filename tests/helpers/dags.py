"""Random DAG plans for property tests: task i may only reference earlier tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from veritask import Task


@dataclass(frozen=True)
class Dag:
    """Task i references `refs[i]` and waits (via `after`) for `after[i]`; all earlier."""

    refs: list[list[int]]
    after: list[list[int]]
    order: list[int]

    @property
    def size(self) -> int:
        return len(self.refs)

    def deps(self, i: int) -> set[int]:
        return set(self.refs[i]) | set(self.after[i])

    def expected(self) -> list[int]:
        values: list[int] = []
        for i in range(self.size):
            values.append(i + sum(values[j] for j in self.refs[i]))
        return values


@st.composite
def dags(draw: st.DrawFn, min_size: int = 1, max_size: int = 9) -> Dag:
    n = draw(st.integers(min_size, max_size))
    refs: list[list[int]] = []
    after: list[list[int]] = []
    for i in range(n):
        if i == 0:
            refs.append([])
            after.append([])
            continue
        earlier = st.integers(0, i - 1)
        refs.append(sorted(draw(st.lists(earlier, unique=True, max_size=3))))
        after.append(draw(st.lists(earlier, unique=True, max_size=1)))
    order = draw(st.permutations(range(n)))
    return Dag(refs, after, list(order))


def node_task(dag: Dag, i: int, **extra: Any) -> Task:
    return Task(
        id=f"t{i}",
        tool="node",
        args={"name": f"t{i}", "inputs": [f"$t{j}" for j in dag.refs[i]], **extra},
        after=[f"t{j}" for j in dag.after[i]],
    )
