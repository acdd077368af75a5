"""Small helpers every app's views share: the logged-in user, the posted form data, and whether
the page's script (``fetch``) asked for JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.http import HttpRequest, QueryDict

if TYPE_CHECKING:
    from qianshu.accounts.models import User


def current_user(request: HttpRequest) -> User:
    """The logged-in user of a view behind ``login_required`` (an assertion, not a check)."""
    user = request.user
    assert isinstance(user, get_user_model())
    return user


def posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST (even an empty one, so it is validated), else None."""
    return request.POST if request.method == "POST" else None


def wants_json(request: HttpRequest) -> bool:
    """Whether the page's script sent the request (``X-Requested-With: fetch``) and wants JSON."""
    return request.headers.get("X-Requested-With") == "fetch"
