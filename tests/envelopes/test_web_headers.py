"""Headers of the envelope pages over HTTP (issue 10, items 9 and 14): a sender's document name
cannot add parameters or headers to the download another party gets, and no page with a
contract or a person on it may be kept by a browser or proxy cache."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Document, Envelope
from tests.core.test_downloads import INJECTION
from tests.envelopes.helpers import Builder


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stem", "header"),
    [
        (
            INJECTION.removesuffix(".pdf"),
            "attachment; filename*=utf-8''%E5%90%88%E5%90%8C%27%3B%20filename%2A%3DUTF-8%27%27"
            "evil.html%3B%20x%3D%27.pdf",
        ),
        ("报价\r\nX-Evil: 1", "attachment; filename*=utf-8''%E6%8A%A5%E4%BB%B7X-Evil%3A%201.pdf"),
    ],
    ids=["parameter", "crlf"],
)
def test_a_hostile_document_name_cannot_inject_into_the_download(
    people: dict, build: Builder, stem: str, header: str
) -> None:
    alice = people["alice"]
    envelope = build.draft(alice, [("sign", 1, people["bob"])], file_stem="")
    document = envelope.documents.get()
    Document.objects.filter(pk=document.pk).update(name=stem + ".pdf")  # as typed by a sender
    client = Client()
    client.force_login(alice)

    response = client.get(
        reverse("envelopes:download", args=[envelope.uuid, document.pk]),
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == header
    assert "X-Evil" not in response.headers
    assert response["Cache-Control"] == "private, no-store"


def _cache(response: object) -> str:
    return response["Cache-Control"]  # type: ignore[index]


def test_personal_pages_are_never_stored(people: dict, build: Builder) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope: Envelope = build.draft(alice, [("sign", 1, bob)])
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    document = envelope.documents.get()
    page = reverse("envelopes:page-image", args=[envelope.uuid, document.pk, 0])
    signed_in = Client()
    signed_in.force_login(bob)
    urls = [
        reverse("envelopes:list"),
        reverse("envelopes:detail", args=[envelope.uuid]),
        reverse("envelopes:sign", args=[envelope.uuid]),
        reverse("envelopes:download", args=[envelope.uuid, document.pk]),
        page,  # the current page: may change with the next signature
        reverse("accounts:profile"),
        "/orgs/",
        "/no-such-page/",
    ]
    for url in urls:
        response = signed_in.get(url)
        assert response.status_code in (200, 404), url
        assert "no-store" in _cache(response) and "max-age=8" not in _cache(response), url
        assert response["Pragma"] == "no-cache", url
    anonymous = Client()
    for url in (
        "/",
        "/login/",
        "/s/not-a-real-token/",
        reverse("envelopes:detail", args=[envelope.uuid]),
    ):
        response = anonymous.get(url)
        assert "no-store" in _cache(response) and response["Pragma"] == "no-cache", url

    # A page of a given revision is content-addressed: kept privately, for good.
    pinned = signed_in.get(page, {"r": document.current_id})
    assert _cache(pinned) == "private, max-age=31536000, immutable"
    assert "Pragma" not in pinned
    # Static files are the same for everybody and cacheable.
    static = anonymous.get("/static/qianshu/app.css")
    assert static.status_code == 200 and "no-store" not in static.get("Cache-Control", "")
