"""Seals for the grant and seal-use tests, made directly (render, key, certificate, row)."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.serialization import Encoding

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.actions import do_issue_seal_certificate
from qianshu.pki.keystores import software_key_store
from qianshu.pki.models import IssuedCertificate
from qianshu.signing import pki
from qianshu.signing.seals import RoundSealSpec, SquareSealSpec, render_seal
from qianshu.storage.actions import do_store_blob

_IMAGES: dict[tuple[str, str, str], bytes] = {}


def _image(org: Organization, kind: str, name: str) -> bytes:
    """Rendering takes ~0.2 s: keep one image per organisation name and seal."""
    key = (org.name, kind, name)
    if key not in _IMAGES:
        if kind == Seal.Kind.LEGAL_REP:
            spec: RoundSealSpec | SquareSealSpec = SquareSealSpec(name=org.legal_rep_name)
        else:
            spec = RoundSealSpec(org_name=org.name, seal_name=name, code="1101080012345")
        _IMAGES[key] = render_seal(spec)
    return _IMAGES[key]


def make_seal(
    org: Organization,
    created_by: User,
    *,
    kind: str = Seal.Kind.CONTRACT,
    name: str | None = None,
    status: str = Seal.Status.ACTIVE,
) -> Seal:
    """An active seal of ``org`` with its own software key and a seal certificate."""
    if name is None:
        name = "法定代表人章" if kind == Seal.Kind.LEGAL_REP else Seal.Kind(kind).label
    name = str(name)
    seal_uuid = uuid.uuid4()
    reference, key = software_key_store().create_key(f"seal:{seal_uuid}")
    cert = do_issue_seal_certificate(
        pki.SealIdentity(org.name, org.credit_code, name, pki.new_subject_id()),
        key.public_key,
    )
    issued = IssuedCertificate.objects.get(serial_hex=format(cert.serial_number, "x"))
    assert bytes(issued.certificate_der) == cert.public_bytes(Encoding.DER)
    return Seal.objects.create(
        uuid=seal_uuid,
        org=org,
        kind=kind,
        name=name,
        source=Seal.Source.GENERATED,
        image=do_store_blob(_image(org, kind, name), content_type="image/png"),
        key_store="software",
        key_reference=reference,
        certificate=issued,
        status=status,
        created_by=created_by,
    )
