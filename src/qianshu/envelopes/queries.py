"""文件管理: the envelope lists of a user (待我签署, 待他人签署, 已完成签署, 已作废, 抄送我的).

Every list is a subset of :func:`qianshu.envelopes.access.visible_envelopes`, so every row opens
for the user; drafts are never listed (草稿箱 is the compose pages' list).

* 待我签署 (``todo``): in progress, and one of its recipients is the user's turn now — a person
  recipient that is the user (the bound account, or before binding the user's phone), or an
  organisation recipient bound to an organisation one of the user's granted seals belongs to
  (never by the organisation's name).
* 待他人签署 (``others``): in progress, the user takes part (initiator, administrator of the
  organisation it was sent for, or an acting recipient), and it is not the user's turn.
* 已完成签署 (``completed``), 已作废 (``voided``: voided, and the envelopes that ended without
  completion — rejected, recalled, expired): the same participation.
* 抄送我的 (``cc``): a CC recipient is the user.

The queries are written for an installation of a million envelopes and five million
recipients (``python -m benchmarks --only lists`` measures them and checks their plans). A tab
is known two ways (:class:`Source`): as the ids of the user's envelopes from index lookups of
their own (the recipient indexes (user, status), (phone, status), (org, status); the initiator
and organisation indexes of envelopes), and as a condition on an envelope row. A user with few
envelopes in a tab (at most ``COUNT_LIMIT``, counted with a bounded ``UNION ALL``) gets the
page from the ids, sorted, and an exact count; a user with more — an organisation's
administrator sees every envelope it sent — gets the page by walking the envelopes newest
first through the ``sent_at`` index and testing the condition on each (the user's share of
them is then large enough that a page is found after a few hundred rows), and a count that
stops at ``COUNT_LIMIT`` ("超过 1,000 条"). Searching 任务名称 / 任务编号 is served on
PostgreSQL by trigram indexes when the text is rare (migration 0011).

A filter that may match few of a heavy user's envelopes, where a walk would read every
envelope of the statuses, is planned by its selectivity: a template or a batch with at most
``COUNT_LIMIT`` envelopes (in all, or among the user's own) gives the page from those; 发起方,
for a user with at most ``INITIATOR_LIMIT`` envelopes, is tested on each of the user's
envelopes (:attr:`Source.wide`) instead. A user with few has the page, the count and the
场景 choices from one query by id (index ``env_id_list``, migration 0012).

A page costs a constant number of queries whatever its size (progress counts, the user's turn
and the documents for 预览 are fetched for the page's rows at once).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import DenseRank
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from qianshu.accounts.models import User
from qianshu.envelopes import routing
from qianshu.envelopes.access import TURN, Viewer, seal_turn_q
from qianshu.envelopes.models import Document, Envelope, Recipient, clean_scene
from qianshu.orgs.models import Organization

Status = Envelope.Status
Role = Recipient.Role

PAGE_SIZE = 20
MAX_QUERY = 100
#: A list counts its envelopes exactly up to this many; beyond, it says "超过 1,000 条".
COUNT_LIMIT = 1000
#: A 发起方 search among at most this many envelopes of the user's reads them from their ids.
INITIATOR_LIMIT = 20_000
ENDED = (Status.VOIDED, Status.REJECTED, Status.RECALLED, Status.EXPIRED)


@dataclass(frozen=True)
class Tab:
    slug: str
    label: Any
    empty: Any
    statuses: tuple[str, ...]  # the envelope statuses the tab shows (its 状态 filter choices)


TABS: tuple[Tab, ...] = (
    Tab(
        "todo",
        gettext_lazy("待我签署"),
        gettext_lazy("暂无待您签署的文件。"),
        (Status.IN_PROGRESS,),
    ),
    Tab(
        "others",
        gettext_lazy("待他人签署"),
        gettext_lazy("暂无等待他人签署的文件。"),
        # 已退回: waiting for the initiator's correction (returns.py).
        (Status.IN_PROGRESS, Status.RETURNED),
    ),
    Tab(
        "completed",
        gettext_lazy("已完成签署"),
        gettext_lazy("暂无已完成的文件。"),
        (Status.COMPLETED,),
    ),
    Tab("voided", gettext_lazy("已作废"), gettext_lazy("暂无已作废或已结束的文件。"), ENDED),
    Tab(
        "cc",
        gettext_lazy("抄送我的"),
        gettext_lazy("暂无抄送给您的文件。"),
        (Status.IN_PROGRESS, Status.RETURNED, Status.COMPLETED, *ENDED),
    ),
)
TAB_BY_SLUG = {tab.slug: tab for tab in TABS}
DEFAULT_TAB = "todo"


def _statuses(tab: str, filters: Filters) -> list[str]:
    """The envelope statuses of ``tab`` the filters leave (状态 narrows a tab's own)."""
    statuses = list(TAB_BY_SLUG[tab].statuses)
    if filters.status in statuses:
        return [filters.status]
    return statuses


@dataclass
class Source:
    """The envelopes of a tab two ways: ``parts``, querysets of envelope ids that are each an
    index lookup of the user's own rows (their union is the tab), and ``condition``, the same
    set as a condition on an envelope row; both within ``statuses``."""

    statuses: list[str]
    parts: list[QuerySet[Any, Any]]
    condition: Q
    #: The tab once narrowed to ``statuses``: ``parts`` with the recipient rows of any envelope
    #: status (read from the recipient indexes alone, not joined to the envelopes).
    wide: list[QuerySet[Any, Any]] = field(default_factory=list)


def source(viewer: Viewer, tab: str, filters: Filters | None = None) -> Source:
    filters = filters or Filters()
    if tab not in TAB_BY_SLUG:
        raise ValueError(tab)
    statuses = _statuses(tab, filters)
    user = viewer.user
    turn = _rows(
        viewer,
        Q(status__in=TURN, role__in=(Role.SIGN, Role.APPROVE)),
        Q(status__in=TURN) & seal_turn_q(viewer.seals) if viewer.seals else None,
    )
    if tab == "todo":
        return Source(statuses, _ids(turn, statuses), _any(turn), _all(turn))
    if tab == "cc":
        cc = _rows(viewer, Q(role=Role.CC))
        return Source(statuses, _ids(cc, statuses), _any(cc), _all(cc))
    acting = _rows(
        viewer,
        ~Q(role=Role.CC),
        viewer.org_q() if viewer.seals or viewer.admin_org_ids else None,
    )
    parts = [Envelope.objects.filter(initiator=user, status__in=statuses).order_by().values("pk")]
    condition = Q(initiator=user) | _any(acting)
    if viewer.admin_org_ids:
        parts.append(
            Envelope.objects.filter(initiator_org_id__in=viewer.admin_org_ids, status__in=statuses)
            .order_by()
            .values("pk")
        )
        condition |= Q(initiator_org_id__in=viewer.admin_org_ids)
    wide = parts + _all(acting)
    parts += _ids(acting, statuses)
    if tab == "others":  # not where it is the user's turn (that is 待我签署)
        todo = [rows.order_by().values("envelope_id") for rows in turn]
        parts = [_without(part, todo) for part in parts]
        wide = [_without(part, todo) for part in wide]
        condition &= ~_any(turn)
    return Source(statuses, parts, condition, wide)


def _rows(viewer: Viewer, person: Q, seal: Q | None = None) -> list[QuerySet[Recipient]]:
    """Recipient rows that are the user, split by the index that finds them: ``person`` rows
    bound to the user's account, ``person`` rows not bound yet with the user's phone
    (:func:`qianshu.envelopes.access.person_q`), and ``seal`` rows (organisations)."""
    user = viewer.user
    mine = Recipient.objects.exclude(role=Role.SEAL).filter(person)
    rows = [mine.filter(user=user)]
    if user.phone:
        rows.append(mine.filter(user__isnull=True, phone=user.phone))
    if seal is not None:
        rows.append(Recipient.objects.filter(seal))
    return rows


def _any(rows: Sequence[QuerySet[Recipient]]) -> Q:
    """Whether an envelope has one of ``rows``: one EXISTS per index, each read once, from the
    index alone, into a hashed set that a walk tests its rows against."""
    condition = Q(pk__in=[])
    for part in rows:
        condition |= Q(Exists(part.filter(envelope=OuterRef("pk"))))
    return condition


def _without(part: QuerySet[Any, Any], todo: Sequence[QuerySet[Any, Any]]) -> QuerySet[Any, Any]:
    key = "envelope_id__in" if part.model is Recipient else "pk__in"
    for ids in todo:
        part = part.exclude(**{key: ids})
    return part


def _all(rows: Sequence[QuerySet[Recipient]]) -> list[QuerySet[Any, Any]]:
    return [part.order_by().values("envelope_id") for part in rows]


def _ids(rows: Sequence[QuerySet[Recipient]], statuses: Sequence[str]) -> list[QuerySet[Any, Any]]:
    return [
        part.filter(envelope__status__in=statuses).order_by().values("envelope_id") for part in rows
    ]


def tab_queryset(
    viewer: Viewer, tab: str, filters: Filters | None = None, *, found: Source | None = None
) -> QuerySet[Envelope]:
    """The envelopes of one tab matching ``filters`` (unordered), from the ids of the user's
    own rows (for a user with few: batch signing takes at most a few hundred)."""
    filters = filters or Filters()
    found = found or source(viewer, tab, filters)
    ids = found.parts[0].union(*found.parts[1:]) if len(found.parts) > 1 else found.parts[0]
    envelopes = Envelope.objects.filter(status__in=found.statuses, pk__in=ids)
    return envelopes.filter(filters_q(filters))


def sample_ids(parts: Sequence[QuerySet[Any, Any]], limit: int = COUNT_LIMIT) -> list[int]:
    """Up to ``limit + 1`` ids of the parts together (an envelope in two parts may come twice):
    each part is an index scan that stops there. More than ``limit``: a user with many."""
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return [row["pk"] if "pk" in row else row["envelope_id"] for row in union[: limit + 1]]


def _fewer_than(parts: Sequence[QuerySet[Any, Any]], limit: int) -> bool:
    """Whether the parts together have at most ``limit`` ids (index scans stopping there)."""
    return len(sample_ids(parts, limit)) <= limit


def todo_count(viewer: Viewer) -> int:
    """The number on the 待我签署 tab, exact up to ``COUNT_LIMIT`` (then ``COUNT_LIMIT + 1``,
    shown as 1000+): index scans of the user's turns."""
    parts = source(viewer, "todo").parts
    turns = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0].distinct()
    return len(turns[: COUNT_LIMIT + 1])


