"""What plan validation needs to know about tools, as protocols.

Validation sits below the tool registry in the layers: the planner, the
runtime and a toolkit's example check all validate plans, and the registry
itself validates toolkit examples. So validation names only the few
attributes it reads, and `veritask.tools.ToolRegistry` satisfies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from pydantic import BaseModel, TypeAdapter


class ToolSignature(Protocol):
    """A tool's name, parameters and output fields."""

    @property
    def name(self) -> str: ...

    @property
    def params_model(self) -> type[BaseModel]: ...

    @property
    def output_fields(self) -> frozenset[str] | None: ...

    @property
    def param_names(self) -> list[str]: ...

    @property
    def required_params(self) -> list[str]: ...

    def param_adapter(self, name: str) -> TypeAdapter[Any]: ...


class ToolCatalog(Protocol):
    """Tools by name."""

    def __contains__(self, name: object) -> bool: ...

    def __iter__(self) -> Iterator[Any]: ...

    def get(self, name: str) -> Any: ...

    def names(self) -> list[str]: ...
