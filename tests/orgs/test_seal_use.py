"""用印: a member with a current grant seals a PDF with the seal's key, confirmed by their PIN.

Hostile files (issue 10, item 10), at the end: a signed upload cannot be normalised without
breaking its signatures, so one that carries JavaScript, actions, attachments, form fields or
broken signatures is refused — with a clear message, before the PIN is asked for (the file is
checked in a limited child process while the form is validated: a wrong PIN sent along is not
even counted). An unsigned upload is normalised as at ingest. A failure while signing, after
the PIN, is a form error that keeps the input, never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.identity.access import active_credential
from qianshu.identity.actions import do_set_signing_pin
from qianshu.orgs import grant_forms
from qianshu.orgs.actions.grants import do_revoke_grant
from qianshu.orgs.models import Membership, Organization, OrgEvent, Seal, SealGrant, SealUsage
from qianshu.pki.platform import load_platform
from qianshu.signing.ingest import IngestLimits
from qianshu.signing.pages import render_page
from qianshu.signing.samples import make_test_pdf
from qianshu.signing.verify import verify_pdf
from qianshu.storage.models import Blob
from tests.orgs.conftest import client_for
from tests.support.pdfs import (
    make_encrypted_pdf,
    make_pdf_with_attachments,
    make_pdf_with_form_fields,
    make_pdf_with_javascript,
    make_signed_pdf,
)
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

PIN = "482913"


@pytest.fixture
def org(verified_org: Callable[..., Organization], alice: User, bob: User) -> Organization:
    org = verified_org(alice, name="北京测试科技有限公司", legal_rep_name="张伟")
    Membership.objects.create(org=org, user=bob, role=Membership.Role.SEAL_KEEPER)
    return org


@pytest.fixture
def seal(org: Organization, alice: User, pki: None) -> Seal:
    return make_seal(org, alice, kind=Seal.Kind.CONTRACT)


@pytest.fixture
def keeper(bob: User, pki: None, verified_person: Callable[..., User]) -> User:
    """bob, verified, with a signing PIN."""
    user = verified_person("bob")
    do_set_signing_pin(PIN, actor=user, meta=TASK)
    return user


@pytest.fixture
def grant(seal: Seal, keeper: User, alice: User) -> SealGrant:
    now = timezone.now()
    return SealGrant.objects.create(
        seal=seal,
        grantee=keeper,
        granted_by=alice,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=30),
    )


def use_url(org: Organization, seal: Seal) -> str:
    return f"/orgs/{org.uuid}/seals/{seal.uuid}/use/"


def post_use(
    client: Client,
    org: Organization,
    seal: Seal,
    data: bytes | None = None,
    *,
    name: str = "采购合同.pdf",
    pin: str = PIN,
    **extra: Any,
):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile(
        name, make_test_pdf(pages=2) if data is None else data, "application/pdf"
    )
    form = {"document": upload, "pin": pin, "position": "bottom_right", **extra}
    return client.post(use_url(org, seal), form)


def seal_widget(data: bytes) -> tuple[int, tuple[float, ...]]:
    """(zero-based page, rectangle) of the seal's signature widget in the sealed PDF."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for index, page in enumerate(pdf.pages):
            for annot in page.obj.get("/Annots", []):
                if str(annot.get("/T", "")).startswith("QS-Seal-"):
                    return index, tuple(float(v) for v in annot.Rect)
    raise AssertionError("no seal widget")


def text(response: Any) -> str:
    return response.content.decode()


