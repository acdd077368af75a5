"""Request and response bodies of the open API (the OpenAPI document is generated from
these)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

MAX_SEAL_BATCH = 200  # steps one call of 批量用印 seals


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
    granted_to_this_key: bool = Field(
        False, description="the seal is granted to the calling key (API 用印) and usable now"
    )


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


# --- Documents and envelopes ---------------------------------------------------------------

Role = Literal["signer", "seal", "approver", "cc"]
FieldType = Literal["signature", "seal", "cross_page_seal", "date", "text"]


class UploadOut(Schema):
    id: str
    name: str
    pages: int
    sha256: str


class OrgRef(Schema):
    name: str = Field(max_length=100)
    credit_code: str = Field("", max_length=18)


class FieldIn(Schema):
    """A field in PDF points with the origin at the page's top-left corner; ``page`` counts
    from 1. Or, instead of ``page``/``x``/``y``, an ``anchor``: words of the document (契约锁
    关键字定位) — the field goes just right of their first occurrence, vertically centred on
    them, moved by ``offset_x``/``offset_y``. ``width``/``height`` default to the type's usual
    size. A cross-page seal (骑缝章) takes ``pages`` (at least two) and its vertical position
    ``y``; it always sits on the right edge."""

    type: FieldType
    document: str
    page: int | None = Field(None, ge=1)
    pages: list[int] | None = None
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0
    anchor: str | None = Field(None, min_length=1, max_length=60)
    offset_x: float = 0
    offset_y: float = 0
    label: str = Field("", max_length=40)


class RecipientIn(Schema):
    role: Role
    order: int = Field(ge=1, le=99)
    name: str = Field(max_length=100)
    phone: str = ""
    email: str = ""
    org: OrgRef | None = None
    seal_kind: Literal["", "official", "contract", "finance", "hr", "legal_rep", "custom"] = Field(
        "", description="a seal role: the seal type it requires (指定印章类型)"
    )
    fields: list[FieldIn] = []


class PartyIn(Schema):
    """Who takes a template's role: a person (``name``, ``phone`` or ``email``), or for a seal
    role the organisation (``name``, ``credit_code``) and its contact (``contact_name``,
    ``phone``)."""

    name: str = Field(max_length=100)
    phone: str = Field("", max_length=20)
    email: str = Field("", max_length=254)
    contact_name: str = Field("", max_length=64)
    credit_code: str = Field("", max_length=18)


class EnvelopeIn(Schema):
    """Either ``documents`` and ``recipients``, or a ``template`` (one of the organisation's,
    ``GET /templates``) with a party for each of its open ``roles`` (by role label or key);
    ``data`` fills the template's data fields by name."""

    title: str = Field("", max_length=100)
    documents: list[str] = []
    recipients: list[RecipientIn] = []
    template: str | None = None
    roles: dict[str, PartyIn] = {}
    data: dict[str, str] = {}
    deadline: dt.datetime | None = None
    message: str = Field("", max_length=500)
    scene: str = Field("", max_length=40)
    send: bool = True


class RecipientOut(Schema):
    id: int
    role: str
    order: int
    name: str
    status: str
    viewed_at: dt.datetime | None
    done_at: dt.datetime | None
    reason: str


class DocumentOut(Schema):
    id: int
    name: str
    pages: int
    sha256: str


class EnvelopeOut(Schema):
    id: str
    number: str
    title: str
    status: str
    scene: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    completed_at: dt.datetime | None
    deadline: dt.datetime | None
    recipients: list[RecipientOut]
    documents: list[DocumentOut]


class EnvelopePage(Schema):
    items: list[EnvelopeOut]
    next_cursor: str | None


class ReasonIn(Schema):
    reason: str = Field("", max_length=300)


class RemindOut(Schema):
    reminded: int


class SigningUrlIn(Schema):
    expires_in: int = Field(900, ge=60, le=86400, description="seconds the link stays valid")


class SigningUrlOut(Schema):
    url: str
    expires_at: dt.datetime


class TemplateRoleOut(Schema):
    key: str
    label: str
    role: str
    order: int
    fixed: bool


class TemplateOut(Schema):
    id: str
    name: str
    version: int
    title: str
    roles: list[TemplateRoleOut]


class SealStepIn(Schema):
    envelope_id: str = Field(..., max_length=64, description="the envelope's id")
    recipient_id: int = Field(..., description="the organisation's seal step in it")


class SealBatchIn(Schema):
    steps: list[SealStepIn] = Field(..., min_length=1, max_length=MAX_SEAL_BATCH)


class SealStepOut(Schema):
    envelope_id: str
    recipient_id: int
    ok: bool
    repeated: bool = Field(description="sealed before, by a call with this Idempotency-Key")
    code: str | None = Field(description="why the step was refused (as in problem details)")
    detail: str | None
    status: str | None = Field(description="the envelope's status after the call")


class SealBatchOut(Schema):
    sealed: int
    refused: int
    results: list[SealStepOut]
