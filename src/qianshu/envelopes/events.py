"""What an envelope's changes tell the initiating organisation's systems (webhooks).

Actions call :func:`emit` in their transaction, after the change is made (the payload shows
the state after it): one ``envelope.*`` or ``recipient.*`` event per user intent, never one
per document. Envelopes sent by a person without an organisation have no webhooks (endpoints
belong to organisations). The payload names people and organisations as the envelope shows
them and never carries phone numbers or ID numbers.
"""

from __future__ import annotations

from typing import Any

from qianshu.envelopes.models import Envelope, Recipient
from qianshu.webhooks.actions.messages import do_emit_event


def payload(envelope: Envelope, recipient: Recipient | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "envelope": {
            "id": str(envelope.uuid),
            "number": envelope.number,
            "title": envelope.title,
            "status": envelope.status,
        }
    }
    if recipient is not None:
        data["recipient"] = {
            "id": recipient.pk,
            "role": recipient.role,
            "order": recipient.routing_order,
            "name": recipient.name,
            "status": recipient.status,
        }
    return data


def emit(
    envelope: Envelope, event_type: str, *, recipient: Recipient | None = None, **extra: Any
) -> None:
    """Queue ``event_type`` for the initiating organisation's endpoints (in the caller's
    transaction; sent after it commits). ``extra`` goes into ``data`` (e.g. ``reason``)."""
    org = envelope.initiator_org
    if org is None or envelope.kind != Envelope.Kind.STANDARD:
        return  # personal envelopes; 作废声明 report through the original's envelope.voided
    data = payload(envelope, recipient)
    data.update(extra)
    do_emit_event(org, event_type, data)
