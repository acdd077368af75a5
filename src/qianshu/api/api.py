"""The open API: ``/api/v1/`` (django-ninja), its OpenAPI document at
``/api/v1/openapi.json`` and interactive docs at ``/api/v1/docs``.

Every route needs an organisation's API key (:mod:`qianshu.api.auth`); errors are problem
details (:mod:`qianshu.api.problems`) in the request's language, including validation
errors, 404s and anything unexpected (logged, never shown).
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from qianshu.api import (
    routes_envelopes,
    routes_orgs,
    routes_sealing,
    routes_verify,
    routes_webhooks,
)
from qianshu.api.auth import KeyAuth
from qianshu.api.errors import RateLimited, Unauthenticated
from qianshu.api.problems import problem
from qianshu.core.errors import UserError

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Qianshu API",
    version="1",
    description=(
        "签署 · Qianshu open API. Authenticate with an organisation API key: "
        "`Authorization: Bearer qsk_…`. Errors are RFC 9457 problem details with a stable "
        "`code`. Every POST accepts an `Idempotency-Key` header."
    ),
    auth=KeyAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", routes_orgs.router)
# Before /envelopes/{envelope_id}, which would take /envelopes/seal-batch for an envelope id.
api.add_router("", routes_sealing.router)
api.add_router("", routes_envelopes.router)
api.add_router("", routes_verify.router)
api.add_router("", routes_webhooks.router)


@api.exception_handler(UserError)
def _user_error(request: HttpRequest, exc: UserError) -> HttpResponse:
    response = problem(exc.status, exc.code, exc.message, field=exc.field)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    error = Unauthenticated()
    response = problem(error.status, error.code, error.message)
    response["WWW-Authenticate"] = "Bearer"
    return response


def _field(loc: tuple[object, ...] | list[object]) -> str:
    # ("body", "<parameter>", "events") or ("query", "status"): the name the caller sent.
    parts = list(loc)[2:] if list(loc)[:1] == ["body"] else list(loc)[1:]
    return ".".join(str(p) for p in parts)


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors]
    return problem(400, "invalid_request", _("请求参数不正确。"), errors=errors)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "not_found", _("找不到该资源。"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # e.g. a body that is not JSON
        return problem(400, "invalid_request", _("请求参数不正确。"))
    if exc.status_code == 405:
        return problem(405, "method_not_allowed", _("该资源不支持这种请求方法。"))
    return problem(exc.status_code, "http_error", str(exc))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API %s %s failed", request.method, request.path)
    return problem(500, "internal_error", _("服务器内部错误，请稍后重试。"))
