"""Licence ingest is bounded (issue 10, item 6) and licences are encrypted at rest (item 13).

A 2 MB PDF whose page draws a Flate stream inflating to 2 GiB used to be accepted, and every
preview rendered it again in the web process (seconds and gigabytes each time). Now the PDF is
opened and rendered once, at upload, in a child with CPU and memory limits; pages serve the
stored preview only.
"""

from __future__ import annotations

import io
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from django.test import Client

from qianshu.accounts.models import User
from qianshu.orgs.models import Membership, Organization
from qianshu.signing.samples import make_test_pdf
from qianshu.storage import encryption
from qianshu.storage.actions import do_store_blob
from qianshu.storage.models import Blob
from tests.orgs.conftest import licence_pdf, licence_png
from tests.orgs.test_licences import upload
from tests.support.pdfs import GIB, flate_bomb
from tests.support.personas import valid_credit_code

pytestmark = pytest.mark.django_db


def bomb_pdf(inflated: int = 2 * GIB) -> bytes:
    """A one-page PDF that draws a form XObject whose Flate stream inflates to ``inflated``
    bytes: the licence of the issue (about 2 MB on disk)."""
    pdf = pikepdf.open(io.BytesIO(make_test_pdf(1, with_cjk_text=False)))
    page = pdf.pages[0]
    bomb = pdf.make_stream(
        b"", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 10, 10]
    )
    bomb.write(flate_bomb(inflated), filter=pikepdf.Name.FlateDecode)
    page.obj.Resources.XObject = pikepdf.Dictionary(Bomb=bomb)
    page.obj.Contents = pikepdf.Array([page.obj.Contents, pdf.make_stream(b"q /Bomb Do Q")])
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def create(client: Client, name: str, data: bytes) -> Any:
    return upload(client, name, data, "application/pdf")


@pytest.fixture
def admin(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")


@pytest.fixture
def client(admin: User) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def stored_files(blob_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in blob_dir.rglob("*") if p.is_file()}


def test_a_decompression_bomb_is_refused_at_upload_in_a_child(client: Client) -> None:
    data = bomb_pdf()
    assert len(data) < 3 * 1024 * 1024

    response = create(client, "执照-bomb.pdf", data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "“执照-bomb.pdf”打开时需要的内存或时间过多" in page
    assert not Organization.objects.exists() and not Blob.objects.exists()
    # The web process itself never inflated the stream (it would have needed gigabytes).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1536 * 1024  # KiB


def test_the_preview_is_rendered_once_and_served_from_its_blob(
    client: Client, blob_dir: Path
) -> None:
    assert create(client, "执照.pdf", licence_pdf()).status_code == 302
    org = Organization.objects.select_related("licence", "licence_preview").get()
    assert org.licence is not None and org.licence_preview is not None
    assert org.licence.encryption_purpose == encryption.ORG_LICENCE
    assert org.licence_preview.encryption_purpose == encryption.ORG_LICENCE_PREVIEW
    stored = org.licence_preview.read()
    blobs_before = set(Blob.objects.values_list("sha256", flat=True))
    files_before = stored_files(blob_dir)

    for _ in range(2):
        response = client.get(f"/orgs/{org.uuid}/licence/preview/")
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert b"".join(response) == stored  # type: ignore[arg-type]

    assert set(Blob.objects.values_list("sha256", flat=True)) == blobs_before
    assert stored_files(blob_dir) == files_before
    org.refresh_from_db()
    assert org.licence_preview_id == org.licence_preview.pk


def test_licences_and_previews_are_ciphertext_on_disk(client: Client, blob_dir: Path) -> None:
    marker = b"LICENCE-MARKER-91110000"
    data = licence_pdf().replace(b"%%EOF", b"%" + marker + b"\n%%EOF")
    assert create(client, "执照.pdf", data).status_code == 302
    org = Organization.objects.get()

    on_disk = stored_files(blob_dir)
    assert len(on_disk) == 2  # the licence and its preview
    for content in on_disk.values():
        assert b"%PDF" not in content and b"\x89PNG" not in content and marker not in content
    original = client.get(f"/orgs/{org.uuid}/licence/")
    assert b"".join(original) == data  # type: ignore[arg-type]
    assert "no-store" in original["Cache-Control"]


def legacy_org(admin: User, licence: bytes, content_type: str) -> Organization:
    """An organisation as stored before this change: plaintext licence, no preview."""
    org = Organization.objects.create(
        kind="enterprise",
        name="老组织有限公司",
        credit_code=valid_credit_code(),
        legal_rep_name="赵法人",
        licence=do_store_blob(licence, content_type=content_type),
        created_by=admin,
    )
    Membership.objects.create(org=org, user=admin, role=Membership.Role.ADMIN)
    return org


def test_an_older_organisation_gets_its_preview_once(client: Client, admin: User) -> None:
    org = legacy_org(admin, licence_pdf(), "application/pdf")

    first = client.get(f"/orgs/{org.uuid}/licence/preview/")
    assert first.status_code == 200 and b"".join(first).startswith(b"\x89PNG")  # type: ignore[arg-type]
    org.refresh_from_db()
    assert org.licence_preview is not None
    blobs = set(Blob.objects.values_list("sha256", flat=True))

    second = client.get(f"/orgs/{org.uuid}/licence/preview/")
    assert b"".join(second) == b"".join(first)  # type: ignore[arg-type]
    assert set(Blob.objects.values_list("sha256", flat=True)) == blobs


@pytest.mark.parametrize(
    "licence",
    [
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + b"\x00garbage" * 200,
        bomb_pdf(),
    ],
    ids=["damaged", "bomb"],
)
def test_an_unrenderable_older_licence_never_500s_nor_renders_twice(
    client: Client, admin: User, operator: User, licence: bytes
) -> None:
    org = legacy_org(admin, licence, "application/pdf")

    assert client.get(f"/orgs/{org.uuid}/licence/preview/").status_code == 404
    org.refresh_from_db()
    assert org.licence_preview_id == org.licence_id  # "cannot be previewed", remembered
    blobs = Blob.objects.count()
    assert client.get(f"/orgs/{org.uuid}/licence/preview/").status_code == 404
    assert Blob.objects.count() == blobs
    assert client.get(f"/orgs/{org.uuid}/verify/").status_code == 200
    download = client.get(f"/orgs/{org.uuid}/licence/")
    assert download.status_code == 200 and b"".join(download) == licence  # type: ignore[arg-type]
    staff = Client()
    staff.force_login(operator)
    assert staff.get(f"/backoffice/orgs/{org.uuid}/licence/?preview=1").status_code == 404


def test_a_picture_is_its_own_preview(client: Client) -> None:
    response = upload(client, "执照.png", licence_png(), "image/png")
    assert response.status_code == 302
    org = Organization.objects.get()
    assert org.licence_preview_id == org.licence_id and Blob.objects.count() == 1
    preview = client.get(f"/orgs/{org.uuid}/licence/preview/")
    assert b"".join(preview) == licence_png()  # type: ignore[arg-type]
    assert preview["Content-Disposition"] == 'inline; filename="licence.png"'
