"""A page of 文件管理: its rows — what a list shows about each envelope (progress, the user's
turn, the documents for 预览), fetched for the page's rows at once — the page, and the listing
a list view renders (made by :func:`qianshu.envelopes.queries.list_envelopes`)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from qianshu.core.sql import id_in
from qianshu.core.statements import Statement
from qianshu.envelopes import routing
from qianshu.envelopes.access import Viewer, listed
from qianshu.envelopes.list_filters import Filters, Tab
from qianshu.envelopes.models import Document, Envelope, Recipient

Role = Recipient.Role


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

    # Texts of the row made here rather than by a {% blocktranslate %} per row (each costs
    # what a dozen plain variables do).
    @property
    def check_label(self) -> str:
        return _("选择“%(title)s”") % {"title": self.envelope.title}

    @property
    def progress_title(self) -> str:
        return _("已完成 %(done)s 方，共 %(total)s 方") % {"done": self.done, "total": self.total}

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


#: How envelopes are read: what a list row shows (:func:`qianshu.envelopes.access.listed`) or a
#: task of 批量签署 (:func:`qianshu.envelopes.access.batch_listed`).
Reading = Callable[[QuerySet[Envelope]], QuerySet[Envelope]]


@functools.cache
def _reading(read: Reading) -> Statement[Envelope]:
    """The envelopes of a list of ids as ``read`` reads them, built once (core/statements.py)
    for each of the module-level readings."""
    return Statement(lambda ids: read(Envelope.objects.filter(id_in(ids.as_ids()))), arity=1)


def envelopes_of(ids: list[int], read: Reading = listed) -> list[Envelope]:
    """The envelopes ``ids`` in that order, read by ``read``."""
    if not ids:
        return []
    by_id = {e.pk: e for e in _reading(read).objects(ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


# What every page reads of its rows' envelopes, built once (core/statements.py): their
# progress (each not-CC recipient, and those done) and their documents.
_PROGRESS: Statement[Any] = Statement(
    lambda ids: (
        Recipient.objects.filter(id_in(ids.as_ids(), "envelope_id"))
        .exclude(role=Role.CC)
        .order_by()
        .values("envelope_id")
        .annotate(done=Count("pk", filter=Q(status=Recipient.Status.DONE)), total=Count("pk"))
        .values_list("envelope_id", "done", "total")
    ),
    arity=1,
)
_DOCUMENTS: Statement[Document] = Statement(
    lambda ids: Document.objects.filter(id_in(ids.as_ids(), "envelope_id")).order_by(
        "position", "id"
    ),
    arity=1,
)


def rows_for(viewer: Viewer, envelopes: Sequence[Envelope], *, start: int, tab: str) -> list[Row]:
    """The rows of a page: progress, the user's turn and the documents in a fixed number of
    queries."""
    if not envelopes:
        return []
    ids = [e.pk for e in envelopes]
    counts = {envelope_id: (done, total) for envelope_id, done, total in _PROGRESS.rows(ids)}
    turns: dict[int, Recipient] = {}
    if tab == "todo":
        for recipient in Recipient.objects.filter(viewer.turn_q(), envelope_id__in=ids).order_by(
            "routing_order", "id"
        ):
            turns.setdefault(recipient.envelope_id, recipient)
    documents: dict[int, list[Document]] = defaultdict(list)
    for document in _DOCUMENTS.objects(ids):
        documents[document.envelope_id].append(document)
    rows = []
    for offset, envelope in enumerate(envelopes):
        done, total = counts.get(envelope.pk, (0, 0))
        rows.append(
            Row(
                envelope=envelope,
                index=start + offset,
                initiator=routing.initiator_label(envelope),
                initiator_verified=routing.initiator_verified(envelope),
                done=int(done),
                total=int(total),
                turn=turns.get(envelope.pk),
                documents=documents[envelope.pk],
            )
        )
    return rows


@dataclass
class ListPage:
    """One page of a list, newest first. ``count`` is exact when ``exact``; otherwise the list
    has more than ``count_limit`` envelopes, or (searched among many) was not counted."""

    object_list: list[Envelope]
    number: int
    count: int
    exact: bool
    more: bool  # a next page exists
    page_size: int
    count_limit: int  # counted exactly up to this many (queries.COUNT_LIMIT)

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
            return max(1, -(-self.count // self.page_size))
        return self.number + int(self.more)

    @property
    def over_limit(self) -> bool:
        return not self.exact and self.count > self.count_limit


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
        """The 待我签署 badge: the count, or "1000+" beyond the page's ``count_limit``."""
        limit = self.page.count_limit
        if self.todo_count > limit:
            return f"{limit}+"
        return str(self.todo_count)
