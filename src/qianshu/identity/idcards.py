"""Identity documents: types, number checks (GB 11643 for 居民身份证), masking, bank cards.

Every check here runs before any identity provider is called, so a mistyped number costs the
user a message, not a paid provider request or one of their daily attempts.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdType(models.TextChoices):
    RESIDENT = "resident_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAU = "hk_macau_permit", _("港澳居民来往内地通行证")
    TAIWAN = "taiwan_permit", _("台湾居民来往大陆通行证")
    FOREIGN_PR = "foreign_pr", _("外国人永久居留身份证")


# GB 11643-1999: weights of the first 17 digits and the check character for sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# GB/T 2260 province-level codes (the first two digits of the region code).
PROVINCE_CODES = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82"),
    }
)
_RESIDENT_RE = re.compile(r"\d{17}[\dX]")
_FORMATS = {
    IdType.PASSPORT: re.compile(r"[A-Z0-9]{5,17}"),
    IdType.HK_MACAU: re.compile(r"[HM]\d{8}(\d{2})?"),
    IdType.TAIWAN: re.compile(r"\d{8}(\d{2})?"),
    # Old format: 3-letter nationality code + 12 digits; 2023 format: 18 characters from 9.
    IdType.FOREIGN_PR: re.compile(r"[A-Z]{3}\d{12}|9\d{16}[\dX]"),
}
_FORMAT_MESSAGES = {
    IdType.PASSPORT: _("护照号码应为 5~17 位字母或数字。"),
    IdType.HK_MACAU: _("港澳居民来往内地通行证号码应为 H 或 M 开头加 8 位（或 10 位）数字。"),
    IdType.TAIWAN: _("台湾居民来往大陆通行证号码应为 8 位（或 10 位）数字。"),
    IdType.FOREIGN_PR: _(
        "外国人永久居留身份证号码应为 15 位（3 位字母加 12 位数字）或以 9 开头的 18 位。"
    ),
}
_SPACES = re.compile(r"[\s\-]")
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)


def normalize_number(raw: str) -> str:
    """Upper case without spaces or dashes, as numbers are compared and stored."""
    return _SPACES.sub("", raw or "").upper()


def gb11643_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def resident_birth_date(number: str) -> dt.date | None:
    """The birth date encoded in an 18-character resident ID number, or None if it is no date."""
    try:
        return dt.datetime.strptime(number[6:14], "%Y%m%d").date()
    except ValueError:
        return None


def validate_resident_id(raw: str, *, today: dt.date | None = None) -> str:
    """Check a 居民身份证 number (GB 11643) and return it normalised.

    Raises ``ValidationError`` with a user message: 18 characters, a plausible province, a real
    birth date not in the future, the right check character.
    """
    number = normalize_number(raw)
    if not _RESIDENT_RE.fullmatch(number):
        raise ValidationError(_("身份证号码应为 18 位，最后一位可以是数字或 X。"), code="id_format")
    if number[:2] not in PROVINCE_CODES or number[2:6] == "0000":
        raise ValidationError(_("身份证号码的地区码不正确，请检查。"), code="id_region")
    birth = resident_birth_date(number)
    today = today or timezone.localdate()
    if birth is None or birth > today or birth < OLDEST_BIRTH_DATE:
        raise ValidationError(_("身份证号码中的出生日期不正确，请检查。"), code="id_birth_date")
    if gb11643_check_char(number[:17]) != number[17]:
        raise ValidationError(_("身份证号码校验位不正确，请检查是否输错。"), code="id_check_digit")
    return number


def validate_id_number(id_type: str, raw: str) -> str:
    """Check a number of the given document type; return it normalised or raise
    ``ValidationError`` with a user message."""
    if id_type == IdType.RESIDENT:
        return validate_resident_id(raw)
    number = normalize_number(raw)
    try:
        pattern = _FORMATS[IdType(id_type)]
    except ValueError:
        raise ValidationError(_("请选择证件类型。"), code="id_type") from None
    if not pattern.fullmatch(number):
        raise ValidationError(_FORMAT_MESSAGES[IdType(id_type)], code="id_format")
    return number


def birth_date_of(id_type: str, number: str) -> dt.date | None:
    """The birth date a document number reveals (resident ID cards only)."""
    if id_type == IdType.RESIDENT:
        return resident_birth_date(number)
    return None


def mask_number(number: str) -> str:
    """``4211**********6814``: the first and last four characters of long numbers (fewer of
    short ones), the rest as stars."""
    n = len(number)
    keep = 4 if n >= 12 else 2 if n >= 6 else 1 if n >= 3 else 0
    if keep == 0:
        return "*" * n
    return number[:keep] + "*" * (n - 2 * keep) + number[-keep:]


def mask_name(name: str) -> str:
    """``**宇``: every character but the last one as a star."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return "*" * (len(name) - 1) + name[-1]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of bank card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def validate_card_number(raw: str) -> str:
    """A bank card number: 12 to 19 digits passing the Luhn check; returned without spaces."""
    number = normalize_number(raw)
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise ValidationError(_("银行卡号应为 12~19 位数字。"), code="card_format")
    if not luhn_valid(number):
        raise ValidationError(_("银行卡号有误，请检查是否输错。"), code="card_luhn")
    return number


def mask_card(number: str) -> str:
    """``6222 **** **** 1234``-style masking: only the last four digits stay."""
    return f"**** {number[-4:]}" if len(number) >= 4 else "****"
