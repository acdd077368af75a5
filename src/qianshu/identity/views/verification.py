"""个人实名认证: status, step 1 (身份信息), step 2 (method), step 3 (result), sandbox page."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from qianshu.accounts.codes import CodeError
from qianshu.accounts.models import User
from qianshu.core.downloads import file_response
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, posted
from qianshu.identity import access, actions
from qianshu.identity.drafts import Declaration, clear_draft, load_draft, save_draft
from qianshu.identity.errors import (
    AlreadyVerified,
    AttemptNotActive,
    IdentityTaken,
    MethodNotAllowed,
    ReviewPending,
    VerificationRefused,
)
from qianshu.identity.forms import (
    Bank4Form,
    DeclarationForm,
    FaceConsentForm,
    ManualReviewForm,
    MethodForm,
    Phone3CodeForm,
)
from qianshu.identity.models import Method, SandboxFaceSession, VerificationAttempt, methods_for
from qianshu.identity.providers import ProviderUnavailable, get_provider, sandbox_allowed
from qianshu.identity.providers.sandbox import record_face_outcome
from qianshu.identity.views.common import remember_return, return_url, steps
from qianshu.identity.views.handoff import handoff_context
from qianshu.storage.errors import BlobStoreError

log = logging.getLogger(__name__)
Status = VerificationAttempt.Status
MethodView = Callable[..., HttpResponse]


def _context(**extra: Any) -> dict[str, Any]:
    return {"centre": "identity", "nav": "identity", **extra}


def _refused(request: HttpRequest, exc: VerificationRefused) -> HttpResponse:
    add_message(request, exc)
    if isinstance(exc, MethodNotAllowed):
        return redirect("identity:method")
    if isinstance(exc, IdentityTaken):
        return redirect("identity:start")
    return redirect("identity:status")


def _unavailable(request: HttpRequest, exc: ProviderUnavailable) -> HttpResponse:
    log.error("identity provider unavailable: %s", exc)
    messages.error(request, _("实名认证服务暂不可用，请稍后再试，或选择人工审核。"))
    return redirect("identity:method")


def _with_declaration(method: str | None = None) -> Callable[[MethodView], MethodView]:
    """Views of step 2: logged in, not verified yet, with a step-1 declaration in the session
    (else back to step 1), and ``method`` allowed for its document type."""

    def decorator(view: MethodView) -> MethodView:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = current_user(request)
            declaration = load_draft(request.session, user.pk)
            if declaration is None:
                messages.info(request, _("请先填写身份信息。"))
                return redirect("identity:start")
            try:
                actions.check_can_start(user, declaration, method or Method.MANUAL)
            except VerificationRefused as exc:
                return _refused(request, exc)
            return view(request, user, declaration, *args, **kwargs)

        return wrapper

    return decorator


@login_required
@never_cache
def status_view(request: HttpRequest) -> HttpResponse:
    """实名认证 status card: verified, under manual review, or not verified."""
    user = current_user(request)
    remember_return(request)
    identity = access.verified_identity(user)
    pending = None if identity else access.pending_review(user)
    context = _context(
        identity=identity,
        pending=pending,
        latest=None if identity else access.latest_attempt(user),
        credential=access.active_credential(user) if identity else None,
    )
    if identity is None and pending is None:
        context.update(handoff_context(request))  # 手机扫码认证 (shown on a computer)
    return render(request, "identity/status.html", context)


@login_required
def start_view(request: HttpRequest) -> HttpResponse:
    """Step 1 (身份信息): document type, name, number and phone, checked before anything else."""
    user = current_user(request)
    remember_return(request)
    if access.verified_identity(user) is not None:
        messages.info(request, str(AlreadyVerified()))
        return redirect(return_url(request))
    if access.pending_review(user) is not None:
        messages.info(request, str(ReviewPending()))
        return redirect("identity:status")
    draft = load_draft(request.session, user.pk)
    initial: dict[str, str] = {"phone": user.phone}
    if draft is not None:
        initial = {
            "id_type": draft.id_type,
            "name": draft.name,
            "id_number": draft.id_number,
            "phone": draft.phone,
        }
    form = DeclarationForm(user, posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        save_draft(request.session, user.pk, form.declaration())
        return redirect("identity:method")
    return render(
        request,
        "identity/start.html",
        _context(form=form, steps=steps(1)),
        status=400 if form.errors else 200,
    )


@_with_declaration()
def method_view(request: HttpRequest, user: User, declaration: Declaration) -> HttpResponse:
    """Step 2: choose how to verify (online checks only for a 居民身份证)."""
    form = MethodForm(declaration, posted(request))
    if request.method == "POST" and form.is_valid():
        return redirect(f"identity:{form.cleaned_data['method']}")
    return render(
        request,
        "identity/method.html",
        _context(form=form, declaration=declaration, steps=steps(2)),
        status=400 if form.errors else 200,
    )


# The consent form's answer is a redirect to the identity provider's face page, which the
# browser checks against this page's form-action: allow https targets here, and only here.
@csp_update({"form-action": ["https:"]})
@_with_declaration(Method.FACE)
def face_view(request: HttpRequest, user: User, declaration: Declaration) -> HttpResponse:
    """人脸识别: consent, then off to the provider's face comparison page."""
    form = FaceConsentForm(posted(request))
    if request.method == "POST" and form.is_valid():

        def return_url(attempt_uuid: uuid.UUID) -> str:
            return settings.PUBLIC_URL + reverse("identity:face-return", args=[attempt_uuid])

        try:
            attempt, url = actions.do_start_face_verification(
                declaration, actor=user, return_url=return_url, meta=request_meta(request)
            )
        except VerificationRefused as exc:
            return _refused(request, exc)
        except ProviderUnavailable as exc:
            return _unavailable(request, exc)
        if url is None:
            return redirect(attempt)
        return HttpResponseRedirect(url)
    return render(
        request,
        "identity/face.html",
        _context(form=form, declaration=declaration, steps=steps(2, _("人脸识别"))),
        status=400 if form.errors else 200,
    )


