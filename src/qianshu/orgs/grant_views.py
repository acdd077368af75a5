"""Pages of seal grants (印章授权), my seals (我可用的印章), using a seal (用印) and the seal
usage log (用印记录)."""

from __future__ import annotations

import csv
import io
import uuid
import zoneinfo
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from qianshu.accounts.models import User
from qianshu.core.downloads import content_disposition, file_response
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user, posted
from qianshu.identity.access import verified_identity
from qianshu.identity.errors import PinError
from qianshu.orgs.access import (
    ADMIN_ONLY,
    access_org_by_uuid,
    access_seal_by_uuid,
    access_usable_seal,
    current_grant,
)
from qianshu.orgs.actions.grants import (
    do_decide_legal_rep_grant,
    do_grant_seal,
    do_revoke_grant,
    do_use_seal,
)
from qianshu.orgs.grant_forms import GrantForm, SealUseForm, UsageFilterForm
from qianshu.orgs.grants import (
    GrantError,
    SealUseError,
    grant_for_token,
    legal_rep_refusal,
    sealed_filename,
)
from qianshu.orgs.models import Membership, Organization, Seal, SealGrant, SealUsage
from qianshu.orgs.people import holder_label, real_name
from qianshu.orgs.queries import grants_of, seal_usages
from qianshu.orgs.reauth import kept_input, needs_reauth, reauth_redirect
from qianshu.storage.models import Blob

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
USAGE_PAGE_SIZE = 20
# The grant form's fields, kept across a re-authentication.
GRANT_FIELDS = ("seal", "grantee", "valid_from", "valid_until", "legal_rep_phone", "note")


def _context(org: Organization, membership: Membership, section: str) -> dict[str, object]:
    return {"org": org, "membership": membership, "section": section, "nav": "orgs"}


# --- 印章授权 (administrators) ---


def _grant_state(grant: SealGrant, now: datetime, members: set[int]) -> tuple[str, str, str]:
    """(list group, state text, badge class) of a grant on the administrators' page."""
    status = grant.status
    if status == SealGrant.Status.REVOKED:
        return "ended", _("已撤销"), "badge-err"
    if status == SealGrant.Status.REFUSED:
        return "ended", _("法定代表人已拒绝"), "badge-err"
    if grant.valid_until <= now:
        return "ended", _("已过期"), ""
    if status == SealGrant.Status.AWAITING_LEGAL_REP:
        return "pending", _("待法定代表人同意"), "badge-warn"
    if grant.api_key is not None and not grant.api_key.is_active:
        return "current", _("API 密钥已吊销，不可用"), "badge-warn"
    if grant.api_key is None and grant.grantee_id not in members:
        return "current", _("已不是成员，不可用"), "badge-warn"
    if not grant.seal.is_usable:
        return "current", _("印章已停用"), "badge-warn"
    if grant.valid_from > now:
        return "current", _("未到生效时间"), "badge-warn"
    return "current", _("有效"), "badge-ok"


