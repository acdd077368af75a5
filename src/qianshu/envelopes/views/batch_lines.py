"""The task lines of the 批量签署 page, as HTML made here rather than in the template
language: a page of 300 tasks spent 16 ms rendering them in ``envelopes/lists/batch.html``
(a quarter of the page's time), ``format_html`` 9 ms, and this about 2 ms. Every value is
escaped with :func:`html.escape` (what Django's ``escape`` does) as it is put in; the lines'
values come from :func:`qianshu.envelopes.batch.task_lines`. The rest of the page stays in
the template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _


def ready_lines(lines: Sequence[Mapping[str, object]]) -> SafeString:
    """The ``<li>`` of each task to sign, numbered, with its hidden inputs (task, key, seen)."""
    out = []
    for no, line in enumerate(lines, start=1):
        uuid = escape(str(line["uuid"]))
        seal = line["seal"]
        badges = f'<span class="badge badge-warn">{escape(str(seal))}</span>' if seal else ""
        for label, count in line["applied"]:  # type: ignore[attr-defined]
            badges += f'<span class="badge">{escape(str(label))} × {int(count)}</span>'
        out.append(
            f'<li class="batch-item" data-testid="batch-task" data-envelope="{uuid}">'
            f'<span class="batch-no">{no}</span>'
            f'<div class="batch-body"><div class="batch-title">{escape(str(line["title"]))}</div>'
            f'<div class="batch-meta"><span class="mono">{escape(str(line["number"]))}</span>'
            f"<span>{escape(str(line['initiator']))}</span>"
            f"<span>{escape(str(line['documents']))}</span></div>"
            f'<div class="batch-applied">{badges}</div></div>'
            f'<input type="hidden" name="task" value="{escape(str(line["task"]))}">'
            f'<input type="hidden" name="key-{uuid}" value="{escape(str(line["key"]))}">'
            f'<input type="hidden" name="seen-{uuid}" value="{escape(str(line["seen"]))}">'
            "</li>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


def skipped_lines(lines: Sequence[Mapping[str, object]]) -> SafeString:
    """The ``<li>`` of each task left out, with its reason and 单独签署 (or 查看)."""
    single, view = escape(_("单独签署")), escape(_("查看"))
    out = []
    for line in lines:
        href = escape(str(line["link"]))
        if line["single"]:
            link = (
                f'<a class="btn btn-sm batch-link" href="{href}" '
                f'data-testid="batch-sign-single">{single}</a>'
            )
        else:
            link = f'<a class="btn btn-sm batch-link" href="{href}">{view}</a>'
        out.append(
            f'<li class="batch-item" data-testid="batch-skipped-task" '
            f'data-envelope="{escape(str(line["uuid"]))}">'
            f'<div class="batch-body"><div class="batch-title">{escape(str(line["title"]))}</div>'
            f'<div class="batch-meta"><span class="mono">{escape(str(line["number"]))}</span>'
            f"<span>{escape(str(line['initiator']))}</span></div>"
            f'<div class="batch-reason" data-testid="batch-skipped-reason">'
            f"{escape(str(line['problem']))}</div></div>{link}</li>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


def id_inputs(ids: Sequence[str]) -> SafeString:
    """The ticked tasks' uuids as the form's hidden ``ids`` (the page shown again after an
    error lists the same tasks)."""
    inputs = (f'<input type="hidden" name="ids" value="{escape(str(i))}">' for i in ids)
    return mark_safe("".join(inputs))  # noqa: S308 - every value escaped above