def test_the_sealed_pdf_verifies_and_the_use_is_logged(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant, artifacts_dir: Path
) -> None:
    page = client_for(keeper).get(use_url(org, seal))
    assert page.status_code == 200 and "签署密码" in text(page)
    response = post_use(client_for(keeper), org, seal)
    assert response.status_code == 200, text(response)
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    sealed = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    digest = hashlib.sha256(sealed).hexdigest()

    report = verify_pdf(sealed, load_platform().trust())
    assert report.verdict == "valid", report.reason
    seal_sigs = [s for s in report.signatures if s.kind == "signature"]
    assert len(seal_sigs) == 1
    signature = seal_sigs[0]
    assert signature.intact and signature.valid and signature.trusted
    assert int(signature.certificate_serial, 16) == int(seal.certificate.serial_hex, 16)
    assert signature.organisation == org.name
    assert report.document_timestamped  # finished as B-LTA
    # default: last page, bottom right
    page_index, (x1, _, _, y2) = seal_widget(sealed)
    assert page_index == 1
    assert x1 > 595 / 2 and y2 < 842 / 3
    folder = artifacts_dir / "orgs"
    folder.mkdir(exist_ok=True)
    (folder / "sealed-contract.pdf").write_bytes(sealed)
    (folder / "sealed-contract-last-page.png").write_bytes(render_page(sealed, 1, width_px=600))

    usage = SealUsage.objects.get()
    assert (usage.seal, usage.user, usage.grant) == (seal, keeper, grant)
    assert usage.document_name == "采购合同.pdf"
    assert usage.document_sha256 == digest
    assert usage.ip == "127.0.0.1"
    assert Blob.objects.get(sha256=digest).read() == sealed
    event = OrgEvent.objects.get(org=org, action="seal_used")
    assert event.actor == keeper and event.detail["output_sha256"] == digest
    # administrators find it in the log and can download it again
    log = client_for(org.created_by).get(f"/orgs/{org.uuid}/usage/")
    assert "采购合同.pdf" in text(log)
    again = client_for(org.created_by).get(f"/orgs/{org.uuid}/usage/{usage.pk}/download/")
    assert b"".join(again.streaming_content) == sealed  # type: ignore[attr-defined]
    assert client_for(keeper).get(f"/orgs/{org.uuid}/usage/{usage.pk}/download/").status_code == 404


def test_page_and_position_are_honoured(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    response = post_use(client_for(keeper), org, seal, page="1", position="top_left")
    assert response.status_code == 200, text(response)
    sealed = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    page_index, (x1, y1, x2, _) = seal_widget(sealed)
    assert page_index == 0
    assert x2 < 595 / 2 and y1 > 842 / 2
    assert x2 - x1 == pytest.approx(119, abs=1)
    too_far = post_use(client_for(keeper), org, seal, page="3")
    assert too_far.status_code == 400 and "文件只有 2 页" in text(too_far)
    assert SealUsage.objects.count() == 1


def test_wrong_pin_writes_no_usage(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    response = post_use(client_for(keeper), org, seal, pin="999999")
    assert response.status_code == 400
    assert "签署密码错误，还可以尝试 4 次" in text(response)
    assert not SealUsage.objects.exists()
    assert not OrgEvent.objects.filter(action="seal_used").exists()
    short = post_use(client_for(keeper), org, seal, pin="12")
    assert short.status_code == 400 and "签署密码为 6 位数字" in text(short)
    for _ in range(4):
        post_use(client_for(keeper), org, seal, pin="999999")
    locked = post_use(client_for(keeper), org, seal)  # even the right PIN: locked now
    assert locked.status_code == 400 and "锁定" in text(locked)
    assert not SealUsage.objects.exists()


def test_a_member_without_a_pin_is_told_to_set_one(
    org: Organization, seal: Seal, alice: User, verified_person: Callable[..., User]
) -> None:
    now = timezone.now()
    SealGrant.objects.create(
        seal=seal,
        grantee=alice,
        granted_by=alice,
        valid_from=now - dt.timedelta(minutes=1),
        valid_until=now + dt.timedelta(days=1),
    )
    response = post_use(client_for(alice), org, seal)
    assert response.status_code == 400 and "您尚未设置签署密码" in text(response)
    assert not SealUsage.objects.exists()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"MZ\x90\x00" + b"\x00" * 500, "合同.pdf", "不是 PDF"),
        (b"", "empty.pdf", "文件是空的"),
        (make_encrypted_pdf(), "加密.pdf", "已加密"),
        (make_test_pdf(pages=1)[:400], "broken.pdf", "已损坏"),
    ],
    ids=["exe", "empty", "encrypted", "truncated"],
)
def test_bad_files_get_a_clear_error(
    org: Organization,
    seal: Seal,
    keeper: User,
    grant: SealGrant,
    data: bytes,
    name: str,
    message: str,
) -> None:
    response = post_use(client_for(keeper), org, seal, data, name=name)
    assert response.status_code == 400
    assert message in text(response)
    assert not SealUsage.objects.exists()


def test_too_large_files_are_refused(
    org: Organization,
    seal: Seal,
    keeper: User,
    grant: SealGrant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grant_forms, "SEAL_USE_LIMITS", IngestLimits(max_bytes=2048))
    response = post_use(client_for(keeper), org, seal, make_test_pdf(pages=3))
    assert response.status_code == 400 and "请压缩后再上传" in text(response)
    monkeypatch.setattr(grant_forms, "SEAL_USE_LIMITS", IngestLimits(max_pages=2))
    response = post_use(client_for(keeper), org, seal, make_test_pdf(pages=3))
    assert response.status_code == 400 and "文件过大" in text(response)
    assert not SealUsage.objects.exists()


