"""Hide values that look like credentials before they are shown or exported.

One function, `redact`, used by every output that shows run data to a person
or another system: `veritask show` (and `--events`), the `--json` summaries,
trace spans and the API. The event log itself is not rewritten — it never
holds a `$env:NAME` secret in the first place (those are resolved only when a
task runs), and a credential a tool put into its own result is hidden
wherever it is shown.

Two rules, both deliberately simple so a reader can predict them:

* a mapping entry whose name contains `key`, `token`, `secret` or `password`,
  or is `authorization` (any case), has its string values shown as `***`
  (numbers stay: `input_tokens: 120` is a count, not a credential);
* a string in a known credential format (`sk-…`, `sk-ant-…`, `ghp_…`,
  `xoxb-…`, AWS `AKIA…`, `Bearer …`) is replaced by `***` wherever it
  appears, also inside longer text such as an error message.

A `$env:NAME` reference is not a secret (it names one), so it stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

SECRET_NAME = re.compile(r"key|token|secret|password|passwd|^authorization$", re.IGNORECASE)
"""Names of fields and arguments whose string values are credentials."""

SECRET_VALUE = re.compile(
    r"\bsk-ant-[A-Za-z0-9_\-]{8,}"
    r"|\bsk-(?:proj-)?[A-Za-z0-9_\-]{16,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{20,}"
    r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bBearer\s+[A-Za-z0-9._~+/\-]+=*",
)
"""Credentials recognisable by their shape, wherever they appear in a string."""

_JSON_SECRET_FIELD = re.compile(
    r'("[^"]*(?:key|token|secret|password|passwd|authorization)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
"""`"api_key": "…"` inside text (a model's raw output, a JSON error body)."""

ENV_REF = re.compile(r"^\s*\$env:[A-Za-z_][A-Za-z0-9_]*\s*$")


def is_secret_name(name: str) -> bool:
    """Whether a field or argument called `name` holds a credential."""
    return bool(SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """`text` with every credential-shaped substring replaced by `***`."""
    if not text:
        return text
    text = SECRET_VALUE.sub(MASK, text)
    if '"' in text:
        text = _JSON_SECRET_FIELD.sub(lambda m: m.group(1) + f'"{MASK}"', text)
    return text


def redact(value: Any, name: str | None = None) -> Any:
    """A copy of `value` (JSON-like data) with credentials shown as `***`.

    `name` is the field the value sits under, when known: a secret-named field
    hides every string inside it. Containers are copied, never changed in place.
    """
    if name is not None and is_secret_name(name):
        return _mask_all(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redact_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """`redact` for a mapping, typed as one (JSON payloads of the CLI and the API)."""
    return {str(k): redact(v, str(k)) for k, v in value.items()}


def _mask_all(value: Any) -> Any:
    if isinstance(value, str):
        return value if not value or ENV_REF.match(value) else MASK
    if isinstance(value, Mapping):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_all(v) for v in value]
    return value


__all__ = ["MASK", "is_secret_name", "redact", "redact_dict", "redact_text"]
