"""我的组织 and 组织机构认证 pages (创建组织 is ``create_views``), the licence views, the legal
representative's authorisation page and the sandbox bank page (沙箱)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from qianshu.accounts.hints import login_url
from qianshu.accounts.phones import mask_phone
from qianshu.core.downloads import file_response
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import RequestMeta, request_meta
from qianshu.core.requests import current_user, posted
from qianshu.identity.access import verified_identity
from qianshu.orgs import verification_deposits
from qianshu.orgs.access import ADMIN_ONLY, access_legal_rep_request, access_org_by_uuid
from qianshu.orgs.actions import deposits, legal_rep
from qianshu.orgs.actions import verification as org_actions
from qianshu.orgs.actions.licences import do_make_licence_preview
from qianshu.orgs.actions.review import do_request_manual_review
from qianshu.orgs.licences import PDF, PNG, can_preview
from qianshu.orgs.models import Membership, Organization, OrgVerification
from qianshu.orgs.providers import BankUnavailable, sandbox_active
from qianshu.orgs.providers import sandbox as bank_sandbox
from qianshu.orgs.providers.registry import registry_configured
from qianshu.orgs.queries import memberships_of
from qianshu.orgs.registry_checks import review_message, review_reasons, same_name_orgs
from qianshu.orgs.verification import (
    OrgAlreadyVerified,
    OrgError,
    VerificationNotActive,
    WrongAmount,
    is_expired,
    is_legal_rep,
    open_verification,
    pending_verification,
)
from qianshu.orgs.verification_forms import (
    METHOD_HELP,
    AmountForm,
    BankAccountForm,
    LegalRepDecisionForm,
    LegalRepPhoneForm,
    MethodForm,
    OrgForm,
)
from qianshu.storage.errors import BlobStoreError

log = logging.getLogger(__name__)
Method = Organization.Method
Status = OrgVerification.Status
Registry = OrgVerification.Registry


def _admin_org(request: HttpRequest, org_uuid: uuid.UUID) -> tuple[Organization, Membership]:
    return access_org_by_uuid(current_user(request), org_uuid, roles=ADMIN_ONLY)


def _org_context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return {"org": org, "membership": membership, "section": "verify", "nav": "orgs", **extra}


def _bank_unavailable(request: HttpRequest, exc: BankUnavailable) -> None:
    log.error("bank provider unavailable: %s", exc)
    messages.error(request, _("对公打款服务暂不可用，请稍后再试，或选择其他认证方式。"))


def _proof_accepted(request: HttpRequest, org: Organization, verified_text: str) -> None:
    """After a method's proof: verified, or (why) waiting for an operator."""
    org.refresh_from_db()
    if org.is_verified:
        messages.success(request, verified_text)
        return
    current = open_verification(org)
    reasons = review_reasons(org, current) if current is not None else []
    messages.info(
        request,
        _("%(why)s已转人工审核，审核结果将以短信通知您。") % {"why": review_message(reasons)},
    )


# --- 我的组织 / 创建组织 / 修改资料 ---


@login_required
def org_list_view(request: HttpRequest) -> HttpResponse:
    """我的组织: every organisation the user belongs to, with role and status."""
    user = current_user(request)
    memberships = memberships_of(user)
    return render(
        request,
        "orgs/verify/org_list.html",
        {
            "memberships": memberships,
            "verified_person": verified_identity(user) is not None,
            "nav": "orgs",
        },
    )


