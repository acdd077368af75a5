"""What every employer page shares: who acts for which employer, the refusal page, and the
results a page keeps in the session between a POST and the page it redirects to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.requests import current_user
from qianshu.employment.actions.employers import require_recruiter
from qianshu.employment.errors import EmploymentError
from qianshu.orgs.access import usable_seals
from qianshu.orgs.context import acting_org
from qianshu.orgs.models import Organization, Seal

TEMPLATES = "employment/employer/"


@dataclass(frozen=True)
class Employer:
    """The person and the employer organisation they act for."""

    user: User
    org: Organization

    def seals(self) -> list[Seal]:
        return list(usable_seals(self.user, self.org).order_by("name", "pk"))


EmployerView = Callable[..., HttpResponse]


def employer_page(view: EmployerView) -> Callable[..., HttpResponse]:
    """A page of the employer acting now (the top bar's switcher): 404 when the viewer acts
    for no organisation, a refusal page when they may not act for it in employment matters
    (only administrators of a verified organisation may)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = current_user(request)
        org = acting_org(request)
        if org is None:
            raise Http404
        try:
            require_recruiter(org, user)
        except EmploymentError as exc:
            return render(
                request,
                TEMPLATES + "refused.html",
                {"nav": "employment", "org": org, "message": exc.message},
                status=exc.status,
            )
        return view(request, Employer(user, org), *args, **kwargs)

    return wrapper


def page(
    request: HttpRequest,
    employer: Employer,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status: int = 200,
) -> HttpResponse:
    """Render one of the employer's pages inside the 单位用户中心 layout."""
    base = {"nav": "employment", "org": employer.org, "section": section}
    return render(request, TEMPLATES + template, {**base, **context}, status=status)


def keep(request: HttpRequest, key: str, employer: Employer, value: Any) -> None:
    """Keep ``value`` for the next page of this employer (session, JSON-serialisable)."""
    request.session[key] = {"org": str(employer.org.uuid), "value": value}


def kept(request: HttpRequest, key: str, employer: Employer, *, pop: bool = False) -> Any:
    """What :func:`keep` stored for this employer, or None."""
    stored = request.session.pop(key, None) if pop else request.session.get(key)
    if not isinstance(stored, dict) or stored.get("org") != str(employer.org.uuid):
        return None
    return stored.get("value")
