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

The queries are written for a user among 100,000 envelopes: the recipient conditions are
semi-joins served by the recipient indexes ((user, status), (phone, status), (org, status)),
and a page costs a constant number of queries whatever its size (progress counts, the user's
turn and the documents for 预览 are fetched for the page's rows at once).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from qianshu.accounts.models import User
from qianshu.envelopes import routing
from qianshu.envelopes.access import Viewer
from qianshu.envelopes.models import Document, Envelope, Recipient, clean_scene
from qianshu.orgs.models import Organization

Status = Envelope.Status
Role = Recipient.Role

PAGE_SIZE = 20
MAX_QUERY = 100
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


def tab_queryset(viewer: Viewer, tab: str, filters: Filters | None = None) -> QuerySet[Envelope]:
    """The envelopes of one tab matching ``filters`` (unordered)."""
    filters = filters or Filters()
    envelopes = Envelope.objects.all()
    if tab == "todo":
        envelopes = envelopes.filter(status=Status.IN_PROGRESS, pk__in=viewer.todo_ids())
    elif tab == "others":
        waiting = (Status.IN_PROGRESS, Status.RETURNED)
        statuses = [filters.status] if filters.status in waiting else list(waiting)
        ids = viewer.involved_ids(statuses, except_todo=True)
        envelopes = envelopes.filter(pk__in=ids)
    elif tab == "completed":
        envelopes = envelopes.filter(pk__in=viewer.involved_ids([Status.COMPLETED]))
    elif tab == "voided":
        statuses = [filters.status] if filters.status in ENDED else list(ENDED)
        envelopes = envelopes.filter(pk__in=viewer.involved_ids(statuses))
    elif tab == "cc":
        envelopes = envelopes.filter(pk__in=viewer.cc_ids()).exclude(status=Status.DRAFT)
        if filters.status:
            envelopes = envelopes.filter(status=filters.status)
    else:
        raise ValueError(tab)
    return envelopes.filter(filters_q(filters))


def todo_count(viewer: Viewer) -> int:
    """The number on the 待我签署 tab."""
    return tab_queryset(viewer, "todo").count()


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


def filters_q(filters: Filters, prefix: str = "") -> Q:
    """搜索 / 高级搜索 (but 状态, which the tabs apply) as a condition on envelopes; ``prefix``
    is the path to the envelope (``"envelope__"`` from a recipient)."""

    def q(**lookups: Any) -> Q:
        return Q(**{prefix + key: value for key, value in lookups.items()})

    condition = Q()
    if filters.q:
        condition &= q(title__icontains=filters.q) | q(number__icontains=filters.q)
    if filters.initiator:
        text = filters.initiator
        condition &= q(initiator_org__name__icontains=text) | (
            q(initiator_org__isnull=True)
            & (
                q(initiator__person_identity__name__icontains=text)
                | q(
                    initiator__person_identity__isnull=True, initiator__display_name__icontains=text
                )
            )
        )
    if filters.scene:
        condition &= q(scene=filters.scene)
    if filters.template:
        condition &= q(template_use__version__template__uuid=filters.template)
    if filters.batch:
        condition &= q(template_use__batch__number=filters.batch)
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


def scene_choices(viewer: Viewer, tab: str, filters: Filters) -> list[str]:
    """The 场景 of a tab's envelopes (matching the other filters), for its 场景 filter."""
    others = Filters(
        q=filters.q,
        initiator=filters.initiator,
        sent_from=filters.sent_from,
        sent_to=filters.sent_to,
        status=filters.status,
    )
    scenes = (
        tab_queryset(viewer, tab, others)
        .exclude(scene="")
        .order_by("scene")
        .values_list("scene", flat=True)
        .distinct()[:MAX_SCENE_CHOICES]
    )
    found = list(scenes)
    if filters.scene and filters.scene not in found:
        found.append(filters.scene)  # still selectable (and shown selected) when it matches none
    return found


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
class Listing:
    tab: Tab
    filters: Filters
    page: Page[Envelope]
    rows: list[Row]
    todo_count: int
    scenes: list[str] = field(default_factory=list)  # the 场景 filter's choices


def list_envelopes(
    user: User, tab: str, filters: Filters, page_number: str | int | None
) -> Listing:
    """One page of a tab, filtered, newest first, with the 待我签署 count."""
    viewer = Viewer.of(user)
    envelopes = tab_queryset(viewer, tab, filters)
    envelopes = envelopes.select_related("initiator__person_identity", "initiator_org").order_by(
        "-sent_at", "-id"
    )
    paginator = Paginator(envelopes, PAGE_SIZE)
    page = paginator.get_page(page_number)
    if tab == "todo" and not filters.active:
        count = paginator.count
    else:
        count = todo_count(viewer)
    start = (page.number - 1) * PAGE_SIZE + 1
    rows = rows_for(viewer, list(page.object_list), start=start, tab=tab)
    scenes = scene_choices(viewer, tab, filters)
    return Listing(TAB_BY_SLUG[tab], filters, page, rows, count, scenes)


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
