"""Response headers that keep personal data out of caches and features out of reach.

``Cache-Control: no-store`` (with ``Pragma: no-cache`` for HTTP/1.0 caches) goes on every
response that does not explicitly allow caching: every page of a signed-in user, the login page,
signing and invitation links, and anything else that may show personal data or a CSRF token.
Two kinds of response keep their own policy:

- ``public`` ones: the platform's CA certificates and CRLs, the same for everybody;
- ``immutable`` ones: content-addressed images (a page of a given revision), which are
  ``private`` and never change.

Static files never reach this middleware (WhiteNoise answers them first, with their own
long-lived headers).

``Permissions-Policy`` switches off powerful browser features no page uses: the camera (face
comparison happens on the identity provider's own page, and ID photos are chosen with a plain
file input, which needs no permission), microphone, geolocation, payment and USB.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase

NO_STORE = "private, no-store"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
_KEEP = frozenset({"public", "immutable"})


def cache_directives(response: HttpResponseBase) -> set[str]:
    """The directive names of the response's ``Cache-Control`` header, lowercase."""
    header = response.get("Cache-Control", "")
    return {part.split("=", 1)[0].strip().lower() for part in header.split(",") if part.strip()}


class PrivacyHeadersMiddleware:
    """Adds ``Cache-Control: no-store`` / ``Pragma: no-cache`` and ``Permissions-Policy``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        directives = cache_directives(response)
        if directives & _KEEP:
            return response
        if "no-store" not in directives:
            # Replaced, not patched: "private, max-age=86400" plus no-store would contradict.
            response["Cache-Control"] = NO_STORE
            response.headers.pop("Expires", None)
        response["Pragma"] = "no-cache"
        return response


def _holds_nul(request: HttpRequest) -> bool:
    """Whether a query, form or JSON parameter (name or value) holds a NUL character."""
    if request.content_type == "application/json":
        body = request.body
        if b"\x00" in body or b"\\u0000" in body:
            return True
    forms = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        forms.append(request.POST)
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for form in forms
        for key, values in form.lists()
    )


class NulCharacterMiddleware:
    """Refuse with a clear 400 a request whose parameters hold a NUL character: no input needs
    one, and PostgreSQL text cannot store it (a crafted search or reason was a 500 there)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _holds_nul(request):
            from django.http import HttpResponseBadRequest
            from django.utils.translation import gettext as _

            message = _("请求中含有无效字符，请检查输入的内容后重试。")
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
