"""The open API's door: idempotent POSTs and the per-key call log.

``Idempotency-Key`` on a POST under ``/api/v1/``: the first request with a key is recorded
(its fingerprint: method, path and body) and its answer stored; the same key with the same
fingerprint gets the stored answer again (``Idempotent-Replayed: true``), with another
fingerprint a 409; while the first is still running, a 409 too. Keys are scoped by the
credential (a digest of the Authorization header), so two callers never share one. Answers
of 5xx, 401 and 429 are not stored: the caller may retry them with the same key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.api.auth import cached_key
from qianshu.api.models import ApiCall, ApiKey, IdempotentRequest
from qianshu.api.problems import problem
from qianshu.core.meta import request_meta

PREFIX = "/api/v1/"
_NOT_STORED = {401, 429}
MAX_KEY = 255


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        started = time.monotonic()
        response = self._idempotent(request)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in content_type:
            # Django's own error pages (no such route, a refused NUL character): problem
            # details too.
            status = response.status_code
            if status == 404:
                response = problem(404, "not_found", _("找不到该资源。"))
            elif status >= 500:
                response = problem(status, "internal_error", _("服务器内部错误，请稍后重试。"))
            else:
                response = problem(status, "bad_request", _("请求不正确。"))
        key = getattr(request, "api_key", None)
        if key is not None:
            _log_call(key, request, response.status_code, time.monotonic() - started)
        return response

    def _idempotent(self, request: HttpRequest) -> HttpResponse:
        idem = request.headers.get("Idempotency-Key", "")
        credential = request.headers.get("Authorization", "")
        if request.method != "POST" or not idem or not credential:
            return self.get_response(request)
        if len(idem) > MAX_KEY:
            return problem(
                400, "bad_idempotency_key", _("Idempotency-Key 过长（最多 255 个字符）。")
            )
        scope = hashlib.sha256(credential.encode()).hexdigest()
        try:
            digest = _fingerprint(request)
        except RequestDataTooBig:
            return problem(
                413,
                "request_too_large",
                _("请求过大，无法按 Idempotency-Key 保存（最多 %(mb)d MB）。")
                % {"mb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20},
            )
        fingerprint = digest.hexdigest()
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    scope=scope, key=idem, fingerprint=fingerprint
                )
        except IntegrityError:
            key = cached_key(credential.removeprefix("Bearer").strip())
            if key is None:
                return self.get_response(request)  # revoked or unknown: its own 401
            request.api_key = key  # type: ignore[attr-defined]  # for the call log
            stored = IdempotentRequest.objects.filter(scope=scope, key=idem).first()
            if stored is None or stored.fingerprint != fingerprint:
                return problem(
                    409, "idempotency_conflict", _("同一个 Idempotency-Key 已用于另一个请求。")
                )
            if stored.status is None:
                return problem(
                    409,
                    "idempotency_in_progress",
                    _("使用该 Idempotency-Key 的请求仍在处理中，请稍后重试。"),
                )
            replay = HttpResponse(
                bytes(stored.body or b""), status=stored.status, content_type=stored.content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = self.get_response(request)
        except BaseException:
            record.delete()
            raise
        if response.status_code >= 500 or response.status_code in _NOT_STORED or response.streaming:
            record.delete()
            return response
        record.status = response.status_code
        record.content_type = response.get("Content-Type", "")[:100]
        record.body = response.content
        record.save(update_fields=["status", "content_type", "body"])
        return response


_CALL_COLUMNS = ("key_id", "method", "path", "status", "ip", "duration_ms", "created_at")
_INSERT_CALL = "INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)"


def _log_call(key: ApiKey, request: HttpRequest, status: int, seconds: float) -> None:
    """One row per call, written before the answer leaves (a plain INSERT: building it with
    the ORM cost more than the rest of the call log)."""
    ops = connection.ops
    sql = _INSERT_CALL.format(
        table=ops.quote_name(ApiCall._meta.db_table),
        columns=", ".join(ops.quote_name(name) for name in _CALL_COLUMNS),
    )
    ip = request_meta(request).ip
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                key.pk,
                (request.method or "")[:8],
                request.path[:300],
                status,
                ops.adapt_ipaddressfield_value(ip) if ip else None,
                int(seconds * 1000),
                ops.adapt_datetimefield_value(timezone.now()),
            ],
        )


def _fingerprint(request: HttpRequest) -> hashlib._Hash:
    """What makes two POSTs "the same request": method, path and body. A multipart body that
    an earlier middleware already parsed is fingerprinted from its fields and files."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.get_full_path()}\n".encode())
    try:
        digest.update(request.body)
        return digest
    except RawPostDataException:
        pass
    for name in sorted(request.POST):
        for value in request.POST.getlist(name):
            digest.update(f"field {name}={value}\n".encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(f"file {name} {upload.name} {upload.size}\n".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest
