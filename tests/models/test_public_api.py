from __future__ import annotations

import veritask.models as models

# What the rest of veritask imports; renaming any of these breaks callers.
REQUIRED = {"get_provider", "Router", "Completion", "ModelProvider", "ScriptedModel"}


def test_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(models) if not n.startswith("_")} - {"annotations"}
    submodules = {
        "anthropic_provider", "base", "cli", "confidence", "langchain_adapter", "local",
        "mentions", "openai_provider", "prices", "registry", "router", "scripted", "worker_scoring",
        "workers",
    }  # fmt: skip
    assert set(models.__all__) == public - submodules
    assert set(models.__all__) >= REQUIRED
    assert models.__all__ == sorted(models.__all__, key=lambda n: (not n.isupper(), n))


def test_importing_the_package_does_not_import_provider_sdks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, veritask.models; "
        "print(sorted(m for m in ('openai', 'anthropic', 'llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
