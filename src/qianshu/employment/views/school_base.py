"""What every page of the school (就业管理) shares: who the viewer is there, the list filters
and paging.

A list page is the school's the viewer acts for (切换身份: :func:`qianshu.orgs.context.
acting_org`) when they are its 学校管理员 or 学院管理员; for anybody else it does not exist
(404). An agreement's page is reached from a link (a notification) whatever the acting
context: the viewer's staff row at the student's school decides (see ``school_agreements``).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.http import urlencode

from qianshu.core.requests import current_user
from qianshu.employment import school_queries
from qianshu.employment.models import School, Staff
from qianshu.orgs.context import acting_org

PAGE_SIZE = 30
MAX_QUERY = 64


def acting_staff(request: HttpRequest) -> Staff | None:
    """The viewer's staff row at the school they act for, or None."""
    org = acting_org(request)
    if org is None:
        return None
    return (
        Staff.objects.filter(school__org=org, user=current_user(request))
        .select_related("school__org", "college")
        .first()
    )


def require_staff(request: HttpRequest, *, school_admin: bool = False) -> Staff:
    """:func:`acting_staff`, else 404 (with ``school_admin``: a 学校管理员 only)."""
    staff = acting_staff(request)
    if staff is None:
        raise Http404
    if school_admin and staff.role != Staff.Role.SCHOOL_ADMIN:
        raise Http404
    return staff


def is_school_admin(staff: Staff) -> bool:
    return staff.role == Staff.Role.SCHOOL_ADMIN


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def filters_from(
    request: HttpRequest, staff: Staff, statuses: dict[str, str], *, year: int | None = None
) -> school_queries.Filters:
    """The page's filters from its query string; a 学院 the viewer does not see, or a state
    the page does not know, is no filter (``year``: the default 届, if the page has one)."""
    college = _int(request.GET.get("college"))
    colleges = school_queries.visible_colleges(staff)
    if college is not None and not colleges.filter(pk=college).exists():
        college = None
    wanted_year = _int(request.GET.get("year"))
    status = request.GET.get("status", "")
    return school_queries.Filters(
        college=college,
        year=wanted_year if wanted_year is not None else year,
        status=status if status in statuses else "",
        q=" ".join(request.GET.get("q", "").split())[:MAX_QUERY],
    )


def page_of(request: HttpRequest, items: QuerySet[Any]) -> Page[Any]:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The query string of the page's filters, for the pager's links."""
    pairs = [(key, request.GET.get(key, "")) for key in request.GET if key != "page"]
    return urlencode([(key, value) for key, value in pairs if value])


def school_context(staff: Staff, section: str) -> dict[str, Any]:
    """The side menu's context: the school, the viewer's role and the current section."""
    school: School = staff.school
    return {
        "nav": "employment",
        "staff": staff,
        "school": school,
        "school_admin": is_school_admin(staff),
        "section": section,
    }
