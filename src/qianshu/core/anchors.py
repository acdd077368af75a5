"""Anchors: time-stamp tokens of the platform TSA over the heads of audit chains.

A chain's own row says how many events it has and what the last MAC is; someone with write
access to the database can delete the last events and set that row back to an earlier head
(every remaining MAC is still valid). An anchor keeps (chain, count, head) triples under a
time-stamp token, so such a deletion shows as soon as one anchor or evidence report holds a
deleted head.

- A **completion** anchor covers one envelope when it completes; its token's time is printed
  in the evidence report, and the token itself is embedded in it.
- **Periodic** anchors (``qianshu anchor-audit``, hourly from the envelope timers) cover every
  chain that moved since the last one; they are numbered, each digest covers the previous
  digest, and one is made even when nothing moved, so a missing anchor shows as a gap.

Digest: SHA-256 over the canonical JSON ``{"format", "prev", "entries": sorted triples}``;
the token is an RFC 3161 token over that digest (see :mod:`qianshu.signing.timestamps`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from qianshu.core.chains import Checkpoint, canonical, lock_chain
from qianshu.core.models import AuditAnchor, AuditAnchorEntry, AuditChain
from qianshu.pki.platform import load_platform
from qianshu.signing import timestamps
from qianshu.signing.errors import TimestampError

log = logging.getLogger(__name__)

FORMAT = "qianshu-audit-anchor/1"
ANCHORS = "anchors"  # the AuditChain row that numbers periodic anchors (and serialises them)
MAX_ENTRIES = 5000
MAX_ANCHORS_PER_RUN = 100  # a run ends even if chains keep moving faster than it anchors

Entry = tuple[str, int, str]  # chain, count, head


def anchor_digest(prev: str, entries: Iterable[Entry]) -> bytes:
    triples = sorted([chain, int(count), head] for chain, count, head in entries)
    return hashlib.sha256(canonical({"format": FORMAT, "prev": prev, "entries": triples})).digest()


def make_anchor(
    kind: str, entries: Sequence[Entry], *, seq: int | None = None, prev: str = ""
) -> AuditAnchor:
    """Time-stamp ``entries`` and store the anchor (in the caller's transaction)."""
    digest = anchor_digest(prev, entries)
    token = timestamps.stamp_digest(load_platform().tsa, digest)
    anchor = AuditAnchor.objects.create(
        kind=kind,
        seq=seq,
        prev_digest=prev,
        digest=digest.hex(),
        token=token,
        token_time=timestamps.token_time(token),
    )
    AuditAnchorEntry.objects.bulk_create(
        [AuditAnchorEntry(anchor=anchor, chain=c, count=n, head=h) for c, n, h in entries],
        batch_size=1000,
    )
    return anchor


def entries_of(anchor: AuditAnchor) -> list[Entry]:
    return list(anchor.entries.values_list("chain", "count", "head"))


def check_anchor(anchor: AuditAnchor, entries: Sequence[Entry] | None = None) -> str | None:
    """What is wrong with a stored anchor (None: intact): its entries must still give its
    digest, and its token must cover the digest, be signed by the platform TSA and name the
    recorded time."""
    if entries is None:
        entries = entries_of(anchor)
    if anchor_digest(anchor.prev_digest, entries).hex() != anchor.digest:
        return "its entries were changed or removed (digest mismatch)"
    try:
        time = timestamps.check_token(
            bytes(anchor.token), bytes.fromhex(anchor.digest), load_platform().trust().roots
        )
    except (TimestampError, ValueError) as exc:
        return f"its time-stamp token is not valid: {exc}"
    if time != anchor.token_time:
        return "its recorded time differs from its token's"
    return None


def describe(anchor: AuditAnchor) -> str:
    when = anchor.token_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if anchor.kind == AuditAnchor.Kind.COMPLETION:
        return f"the completion time-stamp of {when}"
    return f"anchor #{anchor.seq} of {when}"


def checkpoints(chain: str) -> list[Checkpoint]:
    """The heads anchors hold for ``chain``: every completion anchor, and the latest periodic
    one (earlier periodic heads are prefixes of it)."""
    rows = AuditAnchorEntry.objects.filter(chain=chain).select_related("anchor")
    found: list[Checkpoint] = []
    latest: AuditAnchorEntry | None = None
    for row in rows.order_by("count", "anchor_id"):
        if row.anchor.kind == AuditAnchor.Kind.COMPLETION:
            found.append(Checkpoint(row.count, row.head, describe(row.anchor)))
        else:
            latest = row
    if latest is not None:
        found.append(Checkpoint(latest.count, latest.head, describe(latest.anchor)))
    return found


@dataclass(frozen=True)
class AnchorSource:
    """Chains of one kind for the periodic anchor: ``moved(limit)`` lists (row id, chain,
    count, head) of chains that moved since they were last anchored; ``mark(row id, count)``
    records, after the anchor committed, that it covers ``count`` events."""

    moved: Callable[[int], list[tuple[int, str, int, str]]]
    mark: Callable[[int, int], None]


def _moved_chains(limit: int) -> list[tuple[int, str, int, str]]:
    rows = (
        AuditChain.objects.exclude(key=ANCHORS)
        .exclude(count=F("anchored_count"))
        .order_by("pk")
        .values_list("pk", "key", "count", "head")[:limit]
    )
    return list(rows)


def _mark_chain(pk: int, count: int) -> None:
    AuditChain.objects.filter(pk=pk, anchored_count__lt=count).update(anchored_count=count)


CHAIN_SOURCE = AnchorSource(_moved_chains, _mark_chain)


def last_periodic() -> AuditAnchor | None:
    return AuditAnchor.objects.filter(kind=AuditAnchor.Kind.PERIODIC).order_by("-seq").first()


def anchor_heads(
    sources: Sequence[AnchorSource],
    *,
    due_after: dt.timedelta | None = None,
    limit: int = MAX_ENTRIES,
) -> int | None:
    """Make periodic anchors over every chain that moved (several anchors when more than
    ``limit`` moved). With ``due_after``, only when the last periodic anchor is older than
    that. Returns how many chains were anchored, or None when no anchor was due. Several
    processes may call this at once: the ``anchors`` row serialises them."""
    total = 0
    for _run in range(MAX_ANCHORS_PER_RUN):
        marks: list[tuple[AnchorSource, int, int]] = []
        with transaction.atomic():
            sequence = lock_chain(ANCHORS)
            if due_after is not None and total == 0:
                last = last_periodic()
                if last is not None and last.created_at > timezone.now() - due_after:
                    return None
            entries: list[Entry] = []
            for source in sources:
                for pk, chain, count, head in source.moved(limit - len(entries)):
                    entries.append((chain, count, head))
                    marks.append((source, pk, count))
            seq = sequence.count + 1
            prev = sequence.head if sequence.count else ""
            anchor = make_anchor(AuditAnchor.Kind.PERIODIC, entries, seq=seq, prev=prev)
            AuditChain.objects.filter(pk=sequence.pk).update(count=seq, head=anchor.digest)
        # Outside the anchor's transaction: marking waits for rows an action holds, and the
        # anchor must not hold the sequence lock meanwhile. An unmarked row is anchored again.
        for source, pk, count in marks:
            source.mark(pk, count)
        total += len(entries)
        log.info("audit anchor #%s: %s chains, digest %s", seq, len(entries), anchor.digest)
        if len(entries) < limit:
            break
    return total
