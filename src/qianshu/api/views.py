"""开放平台 · API 密钥: an organisation administrator's API keys.

Administrators of a verified organisation only (others get 404). Creating and revoking a key,
and granting a seal to a key (API 用印) or revoking that grant, need a fresh re-authentication;
a new key is shown once, on the page that answers the creation, and only its digest is kept.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from qianshu.accounts.models import User
from qianshu.api.actions.keys import do_create_api_key, do_revoke_api_key
from qianshu.api.actions.seals import do_grant_seal_to_key, key_grant
from qianshu.api.forms import ApiKeyForm, KeySealForm
from qianshu.api.models import ApiCall, ApiKey, Scope
from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.core.meta import RequestMeta, request_meta
from qianshu.core.requests import current_user
from qianshu.orgs.access import ADMIN_ONLY, access_org_by_uuid
from qianshu.orgs.actions.grants import do_revoke_grant
from qianshu.orgs.models import Organization, SealGrant
from qianshu.orgs.reauth import kept_input, needs_reauth, reauth_redirect

RECENT_CALLS = 20
# The fields of the seal grant form kept across a re-authentication.
KEPT = ("op", "key", "seal", "valid_until", "note")


@login_required
@require_http_methods(["GET", "POST"])
def api_keys_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The keys, their recent calls, the form to create one, and revocation."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    context = {"org": org, "membership": membership, "section": "api-keys"}
    if not org.is_verified:
        return render(request, "webhooks/not_verified.html", context, status=403)
    form = ApiKeyForm(
        request.POST if request.POST.get("op") == "create" else None,
        initial={"scopes": list(Scope.values)},
    )
    plain = ""
    status = 200
    if request.method == "POST":
        if needs_reauth(request):
            return reauth_redirect(request, request.path, keep=KEPT)
        meta = request_meta(request)
        op = request.POST.get("op")
        if op in ("grant-seal", "revoke-seal"):
            return _key_seal(request, org, op, user, meta)
        if op == "revoke":
            key = ApiKey.objects.filter(org=org, prefix=request.POST.get("key", "")[:16]).first()
            if key is None:
                raise Http404
            do_revoke_api_key(key, actor=user, meta=meta)
            messages.success(request, _("API 密钥“%(name)s”已吊销。") % {"name": key.name})
            return redirect("api-pages:keys", org.uuid)
        if form.is_valid():
            try:
                _key, plain = do_create_api_key(
                    org,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    actor=user,
                    meta=meta,
                )
            except UserError as exc:
                add_to_form(form, exc)
                status = 400
            else:
                form = ApiKeyForm(initial={"scopes": list(Scope.values)})
        else:
            status = 400
    keys = list(ApiKey.objects.filter(org=org).order_by("-created_at"))
    calls = {
        key.pk: list(ApiCall.objects.filter(key=key).order_by("-created_at")[:RECENT_CALLS])
        for key in keys
        if key.is_active
    }
    grants = {
        g.api_key_id: g
        for g in SealGrant.objects.filter(
            api_key__in=keys, status=SealGrant.Status.ACTIVE
        ).select_related("seal")
    }
    kept = kept_input(request, request.path)
    seal_form = KeySealForm(org, initial=kept)
    rows = [(key, calls.get(key.pk, []), grants.get(key.pk)) for key in keys]
    return render(
        request,
        "api/keys.html",
        {
            **context,
            "form": form,
            "rows": rows,
            "plain": plain,
            "seal_form": seal_form,
            "seal_for": kept.get("key", ""),
            "now": timezone.now(),
        },
        status=status,
    )


def _key_seal(
    request: HttpRequest, org: Organization, op: str, user: User, meta: RequestMeta
) -> HttpResponse:
    """Grant a seal to a key, or revoke the key's grant (after re-authentication)."""
    key = ApiKey.objects.filter(org=org, prefix=request.POST.get("key", "")[:16]).first()
    if key is None:
        raise Http404
    if op == "revoke-seal":
        grant = key_grant(key)
        if grant is not None:
            try:
                do_revoke_grant(grant, actor=user, meta=meta)
            except UserError as exc:
                add_message(request, exc)
            else:
                messages.success(
                    request,
                    _("已撤销 API 密钥“%(name)s”对“%(seal)s”的授权。")
                    % {"name": key.name, "seal": grant.seal.name},
                )
        return redirect("api-pages:keys", org.uuid)
    form = KeySealForm(org, request.POST)
    if form.is_valid():
        try:
            grant = do_grant_seal_to_key(
                key,
                form.cleaned_data["seal"],
                valid_until=form.until(),
                note=form.cleaned_data["note"],
                actor=user,
                meta=meta,
            )
        except UserError as exc:
            add_message(request, exc)
        else:
            messages.success(
                request,
                _("已将“%(seal)s”授权给 API 密钥“%(name)s”。")
                % {"seal": grant.seal.name, "name": key.name},
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("api-pages:keys", org.uuid)
