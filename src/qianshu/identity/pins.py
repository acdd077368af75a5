"""Signing PIN rules and the key store that wraps person keys under the PIN."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from qianshu.pki.keystores import pin_key_store
from qianshu.signing.keys import PinKeyStore

PIN_LENGTH = 6
MAX_WRONG_PINS = 5
LOCK_MINUTES = 30
_ASCENDING = "01234567890"
_DESCENDING = "98765432109"


def person_key_store() -> PinKeyStore:
    """The key store that wraps person keys under their PIN (``QIANSHU_PIN_ARGON2`` cost)."""
    return pin_key_store()


def _birthday_forms(birth: dt.date) -> set[str]:
    yy, mm, dd = f"{birth.year % 100:02d}", f"{birth.month:02d}", f"{birth.day:02d}"
    return {yy + mm + dd, mm + dd + yy, dd + mm + yy}


def pin_problem(pin: str, *, birth_date: dt.date | None, id_number: str) -> str | None:
    """Why ``pin`` is not acceptable as a signing PIN, or None.

    Six digits; not one digit repeated, not a run (123456, 654321), not the birthday from the
    ID (YYMMDD, MMDDYY, DDMMYY) and not the last six characters of the ID number.
    """
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
        return _("签署密码为 6 位数字。")
    if len(set(pin)) == 1:
        return _("签署密码不能是同一个数字重复，请换一个。")
    if pin in _ASCENDING or pin in _DESCENDING:
        return _("签署密码不能是连续的数字（如 123456、654321），请换一个。")
    if birth_date is not None and pin in _birthday_forms(birth_date):
        return _("签署密码不能使用您的出生日期，请换一个。")
    if id_number and pin == id_number[-PIN_LENGTH:].upper():
        return _("签署密码不能使用证件号码的后 6 位，请换一个。")
    return None
