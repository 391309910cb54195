"""Amazon's own SP-API models as test oracles.

Tests check what we send and what the emulator answers against the Swagger 2.0 files Amazon
publishes (github.com/amzn/selling-partner-api-models), so neither side can drift from the spec
unnoticed. The files live outside the repo: `$ORDERTOOLS_SPAPI_MODELS`, or else
`<repo>/../shared/spapi-models`. When they are absent, every test that needs them skips with a
reason that says where to point the variable.

Names: a *model* is a file stem ("orders_2026-01-01", "ordersV0", "tokens_2021-03-01"); a
*definition* is a key of its `definitions` ("Order", "ConfirmShipmentRequest").
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker

ORDERS = "orders_2026-01-01"
ORDERS_V0 = "ordersV0"
TOKENS = "tokens_2021-03-01"

MODELS_ENV = "ORDERTOOLS_SPAPI_MODELS"
_DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "spapi-models"

# RFC 3339 as Amazon writes it: a date, a time, optional fraction, and a zone (Z or ±hh:mm).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

# jsonschema only checks "date-time" when an optional package is installed; ours always does.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats apply to strings only; "type" catches the rest
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or _DEFAULT_DIR)


@cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_model(name: str) -> dict[str, Any]:
    """The parsed Swagger document `name` (e.g. "orders_2026-01-01"), or skip the test."""
    path = models_dir() / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"SP-API models not found at {path.parent}; set {MODELS_ENV}")
    return _load(path)


def validator(name: str, definition: str) -> Draft4Validator:
    """A Draft 4 validator for one definition, resolving `$ref`s against the whole document."""
    doc = load_model(name)
    if definition not in doc["definitions"]:
        raise KeyError(f"{name} has no definition {definition!r}")
    schema = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return Draft4Validator(schema, format_checker=FORMATS)


def schema_errors(name: str, definition: str, instance: Any) -> list[str]:
    """Every violation of `definition` by `instance`, as "path: message" lines (empty = valid)."""
    errors = validator(name, definition).iter_errors(instance)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"
        for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    ]


def assert_valid(name: str, definition: str, instance: Any) -> None:
    errors = schema_errors(name, definition, instance)
    assert not errors, f"{definition} invalid against {name}:\n" + "\n".join(errors[:20])


def operation(name: str, operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(HTTP method in capitals, path template, operation object) for an operationId."""
    for path, item in load_model(name)["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise KeyError(f"{name} has no operation {operation_id!r}")


def parameters(name: str, operation_id: str) -> list[dict[str, Any]]:
    """The operation's parameter objects (name, in, type, items.enum, maxItems, format ...)."""
    return list(operation(name, operation_id)[2].get("parameters", []))


def parameter(name: str, operation_id: str, param: str) -> dict[str, Any]:
    for p in parameters(name, operation_id):
        if p["name"] == param:
            return p
    raise KeyError(f"{operation_id} has no parameter {param!r}")


def response_definition(name: str, operation_id: str, status: int) -> str | None:
    """The definition a response with this status must match, or None when it has no body."""
    responses = operation(name, operation_id)[2]["responses"]
    response = responses.get(str(status))
    if response is None:
        raise KeyError(f"{operation_id} documents no {status} response")
    ref = (response.get("schema") or {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def response_headers(name: str, operation_id: str, status: int) -> set[str]:
    """Header names the spec documents for this response (e.g. x-amzn-RateLimit-Limit)."""
    response = operation(name, operation_id)[2]["responses"][str(status)]
    return set(response.get("headers", {}))


def assert_response_valid(name: str, operation_id: str, status: int, body: Any) -> None:
    """The body of a `status` answer to `operation_id` matches the spec's schema for it."""
    definition = response_definition(name, operation_id, status)
    if definition is None:
        assert body in (None, b"", ""), f"{operation_id} {status} must have no body, got {body!r}"
        return
    assert_valid(name, definition, body)


def validate_query(name: str, operation_id: str, query: dict[str, Any]) -> list[str]:
    """Problems with a request's query parameters against the spec's declarations.

    `query` maps names to a string or a list of strings (lists as the client would send them
    before joining with commas). Checks: names are declared, required ones are present, types
    (integer, date-time), enum members, and maxItems. The cross-parameter rules that only the
    descriptions state (exactly one of createdAfter/lastUpdatedAfter ...) are the caller's to test.
    """
    declared = {p["name"]: p for p in parameters(name, operation_id) if p["in"] == "query"}
    problems = [f"{key}: not a parameter of {operation_id}" for key in query if key not in declared]
    for key, spec in declared.items():
        if key not in query:
            if spec.get("required"):
                problems.append(f"{key}: required")
            continue
        value = query[key]
        values = value if isinstance(value, list) else str(value).split(",")
        if spec["type"] == "array":
            if "maxItems" in spec and len(values) > spec["maxItems"]:
                problems.append(f"{key}: more than {spec['maxItems']} items")
            allowed = spec.get("items", {}).get("enum")
            problems += [
                f"{key}: {v!r} not one of {allowed}" for v in values if allowed and v not in allowed
            ]
        elif spec["type"] == "integer" and not re.fullmatch(r"-?\d+", str(value)):
            problems.append(f"{key}: {value!r} is not an integer")
        elif spec.get("format") == "date-time" and not FORMATS.conforms(str(value), "date-time"):
            problems.append(f"{key}: {value!r} is not an ISO 8601 date-time")
    return problems
