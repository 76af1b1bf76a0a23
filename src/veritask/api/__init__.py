"""The HTTP service: runs over REST, live events over SSE, a web run view, and an
OpenAI-compatible chat endpoint. `create_app` builds the FastAPI app; `veritask serve`
runs it under uvicorn.

Needs the `server` extra (fastapi, uvicorn). Holds no logic of its own: every
route is a thin shell over `Orchestrator` and the run store.
"""

from __future__ import annotations

from veritask.api.app import create_app
from veritask.api.service import ApiConfig, OrchestratorFactory, RunOptions, RunService

__all__ = ["ApiConfig", "OrchestratorFactory", "RunOptions", "RunService", "create_app"]