@login_required
@never_cache
def face_return_view(request: HttpRequest, attempt_uuid: uuid.UUID) -> HttpResponse:
    """Where the provider sends the user back; the result is fetched from the provider."""
    user = current_user(request)
    attempt = access.access_attempt_by_uuid(user, attempt_uuid)
    try:
        attempt = actions.do_finish_face_verification(
            attempt, actor=user, meta=request_meta(request)
        )
    except ProviderUnavailable as exc:
        return _unavailable(request, exc)
    if attempt.status == Status.STARTED:
        return render(
            request,
            "identity/face_pending.html",
            _context(attempt=attempt, steps=steps(2, _("人脸识别"))),
        )
    if attempt.is_success:
        clear_draft(request.session)
    return redirect(attempt)


@_with_declaration(Method.PHONE3)
def phone3_view(request: HttpRequest, user: User, declaration: Declaration) -> HttpResponse:
    """手机号认证: the provider checks name + number + phone, then an SMS code to that phone."""
    meta = request_meta(request)
    attempt = actions.open_phone3_attempt(user, declaration)
    form = Phone3CodeForm()
    if request.method == "POST" and request.POST.get("action") == "send":
        try:
            if attempt is None:
                attempt = actions.do_start_phone3_verification(declaration, actor=user, meta=meta)
                if attempt.status != Status.STARTED:
                    return redirect(attempt)
            else:
                actions.do_send_phone3_code(attempt, meta=meta)
        except VerificationRefused as exc:
            return _refused(request, exc)
        except ProviderUnavailable as exc:
            return _unavailable(request, exc)
        except CodeError as exc:
            add_message(request, exc)
        else:
            messages.success(request, _("验证码已发送，5 分钟内有效。"))
        return redirect("identity:phone3")
    if request.method == "POST":
        form = Phone3CodeForm(request.POST)
        if attempt is None:
            messages.error(request, str(AttemptNotActive()))
            return redirect("identity:phone3")
        if form.is_valid():
            try:
                attempt = actions.do_confirm_phone3_verification(
                    attempt, form.cleaned_data["code"], actor=user, meta=meta
                )
            except CodeError as exc:
                add_to_form(form, exc)
            except AttemptNotActive as exc:
                add_message(request, exc)
                return redirect("identity:phone3")
            else:
                if attempt.is_success:
                    clear_draft(request.session)
                return redirect(attempt)
    return render(
        request,
        "identity/phone3.html",
        _context(
            form=form,
            attempt=attempt,
            declaration=declaration,
            steps=steps(2, _("手机号认证")),
        ),
        status=400 if form.errors else 200,
    )


