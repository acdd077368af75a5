"""Checks of API answers: against the OpenAPI document, and as problem details."""

from __future__ import annotations

import json
from typing import Any

import jsonschema


def check_openapi(openapi: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The response's status is documented for the operation and its JSON fits the schema."""
    operation = openapi["paths"][path][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {path} answered {response.status_code}, undocumented"
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return
    schema = {**content["schema"], "components": openapi["components"]}
    jsonschema.validate(json.loads(response.content), schema)


def problem_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:qianshu:problem:{code}" and body["title"] and body["detail"]
    return body
