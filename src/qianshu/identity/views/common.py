"""Helpers shared by the identity pages."""

from __future__ import annotations

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.models import User

STEP_LABELS = (_("身份信息"), _("身份核验"), _("核验完成"))


def current_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


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


def wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST (even an empty one, so it is validated), else None."""
    return request.POST if request.method == "POST" else None
