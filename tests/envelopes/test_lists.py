"""文件管理: the five tabs for alice, bob and charlie, search, paging, the query count, and the
ZIP download (contents, audit trail, permission)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import access, downloads, queries
from qianshu.envelopes.access import visible_envelopes
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.orgs.models import Membership, Organization
from tests.envelopes.helpers import sign
from tests.support.accounts import make_user
from tests.support.personas import make_signer, real_name, seal_of

pytestmark = pytest.mark.django_db

ROW = re.compile(r'data-testid="list-row" data-envelope="([0-9a-f-]{36})"')
TABS = ("todo", "others", "completed", "voided", "cc")


def rows(client: Client, **query: Any) -> list[str]:
    response = client.get(reverse("envelopes:list"), query)
    assert response.status_code == 200
    return ROW.findall(response.content.decode())


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(envelope: Envelope) -> Envelope:
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def quick(
    initiator: User,
    parties: Sequence[tuple[str, str, User | Organization]],
    *,
    title: str = "采购合同",
    status: str = Envelope.Status.IN_PROGRESS,
    sent_at: dt.datetime | None = None,
    org: Organization | None = None,
) -> Envelope:
    """An envelope straight in the database (no documents), for list-only tests: ``parties``
    are (role, recipient status, user or organisation)."""
    envelope = Envelope.objects.create(
        number=f"QS{Envelope.objects.count() + 1:012d}",
        title=title,
        initiator=initiator,
        initiator_org=org,
        status=status,
        sent_at=sent_at or timezone.now(),
    )
    for order, (role, state, who) in enumerate(parties, start=1):
        if isinstance(who, Organization):
            Recipient.objects.create(
                envelope=envelope,
                routing_order=order,
                role=role,
                name=who.name,
                org_credit_code=who.credit_code,
                org=who,  # bound, as when chosen in the search
                status=state,
            )
        else:
            Recipient.objects.create(
                envelope=envelope,
                routing_order=order,
                role=role,
                name=real_name(who),
                phone=who.phone,
                status=state,
            )
    return envelope


@pytest.fixture
def world(people: dict, seal_org: Callable[..., Organization], build: Any) -> dict[str, Any]:
    """Real envelopes through the core: sent, signed, sealed, rejected, recalled, expired."""
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    dave = make_signer("dave", "13800000004", real_name="赵大卫")  # an outsider
    org = seal_org(alice, "厦门某某供应链有限公司", keeper=charlie)
    w: dict[str, Any] = {"alice": alice, "bob": bob, "charlie": charlie, "dave": dave, "org": org}
    w["bob_now"] = send(build.draft(alice, [("sign", 1, bob)], title="劳务合同"))
    w["bob_then_charlie"] = send(
        build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)], title="三方协议")
    )
    w["seal"] = send(build.draft(alice, [("seal", 1, org)], title="框架采购合同"))
    w["alice_cc_charlie"] = send(
        build.draft(bob, [("sign", 1, alice), ("cc", 2, charlie)], title="借款合同")
    )
    completed = send(build.draft(alice, [("sign", 1, bob)], title="已签合同"))
    sign(completed.recipients.get(), bob)
    completed.refresh_from_db()
    assert completed.status == Envelope.Status.COMPLETED
    w["completed"] = completed
    rejected = send(build.draft(alice, [("sign", 1, bob)], title="被拒合同"))
    turns_actions.do_reject(rejected.recipients.get(), "金额不对", actor=bob, meta=TASK)
    w["rejected"] = rejected
    recalled = send(build.draft(alice, [("sign", 1, charlie)], title="撤回合同"))
    lifecycle.do_recall(recalled, reason="写错了", actor=alice, meta=TASK)
    w["recalled"] = recalled
    expired = send(
        build.draft(
            bob,
            [("sign", 1, charlie)],
            title="过期合同",
            deadline=timezone.now() + dt.timedelta(days=1),
        )
    )
    Envelope.objects.filter(pk=expired.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    assert lifecycle.do_expire_overdue_envelopes(meta=TASK) == 1
    w["expired"] = expired
    w["draft"] = build.draft(alice, [("sign", 1, bob)], title="草稿合同")
    return w


EXPECTED: dict[str, dict[str, list[str]]] = {
    "alice": {
        "todo": ["alice_cc_charlie"],
        "others": ["bob_now", "bob_then_charlie", "seal"],
        "completed": ["completed"],
        "voided": ["rejected", "recalled"],
        "cc": [],
    },
    "bob": {
        "todo": ["bob_now", "bob_then_charlie"],
        "others": ["alice_cc_charlie"],
        "completed": ["completed"],
        "voided": ["rejected", "expired"],
        "cc": [],
    },
    "charlie": {
        "todo": ["seal"],  # the seal keeper of the organisation
        "others": ["bob_then_charlie"],  # his turn comes after bob's
        "completed": [],
        "voided": ["recalled", "expired"],
        "cc": ["alice_cc_charlie"],
    },
    "dave": {tab: [] for tab in TABS},
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_tab_shows_exactly_the_right_envelopes(world: dict, who: str) -> None:
    user = world[who]
    client = client_of(user)
    for tab in TABS:
        got = set(rows(client, tab=tab))
        want = {str(world[name].uuid) for name in EXPECTED[who][tab]}
        assert got == want, (who, tab)
        # every row opens for the user
        assert visible_envelopes(user).filter(uuid__in=got).count() == len(got)
        for envelope_uuid in got:
            detail = client.get(reverse("envelopes:detail", args=[envelope_uuid]))
            assert detail.status_code == 200, (who, tab, detail.status_code)
    assert str(world["draft"].uuid) not in {
        u for tab in TABS for u in rows(client_of(world["alice"]), tab=tab)
    }


def test_default_tab_is_todo_with_its_count(world: dict) -> None:
    response = client_of(world["bob"]).get(reverse("envelopes:list"))
    html = response.content.decode()
    assert 'data-testid="tab-todo" aria-current="page"' not in html  # attribute order
    assert re.search(r'href="\?tab=todo" aria-current="page"', html)
    assert re.search(r'data-testid="todo-count">2<', html)
    assert set(ROW.findall(html)) == {
        str(world["bob_now"].uuid),
        str(world["bob_then_charlie"].uuid),
    }
    assert "批量签署" in html and "下载" in html
    # the count shows on the other tabs too, but 批量签署 only on 待我签署
    other = client_of(world["bob"]).get(reverse("envelopes:list"), {"tab": "completed"})
    assert re.search(r'data-testid="todo-count">2<', other.content.decode())
    assert 'data-testid="batch-sign"' not in other.content.decode()


def test_rows_show_the_columns_of_the_manual(world: dict) -> None:
    html = client_of(world["bob"]).get(reverse("envelopes:list")).content.decode()
    envelope = world["bob_then_charlie"]
    row = html[html.index(f'data-envelope="{envelope.uuid}"') :]
    row = row[: row.index("</tr>")]
    assert envelope.number in row and "三方协议" in row
    assert real_name(world["alice"]) in row  # 发起方
    assert 'data-testid="row-progress">0/2<' in row  # 任务进度
    assert timezone.localtime(envelope.sent_at).strftime("%Y-%m-%d %H:%M") in row  # Beijing time
    assert reverse("envelopes:detail", args=[envelope.uuid]) in row
    sign_url = reverse("envelopes:sign", args=[envelope.uuid])
    assert f'href="{sign_url}" class="lists-primary" data-testid="row-sign"' in row
    assert client_of(world["bob"]).get(sign_url).status_code == 200


HOSTILE = "<script>alert(1)</script>\"'&"


def _row(html: str, envelope: Envelope) -> str:
    row = html[html.index(f'data-envelope="{envelope.uuid}"') :]
    return row[: row.index("</tr>")]


def test_rows_escape_what_the_sender_wrote(people: dict) -> None:
    """The rows are made as HTML in Python (views/list_lines.py): a title, scene, 作废 reason
    or initiator name written to break out of the markup is shown as text, in every column."""
    alice, bob = people["alice"], people["bob"]
    mallory = make_user(HOSTILE, phone="13900000066")  # not verified
    ended = quick(mallory, [("sign", "pending", bob)], title=HOSTILE, status=Envelope.Status.VOIDED)
    ended.scene = '"><img src=x onerror=alert(1)>'
    ended.end_reason = HOSTILE
    ended.deadline = timezone.now() + dt.timedelta(days=3)
    ended.kind = Envelope.Kind.VOID_STATEMENT
    ended.save()
    html = client_of(bob).get(reverse("envelopes:list"), {"tab": "voided"}).content.decode()
    row = _row(html, ended)
    assert "<script>" not in row and "<img" not in row
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;"
    assert f">{escaped}</a>" in row  # 任务名称
    assert f'aria-label="选择“{escaped}”"' in row
    assert f'title="{escaped}" data-testid="row-status">已作废<' in row  # the reason
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</a>" in row  # 场景, and its link:
    assert "scene=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in row
    assert '<span class="badge">作废声明</span>' in row
    assert timezone.localtime(ended.deadline).strftime("%Y-%m-%d %H:%M") in row  # 签署截止
    # an initiator without real-name verification is shown by the name they chose, escaped,
    # and marked
    assert f"{escaped} <span" in row and 'data-testid="initiator-unverified"' in row
    # a tab of one status has no 状态 column; a row without a deadline says 不限
    todo = quick(alice, [("sign", "pending", bob)], title="无期限")
    html = client_of(bob).get(reverse("envelopes:list")).content.decode()
    row = _row(html, todo)
    assert 'data-testid="row-status"' not in row and '<span class="muted">不限</span>' in row


def test_organisation_tasks_progress_and_action(world: dict) -> None:
    html = client_of(world["charlie"]).get(reverse("envelopes:list")).content.decode()
    row = html[html.index(f'data-envelope="{world["seal"].uuid}"') :]
    row = row[: row.index("</tr>")]
    assert "盖章" in row  # the action for an organisation step
    # an administrator without a grant sees the task as waiting for others, not to seal
    admin = client_of(world["alice"])
    assert str(world["seal"].uuid) in rows(admin, tab="others")


def test_an_admin_of_the_recipient_org_without_a_grant_does_not_get_it_to_sign(
    world: dict,
) -> None:
    dave, org = world["dave"], world["org"]
    Membership.objects.create(org=org, user=dave, role=Membership.Role.ADMIN)
    client = client_of(dave)
    # named only (not bound), the task is nobody's in the organisation
    Recipient.objects.filter(envelope=world["seal"]).update(org=None)
    assert all(rows(client, tab=tab) == [] for tab in TABS)
    assert not visible_envelopes(dave).filter(pk=world["seal"].pk).exists()
    Recipient.objects.filter(envelope=world["seal"]).update(org=org)
    assert rows(client, tab="todo") == []
    assert rows(client, tab="others") == [str(world["seal"].uuid)]
    assert visible_envelopes(dave).filter(pk=world["seal"].pk).exists()


def test_search_by_title_or_number_and_reset(world: dict) -> None:
    client = client_of(world["bob"])
    assert rows(client, tab="todo", q="三方") == [str(world["bob_then_charlie"].uuid)]
    number = world["bob_now"].number
    assert rows(client, tab="todo", q=number[-8:].lower()) == [str(world["bob_now"].uuid)]
    response = client.get(reverse("envelopes:list"), {"tab": "todo", "q": "不存在的合同"})
    assert ROW.findall(response.content.decode()) == []
    assert "没有符合条件的任务" in response.content.decode()
    assert len(rows(client, tab="todo")) == 2  # 重置


def test_advanced_search_initiator_dates_and_status(world: dict) -> None:
    alice, bob = world["alice"], world["bob"]
    client = client_of(bob)
    # 发起方: the initiator's verified name
    assert rows(client, tab="voided", initiator=real_name(alice)[:2]) == [
        str(world["rejected"].uuid)
    ]
    assert rows(client, tab="voided", initiator=real_name(bob)) == [str(world["expired"].uuid)]
    # 状态 within 已作废
    assert rows(client, tab="voided", status="expired") == [str(world["expired"].uuid)]
    assert rows(client, tab="voided", status="rejected") == [str(world["rejected"].uuid)]
    # 发起时间: Beijing dates, both ends included
    old = timezone.make_aware(dt.datetime(2024, 3, 1, 0, 30))  # 00:30 Beijing = 16:30 UTC before
    Envelope.objects.filter(pk=world["bob_now"].pk).update(sent_at=old)
    assert rows(client, tab="todo", **{"from": "2024-03-01", "to": "2024-03-01"}) == [
        str(world["bob_now"].uuid)
    ]
    assert rows(client, tab="todo", **{"to": "2024-02-29"}) == []
    assert rows(client, tab="todo", **{"from": "2024-03-02"}) == [
        str(world["bob_then_charlie"].uuid)
    ]


def test_advanced_search_by_initiator_organisation(people: dict, seal_org: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    org = seal_org(alice, "武汉理工大学")
    quick(alice, [("sign", "pending", bob)], title="年度考核表", org=org)
    quick(alice, [("sign", "pending", bob)], title="个人发起")
    client = client_of(bob)
    html = client.get(reverse("envelopes:list"), {"initiator": "理工"}).content.decode()
    assert len(ROW.findall(html)) == 1 and "年度考核表" in html and "武汉理工大学" in html


@pytest.mark.parametrize(
    "query",
    [
        {"tab": "nonsense"},
        {"page": "abc"},
        {"page": "9999"},
        {"page": "-1"},
        {"from": "2024-13-45"},
        {"from": "2024-05-02", "to": "2024-05-01"},
        {"status": "draft"},
        {"q": "合" * 5000},
        {"initiator": "%_\\'\""},
    ],
)
def test_bad_input_is_a_message_never_a_500(people: dict, query: dict[str, str]) -> None:
    bob = people["bob"]
    quick(people["alice"], [("sign", "pending", bob)])
    response = client_of(bob).get(reverse("envelopes:list"), query)
    assert response.status_code == 200
    html = response.content.decode()
    if "from" in query:
        assert 'data-testid="list-filter-error"' in html


def test_drafts_and_statuses_never_shown_outside_their_tab(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    quick(alice, [("sign", "pending", bob)], status=Envelope.Status.DRAFT)
    client = client_of(bob)
    assert all(rows(client, tab=tab) == [] for tab in TABS)


def test_unbound_phone_and_bound_user(people: dict) -> None:
    """A person recipient is the user by binding, or before binding by the phone number."""
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    by_phone = quick(alice, [("sign", "pending", bob)])
    bound = quick(alice, [("sign", "viewed", charlie)])
    Recipient.objects.filter(envelope=bound).update(user=bob, phone="")
    claimed = quick(alice, [("sign", "pending", bob)])
    Recipient.objects.filter(envelope=claimed).update(user=charlie)  # bound to someone else
    email_only = quick(alice, [("sign", "pending", bob)])
    Recipient.objects.filter(envelope=email_only).update(phone="", email="x@example.com")
    assert set(rows(client_of(bob))) == {str(by_phone.uuid), str(bound.uuid)}


def test_paging_keeps_the_filters(people: dict) -> None:
    alice, bob = people["alice"], people["bob"]
    base = timezone.now() - dt.timedelta(days=1)
    made = [
        quick(
            alice,
            [("sign", "pending", bob)],
            title=f"合同{i:02d}",
            sent_at=base + dt.timedelta(minutes=i),
        )
        for i in range(25)
    ]
    quick(alice, [("sign", "pending", bob)], title="别的文件")
    client = client_of(bob)
    response = client.get(reverse("envelopes:list"), {"q": "合同"})
    html = response.content.decode()
    first = ROW.findall(html)
    assert first == [str(e.uuid) for e in reversed(made)][:20]  # newest first
    assert "第 1 / 2 页，共 25 条" in html
    link = re.search(r'href="(\?[^"]*page=2[^"]*)" data-testid="page-next"', html)
    assert link and "q=%E5%90%88%E5%90%8C" in link.group(1) and "tab=todo" in link.group(1)
    second = ROW.findall(
        client.get(reverse("envelopes:list") + link.group(1).replace("&amp;", "&")).content.decode()
    )
    assert second == [str(e.uuid) for e in reversed(made)][20:]
    assert (
        ">21<" in client.get(reverse("envelopes:list"), {"q": "合同", "page": "2"}).content.decode()
    )


def _queries(client: Client, tab: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("envelopes:list"), {"tab": tab})
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("tab", TABS)
def test_query_count_does_not_grow_with_the_rows(people: dict, seal_org: Any, tab: str) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(charlie, "深圳某某科技有限公司", keeper=bob)
    state = {
        "todo": ("sign", "pending", Envelope.Status.IN_PROGRESS),
        "others": ("sign", "waiting", Envelope.Status.IN_PROGRESS),
        "completed": ("sign", "done", Envelope.Status.COMPLETED),
        "voided": ("sign", "rejected", Envelope.Status.REJECTED),
        "cc": ("cc", "waiting", Envelope.Status.COMPLETED),
    }[tab]

    def make(n: int) -> None:
        for i in range(n):
            initiator = alice if i % 2 else charlie
            parties = [(state[0], state[1], bob), ("sign", "done", alice)]
            if tab == "todo" and i % 3 == 0:
                parties = [("seal", "pending", org)]  # organisation tasks too
            quick(initiator, parties, status=state[2], org=org if i % 4 == 0 else None)

    client = client_of(bob)
    make(1)
    one = _queries(client, tab)
    make(14)
    many = _queries(client, tab)
    assert len(rows(client, tab=tab)) == 15
    assert many == one, (one, many)
    assert one <= 12


# --- 下载 -------------------------------------------------------------------------------------


def _zip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(data))


def test_download_zip_has_a_folder_per_task_with_final_files_and_report(world: dict) -> None:
    bob = world["bob"]
    completed, pending = world["completed"], world["bob_now"]
    response = client_of(bob).post(
        reverse("envelopes:download-zip"), {"ids": [str(completed.uuid), str(pending.uuid)]}
    )
    archive = _zip(response)
    names = sorted(archive.namelist())
    assert names == sorted(
        [
            f"{completed.number}/合同1.pdf",
            f"{completed.number}/签署报告-{completed.number}.pdf",
            f"{pending.number}/合同1.pdf",
        ]
    )
    final = completed.documents.get()
    assert final.finished
    assert archive.read(f"{completed.number}/合同1.pdf") == final.current.read()
    assert archive.read(f"{completed.number}/签署报告-{completed.number}.pdf") == (
        completed.report.read()
    )
    assert archive.read(f"{pending.number}/合同1.pdf") == pending.documents.get().current.read()
    assert "attachment" in response["Content-Disposition"]
    for envelope in (completed, pending):
        event = AuditEvent.objects.filter(envelope=envelope, action="downloaded").get()
        assert event.actor == bob and event.detail["what"] == "archive"


def test_download_of_someone_elses_envelope_is_never_leaked(world: dict) -> None:
    bob, dave = world["bob"], world["dave"]
    mine, theirs = world["bob_now"], world["seal"]  # charlie's organisation task
    response = client_of(bob).post(
        reverse("envelopes:download-zip"), {"ids": [str(mine.uuid), str(theirs.uuid)]}
    )
    assert [n.split("/")[0] for n in _zip(response).namelist()] == [mine.number]
    assert not AuditEvent.objects.filter(envelope=theirs, action="downloaded").exists()
    # nothing of the user's at all: 404, and no trace in the audit trail
    only = client_of(dave).post(reverse("envelopes:download-zip"), {"ids": [str(mine.uuid)]})
    assert only.status_code == 404
    assert AuditEvent.objects.filter(action="downloaded", actor=dave).count() == 0
    # a draft is not downloadable from the lists, even by its initiator
    draft = client_of(world["alice"]).post(
        reverse("envelopes:download-zip"), {"ids": [str(world["draft"].uuid)]}
    )
    assert draft.status_code == 404


def test_download_needs_a_selection_and_caps_it(people: dict) -> None:
    bob = people["bob"]
    client = client_of(bob)
    back = reverse("envelopes:list") + "?tab=completed"
    response = client.post(reverse("envelopes:download-zip"), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    page = client.get(back).content.decode()
    assert "请先勾选要下载的任务" in page
    ids = [str(quick(people["alice"], [("sign", "done", bob)]).uuid) for _ in range(51)]
    response = client.post(
        reverse("envelopes:download-zip"), {"ids": ids, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("envelopes:list")
    assert "一次最多下载 50 个任务" in client.get(reverse("envelopes:list")).content.decode()
    assert client.get(reverse("envelopes:download-zip")).status_code == 405
    garbage = client.post(reverse("envelopes:download-zip"), {"ids": ["../../etc", "1"]})
    assert garbage.status_code == 302


def test_download_zip_is_streamed_in_small_chunks(world: dict, monkeypatch: Any) -> None:
    """No archive is assembled in a temporary file: the response streams as it is written,
    each chunk about one read of a blob, however large the selection."""
    monkeypatch.setattr(downloads, "CHUNK", 2048)
    bob, completed, pending = world["bob"], world["completed"], world["bob_now"]
    response = client_of(bob).post(
        reverse("envelopes:download-zip"), {"ids": [str(completed.uuid), str(pending.uuid)]}
    )
    assert response.status_code == 200 and response.streaming
    assert not response.has_header("Content-Length")
    chunks = list(response.streaming_content)
    total = sum(d.current.size for d in completed.documents.all()) + completed.report.size
    assert len(chunks) > total // 2048
    assert max(len(c) for c in chunks) <= 2048 + 1024  # a read plus entry headers
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.read(f"{pending.number}/合同1.pdf") == pending.documents.get().current.read()


def test_download_zip_over_the_size_cap_is_refused_before_streaming(
    world: dict, settings: Any
) -> None:
    bob, completed = world["bob"], world["completed"]
    size = sum(d.current.size for d in completed.documents.all()) + completed.report.size
    client = client_of(bob)
    back = reverse("envelopes:list") + "?tab=completed"
    settings.QIANSHU_ZIP_MAX_BYTES = size - 1
    data = {"ids": [str(completed.uuid)], "next": back}
    response = client.post(reverse("envelopes:download-zip"), data)
    assert response.status_code == 302 and response["Location"] == back
    assert not response.streaming
    assert "超过单次下载上限" in client.get(back).content.decode()
    assert not AuditEvent.objects.filter(envelope=completed, action="downloaded").exists()
    settings.QIANSHU_ZIP_MAX_BYTES = size
    response = client.post(reverse("envelopes:download-zip"), data)
    assert response.status_code == 200 and response.streaming
    assert len(_zip(response).namelist()) == 2


def test_login_required(db: Any) -> None:
    response = Client().get(reverse("envelopes:list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_tab_queryset_rejects_unknown_tabs(people: dict) -> None:
    with pytest.raises(ValueError):
        queries.tab_queryset(access.Viewer.of(people["bob"]), "drafts")


def test_seal_tasks_follow_the_binding_never_the_name(people: dict, seal_org: Any) -> None:
    """A seal task is the organisation's only when bound to it: the same name (even with the
    same credit code) on an unbound recipient lists nothing for its seal keeper."""
    alice, bob = people["alice"], people["bob"]
    org = seal_org(alice, "杭州某某网络有限公司", keeper=bob)
    good = quick(alice, [("seal", "pending", org)])
    by_name = quick(alice, [("seal", "pending", org)])
    Recipient.objects.filter(envelope=by_name).update(org=None, org_credit_code="")
    by_name_and_code = quick(alice, [("seal", "pending", org)])
    Recipient.objects.filter(envelope=by_name_and_code).update(org=None)
    wrong_kind = quick(alice, [("seal", "pending", org)])
    Recipient.objects.filter(envelope=wrong_kind).update(required_seal_kind="finance")
    right_kind = quick(alice, [("seal", "pending", org)])
    Recipient.objects.filter(envelope=right_kind).update(required_seal_kind=seal_of(org).kind)
    client = client_of(bob)
    assert set(rows(client)) == {str(good.uuid), str(right_kind.uuid)}
    assert set(rows(client, tab="others")) == {str(wrong_kind.uuid)}  # bound, not his seal type
    unbound = {str(by_name.uuid), str(by_name_and_code.uuid)}
    assert all(not unbound & set(rows(client, tab=tab)) for tab in TABS)
