"""创建组织 (seed 002): the licence fields, the consent to 《隐私保护协议》, and the licence kept
across a form error.

A licence that passed its checks while another field did not is stored as a ``PendingLicence``
of the uploader, and its uuid put in the session: the next try shows 已上传：<name> and needs no
new file (choosing one replaces it). Only the same user in the same session can use it.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.errors import add_to_form
from qianshu.core.legal import PRIVACY_VERSION
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, posted
from qianshu.identity.access import verified_identity
from qianshu.orgs.actions.licences import do_keep_pending_licence
from qianshu.orgs.actions.verification import do_create_org
from qianshu.orgs.licences import (
    Licence,
    pending_licence_contents,
    pending_licence_for,
    upload_name,
)
from qianshu.orgs.models import Organization, PendingLicence
from qianshu.orgs.verification import OrgError
from qianshu.orgs.verification_forms import OrgCreateForm
from qianshu.storage.errors import BlobStoreError

log = logging.getLogger(__name__)


#: The session's pending licence on 创建组织 (PendingLicence.uuid).
PENDING_LICENCE_KEY = "qianshu_pending_licence"


def _pending_licence(request: HttpRequest, user: User) -> PendingLicence | None:
    pending = pending_licence_for(user, request.session.get(PENDING_LICENCE_KEY))
    if pending is None:
        request.session.pop(PENDING_LICENCE_KEY, None)
    return pending


def _keep_licence(
    request: HttpRequest, form: OrgCreateForm, pending: PendingLicence | None
) -> PendingLicence | None:
    """After a form error: keep a newly chosen licence that passed its checks, so the person
    does not choose it again (已上传：…)."""
    licence = form.cleaned_data.get("licence")
    if not isinstance(licence, Licence):
        return pending
    try:
        kept = do_keep_pending_licence(
            licence,
            name=upload_name(request.FILES.get("licence")),
            actor=current_user(request),
            meta=request_meta(request),
            replaces=pending,
        )
    except BlobStoreError as exc:
        log.error("pending licence not stored: %s", exc)
        return pending
    request.session[PENDING_LICENCE_KEY] = str(kept.uuid)
    return kept


def _create_org(
    request: HttpRequest, form: OrgCreateForm, pending: PendingLicence | None
) -> Organization | None:
    """Create the organisation from a valid form; None (errors on the form) if refused."""
    data = form.cleaned_data
    licence = data["licence"]
    if licence is None and pending is not None:
        try:
            licence = pending_licence_contents(pending)
        except BlobStoreError as exc:
            log.error("pending licence unreadable: %s", exc)
            form.add_error("licence", _("已上传的营业执照暂时无法读取，请重新上传。"))
            return None
    try:
        org = do_create_org(
            kind=data["kind"],
            name=data["name"],
            credit_code=data["credit_code"],
            registration_number=data["registration_number"],
            legal_rep_name=data["legal_rep_name"],
            licence=licence,
            privacy_version=PRIVACY_VERSION if data["privacy"] else "",
            pending=pending,
            actor=current_user(request),
            meta=request_meta(request),
        )
    except OrgError as exc:  # CreditCodeTaken goes on the credit code field
        add_to_form(form, exc)
    else:
        request.session.pop(PENDING_LICENCE_KEY, None)
        return org
    return None


@login_required
def org_create_view(request: HttpRequest) -> HttpResponse:
    """创建组织: only a verified person, who agrees to 《隐私保护协议》; the creator becomes 管理员.
    A licence that passed its checks is kept across a form error (已上传：…)."""
    user = current_user(request)
    if verified_identity(user) is None:
        return render(request, "orgs/create.html", {"not_verified": True, "nav": "orgs"})
    pending = _pending_licence(request, user)
    # A seal step's link (envelopes) prefills the organisation it waits for: ?name=&credit_code=
    prefill = {key: request.GET.get(key, "")[:100] for key in ("name", "credit_code")}
    form = OrgCreateForm(
        posted(request),
        request.FILES if request.method == "POST" else None,
        initial={key: value for key, value in prefill.items() if value},
        pending_name=pending.name if pending else "",
    )
    if request.method == "POST":
        if form.is_valid():
            org = _create_org(request, form, pending)
            if org is not None:
                messages.success(request, _("组织已创建，请选择认证方式完成组织机构认证。"))
                return redirect("orgs:verify", org_uuid=org.uuid)
        pending = _keep_licence(request, form, pending)
        form.set_pending(pending.name if pending else "")
    return render(
        request,
        "orgs/create.html",
        {"form": form, "nav": "orgs", "privacy_version": PRIVACY_VERSION},
        status=400 if form.errors else 200,
    )
