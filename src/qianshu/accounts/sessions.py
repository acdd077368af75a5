"""The session side of logging in: what only a view can do (it holds the ``HttpRequest``).

The actions (:mod:`qianshu.accounts.actions`) check codes and write the security events; the
view then starts the session (:func:`start_session`: ``login()`` rotates the session key
against fixation and records the auth hash) and remembers when the user last proved who they
are (:func:`mark_reauthenticated`, read by :func:`recently_authenticated`).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest

from qianshu.accounts.models import User

REAUTH_SESSION_KEY = "qianshu_reauth_at"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def start_session(request: HttpRequest, user: User) -> None:
    """Log ``user`` in on this request (a fresh session key) and count it as a re-authentication."""
    login(request, user, backend=BACKEND)
    mark_reauthenticated(request)


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[REAUTH_SESSION_KEY] = int(time.time())


def recently_authenticated(request: HttpRequest) -> bool:
    at = request.session.get(REAUTH_SESSION_KEY)
    return isinstance(at, int) and time.time() - at < settings.QIANSHU_REAUTH_SECONDS