# --- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """搜索 / 高级搜索 of a list, parsed from the query string."""

    q: str = ""
    initiator: str = ""
    sent_from: dt.date | None = None
    sent_to: dt.date | None = None
    status: str = ""
    scene: str = ""
    # Made from a template (its uuid) or in a batch (批次号) of 批量发起 (the doctemplates app).
    template: str = ""
    batch: str = ""
    errors: tuple[str, ...] = ()

    @property
    def advanced(self) -> bool:
        return bool(
            self.initiator
            or self.sent_from
            or self.sent_to
            or self.status
            or self.scene
            or self.template
            or self.batch
        )

    @property
    def active(self) -> bool:
        return bool(self.q) or self.advanced

    def query(self) -> dict[str, str]:
        """The filters as query-string values (for page links)."""
        values = {
            "q": self.q,
            "initiator": self.initiator,
            "from": self.sent_from.isoformat() if self.sent_from else "",
            "to": self.sent_to.isoformat() if self.sent_to else "",
            "status": self.status,
            "scene": self.scene,
            "template": self.template,
            "batch": self.batch,
        }
        return {k: v for k, v in values.items() if v}


def _text(value: object) -> str:
    return " ".join(str(value or "").split())[:MAX_QUERY]


def _date(value: object, label: str, errors: list[str]) -> dt.date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(
            _("%(label)s的日期格式不正确，请按“年-月-日”填写，例如 2024-06-01。") % {"label": label}
        )
        return None


