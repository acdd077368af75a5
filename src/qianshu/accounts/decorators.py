"""View decorators: login and recent re-authentication."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from qianshu.accounts.sessions import recently_authenticated

View = Callable[..., HttpResponse]


def reauth_required(view: View) -> View:
    """Require a login and a re-authentication (SMS code or password) in the last few minutes,
    as before changing the phone number, e-mail address, password or signing PIN."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not recently_authenticated(request):
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{query}")
        return view(request, *args, **kwargs)

    return wrapper
