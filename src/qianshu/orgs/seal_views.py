"""Pages of 印章管理 / 印章制作: the seal list, the generator with its live preview (自动生成),
the photo upload (上传图片), 停用 / 启用 / 销毁, the seal image and certificate.

Everything but the seal image is for administrators of the organisation (others get 404), and
making or changing seals needs a verified organisation.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qianshu.accounts import throttles
from qianshu.core.downloads import content_disposition
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.orgs import seal_specs
from qianshu.orgs.access import ADMIN_ONLY, access_org_by_uuid, access_seal_by_uuid
from qianshu.orgs.actions.seals import (
    do_create_generated_seal,
    do_create_photo_seal,
    do_destroy_seal,
    do_disable_seal,
    do_enable_seal,
    do_stage_seal_photo,
)
from qianshu.orgs.models import Membership, Organization, Seal
from qianshu.orgs.queries import seals_of
from qianshu.orgs.reauth import kept_input, needs_reauth, reauth_redirect
from qianshu.orgs.seal_forms import (
    DestroySealForm,
    SealPhotoForm,
    SealPhotoSaveForm,
    SealSpecForm,
)
from qianshu.orgs.seals import (
    MAX_PHOTO_BYTES,
    SealError,
    load_staged_seal_photo,
    prepare_seal_photo,
    render_seal_image,
)

PREVIEWS_PER_USER = (300, 600)  # renders, seconds: ample for typing with a debounce
UPLOADS_PER_USER_HOUR = 30
PREVIEW_CACHE = "private, max-age=600"


def _context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return {"org": org, "membership": membership, "section": "seals", "nav": "orgs", **extra}


def _not_verified(
    request: HttpRequest, org: Organization, membership: Membership, status: int = 403
) -> HttpResponse:
    return render(request, "orgs/seals/not_verified.html", _context(org, membership), status=status)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


# --- 印章管理: the list, 停用 / 启用 / 销毁, certificate ---


@login_required
@require_GET
def seals_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The organisation's seals, with their certificates and the actions on each."""
    org, membership = access_org_by_uuid(current_user(request), org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership, status=200)
    seals = seals_of(org)
    return render(request, "orgs/seals/list.html", _context(org, membership, seals=seals))


def _admin_seal(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> tuple[Organization, Membership, Seal]:
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    seal = access_seal_by_uuid(user, org, seal_uuid, include_destroyed=True)
    return org, membership, seal


@login_required
@require_POST
def seal_disable_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    org, _membership, seal = _admin_seal(request, org_uuid, seal_uuid)
    if needs_reauth(request):
        return reauth_redirect(request, reverse("orgs:seals", args=[org.uuid]))
    try:
        do_disable_seal(seal, actor=current_user(request), meta=request_meta(request))
    except SealError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("“%(name)s”已停用。") % {"name": seal.name})
    return redirect("orgs:seals", org.uuid)


@login_required
@require_POST
def seal_enable_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    org, membership, seal = _admin_seal(request, org_uuid, seal_uuid)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    if needs_reauth(request):
        return reauth_redirect(request, reverse("orgs:seals", args=[org.uuid]))
    try:
        do_enable_seal(seal, actor=current_user(request), meta=request_meta(request))
    except SealError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("“%(name)s”已启用。") % {"name": seal.name})
    return redirect("orgs:seals", org.uuid)


@login_required
@require_http_methods(["GET", "POST"])
def seal_destroy_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    """销毁: irreversible, confirmed by typing the seal's name, after a fresh
    re-authentication (asked for as the page opens)."""
    org, membership, seal = _admin_seal(request, org_uuid, seal_uuid)
    if seal.status == Seal.Status.DESTROYED:
        messages.error(request, _("印章已经销毁。"))
        return redirect("orgs:seals", org.uuid)
    if needs_reauth(request):
        return reauth_redirect(request, request.path, keep=("confirm_name",))
    form = DestroySealForm(
        seal,
        request.POST if request.method == "POST" else None,
        initial=kept_input(request, request.path),
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_destroy_seal(seal, actor=current_user(request), meta=request_meta(request))
        except SealError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("“%(name)s”已销毁，其证书已吊销。") % {"name": seal.name})
            return redirect("orgs:seals", org.uuid)
    return render(
        request,
        "orgs/seals/destroy.html",
        _context(org, membership, seal=seal, form=form),
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def seal_certificate_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    """The seal's X.509 certificate (DER, .cer)."""
    _org, _membership, seal = _admin_seal(request, org_uuid, seal_uuid)
    certificate = seal.certificate
    response = HttpResponse(
        bytes(certificate.certificate_der), content_type="application/pkix-cert"
    )
    response["Content-Disposition"] = content_disposition(f"seal-{certificate.serial_hex}.cer")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def seal_image_view(
    request: HttpRequest, org_uuid: uuid.UUID, seal_uuid: uuid.UUID
) -> HttpResponse:
    """A seal's image, for every member of its organisation (grant and usage pages show it)."""
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid)
    seal = access_seal_by_uuid(user, org, seal_uuid, include_destroyed=True)
    response = HttpResponse(seal.image.read(), content_type="image/png")
    # The picture behind a seal id never changes; it is the organisation's: browser cache only.
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Disposition"] = content_disposition(f"seal-{seal.uuid}.png", inline=True)
    return response


# --- 自动生成 ---


def _kind(value: object) -> str | None:
    text = str(value or "")
    return text if text in Seal.Kind.values else None


def _query_value(value: object) -> str:
    if value is True:
        return "on"
    if value is None or value is False:
        return ""
    return str(value)


