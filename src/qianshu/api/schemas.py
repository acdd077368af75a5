"""Request and response bodies of the open API (the OpenAPI document is generated from
these)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import Field


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class OrgOut(Schema):
    id: str
    name: str
    credit_code: str
    status: str


class SealOut(Schema):
    id: str
    name: str
    kind: str
    status: str


class WebhookIn(Schema):
    url: str = Field(max_length=500)
    events: list[str]
    description: str = Field("", max_length=100)


class WebhookOut(Schema):
    id: str
    url: str
    events: list[str]
    description: str
    status: str
    created_at: dt.datetime
    failing_since: dt.datetime | None = None


class WebhookCreated(WebhookOut):
    secret: str


class SecretOut(Schema):
    secret: str


class AttemptOut(Schema):
    number: int
    started_at: dt.datetime
    status_code: int | None
    error: str
    ok: bool


class MessageOut(Schema):
    id: str
    event_type: str
    status: str
    attempts: list[AttemptOut]
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]


class VerifyOut(Schema):
    """The report of ``qianshu verify --json`` (see ``signing/verdicts.py``)."""

    verdict: str
    reason: str
    sha256: str
    size: int
    signatures: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    warnings: list[str]
    strict_parser: bool
    document_timestamped: bool
    revisions: int
    completed_revision: int | None
