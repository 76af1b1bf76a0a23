"""Settings from `veritask.toml` in the working directory and `VERITASK_*` variables.

Layers, lowest to highest: defaults here → `veritask.toml` → environment
(`VERITASK_STORE`, `VERITASK_BUDGET__MAX_SECONDS`, ...) → arguments passed in
code or on the command line. `.env.example` lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from veritask.errors import ConfigError

DEFAULT_STORE = "sqlite:///.veritask/runs.db"
DEFAULT_MODEL = "local:smollm2-135m"


class Budget(BaseModel):
    """Per-run limits; `None` means unlimited. A run that hits one stops scheduling
    new work, records `BudgetExceeded`, and returns what it has."""

    model_config = {"frozen": True, "extra": "forbid"}

    max_seconds: float | None = Field(default=None, gt=0)
    max_tasks: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_usd: float | None = Field(default=None, ge=0)
    max_model_calls: int | None = Field(default=None, ge=1)


class ModelEntry(BaseModel):
    """Per-model overrides: endpoint, key variable, prices (USD per million tokens)."""

    model_config = {"frozen": True, "extra": "forbid"}

    base_url: str | None = None
    api_key_env: str | None = None
    input_usd_per_mtok: float | None = Field(default=None, ge=0)
    output_usd_per_mtok: float | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, ge=1)
    path: str | None = None
    """GGUF file for a `local:` model other than the shipped smollm2-135m."""
    response_format: Literal["json_schema", "json_object"] | None = None
    """How an OpenAI-compatible server takes a JSON schema; None tries json_schema, then
    llama-cpp-python's json_object+schema."""


class Settings(BaseSettings):
    """Everything configurable. Construct with keyword arguments to override files and env."""

    model_config = SettingsConfigDict(
        env_prefix="VERITASK_",
        env_nested_delimiter="__",
        toml_file="veritask.toml",
        extra="forbid",
    )

    store: str = DEFAULT_STORE
    model: str = DEFAULT_MODEL
    concurrency: int = Field(default=8, ge=1, le=1024)
    budget: Budget = Field(default_factory=Budget)
    answer_threshold: float = Field(default=0.5, ge=0, le=1)
    toolkits: list[str] = Field(default_factory=lambda: ["geo"])
    """Toolkits questions are planned with, by name (entry points or --import)."""
    question_seconds: float = Field(default=120.0, gt=0)
    """Wall-time budget of a question (`run`) when the run budget sets no max_seconds:
    a question never runs longer than this, whatever the model does."""
    reuse_plans: bool = True
    """Plan a question of a remembered shape by filling its entities into the remembered
    plan, checked like a sampled one, with no model call (VERITASK_REUSE_PLANS)."""
    lease_ttl_s: float = Field(default=15.0, gt=0, le=3600)
    """How long a driver's lease on a run lasts without a heartbeat (renewed every ttl/3).
    A killed driver blocks `resume` at most this long (VERITASK_LEASE_TTL_S)."""
    broker_url: str = "redis://127.0.0.1:6379/0"
    """Celery broker and result backend of the `celery` backend and `veritask worker`
    (VERITASK_BROKER_URL)."""
    unplanned_agent: Literal["auto", "always", "never"] = "auto"
    """The bounded deep agent given a question no plan passed. `auto` runs it unless
    its model (route `deep`, else the planner's `plan` route) is the embedded
    SmolLM2-135M, which has just failed to plan the question: on the geography and
    railway suites that agent rescued none of 21 such questions, at ~3 s each
    (VERITASK_UNPLANNED_AGENT)."""
    model_state_dir: str = Field(default_factory=lambda: default_state_dir())
    """Where the embedded model keeps the evaluated state of system messages (the
    planner's instructions and tool catalogue, ~13 MB each, at most 6 files) so
    that the next process does not read them again (~2 s on two cores); "" keeps
    none (VERITASK_MODEL_STATE_DIR; default ~/.cache/veritask/model-states)."""
    routes: dict[str, list[str]] = Field(default_factory=dict)
    """Task kind (plan, extract, synthesize, verify, deep, escalate) → models to try in order."""
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    """Bearer keys `veritask serve` accepts (VERITASK_API_KEYS=k1,k2). Without any, the
    server binds only to loopback."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def default_state_dir() -> str:
    """`VERITASK_MODEL_STATE_DIR` if set ("" keeps nothing), else the user's cache
    directory (`XDG_CACHE_HOME`, else ~/.cache) / veritask / model-states."""
    chosen = os.environ.get("VERITASK_MODEL_STATE_DIR")
    if chosen is not None:
        return chosen
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache) / "veritask" / "model-states")


def load_settings(**overrides: Any) -> Settings:
    """Settings with `overrides` on top; a malformed file or variable is a ConfigError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        where = "veritask.toml" if Path("veritask.toml").exists() else "VERITASK_* environment"
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings (from arguments, {where}): {details}") from None
    except Exception as exc:  # a TOML syntax error surfaces as a plain exception
        raise ConfigError(f"cannot read veritask.toml: {exc}") from None
