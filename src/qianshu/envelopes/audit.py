"""The envelope audit trail: append-only events chained with a keyed MAC, and its check.

Event *n*'s MAC covers its content (action, actor, time in UTC, IP, user agent, document
hashes, detail), its number, the envelope and event *n−1*'s MAC (see :mod:`qianshu.core.chains`).
The envelope row keeps the count and the head (the last MAC).

Concurrency: :func:`record` moves the head with one compare-and-swap ``UPDATE`` of the envelope
row (count and head as the caller's copy has them), which also locks the row until the
transaction ends; only when the copy is stale does it read the row ``FOR UPDATE`` and retry.
Actions lock the envelope first anyway, so events of one envelope are written one at a time
and an action's copy is current: one UPDATE per event, no read of earlier events. The event
row is inserted after the swap succeeded, so ``seq`` never collides.

At completion a time-stamp token of the platform TSA is taken over (envelope, count, head)
(a completion anchor, :mod:`qianshu.core.anchors`) and the evidence report prints head, count
and the token's time and embeds the token. :func:`check_envelope` compares the events with the
row, the anchors and the stored report, and says where they differ.

Inside :func:`batched` (a signing step: 签署, 批量签署, API 用印), the events of the locked
envelope are chained in memory as they are recorded and written together when the block ends:
one compare-and-swap ``UPDATE`` for all of them and one multi-row ``INSERT`` — the same rows,
MACs and guarantees, in two statements instead of two per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from qianshu.accounts.audit import event_meta
from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.core import anchors, chains
from qianshu.core.chains import ChainBreak, Checkpoint, Link
from qianshu.core.labels import choice_label, event_kind_label
from qianshu.core.meta import RequestMeta
from qianshu.core.models import AuditAnchor
from qianshu.core.savepoints import Held
from qianshu.core.statements import Insert, Update
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.identity.models import PersonIdentity

# --- What the events say, in words (the one place their labels come from) ------------------
#
# An event's kind is ``AuditEvent.Action`` (stored in ``action``); some kinds say more in
# ``detail``: ``step`` (which part of the kind) and, for downloads, ``what``. The evidence report
# and the 签署日志 on the detail page show these labels, never the stored codes.

Action = AuditEvent.Action


class Step(models.TextChoices):
    """``detail["step"]``: which part of an event kind."""

    DOCUMENT_ADDED = "document_added", pgettext_lazy("audit step", "添加文件")
    DOCUMENT_REMOVED = "document_removed", pgettext_lazy("audit step", "删除文件")
    RESET = "reset", pgettext_lazy("audit step", "文件已修改，重新签署")
    CLAIMED = "claimed", pgettext_lazy("audit step", "认领")
    B_LTA = "b_lta", pgettext_lazy("audit step", "文件归档")
    ENVELOPE = "envelope", pgettext_lazy("audit step", "签署任务")


class Download(models.TextChoices):
    """``detail["what"]`` of a download."""

    DOCUMENT = "document", pgettext_lazy("audit download", "签署文件")
    REPORT = "report", pgettext_lazy("audit download", "签署报告")
    ARCHIVE = "archive", pgettext_lazy("audit download", "压缩包")


def event_label(event: AuditEvent) -> str:
    """The event's kind in words, with its step or download: 完成（文件归档）, 下载（签署报告）…"""
    action = event_kind_label(Action, event.action)
    detail = event.detail or {}
    part = choice_label(Step, detail.get("step")) or choice_label(Download, detail.get("what"))
    return _("%(action)s（%(part)s）") % {"action": action, "part": part} if part else action


def event_details(event: AuditEvent) -> list[str]:
    """What else the event says, labelled: the document, a reason, whom it went to, the seal,
    the void statement."""
    detail = event.detail or {}
    parts = [event.document_name] if event.document_name else []
    labelled = (
        ("reason", _("原因：%(value)s")),
        ("to", _("接收人：%(value)s")),
        ("seal", _("印章：%(value)s")),
        ("statement", _("作废声明：%(value)s")),
    )
    for key, text in labelled:
        if detail.get(key):
            parts.append(text % {"value": detail[key]})
    return parts


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
    return person_label_of(
        identity.name if identity is not None else None, user.display_name, user.phone
    )