@login_required
def org_edit_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """修改认证资料 of an unverified organisation (e.g. after 认证未通过)."""
    user = current_user(request)
    org, membership = _admin_org(request, org_uuid)
    if org.is_verified:
        messages.info(request, str(OrgAlreadyVerified()))
        return redirect("orgs:verify", org_uuid=org.uuid)
    initial = {
        "kind": org.kind,
        "name": org.name,
        "credit_code": org.credit_code,
        "registration_number": org.registration_number,
        "legal_rep_name": org.legal_rep_name,
    }
    form = OrgForm(
        posted(request),
        request.FILES if request.method == "POST" else None,
        initial=initial,
        licence_required=org.licence_id is None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            org_actions.do_update_org(
                org,
                kind=data["kind"],
                name=data["name"],
                credit_code=data["credit_code"],
                registration_number=data["registration_number"],
                legal_rep_name=data["legal_rep_name"],
                licence=data["licence"],
                actor=user,
                meta=request_meta(request),
            )
        except OrgError as exc:  # CreditCodeTaken goes on the credit code field
            add_to_form(form, exc)
        else:
            messages.success(request, _("认证资料已更新，请重新选择认证方式。"))
            return redirect("orgs:verify", org_uuid=org.uuid)
    return render(
        request,
        "orgs/verify/edit.html",
        _org_context(org, membership, form=form),
        status=400 if form.errors else 200,
    )


# --- 组织机构认证 ---

_METHOD_PAGES: dict[str, str] = {
    Method.LEGAL_REP: "orgs:verify-legal-rep",
    Method.DEPOSIT_TO_ORG: "orgs:verify-deposit",
    Method.DEPOSIT_TO_PLATFORM: "orgs:verify-platform-deposit",
}


@login_required
def verify_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """组织机构认证: the organisation's data and licence, its status, the verification in
    progress and the choice of method (下一步 → the method's page)."""
    org, membership = _admin_org(request, org_uuid)
    form = MethodForm(posted(request))
    if request.method == "POST" and not org.is_verified and form.is_valid():
        return redirect(_METHOD_PAGES[form.cleaned_data["method"]], org_uuid=org.uuid)
    pending = None if org.is_verified else open_verification(org)
    review_why = ""
    if pending is not None and pending.status == Status.REVIEW:
        review_why = review_message(review_reasons(org, pending))
    return render(
        request,
        "orgs/verify/status.html",
        _org_context(
            org,
            membership,
            form=form,
            pending=pending,
            pending_url=_METHOD_PAGES.get(pending.method) if pending and not review_why else None,
            review_why=review_why,
            can_recheck=bool(
                pending
                and registry_configured()
                and not org.is_overseas
                and pending.registry_result in (Registry.ERROR, Registry.UNAVAILABLE)
            ),
            same_name=not org.is_verified and same_name_orgs(org).exists(),
            history=org.verifications.select_related("decided_by")[:10],
            licence_is_pdf=bool(org.licence and org.licence.content_type == PDF),
            sandbox=sandbox_active(),
        ),
        status=400 if form.errors else 200,
    )


@login_required
def legal_rep_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """法定代表人认证: SMS the legal representative, or authorise directly if that is you."""
    user = current_user(request)
    org, membership = _admin_org(request, org_uuid)
    if org.is_verified:
        return redirect("orgs:verify", org_uuid=org.uuid)
    form = LegalRepPhoneForm(posted(request))
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "self":
            legal_rep.do_authorise_as_legal_rep(org, actor=user, meta=request_meta(request))
            _proof_accepted(request, org, _("认证成功，组织已通过认证。"))
            return redirect("orgs:verify", org_uuid=org.uuid)
        if action == "send" and form.is_valid():
            legal_rep.do_request_legal_rep_authorisation(
                org, form.cleaned_data["phone"], actor=user, meta=request_meta(request)
            )
            messages.success(
                request,
                _("授权短信已发送至 %(phone)s，请提醒法定代表人在 7 天内登录确认。")
                % {"phone": mask_phone(form.cleaned_data["phone"])},
            )
            return redirect("orgs:verify-legal-rep", org_uuid=org.uuid)
    except OrgError as exc:
        add_message(request, exc)
        return redirect("orgs:verify-legal-rep", org_uuid=org.uuid)
    pending = pending_verification(org)
    if pending is not None and pending.method != Method.LEGAL_REP:
        pending = None
    return render(
        request,
        "orgs/verify/legal_rep.html",
        _org_context(
            org,
            membership,
            form=form,
            pending=pending,
            pending_phone=mask_phone(pending.legal_rep_phone) if pending else "",
            is_legal_rep=is_legal_rep(user, org),
            help=METHOD_HELP[Method.LEGAL_REP],
        ),
        status=400 if form.errors else 200,
    )


@login_required
def deposit_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """平台给我打款: declare the account, then type the amount received (3 tries)."""
    user = current_user(request)
    org, membership = _admin_org(request, org_uuid)
    if org.is_verified:
        return redirect("orgs:verify", org_uuid=org.uuid)
    pending = pending_verification(org)
    transfer = pending if pending and pending.method == Method.DEPOSIT_TO_ORG else None
    action = request.POST.get("action") if request.method == "POST" else None
    account_form = BankAccountForm(
        org, request.POST if action == "request" else None, initial={"account_name": org.name}
    )
    amount_form = AmountForm(request.POST if action == "confirm" else None)
    if action == "request" and account_form.is_valid():
        try:
            deposits.do_request_micro_deposit(
                org, account_form.account(), actor=user, meta=request_meta(request)
            )
        except BankUnavailable as exc:
            _bank_unavailable(request, exc)
        except OrgError as exc:
            add_message(request, exc)
        else:
            messages.success(request, _("平台已向您的对公账户打款，请查询到账金额后填写。"))
        return redirect("orgs:verify-deposit", org_uuid=org.uuid)
    if action == "confirm" and transfer is not None and amount_form.is_valid():
        try:
            deposits.do_confirm_micro_deposit(
                transfer, amount_form.cleaned_data["amount"], actor=user, meta=request_meta(request)
            )
        except WrongAmount as exc:
            add_to_form(amount_form, exc)
        except OrgError as exc:
            add_message(request, exc)
            return redirect("orgs:verify-deposit", org_uuid=org.uuid)
        else:
            _proof_accepted(request, org, _("打款金额正确，组织已通过认证。"))
            return redirect("orgs:verify", org_uuid=org.uuid)
    if action == "confirm" and transfer is None:
        messages.error(request, str(VerificationNotActive()))
        return redirect("orgs:verify-deposit", org_uuid=org.uuid)
    show_account_form = transfer is None or request.GET.get("new") == "1" or action == "request"
    return render(
        request,
        "orgs/verify/deposit.html",
        _org_context(
            org,
            membership,
            transfer=transfer,
            tries_left=verification_deposits.DEPOSIT_TRIES - transfer.tries if transfer else 0,
            memo=verification_deposits.MICRO_DEPOSIT_MEMO,
            account_form=account_form,
            amount_form=amount_form,
            show_account_form=show_account_form,
            help=METHOD_HELP[Method.DEPOSIT_TO_ORG],
            sandbox=sandbox_active(),
        ),
        status=400 if account_form.errors or amount_form.errors else 200,
    )


@login_required
def platform_deposit_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """我给平台打款: the platform's account, the amount and memo code; 我已打款 asks the bank."""
    user = current_user(request)
    org, membership = _admin_org(request, org_uuid)
    if org.is_verified:
        return redirect("orgs:verify", org_uuid=org.uuid)
    pending = pending_verification(org)
    payment = pending if pending and pending.method == Method.DEPOSIT_TO_PLATFORM else None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "request":
                deposits.do_request_platform_deposit(org, actor=user, meta=request_meta(request))
            elif action == "check" and payment is not None:
                if deposits.do_check_platform_deposit(
                    payment, actor=user, meta=request_meta(request)
                ):
                    _proof_accepted(request, org, _("平台已收到您的打款，组织已通过认证。"))
                    return redirect("orgs:verify", org_uuid=org.uuid)
                messages.info(
                    request,
                    _(
                        "暂未查询到您的打款。银行到账可能需要一些时间，请稍后再查询；"
                        "平台工作人员也会核对到账情况。"
                    ),
                )
            elif action == "check":
                messages.error(request, str(VerificationNotActive()))
        except BankUnavailable as exc:
            _bank_unavailable(request, exc)
        except OrgError as exc:
            add_message(request, exc)
        return redirect("orgs:verify-platform-deposit", org_uuid=org.uuid)
    return render(
        request,
        "orgs/verify/platform_deposit.html",
        _org_context(
            org,
            membership,
            payment=payment,
            amount_yuan=f"{(payment.amount_fen or 0) / 100:.2f}" if payment else "",
            account=verification_deposits.platform_account(),
            help=METHOD_HELP[Method.DEPOSIT_TO_PLATFORM],
            sandbox=sandbox_active(),
        ),
    )


@login_required
@require_POST
def manual_review_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """提交人工审核: the operators check the licence and decide."""
    org, _membership = _admin_org(request, org_uuid)
    try:
        do_request_manual_review(org, actor=current_user(request), meta=request_meta(request))
    except OrgError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("已提交人工审核，平台工作人员将尽快审核您的营业执照。"))
    return redirect("orgs:verify", org_uuid=org.uuid)


