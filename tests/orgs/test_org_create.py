"""创建组织: the consent to 《隐私保护协议》 (seed 002) and the licence kept across a form error.

The kept licence (PendingLicence) is tried as an attacker would: another user who learnt its
uuid, the same user from another browser, a stale one, a forged form field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.legal import PRIVACY_VERSION
from qianshu.core.meta import TASK
from qianshu.envelopes import tasks
from qianshu.orgs.actions.verification import do_create_org
from qianshu.orgs.create_views import PENDING_LICENCE_KEY
from qianshu.orgs.licences import PENDING_LICENCE_HOURS, check_licence
from qianshu.orgs.models import Organization, OrgEvent, PendingLicence
from qianshu.orgs.verification import PrivacyConsentMissing
from qianshu.storage.models import Blob
from tests.orgs.conftest import client_for, licence_pdf, licence_png
from tests.support.personas import valid_credit_code

pytestmark = pytest.mark.django_db

COMPANY = "北京隐私测试科技有限公司"


def form(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "enterprise",
        "name": COMPANY,
        "credit_code": valid_credit_code(),
        "registration_number": "",
        "legal_rep_name": "赵法人",
        "privacy": "on",
    }
    data.update(extra)
    return {key: value for key, value in data.items() if value is not None}


def licence_file(name: str = "营业执照.png", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data or licence_png(), content_type="image/png")


@pytest.fixture
def alice(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")


@pytest.fixture
def bob(verified_person: Callable[..., User]) -> User:
    return verified_person("bob")


# --- 《隐私保护协议》 -------------------------------------------------------------------


def test_the_form_links_the_agreement_and_the_page_shows_its_version(alice: User) -> None:
    page = client_for(alice).get("/orgs/new/").content.decode()
    assert "我已阅读并同意" in page and 'href="/privacy/"' in page
    agreement = Client().get("/privacy/")  # public: readable before logging in
    assert agreement.status_code == 200
    text = agreement.content.decode()
    assert "《隐私保护协议》" in text and PRIVACY_VERSION in text
    assert "我们收集的信息" in text and "您的权利" in text


def test_creating_without_consent_is_refused_and_nothing_is_created(alice: User) -> None:
    response = client_for(alice).post("/orgs/new/", form(privacy=None, licence=licence_file()))
    assert response.status_code == 400
    assert "请阅读并同意《隐私保护协议》" in response.content.decode()
    assert not Organization.objects.exists()
    assert not OrgEvent.objects.exists()


def test_a_forged_consent_value_is_not_consent(alice: User) -> None:
    # An unchecked box posted by hand ("false", empty) is no consent.
    for value in ("false", ""):
        response = client_for(alice).post("/orgs/new/", form(privacy=value, licence=licence_file()))
        assert response.status_code == 400
    assert not Organization.objects.exists()


def test_consent_time_and_version_are_recorded_with_the_organisation(alice: User) -> None:
    before = timezone.now()
    response = client_for(alice).post("/orgs/new/", form(licence=licence_file()))
    assert response.status_code == 302
    org = Organization.objects.get()
    assert org.privacy_version == PRIVACY_VERSION
    assert org.privacy_consent_at is not None and before <= org.privacy_consent_at
    event = OrgEvent.objects.get(org=org, action="org_created")
    assert event.detail["privacy_version"] == PRIVACY_VERSION


def test_the_action_refuses_a_creation_without_consent(alice: User) -> None:
    with pytest.raises(PrivacyConsentMissing):
        do_create_org(
            kind="enterprise",
            name=COMPANY,
            credit_code=valid_credit_code(),
            registration_number="",
            legal_rep_name="赵法人",
            licence=check_licence(licence_png(), "x.png"),
            privacy_version="",
            actor=alice,
            meta=TASK,
        )
    assert not Organization.objects.exists()


# --- the licence kept across a form error ----------------------------------------------


def test_a_licence_is_kept_across_a_form_error_and_used_without_a_new_upload(
    alice: User,
) -> None:
    client = client_for(alice)
    picture = licence_png()
    response = client.post(
        "/orgs/new/", form(credit_code="9144030071526726XA", licence=licence_file(data=picture))
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "校验位不正确" in page
    assert "已上传：营业执照.png" in page
    assert "无需重新选择" in page
    pending = PendingLicence.objects.get()
    assert pending.user == alice and pending.name == "营业执照.png"
    assert client.session[PENDING_LICENCE_KEY] == str(pending.uuid)
    kept_blobs = {pending.licence_id, pending.preview_id}

    # The next try sends no file at all.
    response = client.post("/orgs/new/", form())
    assert response.status_code == 302, response.content.decode()
    org = Organization.objects.get()
    assert org.licence is not None and org.licence.read() == picture
    assert not PendingLicence.objects.exists()
    assert not Blob.objects.filter(sha256__in=kept_blobs).exists()  # the copy is gone
    assert PENDING_LICENCE_KEY not in client.session


def test_a_pdf_licence_is_kept_with_its_preview(alice: User) -> None:
    client = client_for(alice)
    pdf = licence_pdf()
    upload = SimpleUploadedFile("执照.pdf", pdf, content_type="application/pdf")
    assert client.post("/orgs/new/", form(name="", licence=upload)).status_code == 400
    assert client.post("/orgs/new/", form()).status_code == 302
    org = Organization.objects.get()
    assert org.licence is not None and org.licence.read() == pdf
    assert org.licence_preview is not None and org.licence_preview.content_type == "image/png"


def test_choosing_another_file_replaces_the_kept_one(alice: User) -> None:
    client = client_for(alice)
    client.post("/orgs/new/", form(name="", licence=licence_file("first.png")))
    first = PendingLicence.objects.get()
    second_picture = licence_png((640, 480))
    response = client.post(
        "/orgs/new/", form(name="", licence=licence_file("second.png", second_picture))
    )
    assert "已上传：second.png" in response.content.decode()
    second = PendingLicence.objects.get()  # only one left
    assert second.pk != first.pk
    assert not Blob.objects.filter(sha256=first.licence_id).exists()
    assert client.post("/orgs/new/", form()).status_code == 302
    org = Organization.objects.get()
    assert org.licence is not None and org.licence.read() == second_picture


def test_a_bad_new_file_keeps_the_good_one_and_says_what_is_wrong(alice: User) -> None:
    client = client_for(alice)
    client.post("/orgs/new/", form(name="", licence=licence_file("good.png")))
    response = client.post("/orgs/new/", form(licence=licence_file("bad.png", b"MZ\x90\x00" * 50)))
    assert response.status_code == 400
    page = response.content.decode()
    assert "“bad.png”不是 JPG、JPEG、PNG 图片或 PDF 文件" in page
    assert "已上传：good.png" in page
    assert PendingLicence.objects.get().name == "good.png"


def test_another_user_cannot_use_a_kept_licence_even_knowing_its_uuid(
    alice: User, bob: User
) -> None:
    client_for(alice).post("/orgs/new/", form(name="", licence=licence_file()))
    pending = PendingLicence.objects.get()
    thief = client_for(bob)
    session = thief.session
    session[PENDING_LICENCE_KEY] = str(pending.uuid)
    session.save()
    assert "已上传" not in thief.get("/orgs/new/").content.decode()
    response = thief.post("/orgs/new/", form(pending_licence=str(pending.uuid)))
    assert response.status_code == 400
    assert "请上传营业执照" in response.content.decode()
    assert not Organization.objects.exists()
    assert PendingLicence.objects.filter(pk=pending.pk, user=alice).exists()  # untouched


def test_the_same_user_in_another_browser_does_not_get_it(alice: User) -> None:
    client_for(alice).post("/orgs/new/", form(name="", licence=licence_file()))
    other_browser = client_for(alice)
    response = other_browser.post("/orgs/new/", form())
    assert response.status_code == 400
    assert "请上传营业执照" in response.content.decode()
    assert not Organization.objects.exists()


def test_a_stale_kept_licence_is_not_used(alice: User) -> None:
    client = client_for(alice)
    client.post("/orgs/new/", form(name="", licence=licence_file()))
    PendingLicence.objects.update(
        created_at=timezone.now() - timedelta(hours=PENDING_LICENCE_HOURS, minutes=1)
    )
    response = client.post("/orgs/new/", form())
    assert response.status_code == 400
    assert "请上传营业执照" in response.content.decode()
    assert PENDING_LICENCE_KEY not in client.session


def test_a_garbage_session_value_is_ignored(alice: User) -> None:
    client = client_for(alice)
    session = client.session
    session[PENDING_LICENCE_KEY] = "not-a-uuid"
    session.save()
    response = client.post("/orgs/new/", form())
    assert response.status_code == 400
    assert "请上传营业执照" in response.content.decode()


def test_the_timers_delete_abandoned_kept_licences_and_their_files(alice: User, bob: User) -> None:
    client_for(alice).post("/orgs/new/", form(name="", licence=licence_file("old.png")))
    client_for(bob).post("/orgs/new/", form(name="", licence=licence_file("new.png")))
    old = PendingLicence.objects.get(user=alice)
    PendingLicence.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=PENDING_LICENCE_HOURS, minutes=1)
    )
    assert tasks.run_timers()["licences_purged"] == 1
    assert list(PendingLicence.objects.values_list("name", flat=True)) == ["new.png"]
    assert not Blob.objects.filter(sha256=old.licence_id).exists()
    assert tasks.run_timers()["licences_purged"] == 0
