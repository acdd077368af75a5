"""The lists of a user with many envelopes (envelopes/queries.py): past ``COUNT_LIMIT`` a tab is
read by walking the envelopes newest first instead of from the user's ids. Both ways must give
the same pages — checked here against an independent reading of the rows, for alice (a person:
initiator, signer by account and by phone before binding, CC), bob (administrator and seal
keeper of an organisation) and charlie (a few) — in a number of queries that does not grow with
the rows. The timings and the plans at a million envelopes are the benchmark's
(``python -m benchmarks --only lists``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.envelopes import list_chosen, queries
from qianshu.envelopes.access import Viewer
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.orgs.models import Membership, Organization
from tests.support.accounts import make_user

Status = Envelope.Status
TURN = (Recipient.Status.PENDING, Recipient.Status.VIEWED)
ENDED = set(queries.ENDED)
STATUS_CYCLE = (
    Status.IN_PROGRESS,
    Status.COMPLETED,
    Status.IN_PROGRESS,
    Status.RETURNED,
    Status.REJECTED,
    Status.COMPLETED,
    Status.VOIDED,
    Status.EXPIRED,
    Status.RECALLED,
    Status.DRAFT,
)


def _recipient(envelope: Envelope, order: int, role: str, state: str, **who: Any) -> None:
    Recipient.objects.create(
        envelope=envelope, routing_order=order, role=role, name="签署方", status=state, **who
    )


def _make(people: dict[str, User], org: Organization, count: int) -> None:
    """``count`` envelopes where the three take part in every way, one minute apart (and two
    sent at the same minute, so that the order falls back to the id)."""
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    start = timezone.now() - dt.timedelta(days=1)
    for i in range(count):
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        envelope = Envelope.objects.create(
            number=f"QL{i:012d}",
            title=f"采购合同 {i}" if i % 3 else f"劳动合同 {i}",
            initiator=alice if i % 5 == 0 else charlie if i % 11 == 0 else bob,
            initiator_org=org if i % 4 == 1 else None,
            status=status,
            scene="采购合同" if i % 2 else "",
            sent_at=None if status == Status.DRAFT else start + dt.timedelta(minutes=i // 2),
        )
        turn = i % 3 + 1  # whose turn it is, in progress
        active = status == Status.IN_PROGRESS
        now = Recipient.Status.PENDING if i % 2 else Recipient.Status.VIEWED

        def state(
            order: int,
            status: str = status,
            active: bool = active,
            turn: int = turn,
            now: str = now,
        ) -> str:
            if status == Status.COMPLETED or (active and order < turn):
                return Recipient.Status.DONE
            return now if active and order == turn else Recipient.Status.WAITING

        if i % 7 == 3:  # alice before binding: by her phone
            _recipient(envelope, 1, "sign", state(1), phone=alice.phone)
        elif i % 2 == 0:
            _recipient(envelope, 1, "sign", state(1), user=alice, phone=alice.phone)
        else:
            _recipient(envelope, 1, "approve", state(1), user=charlie, phone=charlie.phone)
        if i % 3 != 2:
            _recipient(envelope, 2, "seal", state(2), org=org, phone="13900000000")
        _recipient(envelope, 3, "sign", state(3), user=charlie, phone=charlie.phone)
        if i % 4 == 2:
            _recipient(envelope, 1, "cc", Recipient.Status.WAITING, user=alice, phone=alice.phone)


def _acts(user: User, recipient: Recipient, org_ids: set[int]) -> bool:
    if recipient.role == Recipient.Role.SEAL:
        return recipient.org_id in org_ids
    if recipient.user_id is not None:
        return recipient.user_id == user.pk
    return recipient.phone == user.phone


def expected(user: User, tab: str) -> list[int]:
    """The tab read from the rows in Python, newest first."""
    admin = set(
        Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values_list(
            "org_id", flat=True
        )
    )
    grants = {seal.org_id for seal in Viewer.of(user).seals}
    seal_orgs = grants | admin
    found = []
    for envelope in Envelope.objects.exclude(status=Status.DRAFT).prefetch_related("recipients"):
        recipients = list(envelope.recipients.all())
        cc = any(r.role == "cc" and _acts(user, r, set()) for r in recipients)
        acting = [r for r in recipients if r.role != "cc" and _acts(user, r, seal_orgs)]
        involved = (
            envelope.initiator_id == user.pk or envelope.initiator_org_id in admin or bool(acting)
        )
        mine = envelope.status == Status.IN_PROGRESS and any(
            r.status in TURN and (r.role != "seal" or r.org_id in grants) for r in acting
        )
        belongs = {
            "todo": mine,
            "others": involved
            and not mine
            and envelope.status in (Status.IN_PROGRESS, Status.RETURNED),
            "completed": involved and envelope.status == Status.COMPLETED,
            "voided": involved and envelope.status in ENDED,
            "cc": cc,
        }[tab]
        if belongs:
            found.append(envelope)
    found.sort(key=lambda e: (e.sent_at, e.pk), reverse=True)
    return [e.pk for e in found]


def pages(user: User, tab: str, filters: queries.Filters) -> Iterator[queries.Listing]:
    number = 1
    while True:
        listing = queries.list_envelopes(user, tab, filters, number)
        yield listing
        if not listing.page.has_next():
            return
        number += 1


def listed(user: User, tab: str, filters: queries.Filters | None = None) -> list[int]:
    return [
        envelope.pk
        for listing in pages(user, tab, filters or queries.Filters())
        for envelope in listing.page.object_list
    ]


@pytest.fixture
def many(people: dict[str, User], seal_org: Callable[..., Organization]) -> dict[str, Any]:
    org = seal_org(people["bob"], "厦门某某科技有限公司")  # bob: administrator and seal keeper
    _make(people, org, 90)
    return {**people, "org": org}


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every user counts as one with many: the lists walk the envelopes."""
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)


