"""The envelope audit trail: append-only, hash-chained events, and the check of the chain.

Each event's hash is SHA-256 over a canonical JSON of its content (sequence number, action,
actor, time in UTC, IP, user agent, document hashes, detail) and the previous event's hash.
Changing, deleting or reordering a row makes :func:`check_chain` report the first broken link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from qianshu.accounts.audit import client_ip, user_agent
from qianshu.accounts.models import User
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.identity.models import PersonIdentity

GENESIS = "0" * 64


def person_identity(user: User) -> PersonIdentity | None:
    """The user's verified identity, looked up once per user object (an action asks several
    times: the real-name check, audit events, notifications)."""
    if not hasattr(user, "_qianshu_identity"):
        related = User.person_identity
        if related.is_cached(user):  # joined already (select_related("…person_identity"))
            found = related.related.get_cached_value(user)
        else:
            from qianshu.identity.access import verified_identity

            found = verified_identity(user)
        user._qianshu_identity = found  # type: ignore[attr-defined]
    return user._qianshu_identity  # type: ignore[attr-defined]


def person_label(user: User | None) -> str:
    """A user's verified name if there is one, else the display name or masked phone."""
    if user is None:
        return ""
    identity = person_identity(user) if user.is_authenticated else None
    if identity is not None:
        return identity.name
    return user.display_name or user.masked_phone


def _canonical(event: AuditEvent) -> bytes:
    created = event.created_at.astimezone(dt.UTC) if event.created_at else None
    content = {
        "envelope": str(event.envelope.uuid),
        "seq": event.seq,
        "action": event.action,
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "recipient": event.recipient_id,
        "time": created.isoformat(timespec="microseconds") if created else "",
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "document": event.document_name,
        "before": event.sha256_before,
        "after": event.sha256_after,
        "detail": event.detail,
        "prev": event.prev_hash,
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def record(
    envelope: Envelope,
    action: str,
    *,
    actor: User | None = None,
    recipient: Recipient | None = None,
    request: HttpRequest | None = None,
    document_name: str = "",
    sha256_before: str = "",
    sha256_after: str = "",
    **detail: Any,
) -> AuditEvent:
    """Append an event. Call inside the action's transaction, with the envelope row locked
    (``select_for_update``) so that two events never take the same sequence number."""
    last = (
        AuditEvent.objects.filter(envelope=envelope).order_by("-seq").values("seq", "hash").first()
    )
    actor = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        envelope=envelope,
        seq=(last["seq"] + 1) if last else 1,
        action=action,
        actor=actor,
        actor_name=person_label(actor)[:100],
        recipient=recipient,
        created_at=timezone.now(),
        ip=client_ip(request),
        user_agent=user_agent(request),
        document_name=document_name[:200],
        sha256_before=sha256_before,
        sha256_after=sha256_after,
        detail=detail,
        prev_hash=last["hash"] if last else GENESIS,
    )
    event.hash = event_hash(event)
    event.save()
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def check_events(events: Iterable[AuditEvent]) -> ChainBreak | None:
    """The first broken link of one envelope's events (in ``seq`` order), or None."""
    previous = GENESIS
    expected_seq = 1
    for event in events:
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != previous:
            return ChainBreak(event.seq, "the link to the previous event does not match")
        if event_hash(event) != event.hash:
            return ChainBreak(event.seq, "the event was altered after it was written")
        previous = event.hash
        expected_seq += 1
    return None


def check_chain(envelope: Envelope) -> ChainBreak | None:
    events = AuditEvent.objects.filter(envelope=envelope).select_related("envelope")
    return check_events(events.order_by("seq"))


def chain_head(envelope: Envelope) -> str:
    last = AuditEvent.objects.filter(envelope=envelope).order_by("-seq").values("hash").first()
    return last["hash"] if last else GENESIS
