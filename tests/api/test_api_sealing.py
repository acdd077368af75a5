"""API 用印 (契约锁's 静默签, issue 13): an administrator grants one seal to one API key (after a
fresh re-authentication); the key then seals its organisation's own seal steps without a
person — and nothing else. Written as an attacker would try it: a key without a grant, a
granted key on another organisation's step (one with the same name too), a step whose turn has
not come, a replay, a revoked grant or key, the legal representative's seal, another
organisation's administrator, a stale session. The sealed PDF is checked with our verifier,
pyHanko and pdfsig; every use shows on 用印记录, 印章授权 and in the audit trail, naming the key."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from qianshu.api.actions.keys import do_create_api_key, do_revoke_api_key
from qianshu.api.actions.seals import do_grant_seal_to_key
from qianshu.api.models import ApiKey, Scope
from qianshu.core.meta import TASK
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.orgs.grants import GrantError
from qianshu.orgs.models import Organization, OrgEvent, Seal, SealGrant, SealUsage
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.api.helpers import check_openapi, problem_of
from tests.browser.scenario import check_final_pdf
from tests.envelopes.helpers import sign
from tests.identity.helpers import logged_in
from tests.support.personas import make_signer, make_verified_org, real_name, valid_credit_code
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

BUYER = "北京千书科技有限公司"
SEAL_PATH = "/api/v1/envelopes/{envelope_id}/recipients/{recipient_id}/seal"


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    do_init_pki(name="测试平台")
    alice, bob = make_signer("alice"), make_signer("bob")
    org = make_verified_org(alice, name=BUYER)
    contract = make_seal(org, alice, kind=Seal.Kind.CONTRACT)
    key, plain = do_create_api_key(
        org, name="采购系统", scopes=list(Scope.values), actor=alice, meta=TASK
    )
    return {
        "alice": alice,
        "bob": bob,
        "org": org,
        "seal": contract,
        "key": key,
        "api": Client(HTTP_AUTHORIZATION=f"Bearer {plain}"),
    }


def _grant(w: dict[str, Any], seal: Seal | None = None, key: ApiKey | None = None) -> SealGrant:
    return do_grant_seal_to_key(
        key or w["key"],
        seal or w["seal"],
        valid_until=timezone.now() + dt.timedelta(days=30),
        actor=w["alice"],
        meta=TASK,
    )


def _envelope(w: dict[str, Any], *, org: dict[str, str] | None = None) -> dict[str, Any]:
    """bob signs (order 1), then the organisation seals (order 2) — with a seal and a date."""
    api = w["api"]
    uploaded = api.post(
        "/api/v1/documents",
        {"file": _file(make_test_pdf(pages=2))},
    )
    doc = json.loads(uploaded.content)["id"]
    spec = {
        "title": "采购合同",
        "documents": [doc],
        "recipients": [
            {
                "role": "signer",
                "order": 1,
                "name": real_name(w["bob"]),
                "phone": w["bob"].phone,
                "fields": [{"type": "signature", "document": doc, "page": 2, "x": 60, "y": 600}],
            },
            {
                "role": "seal",
                "order": 2,
                "name": BUYER,
                "phone": w["alice"].phone,
                "org": org or {"name": BUYER, "credit_code": w["org"].credit_code},
                "fields": [
                    {"type": "seal", "document": doc, "page": 2, "x": 300, "y": 560},
                    {"type": "date", "document": doc, "page": 2, "x": 300, "y": 700},
                ],
            },
        ],
    }
    created = api.post("/api/v1/envelopes", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    return dict(json.loads(created.content))


def _file(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("采购合同.pdf", data, "application/pdf")


def _seal(api: Client, envelope: dict[str, Any], recipient_id: int, **headers: str) -> Any:
    """POST the seal call; what runs after its commit (the completion) runs too."""
    path = SEAL_PATH.format(envelope_id=envelope["id"], recipient_id=recipient_id)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post(path, **extra)


def _seal_step(envelope: dict[str, Any]) -> int:
    return next(r["id"] for r in envelope["recipients"] if r["role"] == "seal")


# transaction=True: the verification of the final PDF reads the platform in another thread.
@pytest.mark.django_db(transaction=True)
def test_a_granted_key_seals_its_own_step(
    world: dict[str, Any], openapi: dict[str, Any], tmp_path: Path
) -> None:
    grant = _grant(world)
    envelope = _envelope(world)
    row = Envelope.objects.get(uuid=envelope["id"])
    sign(row.recipients.get(role=Recipient.Role.SIGN), world["bob"])
    answer = _seal(world["api"], envelope, _seal_step(envelope), **{"Idempotency-Key": "seal-1"})
    check_openapi(openapi, SEAL_PATH, "post", answer)
    assert answer.status_code == 200, answer.content
    sealed_step = next(r for r in json.loads(answer.content)["recipients"] if r["role"] == "seal")
    assert sealed_step["status"] == "done"
    got = world["api"].get(f"/api/v1/envelopes/{envelope['id']}")
    assert json.loads(got.content)["status"] == "completed"
    # The signed PDF: the seal's certificate signed it, intact and trusted.
    row.refresh_from_db()
    step = row.recipients.get(role=Recipient.Role.SEAL)
    assert step.status == Recipient.Status.DONE and step.acted_by is None
    assert step.seal == world["seal"] and step.org == world["org"]
    document = row.documents.get()
    # Valid, trusted, B-LTA for our verifier, pyHanko's ETSI validation and poppler's pdfsig.
    report = check_final_pdf(document.current.read(), tmp_path)
    signatures = [s for s in report.signatures if s.kind == "signature"]
    assert {s.organisation for s in signatures} == {"", BUYER}
    sealed = [s for s in signatures if s.organisation == BUYER]
    assert all(s.organisation_id == world["org"].credit_code for s in sealed)
    # 用印记录 names the key, and so do the organisation's log and the audit trail.
    usage = SealUsage.objects.get(seal=world["seal"])
    assert usage.user is None and usage.grant == grant and usage.reference == row.number
    used = OrgEvent.objects.filter(org=world["org"], action="seal_used").get()
    assert used.detail["api_key"] == str(world["key"])
    event = AuditEvent.objects.get(envelope=row, action="sealed")
    assert event.actor is None and "采购系统" in event.actor_name
    assert event.detail["confirmation"] == "api_key"
    assert check_chain(row) is None
    admin = logged_in(world["alice"])
    usage_page = admin.get(f"/orgs/{world['org'].uuid}/usage/").content.decode()
    assert "API 密钥“采购系统”" in usage_page
    grants_page = admin.get(f"/orgs/{world['org'].uuid}/grants/").content.decode()
    assert "API 密钥“采购系统”" in grants_page
    # A replay with the same Idempotency-Key is the stored answer; nothing is sealed twice.
    again = _seal(world["api"], envelope, _seal_step(envelope), **{"Idempotency-Key": "seal-1"})
    assert again.status_code == 200
    assert SealUsage.objects.count() == 1
    # Without the key (a fresh Idempotency-Key): the step is done, 409.
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 409, "not_your_turn")


def test_no_grant_no_seal(world: dict[str, Any]) -> None:
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    body = problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")
    assert "没有获得印章授权" in body["detail"]
    assert SealUsage.objects.count() == 0


def test_not_before_the_steps_turn_and_never_a_persons_step(world: dict[str, Any]) -> None:
    _grant(world)
    envelope = _envelope(world)
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 409, "not_your_turn")
    person = next(r["id"] for r in envelope["recipients"] if r["role"] == "signer")
    problem_of(_seal(world["api"], envelope, person), 403, "seal_not_allowed")
    assert Envelope.objects.get(uuid=envelope["id"]).recipients.filter(status="done").count() == 0
    assert SealUsage.objects.count() == 0


def test_a_same_named_organisation_s_step_is_not_ours(world: dict[str, Any]) -> None:
    """Another organisation with the same name (another credit code): its seal step is bound to
    it; our key's seal does not fit, and the step stays open."""
    twin = make_verified_org(make_signer("charlie"), name=BUYER, credit_code=valid_credit_code())
    _grant(world)
    envelope = _envelope(world, org={"name": BUYER, "credit_code": twin.credit_code})
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")
    step = Recipient.objects.get(pk=_seal_step(envelope))
    assert step.status != Recipient.Status.DONE and SealUsage.objects.count() == 0


