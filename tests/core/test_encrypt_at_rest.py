"""``qianshu encrypt_at_rest``: identity photos and licences stored in plaintext by older versions
are encrypted, rows repointed, plaintext removed once nothing refers to it; the operators still
see everything; running it again changes nothing."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.identity import crypto
from qianshu.identity.models import Method, VerificationAttempt
from qianshu.orgs.models import Membership, Organization
from qianshu.storage.actions import do_store_blob
from qianshu.storage.blobs import get_blob_store
from qianshu.storage.models import Blob
from tests.identity.helpers import image_bytes
from tests.orgs.conftest import licence_pdf, licence_png
from tests.support.accounts import make_user
from tests.support.personas import valid_credit_code

pytestmark = pytest.mark.django_db

MARKER = b"PLAINTEXT-ID-PHOTO-MARKER"


@pytest.fixture(autouse=True)
def blob_dir(settings: Any, tmp_path: Path) -> Path:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    return tmp_path / "blobs"


def legacy_attempt(user: User, front: Blob, handheld: Blob) -> VerificationAttempt:
    return VerificationAttempt.objects.create(
        user=user,
        method=Method.MANUAL,
        id_type="passport",
        name="John Smith",
        number_encrypted=crypto.encrypt("E12345678", user_id=user.pk),
        number_hmac=crypto.number_hmac("passport", "E12345678"),
        number_masked="E1*****78",
        status=VerificationAttempt.Status.PENDING_REVIEW,
        front_photo=front,
        handheld_photo=handheld,
    )


def legacy_org(admin: User, licence: Blob, name: str) -> Organization:
    org = Organization.objects.create(
        kind="enterprise",
        name=name,
        credit_code=valid_credit_code(),
        legal_rep_name="赵法人",
        licence=licence,
        created_by=admin,
    )
    Membership.objects.create(org=org, user=admin, role=Membership.Role.ADMIN)
    return org


def run() -> str:
    out = io.StringIO()
    call_command("encrypt_at_rest", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_plaintext_is_encrypted_repointed_and_removed(blob_dir: Path) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    operator = make_user("operator", phone="13900000009", is_staff=True)
    front_bytes = image_bytes("JPEG") + MARKER  # JPEG readers ignore trailing bytes
    front = do_store_blob(front_bytes, content_type="image/jpeg")
    hand = do_store_blob(image_bytes("PNG"), content_type="image/png")
    first = legacy_attempt(alice, front, hand)
    second = legacy_attempt(bob, front, hand)  # the same photos, stored once
    png_licence = do_store_blob(licence_png(), content_type="image/png")
    pdf = licence_pdf()
    pdf_licence = do_store_blob(pdf, content_type="application/pdf")
    image_org = legacy_org(alice, png_licence, "图片执照有限公司")
    pdf_org = legacy_org(alice, pdf_licence, "PDF执照有限公司")
    # The same picture is also somebody's handwritten signature: it must stay.
    HandwrittenSignature.objects.create(
        user=bob, image=png_licence, source="upload", width=600, height=420
    )
    # A folder an older version left open (0o755), under a prefix no blob of this test has
    # (a fixed one was taken whenever a stored blob's digest happened to start with it).
    spare = next(blob_dir / f"{n:02x}" for n in range(256) if not (blob_dir / f"{n:02x}").exists())
    spare.mkdir(mode=0o755)
    assert MARKER in b"".join(files(blob_dir).values())

    output = run()

    assert "identity photos encrypted: 4" in output
    assert "licences encrypted: 2" in output
    assert "plaintext blobs deleted: 3" in output  # front, hand, the PDF; not the signature
    assert "licence previews made: 2" in output  # the picture is its own preview
    for attempt in (first, second):
        attempt.refresh_from_db()
        assert attempt.front_photo.is_encrypted and attempt.handheld_photo.is_encrypted
        assert attempt.front_photo.read() == front_bytes
    image_org.refresh_from_db()
    pdf_org.refresh_from_db()
    assert image_org.licence.is_encrypted and image_org.licence_preview_id == image_org.licence_id
    assert image_org.licence.read() == licence_png()
    assert pdf_org.licence.read() == pdf
    assert pdf_org.licence_preview.is_encrypted
    assert pdf_org.licence_preview.read().startswith(b"\x89PNG")
    store = get_blob_store()
    assert not store.exists(front.pk) and not store.exists(pdf_licence.pk)
    assert store.exists(png_licence.pk)  # still the signature's
    at_rest = b"".join(files(blob_dir).values())
    assert MARKER not in at_rest and b"%PDF" not in at_rest
    for path in [blob_dir, *blob_dir.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o400), path

    # The operators still see the photos and the licence, decrypted, never cached.
    staff = Client()
    staff.force_login(operator)
    photo = staff.get(f"/backoffice/identity/{first.uuid}/photo/front/")
    assert photo.status_code == 200 and b"".join(photo) == front_bytes  # type: ignore[arg-type]
    assert "no-store" in photo["Cache-Control"]
    licence = staff.get(f"/backoffice/orgs/{pdf_org.uuid}/licence/?preview=1")
    assert licence.status_code == 200 and b"".join(licence).startswith(b"\x89PNG")  # type: ignore[arg-type]
    assert "no-store" in licence["Cache-Control"]

    # Again: nothing left to do.
    before = files(blob_dir)
    again = run()
    assert "identity photos encrypted: 0" in again and "licences encrypted: 0" in again
    assert files(blob_dir) == before


def test_dry_run_changes_nothing(blob_dir: Path) -> None:
    alice = make_user("alice")
    photo = do_store_blob(image_bytes("PNG"), content_type="image/png")
    legacy_attempt(alice, photo, photo)
    before = files(blob_dir)
    out = io.StringIO()
    call_command("encrypt_at_rest", "--dry-run", stdout=out)
    assert "identity photos encrypted: 2" in out.getvalue()
    assert files(blob_dir) == before and not Blob.objects.filter(encryption_purpose__gt="").exists()