def test_without_a_current_grant_the_endpoint_is_404(
    org: Organization,
    seal: Seal,
    keeper: User,
    alice: User,
    charlie: User,
    grant: SealGrant,
    verified_org: Callable[..., Organization],
) -> None:
    other = verified_org(charlie, name="上海另一家公司")
    # alice is the administrator but holds no grant; charlie is an outsider
    for user, org_uuid in ((alice, org.uuid), (charlie, org.uuid), (charlie, other.uuid)):
        url = f"/orgs/{org_uuid}/seals/{seal.uuid}/use/"
        client = client_for(user)
        assert client.get(url).status_code == 404
        upload = SimpleUploadedFile("a.pdf", make_test_pdf(), "application/pdf")
        assert client.post(url, {"document": upload, "pin": PIN}).status_code == 404
    do_revoke_grant(grant, actor=alice, meta=TASK)
    assert client_for(keeper).get(use_url(org, seal)).status_code == 404
    assert post_use(client_for(keeper), org, seal).status_code == 404
    assert not SealUsage.objects.exists()
    assert not OrgEvent.objects.filter(action="seal_used").exists()


def test_a_grant_revoked_between_page_and_submit_is_not_used(
    org: Organization,
    seal: Seal,
    keeper: User,
    alice: User,
    grant: SealGrant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The grant is checked again, under a row lock, after the PIN."""
    from qianshu.orgs.actions import grants as grant_actions

    real_unlock = grant_actions.do_unlock_signing_key

    def unlock_then_revoke(user: User, pin: str, **kwargs: Any) -> Any:
        result = real_unlock(user, pin, **kwargs)
        SealGrant.objects.filter(pk=grant.pk).update(status=SealGrant.Status.REVOKED)
        return result

    monkeypatch.setattr(grant_actions, "do_unlock_signing_key", unlock_then_revoke)
    response = post_use(client_for(keeper), org, seal)
    assert response.status_code == 400 and "授权已失效" in text(response)
    assert not SealUsage.objects.exists()


def test_a_destroyed_seal_certificate_is_not_used(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    from qianshu.pki.actions import do_revoke_certificate

    do_revoke_certificate(int(seal.certificate.serial_hex, 16))
    response = post_use(client_for(keeper), org, seal)
    assert response.status_code == 400 and "印章证书已失效" in text(response)
    assert not SealUsage.objects.exists()


def test_a_sealed_document_can_be_sealed_again_but_not_a_certified_one(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    from qianshu.signing import documents

    client = client_for(keeper)
    first = b"".join(post_use(client, org, seal).streaming_content)  # type: ignore[attr-defined]
    response = post_use(client, org, seal, first, name="采购合同（已盖章）.pdf", position="center")
    assert response.status_code == 200, text(response)
    second = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert second.startswith(first)  # an incremental update: the first seal stays intact
    report = verify_pdf(second, load_platform().trust())
    assert report.verdict == "valid", report.reason
    assert len([s for s in report.signatures if s.kind == "signature"]) == 2
    assert SealUsage.objects.count() == 2

    certified = documents.prepare_document(
        make_test_pdf(), [], certifier=load_platform().certifier, timestamper=None
    )
    response = post_use(client, org, seal, certified, pin=WRONG_PIN)
    assert response.status_code == 400 and "认证签名锁定" in text(response)
    assert SealUsage.objects.count() == 2
    credential = active_credential(keeper)
    assert credential is not None and credential.failed_attempts == 0  # refused before the PIN


def test_a_document_completed_and_locked_elsewhere_is_refused_with_its_reason(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    """A contract completed on the platform (uncertified, so only its completion lock forbids
    additions) gets the reason, not "damaged", and the PIN is never asked for."""
    from qianshu.signing import documents

    platform = load_platform()
    approved = documents.prepare_document(
        make_test_pdf(), [], certifier=platform.certifier, timestamper=None, certify=False
    )
    locked = documents.lock_document(approved, signer=platform.certifier, timestamper=None)
    response = post_use(client_for(keeper), org, seal, locked, pin=WRONG_PIN)
    assert response.status_code == 400, text(response)
    assert "完成签署并锁定" in text(response) and "损坏" not in text(response)
    assert not SealUsage.objects.exists()
    credential = active_credential(keeper)
    assert credential is not None and credential.failed_attempts == 0


# --- hostile files ------------------------------------------------------------------------

WRONG_PIN = "000000"


def _same_length(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first ``old`` by ``new`` of the same length: the cross-reference offsets
    stay right, so only the signature is broken, not the file."""
    assert len(old) == len(new) and old in data
    return data.replace(old, new, 1)


def _digest_broken(signed: bytes) -> bytes:
    """Change one byte of page content inside the signed byte range."""
    match = re.search(rb"BT\s", signed)
    assert match is not None
    at = match.start()
    return signed[:at] + b"bt" + signed[at + 2 :]


HOSTILE_SIGNED: dict[str, tuple[Callable[[], bytes], str]] = {
    "javascript": (lambda: make_signed_pdf(make_pdf_with_javascript()), "JavaScript 脚本"),
    "attachments": (lambda: make_signed_pdf(make_pdf_with_attachments()), "嵌入的附件"),
    "form-fields": (lambda: make_signed_pdf(make_pdf_with_form_fields()), "表单域"),
    "no-byte-range": (
        lambda: _same_length(make_signed_pdf(), b"/ByteRange", b"/ByteRangX"),
        "已有的签名无法验证",
    ),
    "no-contents": (
        lambda: _same_length(make_signed_pdf(), b"/Contents <", b"/Contentx <"),
        "已有的签名无法验证",
    ),
    "bad-hex": (
        lambda: re.sub(
            rb"/Contents <[0-9a-fA-F]{6}", b"/Contents <zzzzzz", make_signed_pdf(), count=1
        ),
        "已有的签名无法验证",
    ),
    "digest-mismatch": (lambda: _digest_broken(make_signed_pdf()), "已有的签名无法验证"),
    "data-after-eof": (
        lambda: make_signed_pdf() + b"\n9 0 obj\n<< /JS (app.alert(1)) >>\nendobj\n",
        "已有的签名无法验证",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SIGNED))
def test_a_hostile_signed_upload_is_refused_before_the_pin(
    name: str, org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    build, message = HOSTILE_SIGNED[name]
    response = post_use(client_for(keeper), org, seal, build(), pin=WRONG_PIN, page="1")
    assert response.status_code == 400
    assert message in text(response)
    assert 'name="page" value="1"' in text(response)  # what the user chose stays
    credential = active_credential(keeper)
    assert credential is not None and credential.failed_attempts == 0  # the PIN was not tried
    assert not SealUsage.objects.exists()
    assert not OrgEvent.objects.filter(action="seal_used").exists()


def test_an_unsigned_upload_is_normalised_before_sealing(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    response = post_use(client_for(keeper), org, seal, make_pdf_with_javascript())
    assert response.status_code == 200, text(response)
    sealed = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with pikepdf.open(io.BytesIO(sealed)) as pdf:
        assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root
        names = pdf.Root.get("/Names")
        assert names is None or "/JavaScript" not in names
        for page in pdf.pages:
            for annot in page.obj.get("/Annots", []):
                action = annot.get("/A")
                assert action is None or action.get("/S") in (pikepdf.Name.URI, pikepdf.Name.GoTo)
    assert b"/JavaScript" not in sealed and b"/Launch" not in sealed
    report = verify_pdf(sealed, load_platform().trust())
    assert report.verdict == "valid", report.reason


def test_a_clean_third_party_signature_can_be_sealed_on(
    org: Organization, seal: Seal, keeper: User, grant: SealGrant
) -> None:
    signed = make_signed_pdf(make_test_pdf(pages=2))
    response = post_use(client_for(keeper), org, seal, signed)
    assert response.status_code == 200, text(response)
    sealed = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert sealed.startswith(signed)
    report = verify_pdf(sealed, load_platform().trust())
    signatures = [s for s in report.signatures if s.kind == "signature"]
    assert len(signatures) == 2 and all(s.intact and s.valid for s in signatures)
    ours = signatures[-1]
    assert ours.trusted and ours.organisation == org.name
    assert SealUsage.objects.count() == 1


def test_a_failure_while_signing_is_a_form_error_that_keeps_the_input(
    org: Organization,
    seal: Seal,
    keeper: User,
    grant: SealGrant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qianshu.orgs import grants

    def explode(*args: object, **kwargs: object) -> bytes:
        raise KeyError("/ByteRange")  # what a parser deep in pyHanko may raise

    monkeypatch.setattr(grants.documents, "sign_turn", explode)
    response = post_use(
        client_for(keeper), org, seal, make_test_pdf(pages=2), page="2", position="top_left"
    )
    assert response.status_code == 400
    assert "盖章失败，请检查文件后重试" in text(response)
    assert 'name="page" value="2"' in text(response)
    assert re.search(r'<option value="top_left" selected', text(response))
    assert not SealUsage.objects.exists()
    assert not OrgEvent.objects.filter(action="seal_used").exists()