def test_another_organisation_s_key_cannot_reach_the_envelope(world: dict[str, Any]) -> None:
    charlie = make_signer("charlie")
    other = make_verified_org(charlie, name=BUYER, credit_code=valid_credit_code())
    other_key, plain = do_create_api_key(
        other, name="采购系统", scopes=list(Scope.values), actor=charlie, meta=TASK
    )
    do_grant_seal_to_key(
        other_key,
        make_seal(other, charlie),
        valid_until=timezone.now() + dt.timedelta(days=3),
        actor=charlie,
        meta=TASK,
    )
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    intruder = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    problem_of(_seal(intruder, envelope, _seal_step(envelope)), 404, "not_found")
    # A key can never hold another organisation's seal either.
    with pytest.raises(GrantError):
        _grant(world, key=other_key)
    assert SealUsage.objects.count() == 0


def test_revoked_grant_revoked_key_and_a_read_only_key(world: dict[str, Any]) -> None:
    from qianshu.orgs.actions.grants import do_revoke_grant

    grant = _grant(world)
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    do_revoke_grant(grant, actor=world["alice"], meta=TASK)
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")
    # A new grant, then the key revoked: the grant goes with it, and the key is refused.
    _grant(world)
    do_revoke_api_key(world["key"], actor=world["alice"], meta=TASK)
    assert not SealGrant.objects.filter(api_key=world["key"], status="active").exists()
    assert _seal(world["api"], envelope, _seal_step(envelope)).status_code == 401
    # A read-only key of the same organisation, even if it held a grant, may not write.
    reader, plain = do_create_api_key(
        world["org"], name="报表", scopes=["envelopes:read"], actor=world["alice"], meta=TASK
    )
    _grant(world, key=reader)
    read_only = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    problem_of(_seal(read_only, envelope, _seal_step(envelope)), 403, "scope_missing")
    assert SealUsage.objects.count() == 0


