"""Pages every party reaches: an agreement's link (from a notification) opens the page of the
party the viewer is."""

from __future__ import annotations

import uuid
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from qianshu.accounts.models import User
from qianshu.core.downloads import file_response
from qianshu.core.meta import request_meta
from qianshu.employment.access import access_agreement_by_uuid, employers_of
from qianshu.employment.models import School
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.models import Envelope
from qianshu.orgs.context import acting_org


@login_required
def agreement_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """The agreement's page for the viewer's part in it (student first, then employer,
    then school: one person may be more than one, e.g. a school's staff member testing)."""
    agreement, roles = access_agreement_by_uuid(request.user, agreement_uuid)  # type: ignore[arg-type]
    for role in ("student", "employer", "school"):
        if role in roles:
            return redirect(f"employment:{role}-agreement", agreement_uuid=agreement.uuid)
    raise AssertionError("access_agreement_by_uuid returns a party")


@login_required
def home_view(request: HttpRequest) -> HttpResponse:
    """就业签约: the centres of the parts the viewer has — 学生 (a verified roster entry or
    信息验证), 单位 (acting for an organisation it administers), 学校 (acting for a school
    where it is staff)."""
    user = cast(User, request.user)
    org = acting_org(request)
    if org is not None and School.objects.filter(org=org, staff__user=user).exists():
        return redirect("employment:school-home")
    if org is not None and employers_of(user).filter(pk=org.pk).exists():
        return redirect("employment:employer-home")
    return redirect("employment:student-home")


def envelope_document(
    request: HttpRequest, envelope: Envelope, filename: str, *, inline: bool = True
) -> HttpResponse:
    """The envelope's document as it is now (the signed final file once completed) — the one
    document of an agreement or a 解约函 — recorded as a download in the envelope's audit
    trail; 404 when it has none. The caller checked access."""
    document = envelope.documents.select_related("current").order_by("position", "pk").first()
    if document is None:
        raise Http404
    data = document.current.read()
    do_record_download(
        envelope,
        "document",
        actor=cast(User, request.user),
        meta=request_meta(request),
        document=document,
    )
    return file_response(
        data,
        filename=filename,
        content_type="application/pdf",
        inline=inline,
        default_name="agreement.pdf",
    )