@login_required
@require_POST
def registry_recheck_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """重新核验: ask the business registry again when it could not answer before."""
    org, _membership = _admin_org(request, org_uuid)
    try:
        verification = org_actions.do_recheck_registry(
            org, actor=current_user(request), meta=request_meta(request)
        )
    except OrgError as exc:
        add_message(request, exc)
        return redirect("orgs:verify", org_uuid=org.uuid)
    if verification.status == Status.SUCCEEDED:
        messages.success(request, _("工商登记信息核验通过，组织已通过认证。"))
    elif verification.registry_result == Registry.PASSED:
        messages.success(request, _("工商登记信息核验通过。"))
    else:
        messages.error(
            request,
            verification.registry_reason or _("工商登记信息暂时无法核验，请稍后再试。"),
        )
    return redirect("orgs:verify", org_uuid=org.uuid)


# --- Licence ---


def licence_response(org: Organization, *, preview: bool, meta: RequestMeta) -> HttpResponseBase:
    """The licence file, or its stored preview image, never cached (used by the back office
    too). Decrypted on the fly; a preview is never rendered here (see ``orgs.licences``)."""
    blob = (
        (org.licence_preview or do_make_licence_preview(org, meta=meta)) if preview else org.licence
    )
    if blob is None or (preview and not can_preview(blob)):
        raise Http404("no licence or no preview")
    try:
        data = blob.read()
    except BlobStoreError as exc:
        log.error("licence of organisation %s unreadable: %s", org.uuid, exc)
        raise Http404("the licence cannot be read") from None
    if blob.content_type == PDF:
        return file_response(data, filename="licence.pdf", content_type=PDF)
    extension = "png" if blob.content_type == PNG else "jpg"
    return file_response(
        data, filename=f"licence.{extension}", content_type=blob.content_type, inline=True
    )


