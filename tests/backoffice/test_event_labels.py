"""The back-office pages that show security events (运营后台 → 用户账号 → 安全事件) and the
organisation log (运营后台 → 组织认证 → 组织日志) show each event's kind in words from its
table, never the stored code (issue 12, typed audit)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import translation

from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction
from tests.identity.helpers import logged_in
from tests.support.personas import make_verified_org, make_verified_person

pytestmark = pytest.mark.django_db

CODES = {*SecurityAction.values, *OrgAction.values}


def _section(html: str, testid: str, end: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index(end, start)]


def _raw_codes(text: str) -> set[str]:
    return set(re.findall(r"[a-z_]+", text)) & CODES


def _batches(members: list, size: int) -> Iterator[list]:
    for start in range(0, len(members), size):
        yield members[start : start + size]


def test_the_user_page_shows_every_security_event_in_words(
    platform_pki: None, operator: User
) -> None:
    bob = make_verified_person("bob")
    client = logged_in(operator)
    page = reverse("backoffice:user", args=[bob.pk])
    for batch in _batches(list(SecurityAction), 15):  # the page shows the latest 20
        for kind in batch:
            record_event(kind, user=bob)
        events = _section(client.get(page).content.decode(), "user-events", "</table>")
        assert _raw_codes(events) == set(), events
        with translation.override("zh-hans"):
            for kind in batch:
                assert f"<td>{kind.label}</td>" in events, kind


def test_the_user_page_in_english_shows_the_english_labels(
    platform_pki: None, operator: User
) -> None:
    bob = make_verified_person("bob")
    record_event(SecurityAction.SIGNING_PIN_LOCKED, user=bob)
    client = logged_in(operator)
    html = client.get(reverse("backoffice:user", args=[bob.pk]), HTTP_ACCEPT_LANGUAGE="en")
    events = _section(html.content.decode(), "user-events", "</table>")
    assert "<td>signing PIN locked</td>" in events and "signing_pin_locked" not in events


def test_the_org_review_page_shows_every_org_event_in_words(
    platform_pki: None, operator: User
) -> None:
    alice = make_verified_person("alice")
    org = make_verified_org(alice)
    client = logged_in(operator)
    page = reverse("backoffice:org-review", args=[org.uuid])
    for batch in _batches(list(OrgAction), 20):  # the page shows the latest 30
        for kind in batch:
            record_org_event(org, kind, actor=alice)
        events = _section(client.get(page).content.decode(), "org-events", "</ul>")
        assert _raw_codes(events) == set(), events
        with translation.override("zh-hans"):
            for kind in batch:
                assert f" · {kind.label}" in events, kind
