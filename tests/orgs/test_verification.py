"""组织机构认证 through the views: creating an organisation (credit codes, who may create),
法定代表人认证, 对公打款 in both directions, manual review in the back office, and who may see
the verification pages and the licence."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import Membership, Organization, OrgEvent, OrgVerification
from qianshu.orgs.providers import sandbox as bank_sandbox
from qianshu.orgs.verification_deposits import account_number, amount_hmac
from qianshu.signing.pki import validate_credit_code
from tests.orgs.conftest import client_for, licence_pdf, licence_png
from tests.support.accounts import latest_sms, make_user
from tests.support.personas import valid_credit_code

pytestmark = pytest.mark.django_db

Status = Organization.Status
VStatus = OrgVerification.Status

# Codes printed on real, public business licences (each checked to pass GB 32100 below).
PUBLIC_CODES = [
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "914403001922038216",  # 华为技术有限公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91310000132200821H",  # 上海汽车集团股份有限公司
]
COMPANY = "北京星河测试科技有限公司"


def org_data(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "enterprise",
        "name": COMPANY,
        "credit_code": valid_credit_code(),
        "registration_number": "",
        "legal_rep_name": "赵法人",
        "licence": SimpleUploadedFile("licence.png", licence_png(), content_type="image/png"),
        "privacy": "on",
    }
    data.update(extra)
    return data


def create(client: Client, **extra: Any) -> Any:
    return client.post("/orgs/new/", org_data(**extra))


def events(org: Organization) -> list[str]:
    return list(org.events.order_by("created_at", "id").values_list("action", flat=True))


@pytest.fixture
def admin(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")  # verified as 王爱丽


@pytest.fixture
def draft_org(admin: User) -> Organization:
    response = create(client_for(admin))
    assert response.status_code == 302, response.content.decode()
    return Organization.objects.get(name=COMPANY)


# --- creating -------------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLIC_CODES)
def test_public_credit_codes_are_accepted(admin: User, code: str) -> None:
    assert validate_credit_code(code)
    response = create(client_for(admin), credit_code=code.lower())
    org = Organization.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{org.uuid}/verify/"
    assert org.credit_code == code  # normalised to upper case
    assert org.status == Status.DRAFT
    assert org.created_by == admin
    assert Membership.objects.get(org=org).role == Membership.Role.ADMIN
    assert org.licence is not None and org.licence.content_type == "image/png"
    assert events(org) == ["org_created"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("9144030071526726XA", "校验位不正确"),  # last character changed
        ("9144030071526727XG", "校验位不正确"),  # one digit changed
        ("9144300071526726XG", "校验位不正确"),  # two digits swapped
        ("914403007152672", "应为 18 位"),
        ("9144030071526726XGX", "应为 18 位"),
        ("9144030071526726IO", "只包含数字和大写字母"),
        ("", "请输入统一社会信用代码"),
    ],
)
def test_corrupted_credit_codes_are_refused(admin: User, code: str, message: str) -> None:
    response = create(client_for(admin), credit_code=code)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Organization.objects.exists()


def test_an_overseas_organisation_gives_a_registration_number(admin: User) -> None:
    client = client_for(admin)
    response = create(client, kind="overseas", credit_code="", registration_number="")
    assert response.status_code == 400
    assert "请输入注册号码" in response.content.decode()
    response = create(
        client, kind="overseas", name="HK Star Ltd", credit_code="x", registration_number="2345678"
    )
    assert response.status_code == 302
    org = Organization.objects.get()
    assert (org.credit_code, org.registration_number) == ("", "2345678")


def test_an_unverified_person_cannot_create(alice: User) -> None:
    client = client_for(alice)
    page = client.get("/orgs/new/").content.decode()
    assert "只有完成个人实名认证的用户才能创建组织" in page
    assert "/me/identity/" in page  # a link to 实名认证
    response = create(client)
    assert response.status_code == 200
    assert not Organization.objects.exists()
    assert "创建组织前需要先完成个人实名认证" in client.get("/orgs/").content.decode()


def test_a_credit_code_of_a_verified_organisation_is_taken(
    admin: User, verified_org: Callable[..., Organization], verified_person: Callable[..., User]
) -> None:
    other = verified_person("张伟", "13800000011")
    verified_org(other, credit_code=PUBLIC_CODES[0])
    response = create(client_for(admin), credit_code=PUBLIC_CODES[0])
    assert response.status_code == 400
    assert "已有组织完成认证" in response.content.decode()
    assert Organization.objects.count() == 1


def test_my_organisations_list(admin: User, draft_org: Organization) -> None:
    page = client_for(admin).get("/orgs/").content.decode()
    assert COMPANY in page and "管理员" in page and "待认证" in page and "创建组织" in page


def test_the_licence_is_shown_to_administrators_only(
    admin: User,
    draft_org: Organization,
    bob: User,
    charlie: User,
    verified_org: Callable[..., Organization],
) -> None:
    Membership.objects.create(org=draft_org, user=bob, role=Membership.Role.SEAL_KEEPER)
    verified_org(charlie, name="查理的公司")
    base = f"/orgs/{draft_org.uuid}"
    response = client_for(admin).get(f"{base}/licence/preview/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    assert b"".join(response) == licence_png()
    for outsider in (bob, charlie):
        client = client_for(outsider)
        for path in (
            "/verify/",
            "/verify/legal-rep/",
            "/verify/deposit/",
            "/verify/platform-deposit/",
            "/licence/",
            "/licence/preview/",
            "/edit/",
            "/verify/sandbox-bank/",
        ):
            assert client.get(base + path).status_code == 404, (outsider, path)
        assert client.post(base + "/verify/manual/").status_code == 404
        assert client.post(base + "/verify/deposit/", {"action": "request"}).status_code == 404
    assert Client().get(base + "/licence/").status_code == 302  # to the login page


def test_a_pdf_licence_is_previewed_as_its_first_page(admin: User) -> None:
    client = client_for(admin)
    upload = SimpleUploadedFile("执照.pdf", licence_pdf(), content_type="application/pdf")
    assert create(client, licence=upload).status_code == 302
    org = Organization.objects.get()
    preview = client.get(f"/orgs/{org.uuid}/licence/preview/")
    assert preview["Content-Type"] == "image/png"
    assert b"".join(preview).startswith(b"\x89PNG")
    original = client.get(f"/orgs/{org.uuid}/licence/")
    assert original["Content-Type"] == "application/pdf"
    assert original["Content-Disposition"].startswith("attachment")
    assert "PDF 第 1 页" in client.get(f"/orgs/{org.uuid}/verify/").content.decode()


def test_the_verify_page_offers_the_manuals_methods(admin: User, draft_org: Organization) -> None:
    page = client_for(admin).get(f"/orgs/{draft_org.uuid}/verify/").content.decode()
    assert "（推荐）法定代表人认证" in page
    assert "对公打款认证：平台给我打款" in page and "对公打款认证：我给平台打款" in page
    assert "需法定代表人在线确认授权并完成身份确认" in page
    assert f"/orgs/{draft_org.uuid}/licence/preview/" in page  # the licence inline
    response = client_for(admin).post(
        f"/orgs/{draft_org.uuid}/verify/", {"method": "deposit_to_org"}
    )
    assert response["Location"] == f"/orgs/{draft_org.uuid}/verify/deposit/"


# --- 平台给我打款 ------------------------------------------------------------------------


def request_deposit(client: Client, org: Organization, **extra: str) -> Any:
    data = {
        "action": "request",
        "bank_name": "中国工商银行北京分行",
        "account_name": org.name,
        "account_number": "6222 0200 1234 5678 901",
        **extra,
    }
    return client.post(f"/orgs/{org.uuid}/verify/deposit/", data)


def paid_amount(org: Organization) -> int:
    transfer = org.verifications.filter(method="deposit_to_org").latest("created_at", "id")
    entry = bank_sandbox.micro_deposit(transfer.provider_ref)
    assert entry is not None
    return int(entry["amount_fen"])


def enter_amount(client: Client, org: Organization, fen: int) -> Any:
    return client.post(
        f"/orgs/{org.uuid}/verify/deposit/", {"action": "confirm", "amount": f"0.{fen:02d}"}
    )


def test_micro_deposit_right_amount_verifies(admin: User, draft_org: Organization) -> None:
    client = client_for(admin)
    assert request_deposit(client, draft_org).status_code == 302
    transfer = OrgVerification.objects.get(org=draft_org)
    fen = paid_amount(draft_org)
    # Only an HMAC of the amount and the encrypted account number are stored.
    assert transfer.amount_fen is None and transfer.amount_hmac == amount_hmac(transfer.uuid, fen)
    assert transfer.account_number_encrypted is not None
    assert b"6222020012345678901" not in bytes(transfer.account_number_encrypted)
    assert account_number(transfer) == "6222020012345678901"
    assert transfer.account_number_masked == "6222 **** **** 8901"
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING
    page = client.get(f"/orgs/{draft_org.uuid}/verify/deposit/").content.decode()
    assert "6222 **** **** 8901" in page and "还可以尝试 3 次" in page
    wrong = (fen % 99) + 1
    response = enter_amount(client, draft_org, wrong)
    assert response.status_code == 400
    assert "金额不正确，还可以尝试 2 次" in response.content.decode()
    response = enter_amount(client, draft_org, fen)
    assert response.status_code == 302
    draft_org.refresh_from_db()
    transfer.refresh_from_db()
    assert draft_org.status == Status.VERIFIED and draft_org.method == "deposit_to_org"
    assert (transfer.status, transfer.tries) == (VStatus.SUCCEEDED, 1)
    assert latest_sms(admin.phone, "org_verified").body.count(COMPANY) == 1
    assert events(draft_org) == [
        "org_created",
        "registry_checked",
        "deposit_paid",
        "deposit_amount_wrong",
        "deposit_confirmed",
        "org_verified",
    ]
    assert "已认证" in client.get(f"/orgs/{draft_org.uuid}/verify/").content.decode()


def test_the_micro_deposit_memo_does_not_follow_the_page_language(
    admin: User, draft_org: Organization
) -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(admin)
    try:
        assert request_deposit(client, draft_org).status_code == 302
        page = client.get(f"/orgs/{draft_org.uuid}/verify/deposit/").content.decode()
    finally:
        translation.deactivate()  # the English request left English active in this thread
    entry = bank_sandbox.micro_deposit(OrgVerification.objects.get(org=draft_org).provider_ref)
    assert entry is not None and entry["memo"] == "签署组织认证"
    assert 'reference "签署组织认证"' in page  # what to look for on the bank statement


def test_three_wrong_amounts_void_the_transfer_then_a_new_one(
    admin: User, draft_org: Organization, settings: Any
) -> None:
    settings.QIANSHU_ORG_DEPOSITS_PER_DAY = 2
    client = client_for(admin)
    request_deposit(client, draft_org)
    fen = paid_amount(draft_org)
    wrong = (fen % 99) + 1
    assert "还可以尝试 2 次" in enter_amount(client, draft_org, wrong).content.decode()
    assert "还可以尝试 1 次" in enter_amount(client, draft_org, wrong).content.decode()
    response = enter_amount(client, draft_org, wrong)
    assert response.status_code == 302
    messages = client.get(response["Location"]).content.decode()
    assert "本次打款已失效，请重新申请打款" in messages
    first = OrgVerification.objects.get(org=draft_org)
    assert (first.status, first.tries) == (VStatus.EXPIRED, 3)
    # The right amount no longer helps: the transfer is void.
    enter_amount(client, draft_org, fen)
    draft_org.refresh_from_db()
    assert draft_org.status == Status.DRAFT
    assert "deposit_void" in events(draft_org)
    # A new transfer, with a new amount, verifies.
    assert request_deposit(client, draft_org).status_code == 302
    assert OrgVerification.objects.filter(org=draft_org, status=VStatus.PENDING).count() == 1
    enter_amount(client, draft_org, paid_amount(draft_org))
    draft_org.refresh_from_db()
    assert draft_org.status == Status.VERIFIED


def test_new_transfers_are_limited_per_day(
    admin: User, draft_org: Organization, settings: Any
) -> None:
    settings.QIANSHU_ORG_DEPOSITS_PER_DAY = 2
    client = client_for(admin)
    request_deposit(client, draft_org)
    request_deposit(client, draft_org)
    response = request_deposit(client, draft_org)
    assert "今日申请打款次数已用完" in client.get(response["Location"]).content.decode()
    assert OrgVerification.objects.filter(org=draft_org).count() == 2
    # Starting a new transfer cancelled the first one.
    statuses = set(OrgVerification.objects.values_list("status", flat=True))
    assert statuses == {VStatus.CANCELLED, VStatus.PENDING}


def test_the_bank_refuses_an_account_and_the_account_name_must_match(
    admin: User, draft_org: Organization
) -> None:
    client = client_for(admin)
    response = request_deposit(client, draft_org, account_name="另一家公司")
    assert response.status_code == 400
    assert "账户名称须与组织机构名称" in response.content.decode()
    response = request_deposit(client, draft_org, account_number="12345")
    assert "对公账号应为 8~30 位数字" in response.content.decode()
    assert not OrgVerification.objects.exists()
    response = request_deposit(client, draft_org, account_number="6222020012340000")
    assert "账户信息有误，打款失败" in client.get(response["Location"]).content.decode()
    failed = OrgVerification.objects.get()
    assert failed.status == VStatus.FAILED
    assert "deposit_failed" in events(draft_org)
    draft_org.refresh_from_db()
    assert draft_org.status == Status.DRAFT


def test_amounts_out_of_range_are_not_counted(admin: User, draft_org: Organization) -> None:
    client = client_for(admin)
    request_deposit(client, draft_org)
    for text in ("1.50", "abc", "0.00", "-0.1"):
        response = client.post(
            f"/orgs/{draft_org.uuid}/verify/deposit/", {"action": "confirm", "amount": text}
        )
        assert "请输入 0.01~0.99 之间的金额" in response.content.decode()
    assert OrgVerification.objects.get().tries == 0


# --- 我给平台打款 ------------------------------------------------------------------------


def test_deposit_to_platform_confirmed_by_an_operator(
    admin: User, draft_org: Organization, operator: User
) -> None:
    client = client_for(admin)
    url = f"/orgs/{draft_org.uuid}/verify/platform-deposit/"
    client.post(url, {"action": "request"})
    payment = OrgVerification.objects.get(org=draft_org)
    assert re.fullmatch(r"QS[A-Z2-9]{6}", payment.reference_code)
    assert 1 <= (payment.amount_fen or 0) <= 99
    page = client.get(url).content.decode()
    assert payment.reference_code in page and "签署平台测试账户" in page
    assert f"0.{payment.amount_fen:02d}" in page
    # Not received yet: nothing changes.
    response = client.post(url, {"action": "check"})
    assert "暂未查询到您的打款" in client.get(response["Location"]).content.decode()
    draft_org.refresh_from_db()
    assert (draft_org.status, draft_org.needs_review) == (Status.PENDING, True)
    # The operator sees it in the queue and confirms receipt.
    staff = client_for(operator)
    assert "组织认证审核" in staff.get("/backoffice/").content.decode()
    queue = staff.get("/backoffice/orgs/").content.decode()
    assert COMPANY in queue and payment.reference_code in queue
    review = staff.get(f"/backoffice/orgs/{draft_org.uuid}/").content.decode()
    assert f"/backoffice/orgs/{draft_org.uuid}/licence/?preview=1" in review
    licence = staff.get(f"/backoffice/orgs/{draft_org.uuid}/licence/?preview=1")
    assert licence.status_code == 200 and licence["Content-Type"] == "image/png"
    response = staff.post(f"/backoffice/orgs/{draft_org.uuid}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    draft_org.refresh_from_db()
    payment.refresh_from_db()
    assert draft_org.status == Status.VERIFIED and draft_org.method == "deposit_to_platform"
    assert (payment.status, payment.decided_by) == (VStatus.SUCCEEDED, operator)
    assert not draft_org.needs_review
    assert latest_sms(admin.phone, "org_verified")
    assert events(draft_org)[-3:] == [
        "platform_deposit_checked",
        "operator_approved",
        "org_verified",
    ]
    # A second decision (another operator, at the same time) changes nothing.
    response = staff.post(
        f"/backoffice/orgs/{draft_org.uuid}/decide/", {"decision": "reject", "reason": "迟到"}
    )
    assert "已由其他运营人员处理" in staff.get(response["Location"]).content.decode()
    draft_org.refresh_from_db()
    assert draft_org.status == Status.VERIFIED


def test_deposit_to_platform_confirmed_by_the_bank(admin: User, draft_org: Organization) -> None:
    client = client_for(admin)
    url = f"/orgs/{draft_org.uuid}/verify/platform-deposit/"
    client.post(url, {"action": "request"})
    payment = OrgVerification.objects.get(org=draft_org)
    # A payment with the wrong amount does not count.
    bank_sandbox.mark_incoming(payment.reference_code, (payment.amount_fen or 0) % 99 + 1, COMPANY)
    client.post(url, {"action": "check"})
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING
    bank_sandbox.mark_incoming(payment.reference_code, payment.amount_fen or 0, COMPANY)
    response = client.post(url, {"action": "check"})
    assert response["Location"] == f"/orgs/{draft_org.uuid}/verify/"
    draft_org.refresh_from_db()
    assert draft_org.status == Status.VERIFIED
    assert "platform_deposit_received" in events(draft_org)


def test_the_operator_rejects_with_a_reason(
    admin: User, draft_org: Organization, operator: User
) -> None:
    client_for(admin).post(f"/orgs/{draft_org.uuid}/verify/manual/")
    draft_org.refresh_from_db()
    assert draft_org.needs_review
    staff = client_for(operator)
    response = staff.post(f"/backoffice/orgs/{draft_org.uuid}/decide/", {"decision": "reject"})
    assert "请选择或填写驳回原因" in staff.get(response["Location"]).content.decode()
    staff.post(
        f"/backoffice/orgs/{draft_org.uuid}/decide/",
        {"decision": "reject", "preset": "营业执照模糊或不完整，无法辨认"},
    )
    draft_org.refresh_from_db()
    assert draft_org.status == Status.REJECTED
    assert draft_org.rejected_reason == "营业执照模糊或不完整，无法辨认"
    sms = latest_sms(admin.phone, "org_rejected")
    assert "营业执照模糊或不完整" in sms.body
    assert OrgVerification.objects.get().status == VStatus.FAILED
    page = client_for(admin).get(f"/orgs/{draft_org.uuid}/verify/").content.decode()
    assert "认证未通过：营业执照模糊或不完整" in page
    # The administrator corrects the data; the organisation is a draft again.
    response = client_for(admin).post(
        f"/orgs/{draft_org.uuid}/edit/", {**org_data(name="北京星河科技有限公司"), "licence": ""}
    )
    assert response.status_code == 302
    draft_org.refresh_from_db()
    assert (draft_org.status, draft_org.name) == (Status.DRAFT, "北京星河科技有限公司")
    assert events(draft_org)[-1] == "org_updated"


def test_the_back_office_is_404_for_non_staff(
    admin: User, draft_org: Organization, bob: User
) -> None:
    client_for(admin).post(f"/orgs/{draft_org.uuid}/verify/manual/")
    for user in (admin, bob):
        client = client_for(user)
        for path in (
            "/backoffice/orgs/",
            f"/backoffice/orgs/{draft_org.uuid}/",
            f"/backoffice/orgs/{draft_org.uuid}/licence/",
        ):
            assert client.get(path).status_code == 404
        response = client.post(
            f"/backoffice/orgs/{draft_org.uuid}/decide/", {"decision": "approve"}
        )
        assert response.status_code == 404
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING


# --- 法定代表人认证 ----------------------------------------------------------------------


def authorisation_path(phone: str) -> str:
    body = latest_sms(phone, "legal_rep_authorisation").body
    match = re.search(r"http://[^/]+(/orgs/legal-rep/[^/\s]+/)", body)
    assert match, body
    return match.group(1)


LEGAL_REP_PHONE = "13800000021"


def test_the_legal_representative_approves(
    admin: User, draft_org: Organization, verified_person: Callable[..., User]
) -> None:
    client = client_for(admin)
    response = client.post(
        f"/orgs/{draft_org.uuid}/verify/legal-rep/",
        {"action": "send", "phone": LEGAL_REP_PHONE},
    )
    assert response.status_code == 302
    path = authorisation_path(LEGAL_REP_PHONE)
    token = path.split("/")[-2]
    request = OrgVerification.objects.get(org=draft_org)
    assert request.token_hash and token not in request.token_hash  # only the hash is kept
    assert "赵法人" in latest_sms(LEGAL_REP_PHONE).body
    # Not logged in: off to the login page, back here afterwards.
    response = Client().get(path)
    assert response.status_code == 302 and "next=" in response["Location"]
    legal_rep = verified_person("赵法人", LEGAL_REP_PHONE)
    rep = client_for(legal_rep)
    page = rep.get(path).content.decode()
    assert COMPANY in page and draft_org.credit_code in page and "王爱丽" in page
    response = rep.post(path, {"decision": "approve"})
    assert response.status_code == 200
    assert "已同意授权" in response.content.decode()
    draft_org.refresh_from_db()
    request.refresh_from_db()
    assert draft_org.status == Status.VERIFIED and draft_org.method == "legal_rep"
    assert (request.status, request.decided_by) == (VStatus.SUCCEEDED, legal_rep)
    assert latest_sms(admin.phone, "org_verified")
    assert events(draft_org)[-3:] == ["legal_rep_requested", "legal_rep_approved", "org_verified"]
    # The link is used up.
    assert rep.post(path, {"decision": "refuse"}).status_code == 200
    draft_org.refresh_from_db()
    assert draft_org.status == Status.VERIFIED


def test_a_legal_representative_with_another_name_cannot_approve(
    admin: User, draft_org: Organization, verified_person: Callable[..., User], charlie: User
) -> None:
    client_for(admin).post(
        f"/orgs/{draft_org.uuid}/verify/legal-rep/",
        {"action": "send", "phone": LEGAL_REP_PHONE},
    )
    path = authorisation_path(LEGAL_REP_PHONE)
    impostor = verified_person("赵法仁", LEGAL_REP_PHONE)  # verified, but another name
    client = client_for(impostor)
    response = client.get(path)
    assert response.status_code == 403
    assert "与“北京星河测试科技有限公司”登记的法定代表人不一致" in response.content.decode()
    response = client.post(path, {"decision": "approve"})
    assert response.status_code == 403
    # An unverified person is told to verify first.
    response = client_for(charlie).post(path, {"decision": "approve"})
    assert response.status_code == 403
    assert "请先完成个人实名认证" in response.content.decode()
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING
    assert OrgVerification.objects.get().status == VStatus.PENDING
    assert events(draft_org).count("legal_rep_mismatch") == 2
    assert not OutboxMessage.objects.filter(kind="org_verified").exists()


def test_the_legal_representative_refuses(
    admin: User, draft_org: Organization, verified_person: Callable[..., User]
) -> None:
    client_for(admin).post(
        f"/orgs/{draft_org.uuid}/verify/legal-rep/",
        {"action": "send", "phone": LEGAL_REP_PHONE},
    )
    path = authorisation_path(LEGAL_REP_PHONE)
    rep = client_for(verified_person("赵 法人", LEGAL_REP_PHONE))  # spaces do not matter
    response = rep.post(path, {"decision": "refuse", "reason": "未经我同意"})
    assert "已拒绝授权" in response.content.decode()
    draft_org.refresh_from_db()
    request = OrgVerification.objects.get()
    assert draft_org.status == Status.REJECTED
    assert request.status == VStatus.FAILED
    assert request.reason == "法定代表人拒绝授权：未经我同意"
    assert "未经我同意" in latest_sms(admin.phone, "org_rejected").body
    assert "legal_rep_refused" in events(draft_org)


def test_an_unknown_or_replaced_link(
    admin: User, draft_org: Organization, verified_person: Callable[..., User]
) -> None:
    rep = client_for(verified_person("赵法人", LEGAL_REP_PHONE))
    assert rep.get("/orgs/legal-rep/not-a-token/").status_code == 404
    client = client_for(admin)
    url = f"/orgs/{draft_org.uuid}/verify/legal-rep/"
    client.post(url, {"action": "send", "phone": LEGAL_REP_PHONE})
    first = authorisation_path(LEGAL_REP_PHONE)
    client.post(url, {"action": "send", "phone": LEGAL_REP_PHONE})
    second = authorisation_path(LEGAL_REP_PHONE)
    assert first != second
    response = rep.post(first, {"decision": "approve"})
    assert response.status_code == 410 and "授权链接已失效" in response.content.decode()
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING
    rep.post(second, {"decision": "approve"})
    draft_org.refresh_from_db()
    assert draft_org.status == Status.VERIFIED


def test_the_administrator_who_is_the_legal_representative_authorises_directly(
    admin: User, bob: User
) -> None:
    client = client_for(admin)
    create(client, legal_rep_name="王爱丽")
    org = Organization.objects.get()
    url = f"/orgs/{org.uuid}/verify/legal-rep/"
    assert "我是法定代表人" in client.get(url).content.decode()
    response = client.post(url, {"action": "self"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.status == Status.VERIFIED
    assert OrgVerification.objects.get().decided_by == admin


def test_an_administrator_who_is_not_the_legal_representative_cannot_self_authorise(
    admin: User, draft_org: Organization
) -> None:
    client = client_for(admin)
    url = f"/orgs/{draft_org.uuid}/verify/legal-rep/"
    assert "我是法定代表人" not in client.get(url).content.decode()
    response = client.post(url, {"action": "self"})
    assert "与该组织登记的法定代表人不一致" in client.get(response["Location"]).content.decode()
    draft_org.refresh_from_db()
    assert draft_org.status == Status.DRAFT


def test_legal_rep_messages_are_limited_per_day(
    admin: User, draft_org: Organization, settings: Any
) -> None:
    settings.QIANSHU_ORG_LEGAL_REP_SMS_PER_DAY = 2
    client = client_for(admin)
    url = f"/orgs/{draft_org.uuid}/verify/legal-rep/"
    for _ in range(3):
        response = client.post(url, {"action": "send", "phone": LEGAL_REP_PHONE})
    assert "今日发送授权短信次数已用完" in client.get(response["Location"]).content.decode()
    assert OutboxMessage.objects.filter(kind="legal_rep_authorisation").count() == 2


def test_a_verified_organisation_cannot_be_verified_again(
    admin: User, verified_org: Callable[..., Organization]
) -> None:
    org = verified_org(admin)
    client = client_for(admin)
    for url in ("/verify/legal-rep/", "/verify/deposit/", "/verify/platform-deposit/", "/edit/"):
        response = client.get(f"/orgs/{org.uuid}{url}")
        assert response.status_code == 302
    client.post(f"/orgs/{org.uuid}/verify/manual/")
    org.refresh_from_db()
    assert org.status == Status.VERIFIED and not org.verifications.exists()


def test_the_sandbox_bank_page_is_labelled_and_off_without_the_sandbox(
    admin: User, draft_org: Organization, settings: Any
) -> None:
    client = client_for(admin)
    request_deposit(client, draft_org)
    fen = paid_amount(draft_org)
    page = client.get(f"/orgs/{draft_org.uuid}/verify/sandbox-bank/").content.decode()
    assert "沙箱" in page and f"0.{fen:02d}" in page
    settings.QIANSHU_BANK_PROVIDER = "http"
    assert client.get(f"/orgs/{draft_org.uuid}/verify/sandbox-bank/").status_code == 404


def test_an_operator_decision_is_recorded(admin: User, draft_org: Organization) -> None:
    staff = make_user("op2", phone="13900000019", is_staff=True)
    client_for(admin).post(f"/orgs/{draft_org.uuid}/verify/manual/")
    client_for(staff).post(f"/backoffice/orgs/{draft_org.uuid}/decide/", {"decision": "approve"})
    event = OrgEvent.objects.get(org=draft_org, action="operator_approved")
    assert event.actor == staff and event.detail["method"] == "operator"


def test_only_one_organisation_is_verified_per_credit_code(
    admin: User, draft_org: Organization, verified_person: Callable[..., User], operator: User
) -> None:
    other_admin = verified_person("张伟", "13800000011")
    other = client_for(other_admin)
    assert create(other, credit_code=draft_org.credit_code, name="同码公司").status_code == 302
    twin = Organization.objects.get(name="同码公司")
    client = client_for(admin)
    request_deposit(client, draft_org)
    other.post(f"/orgs/{twin.uuid}/verify/manual/")
    client_for(operator).post(f"/backoffice/orgs/{twin.uuid}/decide/", {"decision": "approve"})
    twin.refresh_from_db()
    assert twin.status == Status.VERIFIED
    response = enter_amount(client, draft_org, paid_amount(draft_org))
    assert "已有组织完成认证" in client.get(response["Location"]).content.decode()
    draft_org.refresh_from_db()
    assert draft_org.status == Status.PENDING
    assert OrgVerification.objects.get(org=draft_org).tries == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_operator_decisions_only_one_wins(
    verified_person: Callable[..., User], verified_org: Callable[..., Organization]
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    from qianshu.orgs.actions.review import (
        do_approve_org,
        do_reject_org,
        do_request_manual_review,
    )
    from qianshu.orgs.verification import OrgReviewAlreadyDecided

    admin = verified_person("alice")
    org = verified_org(admin, status=Status.DRAFT)
    do_request_manual_review(org, actor=admin, meta=TASK)
    operators = [make_user(f"op{i}", phone=f"1390000001{i}", is_staff=True) for i in (1, 2)]
    barrier = Barrier(2)

    def decide(args: tuple[User, str]) -> str:
        actor, decision = args
        barrier.wait()
        try:
            if decision == "approve":
                do_approve_org(org, actor=actor, meta=TASK)
            else:
                do_reject_org(org, "营业执照模糊", actor=actor, meta=TASK)
            return "ok"
        except OrgReviewAlreadyDecided:
            return "already"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(decide, [(operators[0], "approve"), (operators[1], "reject")]))
    assert sorted(results) == ["already", "ok"]
    org.refresh_from_db()
    assert org.status in (Status.VERIFIED, Status.REJECTED)
    assert OutboxMessage.objects.filter(recipient=admin.phone).count() == 1
    decisions = OrgEvent.objects.filter(action__in=["operator_approved", "operator_rejected"])
    assert decisions.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_amounts_count_every_try(
    verified_person: Callable[..., User], verified_org: Callable[..., Organization]
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    from qianshu.orgs.actions.deposits import (
        do_confirm_micro_deposit,
        do_request_micro_deposit,
    )
    from qianshu.orgs.providers import BankAccount
    from qianshu.orgs.verification import OrgError

    admin = verified_person("alice")
    org = verified_org(admin, name=COMPANY, status=Status.DRAFT)
    transfer = do_request_micro_deposit(
        org, BankAccount("某银行", COMPANY, "6222020012345678"), actor=admin, meta=TASK
    )
    wrong = paid_amount(org) % 99 + 1
    barrier = Barrier(4)

    def guess(_: int) -> str:
        barrier.wait()
        try:
            do_confirm_micro_deposit(transfer, wrong, actor=admin, meta=TASK)
            return "ok"
        except OrgError as exc:
            return type(exc).__name__
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = sorted(pool.map(guess, range(4)))
    # Three tries are counted one after the other; the fourth finds the transfer void.
    assert results == ["TransferVoid", "VerificationNotActive", "WrongAmount", "WrongAmount"]
    transfer.refresh_from_db()
    assert (transfer.status, transfer.tries) == (VStatus.EXPIRED, 3)
