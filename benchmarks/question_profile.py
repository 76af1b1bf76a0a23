"""Where the time of one orchestrated question goes, phase by phase, on the embedded model.

    PYTHONPATH=src .venv/bin/python benchmarks/question_profile.py \\
        [--suite bench/suites/geo-dev.jsonl] [--import examples.transit] \\
        [--questions 4] [--ids q001,q003] [--json PATH]

Each question runs once through `Orchestrator.arun` (mode orchestrated,
memory off, as `veritask bench` runs it) after one warm-up generation that
loads the model. The phases are timed by wrapping the functions that do
them, in this process only (the library is not changed):

- ``relevance``: `Relevance.asked`, `Relevance.out_of_scope`, `question_spans`
  (the question matched against the catalogue, by meaning);
- ``prompt``: `Planner.messages` (example choice and prompt text);
- ``grammar``: `build_grammar` (the question's GBNF), and ``compile``: the
  llama.cpp grammar object built from it;
- ``tokenize``: the prompt's tokens (once per model call);
- per plan sample: ``prompt eval`` (`Llama.eval` of more than one token: the
  prompt tokens not already cached, in one piece or in pieces at the saved
  prefixes' boundaries, with how many), ``prefix states`` (saving and
  restoring them), ``sampler
  init`` (llama.cpp's sampler chain, which parses the grammar), ``sample``
  (choosing each token: grammar and sampling over the vocabulary, from the
  model's logits or from a replayed record), ``decode`` (`Llama.eval` of one
  token: each generated token), ``other`` (the rest of the call);
- ``checks``: `Planner._check` (parse, validate, relevance of each sample);
- ``run``: `Orchestrator.drive` (the tasks), of which ``assembly``: the
  assembler.

Printed: one row per question (seconds), one row per sample, the total
share of each phase, and the process's CPU time (threads that spin while
they wait show there, not in the phases). Wall times on a shared machine carry the neighbours'
load; compare runs made back to back, and prefer ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import veritask.models._llama_decode as decode
import veritask.models.local as local
import veritask.pipeline.question as question_mod
import veritask.planner.planner as planner_mod
from veritask.bench.runner import BenchConfig, _Factory
from veritask.bench.suite import Question, load_suite
from veritask.models.base import user
from veritask.pipeline.orchestrator import Orchestrator
from veritask.planner.relevance import Relevance

try:
    import veritask.models._llama_prefix as prefix_mod
except ImportError:  # before the prefix states had a module of their own
    prefix_mod = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHASES = ("prompt eval", "prefix states", "sampler init", "sample", "decode", "other")
QUESTION_PHASES = (
    "relevance",
    "prompt",
    "grammar",
    "compile",
    "tokenize",
    "samples",
    "checks",
    "run",
)


@dataclass
class SampleTimes:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    prompt_tokens: int = 0
    evaluated: int = 0
    generated: int = 0
    replayed: int = 0
    total: float = 0.0


@dataclass
class QuestionTimes:
    qid: str
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    samples: list[SampleTimes] = field(default_factory=list)
    total: float = 0.0
    status: str = ""
    answer: str = ""


class Profile:
    """The question being profiled; wrappers add their time to it."""

    def __init__(self) -> None:
        self.current: QuestionTimes | None = None
        self.sample: SampleTimes | None = None
        self._depth: dict[str, int] = defaultdict(int)

    @contextmanager
    def phase(self, name: str, *, sample: bool = False) -> Iterator[None]:
        # Nested calls of the same phase (a wrapped function calling another) count once.
        self._depth[name] += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth[name] -= 1
            if self._depth[name] == 0:
                spent = time.perf_counter() - start
                target = self.sample if sample else self.current
                if target is not None:
                    target.seconds[name] += spent


PROFILE = Profile()
REPLAY = True
"""`--no-replay`: decode every sample in full (the engine's behaviour before replay)."""
FAST_GREEDY = True
"""`--no-fast-greedy`: greedy samples run llama.cpp's whole sampler chain."""
FAST_TEMPERATURE = True
"""`--no-fast-temperature`: samples at a temperature run llama.cpp's whole chain."""
DECODE_THREADS = 0
"""`--decode-threads N`: decode single tokens on N threads (0: the engine's default)."""


def timed(fn: Callable[..., Any], name: str, *, sample: bool = False) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        with PROFILE.phase(name, sample=sample):
            return fn(*args, **kw)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def timed_async(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kw: Any) -> Any:
        with PROFILE.phase(name):
            return await fn(*args, **kw)

    return wrapper


def instrument_library() -> None:
    """Wrap the functions each phase runs (module globals and class attributes)."""
    Relevance.asked = timed(Relevance.asked, "relevance")  # type: ignore[method-assign]
    Relevance.out_of_scope = timed(Relevance.out_of_scope, "relevance")  # type: ignore[method-assign]
    planner_mod.question_spans = timed(planner_mod.question_spans, "relevance")
    planner_mod.Planner.messages = timed(planner_mod.Planner.messages, "prompt")  # type: ignore[method-assign]
    planner_mod.build_grammar = timed(planner_mod.build_grammar, "grammar")
    planner_mod.Planner._check = timed(planner_mod.Planner._check, "checks")  # type: ignore[method-assign]
    local._grammar_from_gbnf = timed(local._grammar_from_gbnf, "compile")
    Orchestrator.drive = timed_async(Orchestrator.drive, "run")  # type: ignore[method-assign]
    question_mod._assemble = timed(question_mod._assemble, "assembly")
    original_sample = local._Engine.sample

    def sample(engine: local._Engine, tokens: list[int], **kw: Any) -> Any:
        instrument_engine(engine)
        engine.replay = REPLAY
        engine.fast_greedy = FAST_GREEDY
        engine.fast_temperature = FAST_TEMPERATURE
        if DECODE_THREADS:
            batch = engine._llama_cpp.llama_n_threads_batch(engine.llama._ctx.ctx)
            engine._llama_cpp.llama_set_n_threads(engine.llama._ctx.ctx, DECODE_THREADS, batch)
        times = SampleTimes(prompt_tokens=len(tokens))
        PROFILE.sample = times
        before = engine.evaluated
        start = time.perf_counter()
        try:
            out = original_sample(engine, tokens, **kw)
        finally:
            times.total = time.perf_counter() - start
            times.evaluated = engine.evaluated - before
            PROFILE.sample = None
        times.generated = out.output_tokens
        times.replayed = getattr(out, "replayed", 0)
        if PROFILE.current is not None:
            PROFILE.current.samples.append(times)
        return out

    local._Engine.sample = sample  # type: ignore[method-assign]
    states = getattr(prefix_mod, "PrefixStates", None) if prefix_mod else None
    if states is not None:  # saving and restoring the prompt prefixes' states
        states._save = timed(states._save, "prefix states", sample=True)
        states._load = timed(states._load, "prefix states", sample=True)
    # the engine's own token loop, if any
    for name in ("_Chooser", "_GreedyChooser", "_TemperatureChooser"):
        chooser = getattr(decode, name, None)
        if chooser is not None:  # choosing a token, live or replayed
            chooser.live = timed(chooser.live, "sample", sample=True)
            chooser.replayed = timed(chooser.replayed, "sample", sample=True)
    local._Engine.prompt_tokens = timed(  # type: ignore[method-assign]
        local._Engine.prompt_tokens, "tokenize"
    )


def instrument_engine(engine: local._Engine) -> None:
    """Wrap the loaded Llama object's eval, sample and sampler set-up (once)."""
    llama = engine.llama
    if getattr(llama, "_profiled", False):
        return
    llama._profiled = True
    eval_fn, sample_fn, init_fn = llama.eval, llama.sample, llama._init_sampler

    def eval_(tokens: Any) -> Any:
        # The prompt is evaluated in one piece, or in pieces at the saved prefixes'
        # boundaries, always at least two tokens at the end; decoding is one token.
        with PROFILE.phase("prompt eval" if len(tokens) > 1 else "decode", sample=True):
            return eval_fn(tokens)

    llama.eval = eval_
    llama.sample = timed(sample_fn, "sample", sample=True)
    llama._init_sampler = timed(init_fn, "sampler init", sample=True)


def pick(path: Path, ids: list[str], n: int) -> list[Question]:
    qs = load_suite(path)
    if ids:
        return [q for q in qs if q.id in ids]
    step = max(1, len(qs) // n)  # spread over the suite's kinds
    return qs[::step][:n]


async def profile(questions: list[Question], config: BenchConfig) -> list[QuestionTimes]:
    factory = _Factory(config, settings=None, model=None, registry=None, store=None)
    await factory.model.acomplete([user("Reply with OK.")], max_tokens=2)
    out = []
    for q in questions:
        orch, _ = factory.make(q)
        times = QuestionTimes(q.id)
        PROFILE.current = times
        start = time.perf_counter()
        result = await orch.arun(q.question)
        times.total = time.perf_counter() - start
        PROFILE.current = None
        answer = result.answer
        times.status = answer.status.value if answer else "none"
        times.answer = (answer.text if answer else "")[:60]
        times.seconds["samples"] = sum(s.total for s in times.samples)
        out.append(times)
        print(f"  {q.id}: {times.total:.2f} s {times.status}", flush=True)
    return out


def report(rows: list[QuestionTimes]) -> None:
    head = ["question", "total", *QUESTION_PHASES, "assembly", "#samples", "status"]
    print("\nPer question (s):")
    print(" | ".join(head))
    grand: dict[str, float] = defaultdict(float)
    for r in rows:
        cells = [r.qid, f"{r.total:.2f}"]
        for p in (*QUESTION_PHASES, "assembly"):
            cells.append(f"{r.seconds.get(p, 0.0):.3f}")
            grand[p] += r.seconds.get(p, 0.0)
        cells += [str(len(r.samples)), r.status]
        grand["total"] += r.total
        print(" | ".join(cells))
    print("\nPer sample (s; tokens):")
    print(
        " | ".join(
            [
                "question",
                "#",
                "prompt",
                "evaluated",
                "generated",
                "replayed",
                "total",
                *SAMPLE_PHASES,
            ]
        )
    )
    for r in rows:
        for i, s in enumerate(r.samples):
            other = s.total - sum(v for k, v in s.seconds.items() if k != "other")
            s.seconds["other"] = other
            for k, v in s.seconds.items():
                grand[f"sample {k}"] += v
            cells = [r.qid, str(i), str(s.prompt_tokens), str(s.evaluated), str(s.generated)]
            cells.append(str(s.replayed))
            cells += [f"{s.total:.3f}"] + [f"{s.seconds.get(p, 0.0):.3f}" for p in SAMPLE_PHASES]
            print(" | ".join(cells))
    total = grand["total"] or 1.0
    print("\nShare of all questions' wall time:")
    named = [*QUESTION_PHASES, "assembly", *(f"sample {p}" for p in SAMPLE_PHASES)]
    for p in named:
        print(f"  {p:20s} {grand[p]:8.2f} s  {100 * grand[p] / total:5.1f} %")
    print(f"  {'total':20s} {grand['total']:8.2f} s")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"  process CPU (user+sys, whole run) {usage.ru_utime + usage.ru_stime:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default=str(ROOT / "bench/suites/geo-dev.jsonl"))
    ap.add_argument("--import", dest="imports", action="append", default=[])
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--ids", default="")
    ap.add_argument("--store", default="sqlite:////tmp/question_profile.db")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-replay", action="store_true", help="decode every sample in full")
    ap.add_argument("--no-fast-greedy", action="store_true", help="greedy via the whole chain")
    ap.add_argument(
        "--no-fast-temperature", action="store_true", help="temperature via the whole chain"
    )
    ap.add_argument("--decode-threads", type=int, default=0, help="threads per decoded token")
    args = ap.parse_args()
    global REPLAY, FAST_GREEDY, FAST_TEMPERATURE, DECODE_THREADS
    FAST_TEMPERATURE = not args.no_fast_temperature
    DECODE_THREADS = args.decode_threads
    REPLAY = not args.no_replay
    FAST_GREEDY = not args.no_fast_greedy
    instrument_library()
    config = BenchConfig(imports=tuple(args.imports), store=args.store)
    qs = pick(Path(args.suite), [i for i in args.ids.split(",") if i], args.questions)
    rows = asyncio.run(profile(qs, config))
    report(rows)
    if args.json:
        data = [
            {
                "id": r.qid,
                "total": r.total,
                "status": r.status,
                "phases": dict(r.seconds),
                "samples": [
                    {
                        "prompt_tokens": s.prompt_tokens,
                        "evaluated": s.evaluated,
                        "generated": s.generated,
                        "replayed": s.replayed,
                        "total": s.total,
                        "phases": dict(s.seconds),
                    }
                    for s in r.samples
                ],
            }
            for r in rows
        ]
        args.json.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