def test_an_expired_grant_and_a_disabled_seal(world: dict[str, Any]) -> None:
    grant = _grant(world)
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    SealGrant.objects.filter(pk=grant.pk).update(valid_until=timezone.now())
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")
    SealGrant.objects.filter(pk=grant.pk).update(valid_until=timezone.now() + dt.timedelta(1))
    Seal.objects.filter(pk=world["seal"].pk).update(status=Seal.Status.DISABLED)
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")
    assert SealUsage.objects.count() == 0


def test_what_may_never_be_granted_to_a_key(world: dict[str, Any]) -> None:
    legal_rep = make_seal(world["org"], world["alice"], kind=Seal.Kind.LEGAL_REP)
    with pytest.raises(GrantError, match="法定代表人章"):
        _grant(world, seal=legal_rep)
    _grant(world)
    official = make_seal(world["org"], world["alice"], kind=Seal.Kind.OFFICIAL)
    with pytest.raises(GrantError, match="一个密钥只能授权一枚印章"):
        _grant(world, seal=official)
    with pytest.raises(GrantError):
        do_grant_seal_to_key(
            world["key"],
            official,
            valid_until=timezone.now() - dt.timedelta(seconds=1),
            actor=world["alice"],
            meta=TASK,
        )
    # A legal representative's seal granted to a key behind the action's back is refused at use.
    SealGrant.objects.filter(api_key=world["key"]).update(seal=legal_rep)
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    problem_of(_seal(world["api"], envelope, _seal_step(envelope)), 403, "seal_not_allowed")


def test_granting_on_the_keys_page(world: dict[str, Any]) -> None:
    """Only the organisation's administrator grants, after a fresh re-authentication; the
    page shows the grant and revokes it."""
    page = f"/orgs/{world['org'].uuid}/api-keys/"
    post = {
        "op": "grant-seal",
        "key": world["key"].prefix,
        "seal": str(world["seal"].uuid),
        "valid_until": (timezone.localdate() + dt.timedelta(days=10)).isoformat(),
    }
    stale = logged_in(world["alice"], reauth=False).post(page, post)
    assert stale.status_code == 302 and "reauth" in stale["Location"]
    assert not SealGrant.objects.filter(api_key__isnull=False).exists()
    # A member who is not an administrator, and another organisation's administrator: 404.
    assert logged_in(world["bob"]).post(page, post).status_code == 404
    outsider = make_signer("charlie")
    make_verified_org(outsider, name="上海其他科技有限公司")
    assert logged_in(outsider).post(page, post).status_code == 404
    admin = logged_in(world["alice"])
    assert admin.post(page, post).status_code == 302
    grant = SealGrant.objects.get(api_key=world["key"])
    assert grant.seal == world["seal"] and grant.granted_by == world["alice"]
    shown = admin.get(page).content.decode()
    assert "API 用印" in shown and world["seal"].name in shown
    # Another organisation's seal posted for our key is refused with a message.
    other_seal = make_seal(Organization.objects.get(name="上海其他科技有限公司"), outsider)
    refused = admin.post(page, {**post, "seal": str(other_seal.uuid)}, follow=True)
    assert "请选择本组织启用中的印章" in refused.content.decode()
    revoked = admin.post(page, {"op": "revoke-seal", "key": world["key"].prefix}, follow=True)
    assert "已撤销" in revoked.content.decode()
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.REVOKED and grant.revoked_by == world["alice"]
    revoked_event = OrgEvent.objects.get(org=world["org"], action="seal_grant_revoked")
    assert revoked_event.detail["api_key"] == str(world["key"])
    assert "grantee" not in revoked_event.detail


def test_seals_show_which_one_the_key_holds(world: dict[str, Any]) -> None:
    listed = json.loads(world["api"].get("/api/v1/orgs/me/seals").content)
    assert [s["granted_to_this_key"] for s in listed] == [False]
    _grant(world)
    listed = json.loads(world["api"].get("/api/v1/orgs/me/seals").content)
    assert [s["granted_to_this_key"] for s in listed] == [True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_seal_calls_at_once_seal_once(world: dict[str, Any]) -> None:
    """Two processes of the caller seal the same step at the same moment, with different
    Idempotency-Keys: one seals, the other is told the step is done; one 用印记录 row."""
    import threading

    from django.db import connection

    from qianshu.api.actions.seals import do_seal_step
    from qianshu.envelopes.errors import NotYourTurn

    _grant(world)
    envelope = _envelope(world)
    sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), world["bob"])
    step = Recipient.objects.get(pk=_seal_step(envelope))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(submission: str) -> None:
        try:
            barrier.wait(timeout=30)
            do_seal_step(world["key"], step, submission=submission, meta=TASK)
            outcomes.append("sealed")
        except NotYourTurn:
            outcomes.append("refused")
        except BaseException as exc:  # anything else fails the test below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"race-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["refused", "sealed"]
    assert SealUsage.objects.filter(seal=world["seal"]).count() == 1
