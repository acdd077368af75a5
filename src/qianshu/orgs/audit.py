"""The organisation log (OrgEvent): every verification step, member, seal and grant change.

Each organisation's events form one keyed-MAC chain ``org:<id>`` (see
:mod:`qianshu.core.chains`); its head and count are kept on an ``AuditChain`` row that is
locked and updated in the transaction that writes the event, and periodic anchors
(``qianshu anchor-audit``) time-stamp the heads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from qianshu.accounts.audit import event_meta
from qianshu.accounts.models import User
from qianshu.core import anchors, chains
from qianshu.core.chains import ChainBreak
from qianshu.core.meta import RequestMeta
from qianshu.core.models import AuditChain
from qianshu.orgs.models import OrgAction, Organization, OrgEvent


def chain_key(org_id: int) -> str:
    return f"org:{org_id}"


def event_content(event: OrgEvent) -> dict[str, Any]:
    """What an event's MAC covers besides its place in the chain (the chain names the org)."""
    return {
        "action": event.action,
        "actor": event.actor_id,
        "time": event.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "ip": event.ip or "",
        "detail": event.detail,
    }


def kind(action: object) -> str:
    """The stored code of an organisation event kind; ``ValueError`` for anything not a
    member."""
    if isinstance(action, str) and action in OrgAction.values:
        return OrgAction(action).value
    raise ValueError(f"not an OrgAction: {action!r}")


def record_org_event(
    org: Organization,
    action: OrgAction,
    *,
    actor: User | None,
    meta: RequestMeta | None = None,
    **detail: Any,
) -> OrgEvent:
    """Append an event to the organisation's log. Call inside the action's transaction; the
    organisation's chain row stays locked until it ends. ``action`` must be an
    :class:`OrgAction` member (or its code); anything else is a programming error:
    ``ValueError``, nothing written."""
    where = event_meta(meta)
    event = OrgEvent(
        org=org,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=kind(action),
        detail=detail,
        ip=where.ip,
        created_at=timezone.now(),
    )
    return chains.append(chain_key(org.pk), event, event_content)


def check_org_chain(chain: AuditChain) -> list[ChainBreak]:
    """Every problem of one organisation's log (``chain`` is its ``org:<id>`` row)."""
    org_id = int(chain.key.removeprefix("org:"))
    events = OrgEvent.objects.filter(chain=chain).order_by("seq", "pk")
    problems = chains.check_chain_events(
        chain, events.iterator(), event_content, anchors.checkpoints(chain.key)
    )
    strays = OrgEvent.objects.filter(chain=chain).exclude(org_id=org_id)
    problems += [
        ChainBreak(e.seq, f"event {e.seq} was moved to another organisation")
        for e in strays.only("seq")[:5]
    ]
    return sorted(problems, key=lambda p: p.seq)
