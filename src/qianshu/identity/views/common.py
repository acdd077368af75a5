"""Helpers shared by the identity pages."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

STEP_LABELS = (_("身份信息"), _("身份核验"), _("核验完成"))


def steps(current: int, second: str | None = None) -> list[dict[str, object]]:
    """The three steps of 个人实名认证 for ``identity/_steps.html`` (``current`` from 1)."""
    labels: list[object] = list(STEP_LABELS)
    if second:
        labels[1] = second
    return [
        {
            "number": i,
            "label": label,
            "state": "done" if i < current else "current" if i == current else "",
        }
        for i, label in enumerate(labels, start=1)
    ]


RETURN_KEY = "identity_return"


def safe_next(request: HttpRequest) -> str | None:
    """``?next=`` when it is a page of this site (e.g. the signing page that sent a signer to
    set a PIN), else None."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return str(candidate)
    return None


def remember_return(request: HttpRequest) -> None:
    """Keep ``?next=`` (a page of this site, e.g. the document a first-time signer was about to
    sign) to go back to once verification succeeds."""
    candidate = request.GET.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session[RETURN_KEY] = candidate


def return_url(request: HttpRequest) -> str:
    """Where 返回 leads after verification: the remembered page, else the status page."""
    return str(request.session.get(RETURN_KEY) or reverse("identity:status"))
