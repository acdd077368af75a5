"""Archive renewal (归档续期) of completed documents: ``qianshu renew-archives`` and the timers.

A completed document is PAdES B-LTA: its newest document time-stamp protects every signature
and all validation data. That protection lasts as long as the time-stamp's TSA certificate and
algorithms do, so before either weakens the platform adds fresh validation data for that
time-stamp and a new document time-stamp (:func:`qianshu.signing.archive.renew_archive`).

A document is **due** when its newest time-stamp's TSA certificate expires within
``QIANSHU_ARCHIVE_RENEW_DAYS`` (or ``--within``), or when that time-stamp relies on an algorithm
listed in ``QIANSHU_ARCHIVE_WEAK_ALGORITHMS``. ``Document.archive_expires_at`` and
``archive_algorithms`` keep what the newest time-stamp relies on, so finding due documents is
one indexed query; documents whose columns are still empty (completed before renewal existed,
or since the last run) are read first, a batch per run.

Each renewal follows the signing protocol of :mod:`qianshu.envelopes.actions.turns`: lock the
envelope row, then the document row; check again under the lock that the document is still due;
renew on top of the current revision; append it as a new revision (compare-and-swap on the
revision number); write the audit event; commit. A crash leaves the previous revision current;
two runs at once renew a document once (the second finds it no longer due). Renewal needs a TSA
certificate that outlives the window itself, else it would renew the same documents on every
run: it refuses then, and the issuing CA renews the TSA certificate before that happens
(:mod:`qianshu.pki.services`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit
from qianshu.envelopes.models import Document, Envelope, Revision
from qianshu.envelopes.revisions import append_revision
from qianshu.pki import services
from qianshu.pki.models import PlatformKey
from qianshu.pki.platform import Platform, load_platform
from qianshu.signing import archive
from qianshu.signing.errors import SigningError
from qianshu.signing.signers import to_asn1

log = logging.getLogger(__name__)

BATCH = 100


class RenewalImpossible(Exception):
    """The platform's own TSA certificate does not outlive the renewal window."""


@dataclass
class RenewalSummary:
    inspected: int = 0
    due: list[int] = field(default_factory=list)
    renewed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _window(within_days: int | None) -> dt.timedelta:
    days = settings.QIANSHU_ARCHIVE_RENEW_DAYS if within_days is None else within_days
    return dt.timedelta(days=max(days, 0))


def _weak() -> list[str]:
    return [w.lower() for w in settings.QIANSHU_ARCHIVE_WEAK_ALGORITHMS]


# ``archive_algorithms`` markers besides ",sha256,ec-p256,"-style lists: no document time-stamp
# yet (due: renewal adds the first), or time-stamps that cannot be read (logged, not retried).
NO_TIMESTAMP = ",none,"
UNREADABLE = ",unreadable,"


def _remember(document: Document, info: archive.ArchiveInfo | None, *, marker: str = "") -> None:
    document.archive_expires_at = info.tsa_not_after if info else None
    document.archive_algorithms = (
        "," + ",".join(sorted(info.algorithms)) + "," if info else marker or NO_TIMESTAMP
    )
    Document.objects.filter(pk=document.pk).update(
        archive_expires_at=document.archive_expires_at,
        archive_algorithms=document.archive_algorithms,
    )


def inspect_unread(limit: int = BATCH) -> int:
    """Read the newest time-stamp of finished documents not read yet; returns how many."""
    unread = Document.objects.filter(finished=True, archive_algorithms="").select_related(
        "current"
    )[:limit]
    count = 0
    for document in unread:
        try:
            _remember(document, archive.archive_info(document.current.read()))
        except SigningError as exc:
            log.warning("cannot read the time-stamps of document %s: %s", document.pk, exc)
            _remember(document, None, marker=UNREADABLE)
        count += 1
    return count


def _due_filter(now: dt.datetime, window: dt.timedelta) -> Q:
    due = Q(archive_expires_at__lte=now + window) | Q(archive_algorithms=NO_TIMESTAMP)
    for name in _weak():
        due |= Q(archive_algorithms__contains=f",{name},")
    return Q(finished=True) & due


