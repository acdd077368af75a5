"""场景 in 文件管理 (seed 000), at phone and desktop size: each row shows its scene, and the
高级搜索 场景 filter (or a click on a row's scene) narrows the list to it."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from qianshu.envelopes.models import Envelope, Recipient
from tests.browser.flows import login_by_sms
from tests.support.personas import make_verified_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _envelope(initiator: Any, signer: Any, title: str, scene: str) -> Envelope:
    envelope = Envelope.objects.create(
        number=f"QS{Envelope.objects.count() + 1:012d}",
        title=title,
        scene=scene,
        initiator=initiator,
        status=Envelope.Status.IN_PROGRESS,
        sent_at=timezone.now(),
    )
    Recipient.objects.create(
        envelope=envelope,
        routing_order=1,
        role=Recipient.Role.SIGN,
        name=signer.person_identity.name,
        phone=signer.phone,
        status=Recipient.Status.PENDING,
    )
    return envelope


def test_scenes_are_shown_and_filter_the_list(page: Any, shot: Any, size: str) -> None:
    alice, bob = make_verified_person("alice"), make_verified_person("bob")
    review = _envelope(alice, bob, "何建宇2022年年度考核表", "年度考核")
    _envelope(alice, bob, "技术服务合同", "企业签约")
    _envelope(alice, bob, "保密协议", "")
    login_by_sms(page, bob.phone)
    page.goto("/envelopes/")
    rows = page.get_by_test_id("list-row")
    rows.first.wait_for()
    assert rows.count() == 3
    scenes = [text.strip() for text in page.get_by_test_id("row-scene").all_inner_texts()]
    assert sorted(s for s in scenes if s) == ["企业签约", "年度考核"]
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    shot(page, "1-list")

    page.get_by_test_id("list-advanced").locator("summary").click()
    page.get_by_test_id("list-scene").select_option("年度考核")
    page.get_by_test_id("list-advanced").get_by_role("button", name="搜索").click()
    page.wait_for_url("**scene=*")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-envelope") == str(review.uuid)
    shot(page, "2-filtered")

    page.get_by_test_id("list-reset").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=list-row]').length === 3")
    page.get_by_test_id("row-scene").get_by_role("link", name="企业签约").click()
    page.wait_for_url("**scene=*")
    assert rows.count() == 1
    assert "技术服务合同" in rows.first.inner_text()