def person_label_of(identity_name: str | None, display_name: str, phone: str) -> str:
    """:func:`person_label` from its columns: the verified name (None: not verified), the
    display name, the phone."""
    if identity_name is not None:
        return identity_name
    return display_name or mask_phone(phone)


def chain_id(envelope: Envelope) -> str:
    """The envelope's chain as MACs and anchors name it."""
    return f"envelope:{envelope.uuid}"


def event_content(event: AuditEvent) -> dict[str, Any]:
    """What an event's MAC covers besides its place in the chain."""
    created = event.created_at.astimezone(dt.UTC) if event.created_at else None
    return {
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
    }


def record(
    envelope: Envelope,
    action: str,
    *,
    actor: User | None = None,
    recipient: Recipient | None = None,
    meta: RequestMeta | None = None,
    document_name: str = "",
    sha256_before: str = "",
    sha256_after: str = "",
    actor_name: str = "",
    **detail: Any,
) -> AuditEvent:
    """Append an event. Call inside the action's transaction, with the envelope row locked
    (``select_for_update``) before the action reads what it decides on; the row stays locked
    and its count and head move with the event (``envelope`` is updated too).

    ``actor_name`` names an actor that is not a person (an API key that sealed); by default
    it is the person's label."""
    where = event_meta(meta)
    actor = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        envelope=envelope,
        action=action,
        actor=actor,
        actor_name=(actor_name or person_label(actor))[:100],
        recipient=recipient,
        created_at=timezone.now(),
        ip=where.ip,
        user_agent=where.user_agent,
        document_name=document_name[:200],
        sha256_before=sha256_before,
        sha256_after=sha256_after,
        detail=detail,
        key_id=chains.KEY_ID,
    )
    content = event_content(event)
    chain = chain_id(envelope)
    count, head = envelope.audit_count, envelope.audit_head
    block = _batch.get()
    if block is not None:
        pending = block.join(envelope)
        if pending.events.items:
            count, head = pending.events.items[-1].seq, pending.events.items[-1].mac
        else:
            count, head = pending.count, pending.head
        mac = chains.event_mac(chains.KEY_ID, chain, count + 1, head, content)
        event.seq, event.prev_mac, event.mac = count + 1, head, mac
        pending.events.append(event)
        envelope.audit_count, envelope.audit_head = event.seq, mac
        return event
    with transaction.atomic(savepoint=False):
        while True:
            mac = chains.event_mac(chains.KEY_ID, chain, count + 1, head, content)
            swapped = Envelope.objects.filter(
                pk=envelope.pk, audit_count=count, audit_head=head
            ).update(audit_count=count + 1, audit_head=mac)
            if swapped:
                break
            # A stale copy: lock the row and take its head (at most one retry, as the lock is
            # ours from here on).
            count, head = (
                Envelope.objects.select_for_update()
                .filter(pk=envelope.pk)
                .values_list("audit_count", "audit_head")
                .get()
            )
        event.seq, event.prev_mac, event.mac = count + 1, head, mac
        event.save()
    envelope.audit_count, envelope.audit_head = event.seq, mac
    return event


@dataclass
class _Pending:
    envelope_pk: int
    count: int  # the row's count and head when the block began
    head: str
    events: Held[AuditEvent] = field(default_factory=Held)  # core.savepoints


@dataclass
class _Block:
    """The events held back by :func:`deferred`, per envelope (in the order first seen)."""

    envelopes: dict[int, Envelope] = field(default_factory=dict)
    pending: dict[int, _Pending] = field(default_factory=dict)

    def join(self, envelope: Envelope) -> _Pending:
        """The held events of ``envelope``, begun from its row's count and head as the caller
        locked it."""
        pending = self.pending.get(envelope.pk)
        if pending is None:
            pending = _Pending(envelope.pk, envelope.audit_count, envelope.audit_head)
            self.pending[envelope.pk] = pending
            self.envelopes[envelope.pk] = envelope
        return pending


