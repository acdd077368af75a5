"""Access to the back office: platform operators only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

View = Callable[..., HttpResponseBase]


def staff_required(view: View) -> View:
    """A logged-in platform operator (``is_staff``); anybody else logged in gets a 404, so the
    back office does not even show that it exists. Anonymous visitors are sent to log in."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not (user.is_active and user.is_staff):
            raise Http404("not found")
        return view(request, *args, **kwargs)

    return wrapper
