"""Confirming a signing (签署确认): the SMS code that confirms it, and the check of the PIN or
code before signing. Who may confirm how (sole control) is stated in
:mod:`qianshu.envelopes.confirmations`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _

from qianshu.accounts import codes
from qianshu.accounts.models import OneTimeCode, User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes.confirmations import (
    Confirmation,
    SignerKey,
    issued_row,
    needs_code,
    sms_refusal,
)
from qianshu.envelopes.errors import ConfirmationError
from qianshu.envelopes.models import Envelope
from qianshu.identity.actions import do_unlock_signing_key
from qianshu.identity.errors import PinError


def do_send_signing_code(
    binding: str,
    *,
    envelopes: Sequence[Envelope],
    actor: User,
    meta: RequestMeta,
) -> None:
    """Send the SMS code that confirms a signing of ``envelopes`` bound to ``binding`` (see
    :func:`confirmation_binding`, :func:`batch_binding`). Raises :class:`ConfirmationError`
    when the actor may not confirm by code (:func:`sms_refusal`: nothing is sent) and
    ``codes.CodeError`` when rate-limited."""
    refusal = sms_refusal(actor, envelopes)
    if refusal is not None:
        raise ConfirmationError(refusal)
    codes.issue_code(
        actor.phone,
        OneTimeCode.Purpose.SIGN,
        binding=binding,
        ip=meta.ip,
        language=actor.language or "zh-hans",
    )


def confirm_signing(
    *,
    pin: str | None,
    code: str | None,
    binding: str,
    envelopes: Sequence[Envelope],
    actor: User,
    meta: RequestMeta,
) -> Confirmation:
    """Check the signing PIN, or the SMS code bound to ``binding`` for a signing of
    ``envelopes``; raise :class:`ConfirmationError` with the reason otherwise (wrong PINs are
    counted; a code is refused, unchecked, when :func:`sms_refusal` says so).

    Not a ``do_*`` of its own: it runs in the signing action before its transaction (a wrong
    PIN is counted even when signing fails)."""
    if pin:
        try:
            key, certificate = do_unlock_signing_key(actor, pin, meta=meta)
        except PinError as exc:
            raise ConfirmationError(str(exc)) from exc
        return Confirmation(actor.pk, "pin", SignerKey(key, certificate, issued_row(certificate)))
    if code:
        refusal = sms_refusal(actor, envelopes)
        if refusal is not None:
            raise ConfirmationError(refusal)
        try:
            codes.check_code(
                actor.phone,
                OneTimeCode.Purpose.SIGN,
                code,
                binding=binding,
                ip=meta.ip,
            )
        except codes.CodeError as exc:
            raise ConfirmationError(str(exc)) from exc
        return Confirmation(actor.pk, "sms")
    raise ConfirmationError(
        _("请输入签署密码。") if not needs_code(actor) else _("请输入短信验证码。")
    )