WHO = ("alice", "bob", "charlie")


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("tab", [tab.slug for tab in queries.TABS])
def test_ids_and_walk_list_the_same_pages(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str, tab: str
) -> None:
    user = many[who]
    want = expected(user, tab)
    assert listed(user, tab) == want
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    assert listed(user, tab) == want
    if tab in ("others", "completed", "voided") and who != "charlie":
        assert len(want) > 3  # the walk was taken


@pytest.mark.parametrize("limit", [1000, 3])
def test_search_gives_the_same_rows_both_ways(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
    bob = many["bob"]
    everything = set(expected(bob, "completed"))
    labour = queries.Filters(q="劳动合同")
    want = [
        pk
        for pk in expected(bob, "completed")
        if Envelope.objects.get(pk=pk).title.startswith("劳动合同")
    ]
    assert want and len(want) < len(everything)
    assert listed(bob, "completed", labour) == want
    scene = queries.Filters(scene="采购合同")
    assert set(listed(bob, "completed", scene)) == {
        pk for pk in everything if Envelope.objects.get(pk=pk).scene == "采购合同"
    }


def test_counts_stop_at_the_limit(
    many: dict[str, Any], walk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "PAGE_SIZE", 5)
    alice = many["alice"]
    todo = expected(alice, "todo")
    assert len(todo) > 3
    listing = queries.list_envelopes(alice, "completed", queries.Filters(), 1)
    assert listing.todo_count == 4 and listing.todo_label == "3+"
    assert not listing.page.exact and listing.page.over_limit
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("envelopes:list"), {"tab": "completed"}).content.decode()
    assert "第 1 页，超过 3 条" in page
    assert 'data-testid="todo-count">3+<' in page
    # The last page of a walk knows the count.
    last = list(pages(alice, "completed", queries.Filters()))[-1]
    assert last.page.exact and last.page.count == len(expected(alice, "completed"))


def test_counts_are_exact_below_the_limit(many: dict[str, Any]) -> None:
    alice = many["alice"]
    completed = expected(alice, "completed")
    listing = queries.list_envelopes(alice, "completed", queries.Filters(), 1)
    assert listing.page.exact and listing.page.count == len(completed)
    assert listing.todo_count == len(expected(alice, "todo"))


@pytest.mark.parametrize("limit", [1000, 3])
@pytest.mark.parametrize("who", WHO)
def test_a_page_costs_the_same_queries_whatever_the_rows(
    many: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
    limit: int,
    who: str,
) -> None:
    monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
    user = many[who]
    for tab in queries.TABS:
        with django_assert_max_num_queries(10):
            queries.list_envelopes(user, tab.slug, queries.Filters(q="合同"), 1)
        with django_assert_max_num_queries(10):
            queries.list_envelopes(user, tab.slug, queries.Filters(), 2)


