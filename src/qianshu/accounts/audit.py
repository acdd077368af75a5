"""Security events: who did what to an account, from where.

Each user's events form one keyed-MAC chain ``user:<id>`` (see :mod:`qianshu.core.chains`),
kept on an ``AuditChain`` row locked and updated with every event, and time-stamped by the
periodic anchors. Events without a user (a code sent to, or a failed login for, a phone with
no account) share one chain, ``anonymous``: they carry only the last four digits of the phone,
so there is no per-phone key to chain them by, the throttles bound how many there are, and the
row is locked only from the event to the end of a short transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from qianshu.accounts.models import SecurityAction, SecurityEvent, User
from qianshu.core import anchors, chains
from qianshu.core.chains import ChainBreak
from qianshu.core.meta import TASK, RequestMeta
from qianshu.core.models import AuditChain

ANONYMOUS = "anonymous"


def event_meta(meta: RequestMeta | None) -> RequestMeta:
    """Where an event came from (no ``meta``: a task of the platform's own)."""
    return meta if meta is not None else TASK


def chain_key(user_id: int | None) -> str:
    return ANONYMOUS if user_id is None else f"user:{user_id}"


def event_content(event: SecurityEvent) -> dict[str, Any]:
    """What an event's MAC covers besides its place in the chain (the chain names the user)."""
    return {
        "action": event.action,
        "time": event.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "detail": event.detail,
    }


def kind(action: object) -> str:
    """The stored code of a security event kind; ``ValueError`` for anything not a member."""
    if isinstance(action, str) and action in SecurityAction.values:
        return SecurityAction(action).value
    raise ValueError(f"not a SecurityAction: {action!r}")


def record_event(
    action: SecurityAction,
    *,
    user: User | None = None,
    meta: RequestMeta | None = None,
    **detail: Any,
) -> SecurityEvent:
    """Append a security event. Call inside the action's transaction; the user's chain row
    stays locked until it ends. ``action`` must be a :class:`SecurityAction` member (or its
    code); anything else is a programming error: ``ValueError``, nothing written."""
    where = event_meta(meta)
    event = SecurityEvent(
        user=user,
        action=kind(action),
        ip=where.ip,
        user_agent=where.user_agent,
        detail=detail,
        created_at=timezone.now(),
    )
    return chains.append(chain_key(user.pk if user else None), event, event_content)


def check_security_chain(chain: AuditChain) -> list[ChainBreak]:
    """Every problem of one user's (or the anonymous) security events."""
    events = SecurityEvent.objects.filter(chain=chain).order_by("seq", "pk")
    problems = chains.check_chain_events(
        chain, events.iterator(), event_content, anchors.checkpoints(chain.key)
    )
    # The user column may only be what the chain names, or NULL once that user was deleted.
    owner = None if chain.key == ANONYMOUS else int(chain.key.removeprefix("user:"))
    strays = SecurityEvent.objects.filter(chain=chain, user__isnull=False)
    if owner is not None:
        strays = strays.exclude(user_id=owner)
    problems += [
        ChainBreak(e.seq, f"event {e.seq} was moved to another user")
        for e in strays.only("seq")[:5]
    ]
    return sorted(problems, key=lambda p: p.seq)
