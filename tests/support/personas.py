"""The people and organisations of the tests, in one place.

- ``make_user(name)`` (from :mod:`tests.support.accounts`): alice, bob or charlie — plain
  accounts of the personas (alice owns, bob is a member, charlie is an outsider);
- ``make_verified_person(name, phone=None, *, real_name=None)``: an account with a verified
  ``PersonIdentity`` (the personas get their real names from :data:`PERSONA_REAL_NAMES`);
- ``make_verified_org(admin, …)``: a VERIFIED organisation with ``admin`` as its 管理员;
- ``make_signer(name)``: a verified person with a signing PIN (:data:`PIN`) and a default
  handwritten signature;
- ``make_seal_org(admin, …)``: a verified organisation with one seal granted to a keeper;
- ``valid_credit_code()`` / ``resident_id(n)``: identifiers that pass their check digits.

Everything is written straight to the database (no HTTP), so a test that is about something
else does not depend on the verification flows.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.models import User
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK
from qianshu.identity import crypto
from qianshu.identity.actions import do_set_signing_pin
from qianshu.identity.models import Method, PersonIdentity
from qianshu.orgs.models import Membership, Organization, Seal, SealGrant
from qianshu.signing import stamps
from qianshu.storage.actions import do_store_blob
from tests.support.accounts import PERSONAS, make_user
from tests.support.seals import make_seal

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

_counter = itertools.count(1)

# Verified real names of the personas when ``verified_person("alice")`` is called without one.
PERSONA_REAL_NAMES = {"alice": "王爱丽", "bob": "李博文", "charlie": "张查理"}


def valid_credit_code(body: str | None = None) -> str:
    """A unified social credit code with a correct GB 32100 check character (computed here,
    independently of ``qianshu.signing.pki``). ``body`` is the first 17 characters; by default
    a fresh one per call (an enterprise registered in Beijing)."""
    if body is None:
        body = f"9111010{next(_counter):010d}"
    body = body.upper()
    assert len(body) == 17, body
    total = sum(_ALPHABET.index(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + _ALPHABET[(31 - total % 31) % 31]


def resident_id(seq: int) -> str:
    body = f"11010119800101{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def make_verified_person(
    name: str, phone: str | None = None, *, real_name: str | None = None
) -> User:
    """A user with a verified PersonIdentity.

    ``verified_person("alice")``: the persona's account (created, or reused if the ``alice``
    fixture made it), verified as ``PERSONA_REAL_NAMES["alice"]``.
    ``verified_person("张伟", "13800000011")``: an account with that phone, verified as 张伟.
    ``real_name`` overrides the verified name in both forms.
    """
    if phone is None:
        phone = PERSONAS[name]
    if real_name is None:
        real_name = PERSONA_REAL_NAMES.get(name, name)
    user = User.objects.filter(phone=phone).first() or make_user(name, phone=phone)
    number = resident_id(next(_counter))
    PersonIdentity.objects.create(
        user=user,
        id_type="resident_id",
        name=real_name,
        number_encrypted=crypto.encrypt(number, user_id=user.pk),
        number_hmac=crypto.number_hmac("resident_id", number),
        number_masked=number[:3] + "*" * 13 + number[-2:],
        method=Method.PHONE3,
    )
    return user


def make_verified_org(
    admin: User,
    *,
    name: str = "北京测试科技有限公司",
    credit_code: str | None = None,
    legal_rep_name: str = "王爱丽",
    kind: str = Organization.Kind.ENTERPRISE,
    registration_number: str = "",
    status: str = Organization.Status.VERIFIED,
    licence: bytes | None = None,
) -> Organization:
    """An organisation (VERIFIED by default, method 人工审核) with ``admin`` as 管理员;
    ``licence``: PNG bytes stored as its 营业执照 (needs the blob store: ``blob_dir``)."""
    if credit_code is None:
        credit_code = "" if kind == Organization.Kind.OVERSEAS else valid_credit_code()
    verified = status == Organization.Status.VERIFIED
    org = Organization.objects.create(
        kind=kind,
        name=name,
        credit_code=credit_code,
        registration_number=registration_number,
        legal_rep_name=legal_rep_name,
        status=status,
        method=Organization.Method.OPERATOR if verified else "",
        created_by=admin,
        created_at=timezone.now() - dt.timedelta(days=1),
        verified_at=timezone.now() if verified else None,
        licence=do_store_blob(licence, content_type="image/png") if licence else None,
    )
    Membership.objects.create(org=org, user=admin, role=Membership.Role.ADMIN)
    return org


PIN = "802461"

_signature_png: bytes | None = None


def signature_png() -> bytes:
    global _signature_png
    if _signature_png is None:
        _signature_png = stamps.render_text_image("签名", height_px=96)
    return _signature_png


def make_signer(name: str, phone: str | None = None, *, real_name: str | None = None) -> User:
    """A verified person with a signing PIN (``PIN``) and a default handwritten signature."""
    user = make_verified_person(name, phone, real_name=real_name)
    do_set_signing_pin(PIN, actor=user, meta=TASK)
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=user, meta=TASK
    )
    return user


def real_name(user: User) -> str:
    return user.person_identity.name  # type: ignore[attr-defined]


def make_seal_org(
    admin: User,
    name: str = "北京测试科技有限公司",
    *,
    keeper: User | None = None,
    kind: str = Seal.Kind.CONTRACT,
) -> Organization:
    """A verified organisation of ``admin`` with one seal of ``kind`` granted to ``keeper``."""
    org = make_verified_org(admin, name=name)
    keeper = keeper or admin
    if keeper != admin:
        Membership.objects.create(org=org, user=keeper, role=Membership.Role.SEAL_KEEPER)
    grant_seal(make_seal(org, admin, kind=kind), keeper, admin)
    return org


def grant_seal(seal: Seal, keeper: User, admin: User) -> SealGrant:
    """A grant of ``seal`` to ``keeper``, current for the next 30 days."""
    now = timezone.now()
    return SealGrant.objects.create(
        seal=seal,
        grantee=keeper,
        granted_by=admin,
        valid_from=now - dt.timedelta(minutes=1),
        valid_until=now + dt.timedelta(days=30),
    )


def seal_of(org: Organization) -> Seal:
    return Seal.objects.filter(org=org).first()  # type: ignore[return-value]