def due_documents(
    *, within_days: int | None = None, now: dt.datetime | None = None, limit: int = BATCH
) -> list[int]:
    """Finished documents whose archive is due for renewal (see the module docstring)."""
    now = now or timezone.now()
    query = Document.objects.filter(_due_filter(now, _window(within_days)))
    return list(query.order_by("archive_expires_at", "pk").values_list("pk", flat=True)[:limit])


def _check_timestamper(platform: Platform, now: dt.datetime, window: dt.timedelta) -> None:
    """Renewing with a time-stamp that is itself due would renew the same documents forever."""
    services.renew_if_due(PlatformKey.Role.TSA, platform.pki.tsa.certificate)
    tsa = load_platform().pki.tsa.certificate
    if tsa.not_valid_after_utc <= now + window:
        raise RenewalImpossible(
            "the platform's TSA certificate expires within the renewal window: renewing now "
            "would not help; re-certify the issuing CA (qianshu pki root-sign --issuing-ca)"
        )
    weak = {archive.key_name(to_asn1(tsa)), "sha256"} & set(_weak())
    if weak:
        raise RenewalImpossible(
            "the platform's own time-stamps use weakening algorithms ("
            + ", ".join(sorted(weak))
            + "): give the TSA a stronger key before renewing"
        )


def do_renew_document_archive(
    document_id: int,
    *,
    within_days: int | None = None,
    now: dt.datetime | None = None,
    meta: RequestMeta,
) -> bool:
    """Renew one document's archive if it is (still) due; returns whether it was renewed."""
    now = now or timezone.now()
    window = _window(within_days)
    platform = load_platform()
    with transaction.atomic():
        envelope_id = Document.objects.values_list("envelope_id", flat=True).get(pk=document_id)
        envelope = Envelope.objects.select_for_update().get(pk=envelope_id)
        document = (
            Document.objects.select_for_update().select_related("current").get(pk=document_id)
        )
        if not Document.objects.filter(_due_filter(now, window), pk=document.pk).exists():
            return False
        data = document.current.read()
        before_info = archive.archive_info(data)
        renewed = archive.renew_archive(
            data,
            timestamper=platform.timestamper,
            revocation=platform.revocation,
            trust_roots=[to_asn1(platform.pki.root.certificate)],
        )
        before = append_revision(document, renewed, action=Revision.Action.RENEWED)
        info = archive.archive_info(renewed)
        _remember(document, info)
        audit.record(
            envelope,
            "archive_renewed",
            meta=meta,
            document_name=document.name,
            sha256_before=before,
            sha256_after=document.current_id,
            previous_tsa_until=before_info.tsa_not_after.isoformat() if before_info else "",
            tsa_until=info.tsa_not_after.isoformat() if info else "",
        )
    return True


def do_renew_due_archives(
    *,
    within_days: int | None = None,
    dry_run: bool = False,
    limit: int = BATCH,
    now: dt.datetime | None = None,
    meta: RequestMeta,
) -> RenewalSummary:
    """Read unread documents, then renew every due one (at most ``limit`` per run), each in its
    own transaction (:func:`do_renew_document_archive`: one broken document must not undo the
    others).

    Raises :class:`RenewalImpossible` when renewing would not help (see the module docstring).
    """
    now = now or timezone.now()
    summary = RenewalSummary(inspected=inspect_unread(limit))
    summary.due = due_documents(within_days=within_days, now=now, limit=limit)
    if dry_run or not summary.due:
        return summary
    _check_timestamper(load_platform(), now, _window(within_days))
    for document_id in summary.due:
        try:
            if do_renew_document_archive(document_id, within_days=within_days, now=now, meta=meta):
                summary.renewed.append(document_id)
        except Exception:  # one broken document must not stop the others
            log.exception("renewing the archive of document %s failed", document_id)
            summary.failed.append(document_id)
    return summary
