"""Property-based requests from the OpenAPI schema (schemathesis): whatever the input,
no 5xx, only documented status codes, and JSON where JSON is promised."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from tests.api._app import make_app

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

APP = make_app(keys=("schema-key",))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_honours_its_schema(case: Any) -> None:
    case.headers = {**(case.headers or {}), "Authorization": "Bearer schema-key"}
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
