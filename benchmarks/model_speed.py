"""How fast is the embedded model here, and what does the provider layer cost?

    .venv/bin/python benchmarks/model_speed.py [--runs 7] [--tokens 128] [--json]

Measures, on this machine, for `local:smollm2-135m`:

- load time of the GGUF (first use in the process);
- first-token latency: a ``max_tokens=1`` call (prompt evaluation + one sample);
- decode speed: tokens/second of a long greedy generation;
- provider overhead: `LocalProvider.acomplete` (via ``asyncio.run``, as a
  sync caller would) versus llama.cpp's own ``Llama.create_chat_completion``
  on the same loaded model, prompt, token cap and greedy sampling; runs are
  interleaved, each starts from an empty KV cache, and the overhead is the
  median of each run's provider/direct ratio per generated token, in wall
  time and in process CPU time (on a busy machine wall time mostly measures
  the neighbours);
- the extra cost of ``logprobs=True`` (our per-token log-softmax);
- two calls at once (``asyncio.gather``, as the planner draws its first two
  samples) against the same two calls one after the other: the second runs
  on the twin context (`veritask.models._llama_twin`) when the model decodes
  on one thread and there are two cores;
- plan samples on the planner's real prompts and grammars (the railway toolkit
  `examples.transit`, eight questions, greedy and temperature 0.7 each), with
  the text the grammar forces read in one batch
  (`veritask.models._llama_forced`, the default) and token by token: wall time
  and tokens written;
- what the `Router` adds per call around a model that answers instantly;
- peak resident memory of the process.

Each number is the median of `--runs` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veritask.models import user
from veritask.models.local import LocalProvider

PROMPT = [user("Write a long, detailed story about a lighthouse keeper and a storm.")]
SHORT = [user("What is the capital of France?")]


Sample = tuple[float, float, Any]  # wall seconds, CPU seconds, result


def timed(fn: Callable[[], Any]) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def run(runs: int, tokens: int) -> dict[str, Any]:
    provider = LocalProvider(n_threads=os.cpu_count())
    load_s, _, engine = timed(provider.engine)
    llama = engine.llama

    # Every measured call starts from an empty KV cache (llama.reset()), so both
    # paths evaluate the whole prompt: a new prompt, the honest first-token case.
    def via_provider(messages: list[dict[str, str]], n: int, logprobs: bool = False) -> Any:
        llama.reset()
        return asyncio.run(provider.acomplete(messages, max_tokens=n, logprobs=logprobs))

    def direct(messages: list[dict[str, str]], n: int) -> Any:
        llama.reset()
        return llama.create_chat_completion(messages=messages, max_tokens=n, temperature=0.0)

    via_provider(PROMPT, tokens)  # warm-up both paths
    direct(PROMPT, tokens)

    samples: dict[str, list[Sample]] = {k: [] for k in ("ft_p", "ft_d", "gen_p", "gen_d", "lp")}
    for _ in range(runs):  # interleaved, so load changes hit both paths alike
        samples["ft_p"].append(timed(lambda: via_provider(SHORT, 1)))
        samples["ft_d"].append(timed(lambda: direct(SHORT, 1)))
        samples["gen_p"].append(timed(lambda: via_provider(PROMPT, tokens)))
        samples["gen_d"].append(timed(lambda: direct(PROMPT, tokens)))
        samples["lp"].append(timed(lambda: via_provider(PROMPT, tokens, logprobs=True)))

    def wall(key: str) -> float:
        return median([w for w, _, _ in samples[key]])

    n_prov = median([float(r.usage.output_tokens) for _, _, r in samples["gen_p"]])
    n_dir = median([float(r["usage"]["completion_tokens"]) for _, _, r in samples["gen_d"]])

    def paired_overhead(i: int) -> float:
        """Median over runs of (provider / direct - 1), time per generated token.

        Each run's two measurements are seconds apart, so pairing them cancels
        most of the drift a shared machine adds between runs.
        """
        ratios = []
        for (pw, pc, pr), (dw, dc, dr) in zip(samples["gen_p"], samples["gen_d"], strict=True):
            p_tok, d_tok = pr.usage.output_tokens, dr["usage"]["completion_tokens"]
            p_t, d_t = (pw, dw) if i == 0 else (pc, dc)
            ratios.append((p_t / p_tok) / (d_t / d_tok) - 1)
        return round(median(ratios) * 100, 2)

    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "model": provider.name,
        "runs": runs,
        "max_tokens": tokens,
        "load_s": round(load_s, 3),
        "first_token_s": round(wall("ft_p"), 4),
        "first_token_direct_s": round(wall("ft_d"), 4),
        "output_tokens": n_prov,
        "generation_s": round(wall("gen_p"), 3),
        "tokens_per_s": round(n_prov / wall("gen_p"), 1),
        "direct_output_tokens": n_dir,
        "direct_generation_s": round(wall("gen_d"), 3),
        "direct_tokens_per_s": round(n_dir / wall("gen_d"), 1),
        "provider_overhead_wall_pct": paired_overhead(0),
        "provider_overhead_cpu_pct": paired_overhead(1),
        "logprobs_overhead_wall_pct": round((wall("lp") / wall("gen_p") - 1) * 100, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def two_calls(runs: int, tokens: int) -> dict[str, float]:
    """Wall time of two calls one after the other and at once (median of runs): the
    planner's pair, one greedy and one at a temperature, on the same prompt. One
    after the other, the second follows the first's recorded path until they
    part (`_llama_decode`); at once, it decodes on the twin from the start."""
    provider = LocalProvider(seed=3)
    engine = provider.engine()

    async def pair(at_once: bool) -> None:
        for slot in (engine, engine.twin):
            if slot is not None:
                slot.llama.reset()
                slot.record = None
        calls = [provider.acomplete(PROMPT, max_tokens=tokens, temperature=t) for t in (0.0, 0.9)]
        if at_once:
            await asyncio.gather(*calls)
        else:
            for call in calls:
                await call

    asyncio.run(pair(True))  # makes the twin context, warms both
    apart, together = [], []
    for _ in range(runs):
        apart.append(timed(lambda: asyncio.run(pair(False)))[0])
        together.append(timed(lambda: asyncio.run(pair(True)))[0])
    return {
        "two_calls_one_after_the_other_s": round(median(apart), 3),
        "two_calls_at_once_s": round(median(together), 3),
        "two_calls_at_once_speedup": round(median(apart) / median(together), 2),
    }


def forced_text(runs: int) -> dict[str, float]:
    """The planner's real prompts and grammars (railway toolkit `examples.transit`,
    the first eight questions of its suite): a greedy and a temperature-0.7 sample
    of each, one after the other, with the text the grammar forces read in one
    batch (`_llama_forced`, the default) and token by token, runs interleaved.
    Median over runs of the eight questions' total wall time, and tokens written."""
    from veritask.bench.suite import load_suite
    from veritask.planner.catalog import Catalog
    from veritask.planner.grammar import build_grammar
    from veritask.planner.planner import Planner

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from examples.transit import transit

    catalog_planner = Planner(LocalProvider(seed=5), Catalog.from_toolkits([transit]))
    suite = load_suite(root / "bench" / "suites" / "transit.jsonl")
    questions = [q.question for q in suite[:8]]
    prompts = []
    for question in questions:
        asked = catalog_planner.relevance.asked(question)
        grammar = build_grammar(question, catalog_planner.catalog, asked)
        prompts.append((catalog_planner.messages(question, asked), grammar))
    provider = LocalProvider(seed=5)
    engine = provider.engine()

    async def pass_(jump: bool) -> int:
        engine.jump_forward = jump
        written = 0
        for messages, grammar in prompts:
            for t in (0.0, 0.7):
                out = await provider.acomplete(
                    messages, grammar=grammar, max_tokens=160, temperature=t
                )
                written += out.usage.output_tokens if out.usage else 0
        return written

    asyncio.run(pass_(True))  # warm-up: loads the model, saves the catalogue's state
    times: dict[bool, list[float]] = {True: [], False: []}
    tokens: dict[bool, list[int]] = {True: [], False: []}
    for _ in range(runs):
        for jump in (False, True):
            wall, _, written = timed(functools.partial(asyncio.run, pass_(jump)))
            times[jump].append(wall)
            tokens[jump].append(written)
    engine.jump_forward = True
    return {
        "plan_samples_token_by_token_s": round(median(times[False]), 3),
        "plan_samples_forced_in_batches_s": round(median(times[True]), 3),
        "plan_samples_forced_speedup": round(median(times[False]) / median(times[True]), 2),
        "plan_samples_tokens_token_by_token": statistics.median(tokens[False]),
        "plan_samples_tokens_forced": statistics.median(tokens[True]),
    }


def router_overhead_us(calls: int = 2000) -> dict[str, float]:
    """What the Router adds per call (chain, breaker, caps, timeout, budget charge),
    measured around a model that answers instantly, with a budget meter bound."""
    from veritask.budget import BudgetMeter, bind_meter
    from veritask.config import Budget, Settings
    from veritask.models import Router, ScriptedModel

    model = ScriptedModel(default="x")
    router = Router(Settings(model="m"), providers={"m": model})

    async def bench() -> tuple[float, float]:
        bind_meter(BudgetMeter(Budget(max_tokens=10**12)))
        started = time.perf_counter()
        for _ in range(calls):
            await model.acomplete(SHORT, max_tokens=8)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(calls):
            await router.acomplete("extract", SHORT, max_tokens=8)
        return bare, time.perf_counter() - started

    bare, routed = asyncio.run(bench())
    return {
        "bare_model_call_us": round(bare / calls * 1e6, 1),
        "routed_call_us": round(routed / calls * 1e6, 1),
        "router_overhead_us": round((routed - bare) / calls * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = (
        run(args.runs, args.tokens)
        | two_calls(args.runs, args.tokens)
        | forced_text(args.runs)
        | router_overhead_us()
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
