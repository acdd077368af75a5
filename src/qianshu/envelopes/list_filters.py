"""文件管理's tabs and their 搜索 / 高级搜索 (任务名称 / 任务编号, 发起方, 发起时间, 状态, 场景,
模板, 批次号): the filters parsed from a query string and their condition on envelopes, used by
the list queries (:mod:`qianshu.envelopes.queries`); and the 场景 offered at compose."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qianshu.accounts.models import User
from qianshu.envelopes.models import Envelope, clean_scene
from qianshu.orgs.models import Organization

Status = Envelope.Status

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
    is the path to the envelope (``"envelope__"`` from a recipient), for all but ``joined``:
    发起方 tested on each envelope's initiator (:func:`initiator_q`, for envelopes known by id
    or read from a user's ranges) instead of hashing every organisation and person of that
    name first (for a walk of many)."""

    def q(**lookups: Any) -> Q:
        return Q(**{prefix + key: value for key, value in lookups.items()})

    condition = Q()
    if filters.q:
        condition &= q(title__icontains=filters.q) | q(number__icontains=filters.q)
    if filters.initiator and joined:
        if prefix:  # initiator_q tests an envelope row itself
            raise ValueError("a joined 发起方 is tested on envelopes, not through a relation")
        condition &= Q(initiator_q(filters.initiator, orgs_named(filters.initiator)))
    elif filters.initiator:
        # The organisations and people of that name first (hashed once, then tested on each
        # envelope) rather than joined to every envelope read.
        text = filters.initiator
        people = User.objects.filter(person_named_q(text)).values("pk")
        condition &= q(
            initiator_org_id__in=Organization.objects.filter(name__icontains=text).values("pk")
        ) | q(initiator_org__isnull=True, initiator_id__in=people)
    if filters.scene:
        condition &= q(scene=filters.scene)
    if filters.template or filters.batch:
        condition &= q(pk__in=template_uses(filters).values("envelope_id"))
    return condition & sent_q(filters, prefix + "sent_at")


def initiator_q(text: str, orgs: list[int]) -> Case:
    """发起方 as a test of one envelope at a time (the rows of a user's range, read newest
    first): ``orgs``, the organisations of that name, looked up beforehand; the person looked
    up only for an envelope sent without an organisation. Joined to the organisation, the
    initiator and the identity instead, each row cost three lookups. A CASE, because a plain
    EXISTS may be turned into a join: PostgreSQL planned it for the twenty people it expected
    a name like 用户1 to match, and read each of the hundred thousand who do (7.5 s)."""
    person = User.objects.filter(person_named_q(text), pk=OuterRef("initiator_id"))
    named: Any = (
        ExpressionWrapper(Q(initiator_org_id__in=orgs), output_field=BooleanField())
        if orgs
        else Value(False)
    )
    return Case(
        When(initiator_org_id__isnull=True, then=Exists(person)),
        default=named,
        output_field=BooleanField(),
    )


def person_named_q(text: str) -> Q:
    """发起方 ``text`` as a condition on a person (a user): in their verified name, or, for a
    person not verified, in the name they gave."""
    return Q(person_identity__name__icontains=text) | Q(
        person_identity__isnull=True, display_name__icontains=text
    )


def initiated_orgs(filters: Filters, user: User) -> list[int] | None:
    """The organisations the envelopes ``user`` initiated must have been sent for to match
    发起方 (an empty list: none of them can), or None when any can. Tested once for the user —
    in the database, by the condition tested on any initiator — instead of on each of their
    envelopes: when the text is not in their own name, only those sent for an organisation of
    that name can match."""
    text = filters.initiator
    if not text or User.objects.filter(person_named_q(text), pk=user.pk).exists():
        return None
    return orgs_named(text)


def orgs_named(text: str) -> list[int]:
    """The organisations 发起方 ``text`` names (in their name), by id."""
    return list(Organization.objects.filter(name__icontains=text).values_list("pk", flat=True))


def sent_q(filters: Filters, field: str = "sent_at") -> Q:
    """发起时间 (``from`` and ``to``, Beijing dates) as a condition on ``field``, a sending
    time (an envelope's, or the copy a recipient row carries)."""
    condition = Q()
    if filters.sent_from:
        condition &= Q(**{f"{field}__gte": _day_start(filters.sent_from)})
    if filters.sent_to:
        condition &= Q(**{f"{field}__lt": _day_start(filters.sent_to + dt.timedelta(days=1))})
    return condition


def template_uses(filters: Filters, *, resolved: bool = False) -> QuerySet[Any, Any]:
    """The template uses (doctemplates' ``TemplateUse``, reached through the envelope's
    relation: this app does not import that one) of the template and batch the filters name,
    read by their own indexes rather than joined to every envelope. ``resolved``: the
    template's versions and the batch are looked up first and given as values, so that the
    database plans for how many uses they have (a subquery leaves it guessing)."""
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
            found: Any = list(ids.values_list("pk", flat=True)) if resolved else ids
            uses = uses.filter(**{f"{name}_id__in": found})
    return uses


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