def preview_url(org: Organization, form: SealSpecForm) -> str:
    """The preview endpoint for the form's current values (bound data or initial)."""
    params: dict[str, str] = {"kind": form.kind}
    for name in form.fields:
        value = _query_value(form[name].value())
        if value:
            params[name] = value
    return reverse("orgs:seal-preview", args=[org.uuid]) + "?" + urlencode(params)


def _kind_choices(org: Organization) -> list[dict[str, Any]]:
    choices = []
    for value, label in Seal.Kind.choices:
        form = SealSpecForm(org, value, preview=True)
        choices.append(
            {
                "value": value,
                "label": label,
                "help": seal_specs.KIND_HELP[value],
                "preview_url": preview_url(org, form),
            }
        )
    return choices


@login_required
@require_http_methods(["GET", "POST"])
def seal_new_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """自动生成: choose the type, then the default specification (editable, with a live
    preview); 完成制作 makes the seal."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    source = request.POST if request.method == "POST" else request.GET
    kind = _kind(source.get("kind"))
    if kind is None:
        return render(
            request, "orgs/seals/choose.html", _context(org, membership, kinds=_kind_choices(org))
        )
    form = SealSpecForm(org, kind, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif request.POST.get("action") != "preview":
            assert form.spec is not None
            try:
                seal = do_create_generated_seal(
                    org,
                    kind=kind,
                    name=form.cleaned_data["name"],
                    spec=form.spec,
                    params=seal_specs.stored_spec(kind, form.params),
                    actor=user,
                    meta=request_meta(request),
                )
            except SealError as exc:
                add_to_form(form, exc)
                status = 400
            else:
                messages.success(
                    request, _("印章“%(name)s”已制作完成，并已签发印章证书。") % {"name": seal.name}
                )
                return redirect("orgs:seals", org.uuid)
    context = _context(
        org,
        membership,
        form=form,
        kind=kind,
        kind_label=Seal.Kind(kind).label,
        preview_url=preview_url(org, form),
        credit_digits=seal_specs.credit_code_digits(org),
    )
    return render(request, "orgs/seals/new.html", context, status=status)


def _preview_error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    response = JsonResponse({"ok": False, "message": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def seal_preview_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The generator's live preview: a PNG for the form's parameters (GET), or 400 with a
    message (JSON) for parameters that cannot be drawn."""
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _preview_error(_("组织机构认证通过后才能制作印章。"), status=403)
    kind = _kind(request.GET.get("kind"))
    if kind is None:
        return _preview_error(_("请选择印章类型。"))
    form = SealSpecForm(org, kind, request.GET, preview=True)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        first = next(iter(errors.values()))[0]
        return _preview_error(first, errors=errors)
    requests, window = PREVIEWS_PER_USER
    verdict = throttles.hit(f"seal-preview:user:{user.pk}", limit=requests, window=window)
    if not verdict:
        refused = _preview_error(_("预览请求过于频繁，请稍后再试。"), status=429)
        refused["Retry-After"] = str(verdict.retry_after)
        return refused
    assert form.spec is not None
    try:
        png = render_seal_image(form.spec)
    except SealError as exc:
        return _preview_error(str(exc))
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = PREVIEW_CACHE
    return response


# --- 上传图片 ---


def _png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _upload_preview(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    png: bytes,
    form: SealPhotoSaveForm,
    status: int = 200,
) -> HttpResponse:
    context = _context(org, membership, form=form, data_url=_png_data_url(png))
    return _no_store(render(request, "orgs/seals/upload_preview.html", context, status=status))


@login_required
@require_http_methods(["GET", "POST"])
def seal_upload_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """上传图片: a photo of the physical seal is cleaned to a transparent red seal, cropped and
    shown; nothing is saved before 保存."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    posted = request.method == "POST"
    form = SealPhotoForm(request.POST, request.FILES) if posted else SealPhotoForm()
    if posted and form.is_valid():
        if not throttles.hit(
            f"seal-upload:user:{user.pk}", limit=UPLOADS_PER_USER_HOUR, window=3600
        ):
            form.add_error(None, _("上传过于频繁，请稍后再试。"))
        else:
            try:
                # One byte more than allowed is enough for the size check to refuse it.
                png = prepare_seal_photo(form.cleaned_data["image"].read(MAX_PHOTO_BYTES + 1))
                reference = do_stage_seal_photo(org, png, actor=user, meta=request_meta(request))
            except SealError as exc:
                add_to_form(form, exc, field="image")
            else:
                save_form = SealPhotoSaveForm(
                    initial={
                        "reference": reference,
                        "kind": Seal.Kind.OFFICIAL,
                        "name": seal_specs.default_name(Seal.Kind.OFFICIAL),
                    }
                )
                return _upload_preview(request, org, membership, png, save_form)
    return render(
        request,
        "orgs/seals/upload.html",
        _context(org, membership, form=form),
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def seal_upload_save_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """保存 on the preview page: the cleaned picture becomes a seal, with key and certificate."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    form = SealPhotoSaveForm(request.POST)
    try:
        png = load_staged_seal_photo(request.POST.get("reference", ""), org=org, actor=user)
    except SealError as exc:
        add_message(request, exc)
        return redirect("orgs:seal-upload", org.uuid)
    if not form.is_valid():
        return _upload_preview(request, org, membership, png, form, status=400)
    try:
        seal = do_create_photo_seal(
            org,
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
            png=png,
            actor=user,
            meta=request_meta(request),
        )
    except SealError as exc:
        add_to_form(form, exc)
        return _upload_preview(request, org, membership, png, form, status=400)
    messages.success(request, _("印章“%(name)s”已保存，并已签发印章证书。") % {"name": seal.name})
    return redirect("orgs:seals", org.uuid)
