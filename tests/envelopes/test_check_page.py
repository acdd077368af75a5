"""The envelope's public check page that the evidence report's QR code opens (issue 13):
anyone may check whether a file is one of the envelope's completed documents; it tells no
names or phone numbers, and says so plainly for an altered file or an unfinished envelope."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from qianshu.accounts.models import User
from qianshu.envelopes.models import Envelope
from tests.envelopes.helpers import Builder, sign


def _post(envelope: Envelope, data: bytes) -> str:
    response = Client().post(
        f"/check/{envelope.uuid}/",
        {"file": SimpleUploadedFile("合同.pdf", data, "application/pdf")},
    )
    assert response.status_code == 200
    return response.content.decode()


def _send(envelope: Envelope, actor: User) -> None:
    from django.test import TestCase

    from qianshu.core.meta import TASK
    from qianshu.envelopes.actions import compose as compose_actions

    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=actor, meta=TASK)


def test_the_report_points_here_and_the_final_file_matches(
    build: Builder, people: dict[str, User], settings: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    _send(envelope, alice)
    original = envelope.documents.get().original.read()
    unfinished = _post(envelope, original)
    assert 'data-testid="check-no-match"' in unfinished and "尚未完成签署" in unfinished
    sign(envelope.recipients.get(), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    # The evidence report names this page (as text beside its QR code).
    report = pdfium.PdfDocument(envelope.report.read())  # type: ignore[union-attr]
    text = "".join(page.get_textpage().get_text_range() for page in report)
    url = f"{settings.PUBLIC_URL.rstrip('/')}/check/{envelope.uuid}/"
    assert url in text.replace("\r", "").replace("\n", "")
    page = Client().get(f"/check/{envelope.uuid}/").content.decode()
    assert envelope.number in page
    for secret in (bob.phone, alice.phone, envelope.title):
        assert secret not in page
    final = envelope.documents.get().current.read()
    matched = _post(envelope, final)
    assert 'data-testid="check-match"' in matched
    altered = _post(envelope, original)
    assert 'data-testid="check-no-match"' in altered and "不是本任务签署完成的文件" in altered


def test_drafts_and_unknown_envelopes_are_404(build: Builder, people: dict[str, User]) -> None:
    draft = build.draft(people["alice"], [("sign", 1, people["bob"])])
    assert Client().get(f"/check/{draft.uuid}/").status_code == 404
    assert Client().get("/check/00000000-0000-0000-0000-000000000000/").status_code == 404
