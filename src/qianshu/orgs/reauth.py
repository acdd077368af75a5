"""Fresh re-authentication before organisation admin actions that hand out or remove power.

Granting a seal, revoking a grant, handing over the administrator role, making someone 管理员
(by role change or invitation), removing a member, and destroying, disabling or enabling a seal
need a re-authentication (SMS code or password, ``accounts:reauth``) within
``QIANSHU_REAUTH_SECONDS``: a session left open on a shared computer, or a stolen session
cookie, is not enough to give someone a seal.

A view checks this after it has fetched the organisation with the administrator's role (others
still get 404) and before it changes anything: with a stale session it answers
:func:`reauth_redirect` — to the re-authentication page, and from there back to the page with
the form. What the administrator typed into that form (the fields named in ``keep``) is kept in
the session for that page, which reads it back with :func:`kept_input`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from qianshu.accounts.sessions import recently_authenticated

KEPT_INPUT_KEY = "qianshu_org_reauth_input"


def needs_reauth(request: HttpRequest) -> bool:
    return not recently_authenticated(request)


def reauth_redirect(
    request: HttpRequest, return_to: str, *, keep: Iterable[str] = ()
) -> HttpResponseRedirect:
    """Send the administrator to re-authenticate, then back to ``return_to`` (a path of the
    page with the form), keeping the posted values of ``keep`` for that page."""
    kept = {name: request.POST.get(name, "") for name in keep if name in request.POST}
    if kept:
        request.session[KEPT_INPUT_KEY] = {"path": return_to, "data": kept}
    messages.info(
        request, _("为保障组织安全，此操作需要先确认身份。确认后将回到原页面，请再次提交。")
    )
    return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{urlencode({'next': return_to})}")


def kept_input(request: HttpRequest, path: str) -> dict[str, str]:
    """The form values :func:`reauth_redirect` kept for the page at ``path`` (once)."""
    kept = request.session.get(KEPT_INPUT_KEY)
    if not isinstance(kept, dict) or kept.get("path") != path:
        return {}
    del request.session[KEPT_INPUT_KEY]
    data = kept.get("data")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
