"""The open API (issue 13) as an integrator and as an attacker would use it: keys missing,
malformed, revoked or of another organisation; scopes; idempotent POSTs and their replays;
the per-key rate limit; problem details in the caller's language; every response checked
against the published OpenAPI document."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from openapi_spec_validator import validate

from qianshu.api import auth, ratelimit
from qianshu.api.actions.keys import do_create_api_key, do_revoke_api_key
from qianshu.api.models import ApiCall, ApiKey, Scope
from qianshu.core.meta import TASK
from qianshu.orgs.models import Organization
from qianshu.webhooks.models import Endpoint
from tests.api.helpers import check_openapi, problem_of
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org

pytestmark = pytest.mark.django_db

HOOK = {"url": "https://93.184.216.34/hook", "events": ["envelope.completed"]}


def _key(org: Organization, scopes: list[str] | None = None) -> str:
    admin = org.memberships.get().user  # type: ignore[attr-defined]
    _key_row, plain = do_create_api_key(
        org, name="采购系统", scopes=scopes or list(Scope.values), actor=admin, meta=TASK
    )
    return plain


@pytest.fixture
def org() -> Organization:
    return make_verified_org(make_user("alice"))


@pytest.fixture
def other_org() -> Organization:
    return make_verified_org(make_user("charlie"), name="上海其他科技有限公司")


@pytest.fixture
def api(org: Organization) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {_key(org)}")


def test_the_openapi_document_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    validate(openapi)
    assert openapi["openapi"].startswith("3.1")
    for path in ("/api/v1/webhooks", "/api/v1/verify", "/api/v1/orgs/me/seals"):
        assert path in openapi["paths"]


def test_the_docs_page_is_served_without_any_cdn() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer qsk_",
        "Bearer qsk_abc_def",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 300,
    ],
)
def test_without_a_valid_key_401(header: str | None) -> None:
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = client.get("/api/v1/orgs/me")
    problem_of(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_refused(org: Organization) -> None:
    plain = _key(org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get("/api/v1/orgs/me").status_code == 200
    key = ApiKey.objects.get(prefix=plain.split("_")[1])
    do_revoke_api_key(key, actor=key.created_by, meta=TASK)
    problem_of(client.get("/api/v1/orgs/me"), 401, "unauthenticated")


def test_a_key_revoked_by_another_process_is_refused_once_the_cache_expires(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth, "_clock", lambda: clock[0])
    plain = _key(org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get("/api/v1/orgs/me").status_code == 200  # now remembered by this process
    # Another web process revokes it: no signal reaches this one.
    ApiKey.objects.filter(prefix=plain.split("_")[1]).update(revoked_at=timezone.now())
    clock[0] += auth.KEY_CACHE_SECONDS + 0.1
    problem_of(client.get("/api/v1/orgs/me"), 401, "unauthenticated")


def test_a_remembered_key_is_a_copy_per_request(org: Organization) -> None:
    plain = _key(org)
    first = auth.cached_key(plain)
    assert first is not None
    first.org.name = "被一个请求改掉的名称"
    second = auth.cached_key(plain)
    assert second is not None and second is not first and second.org is not first.org
    assert second.org.name == org.name


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(org: Organization) -> None:
    plain = _key(org)
    forged = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    problem_of(
        Client(HTTP_AUTHORIZATION=f"Bearer {forged}").get("/api/v1/orgs/me"), 401, "unauthenticated"
    )


def test_the_key_sees_its_own_organisation(
    api: Client, org: Organization, openapi: dict[str, Any]
) -> None:
    response = api.get("/api/v1/orgs/me")
    check_openapi(openapi, "/api/v1/orgs/me", "get", response)
    assert json.loads(response.content) == {
        "id": str(org.uuid),
        "name": org.name,
        "credit_code": org.credit_code,
        "status": "verified",
    }


def test_scopes_are_enforced(org: Organization) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_key(org, [Scope.VERIFY])}")
    problem_of(client.get("/api/v1/webhooks"), 403, "scope_missing")
    problem_of(
        client.post("/api/v1/webhooks", HOOK, content_type="application/json"), 403, "scope_missing"
    )
    problem_of(client.get("/api/v1/orgs/me/seals"), 403, "scope_missing")
    assert not Endpoint.objects.exists()


def test_webhooks_through_the_api(api: Client, openapi: dict[str, Any]) -> None:
    created = api.post("/api/v1/webhooks", HOOK, content_type="application/json")
    check_openapi(openapi, "/api/v1/webhooks", "post", created)
    assert created.status_code == 201
    body = json.loads(created.content)
    assert body["secret"].startswith("whsec_")
    path = f"/api/v1/webhooks/{body['id']}"
    got = api.get(path)
    check_openapi(openapi, "/api/v1/webhooks/{endpoint_id}", "get", got)
    assert "secret" not in json.loads(got.content)
    listed = api.get("/api/v1/webhooks")
    check_openapi(openapi, "/api/v1/webhooks", "get", listed)
    assert [e["id"] for e in json.loads(listed.content)] == [body["id"]]
    changed = api.patch(
        path, {**HOOK, "events": ["envelope.sent"]}, content_type="application/json"
    )
    check_openapi(openapi, "/api/v1/webhooks/{endpoint_id}", "patch", changed)
    assert json.loads(changed.content)["events"] == ["envelope.sent"]
    rotated = api.post(f"{path}/rotate-secret")
    check_openapi(openapi, "/api/v1/webhooks/{endpoint_id}/rotate-secret", "post", rotated)
    assert json.loads(rotated.content)["secret"] != body["secret"]
    messages = api.get(f"{path}/messages")
    check_openapi(openapi, "/api/v1/webhooks/{endpoint_id}/messages", "get", messages)
    deleted = api.delete(path)
    assert deleted.status_code == 204
    problem_of(api.get(path), 404, "not_found")


def test_another_organisations_endpoint_is_404(
    api: Client, other_org: Organization, openapi: dict[str, Any]
) -> None:
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {_key(other_org)}")
    endpoint_id = json.loads(
        theirs.post("/api/v1/webhooks", HOOK, content_type="application/json").content
    )["id"]
    for response in (
        api.get(f"/api/v1/webhooks/{endpoint_id}"),
        api.patch(f"/api/v1/webhooks/{endpoint_id}", HOOK, content_type="application/json"),
        api.delete(f"/api/v1/webhooks/{endpoint_id}"),
        api.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret"),
        api.get("/api/v1/webhooks/not-a-uuid"),
    ):
        problem_of(response, 404, "not_found")
    assert Endpoint.objects.filter(uuid=endpoint_id).exists()


def test_an_unsafe_url_is_a_problem_on_its_field(api: Client, openapi: dict[str, Any]) -> None:
    response = api.post(
        "/api/v1/webhooks",
        {**HOOK, "url": "https://169.254.169.254/latest"},
        content_type="application/json",
    )
    check_openapi(openapi, "/api/v1/webhooks", "post", response)
    body = problem_of(response, 400, "webhook_unsafe_url")
    assert body["field"] == "url"


def test_invalid_bodies_are_problems_too(api: Client) -> None:
    body = problem_of(
        api.post("/api/v1/webhooks", {"url": 5}, content_type="application/json"),
        400,
        "invalid_request",
    )
    assert {e["field"] for e in body["errors"]} >= {"events"}
    problem_of(
        api.post("/api/v1/webhooks", "{not json", content_type="application/json"),
        400,
        "invalid_request",
    )
    problem_of(api.get("/api/v1/no/such/route"), 404, "not_found")


def test_problems_speak_the_callers_language(org: Organization) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_key(org, [Scope.VERIFY])}")
    zh = problem_of(client.get("/api/v1/webhooks"), 403, "scope_missing")
    en = problem_of(client.get("/api/v1/webhooks", HTTP_ACCEPT_LANGUAGE="en"), 403, "scope_missing")
    assert zh["detail"] != en["detail"]
    assert en["detail"].isascii()


def test_idempotent_posts(api: Client, org: Organization) -> None:
    first = api.post(
        "/api/v1/webhooks", HOOK, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = api.post(
        "/api/v1/webhooks", HOOK, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)
    assert Endpoint.objects.count() == 1
    different = api.post(
        "/api/v1/webhooks",
        {**HOOK, "events": ["envelope.sent"]},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    problem_of(different, 409, "idempotency_conflict")
    # Another key may use the same Idempotency-Key: its own request.
    other = Client(HTTP_AUTHORIZATION=f"Bearer {_key(org)}")
    mine = other.post(
        "/api/v1/webhooks", HOOK, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert mine.status_code == 201 and "Idempotent-Replayed" not in mine
    assert Endpoint.objects.count() == 2


def test_a_refused_request_is_not_stored_for_replay(org: Organization, settings: Any) -> None:
    plain = _key(org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    key = ApiKey.objects.get(prefix=plain.split("_")[1])
    first = client.post(
        "/api/v1/webhooks", HOOK, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert first.status_code == 201
    do_revoke_api_key(key, actor=key.created_by, meta=TASK)
    # The revoked key does not get the stored answer back.
    problem_of(
        client.post(
            "/api/v1/webhooks", HOOK, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
        ),
        401,
        "unauthenticated",
    )


def test_rate_limit_per_key(org: Organization, settings: Any) -> None:
    settings.QIANSHU_API_PER_MINUTE = 3
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_key(org)}")
    for _ in range(3):
        assert client.get("/api/v1/orgs/me").status_code == 200
    refused = client.get("/api/v1/orgs/me")
    problem_of(refused, 429, "rate_limited")
    assert 0 < int(refused["Retry-After"]) <= 60
    # Another key of the same organisation has its own budget.
    assert (
        Client(HTTP_AUTHORIZATION=f"Bearer {_key(org)}").get("/api/v1/orgs/me").status_code == 200
    )


def test_the_rate_limit_holds_across_processes(org: Organization, settings: Any) -> None:
    # Each process reserves calls from the shared count: what one reserved and did not spend
    # is never handed out again by another, so together they never allow more than the limit.
    settings.QIANSHU_API_PER_MINUTE = 40
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_key(org)}")
    allowed = 0
    for calls in (5, 7, 3):
        for _ in range(calls):
            assert client.get("/api/v1/orgs/me").status_code == 200
            allowed += 1
        ratelimit.forget_all()  # the next calls come to another process
    while (response := client.get("/api/v1/orgs/me")).status_code == 200:
        allowed += 1
        assert allowed <= 40
    problem_of(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 60
    # Near the limit little is lost: reservations are a 32nd of what is left (here 1 or 2),
    # and each "other process" left at most one call of its last one unspent.
    assert allowed >= 40 - 3
    ratelimit.forget_all()
    problem_of(client.get("/api/v1/orgs/me"), 429, "rate_limited")  # refused everywhere


def test_every_call_is_logged_per_key(api: Client, org: Organization) -> None:
    api.get("/api/v1/orgs/me")
    api.get("/api/v1/webhooks/not-a-uuid")
    calls = list(ApiCall.objects.order_by("id").values_list("method", "path", "status"))
    assert calls == [("GET", "/api/v1/orgs/me", 200), ("GET", "/api/v1/webhooks/not-a-uuid", 404)]
    key = ApiKey.objects.get(org=org)
    assert key.last_used_at is not None


def test_create_api_key_command(org: Organization) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key", "--org", org.credit_code, "--name", "MIS", "--scopes", "verify",
        stdout=out, stderr=err,
    )  # fmt: skip
    plain = out.getvalue().strip()
    assert plain.startswith("qsk_")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/orgs/me")
    assert response.status_code == 200
    assert ApiKey.objects.get(name="MIS").scopes == ["verify"]
    assert plain not in str(list(ApiKey.objects.values()))  # only a digest is stored


def test_a_nul_character_is_a_problem_too(api: Client) -> None:
    problem_of(api.get("/api/v1/orgs/me?q=%00"), 400, "bad_request")