@_with_declaration(Method.BANK4)
def bank4_view(request: HttpRequest, user: User, declaration: Declaration) -> HttpResponse:
    """银行卡认证: name + number + bank card (Luhn-checked) + bank-reserved phone."""
    form = Bank4Form(posted(request), initial={"phone": declaration.phone})
    if request.method == "POST" and form.is_valid():
        try:
            attempt = actions.do_bank4_verification(
                declaration,
                form.cleaned_data["card_number"],
                form.cleaned_data["phone"],
                actor=user,
                meta=request_meta(request),
            )
        except VerificationRefused as exc:
            return _refused(request, exc)
        except ProviderUnavailable as exc:
            return _unavailable(request, exc)
        if attempt.is_success:
            clear_draft(request.session)
        return redirect(attempt)
    return render(
        request,
        "identity/bank4.html",
        _context(form=form, declaration=declaration, steps=steps(2, _("银行卡认证"))),
        status=400 if form.errors else 200,
    )


@_with_declaration(Method.MANUAL)
def manual_view(request: HttpRequest, user: User, declaration: Declaration) -> HttpResponse:
    """人工审核: a photo of the document and one of the person holding it."""
    form = ManualReviewForm(posted(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            attempt = actions.do_submit_manual_review(
                declaration,
                form.cleaned_data["front"],
                form.cleaned_data["handheld"],
                actor=user,
                meta=request_meta(request),
            )
        except VerificationRefused as exc:
            return _refused(request, exc)
        clear_draft(request.session)
        return redirect(attempt)
    return render(
        request,
        "identity/manual.html",
        _context(form=form, declaration=declaration, steps=steps(2, _("人工审核"))),
        status=400 if form.errors else 200,
    )


@login_required
def result_view(request: HttpRequest, attempt_uuid: uuid.UUID) -> HttpResponse:
    """Step 3 (核验完成): success, failure (再试一次 / 换一种方式), or waiting for review."""
    user = current_user(request)
    attempt = access.access_attempt_by_uuid(user, attempt_uuid)
    draft = load_draft(request.session, user.pk)
    other_methods = []
    if draft is not None:
        other_methods = [m for m in methods_for(draft.id_type) if m != attempt.method]
    return render(
        request,
        "identity/result.html",
        _context(
            attempt=attempt,
            has_draft=draft is not None,
            other_methods=other_methods,
            steps=steps(3, attempt.get_method_display()),
            back_url=return_url(request),
        ),
    )


@login_required
def attempt_photo_view(
    request: HttpRequest, attempt_uuid: uuid.UUID, which: str
) -> HttpResponseBase:
    """The user's own uploaded ID photo (front or hand-held)."""
    attempt = access.access_attempt_by_uuid(current_user(request), attempt_uuid)
    return photo_response(attempt, which)


def photo_response(attempt: VerificationAttempt, which: str) -> HttpResponseBase:
    """Stream an attempt's photo inline, never cached (used by the back office too)."""
    blob = {"front": attempt.front_photo, "handheld": attempt.handheld_photo}.get(which)
    if blob is None:
        raise Http404("no such photo")
    try:
        stream = blob.open_stream()  # decrypted here: photos are encrypted at rest, ≤ 5 MB
    except BlobStoreError as exc:
        log.error("identity photo %s of attempt %s unreadable: %s", which, attempt.uuid, exc)
        raise Http404("the photo cannot be read") from None
    extension = "png" if blob.content_type == "image/png" else "jpg"
    return file_response(
        stream, filename=f"id-{which}.{extension}", content_type=blob.content_type, inline=True
    )


@require_http_methods(["GET", "POST"])
def sandbox_face_view(request: HttpRequest, token: str) -> HttpResponse:
    """The sandbox provider's face comparison page (沙箱): 模拟成功 / 模拟失败."""
    if settings.QIANSHU_IDENTITY_PROVIDER != "sandbox" or not sandbox_allowed():
        raise Http404("the sandbox is off")
    session = SandboxFaceSession.objects.filter(token=token).first()
    if session is None:
        raise Http404("no such sandbox session")
    if request.method == "POST":
        passed = request.POST.get("outcome") == "passed"
        target = record_face_outcome(token, passed=passed)
        if target is None:
            raise Http404("no such sandbox session")
        return HttpResponseRedirect(target)
    try:
        get_provider()
    except ProviderUnavailable:
        raise Http404("the sandbox is off") from None
    return render(request, "identity/sandbox_face.html", {"session": session})