def parse_filters(data: Any, tab: str) -> Filters:
    """The filters of ``data`` (a QueryDict); bad values are dropped with a message."""
    errors: list[str] = []
    sent_from = _date(data.get("from"), _("开始日期"), errors)
    sent_to = _date(data.get("to"), _("结束日期"), errors)
    if sent_from and sent_to and sent_from > sent_to:
        errors.append(_("开始日期不能晚于结束日期。"))
        sent_from = sent_to = None
    status = str(data.get("status") or "")
    if status and status not in TAB_BY_SLUG[tab].statuses:
        status = ""
    return Filters(
        q=_text(data.get("q")),
        initiator=_text(data.get("initiator")),
        sent_from=sent_from,
        sent_to=sent_to,
        status=status,
        scene=clean_scene(data.get("scene")),
        template=_uuid_text(data.get("template")),
        batch=_text(data.get("batch"))[:24],
        errors=tuple(errors),
    )


def _uuid_text(value: object) -> str:
    try:
        return str(uuid.UUID(str(value or "")))
    except ValueError:
        return ""


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in the site's time zone (Beijing)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filters_q(filters: Filters, prefix: str = "", *, joined: bool = False) -> Q:
    """搜索 / 高级搜索 (but 状态, which the tabs apply) as a condition on envelopes; ``prefix``
    is the path to the envelope (``"envelope__"`` from a recipient). ``joined``: 发起方 is
    tested on each envelope's initiator (for a few envelopes known by id) instead of hashing
    every organisation and person of that name first (for a walk of many)."""

    def q(**lookups: Any) -> Q:
        return Q(**{prefix + key: value for key, value in lookups.items()})

    condition = Q()
    if filters.q:
        condition &= q(title__icontains=filters.q) | q(number__icontains=filters.q)
    if filters.initiator and joined:
        text = filters.initiator
        condition &= (
            q(initiator_org__name__icontains=text)
            | q(initiator_org__isnull=True, initiator__person_identity__name__icontains=text)
            | q(
                initiator_org__isnull=True,
                initiator__person_identity__isnull=True,
                initiator__display_name__icontains=text,
            )
        )
    elif filters.initiator:
        # The organisations and people of that name first (hashed once, then tested on each
        # envelope) rather than joined to every envelope read.
        text = filters.initiator
        people = User.objects.filter(
            Q(person_identity__name__icontains=text)
            | Q(person_identity__isnull=True, display_name__icontains=text)
        ).values("pk")
        condition &= q(
            initiator_org_id__in=Organization.objects.filter(name__icontains=text).values("pk")
        ) | q(initiator_org__isnull=True, initiator_id__in=people)
    if filters.scene:
        condition &= q(scene=filters.scene)
    if filters.template or filters.batch:
        condition &= q(pk__in=_uses(filters).values("envelope_id"))
    if filters.sent_from:
        condition &= q(sent_at__gte=_day_start(filters.sent_from))
    if filters.sent_to:
        condition &= q(sent_at__lt=_day_start(filters.sent_to + dt.timedelta(days=1)))
    return condition


