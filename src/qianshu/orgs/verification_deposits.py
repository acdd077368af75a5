"""对公打款认证, both directions as the manual describes.

平台给我打款: the bank provider pays a random 0.01–0.99 元 to the declared account; only a keyed
HMAC of the amount is stored, the account number encrypted. The administrator types the amount
back: 3 wrong tries void the transfer and a new one must be requested (a few per day).

我给平台打款: the organisation pays the platform's account (settings) a shown amount with a
unique memo code; the bank provider confirms receipt when the administrator clicks 我已打款 (or
later), or an operator confirms it in the back office.

This module: the amounts, the accounts and the limits; the state changes are in
:mod:`qianshu.orgs.actions.deposits`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from qianshu.identity import crypto
from qianshu.orgs.models import Organization, OrgVerification
from qianshu.pki.keystores import master_key

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status
Evidence = OrgVerification.Evidence

DEPOSIT_LIFE = dt.timedelta(days=7)
DEPOSIT_TRIES = 3
MEMO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# The note of the platform's micro-deposit, shown on the organisation's bank statement: a fixed
# reference for the bank, never in the language of the page that asked for the transfer.
MICRO_DEPOSIT_MEMO = "签署组织认证"


@functools.cache
def _amount_key(master: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"qianshu/org-deposit-amount/v1"
    ).derive(master)


def amount_hmac(verification_uuid: uuid.UUID, amount_fen: int) -> str:
    """Keyed HMAC of a micro-deposit amount, bound to its verification (the amount is never
    stored: with only 99 possible values a plain hash would give it away)."""
    message = f"{verification_uuid}:{amount_fen}".encode()
    return hmac.new(_amount_key(master_key()), message, hashlib.sha256).hexdigest()


def mask_account(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}" if len(number) > 8 else "*" * len(number)


def account_number(verification: OrgVerification) -> str:
    """The declared account number in clear (for operators)."""
    if not verification.account_number_encrypted:
        return ""
    return crypto.decrypt(
        bytes(verification.account_number_encrypted),
        user_id=verification.org_id,
        purpose="org-bank-account",
    )


@dataclass(frozen=True)
class PlatformAccount:
    bank_name: str
    account_name: str
    account_number: str


def platform_account() -> PlatformAccount | None:
    """The platform's corporate account (我给平台打款), if configured."""
    account = PlatformAccount(
        settings.QIANSHU_PLATFORM_BANK_NAME,
        settings.QIANSHU_PLATFORM_ACCOUNT_NAME,
        settings.QIANSHU_PLATFORM_ACCOUNT_NUMBER,
    )
    if not (account.bank_name and account.account_name and account.account_number):
        return None
    return account


def parse_amount_fen(text: str) -> int | None:
    """``0.37`` / ``.37`` / ``0.37元`` → 37; None unless between 0.01 and 0.99 元."""
    cleaned = text.strip().removesuffix("元").strip()
    match = re.fullmatch(r"0?\.(\d{1,2})", cleaned)
    if match is None:
        return None
    fen = int(match.group(1).ljust(2, "0"))
    return fen if 1 <= fen <= 99 else None
