"""An organisation is who it says it is (issue 10, item 1), tried as an attacker would.

The attack reproduced: a verified person creates an organisation with the name of the demo's
verified 示例科技有限公司 and another well-formed credit code, declares themself its legal
representative, confirms with ``action=self`` — and used to get a verified organisation, seals
and seal certificates in that company's name. Now every method's proof (the legal
representative's approval, either corporate transfer) verifies an organisation only with a
business-registry pass for its exact data and no verified organisation of the same name;
otherwise an operator decides, sees the namesakes with their credit codes, and the namesakes'
administrators are told.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.actions import seals as seal_actions
from qianshu.orgs.actions.verification import do_update_org, mark_verified
from qianshu.orgs.models import Organization, OrgEvent, OrgVerification, Seal
from qianshu.orgs.providers import sandbox as bank_sandbox
from qianshu.orgs.registry_checks import SAME_NAME_ALERTS_PER_DAY
from qianshu.orgs.seal_specs import build_spec, default_params
from qianshu.orgs.seals import SealError
from qianshu.orgs.verification import NeedsOperator, OrgAlreadyVerified
from qianshu.pki.models import IssuedCertificate
from tests.orgs.conftest import client_for
from tests.orgs.test_verification import (
    authorisation_path,
    create,
    enter_amount,
    events,
    paid_amount,
    request_deposit,
)
from tests.support.accounts import latest_sms
from tests.support.personas import make_verified_person, valid_credit_code

pytestmark = pytest.mark.django_db

Status = Organization.Status
VStatus = OrgVerification.Status
Registry = OrgVerification.Registry

EXISTING = "示例科技有限公司"
EXISTING_CODE = valid_credit_code("91110108MA01D3ME7")  # the demo's code
IMPOSTOR_PHONE = "13800000031"
IMPOSTOR_NAME = "冒名者"


@pytest.fixture
def existing(
    pki: None, verified_person: Callable[..., User], verified_org: Callable[..., Organization]
) -> Organization:
    """The real 示例科技有限公司: verified, charlie (张查理) its administrator."""
    admin = verified_person("charlie")
    return verified_org(admin, name=EXISTING, credit_code=EXISTING_CODE, legal_rep_name="张查理")


@pytest.fixture
def impostor(db: Any) -> User:
    """A verified person who claims to be the legal representative of a company."""
    return make_verified_person(IMPOSTOR_NAME, IMPOSTOR_PHONE)


def claim(impostor: User, *, name: str = EXISTING, **extra: Any) -> tuple[Client, Organization]:
    """The impostor creates an organisation (a fresh, well-formed credit code by default)
    declaring themself the legal representative."""
    client = client_for(impostor)
    response = create(client, name=name, legal_rep_name=IMPOSTOR_NAME, **extra)
    assert response.status_code == 302, response.content.decode()
    return client, Organization.objects.filter(created_by=impostor).latest("created_at", "id")


def self_authorise(client: Client, org: Organization) -> str:
    response = client.post(f"/orgs/{org.uuid}/verify/legal-rep/", {"action": "self"})
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def assert_waits_for_an_operator(org: Organization, evidence: str) -> OrgVerification:
    org.refresh_from_db()
    assert (org.status, org.needs_review) == (Status.PENDING, True)
    assert org.verified_at is None
    verification = org.verifications.get(status=VStatus.REVIEW)
    assert verification.evidence == evidence and verification.evidence_at is not None
    assert "org_verified" not in events(org)
    assert events(org)[-1] == "review_required"
    return verification


def assert_no_seal_can_be_made(client: Client, org: Organization) -> None:
    certificates = IssuedCertificate.objects.count()
    response = client.post(
        f"/orgs/{org.uuid}/seals/new/", {"kind": "contract", "name": "合同专用章"}
    )
    assert response.status_code == 403
    with pytest.raises(SealError):
        params = default_params(org, Seal.Kind.CONTRACT)
        seal_actions.do_create_generated_seal(
            org,
            kind=Seal.Kind.CONTRACT,
            name="合同专用章",
            spec=build_spec(org, params),
            params=params,
            actor=org.created_by,
            meta=TASK,
        )
    assert not Seal.objects.filter(org=org).exists()
    assert IssuedCertificate.objects.count() == certificates


def same_name_alerts(org: Organization) -> list[OrgEvent]:
    return list(OrgEvent.objects.filter(org=org, action="same_name_claimed"))


# --- the reproduced attack -------------------------------------------------------------------


def test_an_impostor_of_a_verified_name_is_not_verified_by_self_authorisation(
    existing: Organization, impostor: User, operator: User
) -> None:
    client, org = claim(impostor)
    assert org.credit_code != existing.credit_code
    page = client.get(f"/orgs/{org.uuid}/verify/").content.decode()
    assert "平台上已有同名的已认证组织" in page

    page = self_authorise(client, org)
    assert "已转人工审核" in page and "认证成功" not in page
    verification = assert_waits_for_an_operator(org, "legal_rep_approved")
    # The registry (sandbox) confirmed the impostor's own data: the name decides.
    assert verification.registry_result == Registry.PASSED
    assert OrgEvent.objects.get(org=org, action="review_required").detail["reasons"] == [
        "same_name"
    ]
    assert not OutboxMessage.objects.filter(kind="org_verified").exists()
    # The real company's administrators are told, once; its log names the claimant.
    sms = latest_sms(existing.created_by.phone, "org_same_name")
    assert EXISTING in sms.body
    [alert] = same_name_alerts(existing)
    assert alert.actor is None and alert.ip is None
    assert alert.detail["claimant"] == str(org.uuid)
    assert alert.detail["claimant_identifier"] == org.credit_code
    self_authorise(client, org)
    assert OutboxMessage.objects.filter(kind="org_same_name").count() == 1
    assert len(same_name_alerts(existing)) == 1

    assert_no_seal_can_be_made(client, org)

    # The operator sees the namesake with its credit code, the registry and the proof.
    staff = client_for(operator)
    assert EXISTING in staff.get("/backoffice/orgs/").content.decode()
    review = staff.get(f"/backoffice/orgs/{org.uuid}/").content.decode()
    assert "平台上已有同名的已认证组织" in review and existing.credit_code in review
    assert "工商登记信息一致" in review and "法定代表人已确认授权" in review
    assert IMPOSTOR_NAME in review
    staff.post(
        f"/backoffice/orgs/{org.uuid}/decide/",
        {"decision": "reject", "reason": "冒用他人名称"},
    )
    org.refresh_from_db()
    assert org.status == Status.REJECTED
    assert "冒用他人名称" in latest_sms(IMPOSTOR_PHONE, "org_rejected").body
    assert Organization.objects.filter(name=EXISTING, status=Status.VERIFIED).count() == 1


def test_other_spellings_of_the_name_are_the_same_name(
    existing: Organization, impostor: User
) -> None:
    client, org = claim(impostor, name="示例科技 有限公司")
    self_authorise(client, org)
    assert_waits_for_an_operator(org, "legal_rep_approved")
    assert same_name_alerts(existing)


def test_a_legal_representative_the_registry_does_not_know_is_refused(
    impostor: User,
) -> None:
    client, org = claim(
        impostor, name="北京冒名科技有限公司", credit_code=valid_credit_code("91110108MA01XXXX2")
    )
    page = self_authorise(client, org)
    assert "工商登记信息核验未通过" in page
    assert "法定代表人与工商登记的法定代表人不一致" in page
    org.refresh_from_db()
    assert org.status == Status.REJECTED and "法定代表人" in org.rejected_reason
    attempt = org.verifications.get()
    assert (attempt.status, attempt.registry_result) == (VStatus.FAILED, Registry.FAILED)
    assert attempt.registry_checked["legal_rep_name"] == IMPOSTOR_NAME
    assert events(org) == ["org_created", "registry_checked", "registry_refused"]
    # Nor can the SMS path start: no link goes out.
    response = client.post(
        f"/orgs/{org.uuid}/verify/legal-rep/", {"action": "send", "phone": "13800000021"}
    )
    assert (
        "法定代表人与工商登记的法定代表人不一致"
        in client.get(response["Location"]).content.decode()
    )
    assert not OutboxMessage.objects.filter(kind="legal_rep_authorisation").exists()
    assert "认证未通过" in client.get(f"/orgs/{org.uuid}/verify/").content.decode()


# --- the other methods -----------------------------------------------------------------------


def test_the_micro_deposit_of_an_impostor_waits_for_an_operator(
    existing: Organization, impostor: User
) -> None:
    client, org = claim(impostor)
    assert request_deposit(client, org).status_code == 302
    response = enter_amount(client, org, paid_amount(org))
    assert "已转人工审核" in client.get(response["Location"]).content.decode()
    assert_waits_for_an_operator(org, "deposit_confirmed")
    assert latest_sms(existing.created_by.phone, "org_same_name")


def test_the_registry_is_asked_before_the_bank_pays(impostor: User) -> None:
    client, org = claim(impostor, credit_code=valid_credit_code("91110108MA01XXXX1"))
    response = request_deposit(client, org)
    assert "未查询到该统一社会信用代码" in client.get(response["Location"]).content.decode()
    attempt = org.verifications.get()
    assert attempt.status == VStatus.FAILED and attempt.provider_ref == ""
    assert "deposit_paid" not in events(org)


def test_the_payment_of_an_impostor_to_the_platform_waits_for_an_operator(
    existing: Organization, impostor: User, operator: User
) -> None:
    client, org = claim(impostor)
    url = f"/orgs/{org.uuid}/verify/platform-deposit/"
    client.post(url, {"action": "request"})
    payment = org.verifications.get()
    bank_sandbox.mark_incoming(payment.reference_code, payment.amount_fen or 0, org.name)
    response = client.post(url, {"action": "check"})
    assert "已转人工审核" in client.get(response["Location"]).content.decode()
    assert_waits_for_an_operator(org, "platform_deposit_received")
    # An operator who decides the namesake is genuine (e.g. a branch) approves knowingly.
    client_for(operator).post(f"/backoffice/orgs/{org.uuid}/decide/", {"decision": "approve"})
    org.refresh_from_db()
    assert org.status == Status.VERIFIED and org.method == "deposit_to_platform"
    approved = OrgEvent.objects.get(org=org, action="operator_approved")
    assert approved.actor == operator
    assert approved.detail["same_name"] == [str(existing.uuid)]
    assert approved.detail["registry"] == Registry.PASSED
    assert approved.detail["evidence"] == "platform_deposit_received"


def test_the_legal_representatives_approval_by_link_waits_for_an_operator(
    existing: Organization, verified_person: Callable[..., User]
) -> None:
    admin = make_verified_person("王管理", "13800000032")
    client = client_for(admin)
    assert create(client, name=EXISTING, legal_rep_name="赵法人").status_code == 302
    org = Organization.objects.get(created_by=admin)
    client.post(f"/orgs/{org.uuid}/verify/legal-rep/", {"action": "send", "phone": "13800000021"})
    path = authorisation_path("13800000021")
    rep = client_for(verified_person("赵法人", "13800000021"))
    page = rep.post(path, {"decision": "approve"}).content.decode()
    assert "已同意授权" in page and "已转平台人工审核" in page
    verification = assert_waits_for_an_operator(org, "legal_rep_approved")
    assert verification.evidence_by is not None and verification.evidence_by.phone == "13800000021"
    # The link is used up: a second approval changes nothing.
    assert rep.post(path, {"decision": "approve"}).status_code == 200
    assert OrgVerification.objects.get(pk=verification.pk).status == VStatus.REVIEW


# --- without a registry answer ---------------------------------------------------------------


def test_without_a_registry_every_organisation_goes_to_an_operator(
    impostor: User, operator: User, settings: Any
) -> None:
    settings.QIANSHU_REGISTRY_PROVIDER = "none"
    client, org = claim(impostor, name="北京独一无二科技有限公司")
    page = self_authorise(client, org)
    assert "工商登记信息尚未核验通过" in page
    verification = assert_waits_for_an_operator(org, "legal_rep_approved")
    assert verification.registry_result == Registry.UNAVAILABLE
    status = client.get(f"/orgs/{org.uuid}/verify/").content.decode()
    assert "未接入工商登记核验" in status and "重新核验工商登记信息" not in status
    assert "registry_checked" not in events(org)  # nobody was asked
    client_for(operator).post(f"/backoffice/orgs/{org.uuid}/decide/", {"decision": "approve"})
    org.refresh_from_db()
    assert org.status == Status.VERIFIED and org.method == "legal_rep"
    verified = OrgEvent.objects.get(org=org, action="org_verified")
    assert verified.actor == operator and verified.detail["by_operator"] is True


def test_a_registry_that_comes_back_verifies_on_recheck(impostor: User, settings: Any) -> None:
    settings.QIANSHU_REGISTRY_PROVIDER = "none"
    client, org = claim(impostor, name="北京独一无二科技有限公司")
    self_authorise(client, org)
    settings.QIANSHU_REGISTRY_PROVIDER = "sandbox"
    assert "重新核验工商登记信息" in client.get(f"/orgs/{org.uuid}/verify/").content.decode()
    response = client.post(f"/orgs/{org.uuid}/verify/registry/")
    assert "组织已通过认证" in client.get(response["Location"]).content.decode()
    org.refresh_from_db()
    assert org.status == Status.VERIFIED and not org.needs_review
    assert events(org)[-3:] == ["registry_checked", "registry_rechecked", "org_verified"]
    # Nothing left to recheck.
    response = client.post(f"/orgs/{org.uuid}/verify/registry/")
    assert client.get(response["Location"]).status_code == 200
    assert events(org)[-1] == "org_verified"


def test_a_registry_error_keeps_the_proof_for_an_operator(impostor: User) -> None:
    client, org = claim(impostor, credit_code=valid_credit_code("91110108MA01XXXX9"))
    self_authorise(client, org)
    verification = assert_waits_for_an_operator(org, "legal_rep_approved")
    assert verification.registry_result == Registry.ERROR
    assert "暂时不可用" in verification.registry_reason
    response = client.post(f"/orgs/{org.uuid}/verify/registry/")
    assert "暂时不可用" in client.get(response["Location"]).content.decode()
    verification.refresh_from_db()
    assert verification.status == VStatus.REVIEW and verification.evidence == "legal_rep_approved"
    assert events(org).count("registry_checked") == 2


def test_a_recheck_that_fails_ends_the_attempt(impostor: User, settings: Any) -> None:
    settings.QIANSHU_REGISTRY_PROVIDER = "none"
    client, org = claim(impostor, credit_code=valid_credit_code("91110108MA01XXXX3"))
    self_authorise(client, org)
    settings.QIANSHU_REGISTRY_PROVIDER = "sandbox"
    response = client.post(f"/orgs/{org.uuid}/verify/registry/")
    assert "名称不一致" in client.get(response["Location"]).content.decode()
    org.refresh_from_db()
    assert org.status == Status.REJECTED and not org.needs_review
    assert org.verifications.get().status == VStatus.FAILED


def test_an_overseas_organisation_always_goes_to_an_operator(impostor: User) -> None:
    client, org = claim(
        impostor, name="HK Star Ltd", kind="overseas", credit_code="", registration_number="2345678"
    )
    self_authorise(client, org)
    verification = assert_waits_for_an_operator(org, "legal_rep_approved")
    assert verification.registry_result == Registry.OVERSEAS
    assert "registry_checked" not in events(org)


# --- limits and guards -----------------------------------------------------------------------


def test_a_pass_is_reused_and_registry_calls_are_limited(impostor: User, settings: Any) -> None:
    client, org = claim(impostor, name="北京独一无二科技有限公司")
    url = f"/orgs/{org.uuid}/verify/legal-rep/"
    client.post(url, {"action": "send", "phone": "13800000021"})
    client.post(url, {"action": "send", "phone": "13800000021"})
    assert events(org).count("registry_checked") == 1  # the same data: the pass is reused
    assert [v.registry_result for v in org.verifications.all()] == [Registry.PASSED] * 2

    settings.QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY = 1
    client.post(f"/orgs/{org.uuid}/edit/", {**_edit(org), "legal_rep_name": "另一个人"})
    client.post(url, {"action": "send", "phone": "13800000021"})
    latest = org.verifications.latest("created_at", "id")
    assert latest.registry_result == Registry.ERROR and "次数已用完" in latest.registry_reason
    assert events(org).count("registry_checked") == 1


def _edit(org: Organization) -> dict[str, str]:
    return {
        "kind": org.kind,
        "name": org.name,
        "credit_code": org.credit_code,
        "registration_number": "",
        "legal_rep_name": org.legal_rep_name,
        "licence": "",
    }


def test_alerts_to_the_namesake_are_limited(existing: Organization) -> None:
    for index in range(SAME_NAME_ALERTS_PER_DAY + 1):
        person = make_verified_person(IMPOSTOR_NAME, f"1380000005{index}")
        client, org = claim(person)
        client.post(f"/orgs/{org.uuid}/verify/manual/")
    assert len(same_name_alerts(existing)) == SAME_NAME_ALERTS_PER_DAY + 1
    sent = OutboxMessage.objects.filter(kind="org_same_name").count()
    assert sent == SAME_NAME_ALERTS_PER_DAY


def test_mark_verified_refuses_without_a_pass(impostor: User) -> None:
    _client, org = claim(impostor, name="北京独一无二科技有限公司")
    attempt = OrgVerification.objects.create(org=org, method="legal_rep", created_by=impostor)
    with pytest.raises(NeedsOperator):
        mark_verified(org, attempt, actor=impostor, meta=TASK)
    org.refresh_from_db()
    assert org.status == Status.DRAFT


def test_a_verified_organisation_keeps_its_identity(
    existing: Organization,
) -> None:
    admin = existing.created_by
    client = client_for(admin)
    response = client.post(
        f"/orgs/{existing.uuid}/edit/",
        {**_edit(existing), "name": "另一家公司", "legal_rep_name": "别人", "kind": "government"},
    )
    assert response.status_code == 302
    existing.refresh_from_db()
    assert (existing.name, existing.legal_rep_name, existing.kind) == (
        EXISTING,
        "张查理",
        "enterprise",
    )
    assert existing.credit_code == EXISTING_CODE
    with pytest.raises(OrgAlreadyVerified):
        do_update_org(
            existing,
            kind="enterprise",
            name="另一家公司",
            credit_code=valid_credit_code(),
            registration_number="",
            legal_rep_name="别人",
            licence=None,
            actor=admin,
            meta=TASK,
        )
    existing.refresh_from_db()
    assert existing.name == EXISTING


def test_the_same_credit_code_is_still_refused(existing: Organization, impostor: User) -> None:
    response = create(client_for(impostor), name="别的名字", credit_code=EXISTING_CODE)
    assert response.status_code == 400 and "已有组织完成认证" in response.content.decode()


# --- a race between two namesakes (PostgreSQL) ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_namesakes_verifying_at_once_do_not_both_get_through(
    pki: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both check for a verified namesake before either commits, unless the name is locked:
    each attempt waits (at most 3 s) after its check for the other one to check too."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier, BrokenBarrierError

    from django.db import connection

    from qianshu.orgs.actions import verification
    from qianshu.orgs.actions.legal_rep import do_authorise_as_legal_rep
    from tests.support.personas import make_verified_org

    people = [make_verified_person("同名人", f"1380000006{i}") for i in range(2)]
    orgs = [
        make_verified_org(
            p, name="北京同名科技有限公司", legal_rep_name="同名人", status=Status.DRAFT
        )
        for p in people
    ]
    start, window = Barrier(2), Barrier(2)
    real_reasons = verification.review_reasons

    def reasons_then_wait(org: Organization, attempt: OrgVerification) -> list[str]:
        reasons = real_reasons(org, attempt)
        try:
            window.wait(timeout=3)
        except BrokenBarrierError:
            pass  # the other attempt waits for the name lock: go on alone
        return reasons

    monkeypatch.setattr(verification, "review_reasons", reasons_then_wait)

    def authorise(index: int) -> str:
        start.wait()
        try:
            return do_authorise_as_legal_rep(orgs[index], actor=people[index], meta=TASK).status
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(authorise, range(2)))
    assert results == [VStatus.REVIEW, VStatus.SUCCEEDED]
    assert Organization.objects.filter(status=Status.VERIFIED).count() == 1