# --- 场景 ---------------------------------------------------------------------------------------

#: Offered at compose before the sender has scenes of their own (seed 000's 企业签约 and the
#: four scenarios of the manuals).
DEFAULT_SCENES = (
    gettext_lazy("企业签约"),
    gettext_lazy("年度考核"),
    gettext_lazy("采购合同"),
    gettext_lazy("劳动合同"),
)
MAX_SCENE_CHOICES = 50


def scene_choices(
    viewer: Viewer, tab: str, filters: Filters, *, sample: list[int] | None = None
) -> list[str]:
    """The 场景 of a tab's envelopes (matching the other filters), for its 场景 filter; for a
    user with many, those of a ``sample`` of them (:func:`sample_ids`, ``COUNT_LIMIT`` of the
    tab's envelopes found first by the indexes)."""
    others = Filters(
        q=filters.q,
        initiator=filters.initiator,
        sent_from=filters.sent_from,
        sent_to=filters.sent_to,
        status=filters.status,
    )
    if sample is None:
        envelopes = tab_queryset(viewer, tab, others)
    else:
        envelopes = Envelope.objects.filter(pk__in=sample).filter(filters_q(others, joined=True))
    scenes = (
        envelopes.exclude(scene="")
        .order_by("scene")
        .values_list("scene", flat=True)
        .distinct()[:MAX_SCENE_CHOICES]
    )
    return _kept(filters, list(scenes))


def _kept(filters: Filters, scenes: list[str]) -> list[str]:
    """The 场景 chosen stays selectable (and shown selected) when it matches none."""
    if filters.scene and filters.scene not in scenes:
        scenes.append(filters.scene)
    return scenes


