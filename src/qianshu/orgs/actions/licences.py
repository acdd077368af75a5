"""Business licence (营业执照) files: storing a checked licence and its preview (encrypted at
rest), making a missing preview, and the licence kept across a form error on 创建组织
(``PendingLicence``). The checks and rendering are in :mod:`qianshu.orgs.licences`."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.orgs.licences import (
    PDF,
    PENDING_LICENCE_HOURS,
    PNG,
    RENDERED,
    Licence,
    render_licence_preview,
)
from qianshu.orgs.models import Organization, PendingLicence
from qianshu.storage import encryption
from qianshu.storage.actions import do_delete_blob, do_store_encrypted_blob
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.models import Blob

log = logging.getLogger(__name__)


def do_store_licence(licence: Licence, *, meta: RequestMeta) -> tuple[Blob, Blob]:
    """Store a checked licence and its preview, both encrypted; return ``(licence, preview)``
    (the same blob for a picture). Blobs only: the caller names them from the organisation."""
    blob = do_store_encrypted_blob(
        licence.data, content_type=licence.content_type, purpose=encryption.ORG_LICENCE
    )
    if licence.preview is None:
        return blob, blob
    preview = do_store_encrypted_blob(
        licence.preview, content_type=PNG, purpose=encryption.ORG_LICENCE_PREVIEW
    )
    return blob, preview


def do_make_licence_preview(org: Organization, *, meta: RequestMeta) -> Blob | None:
    """The organisation's stored preview, made now (bounded, once) if it has none yet: for
    organisations stored before previews were kept.

    A PDF that cannot be rendered gets the licence itself as its "preview", which pages take as
    "no inline preview": it is not rendered again on every view. ``None`` if there is no
    licence or it cannot be read now (not recorded: the store may be back later).
    """
    licence = org.licence
    if licence is None or org.licence_preview_id is not None:
        return org.licence_preview
    if licence.content_type != PDF:
        preview = licence
    else:
        try:
            data = licence.read()
        except BlobStoreError as exc:
            log.error("licence of organisation %s unreadable: %s", org.uuid, exc)
            return None
        status, png = render_licence_preview(data)
        preview = (
            do_store_encrypted_blob(png, content_type=PNG, purpose=encryption.ORG_LICENCE_PREVIEW)
            if status == RENDERED
            else licence
        )
    # Only if nobody stored one meanwhile, and for the licence it was made from.
    made = Organization.objects.filter(
        pk=org.pk, licence=licence, licence_preview__isnull=True
    ).update(licence_preview=preview)
    if not made:
        if preview.pk != licence.pk:
            do_delete_blob(preview.sha256)
        org.refresh_from_db(fields=["licence", "licence_preview"])
        return org.licence_preview
    org.licence_preview = preview
    return preview


def do_keep_pending_licence(
    licence: Licence,
    *,
    name: str,
    actor: User,
    meta: RequestMeta,
    replaces: PendingLicence | None = None,
) -> PendingLicence:
    """Store a checked licence for ``actor`` to use on their next try; the one it
    ``replaces`` (the person chose another file) is discarded."""
    blob, preview = do_store_licence(licence, meta=meta)
    pending = PendingLicence.objects.create(user=actor, name=name, licence=blob, preview=preview)
    if replaces is not None:
        do_discard_pending_licence(replaces, meta=meta)
    return pending


def do_discard_pending_licence(pending: PendingLicence, *, meta: RequestMeta) -> None:
    """Delete a pending licence and its stored files."""
    blobs = {pending.licence_id, pending.preview_id}
    with transaction.atomic():
        PendingLicence.objects.filter(pk=pending.pk).delete()
    for sha256 in blobs:
        try:
            do_delete_blob(sha256)
        except BlobStoreError as exc:  # an unreferenced blob is left for garbage collection
            log.warning("pending licence blob %s not deleted: %s", sha256, exc)


def do_purge_pending_licences(*, meta: RequestMeta, limit: int = 500) -> int:
    """Delete kept licences older than ``PENDING_LICENCE_HOURS`` (abandoned forms) and their
    stored files; run by the timers. Returns how many were deleted."""
    since = timezone.now() - timedelta(hours=PENDING_LICENCE_HOURS)
    stale = list(PendingLicence.objects.filter(created_at__lt=since).order_by("pk")[:limit])
    for pending in stale:
        do_discard_pending_licence(pending, meta=meta)
    return len(stale)
