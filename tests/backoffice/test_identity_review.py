"""The back office: staff only, the manual review queue, approve / reject with notifications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from qianshu.accounts.models import SecurityEvent, User
from qianshu.core.meta import TASK
from qianshu.identity import actions
from qianshu.identity.errors import ReviewAlreadyDecided
from qianshu.identity.models import PersonIdentity, VerificationAttempt
from qianshu.notifications.models import OutboxMessage
from tests.identity.helpers import declare, image_bytes, logged_in

pytestmark = pytest.mark.django_db

Status = VerificationAttempt.Status
PASSPORT = "E12345678"


def submit_manual(client: Client, *, number: str = PASSPORT, name: str = "John Smith") -> None:
    declare(client, id_type="passport", id_number=number, name=name)
    response = client.post(
        "/me/identity/manual/",
        {
            "front": SimpleUploadedFile("front.jpg", image_bytes("JPEG"), "image/jpeg"),
            "handheld": SimpleUploadedFile("hand.png", image_bytes("PNG"), "image/png"),
        },
    )
    assert response.status_code == 302


@pytest.fixture
def pending(alice: User) -> VerificationAttempt:
    submit_manual(logged_in(alice))
    return VerificationAttempt.objects.get(user=alice)


def backoffice_urls(attempt: VerificationAttempt) -> list[tuple[str, str]]:
    base = f"/backoffice/identity/{attempt.uuid}"
    return [
        ("get", "/backoffice/"),
        ("get", "/backoffice/identity/"),
        ("get", f"{base}/"),
        ("get", f"{base}/photo/front/"),
        ("get", f"{base}/photo/handheld/"),
        ("post", f"{base}/decide/"),
    ]


def test_non_staff_get_404_everywhere(pending: VerificationAttempt, alice: User, bob: User) -> None:
    for user in (alice, bob):  # the applicant herself included
        client = logged_in(user)
        for method, url in backoffice_urls(pending):
            response = getattr(client, method)(url, {"decision": "approve"})
            assert response.status_code == 404, (user, url)
    for method, url in backoffice_urls(pending):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_REVIEW


def test_home_lists_the_queues_with_counts(pending: VerificationAttempt, operator: User) -> None:
    html = logged_in(operator).get("/backoffice/").content.decode()
    assert "个人实名认证审核" in html
    assert 'data-testid="queue-identity-count">1<' in html


def test_queue_is_oldest_first(alice: User, bob: User, operator: User) -> None:
    submit_manual(logged_in(alice), name="Alice Older")
    submit_manual(logged_in(bob), number="E87654321", name="Bob Newer")
    VerificationAttempt.objects.filter(name="Alice Older").update(
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    html = logged_in(operator).get("/backoffice/identity/").content.decode()
    assert html.index("Alice Older") < html.index("Bob Newer")
    # The full number is not on the list, only masked.
    assert PASSPORT not in html and "E1*****78" in html


def test_review_page_shows_photos_and_the_full_number(
    pending: VerificationAttempt, operator: User
) -> None:
    client = logged_in(operator)
    html = client.get(f"/backoffice/identity/{pending.uuid}/").content.decode()
    assert PASSPORT in html and "John Smith" in html and "护照" in html
    assert f'src="/backoffice/identity/{pending.uuid}/photo/front/"' in html
    assert "通过" in html and "驳回" in html
    front = client.get(f"/backoffice/identity/{pending.uuid}/photo/front/")
    assert front.status_code == 200 and front["Content-Type"] == "image/jpeg"
    assert front["Cache-Control"] == "private, no-store"
    assert b"".join(front.streaming_content) == image_bytes("JPEG")  # type: ignore[attr-defined]
    hand = client.get(f"/backoffice/identity/{pending.uuid}/photo/handheld/")
    assert hand["Content-Type"] == "image/png"
    assert client.get(f"/backoffice/identity/{pending.uuid}/photo/x/").status_code == 404


def test_approve(pending: VerificationAttempt, alice: User, operator: User) -> None:
    client = logged_in(operator)
    response = client.post(f"/backoffice/identity/{pending.uuid}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert pending.reviewer == operator and pending.reviewed_at is not None
    identity = PersonIdentity.objects.get(user=alice)
    assert identity.name == "John Smith" and identity.method == "manual"
    assert identity.id_type == "passport" and identity.birth_date is None
    [sms] = OutboxMessage.objects.filter(recipient=alice.phone, kind="verification_approved")
    assert "John Smith" in sms.body and "已通过" in sms.body
    event = SecurityEvent.objects.get(user=alice, action="identity_manual_review_approved")
    assert event.detail["reviewer"] == operator.pk
    status = logged_in(alice).get("/me/identity/").content.decode()
    assert "已认证" in status and "John Smith" in status


def test_reject_needs_a_reason(pending: VerificationAttempt, alice: User, operator: User) -> None:
    client = logged_in(operator)
    url = f"/backoffice/identity/{pending.uuid}/decide/"
    response = client.post(url, {"decision": "reject", "reason": "  "}, follow=True)
    assert "请选择或填写驳回原因" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_REVIEW
    client.post(url, {"decision": "reject", "preset": "证件照片模糊或不完整，无法辨认"})
    pending.refresh_from_db()
    assert pending.status == Status.REJECTED
    assert pending.reason == "证件照片模糊或不完整，无法辨认"
    [sms] = OutboxMessage.objects.filter(recipient=alice.phone, kind="verification_rejected")
    assert "证件照片模糊" in sms.body
    assert not PersonIdentity.objects.exists()
    # The user sees why and may submit again.
    alice_client = logged_in(alice)
    status = alice_client.get("/me/identity/").content.decode()
    assert "上次人工审核未通过" in status and "证件照片模糊" in status
    assert alice_client.get("/me/identity/start/").status_code == 200


def test_reject_with_free_text(pending: VerificationAttempt, operator: User) -> None:
    logged_in(operator).post(
        f"/backoffice/identity/{pending.uuid}/decide/",
        {"decision": "reject", "reason": "护照已过期，请使用有效证件"},
    )
    pending.refresh_from_db()
    assert pending.status == Status.REJECTED and pending.reason == "护照已过期，请使用有效证件"


def test_only_the_first_decision_counts(
    pending: VerificationAttempt, alice: User, operator: User
) -> None:
    second_operator = User.objects.create_user("13900000008", is_staff=True)
    first, second = logged_in(operator), logged_in(second_operator)
    url = f"/backoffice/identity/{pending.uuid}/decide/"
    first.post(url, {"decision": "approve"})
    response = second.post(url, {"decision": "reject", "reason": "照片不清楚"}, follow=True)
    assert "已由其他运营人员处理" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED and pending.reviewer == operator
    assert OutboxMessage.objects.filter(recipient=alice.phone).count() == 1
    with pytest.raises(ReviewAlreadyDecided):
        actions.do_approve_verification(pending.uuid, actor=second_operator, meta=TASK)


def test_approval_refused_when_the_document_was_verified_elsewhere(
    alice: User, bob: User, operator: User
) -> None:
    submit_manual(logged_in(alice))
    submit_manual(logged_in(bob))  # the same passport number, pending at the same time
    client = logged_in(operator)
    first, second = VerificationAttempt.objects.order_by("id")
    client.post(f"/backoffice/identity/{first.uuid}/decide/", {"decision": "approve"})
    response = client.post(
        f"/backoffice/identity/{second.uuid}/decide/", {"decision": "approve"}, follow=True
    )
    assert "已用于其他账户" in response.content.decode()
    second.refresh_from_db()
    assert second.status == Status.PENDING_REVIEW
    assert not PersonIdentity.objects.filter(user=bob).exists()
    assert not OutboxMessage.objects.filter(recipient=bob.phone).exists()


def test_bob_cannot_see_alices_attempt_or_photos(
    pending: VerificationAttempt, bob: User, charlie: User
) -> None:
    for user in (bob, charlie):
        client = logged_in(user)
        for url in [
            f"/me/identity/attempts/{pending.uuid}/",
            f"/me/identity/attempts/{pending.uuid}/photo/front/",
            f"/backoffice/identity/{pending.uuid}/photo/front/",
        ]:
            assert client.get(url).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_decisions_only_one_wins(alice: User, operator: User) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    submit_manual(logged_in(alice))
    attempt = VerificationAttempt.objects.get()
    second_operator = User.objects.create_user("13900000008", is_staff=True)
    barrier = Barrier(2)

    def decide(args: tuple[User, str]) -> str:
        actor, decision = args
        barrier.wait()
        try:
            if decision == "approve":
                actions.do_approve_verification(attempt.uuid, actor=actor, meta=TASK)
            else:
                actions.do_reject_verification(attempt.uuid, "照片不清楚", actor=actor, meta=TASK)
            return "ok"
        except ReviewAlreadyDecided:
            return "already"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(decide, [(operator, "approve"), (second_operator, "reject")]))
    assert sorted(results) == ["already", "ok"]
    attempt.refresh_from_db()
    assert attempt.status in (Status.APPROVED, Status.REJECTED)
    assert OutboxMessage.objects.filter(recipient=alice.phone).count() == 1
    assert PersonIdentity.objects.count() == (1 if attempt.status == Status.APPROVED else 0)
