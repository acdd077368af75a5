"""Database queries of the pages the walkthrough found slow (issue 12, defect 9): 批量签署 and
发起签署 make a fixed number of queries, however many tasks, organisations, documents or
recipients they show. Their speed itself is measured by ``make bench`` (section 7), not here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.models import User
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope
from tests.envelopes.helpers import with_filled_text
from tests.support.personas import make_signer, make_verified_person, real_name, signature_png

pytestmark = pytest.mark.django_db

# Upper bounds, two above what the pages make today (16, 4 and 9); the tests also check that a
# page with many rows makes exactly as many queries as one with one row.
BATCH_QUERIES = 18
COMPOSE_QUERIES = 6
DRAFT_QUERIES = 11


def _sent(
    build: Any, initiator: User, parties: Sequence[tuple[str, int, Any]], n: int, **kw: Any
) -> list[Envelope]:
    envelopes = []
    for i in range(n):
        envelope = build.draft(initiator, parties, title=f"合同{i + 1:02d}", **kw)
        compose_actions.do_send_envelope(envelope, actor=initiator, meta=TASK)
        envelopes.append(envelope)
    return envelopes


def _batch_page(client: Client, envelopes: Sequence[Envelope]) -> str:
    response = client.get(
        reverse("envelopes:batch-sign"), {"ids": [str(e.uuid) for e in envelopes]}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_batch_page_queries_do_not_grow_with_tasks_or_organisations(
    people: dict, build: Any, seal_org: Any, django_assert_max_num_queries: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    first = seal_org(bob, "厦门某某科技有限公司")
    second = seal_org(bob, "福州某某贸易有限公司")
    one = _sent(build, alice, [("sign", 1, bob)], 1)
    many = [
        *_sent(build, alice, [("sign", 1, bob)], 4),
        *_sent(build, alice, [("seal", 1, first)], 3),
        *_sent(build, alice, [("seal", 1, second)], 3),
        *_sent(build, alice, [("sign", 1, bob)], 2, fields=False),  # skipped: no fields placed
    ]
    client = Client()
    client.force_login(bob)
    with django_assert_max_num_queries(BATCH_QUERIES) as few:
        html = _batch_page(client, one)
    assert html.count('data-testid="batch-task"') == 1
    with django_assert_max_num_queries(BATCH_QUERIES) as more:
        html = _batch_page(client, many)
    assert len(more) == len(few)
    assert html.count('data-testid="batch-task"') == 10
    assert html.count('data-testid="batch-skipped-task"') == 2
    assert html.count('data-testid="batch-seal-choice"') == 2


def test_compose_page_queries_do_not_grow_with_organisations(
    people: dict, seal_org: Any, django_assert_max_num_queries: Any
) -> None:
    alice = people["alice"]
    client = Client()
    client.force_login(alice)
    with django_assert_max_num_queries(COMPOSE_QUERIES) as few:
        assert client.get(reverse("envelopes:new")).status_code == 200
    for name in ("厦门某某科技有限公司", "福州某某贸易有限公司", "泉州某某制造有限公司"):
        seal_org(alice, name)
    with django_assert_max_num_queries(COMPOSE_QUERIES) as more:
        response = client.get(reverse("envelopes:new"))
    assert response.status_code == 200 and 'name="title"' in response.content.decode()
    assert len(more) == len(few)


def test_draft_page_queries_do_not_grow_with_documents_or_recipients(
    people: dict, build: Any, django_assert_max_num_queries: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    small = build.draft(alice, [("sign", 1, bob)], documents=1)
    others = [make_signer(f"p{i}", f"1380000010{i}", real_name=f"签署人{i}") for i in range(5)]
    large = build.draft(
        alice, [("sign", i + 1, who) for i, who in enumerate([bob, *others])], documents=3
    )
    client = Client()
    client.force_login(alice)
    counts = []
    for envelope in (small, large):
        with django_assert_max_num_queries(DRAFT_QUERIES) as queries:
            response = client.get(reverse("envelopes:edit", args=[envelope.uuid]))
        assert response.status_code == 200
        counts.append(len(queries))
    html = response.content.decode()
    assert all(f"签署人{i}" in html for i in range(5)) and html.count("合同3.pdf") >= 1
    assert counts[1] == counts[0]


@pytest.mark.parametrize(
    "rows",
    [
        lambda e: e.documents.all(),
        lambda e: e.recipients.all(),
        lambda e: e.fields.all(),
        lambda e: e.events.all(),
        lambda e: e.documents.get().revisions.all(),
        lambda e: e.documents.get().fields.all(),
    ],
    ids=["documents", "recipients", "fields", "events", "revisions", "document fields"],
)
def test_one_envelopes_rows_are_read_without_joining_the_envelopes(
    people: dict[str, Any], build: Any, rows: Any
) -> None:
    """The default orderings name the parent's id: reading one envelope's rows (every signing
    step, the API, the envelope page) must not join the envelopes table to sort by its columns."""
    envelope = build.draft(people["alice"], [("sign", 1, people["bob"])], pages=1)
    sql = str(rows(envelope).query)
    assert "JOIN" not in sql, sql


def test_list_and_batch_pages_read_no_column_they_left_out(
    people: dict, build: Any, seal_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lists and 批量签署 read only some columns of an envelope and its initiator
    (``access.LISTED_FIELDS``); a page that shows another would read it again for each row.
    Shown here with envelopes sent for an organisation and by a person, a deadline, a text
    field the initiator filled in, and a signer without a signing PIN (confirmed by SMS code,
    which asks whether each envelope allows it), ticked and as 全部批量签署: no row's column
    is read afterwards."""
    alice, bob = people["alice"], people["bob"]
    org = seal_org(alice, "厦门某某科技有限公司")
    dave = make_verified_person("dave", "13800000044", real_name="戴维")  # no PIN
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=dave, meta=TASK
    )
    deadline = timezone.now() + dt.timedelta(days=3)
    sent = [
        *_sent(build, alice, [("sign", 1, dave)], 2, org=org, deadline=deadline),
        *_sent(build, bob, [("sign", 1, dave)], 2),
    ]
    # A text field the initiator filled in (batch signing reads its value).
    filled = with_filled_text(build.draft(bob, [("sign", 1, dave)], fields=False, title="填写"))
    compose_actions.do_send_envelope(filled, actor=bob, meta=TASK)
    sent.append(filled)
    reread: list[tuple[str, Any]] = []
    refresh = Model.refresh_from_db

    def spy(self: Model, *args: Any, **kwargs: Any) -> None:
        reread.append((type(self).__name__, kwargs.get("fields") or args))
        refresh(self, *args, **kwargs)

    monkeypatch.setattr(Model, "refresh_from_db", spy)
    client = Client()
    client.force_login(dave)
    for tab in ("todo", "others", "completed", "cc"):
        assert client.get(reverse("envelopes:list"), {"tab": tab}).status_code == 200
    html = _batch_page(client, sent)
    assert html.count('data-testid="batch-task"') == 5
    assert "厦门某某科技有限公司" in html and real_name(bob) in html
    everything = client.get(reverse("envelopes:batch-sign"), {"all": "1"}).content.decode()
    assert everything.count('data-testid="batch-task"') == 5
    assert reread == []
