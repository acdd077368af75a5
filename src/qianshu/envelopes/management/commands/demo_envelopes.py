"""Demo envelopes for a local start (``make run``, development only).

Makes the demo people of ``demo-data`` real-name verified (through the identity sandbox) with
the signing PIN ``DEMO_PIN`` and a handwritten signature, a verified organisation of charlie's
with a 合同专用章 granted to him, and a sample procurement contract from alice: bob signs, then
charlie seals for the organisation.

The organisation is verified the way a user does it: charlie creates it with a licence picture
and, being its legal representative, authorises it himself; the business registry (the sandbox
in development) confirms it. Where that ends in an operator's review (e.g. with
``QIANSHU_REGISTRY_PROVIDER=none``), the demo operator approves it.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.management.commands.demo_data import OPERATOR_PHONE
from qianshu.accounts.models import User
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.legal import PRIVACY_VERSION
from qianshu.core.meta import COMMAND
from qianshu.envelopes import compose, placement
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope
from qianshu.identity import idcards
from qianshu.identity.actions import do_set_signing_pin
from qianshu.identity.actions.verification import (
    do_finish_face_verification,
    do_start_face_verification,
)
from qianshu.identity.drafts import Declaration
from qianshu.identity.idcards import IdType
from qianshu.identity.models import PersonIdentity, VerificationAttempt
from qianshu.identity.providers import get_provider
from qianshu.identity.providers.sandbox import record_face_outcome
from qianshu.orgs.actions.legal_rep import do_authorise_as_legal_rep
from qianshu.orgs.actions.review import do_approve_org
from qianshu.orgs.actions.seals import do_create_generated_seal
from qianshu.orgs.actions.verification import do_create_org
from qianshu.orgs.licences import check_licence
from qianshu.orgs.models import Organization, Seal, SealGrant
from qianshu.orgs.seal_specs import build_spec, default_name, default_params
from qianshu.signing import pki, stamps
from qianshu.signing.samples import make_test_pdf

DEMO_PIN = "246813"
DEMO_TITLE = "采购合同（示例）"
PEOPLE = {
    "13800000001": ("王爱丽", "11010119900307"),
    "13800000002": ("李博文", "11010119880512"),
    "13800000003": ("张查理", "11010119851120"),
}
ORG_NAME = "示例科技有限公司"
ORG_CODE_BODY = "91110108MA01D3ME7"


def resident_id(first14: str, seq: str) -> str:
    first17 = first14 + seq
    return first17 + idcards.gb11643_check_char(first17)


def _verify(user: User, name: str, number: str) -> None:
    """Real-name verification the way a user does it, by face with the identity sandbox: the
    attempt is started, the sandbox page's 模拟成功 is pressed, the result is fetched."""
    if PersonIdentity.objects.filter(user=user).exists():
        return
    if get_provider().name != "sandbox":
        raise CommandError("the demo verifies its people with the identity sandbox provider")
    declaration = Declaration(IdType.RESIDENT, name, number, user.phone)
    attempt, url = do_start_face_verification(
        declaration,
        actor=user,
        return_url=lambda _: settings.PUBLIC_URL + "/me/identity/",
        meta=COMMAND,
    )
    if url is None:
        raise CommandError(f"the identity sandbox did not start: {attempt.reason}")
    record_face_outcome(attempt.provider_ref, passed=True)
    attempt = do_finish_face_verification(attempt, actor=user, meta=COMMAND)
    if attempt.status != VerificationAttempt.Status.PASSED:
        raise CommandError(f"demo verification of {name} failed: {attempt.reason}")
    do_set_signing_pin(DEMO_PIN, actor=user, meta=COMMAND)
    png = stamps.render_text_image(name, height_px=120)
    do_save_signature(SignatureImage.from_png(png), source="drawn", actor=user, meta=COMMAND)


