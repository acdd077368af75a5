"""The API calls, with idempotency keys, retries and problem details as exceptions."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, TypedDict

import httpx

RETRY_STATUSES = {429, 500, 502, 503, 504}


class ApiError(Exception):
    """An error answer (RFC 9457 problem details)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", "http_error"))
        self.detail: str = str(problem.get("detail", ""))
        self.field: str | None = problem.get("field")
        super().__init__(f"{status} {self.code}: {self.detail}")


class Org(TypedDict):
    id: str
    name: str
    credit_code: str
    status: str


class Seal(TypedDict):
    id: str
    name: str
    kind: str
    status: str
    granted_to_this_key: bool


class Upload(TypedDict):
    id: str
    name: str
    pages: int
    sha256: str


class SealStep(TypedDict):
    envelope_id: str
    recipient_id: int
    ok: bool
    repeated: bool
    code: str | None
    detail: str | None
    status: str | None


class SealBatch(TypedDict):
    sealed: int
    refused: int
    results: list[SealStep]


class Envelope(TypedDict):
    id: str
    number: str
    title: str
    status: str
    scene: str
    created_at: str
    sent_at: str | None
    completed_at: str | None
    deadline: str | None
    recipients: list[dict[str, Any]]
    documents: list[dict[str, Any]]


class Webhook(TypedDict, total=False):
    id: str
    url: str
    events: list[str]
    description: str
    status: str
    created_at: str
    failing_since: str | None
    secret: str  # only in the answer that created the endpoint


