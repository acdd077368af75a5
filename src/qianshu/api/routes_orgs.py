"""``/orgs/me``: the key's organisation and its seals."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from qianshu.api.actions.seals import key_grant
from qianshu.api.auth import caller, current_key
from qianshu.api.models import Scope
from qianshu.api.schemas import OrgOut, SealOut
from qianshu.orgs.models import Seal

router = Router(tags=["organisation"])


@router.get("/orgs/me", response=OrgOut, summary="The organisation of the API key")
def org_me(request: HttpRequest) -> OrgOut:
    org = current_key(request).org
    return OrgOut(id=str(org.uuid), name=org.name, credit_code=org.credit_code, status=org.status)


@router.get("/orgs/me/seals", response=list[SealOut], summary="The organisation's seals")
def org_seals(request: HttpRequest) -> list[SealOut]:
    key = caller(request, Scope.SEALS_READ)
    seals = Seal.objects.filter(org=key.org).exclude(status=Seal.Status.DESTROYED).order_by("id")
    grant = key_grant(key)
    granted = grant.seal_id if grant is not None and grant.is_current() else None
    return [
        SealOut(
            id=str(s.uuid),
            name=s.name,
            kind=s.kind,
            status=s.status,
            granted_to_this_key=s.pk == granted and s.is_usable,
        )
        for s in seals
    ]
