"""Seals of a verified organisation (印章制作 / 印章管理): the state changes.

* :func:`do_create_generated_seal` (自动生成) and :func:`do_create_photo_seal` (上传图片) store
  the image, create the seal's own key in the configured key store (software-wrapped under the
  master key, or generated inside a PKCS#11 token) and have the platform's issuing CA certify it
  (organisation name, credit code, seal name, seal id).
* :func:`do_disable_seal` / :func:`do_enable_seal` (停用 / 启用) switch it off and on.
* :func:`do_destroy_seal` (销毁) is final: the certificate is revoked (cessation of operation,
  so the CRL and OCSP say revoked), a software key is erased, and the seal can never be used or
  enabled again. Its image stays, marked 已销毁, for the record.

Every change writes an :class:`~qianshu.orgs.models.OrgEvent` in the same transaction. The
checks, limits and key-store helpers are in :mod:`qianshu.orgs.seals`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, Seal, SealGrant
from qianshu.orgs.seals import (
    STAGED_PHOTO_SALT,
    SealError,
    check_can_add_seal,
    clean_seal_name,
    configured_key_store,
    render_seal_image,
    seal_key_label,
)
from qianshu.pki.actions import do_issue_seal_certificate, do_revoke_certificate
from qianshu.pki.keystores import pkcs11_key_store, software_key_store
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import PkiNotInitialised
from qianshu.signing.errors import SigningError
from qianshu.signing.keys import SigningKey
from qianshu.signing.pki import SealIdentity
from qianshu.signing.seals import SealSpec
from qianshu.storage.actions import do_store_blob

log = logging.getLogger(__name__)


def _create_key(seal_uuid: uuid.UUID) -> tuple[str, bytes, SigningKey]:
    """A new key for the seal in the configured store: (store name, reference, key)."""
    store = configured_key_store()
    label = seal_key_label(seal_uuid)
    if store == "pkcs11":
        reference, key = pkcs11_key_store().create_key(label)
    else:
        reference, key = software_key_store().create_key(label)
    return store, reference, key


def _create_seal(
    org: Organization,
    *,
    kind: str,
    name: str,
    source: str,
    spec: dict[str, Any],
    png: bytes,
    actor: User,
    meta: RequestMeta,
) -> Seal:
    name = clean_seal_name(name)
    check_can_add_seal(org, kind)
    seal_uuid = uuid.uuid4()
    identity = SealIdentity(
        org_name=org.name,
        credit_code=org.identifier,
        seal_name=name,
        seal_id=str(seal_uuid),
        overseas=org.is_overseas,
    )
    try:
        with transaction.atomic():
            # One seal at a time per organisation, so the count above cannot be raced past.
            locked = Organization.objects.select_for_update().get(pk=org.pk)
            check_can_add_seal(locked, kind)
            image = do_store_blob(png, content_type="image/png")
            # A PKCS#11 key made here stays in the token if the transaction rolls back; it is
            # unreachable without a row naming it.
            store, reference, key = _create_key(seal_uuid)
            certificate = do_issue_seal_certificate(identity, key.public_key)
            issued = IssuedCertificate.objects.get(
                serial_hex=format(certificate.serial_number, "x")
            )
            seal = Seal.objects.create(
                uuid=seal_uuid,
                org=locked,
                kind=kind,
                name=name,
                source=source,
                spec=spec,
                image=image,
                key_store=store,
                key_reference=reference,
                certificate=issued,
                created_by=actor,
            )
            record_org_event(
                locked,
                OrgAction.SEAL_CREATED,
                actor=actor,
                meta=meta,
                seal=str(seal.uuid),
                name=name,
                kind=kind,
                source=source,
                key_store=store,
                serial=issued.serial_hex,
            )
    except PkiNotInitialised as exc:
        log.error("cannot make a seal: %s", exc)
        raise SealError(
            _("平台证书服务尚未初始化，暂时无法制作印章，请联系平台运营人员。")
        ) from exc
    except (SigningError, ImproperlyConfigured) as exc:
        log.exception("seal key or certificate for %s failed", org.pk)
        raise SealError(_("印章密钥或证书生成失败，请稍后重试或联系平台运营人员。")) from exc
    return seal


def do_create_generated_seal(
    org: Organization,
    *,
    kind: str,
    name: str,
    spec: SealSpec,
    params: dict[str, Any],
    actor: User,
    meta: RequestMeta,
) -> Seal:
    """完成制作: render ``spec``, then store the seal with its own key and certificate.

    ``params`` are the generator parameters kept in ``Seal.spec`` (see
    :func:`qianshu.orgs.seal_specs.stored_spec`). Raises :class:`SealError`.
    """
    png = render_seal_image(spec)
    return _create_seal(
        org,
        kind=kind,
        name=name,
        source=Seal.Source.GENERATED,
        spec=params,
        png=png,
        actor=actor,
        meta=meta,
    )


def do_stage_seal_photo(org: Organization, png: bytes, *, actor: User, meta: RequestMeta) -> str:
    """Keep a cleaned photo for its preview: store the blob, return a signed reference bound
    to the organisation and the administrator. Nothing is a seal before 保存."""
    blob = do_store_blob(png, content_type="image/png")
    payload = {"org": str(org.uuid), "user": actor.pk, "blob": blob.sha256}
    return signing.dumps(payload, salt=STAGED_PHOTO_SALT)


def do_create_photo_seal(
    org: Organization,
    *,
    kind: str,
    name: str,
    png: bytes,
    actor: User,
    meta: RequestMeta,
) -> Seal:
    """保存 an uploaded seal: ``png`` is the cleaned picture from
    :func:`~qianshu.orgs.seals.prepare_seal_photo`.
    Raises :class:`SealError`."""
    return _create_seal(
        org,
        kind=kind,
        name=name,
        source=Seal.Source.PHOTO,
        spec={},
        png=png,
        actor=actor,
        meta=meta,
    )


def _locked(seal: Seal) -> Seal:
    return Seal.objects.select_for_update().select_related("certificate").get(pk=seal.pk)


def do_disable_seal(seal: Seal, *, actor: User, meta: RequestMeta) -> Seal:
    """停用: nobody can use the seal (grants stay, and work again once it is enabled)."""
    with transaction.atomic():
        row = _locked(seal)
        if row.status == Seal.Status.DESTROYED:
            raise SealError(_("印章已销毁，不能停用或启用。"))
        if row.status == Seal.Status.DISABLED:
            raise SealError(_("印章已经是停用状态。"))
        row.status = Seal.Status.DISABLED
        row.save(update_fields=["status"])
        record_org_event(
            row.org,
            OrgAction.SEAL_DISABLED,
            actor=actor,
            meta=meta,
            seal=str(row.uuid),
            name=row.name,
        )
    return row


def do_enable_seal(seal: Seal, *, actor: User, meta: RequestMeta) -> Seal:
    """启用 a disabled seal. A destroyed seal can never be enabled again."""
    with transaction.atomic():
        row = _locked(seal)
        if row.status == Seal.Status.DESTROYED:
            raise SealError(_("印章已销毁，不能再启用。"))
        if row.status == Seal.Status.ACTIVE:
            raise SealError(_("印章已经是启用状态。"))
        row.status = Seal.Status.ACTIVE
        row.save(update_fields=["status"])
        record_org_event(
            row.org,
            OrgAction.SEAL_ENABLED,
            actor=actor,
            meta=meta,
            seal=str(row.uuid),
            name=row.name,
        )
    return row


def do_destroy_seal(seal: Seal, *, actor: User, meta: RequestMeta) -> Seal:
    """销毁 (irreversible): revoke the certificate (reason cessation of operation), erase a
    software-wrapped key, mark the seal destroyed. The image stays for the record."""
    with transaction.atomic():
        # The seal's grants first, then the seal: the order in which a use locks them
        # (orgs.grants.locked_for_use), so that a use under way is waited for, not deadlocked.
        list(SealGrant.objects.select_for_update().filter(seal_id=seal.pk).values_list("pk"))
        row = _locked(seal)
        if row.status == Seal.Status.DESTROYED:
            raise SealError(_("印章已经销毁。"))
        certificate = row.certificate
        do_revoke_certificate(
            certificate.serial_number,
            reason=IssuedCertificate.Reason.CESSATION_OF_OPERATION,
        )
        row.status = Seal.Status.DESTROYED
        row.destroyed_at = timezone.now()
        fields = ["status", "destroyed_at"]
        if row.key_store == "software":
            # Without the wrapped key nothing can sign as this seal again, whatever happens
            # to the revocation data.
            row.key_reference = b""
            fields.append("key_reference")
        row.save(update_fields=fields)
        # Grants of a destroyed seal end with it (the grant list must not show them as valid).
        revoked = SealGrant.objects.filter(
            seal=row,
            status__in=[SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP],
        ).update(status=SealGrant.Status.REVOKED, revoked_at=timezone.now(), revoked_by=actor)
        record_org_event(
            row.org,
            OrgAction.SEAL_DESTROYED,
            grants_revoked=revoked,
            actor=actor,
            meta=meta,
            seal=str(row.uuid),
            name=row.name,
            serial=certificate.serial_hex,
        )
    return row