class Qianshu:
    """A client for one API key. ``retries``: how many times a call is repeated after a 429,
    a 5xx or a connection error (POSTs keep their ``Idempotency-Key``, so a repeat never
    does the thing twice)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "qianshu-client/0.1"},
            timeout=timeout,
            transport=transport,
        )
        self.retries = retries
        self.backoff = backoff

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Qianshu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                wait = response.headers.get("Retry-After", "")
                time.sleep(float(wait) if wait.isdigit() else self.backoff * 2**attempt)
                continue
            if response.status_code >= 400:
                try:
                    problem = response.json()
                except ValueError:
                    problem = {"detail": response.text[:500]}
                raise ApiError(response.status_code, problem)
            return response
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    # --- organisation ---------------------------------------------------------------------

    def org(self) -> Org:
        result: Org = self._json("GET", "/orgs/me")
        return result

    def seals(self) -> list[Seal]:
        result: list[Seal] = self._json("GET", "/orgs/me/seals")
        return result

    # --- verification ---------------------------------------------------------------------

    def verify(self, pdf: bytes, filename: str = "document.pdf") -> dict[str, Any]:
        """The report of ``qianshu verify --json`` for ``pdf`` (the file is not kept)."""
        result: dict[str, Any] = self._json(
            "POST", "/verify", files={"file": (filename, pdf, "application/pdf")}
        )
        return result

    # --- documents and envelopes ----------------------------------------------------------

    def upload_document(self, data: bytes, filename: str = "document.pdf") -> Upload:
        """Upload a PDF (or Word document) for :meth:`create_envelope`."""
        content_type = "application/pdf" if filename.lower().endswith(".pdf") else None
        result: Upload = self._json(
            "POST", "/documents", files={"file": (filename, data, content_type)}
        )
        return result

    def create_envelope(
        self,
        title: str,
        documents: list[str],
        recipients: list[dict[str, Any]],
        *,
        deadline: str | None = None,
        message: str = "",
        scene: str = "",
        send: bool = True,
        idempotency_key: str | None = None,
    ) -> Envelope:
        """Create (and by default send) an envelope. ``recipients`` as in the API:
        ``{"role", "order", "name", "phone"|"email", "org": {"name", "credit_code"},
        "fields": [{"type", "document", "page", "x", "y", "width", "height"}]}`` (points,
        origin at the page's top-left, pages from 1). Pass your own ``idempotency_key`` (an
        order number) to make a repeated call return the same envelope."""
        body = {
            "title": title,
            "documents": documents,
            "recipients": recipients,
            "deadline": deadline,
            "message": message,
            "scene": scene,
            "send": send,
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: Envelope = self._json("POST", "/envelopes", json=body, headers=headers)
        return result

    def envelopes(self, **filters: Any) -> Iterator[Envelope]:
        """Every envelope matching ``filters`` (status, number, created_after, created_before),
        newest first, page after page."""
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = self._json("GET", "/envelopes", params=params)
            yield from page["items"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def envelope(self, envelope_id: str) -> Envelope:
        result: Envelope = self._json("GET", f"/envelopes/{envelope_id}")
        return result

    def send_envelope(self, envelope_id: str) -> Envelope:
        result: Envelope = self._json("POST", f"/envelopes/{envelope_id}/send")
        return result

    def remind(self, envelope_id: str) -> int:
        return int(self._json("POST", f"/envelopes/{envelope_id}/remind")["reminded"])

    def recall(self, envelope_id: str, reason: str = "") -> Envelope:
        result: Envelope = self._json(
            "POST", f"/envelopes/{envelope_id}/recall", json={"reason": reason}
        )
        return result

    def void(self, envelope_id: str, reason: str) -> Envelope:
        """Start the void statement (作废声明) of a completed envelope; returns the statement."""
        result: Envelope = self._json(
            "POST", f"/envelopes/{envelope_id}/void", json={"reason": reason}
        )
        return result

    def signing_url(
        self, envelope_id: str, recipient_id: int, expires_in: int = 900
    ) -> dict[str, Any]:
        """A short-lived link to the signing page of one recipient (``url``, ``expires_at``);
        the signer still logs in by SMS code and confirms with their own PIN."""
        result: dict[str, Any] = self._json(
            "POST",
            f"/envelopes/{envelope_id}/recipients/{recipient_id}/signing-url",
            json={"expires_in": expires_in},
        )
        return result

    def seal(self, envelope_id: str, recipient_id: int) -> Envelope:
        """API 用印 (静默签): seal the organisation's own seal step ``recipient_id`` with the
        seal an administrator granted to this key; returns the envelope after it."""
        result: Envelope = self._json(
            "POST", f"/envelopes/{envelope_id}/recipients/{recipient_id}/seal"
        )
        return result

    def seal_batch(
        self, steps: list[tuple[str, int]], *, idempotency_key: str | None = None
    ) -> SealBatch:
        """批量用印: seal many of the organisation's seal steps — ``(envelope id, recipient
        id)`` — in one call (up to 200). Every step has a result, in order: sealed (``ok``),
        or refused with the ``code`` and ``detail`` the single call would give. Pass the same
        ``idempotency_key`` to send the call again after a failure: no step is sealed twice."""
        body = {"steps": [{"envelope_id": e, "recipient_id": r} for e, r in steps]}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        result: SealBatch = self._json("POST", "/envelopes/seal-batch", json=body, headers=headers)
        return result

    def download_document(self, envelope_id: str, document_id: int) -> bytes:
        """The document as it is now: the signed final PDF once the envelope is completed."""
        return self._request("GET", f"/envelopes/{envelope_id}/documents/{document_id}").content

    def download_report(self, envelope_id: str) -> bytes:
        """The signed evidence report (签署报告) of a completed envelope."""
        return self._request("GET", f"/envelopes/{envelope_id}/report").content

    def download_archive(self, envelope_id: str) -> bytes:
        """The documents and the evidence report as one ZIP."""
        return self._request("GET", f"/envelopes/{envelope_id}/archive").content

    def audit_trail(self, envelope_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/envelopes/{envelope_id}/audit")
        return result

    # --- webhooks -------------------------------------------------------------------------

    def list_webhooks(self) -> list[Webhook]:
        result: list[Webhook] = self._json("GET", "/webhooks")
        return result

    def create_webhook(self, url: str, events: list[str], description: str = "") -> Webhook:
        """A new endpoint; its ``secret`` is in this answer only."""
        body = {"url": url, "events": events, "description": description}
        result: Webhook = self._json("POST", "/webhooks", json=body)
        return result

    def get_webhook(self, webhook_id: str) -> Webhook:
        result: Webhook = self._json("GET", f"/webhooks/{webhook_id}")
        return result

    def update_webhook(
        self, webhook_id: str, url: str, events: list[str], description: str = ""
    ) -> Webhook:
        body = {"url": url, "events": events, "description": description}
        result: Webhook = self._json("PATCH", f"/webhooks/{webhook_id}", json=body)
        return result

    def delete_webhook(self, webhook_id: str) -> None:
        self._request("DELETE", f"/webhooks/{webhook_id}")

    def rotate_webhook_secret(self, webhook_id: str) -> str:
        """A new secret; the previous one keeps signing for 24 hours."""
        return str(self._json("POST", f"/webhooks/{webhook_id}/rotate-secret")["secret"])

    def enable_webhook(self, webhook_id: str) -> Webhook:
        result: Webhook = self._json("POST", f"/webhooks/{webhook_id}/enable")
        return result

    def disable_webhook(self, webhook_id: str) -> Webhook:
        result: Webhook = self._json("POST", f"/webhooks/{webhook_id}/disable")
        return result

    def webhook_messages(self, webhook_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/webhooks/{webhook_id}/messages")
        return result

    def redeliver(self, webhook_id: str, message_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/webhooks/{webhook_id}/messages/{message_id}/redeliver"
        )
        return result
