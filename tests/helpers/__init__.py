"""Tool modules used by tests that need importable code (process backend, crash, CLI)."""
