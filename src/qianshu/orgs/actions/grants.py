"""Seal grants (印章授权) and using a seal (用印): the state changes.

* :func:`do_grant_seal` — an administrator grants a seal to a member for a period. The legal
  representative's seal (法定代表人章) is granted only with the legal representative's own
  approval: the grant waits (``awaiting_legal_rep``) until they open the SMS link, log in as a
  verified person whose verified name is the organisation's declared legal representative, and
  approve (:func:`do_decide_legal_rep_grant`).
* :func:`do_revoke_grant` — effective at once: :func:`qianshu.orgs.access.current_grant` stops
  returning the grant.
* :func:`do_use_seal` — a member with a current grant, who has confirmed with their own signing
  PIN (it proves the grantee is present), has the document signed with the *seal's* key and
  certificate as a visible stamp (PAdES, timestamped, finished as B-LTA). Every use writes a
  :class:`~qianshu.orgs.models.SealUsage` row and an organisation event
  (:func:`record_seal_use`, also used by envelopes).

The refusals, limits and the sealing of a PDF are in :mod:`qianshu.orgs.grants`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.core.statements import Insert
from qianshu.identity.actions import do_unlock_signing_key
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.grants import (
    DEFAULT_POSITION,
    MAX_GRANT_DAYS,
    POSITIONS,
    GrantError,
    SealedDocument,
    SealUseError,
    grant_detail,
    grant_for_token,
    is_member,
    legal_rep_refusal,
    local_time,
    locked_for_use,
    seal_pdf,
    sealed_filename,
    token_hash,
)
from qianshu.orgs.models import OrgAction, Organization, Seal, SealGrant, SealUsage
from qianshu.orgs.people import person_label
from qianshu.signing.ingest import IngestedPdf
from qianshu.storage.actions import do_store_blob

# Built once: every seal step of a batch records a use.
_INSERT_USAGE: Insert[SealUsage] = Insert(SealUsage)


def _notify_granted(grant: SealGrant) -> None:
    grantee = grant.grantee
    assert grantee is not None  # a member's grant (an API key's is never told by SMS)
    do_queue_sms(
        grantee.phone,
        "seal_granted",
        {
            "org": grant.seal.org.name,
            "seal": grant.seal.name,
            "until": local_time(grant.valid_until),
        },
        language=grantee.language or "zh-hans",
    )


def do_grant_seal(
    org: Organization,
    seal: Seal,
    grantee: User,
    *,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    legal_rep_phone: str = "",
    note: str = "",
    actor: User,
    meta: RequestMeta,
) -> SealGrant:
    """Grant ``seal`` to ``grantee`` (a current member) from ``valid_from`` to ``valid_until``.

    An ordinary seal's grant is active at once and the grantee gets a ``seal_granted`` SMS. The
    legal representative's seal gives a grant ``awaiting_legal_rep`` and a ``seal_grant_approval``
    SMS with a one-time link to ``legal_rep_phone``. Raises :class:`GrantError`.
    """
    now = timezone.now()
    if seal.org_id != org.pk or not seal.is_usable:
        raise GrantError(_("只能授权本组织启用中的印章。"))
    if valid_until <= valid_from:
        raise GrantError(_("截止时间必须晚于生效时间。"))
    if valid_until <= now:
        raise GrantError(_("截止时间必须晚于当前时间。"))
    if valid_until - valid_from > dt.timedelta(days=MAX_GRANT_DAYS):
        raise GrantError(_("授权期限最长 5 年。"))
    needs_legal_rep = seal.kind == Seal.Kind.LEGAL_REP
    if needs_legal_rep and not legal_rep_phone:
        raise GrantError(_("授权法定代表人章需要法定代表人本人同意，请填写法定代表人手机号。"))
    with transaction.atomic():
        # Serialise grants of one seal, so two admins cannot create overlapping duplicates.
        locked = Seal.objects.select_for_update().get(pk=seal.pk)
        if not locked.is_usable:
            raise GrantError(_("只能授权本组织启用中的印章。"))
        if not is_member(org, grantee):
            raise GrantError(_("只能授权给本组织的成员。"))
        open_grant = SealGrant.objects.filter(
            seal=locked,
            grantee=grantee,
            status__in=(SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP),
            valid_until__gt=now,
        ).exists()
        if open_grant:
            raise GrantError(_("该成员已有此印章的有效或待确认授权，如需调整请先撤销原授权。"))
        token = secrets.token_urlsafe(32) if needs_legal_rep else ""
        grant = SealGrant.objects.create(
            seal=locked,
            grantee=grantee,
            granted_by=actor,
            valid_from=valid_from,
            valid_until=valid_until,
            status=(
                SealGrant.Status.AWAITING_LEGAL_REP if needs_legal_rep else SealGrant.Status.ACTIVE
            ),
            legal_rep_token_hash=token_hash(token) if token else "",
            note=note,
        )
        if needs_legal_rep:
            link = settings.PUBLIC_URL + reverse("orgs:grant-decision", args=[token])
            do_queue_sms(
                legal_rep_phone,
                "seal_grant_approval",
                {
                    "name": org.legal_rep_name,
                    "org": org.name,
                    "seal": locked.name,
                    "grantee": person_label(grantee),
                    "link": link,
                },
                sensitive=True,
            )
            record_org_event(
                org,
                OrgAction.SEAL_GRANT_REQUESTED,
                actor=actor,
                meta=meta,
                legal_rep_phone=legal_rep_phone[:3] + "****" + legal_rep_phone[-4:],
                **grant_detail(grant),
            )
        else:
            _notify_granted(grant)
            record_org_event(
                org, OrgAction.SEAL_GRANTED, actor=actor, meta=meta, **grant_detail(grant)
            )
    return grant


def do_revoke_grant(grant: SealGrant, *, actor: User, meta: RequestMeta) -> SealGrant:
    """Revoke a grant (active or awaiting the legal representative), effective at once."""
    with transaction.atomic():
        locked = SealGrant.objects.select_for_update().select_related("seal__org").get(pk=grant.pk)
        if locked.status not in (SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP):
            raise GrantError(_("该授权已失效，无需撤销。"))
        locked.status = SealGrant.Status.REVOKED
        locked.revoked_by = actor
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["status", "revoked_by", "revoked_at"])
        record_org_event(
            locked.seal.org,
            OrgAction.SEAL_GRANT_REVOKED,
            actor=actor,
            meta=meta,
            **grant_detail(locked),
        )
    return locked


def do_decide_legal_rep_grant(
    token: str, *, approve: bool, actor: User, meta: RequestMeta
) -> SealGrant:
    """The legal representative approves (grant becomes active, the grantee is told) or refuses
    a grant of their seal. Raises :class:`GrantError` with the reason of a refusal."""
    with transaction.atomic():
        found = grant_for_token(token)
        if found is None:
            raise GrantError(_("链接无效或已失效。"))
        grant = (
            SealGrant.objects.select_for_update(of=("self",))
            .select_related("seal__org", "grantee")
            .get(pk=found.pk)
        )
        refusal = legal_rep_refusal(grant, actor)
        if refusal is not None:
            raise GrantError(refusal)
        grant.status = SealGrant.Status.ACTIVE if approve else SealGrant.Status.REFUSED
        grant.legal_rep_decided_by = actor
        grant.save(update_fields=["status", "legal_rep_decided_by"])
        org = grant.seal.org
        if approve:
            _notify_granted(grant)
        record_org_event(
            org,
            OrgAction.SEAL_GRANT_APPROVED if approve else OrgAction.SEAL_GRANT_REFUSED,
            actor=actor,
            meta=meta,
            **grant_detail(grant),
        )
    return grant


def _check_grant_still_current(grant: SealGrant, actor: User) -> tuple[Seal, SealGrant]:
    """Lock the grant and the seal for this use (:func:`~qianshu.orgs.grants.locked_for_use`)
    and check, once more, that the use is allowed right now."""
    found = locked_for_use(SealGrant.objects.filter(pk=grant.pk))
    if found is None:
        raise SealUseError(_("您对该印章的授权已失效。"))
    locked, seal = found
    allowed = (
        locked.grantee_id == actor.pk
        and locked.is_current()
        and seal.is_usable
        and is_member(seal.org, actor)
    )
    if not allowed:
        raise SealUseError(_("您对该印章的授权已失效。"))
    return seal, locked


def record_seal_use(
    seal: Seal,
    grant: SealGrant,
    *,
    actor: User | None,
    meta: RequestMeta,
    document_name: str,
    sha256: str,
    reference: str = "",
    **detail: Any,
) -> SealUsage:
    """用印记录: a ``SealUsage`` row and an organisation event for one use of ``seal`` (here,
    or on an envelope: ``reference`` is then its task number). Call inside the transaction
    that applied the seal. ``actor`` is None when an API key sealed (the grant names it)."""
    if grant.api_key_id is not None:
        detail["api_key"] = str(grant.api_key)
    envelope: dict[str, Any] = {"envelope": reference} if reference else {}
    usage = SealUsage(
        seal=seal,
        user=actor,
        grant=grant,
        document_name=document_name[:200],
        document_sha256=sha256,
        reference=reference,
        ip=meta.ip,
    )
    _INSERT_USAGE.save([usage])
    record_org_event(
        seal.org,
        OrgAction.SEAL_USED,
        actor=actor,
        meta=meta,
        seal=str(seal.uuid),
        seal_name=seal.name,
        grant=str(grant.uuid),
        usage=usage.pk,
        document_name=usage.document_name,
        output_sha256=sha256,
        **envelope,
        **detail,
    )
    return usage


def do_use_seal(
    grant: SealGrant,
    pdf: IngestedPdf,
    *,
    document_name: str,
    pin: str,
    page: int | None = None,
    position: str = DEFAULT_POSITION,
    actor: User,
    meta: RequestMeta,
) -> SealedDocument:
    """Seal ``pdf`` with the seal of ``grant`` after the grantee confirms with their own PIN.

    The PIN is checked by the identity app's ``do_unlock_signing_key`` (it raises its
    ``PinError`` subclasses: wrong PIN, locked, no PIN set); that check commits its own attempt
    counter, so it runs before this action's transaction — a rollback here must not forget a
    wrong PIN.

    ``page`` counts from 1 (None: the last page); ``position`` is a key of
    :data:`~qianshu.orgs.grants.POSITIONS`. Raises :class:`~qianshu.orgs.grants.SealUseError`;
    nothing is recorded then. On success the sealed PDF is stored as a blob, and a
    ``SealUsage`` row and an organisation event are written.
    """
    if position not in POSITIONS:
        raise SealUseError(_("请选择盖章位置。"))
    do_unlock_signing_key(actor, pin, meta=meta)
    with transaction.atomic():
        seal, locked = _check_grant_still_current(grant, actor)
        data = seal_pdf(seal, pdf, page, position)
        blob = do_store_blob(data, content_type="application/pdf")
        usage = record_seal_use(
            seal,
            locked,
            actor=actor,
            meta=meta,
            document_name=document_name,
            sha256=blob.sha256,
            input_sha256=pdf.sha256,
        )
    return SealedDocument(data=data, filename=sealed_filename(usage.document_name), usage=usage)
