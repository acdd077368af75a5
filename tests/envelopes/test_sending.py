"""Sending costs trust (issue 10 item 7): a real-name verified sender, a verified organisation
(and a current member) to send in its name, per-person and per-organisation limits over a
rolling 24 hours; notifications name the verified sender; older envelopes from an unverified
发起方 are marked 未认证.

Before, anyone with an account could make the platform text any phone, in its own name, with
any title, as often as they liked — also in the name of an organisation nobody had verified.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import sending
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.sending import SendLimitReached
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import Membership, Organization
from qianshu.pki.actions import do_init_pki
from tests.envelopes.helpers import Builder, client_for, sign
from tests.envelopes.test_compose_views import basics, pdf_upload, person, rows
from tests.support.accounts import make_user
from tests.support.personas import make_signer, make_verified_org, real_name

pytestmark = pytest.mark.django_db


def _send_url(envelope: Envelope) -> str:
    return reverse("envelopes:send", args=[envelope.uuid])


def _post_send(client: Client, envelope: Envelope) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(_send_url(envelope))


def _requests_to(phone: str) -> int:
    return OutboxMessage.objects.filter(kind="envelope_sign_request", recipient=phone).count()


def _compose_over_http(client: Client, signer: User) -> Envelope:
    """发起签署 step 1 through the page, in whatever context (个人 / 组织) the session acts."""
    data = {**basics(), **rows(person(signer)), "files": [pdf_upload()], "action": "save"}
    response = client.post(reverse("envelopes:new"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Envelope.objects.filter(status=Envelope.Status.DRAFT).latest("created_at")


def _still_a_draft(envelope: Envelope) -> None:
    envelope.refresh_from_db()
    assert envelope.is_draft() and envelope.sent_at is None
    assert envelope.documents.count() == 1 and envelope.recipients.count() >= 1
    assert not envelope.events.filter(action="sent").exists()


# --- who may send --------------------------------------------------------------------------------


def test_an_unverified_person_cannot_send(people: dict, build: Builder) -> None:
    bob = people["bob"]
    zed = make_user("zed", phone="13900000031")  # logged in, never verified
    envelope = build.draft(zed, [("sign", 1, bob)])
    client = client_for(zed)
    page = client.get(_send_url(envelope)).content.decode()
    assert "发起签署前，请先完成个人实名认证。" in page
    assert 'data-testid="send-submit" data-once disabled' in page
    response = _post_send(client, envelope)
    assert response.status_code == 400
    assert "发起签署前，请先完成个人实名认证。" in response.content.decode()
    _still_a_draft(envelope)
    assert _requests_to(bob.phone) == 0


def test_a_member_of_an_unverified_organisation_cannot_send_in_its_name(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    org = make_verified_org(alice, name="未认证贸易有限公司", status=Organization.Status.PENDING)
    client = client_for(alice)
    response = client.post(reverse("orgs:switch"), {"org": str(org.uuid)})  # 切换身份
    assert response.status_code == 302
    envelope = _compose_over_http(client, bob)
    assert envelope.initiator_org == org
    response = _post_send(client, envelope)
    assert response.status_code == 400
    assert "“未认证贸易有限公司”尚未完成组织机构认证" in response.content.decode()
    _still_a_draft(envelope)
    assert _requests_to(bob.phone) == 0


def test_a_former_member_cannot_send_in_the_organisations_name(people: dict) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = make_verified_org(charlie, name="已认证科技有限公司")
    Membership.objects.create(org=org, user=alice)
    client = client_for(alice)
    client.post(reverse("orgs:switch"), {"org": str(org.uuid)})
    envelope = _compose_over_http(client, bob)
    assert envelope.initiator_org == org
    Membership.objects.filter(org=org, user=alice).delete()  # removed before sending
    response = _post_send(client, envelope)
    assert response.status_code == 400
    assert "您已不是“已认证科技有限公司”的成员" in response.content.decode()
    _still_a_draft(envelope)
    # a current member of the verified organisation sends in its name
    Membership.objects.create(org=org, user=alice)
    assert _post_send(client, envelope).status_code == 302
    envelope.refresh_from_db()
    assert envelope.is_active() and envelope.initiator_org == org


# --- how much ------------------------------------------------------------------------------------


def test_the_personal_limit_stops_the_next_send_and_keeps_the_draft(
    people: dict, build: Builder, settings: Any
) -> None:
    settings.QIANSHU_SEND_PER_USER_DAY = 2
    alice, bob = people["alice"], people["bob"]
    client = client_for(alice)
    first, second, third = (build.draft(alice, [("sign", 1, bob)]) for _ in range(3))
    assert _post_send(client, first).status_code == 302
    assert _post_send(client, second).status_code == 302
    response = _post_send(client, third)
    assert response.status_code == 400
    first.refresh_from_db()
    again = date_format(timezone.localtime(first.sent_at + dt.timedelta(hours=24)), "Y-m-d H:i")
    text = response.content.decode()
    assert "24 小时内最多可发起 2 个签署任务" in text and again in text and "草稿已保存" in text
    _still_a_draft(third)
    assert _requests_to(bob.phone) == 2
    # a rolling window: once the first is more than 24 hours old, the draft goes out
    Envelope.objects.filter(pk=first.pk).update(sent_at=timezone.now() - dt.timedelta(hours=25))
    assert _post_send(client, third).status_code == 302
    assert _requests_to(bob.phone) == 3


def test_the_organisation_limit_counts_every_member(
    people: dict, build: Builder, settings: Any
) -> None:
    settings.QIANSHU_SEND_PER_ORG_DAY = 2
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    dave = make_signer("dave", "13800000044", real_name="赵大卫")
    org = make_verified_org(alice, name="限额科技有限公司")
    for member in (bob, charlie):
        Membership.objects.create(org=org, user=member)
    sent = []
    for member in (alice, bob, charlie):
        draft = build.draft(member, [("sign", 1, dave)])
        Envelope.objects.filter(pk=draft.pk).update(initiator_org=org)
        sent.append((member, draft))
    assert _post_send(client_for(alice), sent[0][1]).status_code == 302
    assert _post_send(client_for(bob), sent[1][1]).status_code == 302
    response = _post_send(client_for(charlie), sent[2][1])
    assert response.status_code == 400
    assert "“限额科技有限公司”在 24 小时内最多可发起 2 个签署任务" in response.content.decode()
    _still_a_draft(sent[2][1])
    # charlie may still send personally
    personal = build.draft(charlie, [("sign", 1, dave)])
    assert _post_send(client_for(charlie), personal).status_code == 302


def test_several_sends_at_once_are_counted_together(
    people: dict, build: Builder, settings: Any
) -> None:
    """lock_quota(sends=n) (a 批量发起 group): refused unless all n fit — also more than the
    allowance holds at all, with nothing sent yet — with the allowance's message and a time
    to retry; n that fit pass."""
    settings.QIANSHU_SEND_PER_USER_DAY = 3
    alice, bob = people["alice"], people["bob"]
    now = timezone.now()
    with pytest.raises(SendLimitReached, match="最多可发起 3 个签署任务") as refused:
        sending.lock_quota(alice, None, now=now, sends=4)
    assert refused.value.retry_at >= now
    assert sending.within_allowance(alice, None, now=now, sends=3)
    assert sending.lock_quota(alice, None, now=now, sends=3) is None
    assert _post_send(client_for(alice), build.draft(alice, [("sign", 1, bob)])).status_code == 302
    assert not sending.within_allowance(alice, None, now=timezone.now(), sends=3)
    with pytest.raises(SendLimitReached) as refused:
        sending.lock_quota(alice, None, now=timezone.now(), sends=3)
    first = Envelope.objects.get(initiator=alice, sent_at__isnull=False)
    assert first.sent_at is not None
    assert refused.value.retry_at == first.sent_at + dt.timedelta(hours=24)
    assert sending.lock_quota(alice, None, now=timezone.now(), sends=2) is None


def test_sends_in_an_organisations_name_count_against_its_allowance_only(
    people: dict, build: Builder, settings: Any
) -> None:
    """批量发起 of a season by the HR office: the organisation's allowance, not the person's
    (which stays whole for their own sends)."""
    settings.QIANSHU_SEND_PER_USER_DAY = 2
    settings.QIANSHU_SEND_PER_ORG_DAY = 4
    alice, bob = people["alice"], people["bob"]
    org = make_verified_org(alice, name="人事处测试大学")
    client = client_for(alice)
    for _ in range(4):
        draft = build.draft(alice, [("sign", 1, bob)])
        Envelope.objects.filter(pk=draft.pk).update(initiator_org=org)
        assert _post_send(client, draft).status_code == 302
    fifth = build.draft(alice, [("sign", 1, bob)])
    Envelope.objects.filter(pk=fifth.pk).update(initiator_org=org)
    assert (
        "“人事处测试大学”在 24 小时内最多可发起 4 个" in _post_send(client, fifth).content.decode()
    )
    personal = [build.draft(alice, [("sign", 1, bob)]) for _ in range(3)]
    assert [_post_send(client, d).status_code for d in personal] == [302, 302, 400]


# --- what people are told ------------------------------------------------------------------------


def test_the_sms_names_the_verified_sender_and_old_unverified_initiators_are_marked(
    people: dict, build: Builder
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = make_verified_org(alice, name="示例发起科技有限公司")
    draft = build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)], title="任意标题")
    Envelope.objects.filter(pk=draft.pk).update(initiator_org=org)
    assert _post_send(client_for(alice), draft).status_code == 302
    sms = OutboxMessage.objects.get(kind="envelope_sign_request", recipient=bob.phone).body
    assert f"示例发起科技有限公司（经办人：{real_name(alice)}）" in sms
    assert "未认证" not in sms
    # an envelope sent before sending needed a verified organisation
    Organization.objects.filter(pk=org.pk).update(status=Organization.Status.PENDING)
    with TestCase.captureOnCommitCallbacks(execute=True):
        sign(draft.recipients.get(routing_order=1), bob)
    sms = OutboxMessage.objects.get(kind="envelope_sign_request", recipient=charlie.phone).body
    assert "示例发起科技有限公司（未认证）" in sms
    for user in (bob, charlie):
        client = client_for(user)
        detail = client.get(draft.get_absolute_url()).content.decode()
        assert 'data-testid="initiator-unverified"' in detail
    listing = client_for(charlie).get(reverse("envelopes:list")).content.decode()
    assert str(draft.uuid) in listing and 'data-testid="initiator-unverified"' in listing
    listing = client_for(bob).get(reverse("envelopes:list"), {"tab": "others"}).content.decode()
    assert 'data-testid="initiator-unverified"' in listing
    # a verified personal sender is not marked
    personal = build.draft(alice, [("sign", 1, bob)])
    _post_send(client_for(alice), personal)
    assert 'data-testid="initiator-unverified"' not in (
        client_for(bob).get(personal.get_absolute_url()).content.decode()
    )


def test_an_unverified_initiator_cannot_send_reminders_either(people: dict, build: Builder) -> None:
    """催签 of an envelope sent before the rules: the platform does not text for them."""
    bob = people["bob"]
    zed = make_user("zed", phone="13900000031")
    envelope = build.draft(zed, [("sign", 1, bob)])
    Envelope.objects.filter(pk=envelope.pk).update(
        status=Envelope.Status.IN_PROGRESS, sent_at=timezone.now()
    )
    envelope.recipients.update(status="pending")
    client = client_for(zed)
    response = client.post(reverse("envelopes:remind", args=[envelope.uuid]), follow=True)
    assert "发起签署前，请先完成个人实名认证。" in response.content.decode()
    assert not OutboxMessage.objects.filter(kind="envelope_reminder").exists()
    assert not envelope.events.filter(action="reminded").exists()


# --- races (PostgreSQL) --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_never_pass_the_limit(settings: Any) -> None:
    settings.QIANSHU_SEND_PER_USER_DAY = 3
    do_init_pki(name="测试平台")
    alice = make_signer("alice", "13800000001", real_name="王爱丽")
    bob = make_signer("bob", "13800000002", real_name="李博文")
    drafts = [Builder().draft(alice, [("sign", 1, bob)], pages=1) for _ in range(6)]
    barrier = threading.Barrier(len(drafts))
    outcomes: list[str] = []

    def run(envelope: Envelope) -> None:
        try:
            barrier.wait(timeout=30)
            compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
            outcomes.append("sent")
        except SendLimitReached:
            outcomes.append("refused")
        except BaseException as exc:  # anything else fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(d,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(outcomes) == ["refused"] * 3 + ["sent"] * 3, outcomes
    statuses = sorted(Envelope.objects.values_list("status", flat=True))
    assert statuses == ["draft"] * 3 + ["in_progress"] * 3


def test_the_prepared_documents_are_stored_before_the_allowance_lock(
    people: dict, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's signature and the durable write of its result happen before the send
    takes the sender's allowance lock (sends in one organisation's name wait for each other
    there); the locked send then writes only the rows, of those very bytes."""
    from qianshu.envelopes import sending
    from qianshu.storage import blobs

    draft = build.draft(people["alice"], [("sign", 1, people["bob"])], title="先存后锁")
    order: list[str] = []
    store = blobs.get_blob_store()  # one per process: its put is the one every write uses
    real_put, real_lock = store.put, sending.lock_quota

    def put(data: bytes) -> str:
        sha = real_put(data)
        order.append(f"put {sha}")
        return sha

    def lock_quota(*args: Any, **kwargs: Any) -> None:
        order.append("lock")
        real_lock(*args, **kwargs)

    monkeypatch.setattr(store, "put", put)
    monkeypatch.setattr(sending, "lock_quota", lock_quota)
    compose_actions.do_send_envelope(draft, actor=people["alice"], meta=TASK)
    prepared = draft.documents.get().current_id
    assert f"put {prepared}" in order
    assert order.index(f"put {prepared}") < order.index("lock")


def test_a_store_failing_ahead_leaves_the_send_to_the_locked_path(
    people: dict, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qianshu.storage.errors import BlobStoreError

    def broken(data: bytes) -> str:
        raise BlobStoreError("the store is away for a moment")

    draft = build.draft(people["alice"], [("sign", 1, people["bob"])], title="存储稍后")
    monkeypatch.setattr(compose_actions, "do_put_blob_ahead", broken)
    sent = compose_actions.do_send_envelope(draft, actor=people["alice"], meta=TASK)
    assert sent.status == Envelope.Status.IN_PROGRESS
    document = draft.documents.get()
    assert document.revision == 1 and document.current.read()[:5] == b"%PDF-"