@login_required
def grants_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """Grant a seal to a member (after a fresh re-authentication); current, pending and ended
    grants."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    here = reverse("orgs:grants", args=[org.uuid])
    if request.method == "POST" and needs_reauth(request):
        return reauth_redirect(request, here, keep=GRANT_FIELDS)
    form = GrantForm(org, posted(request), initial=kept_input(request, here))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grant = do_grant_seal(
                org,
                data["seal"],
                data["grantee"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                legal_rep_phone=data.get("legal_rep_phone") or "",
                note=data.get("note") or "",
                actor=user,
                meta=request_meta(request),
            )
        except GrantError as exc:
            add_to_form(form, exc)
        else:
            if grant.status == SealGrant.Status.AWAITING_LEGAL_REP:
                messages.success(
                    request, _("已向法定代表人发送确认短信，法定代表人本人同意后授权生效。")
                )
            else:
                messages.success(
                    request,
                    _("已将“%(seal)s”授权给 %(name)s。")
                    % {"seal": grant.seal.name, "name": holder_label(grant)},
                )
            return redirect("orgs:grants", org.uuid)
    now = timezone.now()
    members = set(Membership.objects.filter(org=org).values_list("user_id", flat=True))
    rows: dict[str, list[dict[str, object]]] = {"current": [], "pending": [], "ended": []}
    for grant in grants_of(org)[:500]:
        group, state, badge = _grant_state(grant, now, members)
        rows[group].append({"grant": grant, "state": state, "badge": badge})
    context = _context(org, membership, "grants") | {
        "form": form,
        "current": rows["current"],
        "pending": rows["pending"],
        "ended": rows["ended"][:50],
        "has_seals": Seal.objects.filter(org=org, status=Seal.Status.ACTIVE).exists(),
        "legal_rep_seals": list(
            Seal.objects.filter(
                org=org, status=Seal.Status.ACTIVE, kind=Seal.Kind.LEGAL_REP
            ).values_list("pk", flat=True)
        ),
    }
    return render(request, "orgs/grants/list.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke_grant_view(
    request: HttpRequest, org_uuid: uuid.UUID, grant_uuid: uuid.UUID
) -> HttpResponse:
    """撤销: effective at once (after a fresh re-authentication)."""
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    grant = (
        SealGrant.objects.select_related("seal", "grantee", "api_key")
        .filter(seal__org=org, uuid=grant_uuid)
        .first()
    )
    if grant is None:
        raise Http404
    if needs_reauth(request):
        return reauth_redirect(request, reverse("orgs:grants", args=[org.uuid]))
    try:
        do_revoke_grant(grant, actor=user, meta=request_meta(request))
    except GrantError as exc:
        add_message(request, exc)
    else:
        messages.success(
            request,
            _("已撤销 %(name)s 对“%(seal)s”的授权。")
            % {"name": holder_label(grant), "seal": grant.seal.name},
        )
    return redirect("orgs:grants", org.uuid)


# --- The legal representative's approval (reached by the SMS link) ---


@login_required
def grant_decision_view(request: HttpRequest, token: str) -> HttpResponse:
    """法定代表人章授权确认: only the declared legal representative (by verified name) decides."""
    user = current_user(request)
    grant = grant_for_token(token)
    if grant is None:
        return render(request, "orgs/grants/decision.html", {"invalid": True}, status=404)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision in ("approve", "refuse"):
            try:
                do_decide_legal_rep_grant(
                    token, approve=decision == "approve", actor=user, meta=request_meta(request)
                )
            except GrantError as exc:
                add_message(request, exc)
            else:
                if decision == "approve":
                    messages.success(request, _("您已同意授权，被授权人现在可以使用该印章。"))
                else:
                    messages.success(request, _("您已拒绝此授权。"))
            return redirect("orgs:grant-decision", token)
    context = {
        "grant": grant,
        "org": grant.seal.org,
        "refusal": legal_rep_refusal(grant, user),
        "grantee_name": holder_label(grant),
        "needs_identity": verified_identity(user) is None,
    }
    return render(request, "orgs/grants/decision.html", context)


# --- 我可用的印章 (every member) ---


@login_required
def my_seals_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid)
    now = timezone.now()
    grants = (
        SealGrant.objects.filter(seal__org=org, seal__status=Seal.Status.ACTIVE, grantee=user)
        .current(now)
        .select_related("seal")
        .order_by("seal__created_at", "-valid_until")
    )
    usable: dict[int, SealGrant] = {}
    for grant in grants:
        usable.setdefault(grant.seal_id, grant)  # the one lasting longest
    upcoming = (
        SealGrant.objects.filter(
            seal__org=org,
            grantee=user,
            valid_until__gt=now,
            status__in=(SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP),
        )
        .exclude(pk__in=[g.pk for g in usable.values()])
        .select_related("seal")
    )
    context = _context(org, membership, "my-seals") | {
        "grants": list(usable.values()),
        "upcoming": [g for g in upcoming if g.seal_id not in usable],
        "recent": SealUsage.objects.filter(seal__org=org, user=user).select_related("seal")[:10],
    }
    return render(request, "orgs/my_seals.html", context)


@login_required
def my_seal_image_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    """A seal's image for someone who may use it (or an administrator)."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid)
    seal = access_seal_by_uuid(user, org, seal_uuid)
    if membership.role != Membership.Role.ADMIN and current_grant(user, seal) is None:
        raise Http404
    response = HttpResponse(seal.image.read(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- 用印 (a member with a current grant) ---


def _usable_seal(
    user: User, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> tuple[Membership, Seal, SealGrant]:
    org, membership = access_org_by_uuid(user, org_uuid)
    seal, grant = access_usable_seal(user, seal_uuid)
    if seal.org_id != org.pk:
        raise Http404
    return membership, seal, grant


@login_required
def seal_use_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponseBase:
    """Upload a PDF, choose where the seal goes, confirm with the signing PIN, download the
    sealed PDF. 404 for anyone without a current grant of this seal."""
    user = current_user(request)
    membership, seal, grant = _usable_seal(user, org_uuid, seal_uuid)
    form = SealUseForm(posted(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and form.ingested is not None:
        try:
            sealed = do_use_seal(
                grant,
                form.ingested,
                document_name=form.document_name,
                pin=form.cleaned_data["pin"],
                page=form.cleaned_data.get("page"),
                position=form.cleaned_data["position"],
                actor=user,
                meta=request_meta(request),
            )
        except PinError as exc:
            add_to_form(form, exc, field="pin")
        except SealUseError as exc:
            add_to_form(form, exc)
        else:
            return file_response(
                io.BytesIO(sealed.data), filename=sealed.filename, content_type="application/pdf"
            )
    context = _context(seal.org, membership, "my-seals") | {
        "seal": seal,
        "grant": grant,
        "form": form,
    }
    return render(request, "orgs/seal_use.html", context, status=400 if form.errors else 200)


# --- 用印记录 (administrators) ---


def _csv_cell(value: object) -> str:
    text = str(value)
    # Spreadsheet formula injection: document names come from users.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _usage_actor(usage: SealUsage) -> str:
    if usage.user is None:
        assert usage.grant is not None  # an API key's use: its grant names the key
        return holder_label(usage.grant)
    return real_name(usage.user) or _("未实名")


def _usage_csv(usages: list[SealUsage], org: Organization) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("用印时间"),
            _("印章"),
            pgettext("usage log", "用印人"),
            _("手机号"),
            _("文件名称"),
            _("文件摘要"),
            "IP",
        ]
    )
    for usage in usages:
        writer.writerow(
            [
                _csv_cell(value)
                for value in (
                    timezone.localtime(usage.created_at, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                    usage.seal.name,
                    _usage_actor(usage),
                    usage.user.masked_phone if usage.user else "",
                    usage.document_name,
                    usage.document_sha256,
                    usage.ip or "",
                )
            ]
        )
    response = HttpResponse(
        "\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8"
    )  # BOM: Excel reads UTF-8
    stamp = timezone.localtime(timezone.now(), SHANGHAI).strftime("%Y%m%d")
    response["Content-Disposition"] = content_disposition(f"seal-usage-{stamp}.csv")
    return response


@login_required
def usage_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """用印记录: who used which seal on which document, when; filters, pages, CSV."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    filters = UsageFilterForm(org, request.GET or None)
    usages = seal_usages(org)
    if filters.is_valid():
        if filters.cleaned_data.get("seal"):
            usages = usages.filter(seal=filters.cleaned_data["seal"])
        if filters.cleaned_data.get("member"):
            usages = usages.filter(user=filters.cleaned_data["member"])
    elif filters.is_bound:
        usages = usages.none()
    if request.GET.get("format") == "csv":
        return _usage_csv(list(usages[:10000]), org)
    page = Paginator(usages, USAGE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    context = _context(org, membership, "usage") | {
        "filters": filters,
        "page_obj": page,
        "query": query.urlencode(),
        "tz": SHANGHAI,
    }
    return render(request, "orgs/usage.html", context)


@login_required
def usage_download_view(
    request: HttpRequest, org_uuid: uuid.UUID, usage_id: int
) -> HttpResponseBase:
    """The sealed document of one use (kept in the blob store), for administrators."""
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    usage = SealUsage.objects.filter(seal__org=org, pk=usage_id).first()
    blob = Blob.objects.filter(sha256=usage.document_sha256).first() if usage else None
    if usage is None or blob is None:
        raise Http404
    return file_response(
        blob.open_stream(),
        filename=sealed_filename(usage.document_name),
        content_type="application/pdf",
    )