def _licence_picture(name: str) -> bytes:
    """A plain picture standing for a demo organisation's scanned 营业执照."""
    image = Image.new("RGB", (900, 620), (250, 246, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((16, 16, 884, 604), outline=(180, 30, 30), width=8)
    text = stamps.render_text_image(f"营业执照（示例）{name}", height_px=56)
    with Image.open(io.BytesIO(text)) as title:
        title.thumbnail((800, 80))
        image.paste(title, ((900 - title.width) // 2, 60), title.convert("RGBA"))
    for y in range(200, 560, 48):
        draw.line((90, y, 810, y), fill=(70, 70, 70), width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _verified_organisation(admin: User, name: str, code_body: str, kind: str) -> Organization:
    """Create and verify a demo organisation through the verification actions (``admin`` is
    its legal representative)."""
    org = do_create_org(
        kind=kind,
        name=name,
        credit_code=code_body + pki.credit_code_check_char(code_body),
        registration_number="",
        legal_rep_name=PEOPLE[admin.phone][0],
        licence=check_licence(_licence_picture(name), "营业执照.png"),
        privacy_version=PRIVACY_VERSION,
        actor=admin,
        meta=COMMAND,
    )
    do_authorise_as_legal_rep(org, actor=admin, meta=COMMAND)
    org.refresh_from_db()
    if not org.is_verified:  # no registry configured, or it could not answer: the operator
        operator = User.objects.get(phone=OPERATOR_PHONE)
        do_approve_org(org, actor=operator, meta=COMMAND)
        org.refresh_from_db()
    return org


def organisation_with_seal(
    admin: User,
    name: str = ORG_NAME,
    *,
    code_body: str = ORG_CODE_BODY,
    kind: str = Organization.Kind.ENTERPRISE,
    seal_kind: str = Seal.Kind.CONTRACT,
) -> tuple[Organization, Seal]:
    """The verified demo organisation ``name`` (made if absent) with a generated seal of
    ``seal_kind`` granted to ``admin`` for a year."""
    org = Organization.objects.filter(name=name, status=Organization.Status.VERIFIED).first()
    if org is None:
        org = _verified_organisation(admin, name, code_body, kind)
    seal = org.seals.filter(kind=seal_kind, status=Seal.Status.ACTIVE).first()
    if seal is None:
        params = default_params(org, seal_kind)
        seal = do_create_generated_seal(
            org,
            kind=seal_kind,
            name=default_name(seal_kind),
            spec=build_spec(org, params),
            params=params,
            actor=admin,
            meta=COMMAND,
        )
        now = timezone.now()
        SealGrant.objects.create(
            seal=seal,
            grantee=admin,
            granted_by=admin,
            valid_from=now,
            valid_until=now + dt.timedelta(days=365),
        )
    return org, seal


class Command(BaseCommand):
    help = "Create verified demo signers, a demo organisation with a seal, and a sample envelope."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-absent", action="store_true", help="do nothing if the sample envelope exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo data is for development only (QIANSHU_DEBUG=1)")
        people = {u.phone: u for u in User.objects.filter(phone__in=PEOPLE)}
        if len(people) != len(PEOPLE):
            raise CommandError("run `qianshu demo-data` first (the demo accounts are missing)")
        if not Envelope.objects.filter(title=DEMO_TITLE).exists():
            with transaction.atomic():
                for index, (phone, (name, first14)) in enumerate(PEOPLE.items(), start=1):
                    _verify(people[phone], name, resident_id(first14, f"{index:03d}"))
                alice, bob, charlie = (people[p] for p in PEOPLE)
                org, _seal = organisation_with_seal(charlie)
                self._envelope(alice, bob, charlie, org)
        elif not options["if_absent"]:
            self.stdout.write("the sample envelope already exists")
        url = settings.PUBLIC_URL
        self.stdout.write(
            f"\nSample envelope “{DEMO_TITLE}”: bob (13800000002) signs first — it is in his "
            f"待我签署 at {url}/envelopes/ — then charlie (13800000003) seals it for "
            f"{ORG_NAME}. Signing PIN of alice, bob and charlie: {DEMO_PIN}\n"
        )

    def _envelope(self, alice: User, bob: User, charlie: User, org: Organization) -> None:
        envelope = compose_actions.do_create_draft(
            title=DEMO_TITLE,
            message="请核对合同金额与交付时间后签署。",
            actor=alice,
            deadline=timezone.now() + dt.timedelta(days=14),
            meta=COMMAND,
        )
        document = compose_actions.do_add_document(
            envelope, make_test_pdf(pages=3), "采购合同.pdf", actor=alice, meta=COMMAND
        )
        bob_r, org_r = compose_actions.do_set_recipients(
            envelope,
            [
                compose.RecipientInput("sign", 1, PEOPLE[bob.phone][0], bob.phone),
                compose.RecipientInput(
                    "seal",
                    2,
                    org.name,
                    charlie.phone,
                    contact_name="张查理",
                    org_uuid=str(org.uuid),
                ),
            ],
            actor=alice,
        )
        last = document.page_count - 1
        box = stamps.Rect(*document.page_boxes[last])
        compose_actions.do_set_fields(
            envelope,
            [
                placement.FieldInput(
                    bob_r.pk, document.pk, "signature", last, stamps.Rect(72, 110, 200, 160)
                ),
                placement.FieldInput(
                    bob_r.pk, document.pk, "date", last, stamps.Rect(72, 86, 182, 106)
                ),
                placement.FieldInput(
                    org_r.pk, document.pk, "seal", last, stamps.Rect(330, 90, 449, 209)
                ),
                placement.FieldInput(
                    org_r.pk,
                    document.pk,
                    "cross_page_seal",
                    0,
                    stamps.Rect(box.x2 - 119, 360, box.x2, 479),
                    pages=tuple(range(document.page_count)),
                ),
            ],
            actor=alice,
        )
        compose_actions.do_send_envelope(envelope, actor=alice, meta=COMMAND)
