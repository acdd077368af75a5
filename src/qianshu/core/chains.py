"""Keyed-MAC chains of audit events, and the check that says where one was changed.

Every audit trail of the platform — an envelope's events, an organisation's log, a user's
security events — is a chain: event *n* carries ``mac_n = HMAC-SHA256(K, canonical(chain, n,
mac_{n-1}, key id, content_n))`` with ``mac_0`` = 64 zeros. ``K`` is derived from
``QIANSHU_MASTER_KEY`` with HKDF under its own label, so someone who can write the database
but does not hold the master key can neither rewrite an event nor re-link the events after it:
plain SHA-256 re-hashing, which the chain used before, no longer produces valid links.

The number of events and the last MAC (the *head*) live on a row that is locked and updated
in the same transaction as every append (the envelope row, or an :class:`AuditChain` row), and
time-stamped anchors (:mod:`qianshu.core.anchors`) and evidence reports keep copies of heads.
Deleting the last events and setting the row back to an earlier head is therefore caught by
any later anchor or report that holds the deleted head (``Checkpoint``).

Key ids let the scheme change: ``m1`` is HMAC-SHA256 under the ``qianshu/audit-mac/v1`` key;
``m1u`` is the same MAC computed when an existing trail was upgraded (its events were not
protected by a key before that day); ``sha256`` marks events of a trail that was already
broken when it was upgraded — they keep their old unkeyed hash and always report as broken.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import transaction

from qianshu.core.models import GENESIS, AuditChain, ChainedEvent
from qianshu.core.savepoints import Held
from qianshu.core.statements import Insert, Statement, Update
from qianshu.pki.keystores import master_key

KEY_ID = "m1"
UPGRADED_KEY_ID = "m1u"
LEGACY_KEY_ID = "sha256"
_LABELS = {KEY_ID: b"qianshu/audit-mac/v1", UPGRADED_KEY_ID: b"qianshu/audit-mac/v1"}
MAX_PROBLEMS = 5


@cache
def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that every MAC and digest is computed over."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def event_mac(key_id: str, chain: str, seq: int, prev: str, content: Mapping[str, Any]) -> str:
    """The MAC of event ``seq`` of ``chain`` (hex). Raises KeyError for an unknown key id."""
    key = _derive(master_key(), _LABELS[key_id])
    message = canonical(
        {"key": key_id, "chain": chain, "seq": seq, "prev": prev, "event": dict(content)}
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored event as the check sees it."""

    seq: int
    key_id: str
    prev: str
    mac: str
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """A (count, head) that the chain must still contain, and who holds it."""

    count: int
    head: str
    source: str


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain is broken (``seq`` = the first event concerned) and why."""

    seq: int
    reason: str


def check_links(
    chain: str, links: Iterable[Link], checkpoints: Sequence[Checkpoint]
) -> list[ChainBreak]:
    """Every problem of one chain, first break first: an altered event (its MAC does not
    match), a missing, inserted or reordered event (numbering or link broken), events of a
    trail that was broken before the upgrade, and each checkpoint the chain no longer holds.

    ``links`` are in ``seq`` order; the first checkpoint should be the row that keeps the head.
    """
    problems: list[ChainBreak] = []
    stored: dict[int, str] = {}
    prev, expected, legacy = GENESIS, 1, False
    for link in links:
        if link.seq in stored:
            problems.append(ChainBreak(link.seq, f"event {link.seq} appears twice"))
            continue
        stored[link.seq] = link.mac
        if link.seq > expected:
            missing = _events(expected, link.seq - 1)
            problems.append(ChainBreak(expected, f"{missing} missing (deleted)"))
        elif link.seq < expected:
            problems.append(ChainBreak(link.seq, f"event {link.seq} is out of order"))
        elif link.prev != prev:
            problems.append(
                ChainBreak(
                    link.seq,
                    f"event {link.seq} does not follow event {link.seq - 1} "
                    "(an event was inserted, removed or reordered)",
                )
            )
        if link.key_id == LEGACY_KEY_ID:
            if not legacy:
                problems.append(
                    ChainBreak(
                        link.seq,
                        f"event {link.seq}: the trail was already broken when it was upgraded "
                        "to keyed MACs; its events before then are not protected",
                    )
                )
            legacy = True
        elif link.key_id not in _LABELS:
            problems.append(ChainBreak(link.seq, f"event {link.seq}: unknown key {link.key_id!r}"))
        elif not hmac.compare_digest(
            event_mac(link.key_id, chain, link.seq, link.prev, link.content), link.mac
        ):
            problems.append(
                ChainBreak(link.seq, f"event {link.seq} was altered (its MAC does not match)")
            )
        prev, expected = link.mac, max(expected, link.seq) + 1
    problems.extend(_checkpoint_problems(stored, checkpoints))
    problems.sort(key=lambda p: p.seq)
    return problems[:MAX_PROBLEMS]


def _events(first: int, last: int) -> str:
    return f"event {first}" if first == last else f"events {first}–{last}"


def _checkpoint_problems(
    stored: Mapping[int, str], checkpoints: Sequence[Checkpoint]
) -> Iterable[ChainBreak]:
    last = max(stored, default=0)
    for point in checkpoints:
        if point.count > last:
            yield ChainBreak(
                last + 1,
                f"{point.source} counts {point.count} events but the chain ends at event "
                f"{last}: {_events(last + 1, point.count)} deleted",
            )
        elif point.count and stored.get(point.count) != point.head:
            yield ChainBreak(
                point.count, f"event {point.count} differs from the head held by {point.source}"
            )
    if checkpoints and checkpoints[0].count < last:
        row = checkpoints[0]
        yield ChainBreak(
            row.count + 1,
            f"events after {row.count} are not counted by {row.source} (added behind its back)",
        )


Event = TypeVar("Event", bound=ChainedEvent)


# A chain row, locked; the head moved on; each kind of event inserted (built once: every use of
# an organisation's seal appends to its chain).
_LOCKED: Statement[AuditChain] = Statement(
    lambda key: AuditChain.objects.select_for_update().filter(key=key.as_str()), arity=1
)
_MOVE_HEAD: Update[AuditChain] = Update(AuditChain, set=("count", "head"), where=("pk",))
_INSERTS: dict[type[Any], Insert[Any]] = {}

Content = Callable[[Any], Mapping[str, Any]]
# The appends held by appended_at_end() in this context: (chain key, event, its content).
_held: ContextVar[Held[tuple[str, Any, Content]] | None] = ContextVar(
    "qianshu_chain_appends", default=None
)


def lock_chain(key: str) -> AuditChain:
    """The chain row ``key``, created if need be, locked until the transaction ends."""
    found = _LOCKED.objects(key)
    if not found:
        # Two first events of a chain at once: one insert wins, both then lock that row.
        AuditChain.objects.bulk_create([AuditChain(key=key)], ignore_conflicts=True)
        found = _LOCKED.objects(key)
    (chain,) = found
    return chain


def append(key: str, event: Event, content: Callable[[Event], Mapping[str, Any]]) -> Event:
    """Append ``event`` (unsaved, every content field set) to chain ``key``: number it, MAC it,
    save it and move the chain's head, all under the chain row's lock, in the caller's
    transaction (or a transaction of its own). Inside :func:`appended_at_end`, held until the
    block ends (the event is then not numbered, MACed or saved yet when this returns)."""
    held = _held.get()
    if held is not None:
        held.append((key, event, content))
        return event
    with transaction.atomic(savepoint=False):
        _append_locked(key, [(event, content)])
    return event


def _append_locked(key: str, events: Sequence[tuple[Any, Content]]) -> None:
    chain = lock_chain(key)
    count, head = chain.count, chain.head
    for event, content in events:
        count += 1
        event.chain = chain
        event.seq, event.key_id, event.prev_mac = count, KEY_ID, head
        event.mac = head = event_mac(KEY_ID, key, count, head, content(event))
    for model in dict.fromkeys(type(event) for event, _content in events):
        insert = _INSERTS.get(model) or _INSERTS.setdefault(model, Insert(model))
        insert.save([event for event, _content in events if type(event) is model])
    _MOVE_HEAD.run((count, head), (chain.pk,))


@contextmanager
def appended_at_end() -> Iterator[None]:
    """Inside the block — in the caller's transaction — :func:`append` holds its events, and
    the block's end appends them: each chain's row locked then, in the order of the chains'
    keys (one order for every writer), its events numbered and MACed in the order appended.
    A chain many transactions share — an organisation's, which every use of its seals appends
    to — is thus locked for the end of each transaction only, not from its event on: two
    processes sealing for one organisation waited on each other for the rest of every step.

    Nothing is written when the block raises (the caller's transaction rolls back), nor an
    event appended inside a savepoint that was rolled back there (its error caught:
    :mod:`qianshu.core.savepoints`). Use it around code that does not read an appended
    event's number, MAC or key. A block inside another joins it."""
    if _held.get() is not None:
        yield
        return
    held: Held[tuple[str, Any, Content]] = Held()
    token = _held.set(held)
    try:
        yield
    except BaseException:
        held.withdraw()
        raise
    finally:
        _held.reset(token)
    kept = held.standing()
    if kept:
        by_chain: dict[str, list[tuple[Any, Content]]] = {}
        for key, event, content in kept:
            by_chain.setdefault(key, []).append((event, content))
        with transaction.atomic(savepoint=False):
            for key in sorted(by_chain):
                _append_locked(key, by_chain[key])


def chain_existing(
    key: str, events: Sequence[Any], content: Callable[[Any], Mapping[str, Any]]
) -> str:
    """Chain events written before there was a chain (an upgrade): number them in the given
    order and MAC them under :data:`UPGRADED_KEY_ID`; the caller saves them. Returns the
    head."""
    prev = GENESIS
    for seq, event in enumerate(events, start=1):
        event.seq, event.key_id, event.prev_mac = seq, UPGRADED_KEY_ID, prev
        event.mac = event_mac(UPGRADED_KEY_ID, key, seq, prev, content(event))
        prev = event.mac
    return prev


def check_chain_events(
    chain: AuditChain,
    events: Iterable[Event],
    content: Callable[[Event], Mapping[str, Any]],
    checkpoints: Sequence[Checkpoint] = (),
) -> list[ChainBreak]:
    """Check the events of an :class:`AuditChain` (in ``seq`` order) against its row and
    the given checkpoints (anchors)."""
    links = (Link(e.seq, e.key_id, e.prev_mac, e.mac, content(e)) for e in events)
    row = Checkpoint(chain.count, chain.head, "the chain's head row")
    return check_links(chain.key, links, [row, *checkpoints])