def scene_suggestions(user: User, org: Organization | None) -> list[str]:
    """The 场景 offered at compose: those the sender (or the organisation it acts for) used
    lately, then the defaults."""
    sent = (
        Envelope.objects.filter(initiator_org=org)
        if org
        else Envelope.objects.filter(initiator=user, initiator_org__isnull=True)
    )
    used = list(
        sent.exclude(scene="")
        .order_by("-created_at")
        .values_list("scene", flat=True)[:MAX_SCENE_CHOICES]
    )
    suggestions: list[str] = []
    for scene in [*used, *(str(default) for default in DEFAULT_SCENES)]:
        if scene not in suggestions:
            suggestions.append(scene)
    return suggestions[:20]


# --- a page of rows ---------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a list: the envelope with what the list shows about it."""

    envelope: Envelope
    index: int  # 序号 across pages
    initiator: str  # 发起方
    initiator_verified: bool = True  # False: marked 未认证 (sent before sending needed it)
    done: int = 0
    total: int = 0
    turn: Recipient | None = None  # the user's step now (待我签署)
    documents: list[Document] = field(default_factory=list)
    detail_url: str = ""  # set by the view
    sign_url: str = ""

    @property
    def progress(self) -> str:
        return f"{self.done}/{self.total}"

    @property
    def action(self) -> str:
        """What 签署 means for the user's step: 签署, 盖章 or 审批."""
        if self.turn is None:
            return ""
        if self.turn.role == Role.SEAL:
            return _("盖章")
        if self.turn.role == Role.APPROVE:
            return _("审批")
        return pgettext("button", "签署")


def rows_for(viewer: Viewer, envelopes: Sequence[Envelope], *, start: int, tab: str) -> list[Row]:
    """The rows of a page: progress, the user's turn and the documents in a fixed number of
    queries."""
    if not envelopes:
        return []
    ids = [e.pk for e in envelopes]
    counts = {
        c["envelope_id"]: c
        for c in Recipient.objects.filter(envelope_id__in=ids)
        .exclude(role=Role.CC)
        .order_by()
        .values("envelope_id")
        .annotate(
            done=Count("pk", filter=Q(status=Recipient.Status.DONE)),
            total=Count("pk"),
        )
    }
    turns: dict[int, Recipient] = {}
    if tab == "todo":
        for recipient in Recipient.objects.filter(viewer.turn_q(), envelope_id__in=ids).order_by(
            "routing_order", "id"
        ):
            turns.setdefault(recipient.envelope_id, recipient)
    documents: dict[int, list[Document]] = defaultdict(list)
    for document in Document.objects.filter(envelope_id__in=ids).order_by("position", "id"):
        documents[document.envelope_id].append(document)
    rows = []
    for offset, envelope in enumerate(envelopes):
        count: Any = counts.get(envelope.pk, {})
        rows.append(
            Row(
                envelope=envelope,
                index=start + offset,
                initiator=routing.initiator_label(envelope),
                initiator_verified=routing.initiator_verified(envelope),
                done=int(count.get("done", 0)),
                total=int(count.get("total", 0)),
                turn=turns.get(envelope.pk),
                documents=documents[envelope.pk],
            )
        )
    return rows


