"""The table rows of a list page (文件管理), as HTML made here rather than in the template
language: the 20 rows of a page took 5.7 ms of the page's 9.4 ms of rendering in
``envelopes/lists/list.html`` (some 40 lookups and filters a row), and take about 0.5 ms here.
Every value is escaped with :func:`html.escape` (what Django's ``escape`` does) as it is put in,
times are shown in the current time zone as the template's ``date:"Y-m-d H:i"`` shows them,
and the rest of the page stays in the template (as :mod:`.batch_lines` does for 批量签署)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from qianshu.envelopes.list_rows import Row
from qianshu.envelopes.models import Envelope

_STATUS_BADGE: dict[str, str] = {
    Envelope.Status.COMPLETED: "badge-ok",
    Envelope.Status.IN_PROGRESS: "badge-warn",
}


def _when(value: dt.datetime | None) -> str:
    """``value|date:"Y-m-d H:i"`` in the current time zone ("" for none)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def table_rows(rows: Sequence[Row], tab: str, *, with_status: bool) -> SafeString:
    """The ``<tr>`` of each row of the list ``tab``; ``with_status``: the 状态 column (a tab
    of several statuses)."""
    label = {
        key: escape(text)
        for key, text in (
            ("number", _("任务编号")),
            ("scene", _("场景")),
            ("initiator", _("发起方")),
            ("sent", _("发起时间")),
            ("deadline", _("签署截止")),
            ("status", _("状态")),
            ("progress", _("任务进度")),
            ("unverified_title", _("发起方尚未完成认证")),
            ("unverified", _("未认证")),
            ("only_scene", _("只看此场景")),
            ("preview", _("预览")),
            ("view", _("查看")),
            ("void", _("作废声明")),
            ("no_deadline", _("不限")),
        )
    }
    # The statuses' names once: get_status_display() hashes every choice's lazy name (a
    # dozen translations a row).
    status_names = {value: escape(str(name)) for value, name in Envelope.Status.choices}
    tab = escape(tab)
    out = []
    for row in rows:
        e = row.envelope
        uuid, detail = escape(str(e.uuid)), escape(row.detail_url)
        void = ""
        if e.kind == Envelope.Kind.VOID_STATEMENT:
            void = f' <span class="badge">{label["void"]}</span>'
        scene = ""
        if e.scene:
            scene = (
                f'<a href="?tab={tab}&amp;scene={escape(quote(e.scene, safe="/"))}" '
                f'title="{label["only_scene"]}">{escape(e.scene)}</a>'
            )
        unverified = (
            ""
            if row.initiator_verified
            else f' <span class="badge badge-warn" data-testid="initiator-unverified" '
            f'title="{label["unverified_title"]}">{label["unverified"]}</span>'
        )
        deadline = f'<span class="muted">{label["no_deadline"]}</span>'
        if e.deadline:
            deadline = _when(e.deadline)
        status = ""
        if with_status:
            badge = _STATUS_BADGE.get(e.status, "badge-err")
            reason = f' title="{escape(e.end_reason)}"' if e.end_reason else ""
            name = status_names.get(e.status, escape(e.status))
            status = (
                f'<td class="c-status" data-label="{label["status"]}"><span class="badge {badge}"'
                f'{reason} data-testid="row-status">{name}</span></td>'
            )
        if row.turn:
            act = (
                f'<a href="{escape(row.sign_url)}" class="lists-primary" data-testid="row-sign">'
                f"{escape(str(row.action))}</a>"
            )
        else:
            act = f'<a href="{detail}" data-testid="row-view">{label["view"]}</a>'
        out.append(
            f'<tr data-testid="list-row" data-envelope="{uuid}">'
            f'<td class="c-check"><input type="checkbox" name="ids" value="{uuid}" '
            f'aria-label="{escape(str(row.check_label))}" data-testid="row-check"></td>'
            f'<td class="c-index">{int(row.index)}</td>'
            f'<td class="c-title" data-testid="row-title"><a href="{detail}">{escape(e.title)}</a>'
            f"{void}</td>"
            f'<td class="c-number" data-label="{label["number"]}"><span class="mono">'
            f"{escape(e.number)}</span></td>"
            f'<td class="c-scene{" nowrap" if len(e.scene) <= 8 else ""}" '
            f'data-label="{label["scene"]}" data-testid="row-scene">{scene}</td>'
            f'<td class="c-initiator" data-label="{label["initiator"]}" '
            f'data-testid="row-initiator">{escape(str(row.initiator))}{unverified}</td>'
            f'<td class="c-sent nowrap" data-label="{label["sent"]}">{_when(e.sent_at)}</td>'
            f'<td class="c-deadline nowrap" data-label="{label["deadline"]}">{deadline}</td>'
            f"{status}"
            f'<td class="c-progress" data-label="{label["progress"]}"><span class="lists-progress" '
            f'title="{escape(str(row.progress_title))}"><span class="lists-bar" '
            f'style="--done: {int(row.done)}; --total: {int(row.total) or 1}"></span>'
            f'<span data-testid="row-progress">{escape(str(row.progress))}</span></span></td>'
            '<td class="c-actions"><span class="lists-actions">'
            f'<a href="{detail}" data-preview="{uuid}" data-testid="row-preview">'
            f'{label["preview"]}</a> <span class="lists-sep" aria-hidden="true">|</span> {act}'
            "</span></td></tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
