"""场景 (seed 000): chosen at compose, shown in the five lists (场景 column), filterable there;
the filter's choices never reveal the scenes of envelopes the user cannot see."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.envelopes import queries
from qianshu.envelopes.models import MAX_SCENE, Envelope, Recipient
from tests.envelopes.test_compose_views import NEW, basics, pdf_upload, person, rows
from tests.envelopes.test_lists import client_of, quick
from tests.envelopes.test_lists import rows as list_rows

pytestmark = pytest.mark.django_db

DONE, PENDING = Recipient.Status.DONE, Recipient.Status.PENDING
OPTION = re.compile(r'<option value="([^"]*)"')


def scene_options(client: Client, **query: Any) -> list[str]:
    page = client.get(reverse("envelopes:list"), query).content.decode()
    select = page.split('data-testid="list-scene"', 1)[1].split("</select>", 1)[0]
    return [value for value in OPTION.findall(select) if value]


def with_scene(envelope: Envelope, scene: str) -> Envelope:
    Envelope.objects.filter(pk=envelope.pk).update(scene=scene)
    envelope.refresh_from_db()
    return envelope


def test_the_scene_is_chosen_at_compose_and_kept_when_editing(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    client = client_of(alice)
    page = client.get(NEW).content.decode()
    assert 'name="scene"' in page and 'list="scene-options"' in page
    assert '<option value="企业签约">' in page  # the defaults before any scene of one's own
    response = client.post(
        NEW,
        {**basics(scene="  年度  考核 "), **rows(person(bob)), "files": pdf_upload()},
    )
    assert response.status_code == 302
    envelope = Envelope.objects.get()
    assert envelope.scene == "年度 考核"  # one line
    edit = reverse("envelopes:edit", args=[envelope.uuid])
    assert 'value="年度 考核"' in client.get(edit).content.decode()
    client.post(edit, {**basics(scene="企业签约"), **rows(person(bob))})
    envelope.refresh_from_db()
    assert envelope.scene == "企业签约"
    # The sender's own scenes come first next time.
    options = re.findall(r'<option value="([^"]*)">', client.get(NEW).content.decode())
    assert options[0] == "企业签约"


def test_a_too_long_scene_is_refused_with_a_message_and_nothing_lost(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    response = client_of(alice).post(
        NEW,
        {**basics(scene="场" * (MAX_SCENE + 1)), **rows(person(bob)), "files": pdf_upload()},
    )
    page = response.content.decode()
    assert "场景最多 30 个字" in page
    assert "办公设备采购合同" in page  # the typed title is still there


def test_each_list_shows_the_scene_and_filters_by_it(people: dict) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    signing = with_scene(quick(alice, [("sign", PENDING, bob)], title="劳务合同"), "企业签约")
    review = with_scene(quick(alice, [("sign", PENDING, bob)], title="考核表"), "年度考核")
    plain = quick(alice, [("sign", PENDING, bob)], title="无场景")
    done = with_scene(
        quick(alice, [("sign", DONE, bob)], title="已签", status=Envelope.Status.COMPLETED),
        "企业签约",
    )
    cc = with_scene(quick(charlie, [("sign", PENDING, alice), ("cc", PENDING, bob)]), "企业签约")
    voided = with_scene(
        quick(alice, [("sign", PENDING, bob)], title="作废", status=Envelope.Status.VOIDED),
        "年度考核",
    )
    bobs = client_of(bob)
    page = bobs.get(reverse("envelopes:list")).content.decode()
    assert "<th>场景</th>" in page
    assert 'data-testid="row-scene"><a href="?tab=todo&amp;scene=' in page
    assert set(list_rows(bobs, tab="todo")) == {str(e.uuid) for e in (signing, review, plain)}
    assert list_rows(bobs, tab="todo", scene="企业签约") == [str(signing.uuid)]
    assert list_rows(bobs, tab="todo", scene="年度考核") == [str(review.uuid)]
    assert scene_options(bobs, tab="todo") == ["企业签约", "年度考核"]  # the tab's own
    assert list_rows(bobs, tab="completed", scene="企业签约") == [str(done.uuid)]
    assert list_rows(bobs, tab="completed", scene="年度考核") == []
    assert list_rows(bobs, tab="voided", scene="年度考核") == [str(voided.uuid)]
    assert list_rows(bobs, tab="cc", scene="企业签约") == [str(cc.uuid)]
    alices = client_of(alice)
    assert list_rows(alices, tab="others", scene="年度考核") == [str(review.uuid)]
    # The scene combines with the other filters.
    assert list_rows(bobs, tab="todo", scene="企业签约", q="考核") == []


def test_the_scene_choices_never_reveal_other_peoples_envelopes(people: dict) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    with_scene(quick(alice, [("sign", PENDING, charlie)]), "机密并购项目")
    with_scene(quick(alice, [("sign", PENDING, bob)]), "企业签约")
    bobs = client_of(bob)
    assert scene_options(bobs, tab="todo") == ["企业签约"]
    assert "机密并购项目" not in bobs.get(reverse("envelopes:list")).content.decode()
    # Asking for it by name shows nothing of it.
    assert list_rows(bobs, tab="todo", scene="机密并购项目") == []
    assert list_rows(bobs, tab="others", scene="机密并购项目") == []


def test_the_compose_suggestions_are_the_senders_own(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    with_scene(quick(alice, [("sign", PENDING, bob)]), "爱丽丝的场景")
    suggestions = queries.scene_suggestions(bob, None)
    assert "爱丽丝的场景" not in suggestions
    assert queries.scene_suggestions(alice, None)[0] == "爱丽丝的场景"


@pytest.mark.parametrize("scene", ["x" * 500, "<script>", "企业签约' OR 1=1 --"])
def test_odd_scene_filters_are_harmless(people: dict, scene: str) -> None:
    response = client_of(people["bob"]).get(reverse("envelopes:list"), {"scene": scene})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split('data-testid="list-scene"')[1][:400]


@pytest.mark.parametrize("name", ["scene", "q", "initiator", "sent_to"])
def test_a_nul_in_a_search_is_refused_clearly(people: dict, name: str) -> None:
    """PostgreSQL text cannot hold NUL: a crafted search never reaches it (it was a 500)."""
    response = client_of(people["bob"]).get(reverse("envelopes:list"), {name: "合同\x00"})
    assert response.status_code == 400
    assert "无效字符" in response.content.decode()


def test_scene_filter_needs_login(db: Any) -> None:
    response = Client().get(reverse("envelopes:list"), {"scene": "企业签约"})
    assert response.status_code == 302