@pytest.mark.postgres
def test_search_has_trigram_indexes_on_postgresql(db: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'envelopes_envelope' "
            "AND indexdef LIKE '%%gin_trgm_ops%%'"
        )
        found = {row[0] for row in cursor.fetchall()}
    assert found == {"env_title_trgm", "env_number_trgm"}


@pytest.mark.postgres
def test_the_walk_reads_the_envelope_indexes_on_postgresql(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sequential scans priced out (the tables are small here), the walk of one status and
    of several can be served by the envelope indexes it was written for."""
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    viewer = Viewer.of(many["bob"])
    for tab, index in (("completed", "env_status_sent"), ("voided", "env_sent_walk")):
        found = queries.source(viewer, tab)
        walk = (
            Envelope.objects.filter(status__in=found.statuses)
            .filter(found.condition)
            .order_by("-sent_at", "-id")
            .values_list("pk", flat=True)[:21]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            sql, params = walk.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert index in plan, plan
        assert "Seq Scan on envelopes_envelope" not in plan


@pytest.mark.parametrize("limit", [1000, 20, 3])  # 20: bob has many, the batch (15) few
def test_template_and_batch_filters_both_ways(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    from qianshu.doctemplates.models import Batch, Template, TemplateUse, TemplateVersion

    bob = many["bob"]
    template = Template.objects.create(name="采购合同模板", owner=bob, org=many["org"])
    version = TemplateVersion.objects.create(
        template=template, number=1, title="采购合同", created_by=bob
    )
    batch = Batch.objects.create(
        number="PL202612050001", version=version, created_by=bob, file_name="名单.xlsx"
    )
    made = list(Envelope.objects.order_by("pk").values_list("pk", flat=True))[::3]
    for n, pk in enumerate(made):
        TemplateUse.objects.create(envelope_id=pk, version=version, batch=batch if n % 2 else None)
    in_batch = set(made[1::2])
    monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
    for tab in ("others", "completed", "voided"):
        everything = expected(bob, tab)
        by_template = queries.Filters(template=str(template.uuid))
        assert listed(bob, tab, by_template) == [pk for pk in everything if pk in made]
        by_batch = queries.Filters(batch=batch.number)
        assert listed(bob, tab, by_batch) == [pk for pk in everything if pk in in_batch]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("initiator_limit", [0, 100_000])  # walked, or read from the user's ids
def test_initiator_search_gives_the_same_rows_both_ways(
    many: dict[str, Any],
    walk: None,
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    initiator_limit: int,
) -> None:
    monkeypatch.setattr(queries, "INITIATOR_LIMIT", initiator_limit)
    """发起方 (an organisation's name, a person's verified name, a name of nobody) lists the
    same rows whether the user's envelopes are walked or read from their ids."""
    user, org, alice = many[who], many["org"], many["alice"]
    searches: tuple[tuple[str, Callable[[Envelope], bool]], ...] = (
        ("某某科技", lambda e: e.initiator_org_id == org.pk),
        (
            alice.person_identity.name,
            lambda e: e.initiator_org_id is None and e.initiator_id == alice.pk,
        ),
        ("没有这个人", lambda e: False),
    )
    for tab in queries.TABS:
        everything = expected(user, tab.slug)
        for text, match in searches:
            want = [pk for pk in everything if match(Envelope.objects.get(pk=pk))]
            found = listed(user, tab.slug, queries.Filters(initiator=text))
            assert found == want, (tab.slug, text)


def _initiator_matches(envelope: Envelope, text: str) -> bool:
    """发起方 read in Python: the organisation sent for, else the initiator's verified name or,
    not verified, their display name."""
    if envelope.initiator_org_id is not None:
        return text in envelope.initiator_org.name
    identity = getattr(envelope.initiator, "person_identity", None)
    return text in (identity.name if identity is not None else envelope.initiator.display_name)


@pytest.mark.parametrize("initiator_limit", [0, 100_000])
def test_initiator_search_tests_the_users_own_name_once(
    many: dict[str, Any], walk: None, monkeypatch: pytest.MonkeyPatch, initiator_limit: int
) -> None:
    """The user's own envelopes are matched to 发起方 once, by their own name, not each
    (queries.source): whatever their own name and the organisations they sent for, the rows
    are those of the search read in Python — a text in both the user's name and the name of
    an organisation they sent for (charlie, 张查理咨询), in another person's name only, in an
    unverified user's display name (dave, 赵大卫, who has no verified name), in an
    organisation's name only, and in nobody's."""
    from tests.support.personas import make_verified_org

    monkeypatch.setattr(queries, "INITIATOR_LIMIT", initiator_limit)
    alice, bob, charlie = many["alice"], many["bob"], many["charlie"]
    dave = make_user("赵大卫", phone="13900000077")
    consultancy = make_verified_org(charlie, name="张查理咨询有限公司")
    start = timezone.now() - dt.timedelta(hours=2)
    for i, (initiator, org) in enumerate(
        [(charlie, consultancy), (charlie, None), (dave, None), (dave, many["org"])] * 3
    ):
        envelope = Envelope.objects.create(
            number=f"QI{i:012d}",
            title=f"咨询合同 {i}",
            initiator=initiator,
            initiator_org=org,
            status=(Status.IN_PROGRESS, Status.COMPLETED, Status.VOIDED)[i % 3],
            sent_at=start + dt.timedelta(minutes=i),
        )
        state = Recipient.Status.DONE if i % 3 == 1 else Recipient.Status.PENDING
        _recipient(envelope, 1, "sign", state, user=alice, phone=alice.phone)
        _recipient(envelope, 2, "sign", state, user=dave, phone=dave.phone)
    assert not hasattr(User.objects.get(pk=dave.pk), "person_identity")
    for user in (alice, bob, charlie, dave):
        for tab in ("todo", "others", "completed", "voided"):
            everything = expected(user, tab)
            for text in ("查理", "张查理咨询", "大卫", "某某科技", "王爱丽", "没有这个人"):
                envelopes = Envelope.objects.select_related(
                    "initiator__person_identity", "initiator_org"
                ).in_bulk(everything)
                want = [pk for pk in everything if _initiator_matches(envelopes[pk], text)]
                found = listed(user, tab, queries.Filters(initiator=text))
                assert found == want, (user.display_name, tab, text)
    charlie_found = listed(charlie, "completed", queries.Filters(initiator="查理"))
    kinds = {Envelope.objects.get(pk=pk).initiator_org_id for pk in charlie_found}
    assert kinds == {None, consultancy.pk}  # both ways of charlie's own envelopes were listed


@pytest.mark.parametrize("who", WHO)
def test_a_template_used_mostly_by_others_is_read_among_the_users_envelopes(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """A template used for more envelopes than ``COUNT_LIMIT``, few of them the user's: the
    page is read from those few (found among the user's own envelopes), not walked — the same
    rows, and never another user's envelope."""
    from qianshu.doctemplates.models import Template, TemplateUse, TemplateVersion

    user, dave = many[who], make_user("dave", phone="13900000088")
    template = Template.objects.create(name="考核表模板", owner=dave)
    version = TemplateVersion.objects.create(
        template=template, number=1, title="考核表", created_by=dave
    )
    others = [
        Envelope.objects.create(
            number=f"QD{i:012d}",
            title=f"考核表 {i}",
            initiator=dave,
            status=Status.COMPLETED,
            sent_at=timezone.now(),
        )
        for i in range(20)
    ]
    theirs = list(
        Envelope.objects.exclude(initiator=dave).order_by("pk").values_list("pk", flat=True)
    )[::9]
    for pk in [e.pk for e in others] + theirs:
        TemplateUse.objects.create(envelope_id=pk, version=version)
    monkeypatch.setattr(queries, "COUNT_LIMIT", 12)
    chosen, read_among = list_chosen.chosen, []

    def spy(uses: Any, limit: int, among: Any = ()) -> list[int] | None:
        found = chosen(uses, limit, among)
        if among:
            read_among.append(found is not None)
        return found

    monkeypatch.setattr(list_chosen, "chosen", spy)
    by_template = queries.Filters(template=str(template.uuid))
    for tab in queries.TABS:
        want = [pk for pk in expected(user, tab.slug) if pk in theirs]
        assert listed(user, tab.slug, by_template) == want
    if who != "charlie":
        assert True in read_among
