"""What the planner plans with: the active tools and what their toolkits say of them.

A `Catalog` merges the active toolkits (and the core tools) into one view:
the registry of tools, a vocabulary term → words, the prompt notes and the
example plans. Every domain word the planner ever uses comes from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from veritask.tools.registry import ToolRegistry, ToolSpec
from veritask.tools.toolkit import Toolkit, core_specs
from veritask.types import Plan


@dataclass(frozen=True)
class Target:
    """Something a question can ask for: a tool's output field, or a tool's whole value."""

    tool: str
    field: str | None
    kind: str
    """`number`, `text`, `bool`, `list` or `other`."""
    words: tuple[str, ...]
    """Name words and vocabulary words, as the toolkit spells them."""
    description: str

    @property
    def key(self) -> str:
        return f"{self.tool}.{self.field}" if self.field else self.tool

    @property
    def document(self) -> str:
        """The text this target is matched against by meaning."""
        head = ", ".join(dict.fromkeys(self.words))
        return f"{head}. {self.description}" if self.description else head


@dataclass(frozen=True)
class Catalog:
    registry: ToolRegistry
    vocabulary: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    examples: tuple[tuple[str, Plan], ...] = ()
    toolkits: tuple[str, ...] = ()

    @classmethod
    def from_toolkits(cls, toolkits: Sequence[Toolkit]) -> Catalog:
        """The merged view of `toolkits`, plus the core tools (calc, larger)."""
        specs: dict[str, ToolSpec] = {s.name: s for s in core_specs()}
        vocabulary: dict[str, list[str]] = {}
        for tk in toolkits:
            for spec in tk.specs:
                specs[spec.name] = spec
            for term, words in tk.vocabulary.items():
                vocabulary.setdefault(term, []).extend(words)
        return cls(
            registry=ToolRegistry(list(specs.values())),
            vocabulary={k: tuple(dict.fromkeys(v)) for k, v in vocabulary.items()},
            notes=tuple(tk.notes for tk in toolkits if tk.notes),
            examples=tuple(pair for tk in toolkits for pair in tk.plans),
            toolkits=tuple(tk.name for tk in toolkits),
        )

    @classmethod
    def of_registry(cls, registry: ToolRegistry) -> Catalog:
        """A catalog of bare tools: no vocabulary, notes or examples."""
        return cls(registry=registry)

    def targets(self) -> list[Target]:
        """Everything a question may ask for, from the tools' typed outputs."""
        out = []
        for spec in self.planned_tools():
            if spec.output_fields:
                for name in sorted(spec.output_fields):
                    words = (_words_of_name(name), *self.vocabulary.get(name, ()))
                    kind = spec.output_kinds.get(name, "other")
                    out.append(Target(spec.name, name, kind, words, ""))
            else:
                words = (_words_of_name(spec.name), *self.vocabulary.get(spec.name, ()))
                out.append(Target(spec.name, None, spec.result_kind, words, spec.description))
        return out

    def planned_tools(self) -> list[ToolSpec]:
        """Tools a question is answered from: all but the core computing tools."""
        core = {s.name for s in core_specs()}
        return [s for s in self.registry if s.name not in core]

    def words_for(self, names: Iterable[str]) -> list[str]:
        """Name words and vocabulary words of tools, parameters or fields."""
        out = []
        for name in names:
            out.append(_words_of_name(name))
            out.extend(self.vocabulary.get(name, ()))
        return out


def _words_of_name(name: str) -> str:
    """`price_usd` → "price usd", `math.factorial` → "math factorial"."""
    return name.replace("_", " ").replace(".", " ").replace("-", " ").strip()


__all__ = ["Catalog", "Target"]
