"""Shared by the API tests: the published OpenAPI document and the checks of answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client


@pytest.fixture(scope="session")
def openapi(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        document = json.loads(Client().get("/api/v1/openapi.json").content)
    return document
