"""Phone numbers: one canonical form so that a number is one account, however it is typed."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MAINLAND = re.compile(r"1[3-9]\d{9}")
_INTERNATIONAL = re.compile(r"\+[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalize_phone(raw: str) -> str:
    """Canonical phone number: 11 digits for mainland China, ``+<country><number>`` otherwise.

    Accepts spaces, dashes, brackets, a leading ``+86``/``0086``/``86`` for mainland numbers.
    Raises ``ValidationError`` with a user-facing message for anything else.
    """
    value = _SEPARATORS.sub("", raw or "").replace("＋", "+")
    if value.startswith("00"):
        value = "+" + value[2:]
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if _MAINLAND.fullmatch(value):
        return value
    if _INTERNATIONAL.fullmatch(value) and not value.startswith("+86"):
        return value
    raise ValidationError(_("请输入正确的手机号码。"), code="invalid_phone")


def mask_phone(phone: str) -> str:
    """138****8000 — for display and logs."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
