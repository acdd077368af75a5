"""Confirming a signing: the signing PIN, or an SMS code bound to what the signer saw.

Sole control (DESIGN.md §3): a person who has, or had, a signing credential confirms only with
the PIN, which unlocks their own key — never by SMS code, whether the PIN is locked, the
certificate expired or an operator revoked it (then: wait, or reset the PIN). Only a person who
never had a credential may confirm with an SMS code bound to the envelope and the document
hashes shown (or, for 批量签署, to every envelope and hash of the batch), and only on envelopes
that allow it (``Envelope.allow_sms_signing``) and not right after an operator changed their
phone; the signature then uses a one-time event certificate whose key exists only for that
signing. An organisation's member confirms a seal the same way, and the seal's key signs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.envelopes.errors import ConfirmationError
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.identity.access import active_credential, has_signing_credential, verified_identity
from qianshu.identity.errors import NewKeyHeld, until_text
from qianshu.identity.holds import new_key_held_until
from qianshu.orgs.models import Seal
from qianshu.orgs.seals import seal_signing_key
from qianshu.pki.actions import do_issue_person_certificate
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import Platform
from qianshu.signing import pki
from qianshu.signing.keys import SigningKey, SoftwareSigningKey, generate_private_key
from qianshu.signing.signers import KeySigner


def confirmation_binding(envelope: Envelope, seen: Mapping[int, str]) -> str:
    """What an SMS signing code is bound to: this envelope and the document hashes seen."""
    digest = hashlib.sha256(
        "|".join(f"{doc}:{sha}" for doc, sha in sorted(seen.items())).encode()
    ).hexdigest()
    return f"{envelope.uuid}:{digest}"[:100]


def needs_code(actor: User) -> bool:
    """Whether ``actor`` confirms by SMS code: only a person who never had a signing credential
    (everybody else confirms with the PIN; see :func:`sms_refusal` for the other conditions)."""
    return not has_signing_credential(actor)


def pin_locked_until(actor: User) -> dt.datetime | None:
    """Until when the actor's PIN is locked after wrong tries, or None."""
    credential = active_credential(actor)
    if credential is not None and credential.locked_at(timezone.now()):
        return credential.locked_until
    return None


def _pin_required(actor: User) -> str:
    locked = pin_locked_until(actor)
    if locked is not None:
        return _(
            "签署密码已锁定至 %(time)s，请到时再试或重置签署密码；"
            "已设置签署密码的签署人不能使用短信验证码签署。"
        ) % {"time": until_text(locked)}
    if active_credential(actor) is None:  # revoked by an operator
        return _("您的个人数字证书已吊销，请先重置签署密码，再使用签署密码签署。")
    return _("您已设置签署密码，请使用签署密码确认签署。")


def sms_refusal(actor: User, envelopes: Iterable[Envelope]) -> str | None:
    """Why ``actor`` may not confirm a signing of ``envelopes`` by SMS code, or None."""
    if has_signing_credential(actor):
        return _pin_required(actor)
    if any(not envelope.allow_sms_signing for envelope in envelopes):
        return _("发起方要求使用签署密码签署，请先设置签署密码。")
    held = new_key_held_until(actor)
    if held is not None:
        return str(NewKeyHeld(held))
    return None


def batch_binding(items: Sequence[tuple[Envelope, Mapping[int, str]]]) -> str:
    """What the SMS code of a batch signing is bound to: every envelope and hash in it."""
    digest = hashlib.sha256(
        "\n".join(sorted(confirmation_binding(e, seen) for e, seen in items)).encode()
    ).hexdigest()
    return f"batch:{digest}"


@dataclass
class SignerKey:
    """A signing key with its certificate (and the platform's row of it, when it issued it)."""

    key: SigningKey
    certificate: x509.Certificate
    issued: IssuedCertificate | None = None


@dataclass(frozen=True)
class Confirmation:
    """The signer's confirmation of one or more signings (批量签署: one for all).

    ``person_key`` is the person's own key when the signing PIN unlocked it; after an SMS code
    it is None and each signing gets a one-time event key. ``signers`` keeps the pyHanko
    signer of each key already used under this confirmation, so that a batch builds it (and
    loads a seal's key) once.
    """

    actor_id: int
    method: str  # "pin" | "sms"
    person_key: SignerKey | None = None
    signers: dict[str, tuple[SignerKey, KeySigner]] = field(default_factory=dict, compare=False)


def check_confirmation(confirmation: Confirmation, envelope: Envelope, actor: User) -> None:
    """A confirmation checked earlier (批量签署) applies to this signing of ``envelope``."""
    if confirmation.actor_id != actor.pk:
        raise ConfirmationError(_("签署确认无效，请重新输入。"))
    if confirmation.method == "sms" and not envelope.allow_sms_signing:
        raise ConfirmationError(_("发起方要求使用签署密码签署，请先设置签署密码。"))


def _event_key(recipient: Recipient, actor: User) -> SignerKey:
    """A key made for this signing only, certified by a one-time event certificate."""
    identity = verified_identity(actor)
    assert identity is not None  # checked before
    key = SoftwareSigningKey(generate_private_key())
    certificate = do_issue_person_certificate(
        pki.PersonIdentity(identity.name, f"QS-U{actor.pk}"),
        key.public_key,
        # Not the task number: its 16 digits look like an ID-card number to the PKI guard.
        event_id=f"R{recipient.pk}-{recipient.envelope.uuid.hex[:12]}",
    )
    return SignerKey(key, certificate, issued_row(certificate))


def issued_row(certificate: x509.Certificate) -> IssuedCertificate | None:
    """The platform's row of ``certificate``, if it issued it."""
    return IssuedCertificate.objects.filter(
        serial_hex=format(certificate.serial_number, "x")
    ).first()


def seal_signer(
    confirmation: Confirmation, seal: Seal, platform: Platform
) -> tuple[SignerKey, KeySigner]:
    # By certificate too: a seal whose certificate was renewed meanwhile signs with the new one.
    name = f"seal:{seal.pk}:{seal.certificate_id}"
    cached = confirmation.signers.get(name)
    if cached is None:
        key = SignerKey(
            seal_signing_key(seal),
            x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der)),
            seal.certificate,
        )
        cached = (key, KeySigner(key.key, key.certificate, platform.pki.chain))
        confirmation.signers[name] = cached
    return cached


def person_signer(
    confirmation: Confirmation, recipient: Recipient, actor: User, platform: Platform
) -> tuple[SignerKey, KeySigner]:
    if confirmation.person_key is None:  # an SMS code: a key for this signing only
        key = _event_key(recipient, actor)
        return key, KeySigner(key.key, key.certificate, platform.pki.chain)
    cached = confirmation.signers.get("person")
    if cached is None:
        key = confirmation.person_key
        cached = (key, KeySigner(key.key, key.certificate, platform.pki.chain))
        confirmation.signers["person"] = cached
    return cached
