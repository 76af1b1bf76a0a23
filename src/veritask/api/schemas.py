"""Request and response bodies of the HTTP API (pydantic: they are parsed at the edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from veritask.config import Budget

Mode = Literal["orchestrated", "single-agent", "static"]


class RunRequest(BaseModel):
    """`POST /v1/runs`: a question to plan and answer, or a ready plan to execute."""

    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(default=None, description="A question in plain language.")
    plan: dict[str, Any] | None = Field(
        default=None, description="A plan: {goal, tasks, answer_template}; runs without planning."
    )
    mode: Mode = Field(default="orchestrated", description="How a question is answered.")
    model: str | None = Field(default=None, description="e.g. openai:gpt-4o; default: config.")
    budget: Budget | None = None
    toolkits: list[str] | None = Field(
        default=None, description="Toolkit names to plan with; default: config."
    )

    @model_validator(mode="after")
    def _one_of(self) -> RunRequest:
        if (self.question is None) == (self.plan is None):
            raise ValueError('give exactly one of "question" or "plan"')
        if self.question is not None and not self.question.strip():
            raise ValueError('"question" is empty; ask something')
        return self


class RunAccepted(BaseModel):
    """A run started (or, for a repeated Idempotency-Key, the run it started before)."""

    run_id: str
    status: str
    replayed: bool = False
    links: dict[str, str]


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"type", "message"}}` (OpenAI's shape)."""

    error: dict[str, Any]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; content parts other than text are ignored."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ChatRequest(BaseModel):
    """`POST /v1/chat/completions`, OpenAI's shape; sampling parameters are accepted
    and ignored (the plan decides what runs)."""

    model_config = ConfigDict(extra="allow")

    model: str = "veritask"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