@login_required
@never_cache
def licence_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponseBase:
    """The uploaded licence file (administrators only)."""
    org, _membership = _admin_org(request, org_uuid)
    return licence_response(org, preview=False, meta=request_meta(request))


@login_required
@never_cache
def licence_preview_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponseBase:
    """The licence as an image: a picture as uploaded, a PDF's first page (administrators)."""
    org, _membership = _admin_org(request, org_uuid)
    return licence_response(org, preview=True, meta=request_meta(request))


# --- The legal representative's page ---


@never_cache
@require_http_methods(["GET", "POST"])
def legal_rep_authorise_view(request: HttpRequest, token: str) -> HttpResponse:
    """The SMS link: the legal representative sees what they authorise, and approves or
    refuses. Anybody else (not verified, or another verified name) gets a refusal page.

    A visitor who is not logged in goes to the login page with the phone the link was sent to
    filled in (an opaque hint, shown masked) and comes back here; one who still has to verify
    their real name is sent to verification, which comes back here too."""
    verification = access_legal_rep_request(token)
    if not request.user.is_authenticated:
        open_link = verification.status == Status.PENDING and not is_expired(verification)
        phone = verification.legal_rep_phone if open_link else ""
        return HttpResponseRedirect(login_url(request.path, phone))
    user = current_user(request)
    org = verification.org
    context: dict[str, Any] = {"verification": verification, "org": org, "token": token}
    if verification.status != Status.PENDING or is_expired(verification):
        decided = verification.status in (Status.SUCCEEDED, Status.FAILED, Status.REVIEW)
        return render(
            request, "orgs/verify/legal_rep_closed.html", context, status=200 if decided else 410
        )
    if not is_legal_rep(user, org):
        if request.method == "POST":
            # Recorded in the organisation log; nothing else changes.
            with contextlib.suppress(OrgError):
                legal_rep.do_decide_legal_rep(
                    verification, approve=False, actor=user, meta=request_meta(request)
                )
        context["not_verified"] = verified_identity(user) is None
        context["return_path"] = request.path
        return render(request, "orgs/verify/legal_rep_refused.html", context, status=403)
    form = LegalRepDecisionForm(posted(request))
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            legal_rep.do_decide_legal_rep(
                verification,
                approve=approve,
                reason=form.cleaned_data["reason"],
                actor=user,
                meta=request_meta(request),
            )
        except OrgError as exc:
            add_message(request, exc)
            return redirect("orgs:legal-rep-authorise", token=token)
        verification.refresh_from_db()
        context["verification"] = verification
        return render(request, "orgs/verify/legal_rep_closed.html", context)
    context["form"] = form
    context["asked_by"] = verified_identity(verification.created_by)
    return render(
        request,
        "orgs/verify/legal_rep_authorise.html",
        context,
        status=400 if form.errors else 200,
    )


# --- Sandbox (development) ---


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_bank_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """沙箱银行: what the sandbox paid to this organisation, and a button that makes the payment
    to the platform (only while the sandbox bank provider is in use)."""
    if not sandbox_active():
        raise Http404("the sandbox is off")
    org, membership = _admin_org(request, org_uuid)
    pending = pending_verification(org)
    if request.method == "POST":
        if pending is None or pending.method != Method.DEPOSIT_TO_PLATFORM:
            raise Http404("nothing to pay")
        bank_sandbox.mark_incoming(pending.reference_code, pending.amount_fen or 0, org.name)
        messages.success(request, _("（沙箱）已模拟向平台账户打款。"))
        return redirect("orgs:verify-platform-deposit", org_uuid=org.uuid)
    transfers = []
    for transfer in org.verifications.filter(method=Method.DEPOSIT_TO_ORG).exclude(provider_ref="")[
        :10
    ]:
        entry = bank_sandbox.micro_deposit(transfer.provider_ref)
        if entry is not None:
            transfers.append(
                {
                    "transfer": transfer,
                    "amount": f"{entry['amount_fen'] / 100:.2f}",
                    "memo": entry.get("memo", ""),
                }
            )
    return render(
        request,
        "orgs/verify/sandbox_bank.html",
        _org_context(
            org,
            membership,
            transfers=transfers,
            payment=pending if pending and pending.method == Method.DEPOSIT_TO_PLATFORM else None,
        ),
    )