# The events' INSERT, built once (a signing step writes its events with one).
_INSERT: Insert[AuditEvent] = Insert(AuditEvent)
# The chain's compare-and-swap on the envelope row, built once as well.
_SWAP: Update[Envelope] = Update(
    Envelope, set=("audit_count", "audit_head"), where=("pk", "audit_count", "audit_head")
)

_batch: ContextVar[_Block | None] = ContextVar("qianshu_audit_batch", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Write the events :func:`record` appends inside the block — to any envelope, also one
    created in it — when the block ends: each envelope's with one compare-and-swap of its row,
    and all of them in one INSERT (nothing when the block raises: the caller's transaction
    rolls back), nor an event recorded inside a savepoint that was rolled back there, its
    error caught (:mod:`qianshu.core.savepoints`; a savepoint that makes envelopes is
    :func:`savepoint`). A block inside another joins it. Use inside the transaction, with the
    envelope rows locked, around code that saves an envelope only with ``update_fields`` that
    leave the audit columns alone. A 批量发起 group creates, fills and sends several envelopes
    in one."""
    if _batch.get() is not None:
        yield
        return
    block = _Block()
    token = _batch.set(block)
    try:
        yield
    except BaseException:
        for pending in block.pending.values():
            pending.events.withdraw()
        raise
    finally:
        _batch.reset(token)
    with transaction.atomic(savepoint=False):
        written = [_swap(block.envelopes[pk], pending) for pk, pending in block.pending.items()]
        # Every envelope's events in one INSERT (a 批量发起 group sends several envelopes).
        _INSERT.save([event for events in written for event in events])


@contextmanager
def savepoint() -> Iterator[None]:
    """A savepoint inside a :func:`deferred` block that may be rolled back and caught there, in
    which envelopes are made (a 批量发起 group's row that fails): when the code inside raises,
    its writes are rolled back and the events it recorded dropped — as any savepoint's are —
    and the envelopes it made or first touched are forgotten by the block, whose next envelope
    may get the same key (SQLite gives a rolled-back row's id again). Outside a block, a plain
    savepoint."""
    block = _batch.get()
    known = set() if block is None else set(block.pending)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        if block is not None:
            for pk in set(block.pending) - known:
                del block.pending[pk], block.envelopes[pk]
        raise


@contextmanager
def batched(envelope: Envelope) -> Iterator[None]:
    """:func:`deferred` around one signing step of ``envelope`` (its events are held from the
    row's count and head as locked now)."""
    with deferred():
        block = _batch.get()
        assert block is not None
        block.join(envelope)
        yield


def _swap(envelope: Envelope, pending: _Pending) -> list[AuditEvent]:
    """Chain ``pending``'s events on the envelope's row with one compare-and-swap; returns them
    for the caller's INSERT (in the same transaction: the swap holds the row's lock)."""
    events = pending.events.standing()
    count, head = pending.count, pending.head
    if not events:  # every one of them recorded in a savepoint rolled back since
        envelope.audit_count, envelope.audit_head = count, head
        return events
    while not _SWAP.run(
        (count + len(events), _chain(envelope, events, count, head)), (envelope.pk, count, head)
    ):
        # A stale copy: lock the row and chain the events on its head (at most once).
        count, head = (
            Envelope.objects.select_for_update()
            .filter(pk=envelope.pk)
            .values_list("audit_count", "audit_head")
            .get()
        )
    envelope.audit_count, envelope.audit_head = events[-1].seq, events[-1].mac
    return events


def _chain(envelope: Envelope, events: list[AuditEvent], count: int, head: str) -> str:
    """Number and MAC ``events`` after (count, head); returns the new head."""
    chain = chain_id(envelope)
    for event in events:
        count += 1
        mac = chains.event_mac(chains.KEY_ID, chain, count, head, event_content(event))
        event.seq, event.prev_mac, event.mac = count, head, mac
        head = mac
    return head


def _links(envelope: Envelope) -> Iterable[Link]:
    for event in AuditEvent.objects.filter(envelope=envelope).order_by("seq", "pk").iterator():
        yield Link(event.seq, event.key_id, event.prev_mac, event.mac, event_content(event))


def completion_event(envelope: Envelope) -> AuditEvent | None:
    """The completion event written by the keyed-MAC trail (a time-stamp must cover it)."""
    return (
        AuditEvent.objects.filter(
            envelope=envelope, action="completed", detail__step="envelope", key_id=chains.KEY_ID
        )
        .order_by("seq")
        .first()
    )


def _missing_completion_anchor(envelope: Envelope, points: list[Checkpoint]) -> ChainBreak | None:
    event = completion_event(envelope)
    if event is None:
        return None
    completion = [p for p in points if p.source.startswith("the completion time-stamp")]
    if any(p.count == event.seq for p in completion):
        return None
    return ChainBreak(event.seq, f"the completion time-stamp over event {event.seq} is missing")


def check_envelope(envelope: Envelope, *, extra: Iterable[Checkpoint] = ()) -> list[ChainBreak]:
    """Every problem of the envelope's audit trail, first break first: events altered,
    missing, inserted or reordered; a count or head on the envelope row that the events do not
    give; a head held by an anchor (completion time-stamp, periodic anchor) or by ``extra``
    checkpoints (an evidence report) that the chain no longer holds; a missing completion
    time-stamp. Anchors' own tokens are checked by :func:`check_anchor_tokens`."""
    points = anchors.checkpoints(chain_id(envelope))
    # Read the row now: the caller's copy may predate the last events.
    count, head = (
        Envelope.objects.filter(pk=envelope.pk).values_list("audit_count", "audit_head").get()
    )
    row = Checkpoint(count, head, "the envelope row")
    problems = chains.check_links(chain_id(envelope), _links(envelope), [row, *points, *extra])
    missing = _missing_completion_anchor(envelope, points)
    if missing is not None:
        problems.append(missing)
    return sorted(problems, key=lambda p: p.seq)


def check_chain(envelope: Envelope) -> ChainBreak | None:
    """The first problem of the envelope's audit trail, or None when it is intact."""
    problems = check_envelope(envelope)
    return problems[0] if problems else None


def check_anchor_tokens(envelope: Envelope) -> list[str]:
    """What is wrong with the anchors that cover this envelope (digest, token, time)."""
    found = []
    ids = AuditAnchor.objects.filter(entries__chain=chain_id(envelope)).distinct().order_by("pk")
    for anchor in ids:
        problem = anchors.check_anchor(anchor)
        if problem is not None:
            found.append(f"{anchors.describe(anchor)}: {problem}")
    return found


def completion_anchor(envelope: Envelope) -> AuditAnchor:
    """Time-stamp the envelope's head now (at completion, after the completion event)."""
    entry = (chain_id(envelope), envelope.audit_count, envelope.audit_head)
    return anchors.make_anchor(AuditAnchor.Kind.COMPLETION, [entry])


def _moved_envelopes(limit: int) -> list[tuple[int, str, int, str]]:
    rows = (
        Envelope.objects.exclude(status=Envelope.Status.DRAFT)
        .exclude(audit_count=F("audit_anchored_count"))
        .order_by("pk")
        .values_list("pk", "uuid", "audit_count", "audit_head")[:limit]
    )
    return [(pk, f"envelope:{uuid}", count, head) for pk, uuid, count, head in rows]


def _mark_envelope(pk: int, count: int) -> None:
    Envelope.objects.filter(pk=pk, audit_anchored_count__lt=count).update(
        audit_anchored_count=count
    )


ENVELOPE_SOURCE = anchors.AnchorSource(_moved_envelopes, _mark_envelope)


def anchor_all(*, due_after: dt.timedelta | None = None) -> int | None:
    """A periodic anchor over every envelope, organisation and user chain that moved (see
    :func:`qianshu.core.anchors.anchor_heads`)."""
    return anchors.anchor_heads([ENVELOPE_SOURCE, anchors.CHAIN_SOURCE], due_after=due_after)
