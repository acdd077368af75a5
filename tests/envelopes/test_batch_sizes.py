"""批量签署 among many envelopes (envelopes/batch.py): the ticked envelopes are read by uuid and
whether the user takes part is decided from their own recipient rows (not from every recipient
row of the user's). That must agree with :func:`qianshu.envelopes.access.visible_envelopes` for
every way of taking part — initiator, administrator of the organisation it was sent for, signer
by account or by phone before binding, seal keeper, CC — and never list another user's
envelope or a draft."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.envelopes import batch
from qianshu.envelopes.access import visible_envelopes
from qianshu.envelopes.models import Envelope
from qianshu.orgs.models import Organization
from tests.envelopes.test_list_sizes import _make
from tests.support.accounts import make_user


@pytest.fixture
def many(people: dict[str, User], seal_org: Callable[..., Organization]) -> dict[str, Any]:
    org = seal_org(people["bob"], "厦门某某科技有限公司")  # bob: administrator and seal keeper
    _make(people, org, 60)
    return {**people, "org": org, "dave": make_user("dave", phone="13900000077")}


@pytest.mark.parametrize("who", ["alice", "bob", "charlie", "dave"])
def test_the_plan_lists_exactly_the_envelopes_the_user_may_open(
    many: dict[str, Any], who: str
) -> None:
    user = many[who]
    everything = list(Envelope.objects.order_by("-pk"))
    ticked = [str(e.uuid) for e in everything]
    visible = {
        str(u)
        for u in visible_envelopes(user)
        .exclude(status=Envelope.Status.DRAFT)
        .values_list("uuid", flat=True)
    }
    plan = batch.plan_batch(user, ticked)
    listed = [str(task.envelope.uuid) for task in plan.tasks]
    assert listed == [u for u in ticked if u in visible]  # in the order ticked
    assert (who == "dave") == (not listed)
    if who != "dave":
        assert len(listed) < len(ticked)  # some of the envelopes are someone else's


def test_the_page_of_an_outsider_lists_nothing(many: dict[str, Any]) -> None:
    client = Client()
    client.force_login(many["dave"])
    envelopes = list(Envelope.objects.exclude(status=Envelope.Status.DRAFT)[:20])
    uuids = [str(e.uuid) for e in envelopes]
    page = client.get(reverse("envelopes:batch-sign"), {"ids": uuids}).content.decode()
    assert 'data-testid="batch-nothing"' in page
    assert not any(e.number in page or e.title in page for e in envelopes)
    assert 'data-testid="batch-task"' not in page
    assert 'data-testid="batch-skipped-task"' not in page
