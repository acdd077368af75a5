"""What the student's pages share: the side menu context, the current roster entry and the
labelled sections of an agreement."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from qianshu.accounts.models import User
from qianshu.employment import student_queries as queries
from qianshu.employment.models import Agreement, RosterEntry
from qianshu.employment.student_forms import PAPER_SECTIONS

NAV = "employment"


def student_context(entry: RosterEntry | None, menu: str, **extra: Any) -> dict[str, Any]:
    """What every student page shows: the side menu (核心功能菜单) and its current item."""
    return {"nav": NAV, "menu": menu, "entry": entry, **extra}


def require_entry(user: User) -> RosterEntry:
    """The current roster entry (pages after 信息验证 are not found before it)."""
    entry = queries.current_entry(user)
    if entry is None:
        raise Http404
    return entry


def sections_of(agreement: Agreement) -> list[tuple[Any, list[tuple[Any, str]]]]:
    """The letter's sections (签约信息, 单位基本信息, 档案信息, 户口信息) as labelled values."""
    values = {
        "terms": agreement.terms,
        "employer": {**agreement.employer_info, "name": agreement.employer_name},
        "archive": agreement.archive,
        "hukou": agreement.hukou,
    }
    return [
        (title, [(label, str(values[section].get(key) or "")) for key, label, _long in items])
        for section, title, items in PAPER_SECTIONS
    ]
