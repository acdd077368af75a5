"""开放平台 · API 密钥 (who may make keys, shown once) and ``POST /api/v1/verify`` (the same
JSON as ``qianshu verify --json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import ApiKey, Scope
from qianshu.core.meta import TASK
from qianshu.orgs.models import Membership
from qianshu.signing import pki
from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.signing.verify import verify_pdf
from qianshu.verification.cli import render
from tests.orgs.conftest import client_for
from tests.signing import helpers
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org

pytestmark = pytest.mark.django_db


def test_admin_creates_a_key_shown_once_and_revokes_it() -> None:
    alice = make_user("alice")
    org = make_verified_org(alice)
    client = client_for(alice)
    url = reverse("api-pages:keys", args=[org.uuid])
    response = client.post(url, {"op": "create", "name": "采购系统", "scopes": ["verify"]})
    assert response.status_code == 200
    plain = response.content.decode().split('data-testid="api-key">', 1)[1].split("<", 1)[0]
    assert plain.startswith("qsk_")
    assert plain not in client.get(url).content.decode()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert api.get("/api/v1/orgs/me").status_code == 200
    key = ApiKey.objects.get()
    client.post(url, {"op": "revoke", "key": key.prefix})
    assert api.get("/api/v1/orgs/me").status_code == 401


def test_members_outsiders_and_stale_sessions_cannot_make_keys() -> None:
    alice, bob, charlie = make_user("alice"), make_user("bob"), make_user("charlie")
    org = make_verified_org(alice)
    Membership.objects.create(org=org, user=bob, role=Membership.Role.MEMBER)
    url = reverse("api-pages:keys", args=[org.uuid])
    for user in (bob, charlie):
        assert client_for(user).get(url).status_code == 404
        response = client_for(user).post(url, {"op": "create", "name": "x", "scopes": ["verify"]})
        assert response.status_code == 404
    stale = client_for(alice, reauth=False).post(
        url, {"op": "create", "name": "x", "scopes": ["verify"]}
    )
    assert stale.status_code == 302
    assert not ApiKey.objects.exists()
    # A key of another organisation cannot be revoked from this page.
    other = make_verified_org(charlie, name="上海其他科技有限公司")
    theirs, _ = do_create_api_key(other, name="x", scopes=["verify"], actor=charlie, meta=TASK)
    response = client_for(alice).post(url, {"op": "revoke", "key": theirs.prefix})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_verify_answers_the_json_of_the_command_line(settings: Any, tmp_path: Path) -> None:
    platform = EphemeralPlatform()
    signed = helpers.signed_document(platform).finished
    assert signed is not None
    root = tmp_path / "root.pem"
    root.write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    settings.QIANSHU_EXTRA_TRUST_ROOTS = str(root)
    alice = make_user("alice")
    org = make_verified_org(alice)
    _key, plain = do_create_api_key(org, name="x", scopes=[Scope.VERIFY], actor=alice, meta=TASK)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    response = api.post(
        "/api/v1/verify", {"file": SimpleUploadedFile("c.pdf", signed, "application/pdf")}
    )
    assert response.status_code == 200, response.content
    got = json.loads(response.content)
    expected = json.loads(render(verify_pdf(signed, platform.trust), as_json=True))
    assert got["verdict"] == expected["verdict"] == "valid"
    assert set(got) == set(expected)
    assert got["sha256"] == expected["sha256"]
    assert [s["signer_name"] for s in got["signatures"]] == [
        s["signer_name"] for s in expected["signatures"]
    ]
    not_pdf = api.post("/api/v1/verify", {"file": SimpleUploadedFile("x.txt", b"hello")})
    assert not_pdf.status_code == 400 and json.loads(not_pdf.content)["code"] == "not_a_pdf"


def test_an_idempotent_upload_is_replayed_and_a_different_file_is_a_conflict() -> None:
    """Multipart bodies are read by earlier middleware: the fingerprint is taken from the
    parsed fields and files (a regression: this was a 500)."""
    alice = make_user("alice")
    org = make_verified_org(alice)
    _key, plain = do_create_api_key(org, name="x", scopes=[Scope.VERIFY], actor=alice, meta=TASK)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    def upload(data: bytes) -> Any:
        return api.post(
            "/api/v1/verify",
            {"file": SimpleUploadedFile("c.pdf", data, "application/pdf")},
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = upload(b"%PDF-1.7\n%%EOF\n")
    again = upload(b"%PDF-1.7\n%%EOF\n")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)
    conflict = upload(b"%PDF-1.7\n% another\n%%EOF\n")
    assert conflict.status_code == 409
    assert json.loads(conflict.content)["code"] == "idempotency_conflict"