@dataclass
class ListPage:
    """One page of a list, newest first. ``count`` is exact when ``exact``; otherwise the list
    has more than ``COUNT_LIMIT`` envelopes, or (searched among many) was not counted."""

    object_list: list[Envelope]
    number: int
    count: int
    exact: bool
    more: bool  # a next page exists

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.more or self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def num_pages(self) -> int:
        """Pages known: all of them when ``exact``, else up to this one (and the next)."""
        if self.exact:
            return max(1, -(-self.count // PAGE_SIZE))
        return self.number + int(self.more)

    @property
    def over_limit(self) -> bool:
        return not self.exact and self.count > COUNT_LIMIT


@dataclass
class Listing:
    tab: Tab
    filters: Filters
    page: ListPage
    rows: list[Row]
    todo_count: int
    scenes: list[str] = field(default_factory=list)  # the 场景 filter's choices

    @property
    def todo_label(self) -> str:
        """The 待我签署 badge: the count, or "1000+" beyond ``COUNT_LIMIT``."""
        if self.todo_count > COUNT_LIMIT:
            return f"{COUNT_LIMIT}+"
        return str(self.todo_count)


def _page_number(value: str | int | None) -> int:
    try:
        return max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1


def _walk(found: Source, filters: Filters) -> QuerySet[Envelope]:
    """The tab's envelopes newest first, for a user with many: a walk of the envelopes newest
    first — of one status through the (status, sent_at, id, initiator, organisation) index, of
    several through the (sent_at, id, status, initiator, organisation) one — testing the tab's
    condition on each index entry (the user's recipient rows are read once, into hashed sets)
    until enough are found."""
    return (
        Envelope.objects.filter(status__in=found.statuses)
        .filter(found.condition)
        .filter(filters_q(filters))
        .order_by("-sent_at", "-id")
    )


def _by_ids(found: Source, filters: Filters) -> QuerySet[Envelope]:
    """The tab's envelopes matching ``filters`` newest first, from the user's ids, the 发起方
    tested on each of them (joined) rather than by hashing every person of that name."""
    ids = found.wide[0].union(*found.wide[1:]) if len(found.wide) > 1 else found.wide[0]
    return (
        Envelope.objects.filter(status__in=found.statuses, pk__in=ids)
        .filter(filters_q(filters, joined=True))
        .order_by("-sent_at", "-id")
    )


def _uses(filters: Filters) -> QuerySet[Any, Any]:
    """The template uses (doctemplates' ``TemplateUse``, reached through the envelope's
    relation: this app does not import that one) of the template and batch the filters name,
    read by their own indexes rather than joined to every envelope."""
    model = Envelope._meta.get_field("template_use").related_model
    assert isinstance(model, type)
    uses = model._default_manager.order_by()
    for name, lookup, value in (
        ("version", "template__uuid", filters.template),
        ("batch", "number", filters.batch),
    ):
        if value:
            related = model._meta.get_field(name).related_model
            assert isinstance(related, type)
            ids = related._default_manager.filter(**{lookup: value}).values("pk")
            uses = uses.filter(**{f"{name}_id__in": ids})
    return uses


def _chosen(filters: Filters, among: Sequence[QuerySet[Any, Any]] = ()) -> list[int] | None:
    """The envelopes made from the template or in the batch the filters name — ``among`` the
    user's (:attr:`Source.wide`), if given — when they are at most ``COUNT_LIMIT`` (a batch
    of 批量发起 usually is; a template used for many envelopes, of which the user has few): a
    page of a user with many is then read from them, not found by walking every envelope
    (which, when the user has none of them, would read all)."""
    if not (filters.template or filters.batch):
        return None
    uses = _uses(filters)
    if among:
        uses = uses.filter(
            envelope_id__in=among[0].union(*among[1:]) if len(among) > 1 else among[0]
        )
    # In envelope order: an index scan that stops at COUNT_LIMIT + 1 even when the template's
    # uses are most of the table.
    ids = list(
        uses.order_by("envelope_id").values_list("envelope_id", flat=True)[: COUNT_LIMIT + 1]
    )
    return ids if len(ids) <= COUNT_LIMIT else None


def list_envelopes(
    user: User, tab: str, filters: Filters, page_number: str | int | None
) -> Listing:
    """One page of a tab, filtered, newest first, with the 待我签署 count."""
    viewer = Viewer.of(user)
    found = source(viewer, tab, filters)
    sample = sample_ids(found.parts)
    few = len(sample) <= COUNT_LIMIT
    sample = sorted(set(sample))
    number = _page_number(page_number)
    start = (number - 1) * PAGE_SIZE
    if few:
        # The sample is the whole tab: its envelopes are read by id (a plain primary-key
        # lookup), not found again through the user's rows.
        # The 场景 choices are those of the same rows unless a filter narrows them to one
        # scene, or to a template or batch (scene_choices leaves those filters out).
        same_rows = not (filters.scene or filters.template or filters.batch)
        ordered, scenes = _ordered(sample, found.statuses, filters, scenes=same_rows)
        count, exact = len(ordered), True
        number = min(number, max(1, -(-count // PAGE_SIZE)))
        start = (number - 1) * PAGE_SIZE
        ids = ordered[start : start + PAGE_SIZE + 1]
    else:
        count, exact = COUNT_LIMIT + 1, False
        walk = _walk(found, filters)
        chosen = _chosen(filters)
        if chosen is None and (filters.template or filters.batch):
            chosen = _chosen(filters, among=found.wide)
        if chosen is not None:  # a template or a batch of few: those envelopes, not a walk
            walk = walk.filter(pk__in=chosen)
        elif filters.initiator and _fewer_than(found.wide, INITIATOR_LIMIT):
            # 发起方 often matches none or few of the user's envelopes, and a walk would then
            # read every envelope of the tab's statuses: from the user's own ids instead.
            walk = _by_ids(found, filters)
        ids = list(walk.values_list("pk", flat=True)[start : start + PAGE_SIZE + 1])
        scenes = None
    rows_of_page = _envelopes(ids)
    if not few and (filters.active or len(rows_of_page) <= PAGE_SIZE):
        # Walked: counted when this page is the last; else more than COUNT_LIMIT (or, searched
        # among many, not counted).
        count, exact = start + len(rows_of_page), len(rows_of_page) <= PAGE_SIZE
        if not exact:
            count = 0
    page = ListPage(rows_of_page[:PAGE_SIZE], number, count, exact, len(rows_of_page) > PAGE_SIZE)
    if tab == "todo" and not filters.active:
        todo = count if exact else COUNT_LIMIT + 1
    else:
        todo = todo_count(viewer)
    rows = rows_for(viewer, page.object_list, start=start + 1, tab=tab)
    if scenes is None:
        scenes = scene_choices(viewer, tab, filters, sample=sample) if sample else []
    scenes = _kept(filters, scenes)
    return Listing(TAB_BY_SLUG[tab], filters, page, rows, todo, scenes)


def _ordered(
    ids: list[int], statuses: Sequence[str], filters: Filters, *, scenes: bool
) -> tuple[list[int], list[str] | None]:
    """``ids`` (all the envelopes of a tab, for a user with few) matching ``filters``, newest
    first; with ``scenes``, also the 场景 filter's choices, read from the same rows (each
    scene's rank in the database's order of scenes comes with it)."""
    if not ids:
        return [], [] if scenes else None
    matching = Envelope.objects.filter(pk__in=ids, status__in=statuses)
    if filters.active:
        matching = matching.filter(filters_q(filters, joined=True))
    matching = matching.order_by("-sent_at", "-id")
    if not scenes:
        return list(matching.values_list("pk", flat=True)), None
    rows = list(
        matching.annotate(scene_rank=Window(DenseRank(), order_by=F("scene").asc())).values_list(
            "pk", "scene", "scene_rank"
        )
    )
    ranked = sorted({(rank, scene) for _pk, scene, rank in rows if scene})
    return [pk for pk, _scene, _rank in rows], [scene for _rank, scene in ranked][
        :MAX_SCENE_CHOICES
    ]


def _envelopes(ids: list[int]) -> list[Envelope]:
    """The envelopes ``ids`` in that order, with what a row shows of their initiator."""
    if not ids:
        return []
    by_id = Envelope.objects.select_related("initiator__person_identity", "initiator_org").in_bulk(
        ids
    )
    return [by_id[pk] for pk in ids if pk in by_id]


# --- 草稿箱 -----------------------------------------------------------------------------------


def drafts_of(actor: User) -> QuerySet[Envelope]:
    """The actor's drafts with their document and recipient counts, newest first."""
    return (
        Envelope.objects.filter(initiator=actor, status=Envelope.Status.DRAFT)
        .select_related("initiator_org")
        .annotate(
            document_count=Count("documents", distinct=True),
            recipient_count=Count("recipients", distinct=True),
        )
        .order_by("-created_at", "-id")
    )


# --- the timers ---------------------------------------------------------------------------------

STUCK_COMPLETION = dt.timedelta(minutes=2)


def stuck_completions(now: dt.datetime | None = None) -> list[int]:
    """Envelopes signed by everyone whose completion did not happen (a worker died)."""
    now = now or timezone.now()
    return list(
        Envelope.objects.filter(
            status=Status.IN_PROGRESS, all_signed_at__lte=now - STUCK_COMPLETION
        ).values_list("pk", flat=True)[:100]
    )
