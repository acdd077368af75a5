"""Security events are a keyed-MAC chain per user (and one for events without a user):
rewritten, re-linked, deleted or moved events are detected by ``check_security_chain`` and
``qianshu check-audit --security``; a deleted tail with the head moved back shows against the
next periodic anchor. Events come from real logins over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from qianshu.accounts.audit import (
    ANONYMOUS,
    chain_key,
    check_security_chain,
    event_content,
    record_event,
)
from qianshu.accounts.models import SecurityAction, SecurityEvent, User
from qianshu.core import chains
from qianshu.core.models import AuditChain
from qianshu.envelopes import audit
from qianshu.pki.actions import do_init_pki
from tests.support.accounts import PERSONAS, make_user, sms_code
from tests.support.audit import audit_findings

pytestmark = pytest.mark.django_db

ALICE = PERSONAS["alice"]


@pytest.fixture(autouse=True)
def _keep_codes(settings: Any) -> None:
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True


@pytest.fixture
def alice() -> User:
    user = make_user("alice")
    user.set_password("correct horse battery")
    user.save()
    client = Client()
    for _ in range(3):
        client.post(
            "/login/", {"action": "send", "phone": ALICE}, headers={"X-Requested-With": "fetch"}
        )
        client.post("/login/", {"action": "login", "phone": ALICE, "code": sms_code(ALICE)})
        client.post("/logout/")
    # A failed password login for a phone without an account: the anonymous chain.
    Client().post("/login/password/", {"phone": "13911112222", "password": "nope"})
    return user


def _chain(key: str) -> AuditChain:
    return AuditChain.objects.get(key=key)


def _events(key: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(chain__key=key).order_by("seq"))


def test_logins_chain_per_user_and_anonymously(alice: User) -> None:
    mine = _events(chain_key(alice.pk))
    assert {e.action for e in mine} >= {"login", "logout"} and mine[-1].seq == len(mine)
    anonymous = _events(ANONYMOUS)
    assert {e.action for e in anonymous} >= {"login_code_sent", "login_failed"}
    for key in (chain_key(alice.pk), ANONYMOUS):
        assert check_security_chain(_chain(key)) == []
    assert audit_findings("--security") == ""


def test_a_deleted_tail_with_the_head_moved_back_shows_after_an_anchor(alice: User) -> None:
    do_init_pki(name="测试平台")
    key = chain_key(alice.pk)
    events = _events(key)
    assert audit.anchor_all() is not None
    SecurityEvent.objects.filter(pk=events[-1].pk).delete()
    AuditChain.objects.filter(key=key).update(count=len(events) - 1, head=events[-2].mac)
    problems = check_security_chain(_chain(key))
    assert problems and problems[0].seq == len(events) and "anchor #1" in problems[0].reason
    assert "anchor #1" in audit_findings("--security")


def test_a_rewritten_event_re_maced_under_a_wrong_key_is_detected(
    alice: User, settings: Any
) -> None:
    key = chain_key(alice.pk)
    events = _events(key)
    ours = settings.MASTER_KEY
    settings.MASTER_KEY = base64.urlsafe_b64encode(b"another-master-key-32-bytes-long").decode()
    prev = events[0].mac
    for event in events[1:]:
        if event.seq == 2:
            event.ip = "10.6.6.6"
        mac = chains.event_mac("m1", key, event.seq, prev, event_content(event))
        SecurityEvent.objects.filter(pk=event.pk).update(ip=event.ip, prev_mac=prev, mac=mac)
        prev = mac
    settings.MASTER_KEY = ours
    AuditChain.objects.filter(key=key).update(head=prev)
    problems = check_security_chain(_chain(key))
    assert problems and problems[0].seq == 2
    assert "event 2 was altered" in audit_findings("--security")


def test_a_deleted_anonymous_event_and_a_moved_event_are_detected(alice: User) -> None:
    anonymous = _events(ANONYMOUS)
    SecurityEvent.objects.filter(pk=anonymous[0].pk).delete()
    assert check_security_chain(_chain(ANONYMOUS))[0].seq == 1
    bob = make_user("bob")
    mine = _events(chain_key(alice.pk))
    SecurityEvent.objects.filter(pk=mine[0].pk).update(user=bob)
    assert "moved to another user" in audit_findings("--security")


def test_a_deleted_user_leaves_the_chain_intact(db: Any) -> None:
    user = User.objects.create_user("13700000088", display_name="临时")
    record_event(SecurityAction.PASSWORD_SET, user=user)
    key = chain_key(user.pk)
    user.delete()
    assert SecurityEvent.objects.get(chain__key=key).user is None
    assert check_security_chain(_chain(key)) == []
