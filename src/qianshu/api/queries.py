"""The open API's reads of envelopes: ``GET /envelopes/{id}`` and a page of ``GET /envelopes``.

An answer is the envelope with its recipients and documents. Through the ORM that is three
statements (the envelope, then one prefetch each), and building them cost more than two
thirds of a ``GET``'s worker time: the read an integration polls most. On PostgreSQL it is
one hand-written statement instead, the recipients and documents gathered as JSON arrays by
subqueries, with nothing compiled per request. Other databases (the embedded SQLite) take the
ORM's path. Both give the same answer, scoped the same way: the organisation's own envelopes
of the standard kind (``tests/api/test_envelopes_api.py`` compares them on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet

from qianshu.api.actions.envelopes import DOCUMENT_FIELDS, RECIPIENT_FIELDS, ROLES
from qianshu.api.schemas import DocumentOut, EnvelopeOut, RecipientOut
from qianshu.envelopes.models import Document, Envelope, Recipient

# Ordered explicitly: the models' default orderings start with the envelope, which would join
# the envelope table into each prefetch.
RELATED = (
    Prefetch(
        "recipients",
        queryset=Recipient.objects.only(*RECIPIENT_FIELDS).order_by("routing_order", "pk"),
    ),
    Prefetch(
        "documents",
        queryset=Document.objects.only(*DOCUMENT_FIELDS).order_by("position", "pk"),
    ),
)
# What the answers show (plus what the actions read: they lock and reload the row anyway).
ENVELOPE_FIELDS = (
    "uuid",
    "number",
    "title",
    "status",
    "scene",
    "kind",
    "created_at",
    "sent_at",
    "completed_at",
    "deadline",
    "initiator_id",
    "initiator_org_id",
    "report_id",
)
_ROLE_NAMES = {stored: name for name, stored in ROLES.items()}
# The answer's columns, in the order the statement selects them.
_ANSWER_COLUMNS = (
    "uuid", "number", "title", "status", "scene", "created_at", "sent_at", "completed_at",
    "deadline",
)  # fmt: skip
_RECIPIENT_COLUMNS = (
    "id", "role", "routing_order", "name", "status", "viewed_at", "done_at", "reason",
)  # fmt: skip


def _org_models(org_id: int) -> QuerySet[Envelope]:
    """The organisation's standard envelopes as models, with what an answer shows."""
    return (
        Envelope.objects.filter(initiator_org_id=org_id, kind=Envelope.Kind.STANDARD)
        .only(*ENVELOPE_FIELDS)
        .prefetch_related(*RELATED)
    )


def org_envelope(org_id: int, value: str) -> Envelope | None:
    """The organisation's standard envelope ``value`` as a model, for the calls that act on it
    (their actions lock and reload the row)."""
    return _org_models(org_id).filter(uuid=value).first()


def envelope_out(envelope: Envelope) -> EnvelopeOut:
    """The answer for a model read with :data:`ENVELOPE_FIELDS` and :data:`RELATED`."""
    return EnvelopeOut(
        id=str(envelope.uuid),
        number=envelope.number,
        title=envelope.title,
        status=envelope.status,
        scene=envelope.scene,
        created_at=envelope.created_at,
        sent_at=envelope.sent_at,
        completed_at=envelope.completed_at,
        deadline=envelope.deadline,
        recipients=[
            RecipientOut(
                id=r.pk,
                role=_ROLE_NAMES[r.role],
                order=r.routing_order,
                name=r.name,
                status=r.status,
                viewed_at=r.viewed_at,
                done_at=r.done_at,
                reason=r.reason,
            )
            # Both in order: by RELATED, or by the models' default orderings (an envelope an
            # action returns).
            for r in envelope.recipients.all()
        ],
        documents=[
            DocumentOut(id=d.pk, name=d.name, pages=d.page_count, sha256=d.current_id)
            for d in envelope.documents.all()
        ],
    )


def envelope_answer(org_id: int, value: str) -> EnvelopeOut | None:
    """``GET /envelopes/{id}``: the organisation's standard envelope ``value``, or None."""
    if connection.vendor != "postgresql":
        envelope = org_envelope(org_id, value)
        return None if envelope is None else envelope_out(envelope)
    found = _answers(org_id, "e.uuid = %s", [value])
    return found[0] if found else None


def envelope_answers(org_id: int, ids: Sequence[int]) -> list[EnvelopeOut]:
    """The answers for ``ids`` (a page of the organisation's envelopes), newest first."""
    if not ids:
        return []
    if connection.vendor != "postgresql":
        page = _org_models(org_id).filter(pk__in=list(ids)).order_by("-pk")
        return [envelope_out(e) for e in page]
    return _answers(org_id, "e.id = ANY(%s::bigint[])", [list(ids)])


def _answers(org_id: int, condition: str, params: list[Any]) -> list[EnvelopeOut]:
    with connection.cursor() as cursor:
        cursor.execute(
            _statement().format(condition=condition),
            [org_id, Envelope.Kind.STANDARD.value, *params],
        )
        rows = cursor.fetchall()
    return [_answer(row) for row in rows]


def _answer(row: tuple[Any, ...]) -> EnvelopeOut:
    envelope = dict(zip(_ANSWER_COLUMNS, row, strict=False))
    envelope["id"] = str(envelope.pop("uuid"))
    recipients: Iterable[list[Any]] = row[-2] or ()
    documents: Iterable[list[Any]] = row[-1] or ()
    return EnvelopeOut(
        **envelope,
        recipients=[
            RecipientOut(
                id=r[0],
                role=_ROLE_NAMES[r[1]],
                order=r[2],
                name=r[3],
                status=r[4],
                viewed_at=r[5],  # ISO 8601 text in the JSON, parsed by the schema
                done_at=r[6],
                reason=r[7],
            )
            for r in recipients
        ],
        documents=[DocumentOut(id=d[0], name=d[1], pages=d[2], sha256=d[3]) for d in documents],
    )


@cache
def _statement() -> str:
    """The statement, its names quoted from the models (built once a process); ``{condition}``
    is one of this module's own conditions, never caller text."""
    q = connection.ops.quote_name
    envelope, recipient, document = (
        q(model._meta.db_table) for model in (Envelope, Recipient, Document)
    )
    columns = ", ".join(f"e.{q(name)}" for name in _ANSWER_COLUMNS)
    recipient_columns = ", ".join(f"r.{q(name)}" for name in _RECIPIENT_COLUMNS)
    # jsonb_array_length: Document.page_count, the length of page_boxes.
    return (
        f"SELECT {columns}, "  # noqa: S608 - quoted model names only (docstring)
        f"(SELECT json_agg(json_build_array({recipient_columns}) "
        f"ORDER BY r.{q('routing_order')}, r.{q('id')}) "
        f"FROM {recipient} r WHERE r.{q('envelope_id')} = e.{q('id')}), "
        f"(SELECT json_agg(json_build_array(d.{q('id')}, d.{q('name')}, "
        f"jsonb_array_length(d.{q('page_boxes')}), d.{q('current_id')}) "
        f"ORDER BY d.{q('position')}, d.{q('id')}) "
        f"FROM {document} d WHERE d.{q('envelope_id')} = e.{q('id')}) "
        f"FROM {envelope} e WHERE e.{q('initiator_org_id')} = %s AND e.{q('kind')} = %s "
        "AND {condition} "
        f"ORDER BY e.{q('id')} DESC"
    )
