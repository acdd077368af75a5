"""``qianshu encrypt_at_rest``: bring data stored by older versions under encryption at rest.

1. Local blob store: every file becomes 0400 and every directory 0700 (older versions wrote
   world-readable files).
2. Identity photos (manual review) and business licences stored in plaintext are encrypted into
   new blobs (``storage.encryption``), the rows are repointed, and each plaintext blob is deleted
   when no row refers to it any more.
3. Organisations without a stored licence preview get one, rendered under the same limits as at
   upload (``orgs.licences``).

Safe to run again (what is done is skipped) and while the platform runs: every repointing is a
compare-and-swap on the old blob id, so a licence replaced meanwhile is left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from qianshu.core.meta import COMMAND
from qianshu.identity.models import VerificationAttempt
from qianshu.orgs.actions.licences import do_make_licence_preview
from qianshu.orgs.models import Organization
from qianshu.storage import encryption
from qianshu.storage.actions import do_delete_blob, do_store_encrypted_blob
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.local import LocalBlobStore
from qianshu.storage.models import Blob

_PLAIN = ""


def encrypt_references(
    model: type[models.Model], pk: int, old: Blob, fields: tuple[str, ...], purpose: str
) -> bool:
    """Store ``old`` encrypted and point ``fields`` of row ``pk`` that still name ``old`` at the
    new blob, in one transaction; False (and the new blob removed) if none named it any more."""
    new = do_store_encrypted_blob(old.read(), content_type=old.content_type, purpose=purpose)
    with transaction.atomic():
        changed = sum(
            model._default_manager.filter(pk=pk, **{field: old.pk}).update(**{field: new.pk})
            for field in fields
        )
    if not changed:
        do_delete_blob(new.sha256)
    return bool(changed)


class Command(BaseCommand):
    help = (
        "Encrypt identity photos and business licences stored in plaintext, make missing "
        "licence previews, and make local blob files readable by their owner only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be changed."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        self.failures = 0
        self.replaced: set[str] = set()
        store = get_blob_store()
        if isinstance(store, LocalBlobStore) and not dry_run:
            changed = store.restrict_permissions()
            self.stdout.write(f"blob files and directories made owner-only: {changed}")
        self._photos(dry_run)
        self._licences(dry_run)
        if not dry_run:
            deleted = sum(do_delete_blob(sha256) for sha256 in sorted(self.replaced))
            self.stdout.write(f"plaintext blobs deleted: {deleted}")
            self._previews()
        if self.failures:
            raise CommandError(f"{self.failures} blob(s) could not be read; see the messages above")

    def _encrypt(
        self, model: type[models.Model], pk: int, old: Blob, fields: tuple[str, ...], purpose: str
    ) -> bool:
        try:
            done = encrypt_references(model, pk, old, fields, purpose)
        except BlobStoreError as exc:
            self.failures += 1
            self.stderr.write(f"{model.__name__} {pk}: blob {old.pk} not encrypted: {exc}")
            return False
        if done:
            self.replaced.add(old.pk)
        return done

    def _photos(self, dry_run: bool) -> None:
        count = 0
        for field in ("front_photo", "handheld_photo"):
            attempts = VerificationAttempt.objects.filter(
                **{f"{field}__encryption_purpose": _PLAIN}
            ).select_related(field)
            for attempt in attempts.iterator():
                old = getattr(attempt, field)
                count += dry_run or self._encrypt(
                    VerificationAttempt, attempt.pk, old, (field,), encryption.IDENTITY_PHOTO
                )
        self.stdout.write(f"identity photos encrypted: {count}")

    def _licences(self, dry_run: bool) -> None:
        count = 0
        orgs = Organization.objects.filter(licence__encryption_purpose=_PLAIN).select_related(
            "licence"
        )
        for org in orgs.iterator():
            assert org.licence is not None
            # A picture is its own preview: both fields move to the encrypted copy together.
            count += dry_run or self._encrypt(
                Organization,
                org.pk,
                org.licence,
                ("licence", "licence_preview"),
                encryption.ORG_LICENCE,
            )
        self.stdout.write(f"licences encrypted: {count}")

    def _previews(self) -> None:
        made = 0
        orgs = Organization.objects.filter(
            licence__isnull=False, licence_preview__isnull=True
        ).select_related("licence")
        for org in orgs.iterator():
            made += do_make_licence_preview(org, meta=COMMAND) is not None
        self.stdout.write(f"licence previews made: {made}")
