"""ID photos for manual review are encrypted at rest (issue 10, item 13): the blob directory
holds no photo, the applicant and the operators see it decrypted, never cached."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qianshu.accounts.models import User
from qianshu.identity.models import VerificationAttempt
from qianshu.storage import encryption
from tests.identity.helpers import declare, image_bytes, logged_in

pytestmark = pytest.mark.django_db

MARKER = b"HANDHELD-PHOTO-MARKER"


def test_manual_review_photos_are_ciphertext_on_disk(
    identity_settings: Any, alice: User, operator: User
) -> None:
    front, handheld = image_bytes("JPEG"), image_bytes("PNG") + MARKER
    client = logged_in(alice)
    declare(client, id_type="passport", id_number="E12345678", name="John Smith")
    response = client.post(
        "/me/identity/manual/",
        {
            "front": SimpleUploadedFile("front.jpg", front, "image/jpeg"),
            "handheld": SimpleUploadedFile("hand.png", handheld, "image/png"),
        },
    )
    assert response.status_code == 302
    attempt = VerificationAttempt.objects.get(user=alice)
    assert attempt.front_photo.encryption_purpose == encryption.IDENTITY_PHOTO
    root = Path(identity_settings.QIANSHU_STORAGE_DIR)
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert len(stored) == 2
    for path in stored:
        content = path.read_bytes()
        assert b"\x89PNG" not in content and b"\xff\xd8\xff" not in content
        assert MARKER not in content
        assert stat.S_IMODE(path.stat().st_mode) == 0o400
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    for viewer, url in (
        (alice, f"/me/identity/attempts/{attempt.uuid}/photo/handheld/"),
        (operator, f"/backoffice/identity/{attempt.uuid}/photo/handheld/"),
    ):
        photo = logged_in(viewer).get(url)
        assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
        assert b"".join(photo) == handheld  # type: ignore[arg-type]
        assert "no-store" in photo["Cache-Control"] and photo["Pragma"] == "no-cache"
        assert photo["Content-Disposition"] == 'inline; filename="id-handheld.png"'


def test_a_wrong_master_key_is_a_404_not_a_500(
    identity_settings: Any, alice: User, operator: User
) -> None:
    client = logged_in(alice)
    declare(client, id_type="passport", id_number="E12345678", name="John Smith")
    client.post(
        "/me/identity/manual/",
        {
            "front": SimpleUploadedFile("front.jpg", image_bytes("JPEG"), "image/jpeg"),
            "handheld": SimpleUploadedFile("hand.png", image_bytes("PNG"), "image/png"),
        },
    )
    attempt = VerificationAttempt.objects.get(user=alice)
    identity_settings.MASTER_KEY = "b3RoZXItbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE="
    response = logged_in(operator).get(f"/backoffice/identity/{attempt.uuid}/photo/front/")
    assert response.status_code == 404
