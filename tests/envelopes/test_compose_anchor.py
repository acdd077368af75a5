"""按关键字放置 in the field editor (契约锁 关键字定位, the open API's rule): a field lands just
right of the words, on their page, for the chosen recipient — so a template can be laid out by
keywords too; words not in the document, another person's draft and a kind the recipient
cannot have are refused with a message."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from qianshu.envelopes.models import Field
from qianshu.signing import pages
from tests.envelopes.helpers import Builder, client_for
from tests.support.personas import make_signer, make_verified_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(pki: None) -> Any:
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(make_signer("charlie"), name="上海示例贸易有限公司")
    return Builder().draft(alice, [("sign", 1, bob), ("seal", 2, org)], fields=False, pages=2)


def _post(client: Any, draft: Any, words: str, kind: str, recipient: Any) -> Any:
    return client.post(
        reverse("envelopes:fields-anchor", args=[draft.uuid]),
        {
            "words": words,
            "kind": kind,
            "recipient": recipient.pk,
            "document": draft.documents.get().pk,
        },
        follow=True,
    )


def test_fields_land_right_of_the_words(draft: Any) -> None:
    client = client_for(draft.initiator)
    person, org = draft.recipients.order_by("routing_order")
    page = client.get(reverse("envelopes:fields", args=[draft.uuid])).content.decode()
    assert 'data-testid="anchor-form"' in page
    done = _post(client, draft, "甲方（盖章）", "seal", org)
    assert "已在第 2 页“甲方（盖章）”右侧放置印章" in done.content.decode()
    _post(client, draft, "法定代表人或授权代表（签字）", "signature", person)
    seal, signature = (Field.objects.get(envelope=draft, kind=k) for k in ("seal", "signature"))
    data = draft.documents.get().current.read()
    words = pages.find_text(data, "甲方（盖章）")
    assert words is not None and seal.page == words.page == 1
    assert words.x2 < seal.x1 <= words.x2 + 5
    assert seal.y1 < (words.y1 + words.y2) / 2 < seal.y2
    assert signature.recipient == person and signature.page == 1
    # The field editor keeps both (a second anchor does not drop the first).
    assert Field.objects.filter(envelope=draft).count() == 2


def test_refusals_say_why_and_change_nothing(draft: Any) -> None:
    client = client_for(draft.initiator)
    person, org = draft.recipients.order_by("routing_order")
    missing = _post(client, draft, "丙方（盖章）", "seal", org)
    assert "在文件中找不到关键字“丙方（盖章）”" in missing.content.decode()
    wrong_kind = _post(client, draft, "甲方（盖章）", "seal", person)  # a person has no seal
    assert wrong_kind.status_code == 200
    assert not Field.objects.filter(envelope=draft).exists()
    stranger = client_for(make_signer("dave", "13800000044", real_name="赵大卫"))
    response = stranger.post(
        reverse("envelopes:fields-anchor", args=[draft.uuid]),
        {"words": "甲方（盖章）", "kind": "seal", "recipient": org.pk},
    )
    assert response.status_code == 404
    assert not Field.objects.filter(envelope=draft).exists()
