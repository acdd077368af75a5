"""A NUL character in any parameter is refused with a clear 400 before a view sees it (PostgreSQL
text cannot store one: a crafted search or reason was a 500 there)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


def _client() -> Client:
    client = Client()
    client.force_login(make_user("alice"))
    return client


def test_query_form_and_json_parameters() -> None:
    client = _client()
    for response in (
        client.get("/envelopes/", {"q": "合同\x00"}),
        client.get("/envelopes/", {"q\x00": "合同"}),
        client.post("/me/", {"display_name": "爱丽丝\x00"}),
        client.post(
            "/envelopes/", json.dumps({"reason": "原因\x00"}), content_type="application/json"
        ),
    ):
        assert response.status_code == 400
        assert "无效字符" in response.content.decode()


def test_ordinary_input_passes_and_the_message_is_translated() -> None:
    client = _client()
    assert client.get("/envelopes/", {"q": "合同 %00 \\u0000"}).status_code == 200
    response = client.get("/envelopes/", {"q": "\x00"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "invalid character" in response.content.decode()
