"""Evaluation harness: run a JSONL suite, score it, compare modes, inject faults.

`runner` answers questions and writes result lines (DESIGN.md's shape),
`score` turns results into metrics, `compare` runs the three modes and
writes a report with plots, `cli` mounts it all as `veritask bench`.
"""

from __future__ import annotations

from veritask.bench.runner import BenchConfig, BenchRun, arun_suite, run_suite
from veritask.bench.suite import RESULT_FIELDS, Question, load_results, load_suite

__all__ = [
    "RESULT_FIELDS",
    "BenchConfig",
    "BenchRun",
    "Question",
    "arun_suite",
    "load_results",
    "load_suite",
    "run_suite",
]
