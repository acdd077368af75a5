"""运营后台 → 用户账号: an operator's actions on a person's account.

Changing the phone, revoking the identity (to correct it, the person verifies again) and revoking
the signing credential go through the same actions as the person's own changes: a reason, a
security event naming the operator, every session of the person ended, an SMS to the person
(and to the old phone). None of them gives the operator, or the new phone, a signing key: see
``qianshu.identity.actions.operator`` and ``qianshu.identity.holds``. Operators re-authenticate
before acting.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from qianshu.accounts.actions import PhoneTaken, do_set_phone
from qianshu.accounts.models import SecurityEvent, User
from qianshu.accounts.phones import normalize_phone
from qianshu.accounts.sessions import recently_authenticated
from qianshu.backoffice.decorators import View, staff_required
from qianshu.backoffice.user_forms import OperatorPhoneForm, ReasonForm, UserSearchForm
from qianshu.core.meta import request_meta
from qianshu.identity import access
from qianshu.identity.actions import do_revoke_identity, do_revoke_signing_credential
from qianshu.identity.errors import IdentityError
from qianshu.identity.holds import new_key_held_until, pin_reset_held_until
from qianshu.identity.models import SigningCredential

RECENT_EVENTS = 20
MAX_RESULTS = 20


def _operator(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _person(operator: User, user_id: int) -> User:
    """Another person's account; an operator acts on their own account in the user centre."""
    person = User.objects.filter(pk=user_id).first()
    if person is None or person.pk == operator.pk:
        raise Http404("no such user")
    return person


def operator_action(handle: Callable[[HttpRequest, User, User], None]) -> View:
    """A POST action of the user page: by an operator, on another person's account, after a
    fresh re-authentication (else to the re-authentication, then back to the user page)."""

    @staff_required
    @require_POST
    @wraps(handle)
    def view(request: HttpRequest, user_id: int) -> HttpResponseBase:
        operator = _operator(request)
        person = _person(operator, user_id)
        page = reverse("backoffice:user", args=[person.pk])
        if not recently_authenticated(request):
            query = urlencode({"next": page})
            return HttpResponseRedirect(f"{reverse('accounts:reauth')}?{query}")
        handle(request, operator, person)
        return HttpResponseRedirect(page)

    return view


@staff_required
def user_search_view(request: HttpRequest) -> HttpResponse:
    """Find an account by its phone number (whole, or the last digits)."""
    form = UserSearchForm(request.GET or None)
    results: list[User] = []
    if form.is_valid() and (query := form.cleaned_data["q"].strip()):
        try:
            results = list(User.objects.filter(phone=normalize_phone(query)))
        except ValidationError:  # not a whole number: the last digits
            digits = "".join(c for c in query if c.isdigit())
            if len(digits) >= 4:
                results = list(User.objects.filter(phone__endswith=digits)[:MAX_RESULTS])
    context = {"form": form, "results": results, "nav": "backoffice"}
    return render(request, "backoffice/user_search.html", context)


def _detail_context(person: User) -> dict[str, object]:
    credentials = SigningCredential.objects.filter(user=person).select_related("certificate")
    return {
        "person": person,
        "identity": access.verified_identity(person),
        "credentials": list(credentials),
        "active_credential": access.active_credential(person),
        "reset_held_until": pin_reset_held_until(person),
        "new_key_held_until": new_key_held_until(person),
        "events": SecurityEvent.objects.filter(user=person)[:RECENT_EVENTS],
        "phone_form": OperatorPhoneForm(auto_id="phone_%s"),
        "identity_form": ReasonForm(auto_id="identity_%s"),
        "credential_form": ReasonForm(auto_id="credential_%s"),
        "nav": "backoffice",
    }


@staff_required
@never_cache
def user_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """One account: phone, identity, signing credentials, recent security events, actions."""
    person = _person(_operator(request), user_id)
    return render(request, "backoffice/user_detail.html", _detail_context(person))


def _form_errors(request: HttpRequest, form: ReasonForm) -> None:
    for errors in form.errors.values():
        messages.error(request, str(errors[0]))
        return


@operator_action
def user_phone_view(request: HttpRequest, operator: User, person: User) -> None:
    """更换手机号: the same action as the person's own change (see ``do_set_phone``)."""
    form = OperatorPhoneForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    elif form.cleaned_data["phone"] == person.phone:
        messages.error(request, _("新手机号与当前手机号相同。"))
    else:
        try:
            do_set_phone(
                person,
                form.cleaned_data["phone"],
                actor=operator,
                meta=request_meta(request),
                reason=form.cleaned_data["reason"],
            )
        except PhoneTaken:
            messages.error(request, _("该手机号已被其他账户使用。"))
        else:
            messages.success(
                request, _("手机号已更换，用户的所有登录已退出，原手机号和新手机号已收到短信。")
            )


def _revoke(
    request: HttpRequest,
    operator: User,
    person: User,
    action: Callable[..., object],
    done: str,
) -> None:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return
    try:
        action(person, form.cleaned_data["reason"], actor=operator, meta=request_meta(request))
    except IdentityError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)


@operator_action
def user_identity_revoke_view(request: HttpRequest, operator: User, person: User) -> None:
    """撤销实名认证 (also revokes the credential); to correct a name or number, the person then
    verifies again."""
    done = _("实名认证已撤销，个人证书已吊销，用户已收到短信。")
    _revoke(request, operator, person, do_revoke_identity, done)


@operator_action
def user_credential_revoke_view(request: HttpRequest, operator: User, person: User) -> None:
    """吊销个人证书: the person gets a new key only through the PIN reset."""
    _revoke(
        request,
        operator,
        person,
        do_revoke_signing_credential,
        _("个人证书已吊销，用户已收到短信。"),
    )
