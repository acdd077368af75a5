"""The rows of a page of 文件管理: what a list shows about each envelope (progress, the user's
turn, the documents for 预览), fetched for the page's rows at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from qianshu.envelopes import routing
from qianshu.envelopes.access import Viewer
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
